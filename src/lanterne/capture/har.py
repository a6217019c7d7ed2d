"""HAR 1.2 files of a visit, for use in other tools (browser DevTools, Blacklight, HAR viewers).

The HAR is derived from the same records that are stored, so it says exactly what the database says.
Extensions follow Chrome DevTools' names where one exists (`_initiator`, `_resourceType`,
`_webSocketMessages`); Lanterne's own start with `_lanterne`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import lanterne
from lanterne.records import RequestRecord, Visit, header_value


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pairs(headers: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in headers]


def _timings(timing: dict[str, float] | None) -> tuple[dict[str, float], float]:
    t = timing or {}

    def span(a: str, b: str) -> float:
        start, end = t.get(a, -1), t.get(b, -1)
        return round(end - start, 3) if start is not None and end is not None and start >= 0 and end >= start else -1

    timings = {
        "blocked": -1,
        "dns": span("domainLookupStart", "domainLookupEnd"),
        "connect": span("connectStart", "connectEnd"),
        "ssl": span("secureConnectionStart", "connectEnd"),
        "send": 0,
        "wait": span("requestStart", "responseStart"),
        "receive": span("responseStart", "responseEnd"),
    }
    total = sum(v for k, v in timings.items() if v > 0 and k != "ssl")
    return timings, round(total, 3)


def _entry(visit: Visit, req: RequestRecord) -> dict[str, Any]:
    timings, total = _timings(req.timing)
    request: dict[str, Any] = {
        "method": req.method,
        "url": req.url,
        "httpVersion": (req.response.protocol if req.response and req.response.protocol else "HTTP/1.1"),
        "cookies": [],
        "headers": _pairs(req.headers),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(req.url).query, keep_blank_values=True)],
        "headersSize": -1,
        "bodySize": req.body.size if req.body else 0,
    }
    if req.body is not None:
        request["postData"] = {
            "mimeType": header_value(req.headers, "content-type") or "",
            "text": req.body.text,
        }
        if req.body.encoding == "base64":
            request["postData"]["_encoding"] = "base64"
        if req.body.truncated:
            request["postData"]["_lanterneTruncated"] = True
    resp = req.response
    response: dict[str, Any] = {
        "status": resp.status if resp else 0,
        "statusText": resp.status_text if resp else "",
        "httpVersion": (resp.protocol or "HTTP/1.1") if resp else "",
        "cookies": [],
        "headers": _pairs(resp.headers) if resp else [],
        "content": {
            "size": (resp.encoded_size or 0) if resp else 0,
            "mimeType": (resp.mime_type or "") if resp else "",
        },
        "redirectURL": (header_value(resp.headers, "location") or "") if resp else "",
        "headersSize": -1,
        "bodySize": resp.encoded_size if resp and resp.encoded_size is not None else -1,
    }
    if req.failure:
        response["_error"] = req.failure
    entry: dict[str, Any] = {
        "pageref": f"page_{req.page_index}",
        "startedDateTime": _iso(req.started_at),
        "time": total,
        "request": request,
        "response": response,
        "cache": {},
        "timings": timings,
        "_resourceType": req.resource_type,
        "_lanterneSeq": req.seq,
        "_lanterneThirdParty": req.third_party,
    }
    if resp and resp.remote_address:
        entry["serverIPAddress"] = resp.remote_address
    initiator: dict[str, Any] = {"type": req.initiator_type or "other"}
    if req.initiator_url:
        initiator["url"] = req.initiator_url
    if req.initiator_stack:
        initiator["stack"] = {
            "callFrames": [
                {"functionName": f["function"], "url": f["url"], "lineNumber": f["line"], "columnNumber": f["column"]}
                for f in req.initiator_stack
            ]
        }
    entry["_initiator"] = initiator
    if req.frame_url:
        entry["_lanterneFrameUrl"] = req.frame_url
    return entry


def visit_to_har(visit: Visit) -> dict[str, Any]:
    pages = visit.pages or ([visit.final_url] if visit.final_url else [visit.target])
    entries = [_entry(visit, r) for r in visit.requests]
    # WebSocket messages go on the entry of their socket, as Chrome DevTools writes them.
    by_socket: dict[str, list[dict[str, Any]]] = {}
    for frame in visit.websocket_frames:
        by_socket.setdefault(frame.url, []).append(
            {
                "type": "send" if frame.direction == "sent" else "receive",
                "time": frame.time,
                "opcode": frame.opcode,
                "data": frame.payload,
            }
        )
    for url, messages in by_socket.items():
        entry = next((e for e in entries if e["request"]["url"] == url), None)
        if entry is None:
            entry = {
                "pageref": "page_0",
                "startedDateTime": _iso(messages[0]["time"]),
                "time": 0,
                "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                            "queryString": [], "headersSize": -1, "bodySize": 0},
                "response": {"status": 101, "statusText": "Switching Protocols", "httpVersion": "HTTP/1.1",
                             "cookies": [], "headers": [], "content": {"size": 0, "mimeType": ""},
                             "redirectURL": "", "headersSize": -1, "bodySize": -1},
                "cache": {},
                "timings": {"send": 0, "wait": 0, "receive": 0},
                "_resourceType": "websocket",
            }
            entries.append(entry)
        entry["_webSocketMessages"] = messages
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "Lanterne", "version": lanterne.__version__},
            "browser": {"name": "Chromium", "version": visit.browser_version or ""},
            "pages": [
                {
                    "startedDateTime": _iso(visit.started_at),
                    "id": f"page_{i}",
                    "title": (visit.title or "") if i == len(pages) - 1 else url,
                    "pageTimings": {},
                    "_url": url,
                }
                for i, url in enumerate(pages)
            ],
            "entries": entries,
            "_lanterneVisit": {
                "target": visit.target,
                "outcome": visit.outcome.value,
                "reason": visit.reason,
                "finalUrl": visit.final_url,
                "phase": visit.phase,
            },
        }
    }


def write_har(visit: Visit, path: str | Path) -> Path:
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(visit_to_har(visit), ensure_ascii=False))
    tmp.replace(path)
    return path
