"""HTML reports rendered in real Chromium: summary, evidence links, charts, both languages, and hostile
content shown as text, never run. Screenshots land in test-artifacts/reports/ for a person to look at."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from conftest import visit_all
from lanterne.capture import VisitOptions, find_browser
from lanterne.capture.interactions import CanaryTyping
from lanterne.crawl.runner import process_visit
from lanterne.report.html import render_crawl_report, render_site_report, write_report
from lanterne.simweb.sites import XSS_SITE
from lanterne.store import Store

pytestmark = pytest.mark.browser

SITES = ["https://www.clinic.example/", "https://www.news.example/", "https://www.plain.example/", XSS_SITE,
         "https://hang.example/"]


@pytest.fixture(scope="module")
def store(simweb, tmp_path_factory) -> Store:
    options = VisitOptions(dwell=0.5, load_timeout=4, quiet_max=1, screenshot=True, interactions=[CanaryTyping()])
    store = Store(tmp_path_factory.mktemp("reports") / "r.db")
    for visit in visit_all(simweb, SITES, options):
        store.save_visit(process_visit(visit))
    return store


def _visit_id(store: Store, target: str) -> int:
    return next(row["id"] for row in store.visit_summaries() if row["target"] == target)


async def _open(path: Path, screenshot: Path) -> dict:
    """Load a report from disk in Chromium; collect console errors, dialogs, and what scripts could do."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=find_browser(), args=["--disable-background-networking"])
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        dialogs: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
        page.on("request", lambda r: requests.append(r.url))
        await page.goto(path.as_uri())
        await page.wait_for_timeout(300)
        result = {
            "errors": errors,
            "dialogs": dialogs,
            "requests": [u for u in requests if not u.startswith(("file:", "data:"))],
            "pwned": await page.evaluate("() => window.__pwned === undefined ? null : window.__pwned"),
            # Everything, with every disclosure opened, as a reader would see it.
            "text": await page.evaluate(
                "() => { document.querySelectorAll('details').forEach(d => d.open = true); return document.body.innerText; }"
            ),
            "summary": await page.inner_text(".summary") if await page.query_selector(".summary") else "",
            "imgs_x": await page.evaluate("() => document.querySelectorAll('img[src=\"x\"], svg[onload], script').length"),
            "svg": await page.evaluate("() => document.querySelectorAll('svg.chart').length"),
            "links": await page.evaluate(
                "() => Array.from(document.querySelectorAll('a[href]'), a => a.getAttribute('href'))"
            ),
        }
        # Following an evidence link lands on the request it names.
        evidence = await page.query_selector(".evidence a")
        if evidence is not None:
            target = await evidence.get_attribute("href")
            await evidence.click()
            result["evidence_target"] = target
            result["evidence_exists"] = await page.evaluate(
                "(id) => !!document.getElementById(id)", target.split("#", 1)[1]
            )
            result["hash"] = await page.evaluate("() => location.hash")
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(screenshot), full_page=True)
        await browser.close()
        return result


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_site_report(store: Store, artifacts: Path, lang: str) -> None:
    visit_id = _visit_id(store, "https://www.clinic.example/")
    path = write_report(render_site_report(store.load_visit(visit_id), visit_id, lang), artifacts / "reports" / f"clinic.{lang}.html")
    seen = asyncio.run(_open(path, artifacts / "reports" / f"clinic.{lang}.png"))
    expected = {
        "en": "When you visit this page, it tells ByteDance (TikTok) which page you read, sends a hash of the email "
              "address you typed (before you even send the form)",
        "fr": "Quand vous consultez cette page, elle indique à ByteDance (TikTok) quelle page vous lisez, lui envoie "
              "une empreinte (hash) de l’adresse e-mail que vous avez saisie (avant même que vous n’envoyiez le formulaire)",
    }[lang]
    assert expected in seen["summary"]
    assert seen["errors"] == [] and seen["dialogs"] == [] and seen["requests"] == []
    assert seen["evidence_exists"] and seen["hash"] == seen["evidence_target"] and re.match(r"#v\d+-req-\d+$", seen["hash"])
    # Every in-page link points at something in the page; none leads anywhere else.
    assert all(link.startswith("#") for link in seen["links"])
    assert "CLANTERNEDEMO0PIXEL1" in seen["text"]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_crawl_report(store: Store, artifacts: Path, lang: str) -> None:
    path = write_report(render_crawl_report(store, lang), artifacts / "reports" / f"crawl.{lang}.html")
    seen = asyncio.run(_open(path, artifacts / "reports" / f"crawl.{lang}.png"))
    assert seen["svg"] == 2  # companies by share of sites, and the site x company matrix
    assert seen["errors"] == [] and seen["dialogs"] == [] and seen["requests"] == []
    heading = {"en": "Sites that leak personal data", "fr": "Sites qui laissent fuir des données personnelles"}[lang]
    assert heading in seen["text"]
    failed = {"en": "timed out", "fr": "délai dépassé"}[lang]
    assert "ByteDance (TikTok)" in seen["text"] and failed in seen["text"]  # the hang site's failure
    assert all(link.startswith("#") for link in seen["links"])


def test_hostile_site_report_runs_nothing_and_shows_everything(store: Store, artifacts: Path) -> None:
    visit_id = _visit_id(store, XSS_SITE)
    visit = store.load_visit(visit_id)
    assert visit.title and "<script>" in visit.title  # the capture kept the hostile title as it was
    html = render_site_report(visit, visit_id, "en")
    assert "<script>window.__pwned" not in html and "<img src=x" not in html
    assert 'href="javascript:' not in html
    path = write_report(html, artifacts / "reports" / "hostile.en.html")
    seen = asyncio.run(_open(path, artifacts / "reports" / "hostile.en.png"))
    assert seen["pwned"] is None and seen["dialogs"] == [] and seen["imgs_x"] == 0
    assert seen["errors"] == [] and seen["requests"] == []
    # Shown as text: the title, the address, the stored key, the tracker's payload, the javascript: link.
    for text in ('<script>window.__pwned=1</script>">', "xss.example", '<svg onload="window.__pwned=5">',
                 "javascript:window.__pwned=8", "window.__pwned=7"):
        assert text in seen["text"], text
    crawl = write_report(render_crawl_report(store, "en"), artifacts / "reports" / "crawl-hostile.en.html")
    seen = asyncio.run(_open(crawl, artifacts / "reports" / "crawl-hostile.en.png"))
    assert seen["pwned"] is None and seen["imgs_x"] == 0 and seen["dialogs"] == []


def test_long_values_are_cut_in_view_with_the_full_value_kept(store: Store) -> None:
    visit_id = _visit_id(store, "https://www.clinic.example/")
    html = render_site_report(store.load_visit(visit_id), visit_id, "en")
    post = next(r for r in store.load_visit(visit_id).requests if r.url.endswith("/api/v2/pixel/act"))
    assert len(post.body.text) > 300
    from markupsafe import escape

    assert str(escape(post.body.text)) in html  # the full body, inside a <details> element
    assert "<details><summary class=\"mono\">" in html


def test_report_command(store: Store, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "r.html"
    result = subprocess.run([sys.executable, "-m", "lanterne", "report", str(store.path), "--site", "www.clinic.example",
                             "-o", str(out), "--lang", "fr"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Quand vous consultez cette page" in out.read_text()
    result = subprocess.run([sys.executable, "-m", "lanterne", "report", str(store.path), "--site", "nowhere.example"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "no visit of https://nowhere.example/" in result.stderr
