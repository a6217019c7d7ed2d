"""Browser fingerprinting, from the calls the script probe recorded, classified with published heuristics.

- Canvas (Englehardt & Narayanan, "Online tracking: a 1-million-site measurement and analysis", CCS 2016,
  section 6.1, as OpenWPM and Blacklight apply it): the canvas is at least 16x16 pixels; text with at least
  10 distinct characters or at least 2 colours was drawn on it; the script did not call save/restore or
  listen to events on it (signs of an interactive drawing); its pixels were read with toDataURL/toBlob in a
  lossless format, or with getImageData over at least 16x16 pixels.
- Canvas font fingerprinting (same paper, 6.2): the font is set to at least 50 distinct values and
  measureText called at least 50 times.
- WebRTC local-address discovery (same paper, 6.3): a peer connection with a data channel and an offer,
  whose ICE candidates the script reads.
- AudioContext (same paper, 6.4): an oscillator through a compressor or analyser, rendered (offline) and read.
- WebGL: reading the unmasked vendor or renderer through WEBGL_debug_renderer_info.
- Navigator and screen: reading at least 10 distinct properties (Lanterne's threshold; a site reading its
  visitor's language for itself reads one or two).
- Battery status API: navigator.getBattery (reported, as the W3C removed it from browsers for this reason).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from lanterne.detect.engine import DetectContext
from lanterne.detect.lists import company_db
from lanterne.domains import host_of, site_of
from lanterne.records import Finding, JsCall

MIN_CANVAS_SIDE = 16
MIN_CHARS = 10
MIN_COLORS = 2
LOSSY = ("image/jpeg", "image/webp")
MIN_FONTS = 50
MIN_MEASURES = 50
MIN_PROPERTIES = 10
WEBGL_UNMASKED = (37445, 37446)  # UNMASKED_VENDOR_WEBGL, UNMASKED_RENDERER_WEBGL


def _canvas(calls: dict[str, JsCall]) -> list[dict[str, Any]]:
    hits = []
    for api in ("canvas.toDataURL", "canvas.toBlob", "canvas.getImageData"):
        call = calls.get(api)
        if call is None:
            continue
        for args in call.args:
            info = next((a for a in args if isinstance(a, dict)), None)
            if info is None:
                continue
            big = info.get("width", 0) >= MIN_CANVAS_SIDE and info.get("height", 0) >= MIN_CANVAS_SIDE
            text = info.get("chars", 0) >= MIN_CHARS or info.get("colors", 0) >= MIN_COLORS
            interactive = info.get("save_restore") or info.get("listeners")
            if api == "canvas.getImageData":
                extracted = (info.get("area") or 0) >= MIN_CANVAS_SIDE * MIN_CANVAS_SIDE
            else:
                extracted = str(info.get("format", "image/png")).lower() not in LOSSY
            if big and text and not interactive and extracted:
                hits.append({"api": api, **info})
    return hits


def classify(calls: dict[str, JsCall]) -> dict[str, dict[str, Any]]:
    """Techniques a script's calls show, each with the evidence that shows it."""
    found: dict[str, dict[str, Any]] = {}
    canvas = _canvas(calls)
    if canvas:
        found["canvas"] = {"extractions": canvas[:5]}
    fonts = calls.get("canvas.font")
    measures = calls.get("canvas.measureText")
    if fonts and measures and fonts.count >= MIN_FONTS and measures.count >= MIN_MEASURES:
        found["canvas_font"] = {"fonts_set": fonts.count, "measureText_calls": measures.count,
                                "examples": [a[0] for a in fonts.args[:5] if a]}
    if {"webrtc.RTCPeerConnection", "webrtc.createDataChannel", "webrtc.createOffer"} <= calls.keys() and (
        "webrtc.onicecandidate" in calls or "webrtc.setLocalDescription" in calls
    ):
        found["webrtc"] = {"calls": {k: calls[k].count for k in calls if k.startswith("webrtc.")}}
    audio_source = "audio.createOscillator" in calls
    audio_shape = "audio.createDynamicsCompressor" in calls or "audio.createAnalyser" in calls
    audio_read = "audio.startRendering" in calls or "audio.getChannelData" in calls
    if audio_source and audio_shape and audio_read:
        found["audio"] = {"calls": {k: calls[k].count for k in calls if k.startswith("audio.")}}
    params = calls.get("webgl.getParameter")
    ext = calls.get("webgl.getExtension")
    if params and ext and any("WEBGL_debug_renderer_info" in str(a) for a in ext.args) and any(
        a and a[0] in WEBGL_UNMASKED for a in params.args
    ):
        found["webgl"] = {"parameters": [a[0] for a in params.args if a][:8]}
    properties = sorted(k for k in calls if k.startswith(("navigator.", "screen.")) and k != "navigator.getBattery")
    if len(properties) >= MIN_PROPERTIES:
        found["navigator"] = {"properties": properties}
    if "navigator.getBattery" in calls:
        found["battery"] = {"calls": calls["navigator.getBattery"].count}
    return found


class Fingerprinting:
    name = "fingerprinting"

    def detect(self, ctx: DetectContext) -> Iterable[Finding]:
        visit = ctx.visit
        by_script: dict[str, dict[str, JsCall]] = defaultdict(dict)
        for call in visit.js_calls:
            existing = by_script[call.script_url].get(call.api)
            if existing is None:
                by_script[call.script_url][call.api] = JsCall(call.frame_url, call.script_url, call.api, call.count, list(call.args))
            else:  # the same script in several frames
                existing.count += call.count
                existing.args = (existing.args + call.args)[:16]
        first_party = set(visit.first_party_sites)
        db = company_db()
        findings = []
        for script, calls in by_script.items():
            techniques = classify(calls)
            if not techniques:
                continue
            host = host_of(script)
            owner = db.owner_of(host) if host else None
            loads = [r.seq for r in visit.requests if r.url == script][:5]
            third_party = site_of(script) not in first_party
            for technique, evidence in techniques.items():
                findings.append(
                    Finding(
                        kind="fingerprinting",
                        detector=self.name,
                        company=owner.company if owner else None,
                        domain=site_of(script) or None,
                        category="fingerprinting",
                        data_type="fingerprinting",
                        encoding=technique,
                        summary=f"{technique} fingerprinting by {script[:200]}",
                        evidence=loads,
                        details={"script": script[:2048], "technique": technique, "third_party": third_party, **evidence},
                    )
                )
        return findings
