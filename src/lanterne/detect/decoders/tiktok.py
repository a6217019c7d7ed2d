"""TikTok pixel: the loader (`/i18n/pixel/events.js?sdkid=`), events (`/api/v2/pixel`, also batched) and
page metadata (`/api/v2/pixel/act`), as seen in public captures of the pixel (2025)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from lanterne.detect.decoders.base import PixelEvent, identifiers
from lanterne.detect.payloads import Payload
from lanterne.domains import host_matches
from lanterne.records import RequestRecord

HOSTS = ("analytics.tiktok.com", "analytics-sg.tiktok.com", "analytics.us.tiktok.com", "analytics.tiktokw.us")


class TikTokPixel:
    name = "tiktok-pixel"
    tracker = "TikTok pixel"
    company = "ByteDance"

    def decode(self, req: RequestRecord, payload: Payload) -> list[PixelEvent]:
        parts = urlsplit(req.url)
        host = (parts.hostname or "").lower()
        if not any(host_matches(host, h) for h in HOSTS):
            return []
        path = parts.path
        if path.endswith("/i18n/pixel/events.js"):
            codes = parse_qs(parts.query).get("sdkid", [])
            return [PixelEvent(self.tracker, self.company, "loader", pixel_ids=codes)]
        if not path.startswith("/api/v2/pixel"):
            return []
        events: list[PixelEvent] = []
        for body in payload.json_bodies[:1]:
            items = body.get("batch") if isinstance(body, dict) and isinstance(body.get("batch"), list) else [body]
            for item in items[:100]:
                if isinstance(item, dict):
                    events.append(self._event(item, is_metadata=path.endswith("/act")))
        return events

    def _event(self, item: dict[str, Any], is_metadata: bool) -> PixelEvent:
        context = item.get("context") if isinstance(item.get("context"), dict) else {}
        pixel = context.get("pixel") if isinstance(context.get("pixel"), dict) else {}
        page = context.get("page") if isinstance(context.get("page"), dict) else {}
        user = context.get("user") if isinstance(context.get("user"), dict) else {}
        codes = [str(pixel["code"])] if pixel.get("code") else []
        for code in str(pixel.get("codes") or "").split("|"):
            if code and code not in codes:
                codes.append(code)
        user_data, hashed = identifiers({str(k): str(v) for k, v in user.items() if isinstance(v, (str, int))})
        extra: dict[str, Any] = {}
        if user.get("anonymous_id"):
            extra["anonymous_id"] = str(user["anonymous_id"])
            # The pixel's anonymous id is its first-party `_ttp` cookie followed by a suffix.
            extra["ttp_cookie"] = str(user["anonymous_id"]).split("_.tt.")[0]
        if isinstance(item.get("signal_diagnostic_labels"), dict):
            extra["signal_diagnostic_labels"] = {
                k: v.get("label") if isinstance(v, dict) else v for k, v in item["signal_diagnostic_labels"].items()
            }
        if is_metadata:
            extra["action"] = item.get("action")
            auto = item.get("auto_collected_properties")
            if isinstance(auto, dict):
                extra["auto_collected_properties"] = auto
        return PixelEvent(
            tracker=self.tracker,
            company=self.company,
            kind="metadata" if is_metadata else "event",
            pixel_ids=codes,
            event=str(item.get("action") or "Metadata") if is_metadata else (str(item["event"]) if item.get("event") else None),
            page_url=str(page["url"]) if page.get("url") else None,
            referrer=str(page["referrer"]) if page.get("referrer") else None,
            user_data=user_data,
            hashed=hashed,
            properties=item.get("properties") if isinstance(item.get("properties"), dict) else {},
            extra=extra,
        )
