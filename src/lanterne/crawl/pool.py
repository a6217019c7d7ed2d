"""`lanterne crawl`: a list of sites, N worker processes, state in the store, resumable at any point.

The crawl process holds an exclusive lock on `<db>.lock` while it runs, so two crawls never share a store;
it starts the workers, watches them (a worker that dies or hangs is replaced and its site retried once),
and reports progress. Killing it (even with SIGKILL) kills its workers; running the same command again
resumes: finished sites are kept, the others are visited.
"""

from __future__ import annotations

import fcntl
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lanterne.crawl.runner import ScanConfig
from lanterne.store import Store, StoreError
from lanterne.store.crawls import CrawlProgress, CrawlState
from lanterne.targets import SiteList


class CrawlLocked(Exception):
    pass


@dataclass
class CrawlSettings:
    workers: int = 2
    recycle_after: int = 50  # visits before a worker restarts its browser
    max_browser_mb: float = 1500.0  # ...or when its browser uses more memory than this
    append: bool = False
    poll: float = 0.5


@dataclass
class CrawlResult:
    crawl_id: int
    resumed: bool
    progress: CrawlProgress
    stopped: bool  # stopped by the user before the end
    worker_restarts: int = 0
    events: list[str] = field(default_factory=list)


def lock_store(db_path: Path) -> IO[str]:
    """An exclusive lock held for as long as the crawl runs; the OS releases it if the process dies."""
    lock = open(db_path.with_name(db_path.name + ".lock"), "a+")  # noqa: SIM115 - held for the crawl's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise CrawlLocked(f"{db_path}: another `lanterne crawl` is using this database") from None
    return lock


def prepare(db_path: Path, site_list: SiteList, list_path: str, config: ScanConfig, append: bool) -> tuple[Store, int, bool]:
    store = Store(db_path)
    state = CrawlState(store)
    try:
        crawl_id, resumed = state.start_or_resume(
            site_list.fingerprint, list_path, site_list.urls, config.phases, config.options.describe(), append
        )
    except StoreError:
        store.close()
        raise
    return store, crawl_id, resumed


class _Workers:
    def __init__(self, db_path: Path, crawl_id: int, config: ScanConfig, settings: CrawlSettings) -> None:
        self.ctx = mp.get_context("spawn")
        self.stop = self.ctx.Event()
        self.db_path = db_path
        self.crawl_id = crawl_id
        self.config = config
        self.settings = settings
        self.procs: dict[str, Any] = {}
        self.serial = 0
        self.restarts = 0

    def spawn(self) -> str:
        from lanterne.crawl.worker import worker_main

        self.serial += 1
        name = f"w{self.serial}-{os.getpid()}"
        proc = self.ctx.Process(
            target=worker_main,
            args=(str(self.db_path), self.crawl_id, self.config, name, self.stop, os.getpid(),
                  self.settings.recycle_after, self.settings.max_browser_mb),
            name=f"lanterne-{name}",
            daemon=False,
        )
        proc.start()
        self.procs[name] = proc
        return name

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.kill()
        proc.join(10)


def run_crawl(
    db_path: Path,
    site_list: SiteList,
    list_path: str,
    config: ScanConfig,
    settings: CrawlSettings,
    on_progress: Callable[[CrawlProgress], None] | None = None,
    on_event: Callable[[str], None] | None = None,
) -> CrawlResult:
    lock = lock_store(db_path)
    try:
        store, crawl_id, resumed = prepare(db_path, site_list, list_path, config, settings.append)
        state = CrawlState(store)
        workers = _Workers(db_path, crawl_id, config, settings)
        events: list[str] = []

        def event(message: str) -> None:
            events.append(message)
            if on_event is not None:
                on_event(message)

        phases = max(1, len(config.phases))
        hung_after = config.options.hard_timeout() * phases + 90
        stopped = False
        progress = state.progress(crawl_id)
        for _ in range(min(settings.workers, max(progress.remaining, 1))):
            workers.spawn()
        try:
            while True:
                progress = state.progress(crawl_id)
                if on_progress is not None:
                    on_progress(progress)
                if progress.pending == 0 and progress.running == 0:
                    break
                now = time.time()
                released = False
                for name, proc in list(workers.procs.items()):
                    running = state.running_of(crawl_id, name)
                    if not proc.is_alive():
                        workers.procs.pop(name)
                        for target_id, _ in running:
                            status = state.release(target_id, f"worker process died (exit code {proc.exitcode})")
                            event(f"worker {name} died (exit code {proc.exitcode}); its site is now {status}")
                            released = True
                    elif any(now - started > hung_after for _, started in running):
                        workers.kill(name)
                        for target_id, _ in running:
                            status = state.release(target_id, f"the visit did not finish within {hung_after:.0f} s")
                            event(f"worker {name} hung; restarted; its site is now {status}")
                            released = True
                # Keep the pool full while work remains (bounded, so a systematic failure cannot loop).
                if released:  # a released site may have failed for good: count again
                    progress = state.progress(crawl_id)
                wanted = min(settings.workers, progress.pending + progress.running)
                while len(workers.procs) < wanted and workers.restarts < 10 + 3 * settings.workers:
                    workers.spawn()
                    workers.restarts += 1
                if not workers.procs and progress.pending:
                    event("no worker could be kept running; stopping")
                    break
                time.sleep(settings.poll)
        except KeyboardInterrupt:
            stopped = True
            event("stopping: the visits in flight are finished and saved first")
            workers.stop.set()
            deadline = time.time() + hung_after
            for name, proc in list(workers.procs.items()):
                proc.join(max(1.0, deadline - time.time()))
                if proc.is_alive():
                    workers.kill(name)
        workers.stop.set()
        for proc in workers.procs.values():
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        progress = state.settle(crawl_id)
        store.close()
        return CrawlResult(crawl_id, resumed, progress, stopped, workers.restarts, events)
    finally:
        lock.close()
