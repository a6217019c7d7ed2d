"""The `lanterne` command."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.table import Table

from lanterne.store.db import StoreError

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


class Language(str, Enum):
    en = "en"
    fr = "fr"


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


class ConsentPhases(str, Enum):
    none = "none"
    refuse = "refuse"
    accept = "accept"
    all = "all"


def _scan_config(
    browser: str | None,
    dwell: float,
    pages: int,
    timeout: float,
    screenshot: bool,
    body_cap: int,
    extra_args: list[str],
    forms: bool = True,
    submit_forms: bool = False,
    consent: ConsentPhases = ConsentPhases.none,
):  # noqa: ANN202
    from lanterne.capture import BrowserNotFound, VisitOptions, autoconsent, find_browser
    from lanterne.capture.interactions import CanaryTyping
    from lanterne.crawl.runner import PHASES, ScanConfig

    try:
        browser_path = find_browser(browser)
    except BrowserNotFound as exc:
        fail(str(exc))
    phases = PHASES if consent is ConsentPhases.all else (consent.value,)
    have_autoconsent = autoconsent.is_installed()
    if not have_autoconsent:
        if phases != ("none",):
            fail(f"--consent {consent.value} needs autoconsent {autoconsent.VERSION} to answer cookie banners: "
                 "run `lanterne consent install`")
        err_console.print("lanterne: warning: autoconsent is not installed, so cookie banners are not detected "
                          "(`lanterne consent install`)", markup=False, highlight=False)
    interactions = [CanaryTyping(submit=submit_forms)] if forms else []
    options = VisitOptions(
        dwell=dwell, pages=pages, load_timeout=timeout, screenshot=screenshot, body_cap=body_cap,
        interactions=interactions,
    )
    return ScanConfig(options=options, browser_path=browser_path, extra_args=extra_args, phases=phases,
                      consent=have_autoconsent)


def _print_findings(store, visit_ids: list[int]) -> None:  # noqa: ANN001
    from lanterne.report.terminal import findings_table

    for visit_id in visit_ids:
        visit = store.load_visit(visit_id)
        if visit.outcome.value != "ok" and not visit.findings:
            continue
        title = f"{visit.target}" + (f" [{visit.phase}]" if visit.phase != "none" else "") + f" (visit {visit_id})"
        console.print(findings_table(title, visit.findings))


def _summary_table(store, visit_ids: list[int], title: str) -> Table:  # noqa: ANN001
    table = Table(title=title, show_lines=False)
    for column in ("#", "Site", "Outcome", "Requests", "Third-party", "Cookies", "Companies"):
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
            _plain(_short(row["target"])),
            outcome,
            str(row["requests"]),
            str(row["third_party_requests"]),
            str(row["cookies"]),
            _plain(", ".join(companies) or "—"),
        )
    return table


def _short(url: str) -> str:
    """A site as people say it: the host, plus the path when it is not the home page."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path if parts.path not in ("", "/") else ""
    return (parts.hostname or url) + path


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
        phase = f" [{visit.phase}]" if visit.phase != "none" else ""
        console.print(f"  [dim]visit {visit_id}[/] {_plain(visit.target)}{_plain(phase)} → {_plain(status)}", highlight=False)
        visit_ids.append(visit_id)

    try:
        asyncio.run(scan_sequential(targets, store, config, progress))
    except KeyboardInterrupt:
        err_console.print("lanterne: interrupted; completed visits are saved")
        raise typer.Exit(130) from None
    console.print(_summary_table(store, visit_ids, title))
    _print_findings(store, visit_ids)
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
    forms: Annotated[
        bool, typer.Option("--forms/--no-forms", help="Type a made-up identity into form fields (not submitted).")
    ] = True,
    submit_forms: Annotated[bool, typer.Option("--submit-forms", help="Also submit the forms after typing.")] = False,
    consent: Annotated[
        ConsentPhases,
        typer.Option("--consent", help="Cookie-banner phases: none (no answer), refuse, accept, or all three."),
    ] = ConsentPhases.none,
) -> None:
    """Visit sites in Chromium and record every request, cookie and storage write they make."""
    from lanterne.targets import parse_targets

    good, errors = parse_targets(urls)
    for error in errors:
        err_console.print(f"lanterne: error: {error}", markup=False, highlight=False)
    if good:
        config = _scan_config(
            browser, dwell, pages, timeout, screenshot, body_cap, list(chromium_arg or []), forms, submit_forms, consent
        )
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
    lang: Annotated[Language, typer.Option("--lang", help="Language of the reports.")] = Language.en,
    follow_links: Annotated[
        bool, typer.Option("--pages/--no-pages", help="Also follow one link on each demo site (slower).")
    ] = False,
    serve_app: Annotated[bool, typer.Option("--serve", help="Then start the web app on the demo's results (and the simulated web).")] = False,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port of the web app with --serve.")] = 8000,
) -> None:
    """Scan the bundled demo sites on the simulated web (offline, nothing leaves this machine), then write
    a report per site and one for the whole demo."""
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
    shutil.rmtree(out / "reports", ignore_errors=True)
    with SimulatedWeb() as web:
        console.print(f"Simulated web on 127.0.0.1:{web.port}: {len(DEMO_SITES)} demo sites")
        config = _scan_config(
            browser, dwell, 1 if follow_links else 0, timeout, True, 64 * 1024, web.chromium_args(),
            consent=ConsentPhases.all,
        )
        visit_ids = _run_scan(list(DEMO_SITES), db, config, "Lanterne demo")
    store = _open_store(db, create=False)
    reports = out / "reports"
    crawl_report = write_reports(store, reports / f"demo.{lang.value}.html", lang.value, None)
    site_reports = []
    first_visits: dict[str, int] = {}
    for visit_id in visit_ids:
        first_visits.setdefault(store.load_visit(visit_id).target, visit_id)
    for target, visit_id in first_visits.items():
        name = _short(target).replace("/", "_")[:80]
        site_reports.append(write_reports(store, reports / f"{name}.{lang.value}.html", lang.value, visit_id))
    store.close()
    console.print(f"Crawl report: [bold]{_plain(str(crawl_report))}[/]")
    console.print(f"Site reports: [bold]{_plain(str(site_reports[0]))}[/] and {len(site_reports) - 1} more in {_plain(str(reports))}")
    if serve_app:
        with SimulatedWeb() as web:
            # Scans from the app reach the simulated web too; private addresses are allowed for it.
            config = _scan_config(browser, dwell, 0, timeout, True, 64 * 1024, web.chromium_args(), consent=ConsentPhases.all)
            console.print("Try https://www.clinic.example/ in the app: it is one of the simulated sites.")
            _serve(db, "127.0.0.1", port, None, True, config, 4, 50)


