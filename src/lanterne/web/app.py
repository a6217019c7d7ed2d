"""`lanterne serve`: scan a site or read a HAR from a browser, watch the scan, read the report, explore a
database, download its data. Server-rendered pages (Jinja2) with a little script for live progress, and the
same operations as JSON under /api/ (OpenAPI document at /openapi.json)."""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

import lanterne
from lanterne.crawl.runner import ScanConfig
from lanterne.report.i18n import LANGUAGES, N_, Translator, negotiate, translator
from lanterne.report.model import DATA_LABELS, OUTCOME_LABELS
from lanterne.store import Store, StoreError
from lanterne.targets import TargetError, parse_target
from lanterne.web.jobs import JobQueue, QueueFull
from lanterne.web.security import CSRF_COOKIE, TOKEN_COOKIE, TargetRefused, check_target, new_token, same

WEB = Path(str(resources.files("lanterne") / "web"))
LANG_COOKIE = "lanterne_lang"
MAX_TARGETS = 20
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
SORTS = {"site": "s.url", "outcome": "v.outcome", "companies": "n_companies DESC", "visited": "v.started_at DESC"}


@dataclass
class AppSettings:
    db_path: Path
    scan: ScanConfig
    token: str | None = None
    allow_private: bool = False
    queue_limit: int = 4
    upload_cap: int = 50 * 1024 * 1024
    extra: dict[str, Any] = field(default_factory=dict)


# -- API models (they make the OpenAPI document precise) ----------------------------------------------------


class ScanRequest(BaseModel):
    urls: list[str] = Field(..., min_length=1, max_length=MAX_TARGETS, description="Addresses to scan")


class JobOut(BaseModel):
    id: str
    kind: str
    targets: list[str]
    status: str
    steps: list[dict[str, Any]]
    visit_ids: list[int]
    findings: list[dict[str, Any]]
    error: str | None = None
    report: str | None = None


class SiteOut(BaseModel):
    site: str
    visit_id: int
    phase: str
    outcome: str
    title: str | None = None
    companies: list[str]
    data_types: list[str]


class CompanyOut(BaseModel):
    company: str
    sites: int
    total_sites: int
    data_types: dict[str, int]
    site_list: list[str]


class ErrorOut(BaseModel):
    detail: str


