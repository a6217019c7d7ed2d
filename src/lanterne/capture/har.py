"""HAR 1.2 files of a visit, for use in other tools (browser DevTools, Blacklight, HAR viewers).

The HAR is derived from the same records that are stored, so it says exactly what the database says.
Extensions follow Chrome DevTools' names where one exists (`_initiator`, `_resourceType`,
`_webSocketMessages`); Lanterne's own start with `_lanterne`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
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


# -- reading HAR files from elsewhere ------------------------------------------------------------------------

MAX_HAR_BYTES = 2 * 1024**3
MAX_WARNINGS = 50


class HarError(Exception):
    """A HAR file that cannot be analysed at all; the message names the file and says why."""


@dataclass
class HarImport:
    visit: Visit
    warnings: list[str]
    entries_total: int
    entries_used: int


def _epoch(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value) / (1000 if value > 1e11 else 1)
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _salvage_entries(text: str) -> list[Any]:
    """The complete entries of a truncated or damaged HAR, read one object at a time."""
    marker = text.find('"entries"')
    if marker < 0:
        return []
    start = text.find("[", marker)
    if start < 0:
        return []
    decoder = json.JSONDecoder()
    entries: list[Any] = []
    pos = start + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] != "{":
            return entries
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return entries
        entries.append(obj)


def _name_value_pairs(items: Any) -> list[tuple[str, str]]:
    pairs = []
    if isinstance(items, list):
        for item in items[:500]:
            if isinstance(item, dict) and "name" in item:
                pairs.append((str(item["name"])[:256], str(item.get("value", ""))[:16384]))
    return pairs


def _initiator_of(entry: dict[str, Any]) -> tuple[str | None, str | None, list[dict[str, Any]] | None]:
    raw = entry.get("_initiator")
    detail = entry.get("_initiator_detail")
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except json.JSONDecodeError:
            detail = None
    info = raw if isinstance(raw, dict) else detail if isinstance(detail, dict) else {}
    kind = info.get("type") or entry.get("_initiator_type")
    stack: list[dict[str, Any]] = []
    node = info.get("stack")
    while isinstance(node, dict) and len(stack) < 50:
        for cf in node.get("callFrames", [])[:50]:
            if isinstance(cf, dict):
                stack.append(
                    {
                        "function": str(cf.get("functionName", ""))[:200],
                        "url": str(cf.get("url", ""))[:2048],
                        "line": cf.get("lineNumber"),
                        "column": cf.get("columnNumber"),
                    }
                )
        node = node.get("parent")
    url = next((f["url"] for f in stack if f["url"]), None) or info.get("url")
    if url is None and isinstance(raw, str):
        url = raw  # chrome-har writes the initiating URL as a plain string
    return (str(kind) if kind else None), (str(url)[:2048] if url else None), (stack or None)


def read_har(
    path: str | Path, target: str | None = None, body_cap: int = 64 * 1024, cookies_path: str | Path | None = None
) -> HarImport:
    """A HAR file as a Visit, so that every detector runs on it as on a live scan."""
    from lanterne.capture.scanner import mark_parties
    from lanterne.domains import host_of
    from lanterne.records import Body, RequestRecord, ResponseRecord, WebSocketFrame

    path = Path(path)
    warnings: list[str] = []

    def warn(message: str) -> None:
        if len(warnings) < MAX_WARNINGS:
            warnings.append(message)
        elif len(warnings) == MAX_WARNINGS:
            warnings.append("(further warnings not shown)")

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise HarError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if size > MAX_HAR_BYTES:
        raise HarError(f"{path}: {size / 1024**3:.1f} GB is more than the {MAX_HAR_BYTES // 1024**3} GB Lanterne reads")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise HarError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        salvaged = _salvage_entries(text)
        if not salvaged:
            raise HarError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        warn(
            f"{path}: damaged or truncated JSON at line {exc.lineno}, column {exc.colno}; "
            f"analysing the {len(salvaged)} complete entries before it"
        )
        doc = {"log": {"entries": salvaged, "pages": []}}
    del text
    log = doc.get("log") if isinstance(doc, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise HarError(f"{path}: not a HAR file (no log.entries list)")
    pages = log.get("pages") if isinstance(log.get("pages"), list) else []

    requests: list[RequestRecord] = []
    frames: list[WebSocketFrame] = []
    seq = 0
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
            warn(f"entry {index}: not a HAR entry (no request object); skipped")
            continue
        req = entry["request"]
        url, method = req.get("url"), req.get("method")
        if not isinstance(url, str) or not url or not isinstance(method, str) or not method:
            warn(f"entry {index}: missing request.url or request.method; skipped")
            continue
        if url.startswith(("data:", "blob:", "chrome-extension:")):
            continue
        seq += 1
        body = None
        post = req.get("postData")
        if isinstance(post, dict) and isinstance(post.get("text"), str):
            raw_text = post["text"]
            if post.get("_encoding") == "base64" or post.get("encoding") == "base64":
                import base64 as _b64

                try:
                    data = _b64.b64decode(raw_text[: body_cap * 2], validate=False)
                except ValueError:
                    data = raw_text.encode("utf-8", "replace")
                body = Body.from_bytes(data, body_cap)
                body.size = max(body.size, len(raw_text) * 3 // 4)
            else:
                head = raw_text[: body_cap + 4]
                body = Body.from_bytes(head.encode("utf-8", "surrogatepass"), body_cap)
                body.size = len(raw_text.encode("utf-8", "surrogatepass")) if len(raw_text) < 8 * body_cap else len(raw_text)
                body.truncated = len(raw_text) > body_cap or body.truncated
            if body.truncated and len(raw_text) > 1024 * 1024:
                warn(f"entry {index}: request body of {len(raw_text) / 1024**2:.0f} MB kept to its first {body_cap // 1024} KiB")
        resp = entry.get("response") if isinstance(entry.get("response"), dict) else None
        response = None
        if resp is not None and isinstance(resp.get("status"), int) and resp.get("status", 0) > 0:
            headers = _name_value_pairs(resp.get("headers"))
            content = resp.get("content") if isinstance(resp.get("content"), dict) else {}
            response = ResponseRecord(
                status=resp["status"],
                status_text=str(resp.get("statusText", ""))[:200],
                headers=headers,
                set_cookies=[v for k, v in headers if k.lower() == "set-cookie"],
                mime_type=str(content.get("mimeType", "") or "") or None,
                remote_address=str(entry["serverIPAddress"]) if entry.get("serverIPAddress") else None,
                protocol=str(resp.get("httpVersion", "") or "") or None,
                encoded_size=resp.get("bodySize") if isinstance(resp.get("bodySize"), int) and resp["bodySize"] >= 0 else None,
            )
        kind, initiator_url, stack = _initiator_of(entry)
        started = _epoch(entry.get("startedDateTime")) or 0.0
        resource_type = str(entry.get("_resourceType") or _guess_type(response, req)).lower()
        requests.append(
            RequestRecord(
                seq=seq,
                url=url[:65536],
                method=method.upper()[:16],
                resource_type=resource_type,
                started_at=started,
                headers=_name_value_pairs(req.get("headers")),
                body=body,
                frame_url=str(entry["_lanterneFrameUrl"]) if entry.get("_lanterneFrameUrl") else None,
                is_navigation=resource_type == "document",
                initiator_type=kind,
                initiator_url=initiator_url,
                initiator_stack=stack,
                timing={"startTime": started * 1000},
                host=host_of(url),
                failure=str(resp.get("_error"))[:300] if resp and resp.get("_error") else None,
                response=response,
            )
        )
        for message in entry.get("_webSocketMessages") or []:
            if isinstance(message, dict) and isinstance(message.get("data"), str):
                frames.append(
                    WebSocketFrame(
                        url=url,
                        direction="sent" if message.get("type") == "send" else "received",
                        payload=message["data"][:16384],
                        size=len(message["data"]),
                        time=_epoch(message.get("time")) or started,
                        opcode=int(message.get("opcode", 1) or 1),
                    )
                )
    if not requests:
        raise HarError(f"{path}: no usable entries" + (f" ({warnings[0]})" if warnings else ""))
    if target is None:
        documents = [r for r in requests if r.resource_type == "document"]
        page_url = next((p.get("title") for p in pages if isinstance(p, dict) and str(p.get("title", "")).startswith("http")), None)
        target = (documents[0].url if documents else None) or page_url or requests[0].url
    visit = Visit(
        target=target,
        started_at=min((r.started_at for r in requests if r.started_at), default=0.0),
        source="har",
        final_url=target,
        title=next((str(p["title"]) for p in pages if isinstance(p, dict) and p.get("title") and not str(p["title"]).startswith("http")), None),
        options={"har_file": str(path)},
    )
    visit.finished_at = max((r.started_at for r in requests), default=visit.started_at)
    visit.pages = [target]
    visit.requests = requests
    visit.websocket_frames = frames
    if cookies_path is not None:
        visit.cookies = read_cookies(cookies_path, warn)
    mark_parties(visit)
    return HarImport(visit, warnings, len(entries), len(requests))


def _guess_type(response: Any, req: dict[str, Any]) -> str:
    mime = (response.mime_type or "") if response is not None else ""
    if "html" in mime:
        return "document"
    if "javascript" in mime:
        return "script"
    if "css" in mime:
        return "stylesheet"
    if mime.startswith("image/"):
        return "image"
    if mime.startswith("font/"):
        return "font"
    return "other"


def read_cookies(path: str | Path, warn: Any) -> list[Any]:
    """Browser cookies exported as JSON: Blacklight's `{"browser_cookies": [...]}`, or a plain list
    (Chrome DevTools Protocol / Playwright format)."""
    from lanterne.domains import registrable_domain
    from lanterne.records import CookieRecord

    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HarError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise HarError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    items = doc.get("browser_cookies", doc.get("cookies")) if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise HarError(f"{path}: not a cookie list (expected a list, or an object with browser_cookies)")
    cookies = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not item.get("name") or not item.get("domain"):
            warn(f"{path}: cookie {index} has no name or domain; skipped")
            continue
        expires = _epoch(item.get("expires"))
        domain = str(item["domain"])
        cookies.append(
            CookieRecord(
                name=str(item["name"])[:1024],
                value=str(item.get("value", ""))[:16384],
                domain=domain,
                path=str(item.get("path", "/")),
                expires=expires if expires and expires > 0 and not item.get("session") else None,
                http_only=bool(item.get("httpOnly")),
                secure=bool(item.get("secure")),
                same_site=item.get("sameSite"),
                size=int(item.get("size") or 0),
                site=registrable_domain(domain.lstrip(".")),
            )
        )
    return cookies