def _find_visit(store, site: str) -> int:  # noqa: ANN001
    from lanterne.domains import host_of
    from lanterne.targets import TargetError, parse_target

    try:
        url = parse_target(site)
    except TargetError as exc:
        fail(str(exc))
    rows = store.conn.execute(
        "SELECT v.id, s.url FROM visits v JOIN sites s ON s.id = v.site_id WHERE v.phase = 'none' ORDER BY v.id DESC"
    ).fetchall() or store.conn.execute(
        "SELECT v.id, s.url FROM visits v JOIN sites s ON s.id = v.site_id ORDER BY v.id DESC"
    ).fetchall()
    for exact in (True, False):
        for visit_id, site_url in rows:
            if (site_url == url) if exact else (host_of(site_url) == host_of(url)):
                return int(visit_id)
    known = ", ".join(sorted({r[1] for r in rows})[:5]) or "none"
    fail(f"no visit of {url} in {store.path} (sites in it: {known})")


def _phase_visits(store, visit_id: int) -> list[int]:  # noqa: ANN001
    """The visit and its sibling consent-phase visits of the same site (the latest one of each phase)."""
    site_id = store.conn.execute("SELECT site_id FROM visits WHERE id = ?", (visit_id,)).fetchone()[0]
    ids = [visit_id]
    # Phases of one scan are saved one after the other; the next "none" visit starts another scan.
    for other_id, phase in store.conn.execute(
        "SELECT id, phase FROM visits WHERE site_id = ? AND id > ? ORDER BY id", (site_id, visit_id)
    ):
        if phase == "none":
            break
        ids.append(int(other_id))
    return ids