def create_app(settings: AppSettings) -> FastAPI:
    Store(settings.db_path).close()  # create (or refuse) the database before serving anything
    jobs = JobQueue(settings.db_path, settings.scan, settings.queue_limit)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.stop()

    app = FastAPI(
        title="Lanterne",
        version=lanterne.__version__,
        description="Scan websites for what they send about their visitors; explore the results.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.jobs = jobs
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=str(WEB / "static")), name="static")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(WEB / "templates")]), autoescape=True,
                             extensions=["jinja2.ext.i18n"])

    # -- access and language ------------------------------------------------------------------------------
    @app.middleware("http")
    async def guard(request: Request, call_next):  # noqa: ANN001, ANN202
        token = settings.token
        set_token_cookie = False
        if token:
            header = request.headers.get("authorization", "")
            given = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
            if not (same(given, token) or same(request.cookies.get(TOKEN_COOKIE), token)):
                if same(request.query_params.get("token"), token):
                    set_token_cookie = True
                else:
                    return JSONResponse({"detail": "this Lanterne server needs its access token (Authorization: Bearer ..., or ?token=...)"},
                                        status_code=401)
        response = await call_next(request)
        if set_token_cookie:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        if response.headers.get("content-type", "").startswith("text/html") and "content-security-policy" not in response.headers:
            response.headers["content-security-policy"] = PAGE_CSP
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "no-referrer"
        return response

    def lang_of(request: Request) -> str:
        asked = request.query_params.get("lang")
        if asked in LANGUAGES:
            return asked
        cookie = request.cookies.get(LANG_COOKIE)
        if cookie in LANGUAGES:
            return cookie
        return negotiate(request.headers.get("accept-language"))

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        lang = lang_of(request)
        t = translator(lang)
        env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)  # type: ignore[attr-defined]
        csrf = request.cookies.get(CSRF_COOKIE) or new_token()
        html = env.get_template(template).render(
            lang=lang, other_lang="fr" if lang == "en" else "en", csrf=csrf, version=lanterne.__version__,
            path=request.url.path, query=str(request.url.query), **context,
        )
        response = HTMLResponse(html, status_code=status)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
        if not request.cookies.get(CSRF_COOKIE):
            response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
        return response

    def store() -> Store:
        return Store(settings.db_path, create=False)

    def validate_targets(raw: list[str], t: Translator) -> tuple[list[str], list[str]]:
        good, errors = [], []
        for text in raw[:MAX_TARGETS]:
            try:
                url = parse_target(text)
                check_target(url, settings.allow_private)
            except (TargetError, TargetRefused) as exc:
                errors.append(str(exc))
                continue
            if url not in good:
                good.append(url)
        return good, errors

    # -- pages --------------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        return page(request, "scan.html", errors=[], value="")

    @app.post("/scan", response_class=HTMLResponse, include_in_schema=False)
    async def scan_form(request: Request) -> Response:
        t = translator(lang_of(request))
        length = int(request.headers.get("content-length") or 0)
        if length > settings.upload_cap:
            return page(request, "scan.html", status=413, value="",
                        errors=[t("The file is larger than this server accepts (%(mb)s MB).") % {"mb": settings.upload_cap // 2**20}])
        form = await request.form(max_part_size=settings.upload_cap)
        if not same(str(form.get("csrf") or ""), request.cookies.get(CSRF_COOKIE)):
            return page(request, "scan.html", status=403, value="", errors=[t("The form has expired; please send it again.")])
        upload = form.get("har")
        try:
            if upload is not None and getattr(upload, "filename", ""):
                folder = Path(tempfile.mkdtemp(prefix="lanterne-upload-"))
                target = folder / "upload.har"
                with open(target, "wb") as fh:
                    shutil.copyfileobj(upload.file, fh)
                job = jobs.submit("har", [upload.filename], har_path=str(target))
                return RedirectResponse(f"/jobs/{job.id}", status_code=303)
            raw = [line.strip() for line in str(form.get("urls") or "").splitlines() if line.strip()]
            if not raw:
                return page(request, "scan.html", status=400, value="", errors=[t("Give at least one address.")])
            good, errors = validate_targets(raw, t)
            if errors or not good:
                return page(request, "scan.html", status=400, value=str(form.get("urls") or ""), errors=errors)
            job = jobs.submit("scan", good)
        except QueueFull as exc:
            return page(request, "scan.html", status=429, value=str(form.get("urls") or ""), errors=[t("Busy: %(why)s") % {"why": exc}])
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    @app.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(request: Request, job_id: str) -> HTMLResponse:
        job = jobs.get(job_id)
        if job is None:
            return page(request, "error.html", status=404, message=N_("No such scan."))
        return page(request, "job.html", job=job.public())

    @app.get("/visits/{visit_id}/report", response_class=HTMLResponse, include_in_schema=False)
    def visit_report(request: Request, visit_id: int = PathParam(..., ge=1, le=2**62)) -> HTMLResponse:
        from lanterne.cli import _phase_visits
        from lanterne.report.html import render_site_visits

        with store() as db:
            try:
                ids = _phase_visits(db, visit_id)
                html = render_site_visits([(i, db.load_visit(i)) for i in ids], lang_of(request))
            except (StoreError, TypeError):
                return page(request, "error.html", status=404, message=N_("No such visit."))
        response = HTMLResponse(html)
        response.headers["content-security-policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        return response

    @app.get("/explore", response_class=HTMLResponse, include_in_schema=False)
    def explore(request: Request, q: str = "", company: str = "", data_type: str = "", phase: str = "",
                outcome: str = "", sort: str = "site") -> HTMLResponse:
        with store() as db:
            rows = site_rows(db, q, company, data_type, phase, outcome, sort)
            companies = [r[0] for r in db.conn.execute(
                "SELECT DISTINCT company FROM findings WHERE company IS NOT NULL ORDER BY company")]
        return page(request, "explore.html", rows=rows, companies=companies, q=q, company=company, data_type=data_type,
                    phase=phase, outcome=outcome, sort=sort, data_labels=DATA_LABELS, outcome_labels=OUTCOME_LABELS)

    @app.get("/companies/{name}", response_class=HTMLResponse, include_in_schema=False)
    def company_page(request: Request, name: str) -> HTMLResponse:
        with store() as db:
            info = company_info(db, name)
        if info is None:
            return page(request, "error.html", status=404, message=N_("No such company in this database."))
        return page(request, "company.html", info=info, data_labels=DATA_LABELS)

    @app.get("/download/{fmt}", include_in_schema=False)
    def download(fmt: str) -> Response:
        from lanterne.store.export import export_store

        if fmt not in ("json", "csv", "parquet"):
            raise HTTPException(404, "formats: json, csv, parquet")
        folder = Path(tempfile.mkdtemp(prefix="lanterne-export-"))
        with store() as db:
            target = export_store(db, fmt, folder / ("lanterne.json" if fmt == "json" else fmt))
        if fmt == "json":
            return FileResponse(target, media_type="application/json", filename="lanterne-export.json")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(target.iterdir()):
                archive.write(file, file.name)
        shutil.rmtree(folder, ignore_errors=True)
        return Response(buffer.getvalue(), media_type="application/zip",
                        headers={"content-disposition": f'attachment; filename="lanterne-{fmt}.zip"'})

    # -- API ------------------------------------------------------------------------------------------------
    @app.post("/api/scans", response_model=JobOut, status_code=202,
              responses={400: {"model": ErrorOut}, 429: {"model": ErrorOut}, 415: {"model": ErrorOut}})
    async def api_scan(request: Request, body: ScanRequest) -> JSONResponse:
        """Start scanning up to 20 addresses; poll /api/jobs/{id} for progress."""
        if not request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse({"detail": "send JSON (Content-Type: application/json)"}, status_code=415)
        good, errors = validate_targets(body.urls, translator("en"))
        if errors or not good:
            return JSONResponse({"detail": "; ".join(errors) or "no address"}, status_code=400)
        try:
            job = jobs.submit("scan", good)
        except QueueFull as exc:
            return JSONResponse({"detail": f"busy: {exc}"}, status_code=429)
        return JSONResponse(job.public(), status_code=202)

    @app.get("/api/jobs/{job_id}", response_model=JobOut, responses={404: {"model": ErrorOut}})
    def api_job(job_id: str) -> JSONResponse:
        """A scan's progress: its steps, findings so far, and, when done, its report."""
        job = jobs.get(job_id)
        if job is None:
            return JSONResponse({"detail": "no such scan"}, status_code=404)
        return JSONResponse(job.public())

    @app.get("/api/sites", response_model=list[SiteOut])
    def api_sites(q: str = Query("", max_length=500), company: str = Query("", max_length=200),
                  data_type: str = Query("", max_length=100), phase: str = Query("", max_length=20),
                  outcome: str = Query("", max_length=50), sort: str = Query("site", max_length=20)) -> list[dict[str, Any]]:
        """Sites with their latest visit per consent phase, filtered and sorted as on the explore page."""
        with store() as db:
            rows = site_rows(db, q, company, data_type, phase, outcome, sort)
        return [{"site": r["url"], "visit_id": r["visit_id"], "phase": r["phase"], "outcome": r["outcome"], "title": r["title"],
                 "companies": r["companies"], "data_types": r["data_types"]} for r in rows]

    @app.get("/api/companies", response_model=list[CompanyOut])
    def api_companies() -> list[dict[str, Any]]:
        """Every company that receives something, with on how many sites and what."""
        with store() as db:
            names = [r[0] for r in db.conn.execute("SELECT DISTINCT company FROM findings WHERE company IS NOT NULL")]
            infos = [company_info(db, n) for n in names]
        return sorted((i for i in infos if i), key=lambda i: -i["sites"])

    @app.get("/api/companies/{name}", response_model=CompanyOut, responses={404: {"model": ErrorOut}})
    def api_company(name: str) -> JSONResponse:
        with store() as db:
            info = company_info(db, name)
        if info is None:
            return JSONResponse({"detail": "no such company in this database"}, status_code=404)
        return JSONResponse(info)

    @app.get("/api/visits/{visit_id}", responses={404: {"model": ErrorOut}})
    def api_visit(visit_id: int = PathParam(..., ge=1, le=2**62)) -> JSONResponse:
        """One visit: its outcome and findings (the raw records are in the exports)."""
        with store() as db:
            try:
                visit = db.load_visit(visit_id)
            except StoreError:
                return JSONResponse({"detail": "no such visit"}, status_code=404)
        return JSONResponse({
            "visit_id": visit_id, "target": visit.target, "phase": visit.phase, "outcome": visit.outcome.value,
            "reason": visit.reason, "title": visit.title, "requests": len(visit.requests),
            "findings": [{"kind": f.kind, "company": f.company, "domain": f.domain, "data_type": f.data_type,
                          "encoding": f.encoding, "summary": f.summary, "evidence": f.evidence, "phase": f.phase}
                         for f in visit.findings],
        })

    return app


def site_rows(db: Store, q: str, company: str, data_type: str, phase: str, outcome: str, sort: str) -> list[dict[str, Any]]:
    where = ["v.id IN (SELECT MAX(id) FROM visits GROUP BY site_id, phase)"]
    params: list[Any] = []
    if q:
        where.append("(s.url LIKE ? OR IFNULL(v.title, '') LIKE ?)")
        params += [f"%{q}%", f"%{q}%"]
    if company:
        where.append("EXISTS (SELECT 1 FROM findings f WHERE f.visit_id = v.id AND f.company = ?)")
        params.append(company)
    if data_type:
        where.append("EXISTS (SELECT 1 FROM findings f WHERE f.visit_id = v.id AND f.data_type = ?)")
        params.append(data_type)
    if phase:
        where.append("v.phase = ?")
        params.append(phase)
    if outcome == "failed":
        where.append("v.outcome != 'ok'")
    elif outcome:
        where.append("v.outcome = ?")
        params.append(outcome)
    order = SORTS.get(sort, SORTS["site"])
    sql = f"""SELECT s.url, v.id AS visit_id, v.phase, v.outcome, v.reason, v.title,
                     (SELECT GROUP_CONCAT(DISTINCT f.company) FROM findings f WHERE f.visit_id = v.id AND f.company IS NOT NULL) AS companies,
                     (SELECT COUNT(DISTINCT f.company) FROM findings f WHERE f.visit_id = v.id AND f.company IS NOT NULL) AS n_companies,
                     (SELECT GROUP_CONCAT(DISTINCT f.data_type) FROM findings f WHERE f.visit_id = v.id) AS data_types
              FROM visits v JOIN sites s ON s.id = v.site_id WHERE {' AND '.join(where)} ORDER BY {order}, v.id LIMIT 2000"""  # noqa: S608 - order is from a whitelist
    rows = []
    for r in db.conn.execute(sql, params):
        row = dict(r)
        row["companies"] = sorted((row["companies"] or "").split(",")) if row["companies"] else []
        row["data_types"] = sorted(t for t in (row["data_types"] or "").split(",") if t and t != "consent")
        rows.append(row)
    return rows


def company_info(db: Store, name: str) -> dict[str, Any] | None:
    total = db.conn.execute("SELECT COUNT(DISTINCT site_id) FROM visits").fetchone()[0]
    rows = db.conn.execute(
        "SELECT s.url, f.data_type FROM findings f JOIN visits v ON v.id = f.visit_id JOIN sites s ON s.id = v.site_id "
        "WHERE f.company = ?", (name,)
    ).fetchall()
    if not rows:
        return None
    sites = sorted({r[0] for r in rows})
    data: dict[str, set[str]] = {}
    for url, data_type in rows:
        data.setdefault(data_type or "visit", set()).add(url)
    return {"company": name, "sites": len(sites), "total_sites": total,
            "data_types": {k: len(v) for k, v in sorted(data.items(), key=lambda kv: -len(kv[1]))}, "site_list": sites}

