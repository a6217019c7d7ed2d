"""`lanterne analyze` on ten real Blacklight captures of US health-exchange sites, against Blacklight's
own verdicts on the same visits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, shared_data
from lanterne.validation import compare_with_lists, render_markdown

SITES = [
    "colorado-connectforhealthco.com", "connecticut-accesshealthct.com", "georgia-georgiaaccess.gov",
    "idaho-yourhealthidaho.org", "kentucky-kynect.ky.gov", "maine-coverme.gov",
    "maryland-marylandhealthconnection.gov", "minnesota-mnsure.org", "pennsylvania-pennie.com",
    "vermont-portal.healthconnect.vermont.gov",
]


@pytest.fixture(scope="module")
def captures() -> Path:
    return shared_data("realworld", "us-health-exchanges")


@pytest.fixture(scope="module")
def bundled(captures: Path):
    return {c.site: c for c in compare_with_lists(captures, None)}


@pytest.fixture(scope="module")
def full(captures: Path):
    return {c.site: c for c in compare_with_lists(captures, shared_data("lists"))}


def test_all_ten_sites_analysed(bundled) -> None:
    assert sorted(bundled) == SITES
    for comparison in bundled.values():
        assert len(comparison.visit.requests) > 30 and comparison.visit.cookies


def test_bytedance_found_exactly_where_the_har_contacts_tiktok(bundled) -> None:
    contacts = {site for site, c in bundled.items() if c.tiktok_in_har}
    assert contacts == {"colorado-connectforhealthco.com", "maine-coverme.gov"}
    assert {site for site, c in bundled.items() if c.bytedance_found} == contacts


def test_colorado_tiktok_pixel_events_decoded(bundled) -> None:
    findings = bundled["colorado-connectforhealthco.com"].findings
    tiktok = [f for f in findings if f.company == "ByteDance" and f.kind == "pixel_event"]
    codes = {code for f in tiktok for code in f.details["pixel_ids"]}
    assert codes == {"C8J7IKS8D8GECQQUIMM0", "CE9020JC77UFTJ8G40I0"}
    pageviews = [f for f in tiktok if f.details["event"] == "Pageview"]
    assert len(pageviews) == 2 and {f.details["page_url"] for f in pageviews} == {"https://connectforhealthco.com/"}
    metadata = [f for f in tiktok if f.details["kind"] == "metadata"]
    assert metadata and "open_graph" in str(metadata[0].details["extra"]["auto_collected_properties"])
    assert all(f.details["extra"]["anonymous_id"].endswith("_.tt.1") for f in pageviews)
    loaders = [f for f in findings if f.kind == "pixel_loaded" and f.company == "ByteDance"]
    assert {f.details["pixel_ids"][0] for f in loaders} == codes
    page = [f for f in findings if f.company == "ByteDance" and f.kind == "page_data"]
    assert {f.data_type for f in page} >= {"page_url"}


def test_facebook_pixel_events_blacklight_lists_are_found(bundled) -> None:
    for site, comparison in bundled.items():
        assert comparison.fb_events_blacklight <= comparison.fb_events_ours, site
    assert sum(len(c.fb_events_blacklight) for c in bundled.values()) == 12


def test_companies_compared_with_blacklight(bundled, full) -> None:
    for comparisons in (bundled, full):
        for site, c in comparisons.items():
            for company in c.blacklight - c.ours:
                assert c.reasons[company], (site, company)
    # With all lists, every company Blacklight names and Lanterne does not has a specific, checked reason:
    # its requests are missing from the saved HAR, or our lists name a different owner for them.
    for site, c in full.items():
        for company in c.blacklight - c.ours:
            assert c.reasons[company].startswith(("Blacklight's inspection lists requests", "requests to")), (site, company)
    found = sum(len(c.blacklight & c.ours) for c in full.values())
    total = sum(len(c.blacklight) for c in full.values())
    assert total == 77 and found / total >= 0.9


def test_validation_document_is_current(captures: Path, bundled, full) -> None:
    committed = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
    fresh = render_markdown(list(full.values()), captures, list(bundled.values()))
    assert committed == fresh, "docs/validation.md is stale: re-run the command at its top"


def test_analyze_command_on_colorado(captures: Path, tmp_path: Path) -> None:
    folder = captures / "colorado-connectforhealthco.com"
    result = subprocess.run(
        [sys.executable, "-m", "lanterne", "analyze", str(folder / "requests.har"), "--cookies",
         str(folder / "browser-cookies.json"), "--db", str(tmp_path / "a.db")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "ByteDance (TikTok)" in result.stdout and "Analysed 143 of 143 entries" in result.stdout
