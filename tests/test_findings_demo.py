"""Findings on the demo sites, captured in real Chromium with the canary typed into the forms."""

from __future__ import annotations

import hashlib
import json

import pytest

from conftest import visit_all
from lanterne.capture import VisitOptions
from lanterne.capture.interactions import CanaryTyping
from lanterne.detect import analyze
from lanterne.records import Visit

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def typed_visits(simweb) -> dict[str, Visit]:
    urls = ["https://www.clinic.example/", "https://www.plain.example/", "https://www.lookalike.example/"]
    options = VisitOptions(dwell=0.5, load_timeout=8, quiet_max=2, interactions=[CanaryTyping()])
    return dict(zip(urls, visit_all(simweb, urls, options)))


def test_clinic_sends_the_sha256_of_the_typed_email_to_bytedance_before_submission(typed_visits) -> None:
    visit = typed_visits["https://www.clinic.example/"]
    typed = {f["field"] for f in visit.options["canary_fields"]}
    assert typed == {"first_name", "last_name", "email", "phone", "postal_code"}
    assert "submitted_at" not in visit.options
    findings = analyze(visit)
    leaks = [f for f in findings if f.kind == "pii_leak"]
    assert [(f.company, f.data_type, f.encoding, f.before_submit) for f in leaks] == [
        ("ByteDance", "email", "sha256-hex", True)
    ]
    # The hash is recomputed here from the email that was typed, and found in the very request cited.
    expected = hashlib.sha256(visit.options["canary"]["email"].strip().lower().encode()).hexdigest()
    assert leaks[0].details["value_sent"] == expected
    (cited,) = [r for r in visit.requests if r.seq == leaks[0].evidence[0]]
    body = json.loads(cited.body.text)
    assert cited.host == "analytics.tiktok.com" and body["context"]["user"]["email"] == expected
    assert body["event"] == "SubmitForm"
    # The request left the page after typing began and no submission happened at all.
    assert cited.started_at >= visit.options["typed_at"] - 1


def test_clinic_findings_cover_pixel_page_and_cookie(typed_visits) -> None:
    findings = analyze(typed_visits["https://www.clinic.example/"])
    by_kind = {}
    for f in findings:
        by_kind.setdefault(f.kind, []).append(f)
    assert {f.company for f in findings} == {"ByteDance"}
    assert by_kind["pixel_loaded"][0].details["pixel_ids"] == ["CLANTERNEDEMO0PIXEL1"]
    events = [f.details["event"] for f in by_kind["pixel_event"]]
    assert events[:2] == ["Pageview", "Metadata"] and "SubmitForm" in events
    assert all(f.details.get("ttp_cookie_linked") for f in by_kind["pixel_event"] if f.details["event"] != "Metadata")
    assert {f.data_type for f in by_kind["page_data"]} == {"page_url", "page_title"}
    (cookie,) = by_kind["cookie"]
    assert cookie.details["cookies"][0]["name"] == "_ttp" and cookie.details["third_party"] is False


def test_clean_site_has_no_finding(typed_visits) -> None:
    visit = typed_visits["https://www.plain.example/"]
    assert visit.requests and analyze(visit) == []


def test_lookalike_site_produces_no_tracker_and_no_leak(typed_visits) -> None:
    visit = typed_visits["https://www.lookalike.example/"]
    own = [r for r in visit.requests if r.host == "analytics.lookalike.example"]
    assert own and not own[0].third_party
    token = json.loads(own[0].body.text)["session"]
    assert len(token) == 64 and token in [r for r in visit.requests if r.host.startswith("fonts.")][0].url
    assert {f["field"] for f in visit.options["canary_fields"]} == {"email"}
    findings = analyze(visit)
    # The font server is a third party (it gets the visit), nothing more: no owner, no tracking, no leak.
    assert [(f.kind, f.company, f.domain, f.category) for f in findings] == [
        ("third_party", None, "typeface-cdn.example", "unknown")
    ]
