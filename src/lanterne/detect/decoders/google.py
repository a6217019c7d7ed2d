"""Google: GA4 (`/g/collect`), Universal Analytics (`/collect`, `/r/collect`, `/j/collect`), and Google Ads /
DoubleClick conversion beacons (`/pagead/viewthroughconversion/`, `/pagead/1p-conversion/`,
`/pagead/conversion/`, Floodlight `ad.doubleclick.net/activity`)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from lanterne.detect.decoders.base import PixelEvent, identifiers
from lanterne.detect.payloads import Payload
from lanterne.domains import host_matches
from lanterne.records import RequestRecord

ANALYTICS_HOSTS = ("google-analytics.com", "analytics.google.com", "googletagmanager.com", "doubleclick.net")
_CONVERSION = re.compile(r"^/pagead/(viewthroughconversion|1p-conversion|conversion|1p-user-list)/(\d+)/?")


def _hits(payload: Payload) -> list[dict[str, str]]:
    """One field set per hit: the query string, merged with each line of a batched body."""
    query = payload.with_prefix("query.")
    lines: dict[int, dict[str, str]] = {}
    for key, value in payload.fields.items():
        match = re.match(r"^form\[(\d+)\]\.(.+)$", key)
        if match:
            lines.setdefault(int(match.group(1)), {})[match.group(2)] = value
    if lines:
        return [{**query, **line} for _, line in sorted(lines.items())]
    form = payload.with_prefix("form.")
    return [{**query, **form}]


class GoogleAnalytics4:
    name = "google-analytics-4"
    tracker = "Google Analytics 4"
    company = "Google"

    def decode(self, req: RequestRecord, payload: Payload) -> list[PixelEvent]:
        parts = urlsplit(req.url)
        host = (parts.hostname or "").lower()
        if not parts.path.endswith("/g/collect") or not any(host_matches(host, h) for h in ANALYTICS_HOSTS):
            return []
        events = []
        for hit in _hits(payload):
            params = {k[3:]: v for k, v in hit.items() if k.startswith(("ep.", "epn"))}
            user_props = {k[3:]: v for k, v in hit.items() if k.startswith(("up.", "upn"))}
            user_data, hashed = identifiers({k: hit[k] for k in ("cid", "uid", "_fid") if hit.get(k)})
            events.append(
                PixelEvent(
                    tracker=self.tracker,
                    company=self.company,
                    kind="event",
                    pixel_ids=[hit["tid"]] if hit.get("tid") else [],
                    event=hit.get("en"),
                    page_url=hit.get("dl") or None,
                    referrer=hit.get("dr") or None,
                    user_data=user_data,
                    hashed=hashed,
                    properties=params,
                    extra={k: v for k, v in {"title": hit.get("dt"), "user_properties": user_props}.items() if v},
                )
            )
        return events


class UniversalAnalytics:
    name = "universal-analytics"
    tracker = "Google Universal Analytics"
    company = "Google"

    def decode(self, req: RequestRecord, payload: Payload) -> list[PixelEvent]:
        parts = urlsplit(req.url)
        host = (parts.hostname or "").lower()
        if parts.path not in ("/collect", "/r/collect", "/j/collect") or not any(
            host_matches(host, h) for h in ANALYTICS_HOSTS
        ):
            return []
        events = []
        for hit in _hits(payload):
            if not hit.get("tid", "").startswith("UA-") and hit.get("v") != "1":
                continue
            user_data, hashed = identifiers({k: hit[k] for k in ("cid", "uid") if hit.get(k)})
            event = hit.get("t")
            if event == "event" and hit.get("ea"):
                event = f"event:{hit.get('ec', '')}/{hit['ea']}"
            events.append(
                PixelEvent(
                    tracker=self.tracker,
                    company=self.company,
                    kind="event",
                    pixel_ids=[hit["tid"]] if hit.get("tid") else [],
                    event=event,
                    page_url=hit.get("dl") or None,
                    referrer=hit.get("dr") or None,
                    user_data=user_data,
                    hashed=hashed,
                    extra={k: v for k, v in {"title": hit.get("dt")}.items() if v},
                )
            )
        return events


class GoogleAds:
    name = "google-ads"
    tracker = "Google Ads / DoubleClick conversion"
    company = "Google"

    def decode(self, req: RequestRecord, payload: Payload) -> list[PixelEvent]:
        parts = urlsplit(req.url)
        host = (parts.hostname or "").lower()
        fields = {**payload.with_prefix("query."), **payload.with_prefix("form.")}
        match = _CONVERSION.match(parts.path)
        if match and (host_matches(host, "doubleclick.net") or host_matches(host, "google.com")
                      or host_matches(host, "googleadservices.com") or host.startswith("www.google.")):
            return [
                PixelEvent(
                    tracker=self.tracker,
                    company=self.company,
                    kind="event",
                    pixel_ids=[f"AW-{match.group(2)}"],
                    event=fields.get("label") or fields.get("en") or match.group(1),
                    page_url=fields.get("url") or None,
                    referrer=fields.get("ref") or None,
                    properties={k: fields[k] for k in ("value", "currency_code", "data") if fields.get(k)},
                    extra={"endpoint": match.group(1)},
                )
            ]
        if host_matches(host, "doubleclick.net") and parts.path.startswith("/activity"):
            # Floodlight keeps its parameters in the path: /activity;src=123;type=abc;cat=def;ord=1
            params = dict(
                item.split("=", 1) for item in parts.path.split(";")[1:] if "=" in item
            )
            return [
                PixelEvent(
                    tracker="DoubleClick Floodlight",
                    company=self.company,
                    kind="event",
                    pixel_ids=[f"DC-{params['src']}"] if params.get("src") else [],
                    event="/".join(p for p in (params.get("type"), params.get("cat")) if p) or None,
                    page_url=params.get("~oref") or fields.get("~oref") or None,
                    properties={k: v for k, v in params.items() if k.startswith("u")},
                )
            ]
        return []
