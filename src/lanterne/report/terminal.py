"""The per-site summary printed by `lanterne scan`, `demo` and `analyze`."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from lanterne.records import Finding
from lanterne.report.model import DATA_LABELS, company_rows


def _encoding(encodings: list[str]) -> str:
    return f" ({', '.join(encodings)})" if encodings and encodings != ["plain"] else ""


def findings_table(title: str, findings: list[Finding]) -> Table:
    """One row per company: what it receives, how, and the request numbers that show it."""
    table = Table(title=escape(title), title_justify="left", show_lines=False)
    table.add_column("Company", overflow="fold")
    table.add_column("Receives", overflow="fold")
    table.add_column("Requests", overflow="fold")
    for row in company_rows(findings):
        received = []
        for key, item in row.data.items():
            label = DATA_LABELS.get(key, key)
            if key in ("email", "phone", "first_name", "last_name", "postal_code"):
                when = ", before you submit" if item.before_submit else ""
                received.append(f"[bold red]{escape(label)}{escape(_encoding(item.encodings))}{when}[/]")
            elif key == "pixel_event" and row.events:
                received.append(escape(f"{label}: {', '.join(row.events[:6])}"))
            elif key == "identifier_cookie" and row.cookies:
                received.append(escape(f"{label}: {', '.join(row.cookies[:6])}"))
            else:
                received.append(escape(label))
        evidence = ", ".join(f"#{s}" for s in row.evidence[:8]) + (" …" if len(row.evidence) > 8 else "")
        table.add_row(escape(row.name), "; ".join(received), evidence)
    if not table.rows:
        table.add_row("—", "no third party receives anything", "")
    return table
