"""The web app, served for real (uvicorn on loopback) and driven in Chromium: scan, progress, report,
explore, language; its guards (private addresses, token, CSRF, upload size, busy); and its API fuzzed from
its own OpenAPI document with schemathesis."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright

from conftest import shared_data
from lanterne.capture import VisitOptions, find_browser
from lanterne.capture.interactions import CanaryTyping
from lanterne.crawl.runner import ScanConfig
from lanterne.simweb import SimulatedWeb
from lanterne.web import AppSettings, create_app
from lanterne.web.security import TargetRefused, check_target

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(settings: AppSettings) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def scan_config(web: SimulatedWeb) -> ScanConfig:
    return ScanConfig(options=VisitOptions(dwell=0.5, load_timeout=5, quiet_max=1, interactions=[CanaryTyping()]),
                      extra_args=web.chromium_args())


@pytest.fixture(scope="module")
def app_url(simweb: SimulatedWeb, tmp_path_factory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("web") / "app.db"
    with serving(AppSettings(db_path=db, scan=scan_config(simweb), allow_private=True, queue_limit=3)) as url:
        yield url


async def _drive(app_url: str, artifacts: Path) -> dict:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=find_browser(), args=["--disable-background-networking"])
        page = await browser.new_page(viewport={"width": 1200, "height": 900}, locale="en-US")
        seen: dict = {"errors": []}
        page.on("pageerror", lambda e: seen["errors"].append(str(e)))
        await page.goto(app_url + "/")
        seen["home"] = await page.inner_text("h1")
        await page.fill("#urls", "https://www.clinic.example/")
        await page.click("#start")
        await page.wait_for_url("**/jobs/*")
        await page.wait_for_selector("#steps li")
        seen["progress"] = await page.inner_text("#steps")
        await page.wait_for_url("**/visits/*/report", timeout=90_000)
        seen["report"] = await page.inner_text(".summary")
        await page.screenshot(path=str(artifacts / "web-report.png"))
        # Explore, then filter by company.
        await page.goto(app_url + "/explore")
        await page.select_option("#company-filter", "ByteDance")
        await page.click("#apply")
        await page.wait_for_load_state()
        seen["filtered"] = await page.eval_on_selector_all("tr.site-row td:first-child a", "els => els.map(e => e.textContent)")
        await page.screenshot(path=str(artifacts / "web-explore.png"))
        await page.click("tr.site-row a[href^=\"/companies/\"]")
        seen["company"] = await page.inner_text(".big")
        # Switch language.
        await page.click("#lang-switch")
        await page.wait_for_load_state()
        seen["switched"] = await page.inner_text("header.bar nav")
        await page.goto(app_url + "/")
        seen["after_switch"] = await page.inner_text("h1")
        await browser.close()
        return seen


def test_scan_progress_report_explore_language(app_url: str, artifacts: Path) -> None:
    seen = asyncio.run(_drive(app_url, artifacts))
    assert seen["home"] == "What does a website do with your data?"
    assert "loading the page" in seen["progress"] or "queued" in seen["progress"]
    assert "ByteDance (TikTok)" in seen["report"]
    assert seen["filtered"] == ["https://www.clinic.example/"]
    assert "ByteDance: 1 of" in seen["company"]
    assert "Explorer" in seen["switched"]
    assert seen["after_switch"] == "Que fait un site web de vos données ?"  # the choice is remembered
    assert seen["errors"] == []


def test_accept_language_chooses_french(app_url: str) -> None:
    resp = httpx.get(app_url + "/", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert resp.status_code == 200 and "Que fait un site web de vos données" in resp.text
    assert "script-src 'self'" in resp.headers["content-security-policy"]


def test_har_upload_analysed(app_url: str) -> None:
    har = shared_data("realworld", "us-health-exchanges", "maine-coverme.gov", "requests.har")
    with httpx.Client(base_url=app_url, follow_redirects=False) as client:
        csrf = client.get("/").cookies.get("lanterne_csrf")
        resp = client.post("/scan", data={"csrf": csrf}, files={"har": ("maine.har", har.read_bytes(), "application/json")})
        assert resp.status_code == 303
        job_id = resp.headers["location"].rsplit("/", 1)[-1]
        for _ in range(120):
            job = client.get(f"/api/jobs/{job_id}").json()
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.5)
        assert job["status"] == "done", job
        report = client.get(job["report"])
        assert "ByteDance (TikTok)" in report.text


def test_forms_need_their_csrf_token(app_url: str) -> None:
    resp = httpx.post(app_url + "/scan", data={"urls": "https://www.clinic.example/", "csrf": "forged"},
                      cookies={"lanterne_csrf": "the-real-one"})
    assert resp.status_code == 403 and "expired" in resp.text


def test_private_addresses_refused(simweb: SimulatedWeb, tmp_path: Path) -> None:
    port = free_port()
    with serving(AppSettings(db_path=tmp_path / "a.db", scan=scan_config(simweb), allow_private=False)) as url:
        for target in (f"http://127.0.0.1:{port}/", "http://localhost/", "http://169.254.169.254/latest/meta-data/",
                       "http://10.0.0.1/", "http://[::1]/"):
            resp = httpx.post(url + "/api/scans", json={"urls": [target]})
            assert resp.status_code == 400, target
            detail = resp.json()["detail"]
            assert "does not scan the network it runs in" in detail or "does not resolve" in detail, detail
        page = httpx.post(url + "/scan", data={"urls": "http://127.0.0.1/", "csrf": "c"}, cookies={"lanterne_csrf": "c"})
        assert page.status_code == 400 and "loopback address" in page.text


def test_names_resolving_to_private_addresses_refused() -> None:
    def fake_resolve(host, port, proto=0):  # noqa: ANN001, ANN202 - a name that points inside the network
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.1.20", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    with pytest.raises(TargetRefused, match="192.168.1.20, a private network address"):
        check_target("https://intranet.example.org/", False, resolve=fake_resolve)
    check_target("https://intranet.example.org/", True, resolve=fake_resolve)  # --allow-private


def test_token_required_beyond_loopback(simweb: SimulatedWeb, tmp_path: Path) -> None:
    with serving(AppSettings(db_path=tmp_path / "t.db", scan=scan_config(simweb), token="s3cret")) as url:
        assert httpx.get(url + "/explore").status_code == 401
        assert httpx.get(url + "/explore", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        with httpx.Client(base_url=url) as client:
            first = client.get("/explore?token=s3cret")
            assert first.status_code == 200 and client.cookies.get("lanterne_token") == "s3cret"
            assert client.get("/api/companies").status_code == 200  # the cookie carries it from then on
    result = subprocess.run([sys.executable, "-m", "lanterne", "serve", "--host", "0.0.0.0", "--db", str(tmp_path / "x.db")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--token" in result.stderr


def test_upload_cap_and_busy_answer(simweb: SimulatedWeb, tmp_path: Path) -> None:
    settings = AppSettings(db_path=tmp_path / "b.db", scan=scan_config(simweb), allow_private=True, queue_limit=1,
                           upload_cap=1024 * 1024)
    with serving(settings) as url, httpx.Client(base_url=url) as client:
        csrf = client.get("/").cookies.get("lanterne_csrf")
        big = client.post("/scan", data={"csrf": csrf}, files={"har": ("big.har", b"x" * (2 * 1024 * 1024), "application/json")})
        assert big.status_code == 413
        first = client.post("/api/scans", json={"urls": ["https://hang.example/"]})
        assert first.status_code == 202
        second = client.post("/api/scans", json={"urls": ["https://www.plain.example/"]})
        assert second.status_code == 429 and "busy" in second.json()["detail"]


def test_api_fuzzed_from_its_openapi_document(simweb: SimulatedWeb, tmp_path: Path) -> None:
    pytest.importorskip("schemathesis")
    with serving(AppSettings(db_path=tmp_path / "f.db", scan=scan_config(simweb), allow_private=False, queue_limit=2)) as url:
        schema = httpx.get(url + "/openapi.json").json()
        assert {"/api/scans", "/api/jobs/{job_id}", "/api/sites", "/api/companies"} <= set(schema["paths"])
        cli = str(Path(sys.executable).parent / "schemathesis")
        result = subprocess.run(
            [cli, "run", url + "/openapi.json", "--checks", "not_a_server_error", "--max-examples", "40",
             "--suppress-health-check", "all"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
