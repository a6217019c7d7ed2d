"""HAR analysis: Lanterne's own HAR round-trips; broken HAR files give clear errors or warnings, never a
traceback, and their valid entries are still analysed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import request, visit_with
from lanterne.capture.har import HarError, read_har, visit_to_har


def lanterne(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lanterne", *args], capture_output=True, text=True, timeout=300)


def _har(entries: list) -> dict:
    return {"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "pages": [], "entries": entries}}


def _entry(url: str, method: str = "GET", post: str | None = None) -> dict:
    req = {"method": method, "url": url, "headers": [{"name": "User-Agent", "value": "x"}], "httpVersion": "h2"}
    if post is not None:
        req["postData"] = {"mimeType": "text/plain", "text": post}
    return {"startedDateTime": "2025-04-28T15:22:28.410Z", "request": req,
            "response": {"status": 200, "headers": [{"name": "Set-Cookie", "value": "a=1"}], "content": {"mimeType": "text/html"}},
            "_resourceType": "document" if url.endswith("/") else "fetch"}


def test_own_har_round_trips(tmp_path: Path) -> None:
    visit = visit_with("https://www.clinic.example/",
                       request("https://analytics.tiktok.com/api/v2/pixel", "POST", '{"event":"Pageview"}'))
    path = tmp_path / "v.har"
    path.write_text(json.dumps(visit_to_har(visit)))
    imported = read_har(path).visit
    assert imported.target == "https://www.clinic.example/" and imported.source == "har"
    assert [(r.method, r.url, r.third_party) for r in imported.requests] == [
        (r.method, r.url, r.third_party) for r in visit.requests
    ]
    assert imported.requests[1].body.text == '{"event":"Pageview"}'


def test_not_json_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.har"
    path.write_text("this is not json")
    with pytest.raises(HarError, match=r"notes.har: not valid JSON \(line 1, column 1"):
        read_har(path)
    result = lanterne("analyze", str(path), "--db", str(tmp_path / "a.db"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "a.db").exists()  # nothing is created for an input that cannot be read


def test_json_that_is_not_a_har(tmp_path: Path) -> None:
    path = tmp_path / "x.har"
    path.write_text('{"hello": "world"}')
    with pytest.raises(HarError, match="not a HAR file"):
        read_har(path)


def test_truncated_har_keeps_the_complete_entries(tmp_path: Path) -> None:
    text = json.dumps(_har([_entry("https://site.example/"), _entry("https://t.tracker.example/p?id=1"),
                            _entry("https://t.tracker.example/p?id=2")]))
    path = tmp_path / "cut.har"
    path.write_text(text[: int(len(text) * 0.8)])
    imported = read_har(path)
    assert [r.url for r in imported.visit.requests] == ["https://site.example/", "https://t.tracker.example/p?id=1"]
    assert "truncated" in imported.warnings[0] and "2 complete entries" in imported.warnings[0]
    result = lanterne("analyze", str(path), "--db", str(tmp_path / "a.db"))
    assert result.returncode == 0, result.stderr
    assert "lanterne: warning:" in result.stderr and "Traceback" not in result.stderr


def test_entries_missing_fields_are_skipped_with_a_warning(tmp_path: Path) -> None:
    entries = [_entry("https://site.example/"), {"request": {"method": "GET"}}, {"nope": 1}, "junk",
               _entry("https://t.tracker.example/p")]
    path = tmp_path / "m.har"
    path.write_text(json.dumps(_har(entries)))
    imported = read_har(path)
    assert imported.entries_used == 2 and imported.entries_total == 5
    assert imported.warnings == [
        "entry 2: missing request.url or request.method; skipped",
        "entry 3: not a HAR entry (no request object); skipped",
        "entry 4: not a HAR entry (no request object); skipped",
    ]


def test_huge_request_body_is_capped_with_a_warning(tmp_path: Path) -> None:
    big = "A" * (210 * 1024 * 1024)
    path = tmp_path / "big.har"
    with open(path, "w") as fh:
        fh.write(json.dumps(_har([_entry("https://site.example/"), _entry("https://t.tracker.example/up", "POST", "PLACEHOLDER")]))
                 .replace("PLACEHOLDER", big))
    del big
    imported = read_har(path, body_cap=64 * 1024)
    body = imported.visit.requests[1].body
    assert body.truncated and len(body.text) == 64 * 1024 and body.size >= 210 * 1024 * 1024
    assert imported.warnings == ["entry 2: request body of 210 MB kept to its first 64 KiB"]


def test_missing_file_and_bad_cookies(tmp_path: Path) -> None:
    result = lanterne("analyze", str(tmp_path / "missing.har"))
    assert result.returncode == 2 and "missing.har: cannot be read" in result.stderr
    har = tmp_path / "ok.har"
    har.write_text(json.dumps(_har([_entry("https://site.example/")])))
    cookies = tmp_path / "c.json"
    cookies.write_text("{broken")
    result = lanterne("analyze", str(har), "--cookies", str(cookies), "--db", str(tmp_path / "a.db"))
    assert result.returncode == 2 and "c.json: not valid JSON" in result.stderr
