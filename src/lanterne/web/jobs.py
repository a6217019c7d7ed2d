"""Scans started from the web app: a bounded queue, run one at a time by a background thread that owns the
browser, each reporting its progress (steps and findings as they appear) for the page to show."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanterne.crawl.runner import ScanConfig, banner_found, options_for_phase, process_visit
from lanterne.store import Store


class QueueFull(Exception):
    pass


@dataclass
class Job:
    id: str
    kind: str  # "scan" or "har"
    targets: list[str]
    created_at: float = field(default_factory=time.time)
    status: str = "queued"  # queued, running, done, failed
    steps: list[dict[str, Any]] = field(default_factory=list)
    visit_ids: list[int] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    har_path: str | None = None

    def step(self, text: str) -> None:
        self.steps.append({"at": time.time(), "text": text})

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "targets": self.targets, "status": self.status, "steps": self.steps[-50:],
                "visit_ids": self.visit_ids, "findings": self.findings[-100:], "error": self.error,
                "report": f"/visits/{self.visit_ids[0]}/report" if self.visit_ids and self.status == "done" else None}


class JobQueue:
    def __init__(self, db_path: Path, config: ScanConfig, limit: int = 4) -> None:
        self.db_path = db_path
        self.config = config
        self.limit = limit
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lanterne-web-scans", daemon=True)
        self._thread.start()

    def submit(self, kind: str, targets: list[str], har_path: str | None = None) -> Job:
        with self._lock:
            active = sum(1 for j in self.jobs.values() if j.status in ("queued", "running"))
            if active >= self.limit:
                raise QueueFull(f"{active} scans are already queued or running; try again in a minute")
            job = Job(uuid.uuid4().hex[:12], kind, targets, har_path=har_path)
            job.step("queued")
            self.jobs[job.id] = job
            self._pending.append(job.id)
            while len(self.jobs) > 500:  # forget the oldest finished jobs
                oldest = next(iter(self.jobs))
                if self.jobs[oldest].status in ("queued", "running"):
                    break
                self.jobs.pop(oldest)
        self._wake.set()
        return job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(30)

    # -- the worker thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        from lanterne.capture import Scanner

        scanner: Scanner | None = None
        store = Store(self.db_path)
        try:
            while not self._stop.is_set():
                with self._lock:
                    job_id = self._pending.pop(0) if self._pending else None
                if job_id is None:
                    self._wake.clear()
                    await asyncio.get_running_loop().run_in_executor(None, self._wake.wait, 1.0)
                    continue
                job = self.jobs[job_id]
                job.status = "running"
                try:
                    if job.kind == "har":
                        self._analyze_har(job, store)
                    else:
                        if scanner is None:
                            job.step("starting the browser")
                            scanner = Scanner(self.config.options, self.config.browser_path, self.config.extra_args)
                            await scanner.start()
                        await self._scan(job, scanner, store)
                    job.status = "done"
                    job.step("done")
                except Exception as exc:  # noqa: BLE001 - shown to the user, the app stays up
                    job.status = "failed"
                    job.error = f"{type(exc).__name__}: {exc}"[:300]
                    job.step("failed")
        finally:
            if scanner is not None:
                await scanner.close()
            store.close()

    async def _scan(self, job: Job, scanner: Any, store: Store) -> None:
        for url in job.targets:
            first = None
            for phase in self.config.phases:
                if phase != "none" and first is not None and not banner_found(first):
                    continue
                label = {"none": "loading the page", "refuse": "refusing cookies", "accept": "accepting cookies"}[phase]
                job.step(f"{url}: {label}")
                visit = await scanner.visit(url, options_for_phase(self.config, phase), phase=phase)
                if phase == "none":
                    first = visit
                job.step(f"{url}: {visit.outcome.value}, {len(visit.requests)} requests; looking for findings")
                process_visit(visit)
                job.visit_ids.append(store.save_visit(visit))
                self._publish(job, visit)

    def _analyze_har(self, job: Job, store: Store) -> None:
        from lanterne.capture.har import read_har

        job.step("reading the HAR file")
        imported = read_har(job.har_path or "")
        for warning in imported.warnings[:10]:
            job.step(f"warning: {warning}")
        visit = imported.visit
        job.targets = [visit.target]
        job.step(f"{imported.entries_used} requests; looking for findings")
        process_visit(visit)
        job.visit_ids.append(store.save_visit(visit))
        self._publish(job, visit)
        Path(job.har_path or "").unlink(missing_ok=True)

    @staticmethod
    def _publish(job: Job, visit: Any) -> None:
        for f in visit.findings:
            if f.kind == "consent_banner":
                continue
            job.findings.append({"phase": visit.phase, "company": f.company or f.domain, "kind": f.kind,
                                 "data_type": f.data_type, "summary": f.summary[:300]})
