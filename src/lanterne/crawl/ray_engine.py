"""`lanterne crawl --engine ray`: the same crawl, with Ray actors as workers, on one machine or a cluster.

Each actor holds one browser and visits the sites it is given. Results do not funnel whole through one
process: the driver hands each actor one site at a time and writes that site's visits into the store as
soon as they come back, so the driver holds at most one site's records per actor. The store, the claims
and therefore the resume guarantee are the same as with local workers.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lanterne.crawl.pool import CrawlResult, CrawlSettings, lock_store, prepare
from lanterne.crawl.runner import ScanConfig
from lanterne.store.crawls import Claim, CrawlProgress, CrawlState
from lanterne.targets import SiteList


class CrawlActor:
    """A Ray actor (made remote in `_actor_class`): one browser, one site at a time."""

    def __init__(self, config: bytes, recycle_after: int, max_browser_mb: float) -> None:
        self.config: ScanConfig = pickle.loads(config)  # noqa: S301 - our own driver's data
        self.recycle_after = recycle_after
        self.max_browser_mb = max_browser_mb
        self.scanner: Any = None

    async def visit(self, url: str, done: list[str], first: bytes | None, attempts: int) -> bytes:
        from lanterne.capture import Scanner
        from lanterne.crawl.worker import browser_rss_mb, visit_site

        if self.scanner is None:
            self.scanner = Scanner(self.config.options, self.config.browser_path, self.config.extra_args)
            await self.scanner.start()
        first_visit = pickle.loads(first) if first else None  # noqa: S301
        result = await visit_site(self.scanner, url, self.config, done, first_visit, attempts)
        if self.scanner.visits_since_launch >= self.recycle_after or browser_rss_mb(self.scanner) > self.max_browser_mb:
            await self.scanner.restart()
        return pickle.dumps(result)

    async def close(self) -> None:
        if self.scanner is not None:
            await self.scanner.close()
            self.scanner = None


def _actor_class():  # noqa: ANN202
    import ray

    return ray.remote(num_cpus=0.5, max_restarts=0)(CrawlActor)


def run_ray_crawl(
    db_path: Path,
    site_list: SiteList,
    list_path: str,
    config: ScanConfig,
    settings: CrawlSettings,
    address: str | None = None,
    on_progress: Callable[[CrawlProgress], None] | None = None,
    on_event: Callable[[str], None] | None = None,
) -> CrawlResult:
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

    lock = lock_store(db_path)
    try:
        store, crawl_id, resumed = prepare(db_path, site_list, list_path, config, settings.append)
        state = CrawlState(store)
        from dataclasses import replace

        config = replace(config, phases=state.phases(crawl_id))
        started_ray = not ray.is_initialized()
        if started_ray:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                     **({} if address else {"num_cpus": max(2, settings.workers)}))
        events: list[str] = []

        def event(message: str) -> None:
            events.append(message)
            if on_event is not None:
                on_event(message)

        actor_cls = _actor_class()
        blob = pickle.dumps(config)
        actors = {i: actor_cls.remote(blob, settings.recycle_after, settings.max_browser_mb) for i in range(settings.workers)}
        busy: dict[Any, tuple[int, Claim, float]] = {}  # future -> (actor index, claim, started)
        hung_after = config.options.hard_timeout() * max(1, len(config.phases)) + 90
        restarts = 0
        stopped = False

        def dispatch(index: int) -> bool:
            claim = state.claim(crawl_id, f"ray-{index}")
            if claim is None:
                return False
            from lanterne.crawl.worker import first_visit_of

            first = first_visit_of(store, claim.target_id) if "none" in claim.phases_done else None
            future = actors[index].visit.remote(claim.url, claim.phases_done, pickle.dumps(first) if first else None, claim.attempts)
            busy[future] = (index, claim, time.time())
            return True

        def replace_actor(index: int) -> None:
            nonlocal restarts
            restarts += 1
            try:
                ray.kill(actors[index])
            except Exception:  # noqa: BLE001 - it may already be gone
                pass
            actors[index] = actor_cls.remote(blob, settings.recycle_after, settings.max_browser_mb)

        try:
            for index in actors:
                if not dispatch(index):
                    break
            shown_at = 0.0
            while busy:
                # Sites can finish many times a second with many actors; counting them is not free at a
                # million sites, and a display needs no more than one refresh a second.
                if on_progress is not None and time.time() - shown_at >= 1.0:
                    on_progress(state.progress(crawl_id))
                    shown_at = time.time()
                ready, _ = ray.wait(list(busy), num_returns=1, timeout=0.5)
                for future in ready:
                    index, claim, _started = busy.pop(future)
                    try:
                        visits, status, reason = pickle.loads(ray.get(future))  # noqa: S301
                        from lanterne.crawl.worker import save_site

                        save_site(store, state, claim, visits, status, reason)
                    except (RayActorError, RayTaskError) as exc:
                        status = state.release(claim.target_id, f"ray actor failed: {type(exc).__name__}")
                        event(f"actor {index} failed; its site is now {status}")
                        replace_actor(index)
                    dispatch(index)
                now = time.time()
                for future, (index, claim, started) in list(busy.items()):
                    if now - started > hung_after:
                        busy.pop(future)
                        status = state.release(claim.target_id, f"the visit did not finish within {hung_after:.0f} s")
                        event(f"actor {index} hung; replaced; its site is now {status}")
                        replace_actor(index)
                        dispatch(index)
                if not busy:
                    for index in actors:  # sites released for a retry while others finished
                        dispatch(index)
        except KeyboardInterrupt:
            stopped = True
            event("stopping: the visits in flight are finished and saved first")
            deadline = time.time() + hung_after
            while busy and time.time() < deadline:
                ready, _ = ray.wait(list(busy), num_returns=1, timeout=1.0)
                for future in ready:
                    index, claim, _ = busy.pop(future)
                    try:
                        from lanterne.crawl.worker import save_site

                        save_site(store, state, claim, *pickle.loads(ray.get(future)))  # noqa: S301
                    except (RayActorError, RayTaskError, GetTimeoutError):
                        state.release(claim.target_id, "stopped")
        for actor in actors.values():
            try:
                ray.get(actor.close.remote(), timeout=30)
            except Exception:  # noqa: BLE001 - closing is best effort; the actor goes with the job
                pass
            ray.kill(actor)
        if started_ray:
            ray.shutdown()
        progress = state.settle(crawl_id)
        if on_progress is not None:
            on_progress(progress)
        store.close()
        return CrawlResult(crawl_id, resumed, progress, stopped, restarts, events)
    finally:
        lock.close()


__all__ = ["CrawlActor", "run_ray_crawl"]
