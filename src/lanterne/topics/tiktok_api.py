"""Counting posts with TikTok's Research API, resumably.

Counts come from paging through `POST /v2/research/video/query/` for each hashtag and study window (split
into spans of at most 30 days, the API's limit). Every video id received is stored, keyed by hashtag and
window, so a count is the number of distinct ids: a page fetched twice (after a retry) cannot be counted
twice, and the paging state (cursor, search_id) is saved after each page, so an interruption loses nothing.
A 429 or a 500 costs a retry after a pause that grows; an expired search_id restarts that window's paging
(ids already stored stay, and are not counted again); an invalid token is renewed; an exhausted daily quota
stops the collection cleanly, to be resumed with the same command. Credentials come from the environment
(TIKTOK_CLIENT_KEY, TIKTOK_CLIENT_SECRET) or a file, and are never written to any output.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from lanterne.store import Store
from lanterne.topics.counts import Count, store_counts
from lanterne.topics.study import Study, Window

API_BASE = "https://open.tiktokapis.com"
MAX_SPAN_DAYS = 30
PAGE_SIZE = 100
SOURCE = "TikTok Research API (POST /v2/research/video/query/, distinct video ids)"


class CollectorError(Exception):
    """Stops the collection with a one-line reason (never containing the credentials)."""


class QuotaExhausted(CollectorError):
    pass


@dataclass(frozen=True)
class Credentials:
    client_key: str
    client_secret: str

    def __repr__(self) -> str:  # never show the secret, even in a traceback
        return f"Credentials(client_key='{self.client_key[:4]}…', client_secret='***')"


def load_credentials(path: str | Path | None = None) -> Credentials:
    if path is not None:
        try:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise CollectorError(f"{path}: cannot read the credentials file ({type(exc).__name__})") from None
        key, secret = doc.get("client_key"), doc.get("client_secret")
        if not key or not secret:
            raise CollectorError(f"{path}: needs client_key and client_secret")
        return Credentials(str(key), str(secret))
    key, secret = os.environ.get("TIKTOK_CLIENT_KEY"), os.environ.get("TIKTOK_CLIENT_SECRET")
    if not key or not secret:
        raise CollectorError("no TikTok Research API credentials: set TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET, or give --credentials FILE")
    return Credentials(key, secret)


def spans(window: Window) -> list[tuple[dt.date, dt.date]]:
    """A window cut into spans the API accepts (end at most 30 days after start)."""
    out = []
    start = window.start
    while start <= window.end:
        end = min(window.end, start + dt.timedelta(days=MAX_SPAN_DAYS))
        out.append((start, end))
        start = end + dt.timedelta(days=1)
    return out


class ResearchApiCollector:
    def __init__(
        self,
        store: Store,
        study: Study,
        credentials: Credentials,
        base_url: str = API_BASE,
        max_retries: int = 6,
        backoff: float = 2.0,
        daily_quota: int = 1000,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 60.0,
    ) -> None:
        self.store = store
        self.study = study
        self.credentials = credentials
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.max_retries = max_retries
        self.backoff = backoff
        self.daily_quota = daily_quota
        self.sleep = sleep
        self._token: str | None = None
        self.events: list[str] = []

    # -- plumbing ---------------------------------------------------------------------------------------
    def _authenticate(self) -> str:
        resp = self.http.post(
            "/v2/oauth/token/",
            data={"client_key": self.credentials.client_key, "client_secret": self.credentials.client_secret,
                  "grant_type": "client_credentials"},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if resp.status_code != 200:
            raise CollectorError(f"the TikTok Research API refused the credentials (HTTP {resp.status_code})")
        token = resp.json().get("access_token")
        if not token:
            raise CollectorError("the TikTok Research API gave no access token")
        self._token = str(token)
        return self._token

    def _spend(self) -> None:
        """Count a request against today's quota, refusing to go past it."""
        today = dt.date.today().isoformat()
        with self.store.transaction() as conn:
            row = conn.execute("SELECT count FROM api_requests WHERE day = ?", (today,)).fetchone()
            used = int(row[0]) if row else 0
            if used >= self.daily_quota:
                raise QuotaExhausted(f"the daily quota of {self.daily_quota} requests is used up; run the same command tomorrow to continue")
            conn.execute(
                "INSERT INTO api_requests(day, count) VALUES (?, 1) ON CONFLICT(day) DO UPDATE SET count = count + 1", (today,)
            )

    def _query(self, body: dict[str, Any]) -> dict[str, Any]:
        """One query call, with retries; returns the `data` object, or raises."""
        delay = self.backoff
        for attempt in range(1, self.max_retries + 1):
            token = self._token or self._authenticate()
            self._spend()
            try:
                resp = self.http.post(
                    "/v2/research/video/query/",
                    params={"fields": "id,create_time,region_code,hashtag_names"},
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.TransportError as exc:
                self.events.append(f"network error ({type(exc).__name__}); retry {attempt}")
                self.sleep(delay)
                delay *= 2
                continue
            try:
                payload = resp.json()
            except json.JSONDecodeError:
                payload = {}
            error = (payload.get("error") or {}) if isinstance(payload, dict) else {}
            code = str(error.get("code", "ok" if resp.status_code == 200 else resp.status_code))
            if resp.status_code == 200 and code == "ok":
                return payload.get("data") or {}
            if code == "daily_quota_limit_exceeded":
                raise QuotaExhausted("TikTok reports the daily quota used up; run the same command tomorrow to continue")
            if resp.status_code == 401 or code == "access_token_invalid":
                self._token = None
                self.events.append("access token renewed")
                continue
            if resp.status_code == 429 or code == "rate_limit_exceeded":
                wait = float(resp.headers.get("Retry-After") or delay)
                self.events.append(f"rate limited; waiting {wait:g} s (retry {attempt})")
                self.sleep(wait)
                delay *= 2
                continue
            if resp.status_code >= 500:
                self.events.append(f"server error {resp.status_code}; waiting {delay:g} s (retry {attempt})")
                self.sleep(delay)
                delay *= 2
                continue
            if resp.status_code == 400 and "search" in str(error.get("message", "")).lower():
                raise _SearchExpired(str(error.get("message")))
            raise CollectorError(f"the TikTok Research API answered HTTP {resp.status_code}: {code}: {str(error.get('message', ''))[:200]}")
        raise CollectorError(f"the TikTok Research API kept failing after {self.max_retries} tries")

    # -- counting ---------------------------------------------------------------------------------------
    def count_span(self, hashtag: str, start: dt.date, end: dt.date) -> int:
        key = (self.study.name, hashtag, start.isoformat(), end.isoformat())
        conn = self.store.conn
        row = conn.execute(
            "SELECT search_id, cursor, finished FROM api_progress WHERE study = ? AND hashtag = ? AND window_start = ? AND window_end = ?",
            key,
        ).fetchone()
        search_id, cursor, finished = (row[0], int(row[1]), bool(row[2])) if row else (None, 0, False)
        while not finished:
            body: dict[str, Any] = {
                "query": {"and": [{"operation": "IN", "field_name": "hashtag_name", "field_values": [hashtag]}]},
                "start_date": start.strftime("%Y%m%d"),
                "end_date": end.strftime("%Y%m%d"),
                "max_count": PAGE_SIZE,
                "cursor": cursor,
            }
            if self.study.regions:
                body["query"]["and"].append({"operation": "IN", "field_name": "region_code", "field_values": self.study.regions})
            if search_id:
                body["search_id"] = search_id
            try:
                data = self._query(body)
            except _SearchExpired:
                # Paging must start again; the ids stored so far stay and cannot be counted twice.
                self.events.append(f"search id expired for #{hashtag} {start}..{end}; paging restarted")
                search_id, cursor = None, 0
                with self.store.transaction() as tx:
                    tx.execute(
                        """INSERT INTO api_progress(study, hashtag, window_start, window_end, search_id, cursor, restarts, updated_at)
                           VALUES (?, ?, ?, ?, NULL, 0, 1, ?)
                           ON CONFLICT DO UPDATE SET search_id = NULL, cursor = 0, restarts = restarts + 1, updated_at = excluded.updated_at""",
                        (*key, time.time()),
                    )
                continue
            videos = data.get("videos") or []
            cursor = int(data.get("cursor") or cursor + len(videos))
            search_id = data.get("search_id") or search_id
            finished = not data.get("has_more")
            with self.store.transaction() as tx:
                tx.executemany(
                    "INSERT OR IGNORE INTO api_videos(study, hashtag, window_start, window_end, video_id, create_time, region_code) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(*key, str(v.get("id")), v.get("create_time"), v.get("region_code")) for v in videos if v.get("id") is not None],
                )
                tx.execute(
                    """INSERT INTO api_progress(study, hashtag, window_start, window_end, search_id, cursor, pages, finished, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
                       ON CONFLICT DO UPDATE SET search_id = excluded.search_id, cursor = excluded.cursor,
                           pages = pages + 1, finished = excluded.finished, updated_at = excluded.updated_at""",
                    (*key, search_id, cursor, int(finished), time.time()),
                )
        return int(conn.execute(
            "SELECT COUNT(*) FROM api_videos WHERE study = ? AND hashtag = ? AND window_start = ? AND window_end = ?", key
        ).fetchone()[0])

    def collect(self, platform: str = "tiktok", on_count: Callable[[str, Window, int], None] | None = None) -> list[Count]:
        """Count every hashtag of the study in every window; store the counts with their provenance."""
        counts: list[Count] = []
        collected_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        for topic in self.study.topics:
            for hashtag in topic.all_hashtags:
                for window in self.study.windows:
                    total = sum(self.count_span(hashtag, start, end) for start, end in spans(window))
                    count = Count(platform, hashtag, window.start, window.end, total, SOURCE, collected_at)
                    store_counts(self.store, self.study, [count])
                    counts.append(count)
                    if on_count is not None:
                        on_count(hashtag, window, total)
        return counts


class _SearchExpired(Exception):
    pass
