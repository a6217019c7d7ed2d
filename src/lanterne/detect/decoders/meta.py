"""Meta (Facebook) pixel: `facebook.com/tr` beacons, GET or POST, with the pixel id (`id`), event (`ev`),
page (`dl`), referrer (`rl`), advanced-matching user data (`ud[...]`, hashed) and custom data (`cd[...]`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from lanterne.detect.decoders.base import PixelEvent, identifiers
from lanterne.detect.payloads import Payload
from lanterne.domains import host_matches
from lanterne.records import RequestRecord

PATHS = ("/tr", "/tr/", "/privacy_sandbox/pixel/register/trigger/", "/privacy_sandbox/pixel/register/trigger")


class MetaPixel:
    name = "meta-pixel"
    tracker = "Meta pixel"
    company = "Meta"

    def decode(self, req: RequestRecord, payload: Payload) -> list[PixelEvent]:
        parts = urlsplit(req.url)
        host = (parts.hostname or "").lower()
        if not host_matches(host, "facebook.com") or parts.path not in PATHS:
            return []
        fields = payload.with_prefix("query.")
        fields.update(payload.with_prefix("form."))
        if "id" not in fields and "ev" not in fields:
            return []
        user_data, hashed = identifiers({k[3:-1]: v for k, v in fields.items() if k.startswith("ud[") and k.endswith("]")})
        custom = {k[3:-1]: v for k, v in fields.items() if k.startswith("cd[") and k.endswith("]")}
        extra = {k: fields[k] for k in ("fbp", "fbc", "external_id", "eid") if fields.get(k)}
        if "privacy_sandbox" in parts.path:
            extra["endpoint"] = "privacy_sandbox"
        return [
            PixelEvent(
                tracker=self.tracker,
                company=self.company,
                kind="event",
                pixel_ids=[fields["id"]] if fields.get("id") else [],
                event=fields.get("ev"),
                page_url=fields.get("dl") or None,
                referrer=fields.get("rl") or None,
                user_data=user_data,
                hashed=hashed,
                properties=custom,
                extra=extra,
            )
        ]
