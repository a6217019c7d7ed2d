"""The capture engine in real Chromium against the simulated web: each recorded field, each hostile site."""

from __future__ import annotations

import asyncio
import json
import time

import psutil
import pytest

from conftest import FAST, visit_all, visit_one
from lanterne.capture import Scanner, VisitOptions
from lanterne.capture.har import visit_to_har
from lanterne.records import Outcome, Visit, header_value
from lanterne.simweb.sites import HUGE_BODY_BYTES, META_PIXEL_ID, TIKTOK_PIXEL_CODE

pytestmark = pytest.mark.browser

CHROMIUM_SERVICE_HOSTS = (
    "google.com",
    "googleapis.com",
    "gstatic.com",
    "gvt1.com",
    "googleusercontent.com",
)


def _requests_to(visit: Visit, host: str, path: str | None = None) -> list:
    return [r for r in visit.requests if r.host == host and (path is None or r.url.split("?")[0].endswith(path))]


def test_clinic_pixel_loader_and_both_post_bodies(demo_visits: dict[str, Visit]) -> None:
    visit = demo_visits["https://www.clinic.example/"]
    assert visit.outcome is Outcome.OK
    assert visit.title == "Clinique Exemple – Sexual health and HIV testing"
    assert visit.final_url == "https://www.clinic.example/"
    assert visit.document_status == 200

    loader = _requests_to(visit, "analytics.tiktok.com", "/i18n/pixel/events.js")
    assert len(loader) == 1
    assert f"sdkid={TIKTOK_PIXEL_CODE}" in loader[0].url
    assert loader[0].resource_type == "script"
    assert loader[0].third_party
    assert loader[0].response is not None and loader[0].response.status == 200

    pageview = _requests_to(visit, "analytics.tiktok.com", "/api/v2/pixel")
    act = _requests_to(visit, "analytics.tiktok.com", "/api/v2/pixel/act")
    assert len(pageview) == 1 and len(act) == 1
    for req in pageview + act:
        assert req.method == "POST"
        assert req.body is not None and req.body.encoding == "utf-8" and not req.body.truncated
        # The initiator is the pixel script, read from Chromium's initiator stack.
        assert req.initiator_type == "script"
        assert req.initiator_url is not None and "/i18n/pixel/events.js" in req.initiator_url
        assert req.initiator_stack and req.initiator_stack[0]["url"] == req.initiator_url
        assert req.frame_url == "https://www.clinic.example/"
        assert header_value(req.headers, "content-type") == "text/plain;charset=UTF-8"
    body = json.loads(pageview[0].body.text)
    assert body["event"] == "Pageview"
    assert body["context"]["pixel"]["code"] == TIKTOK_PIXEL_CODE
    assert body["context"]["page"]["url"] == "https://www.clinic.example/"
    meta = json.loads(act[0].body.text)
    assert meta["action"] == "Metadata"
    assert "Sexual health" in meta["auto_collected_properties"]["content_data"]["title"]


def test_clinic_cookies_first_party_ttp_and_header_cookie(demo_visits: dict[str, Visit]) -> None:
    visit = demo_visits["https://www.clinic.example/"]
    cookies = {c.name: c for c in visit.cookies}
    ttp = cookies["_ttp"]
    assert not ttp.third_party and ttp.site == "clinic.example"
    assert ttp.expires is not None and ttp.expires > time.time() + 300 * 86400  # about 13 months
    anonymous_id = json.loads(_requests_to(visit, "analytics.tiktok.com", "/api/v2/pixel")[0].body.text)
    assert anonymous_id["context"]["user"]["anonymous_id"].startswith(ttp.value)
    session = cookies["clinic_session"]
    assert session.http_only and session.secure and session.expires is None
    # The Set-Cookie header as really sent by the server is on the document's response.
    document = visit.requests[0]
    assert document.is_navigation and document.resource_type == "document"
    assert any(line.startswith("clinic_session=") for line in document.response.set_cookies)
    # Later first-party requests carry the cookie in the Cookie header Chromium really sent.
    css = _requests_to(visit, "www.clinic.example", "/style.css")[0]
    assert "clinic_session=" in (header_value(css.headers, "cookie") or "")


def test_request_timing_headers_and_response_fields(demo_visits: dict[str, Visit]) -> None:
    visit = demo_visits["https://www.clinic.example/"]
    seqs = [r.seq for r in visit.requests]
    assert seqs == list(range(1, len(seqs) + 1))
    for req in visit.requests:
        assert req.timing is not None and req.timing["startTime"] > 0
        assert abs(req.started_at - visit.started_at) < 60
        assert header_value(req.headers, "user-agent") and "Headless" not in header_value(req.headers, "user-agent")
        assert req.response is not None
        assert req.response.mime_type
        assert req.response.remote_address == "127.0.0.1"
        assert req.response.encoded_size and req.response.encoded_size > 0


