"""Scan a list of targets one after the other with one browser: capture -> detect -> store.

The worker pool (`lanterne crawl`) runs this same pipeline per site; `lanterne scan` and `lanterne demo`
use it directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lanterne.capture import Scanner, VisitOptions
from lanterne.records import Visit
from lanterne.store import Store


def _default_options() -> VisitOptions:
    from lanterne.capture.interactions import CanaryTyping

    return VisitOptions(interactions=[CanaryTyping()])


@dataclass
class ScanConfig:
    options: VisitOptions = field(default_factory=_default_options)
    browser_path: str | None = None
    extra_args: list[str] = field(default_factory=list)
    phases: tuple[str, ...] = ("none",)


def process_visit(visit: Visit) -> Visit:
    """Run every registered detector over a captured visit; the findings travel with it to the store."""
    from lanterne.detect import analyze

    visit.findings = analyze(visit)
    return visit


async def scan_sequential(
    targets: Sequence[str],
    store: Store,
    config: ScanConfig,
    on_visit: Callable[[int, Visit], None] | None = None,
) -> list[int]:
    visit_ids: list[int] = []
    async with Scanner(config.options, config.browser_path, config.extra_args) as scanner:
        for url in targets:
            for phase in config.phases:
                visit = await scanner.visit(url, phase=phase)
                process_visit(visit)
                visit_id = store.save_visit(visit)
                visit_ids.append(visit_id)
                if on_visit is not None:
                    on_visit(visit_id, visit)
    return visit_ids
