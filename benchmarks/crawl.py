"""Crawl throughput benchmark: pages per minute, CPU seconds per page and peak memory per worker, for
1, 2 and 4 local workers and Ray with 2 actors, measured in one run on the same simulated web.

    .venv/bin/python benchmarks/crawl.py                     # 200-site web, 40 sites per configuration
    .venv/bin/python benchmarks/crawl.py --per-config 24 --dwell 2

Each configuration is a real `lanterne crawl` process. CPU is measured three ways: from the kernel with
wait4 when the crawl exits (only what the crawl's processes reaped: it misses Chromium's zygote-forked
renderers and Ray's daemons, so it under-counts), by sampling every process of the crawl's tree every 0.5 s
(the figure to use; also broken down by process kind), and machine-wide minus this process (which serves
the simulated web), a cross-check that also includes any other load. Memory is sampled every 0.5 s per
worker process tree.
Targets (issue 5): 4 workers >= 3x the pages per minute of one; <= 1 CPU-second per page; <= 400 MB per worker.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from lanterne.simweb import SimulatedWeb  # noqa: E402
from lanterne.simweb.sites import bench_mix, bench_sites  # noqa: E402


def tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def memory_mb(procs: list[psutil.Process], kind: str = "rss") -> float:
    """Summed memory of processes. "rss" counts every process's resident pages, shared ones in each;
    "pss" (proportional set size) counts shared pages (libraries, Chromium's zygote) once across them."""
    total = 0
    for p in procs:
        try:
            info = p.memory_info() if kind == "rss" else p.memory_full_info()
            total += getattr(info, kind)
        except psutil.Error:
            pass
    return total / 1024**2


def process_kind(cmdline: list[str]) -> str:
    """Which part of the crawl a process is, for the CPU breakdown."""
    program = Path(cmdline[0]).name if cmdline else ""
    cmd = " ".join(cmdline)
    if "chrom" in program:
        for kind in ("renderer", "gpu-process", "utility", "zygote", "broker"):
            if f"--type={kind}" in cmd:
                return f"chromium {kind}"
        return "chromium browser"
    if program == "node" or program.startswith("node"):
        return "playwright driver"
    if program.startswith("ray::"):
        return "lanterne (python)"  # a Ray worker process: it hosts a crawl actor
    if any(part in cmd for part in ("raylet", "gcs_server", "ray/dashboard", "ray/_private", "ray/autoscaler")):
        return "ray services"
    return "lanterne (python)"


class MemorySampler(threading.Thread):
    """Peak RSS of each worker's process tree (worker + Playwright driver + Chromium), sampled."""

    def __init__(self, pid: int, engine: str) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.engine = engine
        self.peak: dict[int, float] = {}
        self.peak_pss: dict[int, float] = {}
        self.peak_total = 0.0
        # CPU seconds last seen for each process of the crawl's tree, keyed by (pid, start time) so a
        # reused pid is not mistaken for the same process. wait4 alone misses processes the crawl never
        # reaps: Chromium's zygote-forked renderers and Ray's daemons.
        self.cpu_seen: dict[tuple[int, float], float] = {}
        self.kind: dict[tuple[int, float], str] = {}
        self.done = threading.Event()

    def workers(self) -> list[psutil.Process]:
        found = []
        for p in tree(self.root):
            try:
                cmd = " ".join(p.cmdline())
            except psutil.Error:
                continue
            if (self.engine == "local" and "multiprocessing.spawn" in cmd and "resource_tracker" not in cmd) or (
                self.engine == "ray" and "CrawlActor" in (p.name() + cmd)
            ):
                found.append(p)
        return found

    def sample_cpu(self, procs: list[psutil.Process]) -> None:
        for p in procs:
            try:
                with p.oneshot():
                    times = p.cpu_times()
                    key = (p.pid, p.create_time())
                    self.cpu_seen[key] = times.user + times.system
                    if key not in self.kind:
                        self.kind[key] = process_kind(p.cmdline())
            except psutil.Error:
                pass

    @property
    def tree_cpu(self) -> float:
        return sum(self.cpu_seen.values())

    def cpu_by_kind(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for key, seconds in self.cpu_seen.items():
            totals[self.kind[key]] = totals.get(self.kind[key], 0.0) + seconds
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))

    def run(self) -> None:
        while not self.done.wait(0.5):
            procs = tree(self.root)
            self.sample_cpu(procs)
            self.peak_total = max(self.peak_total, memory_mb(procs))
            for worker in self.workers():
                procs = tree(worker)
                self.peak[worker.pid] = max(self.peak.get(worker.pid, 0.0), memory_mb(procs))
                self.peak_pss[worker.pid] = max(self.peak_pss.get(worker.pid, 0.0), memory_mb(procs, "pss"))