def test_news_meta_ga4_third_party_cookie_websocket_and_storage(demo_visits: dict[str, Visit]) -> None:
    visit = demo_visits["https://www.news.example/"]
    assert visit.outcome is Outcome.OK
    tr = _requests_to(visit, "www.facebook.com", "/tr/")
    assert {("id=" + META_PIXEL_ID) in r.url for r in tr} == {True}
    assert any("ev=PageView" in r.url for r in tr) and any("ev=ViewContent" in r.url for r in tr)
    collect = _requests_to(visit, "www.google-analytics.com", "/g/collect")
    assert collect and "en=page_view" in collect[0].url and "tid=G-DEMONEWS01" in collect[0].url
    cookies = {c.name: c for c in visit.cookies}
    assert cookies["fr"].third_party and cookies["fr"].site == "facebook.com" and cookies["fr"].http_only
    assert any(line.startswith("fr=") for r in tr for line in r.response.set_cookies)
    for name in ("_fbp", "_ga", "_ga_DEMONEWS01"):
        assert not cookies[name].third_party
    # WebSocket frames the page sent.
    sent = [f for f in visit.websocket_frames if f.direction == "sent"]
    assert sent and sent[0].url == "wss://live.news.example/comments"
    assert json.loads(sent[0].payload)["subscribe"] == "article-42"
    # Storage: end-of-visit snapshot and the writes as they happened.
    storage = {(s.kind, s.key): s for s in visit.storage}
    assert json.loads(storage[("local", "reader_prefs")].value)["theme"] == "light"
    assert ("session", "visit_start") in storage
    assert {w.key for w in visit.storage_writes} >= {"reader_prefs", "visit_start"}


def test_iframe_and_worker_requests_are_recorded(demo_visits: dict[str, Visit]) -> None:
    visit = demo_visits["https://www.news.example/"]
    count = _requests_to(visit, "widgets.comments.example", "/api/count")
    assert len(count) == 1
    assert count[0].frame_url == "https://widgets.comments.example/embed?article=42"
    assert count[0].initiator_url == "https://widgets.comments.example/embed?article=42"
    assert count[0].third_party
    ping = _requests_to(visit, "www.news.example", "/api/worker-ping")
    assert len(ping) == 1 and ping[0].body.text == "worker=stats"
    assert not ping[0].third_party


def test_clean_site_has_zero_third_party_requests(demo_visits: dict[str, Visit]) -> None:
    visit = demo_visits["https://www.plain.example/"]
    assert visit.outcome is Outcome.OK
    assert len(visit.requests) >= 5
    assert visit.third_party_requests == []
    assert all(not c.third_party for c in visit.cookies)
    hit = _requests_to(visit, "www.plain.example", "/api/hit")[0]
    assert hit.method == "POST" and json.loads(hit.body.text) == {"path": "/"}


def test_chromium_background_traffic_is_not_recorded(demo_visits: dict[str, Visit], simweb) -> None:
    recorded = {r.host for v in demo_visits.values() for r in v.requests}
    assert recorded  # the check below means something only if requests were recorded
    for host in recorded:
        assert not any(host == h or host.endswith("." + h) for h in CHROMIUM_SERVICE_HOSTS), host
    # Every recorded request really reached the simulated web (nothing invented, nothing from elsewhere).
    served = {r.host for r in simweb.requests_seen()}
    assert recorded <= served | {"live.news.example"}


def test_har_file_matches_records(demo_visits: dict[str, Visit]) -> None:
    visit = demo_visits["https://www.news.example/"]
    har = visit_to_har(visit)
    json.dumps(har)  # serialisable
    log = har["log"]
    assert log["version"] == "1.2"
    http_entries = [e for e in log["entries"] if e.get("_resourceType") != "websocket" or "_lanterneSeq" in e]
    assert len(http_entries) == len(visit.requests)
    ws = [e for e in log["entries"] if e["request"]["url"].startswith("wss://")]
    assert ws and ws[0]["_webSocketMessages"][0]["type"] == "send"
    for entry, req in zip(http_entries, visit.requests):
        assert entry["request"]["url"] == req.url
        assert entry["response"]["status"] == (req.response.status if req.response else 0)
        assert entry["startedDateTime"].endswith("Z")


def test_redirect_chain_is_recorded(simweb) -> None:
    visit = visit_one(simweb, "https://clinic.example/")
    first, second = visit.requests[0], visit.requests[1]
    assert first.url == "https://clinic.example/" and first.response.status == 301
    assert header_value(first.response.headers, "location") == "https://www.clinic.example/"
    assert second.url == "https://www.clinic.example/" and second.redirected_from == first.seq
    assert visit.final_url == "https://www.clinic.example/"
    # Both the asked-for and the final registrable domain count as first party.
    assert visit.first_party_sites == ["clinic.example"]


