"""Runs the registered detectors over a visit."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lanterne.records import Finding, Visit

log = logging.getLogger(__name__)


@dataclass
class DetectContext:
    """What detectors share during one analysis: earlier detectors' results, keyed by detector name."""

    visit: Visit
    shared: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


class Detector(Protocol):
    name: str

    def detect(self, ctx: DetectContext) -> Iterable[Finding]: ...


def analyze(visit: Visit, detectors: Sequence[Detector] | None = None) -> list[Finding]:
    if detectors is None:
        from lanterne.detect.registry import DETECTORS

        detectors = DETECTORS
    ctx = DetectContext(visit)
    for detector in detectors:
        try:
            found = list(detector.detect(ctx))
        except Exception:  # one broken detector must not cost the others' findings
            log.exception("detector %s failed on %s", detector.name, visit.target)
            continue
        for finding in found:
            finding.phase = visit.phase
        ctx.findings.extend(found)
    return ctx.findings
