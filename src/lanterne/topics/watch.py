"""The removal watch: a corpus of TikTok posts and accounts, checked again and again.

Each check loads the public page in Chromium and reads the state TikTok embeds for the browser
(`__UNIVERSAL_DATA_FOR_REHYDRATION__`): in `webapp.video-detail` (posts) or `webapp.user-detail`
(accounts), `statusCode` 0 means available, 10216 a private post, 10222 a private account, 10204 blocked for
the network the check came from. Any other code is kept as it is and reported as unknown, never guessed;
a page without that state is also unknown. Every check records its time, raw code and vantage point.

Survival per topic (Kaplan-Meier, lifelines) measures how fast items stop being publicly available; a
log-rank test compares sensitive topics with the others.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanterne.store import Store
from lanterne.targets import TargetError, parse_target

STATES = {0: "available", 10216: "private_post", 10222: "private_account", 10204: "blocked"}
GONE = ("private_post", "private_account", "blocked")  # no longer publicly available
_STATE_SCRIPT = re.compile(
    r'<script[^>]*id="__UNIVERSAL_DATA_FOR_REHYDRATION__"[^>]*>(.*?)</script>', re.DOTALL | re.IGNORECASE
)


class CorpusError(ValueError):
    pass


@dataclass
class Item:
    url: str
    kind: str  # "post" or "account"
    topic: str
    line: int = 0


@dataclass
class Check:
    url: str
    state: str
    status_code: int | None
    http_status: int | None
    note: str = ""


def item_kind(url: str) -> str | None:
    path = url.split("://", 1)[-1].split("/", 1)[-1] if "/" in url.split("://", 1)[-1] else ""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if len(parts) >= 3 and parts[0].startswith("@") and parts[1] == "video":
        return "post"
    if len(parts) == 1 and parts[0].startswith("@"):
        return "account"
    return None


def read_corpus(path: str | Path) -> list[Item]:
    """A CSV with columns url and topic (and optionally kind); every bad line is named."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "url" not in reader.fieldnames or "topic" not in reader.fieldnames:
        raise CorpusError(f"{path}:1: the corpus needs the columns url and topic")
    items, errors, seen = [], [], set()
    for line, row in enumerate(reader, start=2):
        raw = (row.get("url") or "").strip()
        if not raw or raw.startswith("#"):
            continue
        try:
            url = parse_target(raw)
        except TargetError as exc:
            errors.append(f"{path}:{line}: {exc}")
            continue
        kind = (row.get("kind") or "").strip() or item_kind(url)
        if kind not in ("post", "account"):
            errors.append(f"{path}:{line}: {raw!r} is neither a post (/@user/video/ID) nor an account (/@user) address")
            continue
        topic = (row.get("topic") or "").strip()
        if not topic:
            errors.append(f"{path}:{line}: no topic")
            continue
        if url in seen:
            continue
        seen.add(url)
        items.append(Item(url, kind, topic, line))
    if errors:
        raise CorpusError(errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
    if not items:
        raise CorpusError(f"{path}: no item in the corpus")
    return items


def classify_page(html: str, kind: str, http_status: int | None) -> Check:
    """The state a page's embedded data gives (the URL is filled in by the caller)."""
    match = _STATE_SCRIPT.search(html or "")
    if not match:
        return Check("", "unknown", None, http_status, "no embedded state in the page")
    try:
        data = json.loads(match.group(1))
    except json.JSONDecodeError:
        return Check("", "unknown", None, http_status, "embedded state is not valid JSON")
    scope = data.get("__DEFAULT_SCOPE__", {}) if isinstance(data, dict) else {}
    key = "webapp.video-detail" if kind == "post" else "webapp.user-detail"
    detail = scope.get(key) if isinstance(scope, dict) else None
    if not isinstance(detail, dict) or "statusCode" not in detail:
        return Check("", "unknown", None, http_status, f"no {key} status in the embedded state")
    try:
        code = int(detail["statusCode"])
    except (TypeError, ValueError):
        return Check("", "unknown", None, http_status, f"statusCode {detail['statusCode']!r} is not a number")
    return Check("", STATES.get(code, "unknown"), code, http_status, "" if code in STATES else f"unrecognised statusCode {code}")


def add_items(store: Store, items: Sequence[Item]) -> None:
    now = time.time()
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO watch_items(url, kind, topic, added_at) VALUES (?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET topic = excluded.topic",
            [(i.url, i.kind, i.topic, now) for i in items],
        )


async def fetch_pages(urls: Sequence[str], extra_args: Sequence[str] = (), browser_path: str | None = None,
                      timeout: float = 30.0) -> list[tuple[str, int | None, str]]:
    """Load each page in Chromium (one context) and return (url, HTTP status, HTML)."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    from lanterne.capture.browser import BASE_ARGS, find_browser

    results = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=find_browser(browser_path), args=BASE_ARGS + list(extra_args))
        context = await browser.new_context(locale="en-US")
        page = await context.new_page()
        for url in urls:
            try:
                response = await page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
                html = await page.content()
                results.append((url, response.status if response else None, html))
            except PlaywrightError as exc:
                results.append((url, None, f"<!-- {str(exc).splitlines()[0][:200]} -->"))
        await browser.close()
    return results


def check_all(store: Store, vantage: str, extra_args: Sequence[str] = (), browser_path: str | None = None,
              on_check: Callable[[Check], None] | None = None) -> list[Check]:
    items = store.conn.execute("SELECT id, url, kind FROM watch_items ORDER BY id").fetchall()
    pages = asyncio.run(fetch_pages([r["url"] for r in items], extra_args, browser_path))
    checks = []
    now = time.time()
    with store.transaction() as conn:
        for row, (url, status, html) in zip(items, pages):
            check = classify_page(html, row["kind"], status)
            check.url = url
            if status is None and check.state == "unknown":
                check.note = (html.strip("<!-> ") or check.note)[:300]
            conn.execute(
                "INSERT INTO watch_checks(item_id, checked_at, vantage, http_status, status_code, state, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row["id"], now, vantage, status, check.status_code, check.state, check.note),
            )
            checks.append(check)
            if on_check is not None:
                on_check(check)
    return checks


# -- survival ----------------------------------------------------------------------------------------------


@dataclass
class Survival:
    topic: str
    items: int
    events: int
    timeline: list[tuple[float, float]]  # (days, share still available)
    censored: int
    unknown: int
    unavailable_at_start: int


def survival_data(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per item: days watched until it stopped being available (event) or until its last check (censored)."""
    rows = store.conn.execute(
        "SELECT i.id, i.url, i.topic, c.checked_at, c.state, c.status_code, c.vantage FROM watch_items i "
        "JOIN watch_checks c ON c.item_id = i.id ORDER BY i.id, c.checked_at"
    ).fetchall()
    by_item: dict[int, list[Any]] = {}
    for row in rows:
        by_item.setdefault(row["id"], []).append(row)
    data, timelines = [], []
    for checks in by_item.values():
        first = checks[0]
        timelines.append({"url": first["url"], "topic": first["topic"],
                          "checks": [(c["checked_at"], c["state"], c["status_code"], c["vantage"]) for c in checks]})
        known = [c for c in checks if c["state"] != "unknown"]
        if not known:
            data.append({"topic": first["topic"], "status": "unknown"})
            continue
        if known[0]["state"] != "available":
            data.append({"topic": first["topic"], "status": "unavailable_at_start"})
            continue
        start = known[0]["checked_at"]
        gone = next((c for c in known if c["state"] in GONE), None)
        if gone is not None:
            data.append({"topic": first["topic"], "status": "event", "days": (gone["checked_at"] - start) / 86400})
        else:
            data.append({"topic": first["topic"], "status": "censored", "days": (known[-1]["checked_at"] - start) / 86400})
    return data, timelines


def survival_by_topic(store: Store, sensitive: set[str] | None = None) -> tuple[list[Survival], dict[str, Any] | None]:
    """Kaplan-Meier curves per topic, and a log-rank test of `sensitive` topics against the others."""
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test

    data, _ = survival_data(store)
    results = []
    for topic in sorted({d["topic"] for d in data}):
        rows = [d for d in data if d["topic"] == topic]
        usable = [d for d in rows if d["status"] in ("event", "censored")]
        timeline: list[tuple[float, float]] = []
        if usable:
            kmf = KaplanMeierFitter()
            kmf.fit([d["days"] for d in usable], event_observed=[d["status"] == "event" for d in usable])
            timeline = [(float(t), float(s)) for t, s in kmf.survival_function_.iloc[:, 0].items()]
        results.append(Survival(topic, len(rows), sum(d["status"] == "event" for d in rows), timeline,
                                sum(d["status"] == "censored" for d in rows), sum(d["status"] == "unknown" for d in rows),
                                sum(d["status"] == "unavailable_at_start" for d in rows)))
    test = None
    if sensitive:
        a = [d for d in data if d["status"] in ("event", "censored") and d["topic"] in sensitive]
        b = [d for d in data if d["status"] in ("event", "censored") and d["topic"] not in sensitive]
        if a and b:
            outcome = logrank_test([d["days"] for d in a], [d["days"] for d in b],
                                   event_observed_A=[d["status"] == "event" for d in a],
                                   event_observed_B=[d["status"] == "event" for d in b])
            test = {"statistic": float(outcome.test_statistic), "p_value": float(outcome.p_value),
                    "sensitive_items": len(a), "other_items": len(b)}
    return results, test
