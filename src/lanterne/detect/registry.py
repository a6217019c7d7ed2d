"""The one place detectors are registered, in the order they run (later ones may use earlier results)."""

from __future__ import annotations

from lanterne.detect.attribution import Attribution
from lanterne.detect.consent import ConsentBanner
from lanterne.detect.engine import Detector
from lanterne.detect.fingerprinting import Fingerprinting
from lanterne.detect.keylogging import KeyLogging
from lanterne.detect.leaks import PersonalDataLeaks
from lanterne.detect.page_data import PageData
from lanterne.detect.pixels import PixelDecoding
from lanterne.detect.recorders import SessionRecorders

DETECTORS: list[Detector] = [
    ConsentBanner(),
    Attribution(),  # the detectors below read its request -> owner map
    PixelDecoding(),
    PageData(),
    PersonalDataLeaks(),
    KeyLogging(),  # reads the leaks
    Fingerprinting(),
    SessionRecorders(),
]
