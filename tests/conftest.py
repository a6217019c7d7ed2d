"""Shared fixtures: the simulated web (one per test session) and visits to it in real Chromium."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from lanterne.capture import Scanner, VisitOptions
from lanterne.records import Visit
from lanterne.simweb import SimulatedWeb

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("LANTERNE_SHARED_DATA", ROOT.parent / "shared" / "data"))
ARTIFACTS = ROOT / "test-artifacts"

# Short visits: the protocol is the same, only the dwell is shorter than the 5 s default.
FAST = VisitOptions(dwell=0.5, load_timeout=8, quiet_max=2)


def shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found at {path} (set LANTERNE_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def simweb() -> Iterator[SimulatedWeb]:
    with SimulatedWeb() as web:
        yield web


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def visit_all(
    web: SimulatedWeb, urls: Sequence[str], options: VisitOptions = FAST, phase: str = "none"
) -> list[Visit]:
    """Visit each URL with one real Chromium pointed at the simulated web."""

    async def run() -> list[Visit]:
        async with Scanner(options, extra_args=web.chromium_args()) as scanner:
            return [await scanner.visit(url, phase=phase) for url in urls]

    return asyncio.run(run())


def visit_one(web: SimulatedWeb, url: str, options: VisitOptions = FAST) -> Visit:
    return visit_all(web, [url], options)[0]


@pytest.fixture(scope="session")
def demo_visits(simweb: SimulatedWeb) -> dict[str, Visit]:
    """The three ordinary demo sites, visited once for the whole session."""
    urls = ["https://www.clinic.example/", "https://www.news.example/", "https://www.plain.example/"]
    return dict(zip(urls, visit_all(simweb, urls)))