def run_config(web: SimulatedWeb, sites: list[str], workers: int, engine: str, dwell: float, folder: Path,
               chromium_args: list[str]) -> dict:
    site_list = folder / f"sites-{engine}-{workers}.txt"
    site_list.write_text("\n".join(sites))
    db = folder / f"crawl-{engine}-{workers}.db"
    args = [sys.executable, "-m", "lanterne", "crawl", str(site_list), "--db", str(db), "--workers", str(workers),
            "--dwell", str(dwell), "--engine", engine]
    for arg in [*web.chromium_args(), *chromium_args]:
        args += ["--chromium-arg", arg]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "COLUMNS": "120"}
    me = psutil.Process()
    system_before = psutil.cpu_times()
    own_before = me.cpu_times()
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    sampler = MemorySampler(proc.pid, engine)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    system_after = psutil.cpu_times()
    own_after = me.cpu_times()
    sampler.done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"crawl failed ({engine}, {workers}): {proc.stderr.read().decode()[-2000:]}")
    import sqlite3

    conn = sqlite3.connect(db)
    pages = conn.execute("SELECT COUNT(*) FROM visits WHERE outcome = 'ok'").fetchone()[0]
    first_start, last_end = conn.execute("SELECT MIN(started_at), MAX(finished_at) FROM visits").fetchone()
    visits = conn.execute("SELECT COUNT(*) FROM visits").fetchone()[0]
    requests = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    conn.close()
    cpu = usage.ru_utime + usage.ru_stime
    # Machine-wide CPU over the run, minus this process (the simulated web): it also sees processes the
    # crawl did not reap itself (Ray's), and any other load on the machine.
    busy = lambda t: t.user + t.system + getattr(t, "nice", 0) + getattr(t, "irq", 0) + getattr(t, "softirq", 0)  # noqa: E731
    system_cpu = busy(system_after) - busy(system_before) - ((own_after.user + own_after.system) - (own_before.user + own_before.system))
    steady = (visits - 1) / max(last_end - first_start, 1e-6) * 60 if visits > 1 else 0.0
    peaks = sorted(sampler.peak.values())
    return {
        "engine": engine,
        "workers": workers,
        "sites": len(sites),
        "visits": visits,
        "ok": pages,
        "requests": requests,
        "wall_s": round(wall, 1),
        "pages_per_min": round(visits / wall * 60, 2),
        "steady_pages_per_min": round(steady, 2),  # from the first visit's start to the last visit's end
        "cpu_s": round(cpu, 1),
        "cpu_s_per_page": round(cpu / max(visits, 1), 3),  # the crawl's process tree, from wait4
        "sampled_cpu_s_per_page": round(max(sampler.tree_cpu, cpu) / max(visits, 1), 3),
        "system_cpu_s_per_page": round(system_cpu / max(visits, 1), 3),
        "sampled_cpu_s_per_page_by_process": {k: round(v / max(visits, 1), 3) for k, v in sampler.cpu_by_kind().items()},
        "peak_rss_mb_per_worker": round(peaks[-1], 0) if peaks else None,
        "peak_pss_mb_per_worker": round(max(sampler.peak_pss.values()), 0) if sampler.peak_pss else None,
        "peak_rss_mb_total": round(sampler.peak_total, 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--web", type=int, default=200, help="sites in the generated simulated web")
    parser.add_argument("--per-config", type=int, default=40, help="sites crawled by each configuration")
    parser.add_argument("--dwell", type=float, default=5.0)
    parser.add_argument("--configs", default="local:1,local:2,local:4,ray:2")
    parser.add_argument("--chromium-arg", action="append", default=[], help="extra Chromium switch, to compare")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    web_sites = bench_sites(args.web)
    mixes = [len(bench_mix(n)) for n in range(1, args.web + 1)]
    print(f"simulated web: {args.web} sites, {sum(mixes) / len(mixes):.1f} third-party services per site on average")
    results = []
    with SimulatedWeb() as web, tempfile.TemporaryDirectory(prefix="lanterne-bench-") as tmp:
        for i, config in enumerate(args.configs.split(",")):
            engine, workers = config.split(":")
            # Each configuration crawls different sites of the same web, so no cache or cookie carries over.
            start = (i * args.per_config) % max(1, args.web - args.per_config)
            sites = web_sites[start : start + args.per_config]
            result = run_config(web, sites, int(workers), engine, args.dwell, Path(tmp), args.chromium_arg)
            results.append(result)
            print(json.dumps(result), flush=True)
    base = next((r for r in results if r["engine"] == "local" and r["workers"] == 1), None)
    print()
    print(f"{'config':<9}{'pages/min':>10}{'speed-up':>9}{'steady/min':>11}{'speed-up':>9}{'CPU s/p':>9}"
          f"{'tree CPU s/p':>13}{'sys CPU s/p':>12}{'RSS MB/w':>9}{'PSS MB/w':>9}{'wall s':>8}")
    for r in results:
        speedup = r["pages_per_min"] / base["pages_per_min"] if base else float("nan")
        steady = r["steady_pages_per_min"] / base["steady_pages_per_min"] if base and base["steady_pages_per_min"] else float("nan")
        print(f"{r['engine'] + ':' + str(r['workers']):<9}{r['pages_per_min']:>10.2f}{speedup:>9.2f}"
              f"{r['steady_pages_per_min']:>11.2f}{steady:>9.2f}{r['cpu_s_per_page']:>9.3f}{r['sampled_cpu_s_per_page']:>13.3f}{r['system_cpu_s_per_page']:>12.3f}"
              f"{(r['peak_rss_mb_per_worker'] or 0):>9.0f}{(r['peak_pss_mb_per_worker'] or 0):>9.0f}{r['wall_s']:>8.1f}")
        r["speedup_vs_1"] = round(speedup, 2)
        r["steady_speedup_vs_1"] = round(steady, 2)
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "results": results}, indent=1))


if __name__ == "__main__":
    main()
