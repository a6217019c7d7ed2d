"""Scan a list of targets one after the other with one browser: capture -> detect -> store.

The worker pool (`lanterne crawl`) runs this same pipeline per site; `lanterne scan` and `lanterne demo`
use it directly.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from lanterne.capture import Scanner, VisitOptions
from lanterne.records import Outcome, Visit
from lanterne.store import Store

PHASES = ("none", "refuse", "accept")


def _default_options() -> VisitOptions:
    from lanterne.capture.interactions import CanaryTyping

    return VisitOptions(interactions=[CanaryTyping()])


@dataclass
class ScanConfig:
    options: VisitOptions = field(default_factory=_default_options)
    browser_path: str | None = None
    extra_args: list[str] = field(default_factory=list)
    # Consent phases to visit each site in. With all three, "refuse" and "accept" are only visited when
    # the first visit found a cookie banner (without one there is nothing to answer).
    phases: tuple[str, ...] = ("none",)
    probe: bool = True  # record fingerprinting and session-recording API calls
    consent: bool = True  # find (and, in those phases, answer) cookie banners with autoconsent


def options_for_phase(config: ScanConfig, phase: str) -> VisitOptions:
    """The visit options of one consent phase: the script probe, and the consent agent for that phase."""
    from lanterne.capture.instruments import ConsentAgent, ScriptProbe

    instruments: list[Callable[[], object]] = []
    if config.probe:
        instruments.append(ScriptProbe)
    if config.consent:
        instruments.append(functools.partial(ConsentAgent, phase))
    return replace(config.options, instruments=tuple(instruments))


def banner_found(visit: Visit) -> bool:
    state = visit.options.get("consent")
    return isinstance(state, dict) and bool(state.get("cmp") or state.get("popup") or state.get("tcf"))


def process_visit(visit: Visit) -> Visit:
    """Run every registered detector over a captured visit; the findings travel with it to the store."""
    from lanterne.detect import analyze

    visit.findings = analyze(visit)
    return visit


async def visit_phases(scanner: Scanner, url: str, config: ScanConfig) -> list[Visit]:
    """All the visits one site gets: one per consent phase asked for. Never raises: a fault in Lanterne's
    own code while handling one site is recorded as that visit's outcome, and the crawl goes on."""
    visits: list[Visit] = []
    for phase in config.phases:
        if phase != "none" and "none" in config.phases and visits and not banner_found(visits[0]):
            continue  # no banner to answer: the first visit already shows what the site does
        try:
            visit = await scanner.visit(url, options_for_phase(config, phase), phase=phase)
        except Exception as exc:  # noqa: BLE001 - recorded, not hidden
            visit = Visit(target=url, started_at=time.time(), finished_at=time.time(), phase=phase,
                          outcome=Outcome.INTERNAL_ERROR, reason=f"{type(exc).__name__}: {exc}"[:300])
        try:
            process_visit(visit)
        except Exception as exc:  # noqa: BLE001
            visit.findings = []
            visit.options["detect_error"] = f"{type(exc).__name__}: {exc}"[:300]
        visits.append(visit)
    return visits


async def scan_sequential(
    targets: Sequence[str],
    store: Store,
    config: ScanConfig,
    on_visit: Callable[[int, Visit], None] | None = None,
) -> list[int]:
    visit_ids: list[int] = []
    async with Scanner(config.options, config.browser_path, config.extra_args) as scanner:
        for url in targets:
            for visit in await visit_phases(scanner, url, config):
                visit_id = store.save_visit(visit)
                visit_ids.append(visit_id)
                if on_visit is not None:
                    on_visit(visit_id, visit)
    return visit_ids
