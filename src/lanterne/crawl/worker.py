"""One crawl worker: a process holding one browser, visiting the sites it claims from the store.

Workers coordinate only through the store (SQLite in WAL mode): each claims the next pending site in a
transaction, and saves each visit, with the site's "done" mark for the last one, in another. A worker dies
with the crawl process that started it (Linux parent-death signal), so a killed crawl leaves nothing behind
that could keep writing; it ignores the terminal's Ctrl-C, which the crawl process turns into a request to
stop after the visits in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
from dataclasses import replace
from multiprocessing.synchronize import Event

import psutil

from lanterne.capture import Scanner
from lanterne.crawl.runner import ScanConfig, banner_found, options_for_phase, process_visit
from lanterne.records import Outcome, Visit
from lanterne.store import Store
from lanterne.store.crawls import Claim, CrawlState

# Outcomes that say nothing about the site: the visit is worth one more try.
RETRYABLE = (Outcome.BROWSER_CRASH, Outcome.INTERNAL_ERROR)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this process when its parent dies (even by SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before the request was made
        os._exit(1)


def browser_rss_mb(scanner: Scanner) -> float:
    pid = scanner.browser_pid()
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 1024**2
    except psutil.Error:
        return 0.0


def next_phases(phases: tuple[str, ...], done: list[str], first: Visit | None) -> list[str]:
    """The phases still to visit: refuse/accept only after a first visit that found a banner."""
    todo = [p for p in phases if p not in done]
    if "none" in phases and "none" not in todo and first is not None and not banner_found(first):
        todo = [p for p in todo if p == "none"]
    return todo


async def visit_site(
    scanner: Scanner, url: str, config: ScanConfig, done: list[str], first: Visit | None, attempts: int
) -> tuple[list[Visit], str | None, str | None]:
    """Visit a site in each consent phase still to do. Returns (visits, status, reason); status None means
    the attempt failed for a reason that is not the site's and the site should be released for a retry."""
    done = list(done)
    todo = next_phases(config.phases, done, first)
    visits: list[Visit] = []
    status, reason = "done", None
    while todo:
        phase = todo.pop(0)
        visit = await scanner.visit(url, options_for_phase(config, phase), phase=phase)
        if visit.outcome in RETRYABLE:
            if attempts < 2:
                return visits, None, f"{visit.outcome.value}: {visit.reason}"[:300]
            status, reason = "failed", f"{visit.outcome.value}: {visit.reason}"[:300]
        try:
            process_visit(visit)
        except Exception as exc:  # noqa: BLE001 - a detector bug must not lose the visit
            visit.findings = []
            visit.options["detect_error"] = f"{type(exc).__name__}: {exc}"[:300]
        visits.append(visit)
        done.append(phase)
        if phase == "none":
            first = visit
        todo = next_phases(config.phases, done, first)
    return visits, status, reason


def first_visit_of(store: Store, target_id: int) -> Visit | None:
    row = store.conn.execute(
        "SELECT id FROM visits WHERE crawl_target_id = ? AND phase = 'none' ORDER BY id DESC LIMIT 1", (target_id,)
    ).fetchone()
    return store.load_visit(int(row[0])) if row else None


def save_site(store: Store, state: CrawlState, claim: Claim, visits: list[Visit], status: str | None,
              reason: str | None) -> str:
    """Save a site's visits; the last one with the site's final status, in the same transaction."""
    for visit in visits:
        visit.crawl_target_id = claim.target_id
    if status is None:  # retry: keep what was completed, release the site
        for visit in visits:
            store.save_visit(visit)
        return state.release(claim.target_id, reason or "retry")
    if not visits:
        state.finish(claim.target_id, status, reason)
        return status
    for visit in visits[:-1]:
        store.save_visit(visit)
    store.save_visit(visits[-1], also=lambda conn, _vid: state.mark(conn, claim.target_id, status, reason))
    return status


async def crawl_site(scanner: Scanner, store: Store, state: CrawlState, claim: Claim, config: ScanConfig) -> str:
    first = first_visit_of(store, claim.target_id) if "none" in claim.phases_done else None
    visits, status, reason = await visit_site(scanner, claim.url, config, claim.phases_done, first, claim.attempts)
    return save_site(store, state, claim, visits, status, reason)


async def _work(db_path: str, crawl_id: int, config: ScanConfig, name: str, stop: Event,
                recycle_after: int, max_browser_mb: float) -> None:
    store = Store(db_path, create=False)
    state = CrawlState(store)
    config = replace(config, phases=state.phases(crawl_id))
    try:
        async with Scanner(config.options, config.browser_path, config.extra_args) as scanner:
            while not stop.is_set():
                claim = state.claim(crawl_id, name)
                if claim is None:
                    break
                await crawl_site(scanner, store, state, claim, config)
                if scanner.visits_since_launch >= recycle_after or browser_rss_mb(scanner) > max_browser_mb:
                    await scanner.restart()  # bounds the memory a long crawl's browser can grow to
    finally:
        store.close()


def worker_main(db_path: str, crawl_id: int, config: ScanConfig, name: str, stop: Event, parent_pid: int,
                recycle_after: int = 50, max_browser_mb: float = 1500.0) -> None:
    """Entry point of a worker process (started with the spawn method)."""
    _die_with_parent(parent_pid)
    os.setsid()  # out of the terminal's process group: Ctrl-C reaches only the crawl process
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(_work(db_path, crawl_id, config, name, stop, recycle_after, max_browser_mb))
