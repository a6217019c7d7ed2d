"""Exports of a store: JSON (one document), CSV and Parquet (one file per table).

The JSON document's layout is versioned (`format` and `format_version` at the top) and documented in
docs/data-formats.md; columns holding JSON text are parsed into objects there, and left as JSON text in
CSV and Parquet, where a cell holds one value.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import lanterne
from lanterne.store.db import Store
from lanterne.store.schema import TABLES

EXPORT_FORMAT_VERSION = 1


def table_rows(store: Store, table: str) -> list[dict[str, Any]]:
    order = "id" if table not in ("requests", "responses") else "visit_id, seq"
    return [dict(row) for row in store.conn.execute(f"SELECT * FROM {table} ORDER BY {order}")]  # noqa: S608


def export_store(store: Store, fmt: str, target: Path) -> Path:
    if fmt == "json":
        return _export_json(store, target)
    target.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        rows = table_rows(store, table)
        columns = [c[1] for c in store.conn.execute(f"PRAGMA table_info({table})")]
        if fmt == "csv":
            with open(target / f"{table}.csv", "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            data = {c: [r[c] for r in rows] for c in columns}
            pq.write_table(pa.table(data) if rows else pa.table({c: pa.array([], pa.string()) for c in columns}),
                           target / f"{table}.parquet")
        else:
            raise ValueError(f"unknown export format {fmt!r}")
    return target


def _export_json(store: Store, target: Path) -> Path:
    tables: dict[str, list[dict[str, Any]]] = {}
    for table, json_columns in TABLES.items():
        rows = table_rows(store, table)
        for row in rows:
            for column in json_columns:
                if row.get(column) is not None:
                    row[column] = json.loads(row[column])
        tables[table] = rows
    document = {
        "format": "lanterne-export",
        "format_version": EXPORT_FORMAT_VERSION,
        "schema_version": store.schema_version,
        "lanterne_version": lanterne.__version__,
        "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "source": str(store.path),
        "tables": tables,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8") as fh:
        json.dump(document, fh, ensure_ascii=False, indent=1)
    return target
