"""The `lanterne` command as a user runs it: exit codes, one-line errors, the demo end to end."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lanterne.simweb import SimulatedWeb
from lanterne.simweb.sites import DEMO_SITES
from lanterne.store import Store


def lanterne(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # wide enough that Rich does not fold table cells
    return subprocess.run(
        [sys.executable, "-m", "lanterne", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def simweb_flags(web: SimulatedWeb) -> list[str]:
    flags: list[str] = []
    for arg in web.chromium_args():
        flags += ["--chromium-arg", arg]
    return flags


def test_version_and_help() -> None:
    result = lanterne("--version")
    assert result.returncode == 0 and result.stdout.startswith("lanterne 0.")
    for command in ("scan", "demo", "export"):
        result = lanterne(command, "--help")
        assert result.returncode == 0 and "Usage" in result.stdout


@pytest.mark.browser
def test_scan_bad_inputs_exit_2_and_the_rest_is_scanned(simweb: SimulatedWeb, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    result = lanterne(
        "scan", "file:///etc/passwd", "javascript:alert(1)", "https://www.plain.example/", "data:text/html,x",
        "chrome://settings", "http://", "--db", str(db), "--dwell", "0.3", *simweb_flags(simweb),
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("lanterne: error:")]
    assert len(errors) == 5
    assert "file:///etc/passwd" in errors[0] and "javascript:alert(1)" in errors[1]
    with Store(db, create=False) as store:
        summaries = store.visit_summaries()
    assert [row["target"] for row in summaries] == ["https://www.plain.example/"]
    assert summaries[0]["outcome"] == "ok" and summaries[0]["requests"] >= 5


def test_scan_refuses_a_database_that_is_not_lanterne(tmp_path: Path) -> None:
    db = tmp_path / "thesis.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE chapters (text)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    result = lanterne("scan", "example.com", "--db", str(db))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "did not create" in result.stderr
    assert db.read_bytes() == before


def test_missing_browser_is_a_clear_error(tmp_path: Path) -> None:
    result = lanterne("scan", "example.com", "--db", str(tmp_path / "r.db"), "--browser", "/nonexistent/chromium")
    assert result.returncode == 2
    assert "lanterne: error: --browser /nonexistent/chromium: not an executable file" in result.stderr


def test_export_of_a_missing_database(tmp_path: Path) -> None:
    result = lanterne("export", str(tmp_path / "nope.db"))
    assert result.returncode == 2 and "no such database" in result.stderr


@pytest.mark.browser
def test_demo_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = lanterne("demo", "--out", str(out), "--dwell", "0.5", "--timeout", "5")
    assert result.returncode == 0, result.stderr
    assert "Lanterne demo" in result.stdout and "demo.db" in result.stdout
    with Store(out / "demo.db", create=False) as store:
        rows = {row["target"]: row for row in store.visit_summaries() if row["phase"] == "none"}
        phases = [(row["target"], row["phase"]) for row in store.visit_summaries() if row["phase"] != "none"]
        # Sites with a cookie banner are also visited refusing and accepting it; the others are not.
        assert sorted(phases) == [("https://www.journal-fr.example/", "accept"), ("https://www.journal-fr.example/", "refuse"),
                                  ("https://www.respectueux.example/", "accept"), ("https://www.respectueux.example/", "refuse")]
        assert set(rows) == set(DEMO_SITES)
        clinic = store.load_visit(rows["https://www.clinic.example/"]["id"])
        plain = rows["https://www.plain.example/"]
        assert plain["third_party_requests"] == 0
        assert rows["https://hang.example/"]["outcome"] == "timeout"
        assert rows["https://loop.example/"]["outcome"] == "redirect_loop"
    assert any("events.js?sdkid=" in r.url for r in clinic.requests)
    posts = [r for r in clinic.requests if r.url.endswith(("/api/v2/pixel", "/api/v2/pixel/act"))]
    events = [json.loads(r.body.text).get("event") or json.loads(r.body.text).get("action") for r in posts]
    assert events[:2] == ["Pageview", "Metadata"] and "SubmitForm" in events
    assert any(c.name == "_ttp" and not c.third_party for c in clinic.cookies)
    har = json.loads(Path(clinic.har_path).read_text())
    assert len(har["log"]["entries"]) == len(clinic.requests)
    # The findings are stored with the visit and printed per site.
    leaks = [f for f in clinic.findings if f.kind == "pii_leak"]
    assert [(f.company, f.data_type, f.encoding, f.before_submit) for f in leaks] == [("ByteDance", "email", "sha256-hex", True)]
    assert "ByteDance (TikTok)" in result.stdout and "before you submit" in result.stdout

    # Both reports are written and their paths printed.
    assert (out / "reports" / "demo.en.html").is_file() and (out / "reports" / "www.clinic.example.en.html").is_file()
    assert "Crawl report:" in result.stdout and "Site reports:" in result.stdout

    exported = lanterne("export", str(out / "demo.db"), "--format", "csv", "-o", str(tmp_path / "csv"))
    assert exported.returncode == 0 and (tmp_path / "csv" / "requests.csv").is_file()
