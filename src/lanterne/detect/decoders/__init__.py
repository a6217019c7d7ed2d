"""Tracker decoders, one small unit per tracker, registered here. Anything they do not know is still
decoded generically (query string, form, JSON, base64-wrapped JSON) by `lanterne.detect.payloads`."""

from __future__ import annotations

from lanterne.detect.decoders.base import Decoder, PixelEvent, looks_hashed
from lanterne.detect.decoders.google import GoogleAds, GoogleAnalytics4, UniversalAnalytics
from lanterne.detect.decoders.meta import MetaPixel
from lanterne.detect.decoders.tiktok import TikTokPixel
from lanterne.detect.payloads import decode_request
from lanterne.records import RequestRecord

DECODERS: list[Decoder] = [TikTokPixel(), MetaPixel(), GoogleAnalytics4(), UniversalAnalytics(), GoogleAds()]


def decode_events(req: RequestRecord) -> list[PixelEvent]:
    """The tracker events a request carries, by whichever decoder recognises it."""
    payload = decode_request(req)
    for decoder in DECODERS:
        events = decoder.decode(req, payload)
        if events:
            return events
    return []


__all__ = ["DECODERS", "Decoder", "PixelEvent", "decode_events", "looks_hashed"]
