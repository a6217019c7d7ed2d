"""Consent phases, fingerprinting, session recorders and key logging: each detector on a positive and on a
look-alike negative, in real Chromium against the simulated web."""

from __future__ import annotations

import asyncio
import json

import pytest

from conftest import visit_all
from lanterne.capture import Scanner, VisitOptions, autoconsent
from lanterne.capture.interactions import CanaryTyping
from lanterne.crawl.runner import ScanConfig, process_visit, visit_phases
from lanterne.detect.consent import decode_tc_string
from lanterne.records import Visit
from lanterne.report.html import render_site_visits

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not autoconsent.is_installed(), reason="autoconsent not installed: lanterne consent install"),
]

OPTIONS = VisitOptions(dwell=1.0, load_timeout=8, quiet_max=1.5, interactions=[CanaryTyping()])


def phases_of(simweb, url: str, pages: int = 0) -> dict[str, Visit]:
    config = ScanConfig(options=VisitOptions(dwell=1.0, load_timeout=8, quiet_max=1.5, pages=pages,
                                             interactions=[CanaryTyping()]),
                        extra_args=simweb.chromium_args(), phases=("none", "refuse", "accept"))

    async def run() -> list[Visit]:
        async with Scanner(config.options, extra_args=config.extra_args) as scanner:
            return await visit_phases(scanner, url, config)

    return {v.phase: v for v in asyncio.run(run())}


@pytest.fixture(scope="module")
def journal(simweb) -> dict[str, Visit]:
    return phases_of(simweb, "https://www.journal-fr.example/", pages=1)


@pytest.fixture(scope="module")
def respectful(simweb) -> dict[str, Visit]:
    return phases_of(simweb, "https://www.respectueux.example/")


@pytest.fixture(scope="module")
def script_sites(simweb) -> dict[str, Visit]:
    config = ScanConfig(options=OPTIONS, extra_args=simweb.chromium_args(), phases=("none",))
    urls = ["https://www.fingerprint.example/", "https://www.fonts-fp.example/", "https://www.charts.example/",
            "https://www.i18n.example/", "https://www.recorded.example/", "https://www.keylogger.example/",
            "https://www.stealth-check.example/", "https://www.clinic.example/"]

    async def run() -> dict[str, Visit]:
        async with Scanner(config.options, extra_args=config.extra_args) as scanner:
            return {url: (await visit_phases(scanner, url, config))[0] for url in urls}

    return asyncio.run(run())


def kinds(visit: Visit, kind: str) -> list:
    return [f for f in visit.findings if f.kind == kind]


def companies(visit: Visit) -> set[str]:
    return {f.company for f in visit.findings if f.kind == "third_party" and f.company}


# -- consent -----------------------------------------------------------------------------------------------


def test_three_phases_and_the_banner_answered(journal) -> None:
    assert set(journal) == {"none", "refuse", "accept"}
    for phase, visit in journal.items():
        (banner,) = kinds(visit, "consent_banner")
        assert banner.details["platform"] == "didomi" and banner.details["banner_shown"]
        assert banner.details["tcf"]["cmpId"] == 4094
        assert banner.details["answered"] is (phase != "none")
    refused = kinds(journal["refuse"], "consent_banner")[0].details["tcf"]["decoded"]
    accepted = kinds(journal["accept"], "consent_banner")[0].details["tcf"]["decoded"]
    assert refused["purposes_consent"] == [] and refused["vendors_consent"] == []
    assert accepted["purposes_consent"] == list(range(1, 11)) and accepted["vendors_consent"] == [32, 52, 755]
    assert accepted["cmp_id"] == 4094 and accepted["publisher_cc"] == "FR"


def test_sends_to_bytedance_before_consent_and_to_google_and_meta_after_refusal(journal) -> None:
    before = journal["none"]
    landing = {r.site for r in before.requests if r.third_party and r.page_index == 0}
    assert landing == {"tiktok.com", "consent-demo.example"}  # the pixel and the CMP itself, nothing else
    assert "ByteDance" in companies(before)
    assert {f.phase for f in before.findings} == {"none"}
    refused = journal["refuse"]
    # After the refusal: GA4 on the landing page, the Meta pixel on the second page.
    assert {"Google", "Meta"} <= companies(refused)
    meta = [f for f in kinds(refused, "pixel_event") if f.company == "Meta"]
    assert meta and meta[0].details["page_url"] == "https://www.journal-fr.example/politique"
    answered = refused.options["consent"]["answered_at"]
    cited = {r.seq: r for r in refused.requests}
    assert all(cited[s].started_at >= answered for f in refused.findings for s in f.evidence)
    assert {f.phase for f in refused.findings} == {"refuse"}


def test_a_site_that_honours_the_refusal(respectful) -> None:
    assert set(respectful) == {"none", "refuse", "accept"}
    assert companies(respectful["none"]) == set()
    assert companies(respectful["refuse"]) == set()
    assert {"Google", "Meta"} <= companies(respectful["accept"])


