"""Post counts per platform, hashtag and window, with their provenance, from CSV or a collector."""

from __future__ import annotations

import csv
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from lanterne.store import Store
from lanterne.topics.study import Study, StudyError, normalise_hashtag

COLUMNS = ("platform", "hashtag", "window_start", "window_end", "count", "source", "collected_at")


@dataclass(frozen=True)
class Count:
    platform: str
    hashtag: str
    window_start: dt.date
    window_end: dt.date
    count: int
    source: str
    collected_at: str
    line: int = 0


class CountsError(StudyError):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(errors[0] + more)


def read_counts(path: str | Path, study: Study) -> list[Count]:
    """Counts from a CSV with the columns platform, hashtag, window_start, window_end, count, source,
    collected_at; every line is checked against the study, and every bad one named."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CountsError([f"{path}: no such file"]) from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CountsError([f"{path}:1: missing column(s): {', '.join(missing)} (expected {', '.join(COLUMNS)})"])
    counts: list[Count] = []
    errors: list[str] = []
    seen: dict[tuple[str, str, dt.date, dt.date, str], int] = {}
    for line, row in enumerate(reader, start=2):
        where = f"{path}:{line}"
        platform = (row["platform"] or "").strip().lower()
        if platform not in study.platforms:
            errors.append(f"{where}: platform '{platform}' is not one of the study's ({', '.join(study.platforms)})")
            continue
        hashtag = normalise_hashtag(row["hashtag"] or "")
        if study.topic_of(hashtag) is None:
            errors.append(f"{where}: hashtag '{hashtag}' is in no topic of the study")
            continue
        try:
            start = dt.date.fromisoformat((row["window_start"] or "").strip())
            end = dt.date.fromisoformat((row["window_end"] or "").strip())
        except ValueError:
            errors.append(f"{where}: window dates must be YYYY-MM-DD")
            continue
        if study.window(start, end) is None:
            errors.append(f"{where}: window {start}..{end} is not one of the study's windows")
            continue
        try:
            value = int((row["count"] or "").strip())
        except ValueError:
            errors.append(f"{where}: count '{row['count']}' is not a whole number")
            continue
        if value < 0:
            errors.append(f"{where}: count {value} is negative")
            continue
        source = (row["source"] or "").strip()
        if not source:
            errors.append(f"{where}: every count needs its source (where it was read, how)")
            continue
        key = (platform, hashtag, start, end, source)
        if key in seen:
            errors.append(f"{where}: the same count was already given at line {seen[key]}")
            continue
        seen[key] = line
        counts.append(Count(platform, hashtag, start, end, value, source, (row["collected_at"] or "").strip(), line))
    if errors:
        raise CountsError(errors)
    return counts


def store_counts(store: Store, study: Study, counts: list[Count]) -> int:
    now = time.time()
    with store.transaction() as conn:
        conn.executemany(
            """INSERT INTO topic_counts(study, platform, hashtag, window_start, window_end, count, source, collected_at, imported_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(study, platform, hashtag, window_start, window_end, source)
               DO UPDATE SET count = excluded.count, collected_at = excluded.collected_at, imported_at = excluded.imported_at""",
            [(study.name, c.platform, c.hashtag, c.window_start.isoformat(), c.window_end.isoformat(), c.count, c.source,
              c.collected_at, now) for c in counts],
        )
    return len(counts)


def load_counts(store: Store, study: Study) -> list[Count]:
    rows = store.conn.execute(
        "SELECT platform, hashtag, window_start, window_end, count, source, collected_at FROM topic_counts WHERE study = ?",
        (study.name,),
    ).fetchall()
    return [Count(r[0], r[1], dt.date.fromisoformat(r[2]), dt.date.fromisoformat(r[3]), int(r[4]), r[5], r[6] or "") for r in rows]


def write_counts(path: str | Path, counts: list[Count]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for c in counts:
            writer.writerow([c.platform, c.hashtag, c.window_start.isoformat(), c.window_end.isoformat(), c.count, c.source, c.collected_at])
