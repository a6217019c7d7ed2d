"""The SQLite store: round trips, per-visit transactions, refusal of foreign files, migrations, exports."""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lanterne.records import (
    Body,
    CookieRecord,
    Dialog,
    Finding,
    Outcome,
    RequestRecord,
    ResponseRecord,
    StorageItem,
    StorageWrite,
    Visit,
    WebSocketFrame,
)
from lanterne.store import SCHEMA_VERSION, Store, StoreError
from lanterne.store.export import export_store


def sample_visit(target: str = "https://www.clinic.example/") -> Visit:
    now = time.time()
    visit = Visit(target=target, started_at=now, finished_at=now + 3, final_url=target, title="<b>Title</b>")
    visit.requests = [
        RequestRecord(1, target, "GET", "document", now, [("User-Agent", "x")], is_navigation=True,
                      response=ResponseRecord(200, "OK", [("Set-Cookie", "a=1")], ["a=1"], "text/html")),
        RequestRecord(2, "https://analytics.tiktok.com/api/v2/pixel", "POST", "fetch", now,
                      body=Body.from_bytes(b'{"event":"Pageview"}', 1000), third_party=True,
                      site="tiktok.com", host="analytics.tiktok.com", initiator_type="script",
                      initiator_stack=[{"function": "f", "url": "https://analytics.tiktok.com/e.js", "line": 1, "column": 2}],
                      timing={"startTime": now * 1000}),
        RequestRecord(3, "https://x.example/bin", "POST", "fetch", now, body=Body.from_bytes(b"\xff\x00\x01", 1000),
                      failure="net::ERR_FAILED"),
    ]
    visit.cookies = [CookieRecord("_ttp", "abc", "www.clinic.example", expires=now + 1000, site="clinic.example")]
    visit.storage = [StorageItem("https://www.clinic.example", "local", "k", "v", 1)]
    visit.storage_writes = [StorageWrite(now, "https://www.clinic.example", "local", "k", "v")]
    visit.websocket_frames = [WebSocketFrame("wss://x.example/s", "sent", "hello", 5, now)]
    visit.dialogs = [Dialog("alert", "hi")]
    visit.findings = [Finding(kind="third_party", detector="attribution", company="ByteDance", evidence=[2],
                              details={"note": "é"})]
    return visit


def test_round_trip(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as store:
        visit = sample_visit()
        visit_id = store.save_visit(visit)
        loaded = store.load_visit(visit_id)
    assert loaded.target == visit.target and loaded.title == "<b>Title</b>"
    assert [r.url for r in loaded.requests] == [r.url for r in visit.requests]
    assert loaded.requests[1].body.text == '{"event":"Pageview"}'
    assert loaded.requests[2].body.as_bytes() == b"\xff\x00\x01" and loaded.requests[2].body.encoding == "base64"
    assert loaded.requests[0].response.set_cookies == ["a=1"]
    assert loaded.requests[1].initiator_stack[0]["url"] == "https://analytics.tiktok.com/e.js"
    assert loaded.cookies[0].name == "_ttp" and loaded.storage[0].value == "v"
    assert loaded.websocket_frames[0].payload == "hello" and loaded.dialogs[0].message == "hi"
    assert loaded.findings[0].company == "ByteDance" and loaded.findings[0].details == {"note": "é"}
    assert Path(loaded.har_path).is_file()
    assert json.loads(Path(loaded.har_path).read_text())["log"]["entries"][1]["request"]["postData"]["text"]


def test_a_failed_write_leaves_no_half_visit(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    store.save_visit(sample_visit())
    broken = sample_visit("https://other.example/")
    broken.requests.append(broken.requests[0])  # a duplicate (visit, seq): the insert fails midway
    with pytest.raises(sqlite3.IntegrityError):
        store.save_visit(broken)
    counts = {t: store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("visits", "requests", "responses", "cookies", "storage", "findings")}
    assert counts == {"visits": 1, "requests": 3, "responses": 1, "cookies": 1, "storage": 1, "findings": 1}


def test_refuses_files_that_are_not_lanterne_stores(tmp_path: Path) -> None:
    text_file = tmp_path / "notes.db"
    text_file.write_bytes(b"my precious notes\n" * 100)
    before = text_file.read_bytes()
    with pytest.raises(StoreError, match="not a Lanterne database"):
        Store(text_file)
    assert text_file.read_bytes() == before

    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(StoreError, match="did not create"):
        Store(other)
    assert other.read_bytes() == before

    with pytest.raises(StoreError, match="directory"):
        Store(tmp_path)


def test_schema_version_and_newer_store_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer Lanterne"):
        Store(path)


def test_migrations_run_from_an_older_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store made by the first schema is brought up to date when opened, keeping its data."""
    from lanterne.store import db as db_module
    from lanterne.store import schema

    path = tmp_path / "r.db"
    monkeypatch.setattr(db_module, "SCHEMA_VERSION", 1)
    monkeypatch.setattr(db_module, "MIGRATIONS", schema.MIGRATIONS[:1])
    with Store(path) as old:
        assert old.schema_version == 1
        site_id = old.site_id("https://www.clinic.example/")
        old.conn.execute("INSERT INTO visits(site_id, source, started_at, outcome) VALUES (?, 'scan', 1.0, 'ok')", (site_id,))
        assert "js_calls" not in {r[0] for r in old.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    monkeypatch.undo()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 2
        assert "js_calls" in {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert store.conn.execute("SELECT COUNT(*) FROM visits").fetchone()[0] == 1
        visit_id = store.save_visit(sample_visit())  # and the current code writes into it
        assert store.load_visit(visit_id).target == "https://www.clinic.example/"


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_exports(tmp_path: Path, fmt: str) -> None:
    with Store(tmp_path / "r.db") as store:
        store.save_visit(sample_visit())
        out = export_store(store, fmt, tmp_path / f"out-{fmt}")
    if fmt == "json":
        doc = json.loads(out.read_text())
        assert doc["format"] == "lanterne-export" and doc["format_version"] == 1
        assert doc["tables"]["requests"][1]["initiator_stack"][0]["function"] == "f"
        assert doc["tables"]["findings"][0]["company"] == "ByteDance"
    elif fmt == "csv":
        rows = list(csv.DictReader(open(out / "requests.csv", encoding="utf-8")))
        assert len(rows) == 3 and rows[1]["method"] == "POST"
        assert list(csv.DictReader(open(out / "findings.csv")))[0]["company"] == "ByteDance"
    else:
        table = pq.read_table(out / "requests.parquet")
        assert table.num_rows == 3
        assert pq.read_table(out / "findings.parquet").column("company").to_pylist() == ["ByteDance"]
        assert pq.read_table(out / "websocket_frames.parquet").num_rows == 1


def test_json_export_matches_its_documented_schema(tmp_path: Path) -> None:
    import jsonschema

    from conftest import ROOT

    schema = json.loads((ROOT / "docs" / "export-schema-v1.json").read_text())
    with Store(tmp_path / "r.db") as store:
        store.save_visit(sample_visit())
        out = export_store(store, "json", tmp_path / "out.json")
    document = json.loads(out.read_text())
    jsonschema.validate(document, schema)
    del document["tables"]["requests"][0]["method"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)
    # The committed schema is the one the code generates (python -m lanterne.store.export).
    from lanterne.store.export import json_schema

    with Store(tmp_path / "empty.db") as empty:
        assert json_schema(empty) == schema
