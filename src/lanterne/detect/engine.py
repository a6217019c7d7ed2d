"""Runs the registered detectors over a visit."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from lanterne.records import Finding, Visit

log = logging.getLogger(__name__)


@dataclass
class DetectContext:
    """What detectors share during one analysis: earlier detectors' results, keyed by detector name."""

    visit: Visit
    # True when only what happened after the cookie banner was answered is being looked at.
    after_answer: bool = False
    shared: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


class Detector(Protocol):
    name: str

    def detect(self, ctx: DetectContext) -> Iterable[Finding]: ...


def observed_part(visit: Visit) -> tuple[Visit, str]:
    """What a visit shows for its consent phase, and the phase its findings belong to.

    After "refuse all" or "accept all" was clicked, only what happened from that moment on says what the site
    does with the answer; earlier traffic is the same as without an answer and stays out of this phase's
    findings (the raw records keep it). A phase whose banner could not be answered is no different from
    not answering: its findings are reported as phase "none".
    """
    if visit.phase not in ("refuse", "accept"):
        return visit, visit.phase
    state = visit.options.get("consent") if isinstance(visit.options.get("consent"), dict) else {}
    answered_at = state.get("answered_at") if state.get("answered") else None
    if not answered_at:
        return visit, "none"
    view = replace(
        visit,
        requests=[r for r in visit.requests if r.started_at >= answered_at],
        websocket_frames=[f for f in visit.websocket_frames if f.time >= answered_at],
    )
    return view, visit.phase


def analyze(visit: Visit, detectors: Sequence[Detector] | None = None) -> list[Finding]:
    if detectors is None:
        from lanterne.detect.registry import DETECTORS

        detectors = DETECTORS
    visit, phase = observed_part(visit)
    ctx = DetectContext(visit, after_answer=phase in ("refuse", "accept"))
    for detector in detectors:
        try:
            found = list(detector.detect(ctx))
        except Exception:  # one broken detector must not cost the others' findings
            log.exception("detector %s failed on %s", detector.name, visit.target)
            continue
        for finding in found:
            finding.phase = phase
        ctx.findings.extend(found)
    return ctx.findings
