"""Tracker pixels, decoded: which pixel, which event, which page, which identifiers."""

from __future__ import annotations

from collections.abc import Iterable

from lanterne.detect.decoders import decode_events
from lanterne.detect.decoders.base import PixelEvent
from lanterne.detect.engine import DetectContext
from lanterne.records import Finding, Visit

_CATEGORY = {"ByteDance": "advertising", "Meta": "advertising", "Google": "analytics"}


def _summary(ev: PixelEvent) -> str:
    ids = ", ".join(ev.pixel_ids) or "unknown id"
    if ev.kind == "loader":
        return f"{ev.tracker} loaded (pixel {ids})"
    what = ev.event or "an event"
    where = f" on {ev.page_url}" if ev.page_url else ""
    hashed = f"; hashed identifiers: {', '.join(sorted(ev.hashed))}" if ev.hashed else ""
    return f"{ev.tracker} {ids}: {what}{where}{hashed}"


class PixelDecoding:
    name = "pixels"

    def detect(self, ctx: DetectContext) -> Iterable[Finding]:
        visit = ctx.visit
        ttp = _cookie_value(visit, "_ttp")
        findings = []
        for req in visit.requests:
            if not req.third_party and req.seq not in ctx.shared.get("owners", {}):
                continue
            for ev in decode_events(req):
                details = ev.as_details()
                if ev.tracker == "TikTok pixel" and ttp and ev.extra.get("ttp_cookie") == ttp:
                    details["ttp_cookie_linked"] = True
                findings.append(
                    Finding(
                        kind="pixel_loaded" if ev.kind == "loader" else "pixel_event",
                        detector=self.name,
                        company=ev.company,
                        domain=req.site,
                        category=_CATEGORY.get(ev.company, "advertising"),
                        data_type="pixel_event" if ev.kind != "loader" else "pixel_loaded",
                        summary=_summary(ev)[:500],
                        evidence=[req.seq],
                        details=details,
                    )
                )
        return findings


def _cookie_value(visit: Visit, name: str) -> str | None:
    for cookie in visit.cookies:
        if cookie.name == name:
            return cookie.value
    return None
