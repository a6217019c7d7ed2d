"""Target addresses: normalised when valid, refused with a one-line reason naming the input otherwise."""

from __future__ import annotations

import pytest

from lanterne.targets import TargetError, parse_target, parse_targets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.com", "https://example.com/"),
        ("  https://Example.COM/path?q=1#frag ", "https://example.com/path?q=1"),
        ("http://example.com:8080", "http://example.com:8080/"),
        ("example.com:8443/x", "https://example.com:8443/x"),
        ("münchen.de", "https://xn--mnchen-3ya.de/"),
        ("http://127.0.0.1:5000/", "http://127.0.0.1:5000/"),
        ("http://[::1]/", "http://[::1]/"),
    ],
)
def test_valid(text: str, expected: str) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("file:///etc/passwd", "unsupported scheme 'file:'"),
        ("javascript:alert(1)", "unsupported scheme 'javascript:'"),
        ("data:text/html,<b>x</b>", "unsupported scheme 'data:'"),
        ("chrome://settings", "unsupported scheme 'chrome:'"),
        ("ftp://example.com", "unsupported scheme 'ftp:'"),
        ("http://", "no host name"),
        ("https://exa mple.com", "spaces"),
        ("https://-bad-.com", "not a valid host name"),
        ("ht!tp://x.com", "malformed"),
        ("localhostt", "not a full host name"),
        ("https://user:pw@example.com", "user name or password"),
        ("", "empty"),
    ],
)
def test_invalid(text: str, reason: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_target(text)
    message = str(info.value)
    assert reason in message and "\n" not in message
    if text:
        assert repr(text.strip())[:20] in message or text[:10] in message


def test_parse_targets_keeps_order_drops_duplicates() -> None:
    good, errors = parse_targets(["b.com", "file:///x", "a.com", "https://b.com/"])
    assert good == ["https://b.com/", "https://a.com/"]
    assert len(errors) == 1
