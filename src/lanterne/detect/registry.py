"""The one place detectors are registered, in the order they run (later ones may use earlier results)."""

from __future__ import annotations

from lanterne.detect.attribution import Attribution
from lanterne.detect.engine import Detector
from lanterne.detect.leaks import PersonalDataLeaks
from lanterne.detect.page_data import PageData
from lanterne.detect.pixels import PixelDecoding

DETECTORS: list[Detector] = [
    Attribution(),  # first: the others read its request -> owner map
    PixelDecoding(),
    PageData(),
    PersonalDataLeaks(),
]
