"""The SQLite store: one file holds sites, visits, everything captured in them, and findings.

Each visit is written in one transaction, so a crash never leaves half a visit. The file is opened in WAL
mode so that `lanterne status` and the web app can read while a crawl writes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lanterne.domains import host_of, site_of
from lanterne.records import (
    Body,
    CookieRecord,
    Dialog,
    Finding,
    JsCall,
    Outcome,
    RequestRecord,
    ResponseRecord,
    StorageItem,
    StorageWrite,
    Visit,
    WebSocketFrame,
)
from lanterne.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION


class StoreError(Exception):
    """A file that cannot be used as a Lanterne store; the message names it and says why."""


def _json_default(value: Any) -> Any:
    """Values detectors may leave in details that JSON has no type for."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=_json_default)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Store:
    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(f"{self.path}: no such database")
        _refuse_foreign(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA busy_timeout = 30000")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self._migrate()
        self.conn.execute("PRAGMA journal_mode = WAL")

    # -- opening ---------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: made by a newer Lanterne (schema {version}, this one knows {SCHEMA_VERSION}); upgrade Lanterne"
            )
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                for statement in _statements(MIGRATIONS[number]):
                    self.conn.execute(statement)
                if number == 0:
                    self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    self.conn.execute(
                        "INSERT INTO meta(key, value) VALUES ('created_at', ?), ('created_by', 'lanterne')",
                        (str(time.time()),),
                    )
                self.conn.execute(f"PRAGMA user_version = {number + 1}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    @property
    def files_dir(self) -> Path:
        """Where HAR files and screenshots of this store's visits go: `results.db` -> `results-files/`."""
        return self.path.with_name(self.path.stem + "-files")

    # -- writing ---------------------------------------------------------------------------------------
    def site_id(self, url: str, conn: sqlite3.Connection | None = None) -> int:
        conn = conn or self.conn
        row = conn.execute("SELECT id FROM sites WHERE url = ?", (url,)).fetchone()
        if row:
            return int(row[0])
        cur = conn.execute(
            "INSERT INTO sites(url, host, site, added_at) VALUES (?, ?, ?, ?)",
            (url, host_of(url), site_of(url), time.time()),
        )
        return int(cur.lastrowid)

    def save_visit(self, visit: Visit, also: Callable[[sqlite3.Connection, int], None] | None = None) -> int:
        """Write a visit and all it holds in one transaction; returns its id.

        Its HAR file (and screenshot) are written first, under a random name, so that the transaction that
        records the visit also records where they are: a crash leaves at worst an unreferenced file, never a
        visit without its file. `also` runs inside the same transaction (a crawl marks the site done there).
        """
        self._write_files(visit)
        with self.transaction() as conn:
            visit_id = self._insert_visit(conn, visit)
            if also is not None:
                also(conn, visit_id)
        return visit_id

    def _insert_visit(self, conn: sqlite3.Connection, visit: Visit) -> int:
        site_id = self.site_id(visit.target, conn)
        cur = conn.execute(
            """INSERT INTO visits(site_id, source, phase, started_at, finished_at, outcome, reason, final_url,
                   title, document_status, pages, first_party_sites, dialogs, browser_version, options,
                   har_path, screenshot_path, crawl_target_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                site_id,
                visit.source,
                visit.phase,
                visit.started_at,
                visit.finished_at,
                visit.outcome.value,
                visit.reason,
                visit.final_url,
                visit.title,
                visit.document_status,
                _dumps(visit.pages),
                _dumps(visit.first_party_sites),
                _dumps([asdict(d) for d in visit.dialogs]),
                visit.browser_version,
                _dumps(visit.options),
                visit.har_path,
                visit.screenshot_path,
                visit.crawl_target_id,
            ),
        )
        visit_id = int(cur.lastrowid)
        conn.executemany(
            """INSERT INTO requests(visit_id, seq, url, method, resource_type, started_at, headers, body,
                   body_encoding, body_size, body_truncated, frame_url, is_navigation, initiator_type,
                   initiator_url, initiator_stack, timing, redirected_from, page_index, host, site,
                   third_party, failure)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    visit_id,
                    r.seq,
                    r.url,
                    r.method,
                    r.resource_type,
                    r.started_at,
                    _dumps(r.headers),
                    r.body.text if r.body else None,
                    r.body.encoding if r.body else None,
                    r.body.size if r.body else None,
                    int(r.body.truncated) if r.body else None,
                    r.frame_url,
                    int(r.is_navigation),
                    r.initiator_type,
                    r.initiator_url,
                    _dumps(r.initiator_stack),
                    _dumps(r.timing),
                    r.redirected_from,
                    r.page_index,
                    r.host,
                    r.site,
                    int(r.third_party),
                    r.failure,
                )
                for r in visit.requests
            ],
        )
        conn.executemany(
            """INSERT INTO responses(visit_id, seq, status, status_text, headers, set_cookies, mime_type,
                   remote_address, protocol, encoded_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    visit_id,
                    r.seq,
                    r.response.status,
                    r.response.status_text,
                    _dumps(r.response.headers),
                    _dumps(r.response.set_cookies),
                    r.response.mime_type,
                    r.response.remote_address,
                    r.response.protocol,
                    r.response.encoded_size,
                )
                for r in visit.requests
                if r.response is not None
            ],
        )
        conn.executemany(
            """INSERT INTO cookies(visit_id, name, value, domain, path, expires, http_only, secure, same_site,
                   size, site, third_party, partition_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    visit_id,
                    c.name,
                    c.value,
                    c.domain,
                    c.path,
                    c.expires,
                    int(c.http_only),
                    int(c.secure),
                    c.same_site,
                    c.size,
                    c.site,
                    int(c.third_party),
                    c.partition_key,
                )
                for c in visit.cookies
            ],
        )
        conn.executemany(
            "INSERT INTO storage(visit_id, origin, kind, key, value, size) VALUES (?, ?, ?, ?, ?, ?)",
            [(visit_id, s.origin, s.kind, s.key, s.value, s.size) for s in visit.storage],
        )
        conn.executemany(
            "INSERT INTO storage_writes(visit_id, time, origin, kind, key, value) VALUES (?, ?, ?, ?, ?, ?)",
            [(visit_id, w.time, w.origin, w.kind, w.key, w.value) for w in visit.storage_writes],
        )
        conn.executemany(
            """INSERT INTO websocket_frames(visit_id, url, direction, payload, size, time, opcode)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [(visit_id, f.url, f.direction, f.payload, f.size, f.time, f.opcode) for f in visit.websocket_frames],
        )
        conn.executemany(
            "INSERT INTO js_calls(visit_id, frame_url, script_url, api, count, args) VALUES (?, ?, ?, ?, ?, ?)",
            [(visit_id, c.frame_url, c.script_url, c.api, c.count, _dumps(c.args)) for c in visit.js_calls],
        )
        self._insert_findings(conn, visit_id, visit.findings)
        return visit_id

    def _insert_findings(self, conn: sqlite3.Connection, visit_id: int, findings: list[Finding]) -> None:
        conn.executemany(
            """INSERT INTO findings(visit_id, kind, detector, company, domain, category, data_type, encoding,
                   summary, evidence, details, before_submit, phase)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    visit_id,
                    f.kind,
                    f.detector,
                    f.company,
                    f.domain,
                    f.category,
                    f.data_type,
                    f.encoding,
                    f.summary,
                    _dumps(f.evidence),
                    _dumps(f.details),
                    None if f.before_submit is None else int(f.before_submit),
                    f.phase,
                )
                for f in findings
            ],
        )

    def replace_findings(self, visit_id: int, findings: list[Finding]) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM findings WHERE visit_id = ?", (visit_id,))
            self._insert_findings(conn, visit_id, findings)

    def _write_files(self, visit: Visit) -> None:
        """The visit's HAR file and screenshot, next to the database. Derived data: the records are in it."""
        import secrets

        from lanterne.capture.har import write_har

        folder = self.files_dir
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"visit-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(visit.started_at or time.time()))}-{secrets.token_hex(4)}"
        har_path = folder / f"{stem}.har"
        write_har(visit, har_path)
        visit.har_path = str(har_path)
        if visit.screenshot:
            shot = folder / f"{stem}.png"
            shot.write_bytes(visit.screenshot)
            visit.screenshot_path = str(shot)

    # -- reading ---------------------------------------------------------------------------------------
    def visit_ids(self, latest_per_site: bool = False) -> list[int]:
        if latest_per_site:
            sql = "SELECT MAX(id) FROM visits GROUP BY site_id, phase ORDER BY 1"
        else:
            sql = "SELECT id FROM visits ORDER BY id"
        return [int(r[0]) for r in self.conn.execute(sql)]

    def visit_summaries(self) -> list[sqlite3.Row]:
        return list(
            self.conn.execute(
                """SELECT v.id, s.url AS target, v.phase, v.outcome, v.reason, v.final_url, v.title,
                          (SELECT COUNT(*) FROM requests r WHERE r.visit_id = v.id) AS requests,
                          (SELECT COUNT(*) FROM requests r WHERE r.visit_id = v.id AND r.third_party = 1) AS third_party_requests,
                          (SELECT COUNT(*) FROM cookies c WHERE c.visit_id = v.id) AS cookies,
                          v.har_path
                   FROM visits v JOIN sites s ON s.id = v.site_id ORDER BY v.id"""
            )
        )

    def load_visit(self, visit_id: int) -> Visit:
        if not 0 < int(visit_id) < 2**63:
            raise StoreError(f"{self.path}: no visit {visit_id}")
        row = self.conn.execute(
            "SELECT v.*, s.url AS target FROM visits v JOIN sites s ON s.id = v.site_id WHERE v.id = ?",
            (visit_id,),
        ).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no visit {visit_id}")
        visit = Visit(
            target=row["target"],
            started_at=row["started_at"],
            finished_at=row["finished_at"] or 0.0,
            outcome=Outcome(row["outcome"]),
            reason=row["reason"] or "",
            final_url=row["final_url"],
            title=row["title"],
            document_status=row["document_status"],
            pages=_loads(row["pages"]) or [],
            dialogs=[Dialog(**d) for d in _loads(row["dialogs"]) or []],
            browser_version=row["browser_version"],
            source=row["source"],
            phase=row["phase"],
            first_party_sites=_loads(row["first_party_sites"]) or [],
            options=_loads(row["options"]) or {},
            har_path=row["har_path"],
            screenshot_path=row["screenshot_path"],
            crawl_target_id=row["crawl_target_id"],
        )
        responses = {
            r["seq"]: ResponseRecord(
                status=r["status"],
                status_text=r["status_text"] or "",
                headers=[tuple(h) for h in _loads(r["headers"]) or []],
                set_cookies=_loads(r["set_cookies"]) or [],
                mime_type=r["mime_type"],
                remote_address=r["remote_address"],
                protocol=r["protocol"],
                encoded_size=r["encoded_size"],
            )
            for r in self.conn.execute("SELECT * FROM responses WHERE visit_id = ?", (visit_id,))
        }
        for r in self.conn.execute("SELECT * FROM requests WHERE visit_id = ? ORDER BY seq", (visit_id,)):
            body = None
            if r["body"] is not None:
                body = Body(r["body"], r["body_encoding"], r["body_size"], bool(r["body_truncated"]))
            visit.requests.append(
                RequestRecord(
                    seq=r["seq"],
                    url=r["url"],
                    method=r["method"],
                    resource_type=r["resource_type"],
                    started_at=r["started_at"],
                    headers=[tuple(h) for h in _loads(r["headers"]) or []],
                    body=body,
                    frame_url=r["frame_url"],
                    is_navigation=bool(r["is_navigation"]),
                    initiator_type=r["initiator_type"],
                    initiator_url=r["initiator_url"],
                    initiator_stack=_loads(r["initiator_stack"]),
                    timing=_loads(r["timing"]),
                    redirected_from=r["redirected_from"],
                    page_index=r["page_index"] or 0,
                    host=r["host"] or "",
                    site=r["site"] or "",
                    third_party=bool(r["third_party"]),
                    failure=r["failure"],
                    response=responses.get(r["seq"]),
                )
            )
        for c in self.conn.execute("SELECT * FROM cookies WHERE visit_id = ? ORDER BY id", (visit_id,)):
            visit.cookies.append(
                CookieRecord(
                    name=c["name"],
                    value=c["value"],
                    domain=c["domain"],
                    path=c["path"],
                    expires=c["expires"],
                    http_only=bool(c["http_only"]),
                    secure=bool(c["secure"]),
                    same_site=c["same_site"],
                    size=c["size"],
                    site=c["site"],
                    third_party=bool(c["third_party"]),
                    partition_key=c["partition_key"],
                )
            )
        visit.storage = [
            StorageItem(s["origin"], s["kind"], s["key"], s["value"], s["size"])
            for s in self.conn.execute("SELECT * FROM storage WHERE visit_id = ? ORDER BY id", (visit_id,))
        ]
        visit.storage_writes = [
            StorageWrite(w["time"], w["origin"], w["kind"], w["key"], w["value"])
            for w in self.conn.execute("SELECT * FROM storage_writes WHERE visit_id = ? ORDER BY id", (visit_id,))
        ]
        visit.websocket_frames = [
            WebSocketFrame(f["url"], f["direction"], f["payload"], f["size"], f["time"], f["opcode"])
            for f in self.conn.execute("SELECT * FROM websocket_frames WHERE visit_id = ? ORDER BY id", (visit_id,))
        ]
        visit.js_calls = [
            JsCall(c["frame_url"], c["script_url"], c["api"], c["count"], _loads(c["args"]) or [])
            for c in self.conn.execute("SELECT * FROM js_calls WHERE visit_id = ? ORDER BY id", (visit_id,))
        ]
        visit.findings = self.findings(visit_id)
        return visit

    def findings(self, visit_id: int) -> list[Finding]:
        return [
            Finding(
                kind=f["kind"],
                detector=f["detector"],
                company=f["company"],
                domain=f["domain"],
                category=f["category"],
                data_type=f["data_type"],
                encoding=f["encoding"],
                summary=f["summary"] or "",
                evidence=_loads(f["evidence"]) or [],
                details=_loads(f["details"]) or {},
                before_submit=None if f["before_submit"] is None else bool(f["before_submit"]),
                phase=f["phase"],
            )
            for f in self.conn.execute("SELECT * FROM findings WHERE visit_id = ? ORDER BY id", (visit_id,))
        ]


def _statements(script: str) -> list[str]:
    """Split a migration into statements (they hold no semicolons inside literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def _refuse_foreign(path: Path) -> None:
    """Refuse, without writing a byte, a file that exists and is not a Lanterne store."""
    if not path.exists():
        return
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a Lanterne database")
    if path.stat().st_size == 0:
        return
    with open(path, "rb") as fh:
        header = fh.read(100)
    if not header.startswith(b"SQLite format 3\x00"):
        raise StoreError(f"{path}: not a Lanterne database (not an SQLite file); refusing to touch it")
    # The application id is a big-endian integer at offset 68 of the SQLite header.
    app_id = int.from_bytes(header[68:72], "big")
    if app_id != APPLICATION_ID:
        raise StoreError(f"{path}: an SQLite database that Lanterne did not create; refusing to touch it")
