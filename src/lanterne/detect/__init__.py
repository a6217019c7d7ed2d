"""Detect: turn a captured visit into findings. Entry point: `analyze(visit)`.

Detectors are small units registered in `registry.py`; the engine here only runs them in order and
collects what they find, so adding a detector never touches it.
"""

from lanterne.detect.engine import DetectContext, Detector, analyze

__all__ = ["DetectContext", "Detector", "analyze"]
