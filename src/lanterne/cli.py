"""The `lanterne` command."""

from __future__ import annotations

import asyncio
import shutil
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.table import Table

import lanterne

app = typer.Typer(
    name="lanterne",
    help="Lanterne: measure what websites send about their visitors, and to whom, with evidence.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: how every bad input ends."""
    err_console.print(f"lanterne: error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        console.print(f"lanterne {lanterne.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """Lanterne: measure what websites send about their visitors, and to whom, with evidence."""


# -- shared options ------------------------------------------------------------------------------------

BrowserOpt = Annotated[
    Optional[str],
    typer.Option("--browser", help="Chromium executable (default: $LANTERNE_CHROMIUM, /usr/bin/chromium, Playwright's)."),
]
DwellOpt = Annotated[float, typer.Option("--dwell", min=0, help="Seconds to stay on each page after scrolling.")]
PagesOpt = Annotated[int, typer.Option("--pages", min=0, max=50, help="Same-site links to follow after the landing page.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for a page's load event.")]


def _open_store(path: Path, create: bool = True):  # noqa: ANN202 - returns lanterne.store.Store
    from lanterne.store import Store, StoreError

    try:
        return Store(path, create=create)
    except StoreError as exc:
        fail(str(exc))
    except Exception as exc:  # sqlite3 errors on unreadable files, permissions...
        fail(f"{path}: cannot open as a database ({exc})")


def _scan_config(
    browser: str | None, dwell: float, pages: int, timeout: float, screenshot: bool, body_cap: int, extra_args: list[str]
):  # noqa: ANN202
    from lanterne.capture import BrowserNotFound, VisitOptions, find_browser
    from lanterne.crawl.runner import ScanConfig

    try:
        browser_path = find_browser(browser)
    except BrowserNotFound as exc:
        fail(str(exc))
    options = VisitOptions(dwell=dwell, pages=pages, load_timeout=timeout, screenshot=screenshot, body_cap=body_cap)
    return ScanConfig(options=options, browser_path=browser_path, extra_args=extra_args)


def _summary_table(store, visit_ids: list[int], title: str) -> Table:  # noqa: ANN001
    table = Table(title=title, show_lines=False)
    for column in ("#", "Site", "Outcome", "Requests", "Third-party", "Cookies", "Findings"):
        table.add_column(column, overflow="fold")
    rows = {row["id"]: row for row in store.visit_summaries()}
    for visit_id in visit_ids:
        row = rows.get(visit_id)
        if row is None:
            continue
        outcome = row["outcome"] if row["outcome"] == "ok" else f"[yellow]{row['outcome']}[/]"
        findings = store.findings(visit_id)
        companies = sorted({f.company for f in findings if f.company})
        table.add_row(
            str(visit_id),
            _plain(row["target"]),
            outcome,
            str(row["requests"]),
            str(row["third_party_requests"]),
            str(row["cookies"]),
            _plain(", ".join(companies) or "—"),
        )
    return table


def _plain(text: str) -> str:
    """Text from a scanned site, made inert for Rich markup."""
    from rich.markup import escape

    return escape(text or "")


def _run_scan(targets: list[str], db: Path, config, title: str) -> list[int]:  # noqa: ANN001
    from lanterne.crawl.runner import scan_sequential

    store = _open_store(db)
    visit_ids: list[int] = []

    def progress(visit_id: int, visit) -> None:  # noqa: ANN001
        status = visit.outcome.value + (f" ({visit.reason})" if visit.reason else "")
        console.print(f"  [dim]visit {visit_id}[/] {_plain(visit.target)} → {_plain(status)}", highlight=False)
        visit_ids.append(visit_id)

    try:
        asyncio.run(scan_sequential(targets, store, config, progress))
    except KeyboardInterrupt:
        err_console.print("lanterne: interrupted; completed visits are saved")
        raise typer.Exit(130) from None
    console.print(_summary_table(store, visit_ids, title))
    console.print(f"Results: [bold]{_plain(str(db))}[/]  HAR files: [bold]{_plain(str(store.files_dir))}[/]")
    store.close()
    return visit_ids


# -- commands ------------------------------------------------------------------------------------------


@app.command()
def scan(
    urls: Annotated[list[str], typer.Argument(help="Addresses to scan: https://example.com/ or example.com.")],
    db: Annotated[Path, typer.Option("--db", help="SQLite file to store results in (created if missing).")] = Path(
        "results.db"
    ),
    browser: BrowserOpt = None,
    dwell: DwellOpt = 5.0,
    pages: PagesOpt = 0,
    timeout: TimeoutOpt = 30.0,
    screenshot: Annotated[bool, typer.Option("--screenshot", help="Save a screenshot of each site.")] = False,
    body_cap: Annotated[int, typer.Option("--body-cap", min=0, help="Bytes of each request body to keep.")] = 64 * 1024,
    chromium_arg: Annotated[
        Optional[list[str]],
        typer.Option("--chromium-arg", help="Extra Chromium command-line flag (repeatable), e.g. a proxy."),
    ] = None,
) -> None:
    """Visit sites in Chromium and record every request, cookie and storage write they make."""
    from lanterne.targets import parse_targets

    good, errors = parse_targets(urls)
    for error in errors:
        err_console.print(f"lanterne: error: {error}", markup=False, highlight=False)
    if good:
        config = _scan_config(browser, dwell, pages, timeout, screenshot, body_cap, list(chromium_arg or []))
        _run_scan(good, db, config, f"Scanned {len(good)} site(s)")
    if errors:
        raise typer.Exit(2)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's database, HAR files and reports.")] = Path(
        "lanterne-demo"
    ),
    browser: BrowserOpt = None,
    dwell: DwellOpt = 2.0,
    timeout: TimeoutOpt = 10.0,
) -> None:
    """Scan the bundled demo sites on the simulated web (offline, nothing leaves this machine)."""
    from lanterne.simweb import DEMO_SITES, SimulatedWeb
    from lanterne.store import StoreError
    from lanterne.store.db import _refuse_foreign

    out.mkdir(parents=True, exist_ok=True)
    db = out / "demo.db"
    try:
        _refuse_foreign(db)
    except StoreError as exc:
        fail(str(exc))
    # The demo starts from scratch each time; only a Lanterne store is ever replaced.
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(out / "demo-files", ignore_errors=True)
    with SimulatedWeb() as web:
        console.print(f"Simulated web on 127.0.0.1:{web.port}: {len(DEMO_SITES)} demo sites")
        config = _scan_config(browser, dwell, 0, timeout, False, 64 * 1024, web.chromium_args())
        _run_scan(list(DEMO_SITES), db, config, "Lanterne demo")


class ExportFormat(str, Enum):
    json = "json"
    csv = "csv"
    parquet = "parquet"


@app.command()
def export(
    db: Annotated[Path, typer.Argument(help="A Lanterne database.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="json (one file), csv or parquet (a folder).")] = ExportFormat.json,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write (default: next to DB).")] = None,
) -> None:
    """Export a database's tables (and findings) as JSON, CSV or Parquet."""
    from lanterne.store.export import export_store

    store = _open_store(db, create=False)
    target = output or db.with_name(db.stem + ("-export.json" if fmt is ExportFormat.json else f"-{fmt.value}"))
    try:
        written = export_store(store, fmt.value, target)
    except OSError as exc:
        fail(f"{target}: cannot write ({exc.strerror or exc})")
    console.print(f"Exported {_plain(str(db))} to [bold]{_plain(str(written))}[/]")


def run() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
