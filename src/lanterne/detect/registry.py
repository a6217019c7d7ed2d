"""The one place detectors are registered, in the order they run (later ones may use earlier results)."""

from __future__ import annotations

from lanterne.detect.engine import Detector

DETECTORS: list[Detector] = []