def test_consent_phases_in_the_report(journal, respectful) -> None:
    html = render_site_visits([(1, journal["none"]), (2, journal["refuse"]), (3, journal["accept"])], "en")
    assert "Before you answer the cookie banner, this page already tells" in html
    assert "After you refuse cookies, this page still tells" in html
    html = render_site_visits([(4, respectful["none"]), (5, respectful["refuse"])], "fr")
    assert "Après que vous avez refusé les cookies, cette page n’envoie rien" in html


def test_no_banner_no_extra_phases(script_sites) -> None:
    clinic = script_sites["https://www.clinic.example/"]
    assert kinds(clinic, "consent_banner") == []
    assert clinic.options["consent"]["cmp"] is None


def test_tc_string_decoder_refuses_garbage() -> None:
    assert "error" in decode_tc_string("garbage!!") and "error" in decode_tc_string("")


# -- fingerprinting ------------------------------------------------------------------------------------------


def test_canvas_webgl_audio_webrtc_navigator_fingerprinting(script_sites) -> None:
    visit = script_sites["https://www.fingerprint.example/"]
    found = {f.encoding: f for f in kinds(visit, "fingerprinting")}
    assert set(found) == {"canvas", "webgl", "audio", "webrtc", "navigator", "battery"}
    canvas = found["canvas"]
    assert canvas.details["script"] == "https://cdn.fp-metrics.example/fp.js"
    extraction = canvas.details["extractions"][0]
    assert extraction["width"] == 240 and extraction["chars"] >= 10 and extraction["api"] == "canvas.toDataURL"
    assert canvas.evidence and visit.requests[canvas.evidence[0] - 1].url == "https://cdn.fp-metrics.example/fp.js"
    assert 37446 in found["webgl"].details["parameters"]


def test_font_fingerprinting(script_sites) -> None:
    (finding,) = kinds(script_sites["https://www.fonts-fp.example/"], "fingerprinting")
    assert finding.encoding == "canvas_font" and finding.details["fonts_set"] >= 50


def test_chart_on_canvas_and_language_reading_are_not_fingerprinting(script_sites) -> None:
    charts = script_sites["https://www.charts.example/"]
    assert any(c.api == "canvas.fillText" for c in charts.js_calls)  # the probe saw the drawing...
    assert charts.findings == []  # ...and it is not fingerprinting, nor a session recorder
    i18n = script_sites["https://www.i18n.example/"]
    assert [c.api for c in i18n.js_calls] == ["navigator.language"]
    assert i18n.findings == []


# -- session recording and key logging ----------------------------------------------------------------------


def test_session_recorder_by_endpoint_and_behaviour(script_sites) -> None:
    visit = script_sites["https://www.recorded.example/"]
    (recording,) = kinds(visit, "session_recording")
    assert recording.company == "Microsoft" and recording.details["product"] == "Clarity"
    assert len(recording.details["how"]) == 2  # a known recording service, and recorder behaviour
    assert recording.details["uploaded_bytes"] > 2048
    keylog = kinds(visit, "keylogging")
    assert keylog and keylog[0].company == "Microsoft" and "email" in keylog[0].details["fields"]


def test_keylogger_sends_what_is_typed_before_submission(script_sites) -> None:
    visit = script_sites["https://www.keylogger.example/"]
    assert "submitted_at" not in visit.options
    (keylog,) = kinds(visit, "keylogging")
    assert keylog.domain == "form-insights.example" and keylog.before_submit
    assert set(keylog.details["fields"]) == {"email", "first_name", "phone"}
    sent = [json.loads(r.body.text) for r in visit.requests if r.host == "collect.form-insights.example"]
    assert any(item["v"] == visit.options["canary"]["email"] for item in sent)
    assert kinds(visit, "session_recording") == []  # it listens to typing but does not watch the page


def test_no_keylogging_on_a_page_that_sends_nothing_typed(script_sites) -> None:
    assert kinds(script_sites["https://www.charts.example/"], "keylogging") == []


# -- the probe itself ----------------------------------------------------------------------------------------


def test_probe_is_not_detectable_by_trivial_checks_and_breaks_nothing(script_sites) -> None:
    visit = script_sites["https://www.stealth-check.example/"]
    (result,) = [r for r in visit.requests if r.url.endswith("/result")]
    checks = json.loads(result.body.text)
    for key in ("toDataURL", "viaCall", "getter", "ctor", "listen"):
        assert "[native code]" in checks[key], (key, checks[key])
    assert checks["name"] == "toDataURL/0"
    assert checks["globals"] == ""
    assert checks["works"] == "data:image/png;base64,"
    assert checks["audio"] is True
    # And it did see the calls the page made.
    assert any(c.api == "canvas.toDataURL" for c in visit.js_calls)