def test_follow_links_and_screenshot(simweb) -> None:
    options = VisitOptions(dwell=0.3, load_timeout=8, quiet_max=1, pages=1, screenshot=True)
    visit = visit_one(simweb, "https://www.clinic.example/", options)
    assert visit.outcome is Outcome.OK
    assert visit.pages == ["https://www.clinic.example/", "https://www.clinic.example/appointments"]
    second_page = [r for r in visit.requests if r.page_index == 1]
    assert any(r.url == "https://www.clinic.example/appointments" for r in second_page)
    assert any("/api/v2/pixel" in r.url for r in second_page)
    assert visit.screenshot is not None and visit.screenshot.startswith(b"\x89PNG")


def test_body_cap(simweb) -> None:
    visit = visit_one(simweb, "https://www.clinic.example/", VisitOptions(dwell=0.3, load_timeout=8, body_cap=100))
    post = _requests_to(visit, "analytics.tiktok.com", "/api/v2/pixel")[0]
    assert post.body.truncated and len(post.body.text) == 100 and post.body.size > 100


# -- hostile sites and failures ---------------------------------------------------------------------------


def test_hostile_sites(simweb) -> None:
    options = VisitOptions(dwell=0.3, load_timeout=4, quiet_max=1)
    started = time.monotonic()
    hang, loop, huge, dialogs = visit_all(
        simweb,
        ["https://hang.example/", "https://loop.example/", "https://huge.example/", "https://dialogs.example/"],
        options,
    )
    # Never finishes loading: a timeout, with what was captured so far, within the time box.
    assert hang.outcome is Outcome.TIMEOUT and "load event" in hang.reason
    assert hang.requests[0].url == "https://hang.example/" and hang.requests[0].response.status == 200
    assert hang.title == "Hang Example"
    assert hang.finished_at - hang.started_at < options.hard_timeout()
    # Redirect loop: the outcome says so, and the chain is kept.
    assert loop.outcome is Outcome.REDIRECT_LOOP
    assert len(loop.requests) >= 10 and loop.requests[5].redirected_from == loop.requests[4].seq
    # Huge response: loaded, its size recorded, its body never stored.
    assert huge.outcome is Outcome.OK
    assert huge.requests[0].response.encoded_size >= HUGE_BODY_BYTES
    # Dialogs: dismissed and recorded, the visit goes on.
    assert dialogs.outcome is Outcome.OK
    assert [d.type for d in dialogs.dialogs] == ["alert", "confirm", "prompt", "alert"]
    assert dialogs.dialogs[0].message == "first alert"
    assert time.monotonic() - started < 60


def test_network_failures_are_outcomes_and_the_scan_goes_on(simweb) -> None:
    visits = visit_all(
        simweb,
        [
            "https://nxdomain.example/",
            "https://refused.example/",
            "https://bad-tls.example/",
            "https://crash.example/",
            "https://www.plain.example/",
        ],
    )
    outcomes = [v.outcome for v in visits]
    assert outcomes == [
        Outcome.DNS_ERROR,
        Outcome.CONNECTION_REFUSED,
        Outcome.TLS_ERROR,
        Outcome.RENDERER_CRASH,
        Outcome.OK,
    ]
    assert "ERR_NAME_NOT_RESOLVED" in visits[0].reason
    assert "ERR_CERT" in visits[2].reason
    assert visits[0].requests[0].failure == "net::ERR_NAME_NOT_RESOLVED"
    assert len(visits[4].requests) >= 5  # the site after the crash is captured in full


def test_browser_crash_is_recorded_and_browser_restarted(simweb) -> None:
    async def run() -> tuple[Visit, Visit, int]:
        async with Scanner(VisitOptions(dwell=5, load_timeout=8), extra_args=simweb.chromium_args()) as scanner:

            async def kill_browser_soon() -> None:
                await asyncio.sleep(2.0)
                pid = scanner.browser_pid()
                assert pid is not None
                psutil.Process(pid).kill()

            killer = asyncio.create_task(kill_browser_soon())
            crashed = await scanner.visit("https://www.clinic.example/")
            await killer
            after = await scanner.visit("https://www.plain.example/", FAST)
            return crashed, after, scanner.launches

    crashed, after, launches = asyncio.run(run())
    assert crashed.outcome is Outcome.BROWSER_CRASH
    # What was captured before the crash is kept.
    assert any("/api/v2/pixel" in r.url for r in crashed.requests)
    assert after.outcome is Outcome.OK and launches == 2
