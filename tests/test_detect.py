"""Detectors: each on a positive and on a look-alike negative."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import quote, urlencode

import pytest

from helpers import request, visit_with
from lanterne.canary import CanaryIdentity
from lanterne.detect import analyze
from lanterne.detect.companies import canonical_company
from lanterne.detect.decoders import decode_events

CANARY = CanaryIdentity.generate(seed=7)
IDENTITY = CANARY.as_dict()


def kinds(findings, kind):
    return [f for f in findings if f.kind == kind]


# -- company names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("ByteDance Ltd.", "ByteDance"), ("Bytedance", "ByteDance"), ("Alphabet, Inc.", "Google"),
     ("Google LLC", "Google"), ("Facebook, Inc.", "Meta"), ("The Trade Desk Inc", "The Trade Desk"),
     ("Some Unknown Adtech GmbH", "Some Unknown Adtech")],
)
def test_canonical_company(name: str, expected: str) -> None:
    assert canonical_company(name) == expected


# -- attribution -----------------------------------------------------------------------------------------


def test_bytedance_attributed_by_the_curated_list() -> None:
    visit = visit_with(
        "https://www.clinic.example/",
        request("https://analytics.tiktok.com/i18n/pixel/events.js?sdkid=X", resource_type="script"),
        request("https://p16-sign.tiktokcdn-us.com/img.png", resource_type="image"),
    )
    third = kinds(analyze(visit), "third_party")
    assert [(f.company, f.evidence) for f in third] == [("ByteDance", [2, 3])]
    assert "lanterne-curated" in third[0].details["sources"]


def test_first_party_analytics_subdomain_is_not_a_third_party() -> None:
    visit = visit_with(
        "https://www.shop.example/",
        request("https://analytics.shop.example/collect?v=2&tid=G-1&cid=1.2&en=page_view", "POST"),
    )
    assert analyze(visit) == []


def test_unknown_owner_flagged_by_easyprivacy() -> None:
    visit = visit_with("https://www.site.example/", request("https://stats.unknown-vendor.example/collect?tid=G-X&cid=1"))
    finding = kinds(analyze(visit), "third_party")[0]
    assert finding.company is None and finding.category == "tracking"
    assert finding.details["easyprivacy_rules"]


def test_unknown_owner_not_flagged_when_no_rule_matches() -> None:
    visit = visit_with("https://www.site.example/", request("https://fonts.typeface-cdn.example/css?family=Inter", resource_type="stylesheet"))
    finding = kinds(analyze(visit), "third_party")[0]
    assert finding.company is None and finding.category == "unknown"
    assert "easyprivacy_rules" not in finding.details


# -- decoders --------------------------------------------------------------------------------------------


def tiktok_event(event: str, user: dict) -> dict:
    return {
        "event": event, "message_id": "m", "context": {
            "pixel": {"code": "CABCDEFGHIJKLMNOPQRS"}, "page": {"url": "https://www.site.example/a", "referrer": ""},
            "user": user,
        },
        "properties": {"value": 1}, "signal_diagnostic_labels": {"hashed_email": {"label": "valid"}},
    }


def test_tiktok_decoder() -> None:
    sha = hashlib.sha256(b"someone@example.org").hexdigest()
    req = request("https://analytics.tiktok.com/api/v2/pixel", "POST",
                  json.dumps(tiktok_event("SubmitForm", {"anonymous_id": "ABC123_.tt.1", "email": sha})))
    (event,) = decode_events(req)
    assert event.company == "ByteDance" and event.event == "SubmitForm"
    assert event.pixel_ids == ["CABCDEFGHIJKLMNOPQRS"] and event.page_url == "https://www.site.example/a"
    assert event.hashed == {"email": "sha256"} and event.extra["ttp_cookie"] == "ABC123"
    assert event.extra["signal_diagnostic_labels"] == {"hashed_email": "valid"}
    batch = request("https://analytics.tiktok.com/api/v2/pixel/batch", "POST",
                    json.dumps({"batch": [tiktok_event("Pageview", {}), tiktok_event("ClickButton", {})]}))
    assert [e.event for e in decode_events(batch)] == ["Pageview", "ClickButton"]
    loader = request("https://analytics.tiktok.com/i18n/pixel/events.js?sdkid=CXYZ&lib=ttq", resource_type="script")
    assert decode_events(loader)[0].kind == "loader" and decode_events(loader)[0].pixel_ids == ["CXYZ"]
    # Look-alike: the same path and body on a host that is not TikTok's.
    fake = request("https://analytics.tiktok-fan.example/api/v2/pixel", "POST", json.dumps(tiktok_event("Pageview", {})))
    assert decode_events(fake) == []


def test_meta_decoder_get_and_multipart_post() -> None:
    em = hashlib.sha256(b"someone@example.org").hexdigest()
    get = request("https://www.facebook.com/tr/?" + urlencode(
        {"id": "123", "ev": "Purchase", "dl": "https://shop.example/cart", "rl": "", "ud[em]": em, "cd[value]": "9"}))
    (event,) = decode_events(get)
    assert (event.pixel_ids, event.event, event.page_url) == (["123"], "Purchase", "https://shop.example/cart")
    assert event.hashed == {"em": "sha256"} and event.properties == {"value": "9"}
    boundary = "XyZ"
    body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in {"id": "456", "ev": "Lead", "dl": "https://shop.example/"}.items()) + f"--{boundary}--\r\n"
    post = request("https://www.facebook.com/tr/", "POST", body,
                   headers=[("Content-Type", f"multipart/form-data; boundary={boundary}")])
    assert [(e.pixel_ids, e.event) for e in decode_events(post)] == [(["456"], "Lead")]
    # Look-alikes: another facebook.com path, and /tr on another host.
    assert decode_events(request("https://www.facebook.com/trending?id=1&ev=x")) == []
    assert decode_events(request("https://tracker.example/tr/?id=1&ev=PageView")) == []


def test_google_decoders() -> None:
    ga4 = request("https://region1.google-analytics.com/g/collect?v=2&tid=G-ABC&cid=1.2&dl=https%3A%2F%2Fs.example%2F",
                  "POST", "en=page_view&_et=1\nen=scroll&ep.percent=90")
    events = decode_events(ga4)
    assert [(e.pixel_ids, e.event) for e in events] == [(["G-ABC"], "page_view"), (["G-ABC"], "scroll")]
    assert events[1].properties == {"percent": "90"} and events[0].page_url == "https://s.example/"
    ua = request("https://www.google-analytics.com/collect?v=1&tid=UA-1-1&t=pageview&dl=https%3A%2F%2Fs.example%2F&cid=5")
    assert [(e.tracker, e.event) for e in decode_events(ua)] == [("Google Universal Analytics", "pageview")]
    ads = request("https://googleads.g.doubleclick.net/pagead/viewthroughconversion/11008580020/?label=abc&url=https%3A%2F%2Fs.example%2F")
    assert [(e.pixel_ids, e.event, e.page_url) for e in decode_events(ads)] == [(["AW-11008580020"], "abc", "https://s.example/")]
    flood = request("https://ad.doubleclick.net/activity;src=123;type=sales;cat=buy;ord=1?")
    assert [(e.tracker, e.pixel_ids, e.event) for e in decode_events(flood)] == [("DoubleClick Floodlight", ["DC-123"], "sales/buy")]
    # Look-alike: a /g/collect endpoint of someone else.
    assert decode_events(request("https://stats.example/g/collect?v=2&tid=G-ABC&en=page_view")) == []


# -- page address and title ------------------------------------------------------------------------------


def test_page_url_and_title_sent_to_a_third_party() -> None:
    target = "https://www.clinic.example/hiv-test"
    visit = visit_with(target, request("https://www.facebook.com/tr/?id=1&ev=PageView&dl=" + quote(target, safe="")
                                       + "&dt=" + quote("HIV test – Clinic", safe="")),
                       title="HIV test – Clinic")
    found = {(f.company, f.data_type) for f in kinds(analyze(visit), "page_data")}
    assert found == {("Meta", "page_url"), ("Meta", "page_title")}


def test_origin_only_referer_is_not_the_page_address() -> None:
    target = "https://www.clinic.example/hiv-test"
    visit = visit_with(target, request("https://cdn.example-widgets.example/w.js",
                                       headers=[("Referer", "https://www.clinic.example/"), ("Origin", "https://www.clinic.example")]),
                       title="HIV test – Clinic")
    assert kinds(analyze(visit), "page_data") == []


# -- personal data leaks ---------------------------------------------------------------------------------


def _email_forms() -> dict[str, str]:
    email = CANARY.email
    raw = email.encode()
    return {
        "plain": email,
        "url-encoded": quote(email, safe=""),
        "url-encoded-twice": quote(quote(email, safe=""), safe=""),
        "base64": base64.b64encode(raw).decode(),
        "md5-hex": hashlib.md5(raw).hexdigest(),
        "sha1-hex": hashlib.sha1(raw).hexdigest(),
        "sha256-hex": hashlib.sha256(raw).hexdigest().upper(),  # hex is matched whatever its case
        "sha512-hex": hashlib.sha512(raw).hexdigest(),
        "sha256-base64": base64.b64encode(hashlib.sha256(raw).digest()).decode(),
    }


@pytest.mark.parametrize("encoding", list(_email_forms()))
def test_email_found_in_every_encoding(encoding: str) -> None:
    value = _email_forms()[encoding]
    visit = visit_with("https://www.site.example/", request("https://collector.tracker.example/c?x=" + value), canary=IDENTITY)
    leaks = kinds(analyze(visit), "pii_leak")
    assert [(f.data_type, f.encoding, f.evidence) for f in leaks] == [("email", encoding, [2])]
    assert leaks[0].before_submit is True


def test_phone_normalised_to_e164_and_hashed() -> None:
    hashed = hashlib.sha256(CANARY.phone_e164.encode()).hexdigest()
    visit = visit_with("https://www.site.example/", request("https://collector.tracker.example/c", "POST",
                                                            json.dumps({"user": {"ph": hashed}})), canary=IDENTITY)
    (leak,) = kinds(analyze(visit), "pii_leak")
    assert (leak.data_type, leak.encoding, leak.details["normalisation"]) == ("phone", "sha256-hex", "e164")


def test_email_inside_base64_wrapped_json_in_a_cookie_and_a_websocket() -> None:
    wrapped = base64.b64encode(json.dumps({"profile": {"mail": CANARY.email}}).encode()).decode()
    visit = visit_with(
        "https://www.site.example/",
        request("https://collector.tracker.example/c", "POST", "data=" + wrapped),
        request("https://other.tracker.example/p", headers=[("Cookie", "uid=" + quote(CANARY.email, safe=""))]),
        canary=IDENTITY,
    )
    from lanterne.records import WebSocketFrame

    visit.websocket_frames.append(WebSocketFrame("wss://live.tracker.example/s", "sent", json.dumps({"e": CANARY.email}), 10, 0.0))
    leaks = {(f.domain, f.encoding) for f in kinds(analyze(visit), "pii_leak")}
    assert leaks == {
        ("tracker.example", "plain inside base64"),  # the POST body
        ("tracker.example", "url-encoded"),  # the Cookie header
        ("tracker.example", "plain"),  # the WebSocket frame
    }
    places = {loc for f in kinds(analyze(visit), "pii_leak") for loc in f.details["locations"]}
    assert "base64" in places and "header.cookie" in places and any(p.startswith("websocket") for p in places)


def test_random_hex_that_is_not_a_canary_hash_is_not_a_leak() -> None:
    token = hashlib.sha256(b"a random session value").hexdigest()
    visit = visit_with("https://www.site.example/", request("https://collector.tracker.example/c", "POST",
                                                            json.dumps({"user": {"email": token}})), canary=IDENTITY)
    assert kinds(analyze(visit), "pii_leak") == []


def test_the_hash_is_matched_not_assumed() -> None:
    """The same request is a leak for the identity that produced it, and not for another one."""
    hashed = hashlib.sha256(CANARY.email.encode()).hexdigest()
    req = request("https://collector.tracker.example/c", "POST", json.dumps({"em": hashed}))
    assert kinds(analyze(visit_with("https://www.site.example/", req, canary=IDENTITY)), "pii_leak")
    other = CanaryIdentity.generate(seed=8).as_dict()
    assert kinds(analyze(visit_with("https://www.site.example/", req, canary=other)), "pii_leak") == []


def test_leak_after_submission_is_marked_so() -> None:
    import time

    visit = visit_with("https://www.site.example/", request("https://collector.tracker.example/c?e=" + CANARY.email), canary=IDENTITY)
    visit.options["submitted_at"] = time.time() - 5
    (leak,) = kinds(analyze(visit), "pii_leak")
    assert leak.before_submit is False and "after the form was submitted" in leak.summary


def test_no_canary_no_leak_search() -> None:
    visit = visit_with("https://www.site.example/", request("https://collector.tracker.example/c?e=" + CANARY.email))
    assert kinds(analyze(visit), "pii_leak") == []