def write_reports(store, output: Path, lang: str, visit_id: int | None, phases: bool = True) -> Path:  # noqa: ANN001
    from lanterne.report.html import render_crawl_report, render_site_visits, write_report

    if visit_id is None:
        return write_report(render_crawl_report(store, lang), output)
    ids = _phase_visits(store, visit_id) if phases else [visit_id]
    return write_report(render_site_visits([(i, store.load_visit(i)) for i in ids], lang), output)


@app.command()
def report(
    db: Annotated[Path, typer.Argument(help="A Lanterne database.")],
    site: Annotated[
        Optional[str], typer.Option("--site", help="Report on this site's latest visit (default: the whole database).")
    ] = None,
    visit: Annotated[Optional[int], typer.Option("--visit", help="Report on this visit number.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="The HTML file to write.")] = None,
    lang: Annotated[Language, typer.Option("--lang", help="Language of the report.")] = Language.en,
) -> None:
    """Write a self-contained HTML report: one site's visit (--site) or the whole database."""
    from lanterne.store import StoreError

    store = _open_store(db, create=False)
    visit_id = visit
    if site is not None:
        visit_id = _find_visit(store, site)
    elif visit is not None:
        try:
            store.load_visit(visit)
        except StoreError as exc:
            fail(str(exc))
    if output is None:
        suffix = "report" if visit_id is None else f"visit-{visit_id}"
        output = db.with_name(f"{db.stem}-{suffix}.{lang.value}.html")
    try:
        written = write_reports(store, output, lang.value, visit_id, phases=site is not None)
    except OSError as exc:
        fail(f"{output}: cannot write ({exc.strerror or exc})")
    console.print(f"Report: [bold]{_plain(str(written))}[/]")


class Engine(str, Enum):
    local = "local"
    ray = "ray"


@app.command()
def crawl(
    site_list: Annotated[Path, typer.Argument(help="Sites: one URL or domain a line (# comments), a CSV with a url column, or a Tranco rank,domain list.")],
    db: Annotated[Path, typer.Option("--db", help="SQLite file holding the crawl and its results.")] = Path("crawl.db"),
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, max=64, help="Browsers working at once.")] = 2,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Crawl only the first N sites of the list.")] = None,
    shuffle: Annotated[bool, typer.Option("--shuffle", help="Visit the sites in a random (but repeatable) order.")] = False,
    append: Annotated[bool, typer.Option("--append", help="Add this list's crawl to a database holding another crawl.")] = False,
    engine: Annotated[Engine, typer.Option("--engine", help="local worker processes, or Ray actors across a cluster.")] = Engine.local,
    address: Annotated[Optional[str], typer.Option("--address", help="Ray cluster address (default: start a local one).")] = None,
    recycle_after: Annotated[int, typer.Option("--recycle-after", min=1, help="Restart each browser after this many visits.")] = 50,
    max_browser_mb: Annotated[float, typer.Option("--max-browser-mb", min=100, help="...or when its memory goes above this.")] = 1500.0,
    browser: BrowserOpt = None,
    dwell: DwellOpt = 5.0,
    pages: PagesOpt = 0,
    timeout: TimeoutOpt = 30.0,
    consent: Annotated[ConsentPhases, typer.Option("--consent", help="Cookie-banner phases: none, refuse, accept, or all.")] = ConsentPhases.none,
    forms: Annotated[bool, typer.Option("--forms/--no-forms", help="Type a made-up identity into form fields.")] = True,
    chromium_arg: Annotated[Optional[list[str]], typer.Option("--chromium-arg", help="Extra Chromium flag (repeatable).")] = None,
) -> None:
    """Crawl a list of sites with several browsers at once. Resumable: run the same command again after any
    interruption, and finished sites are kept while the others are visited."""
    from lanterne.crawl.pool import CrawlLocked, CrawlSettings, run_crawl
    from lanterne.store import StoreError
    from lanterne.targets import SiteListError, read_site_list

    try:
        sites = read_site_list(site_list, limit=limit, shuffle=shuffle)
    except SiteListError as exc:
        fail(str(exc))
    for number, reason in sites.rejected:
        err_console.print(f"lanterne: error: {site_list}:{number}: {reason}", markup=False, highlight=False)
    if sites.duplicates:
        err_console.print(
            f"lanterne: warning: {len(sites.duplicates)} duplicate(s) dropped (first at line {sites.duplicates[0][0]}: "
            f"{sites.duplicates[0][1]})", markup=False, highlight=False,
        )
    config = _scan_config(browser, dwell, pages, timeout, False, 64 * 1024, list(chromium_arg or []), forms, False, consent)
    settings = CrawlSettings(workers=workers, recycle_after=recycle_after, max_browser_mb=max_browser_mb, append=append)
    # `kill`, systemd and container runtimes stop a process with SIGTERM: stop as on Ctrl-C, saving the
    # visits in flight, rather than dying mid-visit.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if engine is Engine.ray:
            from lanterne.crawl.ray_engine import run_ray_crawl

            result = _with_progress(lambda on_progress, on_event: run_ray_crawl(
                db, sites, str(site_list), config, settings, address, on_progress, on_event))
        else:
            result = _with_progress(lambda on_progress, on_event: run_crawl(
                db, sites, str(site_list), config, settings, on_progress, on_event))
    except (StoreError, CrawlLocked) as exc:
        fail(str(exc))
    except ImportError as exc:
        fail(f"the Ray engine needs Ray: pip install 'lanterne[ray]' ({exc})")
    _print_status(db, result.crawl_id)
    if result.stopped:
        console.print("Stopped. Run the same command again to finish the crawl.")
        raise typer.Exit(130)
    if sites.rejected:
        raise typer.Exit(2)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _with_progress(run):  # noqa: ANN001, ANN202
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [
        TextColumn("[bold]crawl[/]"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("crawl", total=None, detail="")

        def on_progress(p) -> None:  # noqa: ANN001
            bar.update(task, total=p.total, completed=p.done + p.failed,
                       detail=f"done {p.done} · failed {p.failed} · remaining {p.remaining} · {p.rate_per_minute:.1f}/min")

        def on_event(message: str) -> None:
            bar.console.print(f"  {_plain(message)}", highlight=False)

        return run(on_progress, on_event)


def _print_status(db: Path, crawl_id: int | None = None) -> None:
    from lanterne.store.crawls import CrawlState

    store = _open_store(db, create=False)
    state = CrawlState(store)
    crawl_id = crawl_id or state.latest_crawl()
    if crawl_id is None:
        console.print(f"{_plain(str(db))}: no crawl in this database")
        store.close()
        return
    p = state.progress(crawl_id)
    elapsed = (p.finished_at or time.time()) - p.started_at
    eta = f"{p.remaining / p.rate_per_minute:.0f} min" if p.rate_per_minute and p.remaining else "—"
    table = Table(title=f"Crawl {crawl_id} in {_plain(str(db))}")
    for column in ("Sites", "Done", "Failed", "Running", "Pending", "Rate", "ETA", "Elapsed"):
        table.add_column(column)
    table.add_row(str(p.total), str(p.done), str(p.failed), str(p.running), str(p.pending),
                  f"{p.rate_per_minute:.1f}/min", eta if not p.finished_at else "finished", f"{elapsed / 60:.1f} min")
    console.print(table)
    outcomes = store.conn.execute(
        "SELECT v.outcome, COUNT(*) FROM visits v JOIN crawl_targets t ON t.id = v.crawl_target_id "
        "WHERE t.crawl_id = ? GROUP BY v.outcome ORDER BY 2 DESC", (crawl_id,)
    ).fetchall()
    if outcomes:
        console.print("Visit outcomes: " + ", ".join(f"{o} {n}" for o, n in outcomes))
    for row in state.failures(crawl_id, 10):
        console.print(f"  failed: {_plain(row['url'])} ({_plain(row['reason'] or '')})", highlight=False)
    store.close()


@app.command()
def status(db: Annotated[Path, typer.Argument(help="A Lanterne database holding a crawl.")]) -> None:
    """Progress of the crawl in a database: done, failed, remaining, rate and ETA (also while it runs)."""
    _print_status(db)


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


@app.command()
def analyze(
    har: Annotated[Path, typer.Argument(help="A HAR file recorded elsewhere (DevTools export, proxy, other crawler).")],
    cookies: Annotated[
        Optional[Path], typer.Option("--cookies", help="The browser's cookies at the end of the visit, as JSON.")
    ] = None,
    db: Annotated[Path, typer.Option("--db", help="SQLite file to store the analysis in.")] = Path("analysis.db"),
    target: Annotated[
        Optional[str], typer.Option("--site", help="The site the capture is of (default: the first page in the HAR).")
    ] = None,
    canary_email: Annotated[
        Optional[str], typer.Option("--email", help="An email address typed during the capture, to look for.")
    ] = None,
    canary_phone: Annotated[
        Optional[str], typer.Option("--phone", help="A phone number typed during the capture, in E.164 (+33...).")
    ] = None,
) -> None:
    """Run the same detectors on traffic recorded elsewhere (a HAR file), and store the findings."""
    from lanterne.capture.har import HarError, read_har
    from lanterne.crawl.runner import process_visit
    from lanterne.targets import TargetError, parse_target

    if target is not None:
        try:
            target = parse_target(target)
        except TargetError as exc:
            fail(str(exc))
    try:
        imported = read_har(har, target=target, cookies_path=cookies)
    except HarError as exc:
        fail(str(exc))
    for warning in imported.warnings:
        err_console.print(f"lanterne: warning: {warning}", markup=False, highlight=False)
    visit = imported.visit
    if canary_email or canary_phone:
        visit.options["canary"] = _canary_from_options(canary_email, canary_phone)
    store = _open_store(db)
    _lists_warnings()
    process_visit(visit)
    visit_id = store.save_visit(visit)
    console.print(
        f"Analysed {imported.entries_used} of {imported.entries_total} entries of {_plain(str(har))} "
        f"as a visit to {_plain(visit.target)}"
    )
    _print_findings(store, [visit_id])
    console.print(f"Results: [bold]{_plain(str(db))}[/] (visit {visit_id})")
    store.close()


def _canary_from_options(email: str | None, phone: str | None) -> dict[str, str]:
    from lanterne.canary import CanaryIdentity

    base = CanaryIdentity.generate(0).as_dict()
    # Values not given are set to ones that cannot occur, so only what the user typed is searched for.
    impossible = "lanterne-not-typed-" + "x" * 12
    identity = {k: impossible for k in base}
    if email:
        identity["email"] = email.strip()
    if phone:
        digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
        identity["phone"] = phone.strip()
        identity["phone_e164"] = digits if digits.startswith("+") else "+" + digits
    return identity


def _lists_warnings() -> None:
    from lanterne.detect.lists import company_db

    for error in company_db().errors:
        err_console.print(f"lanterne: warning: tracker list skipped: {error}", markup=False, highlight=False)


topics_app = typer.Typer(help="Content suppression: topic representation across platforms.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")


def _study(path: Path):  # noqa: ANN202
    from lanterne.topics.study import StudyError, load_study

    try:
        return load_study(path)
    except StudyError as exc:
        fail(str(exc))


def _counts(path: Path, study):  # noqa: ANN001, ANN202
    from lanterne.topics.counts import CountsError, read_counts

    try:
        return read_counts(path, study)
    except CountsError as exc:
        for error in exc.errors:
            err_console.print(f"lanterne: error: {error}", markup=False, highlight=False)
        raise typer.Exit(2) from None


@topics_app.command("validate")
def topics_validate(
    study_file: Annotated[Path, typer.Argument(help="The study (YAML).")],
    counts: Annotated[Optional[Path], typer.Option("--counts", help="Also check a counts CSV against the study.")] = None,
) -> None:
    """Check a study file (and a counts file): every problem is named with its line."""
    study = _study(study_file)
    console.print(f"{_plain(study.name)}: {len(study.topics)} topics, "
                  f"{sum(len(t.all_hashtags) for t in study.topics)} hashtags, {len(study.windows)} windows, "
                  f"{study.platform_a} / {study.platform_b}")
    if counts is not None:
        rows = _counts(counts, study)
        console.print(f"{_plain(str(counts))}: {len(rows)} counts, all valid")


@topics_app.command("import")
def topics_import(
    study_file: Annotated[Path, typer.Argument(help="The study (YAML).")],
    counts: Annotated[Path, typer.Argument(help="Counts CSV: platform, hashtag, window_start, window_end, count, source, collected_at.")],
    db: Annotated[Path, typer.Option("--db", help="Store to keep the counts (with their provenance) in.")] = Path("topics.db"),
) -> None:
    """Store counts from a CSV, each with its source, after checking every line against the study."""
    from lanterne.topics.counts import store_counts

    study = _study(study_file)
    rows = _counts(counts, study)
    store = _open_store(db)
    console.print(f"Stored {store_counts(store, study, rows)} counts for {_plain(study.name)} in {_plain(str(db))}")
    store.close()


@topics_app.command("analyze")
def topics_analyze(
    study_file: Annotated[Path, typer.Argument(help="The study (YAML).")],
    counts: Annotated[Optional[Path], typer.Option("--counts", help="Counts CSV (default: the counts stored in --db).")] = None,
    db: Annotated[Optional[Path], typer.Option("--db", help="Store holding the study's counts.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="HTML report to write.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the results as JSON.")] = None,
    lang: Annotated[Language, typer.Option("--lang", help="Language of the report.")] = Language.en,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=100, help="Bootstrap draws.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (results are reproducible).")] = 0,
) -> None:
    """Ratio of ratios per topic against controls, with bootstrap intervals, a permutation test and a
    negative binomial model; an HTML report with a forest plot."""
    import json as jsonlib

    from lanterne.report.html import write_report
    from lanterne.report.topics import render_topics_report
    from lanterne.topics.counts import load_counts
    from lanterne.topics.stats import analyze, as_dict

    study = _study(study_file)
    if counts is not None:
        rows = _counts(counts, study)
    elif db is not None:
        store = _open_store(db, create=False)
        rows = load_counts(store, study)
        store.close()
    else:
        fail("give --counts FILE or --db DATABASE")
    if not rows:
        fail(f"no counts for study {study.name}")
    analysis = analyze(study, rows, n_boot=bootstrap, seed=seed)
    table = Table(title=f"{_plain(study.name)}: ({study.platform_a} / {study.platform_b}) relative to controls")
    for column in ("Topic", "Ratio of ratios", "95% interval", "Hashtags"):
        table.add_column(column)
    for e in analysis.topics + analysis.roles + analysis.model:
        table.add_row(_plain(e.label + ("" if e in analysis.topics else f" ({e.method.split(',')[0]})")),
                      f"{e.ratio:.2f}", f"{e.low:.2f} – {e.high:.2f}", str(e.hashtags))
    console.print(table)
    console.print(f"Permutation test, sensitive vs control: p = {analysis.permutation_p:.3g}. {_plain(analysis.model_note)}")
    if analysis.zeros or analysis.missing:
        console.print(f"{len(analysis.zeros)} zero counts (kept), {len(analysis.missing)} missing counts (left out); see the report.")
    if output is not None:
        write_report(render_topics_report(analysis, lang.value), output)
        console.print(f"Report: [bold]{_plain(str(output))}[/]")
    if json_out is not None:
        json_out.write_text(jsonlib.dumps(as_dict(analysis), indent=1), encoding="utf-8")
        console.print(f"JSON: [bold]{_plain(str(json_out))}[/]")


@topics_app.command("simulate")
def topics_simulate(
    study_file: Annotated[Path, typer.Argument(help="The study (YAML).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Counts CSV to write.")],
    effect: Annotated[float, typer.Option("--effect", min=0.001, help="True ratio of ratios of the sensitive topics.")] = 1.0,
    placebo_effect: Annotated[float, typer.Option("--placebo-effect", min=0.001)] = 1.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Write counts drawn from a model with a known effect, to check the method recovers it."""
    from lanterne.topics.counts import write_counts
    from lanterne.topics.stats import simulate_counts

    study = _study(study_file)
    rows = simulate_counts(study, effect, placebo_effect, seed)
    write_counts(output, rows)
    console.print(f"Wrote {len(rows)} simulated counts (sensitive effect {effect:g}, placebo {placebo_effect:g}) to {_plain(str(output))}")


@topics_app.command("collect")
def topics_collect(
    study_file: Annotated[Path, typer.Argument(help="The study (YAML).")],
    db: Annotated[Path, typer.Option("--db", help="Store for the counts and the collection's progress.")] = Path("topics.db"),
    credentials: Annotated[Optional[Path], typer.Option("--credentials", help="YAML with client_key and client_secret (default: TIKTOK_CLIENT_KEY/TIKTOK_CLIENT_SECRET).")] = None,
    api_base: Annotated[str, typer.Option("--api-base", help="Research API address.")] = "https://open.tiktokapis.com",
    daily_quota: Annotated[int, typer.Option("--daily-quota", min=1, help="Requests allowed per day.")] = 1000,
) -> None:
    """Count the study's hashtags on TikTok with the Research API. Resumable: run it again after any stop."""
    from lanterne.topics.tiktok_api import CollectorError, QuotaExhausted, ResearchApiCollector, load_credentials

    study = _study(study_file)
    if "tiktok" not in study.platforms:
        fail(f"{study_file}: the study does not compare TikTok")
    try:
        creds = load_credentials(credentials)
    except CollectorError as exc:
        fail(str(exc))
    store = _open_store(db)
    collector = ResearchApiCollector(store, study, creds, base_url=api_base, daily_quota=daily_quota)
    try:
        collector.collect(on_count=lambda tag, window, n: console.print(f"  #{_plain(tag)} {window.label}: {n}"))
    except QuotaExhausted as exc:
        console.print(f"Paused: {_plain(str(exc))}")
        raise typer.Exit(3) from None
    except CollectorError as exc:
        fail(str(exc))
    finally:
        for line in collector.events[-20:]:
            err_console.print(f"lanterne: {line}", markup=False, highlight=False)
        store.close()
    console.print(f"Counts stored in {_plain(str(db))}; `lanterne topics analyze {_plain(str(study_file))} --db {_plain(str(db))}`")


@app.command()
def watch(
    corpus: Annotated[Path, typer.Argument(help="CSV of TikTok post and account addresses, with columns url and topic (and optionally role).")],
    db: Annotated[Path, typer.Option("--db", help="Store keeping every check.")] = Path("watch.db"),
    vantage: Annotated[str, typer.Option("--vantage", help="Where the checks come from (network, country), recorded with each.")] = "unspecified",
    report_file: Annotated[Optional[Path], typer.Option("--report", help="Also write the report (timelines, survival curves).")] = None,
    lang: Annotated[Language, typer.Option("--lang")] = Language.en,
    browser: BrowserOpt = None,
    chromium_arg: Annotated[Optional[list[str]], typer.Option("--chromium-arg", help="Extra Chromium flag (repeatable).")] = None,
) -> None:
    """Check every post and account of a corpus once (run it on a schedule): available, private, blocked,
    or an unknown code kept as it is."""
    import csv as csvlib

    from lanterne.report.html import write_report
    from lanterne.report.topics import render_watch_report
    from lanterne.topics.watch import CorpusError, add_items, check_all, read_corpus, survival_by_topic, survival_data

    try:
        items = read_corpus(corpus)
    except CorpusError as exc:
        fail(str(exc))
    store = _open_store(db)
    add_items(store, items)
    checks = check_all(store, vantage, list(chromium_arg or []), browser,
                       on_check=lambda c: console.print(f"  {_plain(c.url)}: {c.state}" + (f" ({c.status_code})" if c.status_code not in (None, 0) else "")))
    counts: dict[str, int] = {}
    for check in checks:
        counts[check.state] = counts.get(check.state, 0) + 1
    console.print("Checked " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    if report_file is not None:
        with open(corpus, encoding="utf-8-sig") as fh:
            sensitive = {row.get("topic", "") for row in csvlib.DictReader(fh) if (row.get("role") or "").strip() == "sensitive"}
        survival, test = survival_by_topic(store, sensitive or None)
        _, timelines = survival_data(store)
        write_report(render_watch_report(survival, test, timelines, lang.value), report_file)
        console.print(f"Report: [bold]{_plain(str(report_file))}[/]")
    store.close()


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(db: Path, host: str, port: int, token: Optional[str], allow_private: bool, config, queue: int,  # noqa: ANN001
           upload_mb: int) -> None:
    import uvicorn

    from lanterne.web import AppSettings, create_app

    if not _is_loopback(host) and not token:
        fail(f"--host {host} would open the app to the network: give --token SECRET (every request must then carry it)")
    try:
        app = create_app(AppSettings(db_path=db, scan=config, token=token, allow_private=allow_private,
                                     queue_limit=queue, upload_cap=upload_mb * 1024 * 1024))
    except StoreError as exc:
        fail(str(exc))
    shown = f"http://{host if ':' not in host else '[' + host + ']'}:{port}/"
    console.print(f"Lanterne is serving {_plain(str(db))} at [bold]{shown}[/]" + (" (token required)" if token else "") + " — Ctrl-C to stop")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@app.command()
def serve(
    db: Annotated[Path, typer.Option("--db", help="The database to explore and to store new scans in.")] = Path("results.db"),
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback unless a --token is given).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    token: Annotated[Optional[str], typer.Option("--token", help="Required on every request; needed to listen beyond loopback.")] = None,
    allow_private: Annotated[bool, typer.Option("--allow-private", help="Allow scanning loopback, private and link-local addresses.")] = False,
    queue: Annotated[int, typer.Option("--queue", min=1, max=100, help="Scans queued or running at once before the app answers busy.")] = 4,
    upload_mb: Annotated[int, typer.Option("--upload-mb", min=1, max=2048, help="Largest HAR upload accepted (MB).")] = 50,
    browser: BrowserOpt = None,
    dwell: DwellOpt = 5.0,
    consent: Annotated[ConsentPhases, typer.Option("--consent", help="Cookie-banner phases of each scan.")] = ConsentPhases.none,
    chromium_arg: Annotated[Optional[list[str]], typer.Option("--chromium-arg", help="Extra Chromium flag (repeatable).")] = None,
) -> None:
    """A local web app: enter an address or upload a HAR, watch the scan, read the report, explore the
    database, download its data. Data stays on this machine."""
    from lanterne.store import StoreError as _StoreError  # noqa: F401 - fail early on a foreign file

    _open_store(db).close()
    config = _scan_config(browser, dwell, 0, 30.0, True, 64 * 1024, list(chromium_arg or []), True, False, consent)
    _serve(db, host, port, token, allow_private, config, queue, upload_mb)


consent_app = typer.Typer(help="Cookie banners: the autoconsent rule set Lanterne uses.", no_args_is_help=True)
app.add_typer(consent_app, name="consent")


@consent_app.command("install")
def consent_install(
    mirror: Annotated[Optional[str], typer.Option("--from", help="Fetch the package from this URL instead of npm.")] = None,
) -> None:
    """Install DuckDuckGo's autoconsent (MPL-2.0, pinned release, integrity-checked) into the cache."""
    from lanterne.capture import autoconsent

    if autoconsent.is_installed() and mirror is None:
        console.print(f"autoconsent {autoconsent.VERSION} is already installed in {_plain(str(autoconsent.install_dir()))}")
        return
    try:
        folder = autoconsent.install(mirror or autoconsent.TARBALL)
    except (OSError, ValueError) as exc:
        fail(f"autoconsent not installed: {exc}")
    console.print(f"autoconsent {autoconsent.VERSION} installed in {_plain(str(folder))} (MPL-2.0)")


lists_app = typer.Typer(help="The tracker and company lists Lanterne uses.", no_args_is_help=True)
app.add_typer(lists_app, name="lists")


@lists_app.command("show")
def lists_show() -> None:
    """Which lists are in use, how many domains each knows, and their licences."""
    from lanterne.detect.lists import cache_dir, company_db

    db = company_db()
    table = Table(title="Tracker and company lists")
    for column in ("List", "Domains", "Licence", "File"):
        table.add_column(column, overflow="fold")
    for info in db.loaded:
        table.add_row(_plain(info.name), str(info.entries), _plain(info.licence), _plain(info.path))
    console.print(table)
    for error in db.errors:
        err_console.print(f"lanterne: warning: tracker list skipped: {error}", markup=False, highlight=False)
    console.print(f"Downloaded lists live in {_plain(str(cache_dir()))} (`lanterne lists update` fetches them).")


@lists_app.command("update")
def lists_update(
    mirror: Annotated[
        Optional[str], typer.Option("--from", help="Fetch from this base URL instead of each list's home.")
    ] = None,
) -> None:
    """Download DuckDuckGo's and Disconnect's lists (not shipped: non-commercial licences) and EasyPrivacy."""
    from lanterne.detect.lists import ListError, update_lists

    try:
        report = update_lists(base_url=mirror)
    except ListError as exc:
        fail(str(exc).splitlines()[0])
    for line in report:
        console.print(_plain(line))


def run() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
