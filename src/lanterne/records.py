"""Typed records passed between the stages: capture -> detect -> store -> report.

A `Visit` is everything one site did during one visit, as captured; `Finding`s are what the detectors made of
it. The same records come out of a live scan and out of a HAR file, so every detector and the store work
the same on both.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Outcome(str, Enum):
    """How a visit ended. Everything but OK still keeps whatever was captured before it ended."""

    OK = "ok"
    TIMEOUT = "timeout"
    DNS_ERROR = "dns_error"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_ERROR = "connection_error"
    TLS_ERROR = "tls_error"
    REDIRECT_LOOP = "redirect_loop"
    DIALOG_STORM = "dialog_storm"
    RENDERER_CRASH = "renderer_crash"
    BROWSER_CRASH = "browser_crash"
    NAVIGATION_ERROR = "navigation_error"
    INVALID_TARGET = "invalid_target"
    INTERNAL_ERROR = "internal_error"  # a fault in Lanterne itself; the rest of the crawl goes on


Headers = list[tuple[str, str]]


def header_value(headers: Headers, name: str) -> str | None:
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


@dataclass
class Body:
    """A request body as sent, capped. Text when it decodes as UTF-8, base64 otherwise."""

    text: str
    encoding: str  # "utf-8" or "base64"
    size: int  # bytes actually sent
    truncated: bool

    @classmethod
    def from_bytes(cls, data: bytes, cap: int) -> Body:
        kept = data[:cap]
        try:
            return cls(kept.decode("utf-8"), "utf-8", len(data), len(data) > cap)
        except UnicodeDecodeError:
            return cls(base64.b64encode(kept).decode(), "base64", len(data), len(data) > cap)

    def as_bytes(self) -> bytes:
        return self.text.encode() if self.encoding == "utf-8" else base64.b64decode(self.text)


@dataclass
class ResponseRecord:
    status: int
    status_text: str = ""
    headers: Headers = field(default_factory=list)
    # The Set-Cookie header lines the server really sent (from Chromium's extra-info events).
    set_cookies: list[str] = field(default_factory=list)
    mime_type: str | None = None
    remote_address: str | None = None
    protocol: str | None = None
    encoded_size: int | None = None


@dataclass
class RequestRecord:
    seq: int  # order within the visit, starting at 1; evidence refers to it
    url: str
    method: str
    resource_type: str
    started_at: float  # epoch seconds
    headers: Headers = field(default_factory=list)
    body: Body | None = None
    frame_url: str | None = None
    is_navigation: bool = False
    initiator_type: str | None = None
    initiator_url: str | None = None  # the script (or document) that caused the request
    initiator_stack: list[dict[str, Any]] | None = None
    timing: dict[str, float] | None = None
    redirected_from: int | None = None  # seq of the previous hop of a redirect chain
    page_index: int = 0  # 0 for the landing page, 1.. for followed links
    host: str = ""
    site: str = ""  # registrable domain of the host
    third_party: bool = False
    failure: str | None = None
    response: ResponseRecord | None = None


@dataclass
class CookieRecord:
    name: str
    value: str
    domain: str
    path: str = "/"
    expires: float | None = None  # epoch seconds; None for a session cookie
    http_only: bool = False
    secure: bool = False
    same_site: str | None = None
    size: int = 0
    site: str = ""
    third_party: bool = False
    partition_key: str | None = None


@dataclass
class StorageItem:
    origin: str
    kind: str  # "local" or "session"
    key: str
    value: str
    size: int  # length of the full value, which may have been capped


@dataclass
class StorageWrite:
    time: float
    origin: str
    kind: str
    key: str
    value: str | None  # None when the key was removed


@dataclass
class WebSocketFrame:
    url: str
    direction: str  # "sent" or "received"
    payload: str
    size: int
    time: float
    opcode: int = 1


@dataclass
class JsCall:
    """Calls to one watched browser API by one script in one frame (from the script probe)."""

    frame_url: str
    script_url: str
    api: str  # e.g. "canvas.toDataURL", "navigator.userAgent", "dom.listen.keyup"
    count: int
    args: list = field(default_factory=list)  # arguments of the first few calls


@dataclass
class Dialog:
    type: str
    message: str


@dataclass
class Visit:
    target: str  # the URL asked for
    started_at: float
    finished_at: float = 0.0
    outcome: Outcome = Outcome.OK
    reason: str = ""
    final_url: str | None = None
    title: str | None = None
    document_status: int | None = None
    pages: list[str] = field(default_factory=list)  # landing page then followed links
    requests: list[RequestRecord] = field(default_factory=list)
    cookies: list[CookieRecord] = field(default_factory=list)
    storage: list[StorageItem] = field(default_factory=list)
    storage_writes: list[StorageWrite] = field(default_factory=list)
    websocket_frames: list[WebSocketFrame] = field(default_factory=list)
    dialogs: list[Dialog] = field(default_factory=list)
    js_calls: list[JsCall] = field(default_factory=list)
    screenshot: bytes | None = None
    browser_version: str | None = None
    source: str = "scan"  # "scan" or "har"
    phase: str = "none"  # consent phase of this visit
    first_party_sites: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    # Set by the store: where the HAR and screenshot files were written.
    har_path: str | None = None
    screenshot_path: str | None = None
    findings: list[Finding] = field(default_factory=list)
    crawl_target_id: int | None = None  # the crawl list entry this visit is for, if any

    @property
    def third_party_requests(self) -> list[RequestRecord]:
        return [r for r in self.requests if r.third_party]


@dataclass
class Finding:
    """One thing a detector concluded, tied to the records that show it."""

    kind: str  # e.g. "third_party", "pixel_event", "pii_leak", "page_metadata", "cookie"
    detector: str
    company: str | None = None
    domain: str | None = None
    category: str | None = None
    data_type: str | None = None  # e.g. "email", "page_url", "pixel_event"
    encoding: str | None = None  # e.g. "sha256-hex"
    summary: str = ""
    evidence: list[int] = field(default_factory=list)  # request seqs
    details: dict[str, Any] = field(default_factory=dict)
    before_submit: bool | None = None
    phase: str = "none"
