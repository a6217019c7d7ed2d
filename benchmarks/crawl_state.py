"""How long the crawl's bookkeeping takes on a very large crawl: `CrawlState.progress` (the counts and the
recent rate shown by the progress bar and `lanterne status`, read by the coordinator every poll), on a store
holding one crawl of N sites, 90% finished.

    .venv/bin/python benchmarks/crawl_state.py               # 1,000,000 sites
    .venv/bin/python benchmarks/crawl_state.py --sites 100000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from lanterne.store import Store  # noqa: E402
from lanterne.store.crawls import CrawlState  # noqa: E402


def timed_ms(fn, repeat: int = 5) -> float:  # noqa: ANN001
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lanterne-bench-") as tmp:
        store = Store(Path(tmp) / "crawl.db")
        now = time.time()
        finished = int(args.sites * 0.9)
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO crawls (id, fingerprint, list_path, created_at, total, phases, options) "
                "VALUES (1, 'bench', 'bench.txt', ?, ?, '[]', '{}')",
                (now - 86400, args.sites),
            )
            # Finished sites spread over the last day, so the last ten minutes hold a realistic few.
            conn.executemany(
                "INSERT INTO crawl_targets (crawl_id, position, url, status, finished_at) VALUES (1, ?, ?, ?, ?)",
                ((i, f"https://site-{i}.example/", "done" if i < finished else "pending",
                  now - 86400 + 86400 * i / finished if i < finished else None) for i in range(args.sites)),
            )
        state = CrawlState(store)
        progress = state.progress(1)
        print(f"{args.sites} sites, {progress.done} done, {progress.pending} pending, "
              f"rate {progress.rate_per_minute:.1f}/min over the last 10 minutes")
        print(f"progress(): {timed_ms(lambda: state.progress(1)):.1f} ms (median of 5)")


if __name__ == "__main__":
    main()
