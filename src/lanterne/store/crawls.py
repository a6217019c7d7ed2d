"""Crawl state in the store: which list is being crawled and where each of its sites stands.

A site is `pending`, `running` (claimed by a worker), `done` (its visits are saved) or `failed` (it could
not be visited even after a retry; the reason is kept). A site's last visit and its `done` mark are written
in one transaction, so whatever instant the crawl is killed at, a site is either finished or will be
visited again, never both.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from lanterne.store.db import Store, StoreError


@dataclass
class Claim:
    target_id: int
    url: str
    attempts: int
    phases_done: list[str]


@dataclass
class CrawlProgress:
    crawl_id: int
    total: int
    done: int
    failed: int
    running: int
    pending: int
    started_at: float
    finished_at: float | None
    rate_per_minute: float  # sites finished per minute over the last ten minutes

    @property
    def remaining(self) -> int:
        return self.pending + self.running


class CrawlState:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn

    # -- starting ---------------------------------------------------------------------------------------
    def start_or_resume(
        self,
        fingerprint: str,
        list_path: str,
        urls: list[str],
        phases: tuple[str, ...],
        options: dict[str, Any],
        append: bool = False,
    ) -> tuple[int, bool]:
        """The crawl of this list in this store: resumed if it is there, created otherwise. Returns
        (crawl id, resumed). A store holding a crawl of another list is refused unless `append`."""
        rows = self.conn.execute("SELECT id, fingerprint, list_path FROM crawls ORDER BY id").fetchall()
        for row in rows:
            if row["fingerprint"] == fingerprint:
                with self.store.transaction() as conn:
                    # Nothing else can be crawling (the caller holds the store's crawl lock): a site left
                    # "running" was being visited when the crawl stopped, and is visited again.
                    conn.execute(
                        "UPDATE crawl_targets SET status = 'pending', worker = NULL WHERE crawl_id = ? AND status = 'running'",
                        (row["id"],),
                    )
                    conn.execute("UPDATE crawls SET finished_at = NULL WHERE id = ?", (row["id"],))
                return int(row["id"]), True
        if rows and not append:
            other = rows[-1]
            raise StoreError(
                f"{self.store.path} holds a crawl of another list ({other['list_path']}); "
                "use --append to add this list's crawl to it, or choose another --db"
            )
        with self.store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO crawls(fingerprint, list_path, created_at, phases, options, total) VALUES (?, ?, ?, ?, ?, ?)",
                (fingerprint, list_path, time.time(), json.dumps(list(phases)), json.dumps(options, default=str), len(urls)),
            )
            crawl_id = int(cur.lastrowid)
            conn.executemany(
                "INSERT INTO crawl_targets(crawl_id, position, url) VALUES (?, ?, ?)",
                [(crawl_id, i, url) for i, url in enumerate(urls)],
            )
        return crawl_id, False

    def latest_crawl(self) -> int | None:
        row = self.conn.execute("SELECT MAX(id) FROM crawls").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def phases(self, crawl_id: int) -> tuple[str, ...]:
        row = self.conn.execute("SELECT phases FROM crawls WHERE id = ?", (crawl_id,)).fetchone()
        return tuple(json.loads(row[0]))

    # -- workers ----------------------------------------------------------------------------------------
    def claim(self, crawl_id: int, worker: str) -> Claim | None:
        """Take the next pending site, atomically (several workers share the store)."""
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT id, url, attempts FROM crawl_targets WHERE crawl_id = ? AND status = 'pending' "
                "ORDER BY position LIMIT 1",
                (crawl_id,),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE crawl_targets SET status = 'running', attempts = attempts + 1, worker = ?, started_at = ? WHERE id = ?",
                (worker, time.time(), row["id"]),
            )
            done = [r[0] for r in conn.execute("SELECT phase FROM visits WHERE crawl_target_id = ?", (row["id"],))]
        return Claim(int(row["id"]), row["url"], int(row["attempts"]) + 1, done)

    def mark(self, conn: sqlite3.Connection, target_id: int, status: str, reason: str | None = None) -> None:
        """Inside a transaction (the one saving the site's last visit): the site is finished."""
        conn.execute(
            "UPDATE crawl_targets SET status = ?, reason = ?, finished_at = ?, worker = NULL WHERE id = ?",
            (status, reason, time.time(), target_id),
        )

    def finish(self, target_id: int, status: str, reason: str | None = None) -> None:
        with self.store.transaction() as conn:
            self.mark(conn, target_id, status, reason)

    def release(self, target_id: int, reason: str, max_attempts: int = 2) -> str:
        """A visit that failed for a reason that is not the site's (its browser crashed, its worker hung):
        visit it again, once; after that, record it as failed. Returns the new status."""
        with self.store.transaction() as conn:
            row = conn.execute("SELECT attempts FROM crawl_targets WHERE id = ?", (target_id,)).fetchone()
            if row is not None and row["attempts"] < max_attempts:
                conn.execute(
                    "UPDATE crawl_targets SET status = 'pending', worker = NULL, reason = ? WHERE id = ?",
                    (reason, target_id),
                )
                return "pending"
            self.mark(conn, target_id, "failed", reason)
            return "failed"

    def running_of(self, crawl_id: int, worker: str) -> list[tuple[int, float]]:
        return [
            (int(r["id"]), float(r["started_at"] or 0))
            for r in self.conn.execute(
                "SELECT id, started_at FROM crawl_targets WHERE crawl_id = ? AND status = 'running' AND worker = ?",
                (crawl_id, worker),
            )
        ]

    def close_crawl(self, crawl_id: int) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE crawls SET finished_at = ? WHERE id = ?", (time.time(), crawl_id))

    def settle(self, crawl_id: int) -> CrawlProgress:
        """Where the crawl stands when its engine stops; a crawl with nothing left is marked finished."""
        progress = self.progress(crawl_id)
        if progress.pending == 0 and progress.running == 0 and progress.finished_at is None:
            self.close_crawl(crawl_id)
            progress = self.progress(crawl_id)
        return progress

    # -- reading ----------------------------------------------------------------------------------------
    def progress(self, crawl_id: int) -> CrawlProgress:
        counts = {r[0]: r[1] for r in self.conn.execute(
            "SELECT status, COUNT(*) FROM crawl_targets WHERE crawl_id = ? GROUP BY status", (crawl_id,)
        )}
        crawl = self.conn.execute("SELECT created_at, finished_at, total FROM crawls WHERE id = ?", (crawl_id,)).fetchone()
        window = 600.0
        now = time.time()
        recent = self.conn.execute(
            "SELECT COUNT(*), MIN(finished_at) FROM crawl_targets WHERE crawl_id = ? AND status IN ('done', 'failed') "
            "AND finished_at >= ?",
            (crawl_id, now - window),
        ).fetchone()
        rate = 0.0
        if recent[0]:
            span = max(now - float(recent[1]), 1.0) if recent[0] > 1 else max(now - crawl["created_at"], 1.0)
            rate = recent[0] / span * 60
        return CrawlProgress(
            crawl_id=crawl_id,
            total=int(crawl["total"]),
            done=counts.get("done", 0),
            failed=counts.get("failed", 0),
            running=counts.get("running", 0),
            pending=counts.get("pending", 0),
            started_at=float(crawl["created_at"]),
            finished_at=crawl["finished_at"],
            rate_per_minute=rate,
        )

    def failures(self, crawl_id: int, limit: int = 20) -> list[sqlite3.Row]:
        return list(self.conn.execute(
            "SELECT url, reason FROM crawl_targets WHERE crawl_id = ? AND status = 'failed' ORDER BY position LIMIT ?",
            (crawl_id, limit),
        ))
