"""Crawls: site lists, the reliability check (hostile sites, SIGKILL twice, resume), Ctrl-C and SIGTERM, refusal of a
database holding another crawl, status while running, and the Ray engine on a real local cluster."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from lanterne.simweb import SimulatedWeb
from lanterne.simweb.sites import bench_sites
from lanterne.targets import SiteListError, read_site_list

HOSTILE = {
    "https://hang.example/": "timeout",
    "https://loop.example/": "redirect_loop",
    "https://huge.example/": "ok",
    "https://crash.example/": "renderer_crash",
    "https://dialog-storm.example/": "dialog_storm",
}


def crawl_args(web: SimulatedWeb, site_list: Path, db: Path, *extra: str) -> list[str]:
    args = [sys.executable, "-m", "lanterne", "crawl", str(site_list), "--db", str(db), "--workers", "2",
            "--dwell", "0.3", "--timeout", "5", *extra]
    for arg in web.chromium_args():
        args += ["--chromium-arg", arg]
    return args


def default_sigint() -> None:
    # A shell running a job in the background (`cmd &`, as some CI runners do) hands it SIGINT ignored,
    # and Python then never turns Ctrl-C into KeyboardInterrupt; the crawl must see it as a terminal would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "160"}, preexec_fn=default_sigint)


def targets(db: Path) -> list[tuple[str, str, int]]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT t.url, t.status, (SELECT COUNT(*) FROM visits v WHERE v.crawl_target_id = t.id) FROM crawl_targets t"
    ).fetchall()
    conn.close()
    return rows


def outcomes(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    rows = dict(conn.execute(
        "SELECT t.url, v.outcome FROM visits v JOIN crawl_targets t ON t.id = v.crawl_target_id"
    ).fetchall())
    conn.close()
    return rows


def done_count(db: Path) -> int:
    try:
        return sum(1 for _, status, _ in targets(db) if status == "done")
    except sqlite3.OperationalError:  # no database or no tables yet
        return 0


def wait_until_done(db: Path, count: int, proc: subprocess.Popen, limit: float = 180) -> None:
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None and done_count(db) < count:
        time.sleep(0.2)


def lanterne_processes(db: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if str(db) in cmd or "lanterne-w" in cmd:
            found.append(proc)
    return found


# -- site lists --------------------------------------------------------------------------------------------


def test_site_list_formats(tmp_path: Path) -> None:
    plain = tmp_path / "a.txt"
    plain.write_text("# sites\nexample.com\n\nhttps://example.org/x\nfile:///etc/passwd\nexample.com\nnot a host\n")
    listed = read_site_list(plain)
    assert listed.urls == ["https://example.com/", "https://example.org/x"]
    assert [n for n, _ in listed.rejected] == [5, 7] and "file:" in listed.rejected[0][1]
    assert listed.duplicates == [(6, "https://example.com/")]
    tranco = tmp_path / "top.csv"
    tranco.write_text("1,google.com\n2,tiktok.com\n3,javascript:alert(1)\n")
    assert read_site_list(tranco).urls == ["https://google.com/", "https://tiktok.com/"]
    with_header = tmp_path / "b.csv"
    with_header.write_text("name,url\nA,https://a.example/\nB,b.example\n")
    assert read_site_list(with_header, limit=1).urls == ["https://a.example/"]
    shuffled = read_site_list(tmp_path / "b.csv", shuffle=True, seed=3).urls
    assert sorted(shuffled) == ["https://a.example/", "https://b.example/"]
    with pytest.raises(SiteListError, match="no usable address"):
        empty = tmp_path / "e.txt"
        empty.write_text("# nothing\n\n")
        read_site_list(empty)


# -- the reliability check -------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_crawl_survives_hostile_sites_and_two_sigkills(simweb: SimulatedWeb, tmp_path: Path) -> None:
    sites = bench_sites(45)
    hostile = list(HOSTILE)
    for i, url in enumerate(hostile):  # one site in ten is hostile
        sites.insert(9 + 10 * i, url)
    site_list = tmp_path / "sites.txt"
    site_list.write_text("\n".join(sites) + "\nnot a url at all\n")
    db = tmp_path / "crawl.db"
    args = crawl_args(simweb, site_list, db)
    rng = random.Random(os.getpid())
    for _kill in range(2):
        proc = start(args)
        # A random point, chosen by progress rather than by the clock (which a fast or a loaded machine would
        # turn into "after the crawl ended" or "before it began"): a few more sites saved, then a random
        # moment inside the visits that follow.
        wait_until_done(db, done_count(db) + rng.randint(2, 8), proc)
        time.sleep(rng.uniform(0, 2))
        # While it runs, `lanterne status` reads the same database.
        status = subprocess.run([sys.executable, "-m", "lanterne", "status", str(db)], capture_output=True, text=True, timeout=60)
        assert status.returncode == 0 and "Pending" in status.stdout
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        time.sleep(2)
        assert lanterne_processes(db) == []  # its workers (and their browsers) died with it
    finished = subprocess.run(args, capture_output=True, text=True, timeout=900, env={**os.environ, "COLUMNS": "160"})
    assert finished.returncode == 2, finished.stderr  # the list had a bad line...
    assert f"{site_list}:51: 'not a url at all'" in finished.stderr  # ...reported with its number
    rows = targets(db)
    assert len(rows) == 50
    # Every site holds exactly one outcome: done (or failed) once, with exactly one visit.
    assert [(url, status, n) for url, status, n in rows if status not in ("done", "failed") or n != 1] == []
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM visits").fetchone()[0] == 50
    conn.close()
    got = outcomes(db)
    assert {url: got[url] for url in HOSTILE} == HOSTILE
    assert all(got[url] == "ok" for url in sites if url not in HOSTILE)


@pytest.mark.browser
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_after_in_flight_visits_then_resume(
    simweb: SimulatedWeb, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    site_list = tmp_path / "sites.txt"
    site_list.write_text("\n".join(bench_sites(20)))
    db = tmp_path / "crawl.db"
    args = crawl_args(simweb, site_list, db)
    proc = start(args)
    # Interrupt once a couple of sites are saved: by the database, not by the clock.
    wait_until_done(db, 2, proc)
    proc.send_signal(stop_signal)
    out, _err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Run the same command again" in out
    rows = targets(db)
    assert all(status in ("pending", "done") for _, status, _ in rows)  # nothing left half-done
    assert all(n == (1 if status == "done" else 0) for _, status, n in rows)
    done_before = sum(1 for _, status, _ in rows if status == "done")
    assert 0 < done_before < 20
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert [n for _, _, n in targets(db)] == [1] * 20


@pytest.mark.browser
def test_database_of_another_crawl_refused_unless_append(simweb: SimulatedWeb, tmp_path: Path) -> None:
    first = tmp_path / "a.txt"
    first.write_text("\n".join(bench_sites(2)))
    second = tmp_path / "b.txt"
    second.write_text("https://www.plain.example/\n")
    db = tmp_path / "crawl.db"
    assert subprocess.run(crawl_args(simweb, first, db), capture_output=True, timeout=300).returncode == 0
    refused = subprocess.run(crawl_args(simweb, second, db), capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "holds a crawl of another list" in refused.stderr and "--append" in refused.stderr
    appended = subprocess.run(crawl_args(simweb, second, db, "--append"), capture_output=True, text=True, timeout=300)
    assert appended.returncode == 0, appended.stderr
    assert len(targets(db)) == 3
    # Running a finished crawl again visits nothing twice.
    again = subprocess.run(crawl_args(simweb, first, db), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and [n for _, _, n in targets(db)] == [1, 1, 1]


@pytest.mark.browser
@pytest.mark.ray
def test_ray_engine_on_a_local_cluster(simweb: SimulatedWeb, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    site_list = tmp_path / "sites.txt"
    site_list.write_text("\n".join(bench_sites(6) + ["https://crash.example/"]))
    db = tmp_path / "ray.db"
    result = subprocess.run(crawl_args(simweb, site_list, db, "--engine", "ray"), capture_output=True, text=True,
                            timeout=600, env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert result.returncode == 0, result.stderr[-2000:]
    rows = targets(db)
    assert len(rows) == 7 and all(status == "done" and n == 1 for _, status, n in rows)
    assert outcomes(db)["https://crash.example/"] == "renderer_crash"
    # The same resume guarantee: run again, nothing is visited twice.
    again = subprocess.run(crawl_args(simweb, site_list, db, "--engine", "ray"), capture_output=True, text=True,
                           timeout=600, env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert again.returncode == 0 and [n for _, _, n in targets(db)] == [1] * 7
