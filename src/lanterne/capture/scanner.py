"""Visit a site in real Chromium and record everything it does with the visitor's data.

`Scanner` owns one Playwright driver and one browser; `Scanner.visit(url)` gives each site a fresh browser
context (its own cookies, storage and cache), runs the visit protocol, and returns a `Visit`.

Where the data comes from:
- requests and responses: Playwright's context-level events, which cover the page, its iframes, workers and
  popups; headers are the ones really sent and received (Chromium's extra-info events, Set-Cookie lines
  included);
- the initiator of each request: the page's own DevTools session (`Network.requestWillBeSent`), matched to
  Playwright's requests by method and URL in arrival order;
- cookies: the browser's cookie store (`Network.getAllCookies`), not only what JavaScript can see;
- storage: `DOMStorage` write events during the visit and a snapshot of every frame's storage at the end.
Chromium's own background traffic never enters: it is not made by any page of the context.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urldefrag, urlsplit

from playwright.async_api import (
    Browser,
    BrowserContext,
    CDPSession,
    Page,
    Playwright,
    Request,
    Response,
    WebSocket,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError

from lanterne.capture.browser import BASE_ARGS, find_browser
from lanterne.capture.instruments import Instrument
from lanterne.domains import host_of, site_of
from lanterne.records import (
    Body,
    CookieRecord,
    Dialog,
    Outcome,
    RequestRecord,
    ResponseRecord,
    StorageItem,
    StorageWrite,
    Visit,
    WebSocketFrame,
)

T = TypeVar("T")

MAX_REQUESTS_PER_VISIT = 20_000
MAX_DIALOGS_RECORDED = 50
DIALOG_STORM = 30  # a page that opens this many dialogs is stopped: it is blocking its own visit
MAX_WS_FRAMES = 2_000
MAX_HEADER_VALUE = 16 * 1024
MAX_URL = 64 * 1024
MAX_TITLE = 2_000


class Interaction(Protocol):
    """A step run on the landing page after it loads (typing a canary identity, answering a banner...)."""

    name: str

    async def run(self, page: Page, visit: Visit) -> None: ...


@dataclass
class VisitOptions:
    dwell: float = 5.0  # seconds spent on each page after scrolling
    pages: int = 0  # same-site links to follow after the landing page
    load_timeout: float = 30.0  # seconds for the load event
    quiet_period: float = 0.5  # no new request for this long counts as quiet...
    quiet_max: float = 3.0  # ...but never wait longer than this for it
    scroll: bool = True
    screenshot: bool = False
    body_cap: int = 64 * 1024  # bytes of each request body kept
    value_cap: int = 16 * 1024  # characters of each cookie, storage value or frame payload kept
    site_timeout: float | None = None  # hard cap on a whole visit; derived from the above when None
    locale: str = "en-US"
    interactions: Sequence[Interaction] = field(default_factory=tuple)
    # Made fresh for each visit (they hold per-visit state): set up before the first page loads.
    instruments: Sequence[Callable[[], Instrument]] = field(default_factory=tuple)

    def hard_timeout(self) -> float:
        if self.site_timeout is not None:
            return self.site_timeout
        per_page = self.load_timeout + self.quiet_max + 6 + self.dwell
        return per_page * (1 + self.pages) + 20 * (len(self.interactions) + len(self.instruments)) + 30

    def describe(self) -> dict[str, Any]:
        return {
            "dwell": self.dwell,
            "pages": self.pages,
            "load_timeout": self.load_timeout,
            "body_cap": self.body_cap,
            "screenshot": self.screenshot,
            "interactions": [i.name for i in self.interactions],
            "locale": self.locale,
        }


class _VisitAborted(Exception):
    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


class _StepTimeout(Exception):
    pass


def classify_navigation_error(message: str) -> tuple[Outcome, str]:
    """Chromium's net error in a navigation failure, as an outcome and a one-line reason."""
    text = message.splitlines()[0] if message else "navigation failed"
    text = text.removeprefix("Page.goto: ")
    checks = [
        ("ERR_NAME_NOT_RESOLVED", Outcome.DNS_ERROR),
        ("ERR_NAME_RESOLUTION_FAILED", Outcome.DNS_ERROR),
        ("ERR_CONNECTION_REFUSED", Outcome.CONNECTION_REFUSED),
        ("ERR_CERT_", Outcome.TLS_ERROR),
        ("ERR_SSL_", Outcome.TLS_ERROR),
        ("ERR_BAD_SSL", Outcome.TLS_ERROR),
        ("ERR_TOO_MANY_REDIRECTS", Outcome.REDIRECT_LOOP),
        ("ERR_CONNECTION_", Outcome.CONNECTION_ERROR),
        ("ERR_EMPTY_RESPONSE", Outcome.CONNECTION_ERROR),
        ("ERR_ADDRESS_UNREACHABLE", Outcome.CONNECTION_ERROR),
        ("ERR_TIMED_OUT", Outcome.TIMEOUT),
        ("Timeout", Outcome.TIMEOUT),
        ("crashed", Outcome.RENDERER_CRASH),
        ("Target closed", Outcome.BROWSER_CRASH),
        ("has been closed", Outcome.BROWSER_CRASH),
    ]
    for needle, outcome in checks:
        if needle in message:
            return outcome, text[:300]
    return Outcome.NAVIGATION_ERROR, text[:300]


def _cap(text: str | None, limit: int) -> str:
    if text is None:
        return ""
    return text if len(text) <= limit else text[:limit]


def _headers(items: Sequence[dict[str, str]] | dict[str, str]) -> list[tuple[str, str]]:
    pairs = items.items() if isinstance(items, dict) else ((h["name"], h["value"]) for h in items)
    return [(str(k)[:256], _cap(str(v), MAX_HEADER_VALUE)) for k, v in pairs]


class _Recorder:
    """Collects one visit's events as they happen, then turns them into records."""

    def __init__(self, context: BrowserContext, page: Page, cdp: CDPSession, options: VisitOptions) -> None:
        self.context = context
        self.page = page
        self.cdp = cdp
        self.options = options
        self.step = "start"
        self.page_index = 0
        self.aborted: asyncio.Future[tuple[Outcome, str]] = asyncio.get_running_loop().create_future()
        self.requests: list[Request] = []
        self.request_meta: dict[Request, dict[str, Any]] = {}
        self.responses: dict[Request, Response] = {}
        self.last_request_at = time.monotonic()
        # DevTools requestWillBeSent events per (method, URL), in arrival order.
        self.cdp_requests: dict[tuple[str, str], deque[dict[str, Any]]] = defaultdict(deque)
        self.cdp_responses: dict[tuple[str, str], dict[str, Any]] = {}
        self.cdp_sizes: dict[str, int] = {}
        self.ws_frames: list[WebSocketFrame] = []
        self.dialogs: list[Dialog] = []
        self.dialog_count = 0
        self.storage_writes: list[StorageWrite] = []
        self._attach()

    # -- event wiring ------------------------------------------------------------------------------------
    def _attach(self) -> None:
        self.context.on("request", self._on_request)
        self.context.on("response", self._on_response)
        self.context.on("page", self._watch_page)
        self._watch_page(self.page)
        self.cdp.on("Network.requestWillBeSent", self._on_cdp_request)
        self.cdp.on("Network.responseReceived", self._on_cdp_response)
        self.cdp.on("Network.loadingFinished", self._on_cdp_finished)
        self.cdp.on("DOMStorage.domStorageItemAdded", self._on_storage)
        self.cdp.on("DOMStorage.domStorageItemUpdated", self._on_storage)
        self.cdp.on("DOMStorage.domStorageItemRemoved", self._on_storage)

    def _watch_page(self, page: Page) -> None:
        page.on("dialog", self._on_dialog)
        page.on("websocket", self._on_websocket)
        page.on("crash", lambda _p: self._abort(Outcome.RENDERER_CRASH, "the page's renderer process crashed"))

    def _abort(self, outcome: Outcome, reason: str) -> None:
        if not self.aborted.done():
            self.aborted.set_result((outcome, reason))

    def _on_request(self, request: Request) -> None:
        if len(self.requests) >= MAX_REQUESTS_PER_VISIT:
            return
        if request.url.startswith(("data:", "blob:")):
            return  # never leaves the browser
        self.last_request_at = time.monotonic()
        try:
            frame_url = request.frame.url
        except PlaywrightError:
            frame_url = None  # service-worker requests have no frame
        self.requests.append(request)
        self.request_meta[request] = {"time": time.time(), "frame_url": frame_url, "page_index": self.page_index}

    def _on_response(self, response: Response) -> None:
        self.responses[response.request] = response

    def _on_cdp_request(self, event: dict[str, Any]) -> None:
        req = event.get("request") or {}
        key = (req.get("method", ""), req.get("url", ""))
        self.cdp_requests[key].append(
            {"requestId": event.get("requestId"), "initiator": event.get("initiator") or {}}
        )

    def _on_cdp_response(self, event: dict[str, Any]) -> None:
        resp = event.get("response") or {}
        self.cdp_responses[(event.get("requestId", ""), resp.get("url", ""))] = {
            "mime_type": resp.get("mimeType"),
            "remote_address": resp.get("remoteIPAddress"),
            "protocol": resp.get("protocol"),
        }

    def _on_cdp_finished(self, event: dict[str, Any]) -> None:
        self.cdp_sizes[event.get("requestId", "")] = int(event.get("encodedDataLength") or 0)

    def _on_storage(self, event: dict[str, Any]) -> None:
        if len(self.storage_writes) >= 5000:
            return
        sid = event.get("storageId") or {}
        value = event.get("newValue")
        self.storage_writes.append(
            StorageWrite(
                time=time.time(),
                origin=sid.get("securityOrigin") or sid.get("storageKey") or "",
                kind="local" if sid.get("isLocalStorage") else "session",
                key=_cap(event.get("key"), 1024),
                value=None if value is None else _cap(value, self.options.value_cap),
            )
        )

    async def _on_dialog(self, dialog: Any) -> None:
        self.dialog_count += 1
        if self.dialog_count == DIALOG_STORM:
            self._abort(Outcome.DIALOG_STORM, f"the page opened {DIALOG_STORM} dialogs and kept opening more")
        if len(self.dialogs) < MAX_DIALOGS_RECORDED:
            self.dialogs.append(Dialog(type=dialog.type, message=_cap(dialog.message, 1000)))
        with contextlib.suppress(PlaywrightError):
            if dialog.type == "beforeunload":
                await dialog.accept()
            else:
                await dialog.dismiss()

    def _on_websocket(self, ws: WebSocket) -> None:
        def frame(direction: str) -> Any:
            def record(payload: str | bytes) -> None:
                if len(self.ws_frames) >= MAX_WS_FRAMES:
                    return
                if isinstance(payload, bytes):
                    text, opcode = base64.b64encode(payload[: self.options.value_cap]).decode(), 2
                else:
                    text, opcode = _cap(payload, self.options.value_cap), 1
                self.ws_frames.append(
                    WebSocketFrame(ws.url, direction, text, len(payload), time.time(), opcode)
                )

            return record

        ws.on("framesent", frame("sent"))
        ws.on("framereceived", frame("received"))

    # -- time-boxed steps --------------------------------------------------------------------------------
    async def guard(self, awaitable: Awaitable[T], timeout: float, step: str) -> T:
        """Run one step of the visit, bounded in time, and stop at once if the page or browser dies."""
        self.step = step
        task = asyncio.ensure_future(awaitable)
        done, _ = await asyncio.wait({task, self.aborted}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        if self.aborted.done():
            outcome, reason = self.aborted.result()
            raise _VisitAborted(outcome, reason)
        raise _StepTimeout(step)

    async def wait_quiet(self) -> None:
        start = time.monotonic()
        opts = self.options
        while time.monotonic() - start < opts.quiet_max:
            if time.monotonic() - self.last_request_at >= opts.quiet_period:
                return
            await asyncio.sleep(0.1)

    # -- turning events into records -------------------------------------------------------------------
    async def request_records(self) -> list[RequestRecord]:
        seq_of = {req: i for i, req in enumerate(self.requests, start=1)}

        async def one(req: Request, seq: int) -> RequestRecord:
            meta = self.request_meta[req]
            cdp = self._match_cdp(req.method, req.url)
            initiator = cdp.get("initiator") or {}
            stack = _initiator_stack(initiator)
            headers = await _soft(req.headers_array(), 2.0)
            post = req.post_data_buffer
            timing = dict(req.timing) if req.timing else None
            start_ms = (timing or {}).get("startTime") or 0
            record = RequestRecord(
                seq=seq,
                url=_cap(req.url, MAX_URL),
                method=req.method,
                resource_type=req.resource_type,
                started_at=start_ms / 1000 if start_ms > 0 else meta["time"],
                headers=_headers(headers) if headers is not None else _headers(req.headers),
                body=Body.from_bytes(post, self.options.body_cap) if post else None,
                frame_url=_cap(meta["frame_url"], MAX_URL) if meta["frame_url"] else None,
                is_navigation=req.is_navigation_request(),
                initiator_type=initiator.get("type") or ("worker" if meta["frame_url"] is None else None),
                initiator_url=_initiator_url(initiator, stack),
                initiator_stack=stack,
                timing=timing,
                redirected_from=seq_of.get(req.redirected_from) if req.redirected_from else None,
                page_index=meta["page_index"],
                host=host_of(req.url),
                failure=_cap(req.failure, 300) if req.failure else None,
            )
            response = self.responses.get(req)
            if response is not None:
                resp_headers = await _soft(response.headers_array(), 2.0)
                pairs = _headers(resp_headers) if resp_headers is not None else _headers(response.headers)
                extra = self.cdp_responses.get((cdp.get("requestId", ""), req.url), {})
                record.response = ResponseRecord(
                    status=response.status,
                    status_text=_cap(response.status_text, 200),
                    headers=pairs,
                    set_cookies=[v for k, v in pairs if k.lower() == "set-cookie"],
                    mime_type=extra.get("mime_type"),
                    remote_address=extra.get("remote_address"),
                    protocol=extra.get("protocol"),
                    encoded_size=self.cdp_sizes.get(cdp.get("requestId", "")),
                )
            return record

        return list(await asyncio.gather(*(one(req, seq_of[req]) for req in self.requests)))

    def _match_cdp(self, method: str, url: str) -> dict[str, Any]:
        queue = self.cdp_requests.get((method, url))
        return queue.popleft() if queue else {}

    async def cookies(self) -> list[CookieRecord]:
        raw: list[dict[str, Any]] | None = None
        reply = await _soft(self.cdp.send("Network.getAllCookies"), 5.0)
        if reply is not None:
            raw = reply.get("cookies", [])
        else:  # the page is gone (crash); the context still knows its cookies
            fallback = await _soft(self.context.cookies(), 5.0)
            raw = [dict(c) for c in fallback or []]
        cap = self.options.value_cap
        records = []
        for c in raw:
            expires = c.get("expires")
            partition = c.get("partitionKey")
            if isinstance(partition, dict):
                partition = partition.get("topLevelSite")
            records.append(
                CookieRecord(
                    name=_cap(c.get("name"), 1024),
                    value=_cap(c.get("value"), cap),
                    domain=c.get("domain", ""),
                    path=c.get("path", "/"),
                    expires=float(expires) if expires not in (None, -1) and not c.get("session") else None,
                    http_only=bool(c.get("httpOnly")),
                    secure=bool(c.get("secure")),
                    same_site=c.get("sameSite"),
                    size=int(c.get("size") or len(c.get("name", "")) + len(c.get("value", ""))),
                    site=site_of("https://" + c.get("domain", "").lstrip(".")),
                    partition_key=partition,
                )
            )
        return records

    async def storage(self) -> list[StorageItem]:
        tree = await _soft(self.cdp.send("Page.getFrameTree"), 3.0)
        if tree is None:
            return []
        items: list[StorageItem] = []
        seen: set[str] = set()
        for frame in _walk_frames(tree.get("frameTree", {})):
            origin = frame.get("securityOrigin") or ""
            if not origin.startswith("http"):
                continue
            key = await _soft(self.cdp.send("Storage.getStorageKeyForFrame", {"frameId": frame["id"]}), 2.0)
            storage_key = (key or {}).get("storageKey")
            if not storage_key or storage_key in seen:
                continue
            seen.add(storage_key)
            for is_local in (True, False):
                reply = await _soft(
                    self.cdp.send(
                        "DOMStorage.getDOMStorageItems",
                        {"storageId": {"storageKey": storage_key, "isLocalStorage": is_local}},
                    ),
                    2.0,
                )
                for k, v in (reply or {}).get("entries", [])[:2000]:
                    items.append(
                        StorageItem(
                            origin=origin,
                            kind="local" if is_local else "session",
                            key=_cap(k, 1024),
                            value=_cap(v, self.options.value_cap),
                            size=len(v),
                        )
                    )
        return items


def _walk_frames(node: dict[str, Any]) -> list[dict[str, Any]]:
    frames = [node.get("frame", {})]
    for child in node.get("childFrames", []) or []:
        frames.extend(_walk_frames(child))
    return frames


def _initiator_stack(initiator: dict[str, Any]) -> list[dict[str, Any]] | None:
    frames: list[dict[str, Any]] = []
    stack = initiator.get("stack")
    while stack and len(frames) < 50:
        for cf in stack.get("callFrames", []):
            frames.append(
                {
                    "function": _cap(cf.get("functionName"), 200),
                    "url": _cap(cf.get("url"), 2048),
                    "line": cf.get("lineNumber"),
                    "column": cf.get("columnNumber"),
                }
            )
        stack = stack.get("parent")
    return frames[:50] or None


def _initiator_url(initiator: dict[str, Any], stack: list[dict[str, Any]] | None) -> str | None:
    for frame in stack or []:
        if frame["url"]:
            return frame["url"]
    url = initiator.get("url")
    return _cap(url, 2048) if url else None


async def _soft(awaitable: Awaitable[T], timeout: float) -> T | None:
    """Await something that may fail or hang because the page is broken; None instead of an error."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except (PlaywrightError, asyncio.TimeoutError, ConnectionError, RuntimeError):
        return None


def _same_site_links(hrefs: Any, first_party: set[str], visited: set[str], limit: int) -> list[str]:
    picked: list[str] = []
    skip_ext = (".pdf", ".zip", ".jpg", ".jpeg", ".png", ".gif", ".svg", ".mp4", ".mp3", ".dmg", ".exe", ".doc", ".docx")
    if not isinstance(hrefs, list):
        return picked
    for href in hrefs[:2000]:
        if not isinstance(href, str) or len(href) > 2048:
            continue
        url, _ = urldefrag(href)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or site_of(url) not in first_party:
            continue
        if parts.path.lower().endswith(skip_ext) or "logout" in url.lower() or "signout" in url.lower():
            continue
        if url in visited or url in picked:
            continue
        picked.append(url)
        if len(picked) >= limit:
            break
    return picked


def make_profile_dir() -> str:
    """A new, empty browser profile whose preferences match a default desktop Chrome where it matters.

    Each site is visited in its own off-the-record context created from this profile. Chromium blocks
    third-party cookies in such contexts unless the profile says otherwise; a regular Chrome user does not
    block them, so the audit must not either, or it would under-report what trackers store.
    """
    path = tempfile.mkdtemp(prefix="lanterne-profile-")
    prefs = {
        "profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False},
        "safebrowsing": {"enabled": False},
        "translate": {"enabled": False},
        "search": {"suggest_enabled": False},
    }
    os.makedirs(os.path.join(path, "Default"))
    with open(os.path.join(path, "Default", "Preferences"), "w") as fh:
        json.dump(prefs, fh)
    return path


class Scanner:
    """One browser, many visits. Use as `async with Scanner(...) as scanner: await scanner.visit(url)`."""

    def __init__(
        self,
        options: VisitOptions | None = None,
        browser_path: str | None = None,
        extra_args: Sequence[str] = (),
        headless: bool = True,
    ) -> None:
        self.options = options or VisitOptions()
        self.browser_path = find_browser(browser_path)
        self.extra_args = list(extra_args)
        self.headless = headless
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._persistent: BrowserContext | None = None
        self._profile_dir: str | None = None
        self._recorder: _Recorder | None = None
        self._current_interactions: list[Any] = []
        self.visits_since_launch = 0
        self.launches = 0

    async def __aenter__(self) -> Scanner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        # The Playwright driver (Node.js) lets its heap grow to hundreds of MB over a long crawl; a cap keeps
        # each worker's memory bounded (it holds only the current visit's events).
        caps = "--max-old-space-size=192 --max-semi-space-size=2"
        if caps not in os.environ.get("NODE_OPTIONS", ""):
            os.environ["NODE_OPTIONS"] = (os.environ.get("NODE_OPTIONS", "") + " " + caps).strip()
        self._playwright = await async_playwright().start()
        await self._launch()

    async def close(self) -> None:
        await self._close_browser()
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await self._playwright.stop()
            self._playwright = None

    @property
    def browser_version(self) -> str | None:
        return self._browser.version if self._browser is not None else None

    def browser_pid(self) -> int | None:
        """The browser's main process, found by its profile folder among this process's children."""
        import psutil

        if not self._profile_dir:
            return None
        marker = f"--user-data-dir={self._profile_dir}"
        for child in psutil.Process().children(recursive=True):
            try:
                cmd = child.cmdline()
            except psutil.Error:
                continue
            if marker in cmd and not any(a.startswith("--type=") for a in cmd):
                return child.pid
        return None

    async def _launch(self) -> None:
        assert self._playwright is not None
        self._profile_dir = make_profile_dir()
        self._persistent = await self._playwright.chromium.launch_persistent_context(
            self._profile_dir,
            executable_path=self.browser_path,
            headless=self.headless,
            args=BASE_ARGS + self.extra_args,
            timeout=60_000,
        )
        self._browser = self._persistent.browser
        if self._browser is None:
            raise RuntimeError("Playwright gave no browser handle for the launched Chromium")
        for page in list(self._persistent.pages):  # the profile's blank start page: a renderer for nothing
            with contextlib.suppress(PlaywrightError):
                await page.close()
        self._browser.on("disconnected", self._on_disconnect)
        self.launches += 1
        self.visits_since_launch = 0

    async def _close_browser(self) -> None:
        persistent, self._persistent, self._browser = self._persistent, None, None
        if persistent is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(persistent.close(), 10)
        if self._profile_dir:
            shutil.rmtree(self._profile_dir, ignore_errors=True)
            self._profile_dir = None

    async def restart(self) -> None:
        await self._close_browser()
        await self._launch()

    def _user_agent(self) -> str:
        # Headless Chromium announces itself as "HeadlessChrome"; sites then behave differently for us than
        # for their visitors. Present the same browser as a desktop Chrome of the same major version.
        major = (self.browser_version or "0").split(".")[0]
        return (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{major}.0.0.0 Safari/537.36"
        )

    async def visit(self, url: str, options: VisitOptions | None = None, phase: str = "none") -> Visit:
        """Visit one site in a fresh context. Never raises for anything the site or browser does."""
        opts = options or self.options
        visit = Visit(target=url, started_at=time.time(), phase=phase, options=opts.describe())
        try:
            if self._browser is None or not self._browser.is_connected():
                await self.restart()
            assert self._browser is not None
            visit.browser_version = self._browser.version
            self.visits_since_launch += 1
            await self._visit_in_context(self._browser, visit, opts)
        except (PlaywrightError, asyncio.TimeoutError, ConnectionError) as exc:
            # The browser died or wedged while the context was being opened or closed.
            if visit.outcome is Outcome.OK:
                visit.outcome = Outcome.BROWSER_CRASH
                visit.reason = f"the browser failed: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
            await self._close_browser()
        visit.finished_at = time.time()
        return visit

    async def _visit_in_context(self, browser: Browser, visit: Visit, opts: VisitOptions) -> None:
        context = await asyncio.wait_for(
            browser.new_context(
                user_agent=self._user_agent(),
                locale=opts.locale,
                viewport={"width": 1366, "height": 768},
                service_workers="allow",
            ),
            30,
        )
        try:
            instruments = [make() for make in opts.instruments]
            # Instruments that also act on the loaded page (answering the banner) run before other steps.
            self._current_interactions = [i for i in instruments if hasattr(i, "run")]
            for instrument in instruments:
                await asyncio.wait_for(instrument.install(context, visit), 30)
            page = await asyncio.wait_for(context.new_page(), 30)
            cdp = await asyncio.wait_for(context.new_cdp_session(page), 10)
            recorder = _Recorder(context, page, cdp, opts)
            self._recorder = recorder
            await asyncio.wait_for(
                asyncio.gather(cdp.send("Network.enable"), cdp.send("DOMStorage.enable"), cdp.send("Page.enable")),
                10,
            )
            try:
                await asyncio.wait_for(self._protocol(recorder, visit, opts), opts.hard_timeout())
            except asyncio.TimeoutError:
                visit.outcome = Outcome.TIMEOUT
                visit.reason = f"the visit exceeded its {opts.hard_timeout():.0f} s limit during step '{recorder.step}'"
            except _VisitAborted as aborted:
                visit.outcome, visit.reason = aborted.outcome, aborted.reason
            for instrument in instruments:
                with contextlib.suppress(PlaywrightError, asyncio.TimeoutError):
                    await asyncio.wait_for(instrument.collect(visit), 10)
            await self._finalize(recorder, visit, opts)
        finally:
            self._recorder = None
            if browser.is_connected() and visit.outcome is not Outcome.BROWSER_CRASH:
                try:
                    await asyncio.wait_for(context.close(), 10)
                except (asyncio.TimeoutError, PlaywrightError):
                    await self._close_browser()  # a wedged browser is replaced at the next visit
            else:
                await self._close_browser()

    def _on_disconnect(self, _browser: Browser) -> None:
        if self._recorder is not None:
            self._recorder._abort(Outcome.BROWSER_CRASH, "the browser process exited")

    async def _protocol(self, rec: _Recorder, visit: Visit, opts: VisitOptions) -> None:
        page = rec.page
        committed = await self._load(rec, visit, visit.target, opts)
        if not committed:
            return
        visit.pages.append(page.url)
        await self._settle(rec, opts)
        for interaction in [*self._current_interactions, *opts.interactions]:
            try:
                await rec.guard(interaction.run(page, visit), 20, f"interaction:{interaction.name}")
            except _StepTimeout:
                pass  # an interaction that cannot finish is skipped; the visit goes on
        await self._browse(rec, opts)
        if opts.pages > 0:
            first_party = {site_of(visit.target), site_of(page.url)}
            hrefs = await self._soft_step(rec, page.evaluate("() => Array.from(document.links, a => a.href)"), 5, "links")
            for link in _same_site_links(hrefs, first_party, set(visit.pages), opts.pages):
                rec.page_index += 1
                if await self._load(rec, visit, link, opts):
                    visit.pages.append(page.url)
                    await self._settle(rec, opts)
                    await self._browse(rec, opts)

    async def _soft_step(self, rec: _Recorder, awaitable: Awaitable[T], timeout: float, step: str) -> T | None:
        try:
            return await rec.guard(awaitable, timeout, step)
        except _StepTimeout:
            return None
        except PlaywrightError:
            return None

    async def _load(self, rec: _Recorder, visit: Visit, url: str, opts: VisitOptions) -> bool:
        """Navigate; True when a document was committed, even if its load event never came."""
        page = rec.page
        try:
            response = await rec.guard(
                page.goto(url, wait_until="load", timeout=opts.load_timeout * 1000),
                opts.load_timeout + 5,
                f"load:{url}",
            )
            if rec.page_index == 0:
                visit.document_status = response.status if response is not None else None
            return True
        except (_StepTimeout, PlaywrightError) as exc:
            message = str(exc) if isinstance(exc, PlaywrightError) else "Timeout"
            outcome, reason = classify_navigation_error(message)
            if outcome is Outcome.TIMEOUT:
                reason = f"the load event did not fire within {opts.load_timeout:g} s"
            if rec.page_index == 0:
                visit.outcome, visit.reason = outcome, reason
                main = [r for r in rec.requests if r.is_navigation_request() and r.frame == page.main_frame]
                if main and rec.responses.get(main[-1]) is not None:
                    visit.document_status = rec.responses[main[-1]].status
            if outcome in (Outcome.RENDERER_CRASH, Outcome.BROWSER_CRASH):
                raise _VisitAborted(outcome, reason) from None
            # A page that committed but never finished loading is still observed: it is doing things.
            return outcome is Outcome.TIMEOUT and page.url not in ("", "about:blank")

    async def _settle(self, rec: _Recorder, opts: VisitOptions) -> None:
        with contextlib.suppress(_StepTimeout):
            await rec.guard(rec.wait_quiet(), opts.quiet_max + 1, "quiet")

    async def _browse(self, rec: _Recorder, opts: VisitOptions) -> None:
        if opts.scroll:
            await self._soft_step(
                rec,
                rec.page.evaluate(
                    """async () => {
                        for (let i = 0; i < 5; i++) {
                            window.scrollBy(0, window.innerHeight);
                            await new Promise(r => setTimeout(r, 150));
                        }
                    }"""
                ),
                5,
                "scroll",
            )
        if opts.dwell > 0:
            with contextlib.suppress(_StepTimeout):
                await rec.guard(asyncio.sleep(opts.dwell), opts.dwell + 2, "dwell")

    async def _finalize(self, rec: _Recorder, visit: Visit, opts: VisitOptions) -> None:
        page = rec.page
        alive = visit.outcome not in (Outcome.RENDERER_CRASH, Outcome.BROWSER_CRASH)
        if alive:
            if page.url and page.url != "about:blank":
                visit.final_url = _cap(page.url, MAX_URL)
            title = await _soft(page.title(), 3.0)
            visit.title = _cap(title, MAX_TITLE) if title else None
            if opts.screenshot:
                visit.screenshot = await _soft(page.screenshot(type="png", timeout=10_000), 12.0)
            visit.storage = await rec.storage()
        visit.cookies = await rec.cookies() if visit.outcome is not Outcome.BROWSER_CRASH else []
        visit.requests = await rec.request_records()
        visit.storage_writes = rec.storage_writes
        visit.websocket_frames = rec.ws_frames
        visit.dialogs = rec.dialogs
        if rec.dialog_count > len(rec.dialogs):
            visit.options["dialogs_total"] = rec.dialog_count
        if visit.final_url is None and visit.requests:
            navigations = [r for r in visit.requests if r.is_navigation and r.page_index == 0]
            if navigations:
                visit.final_url = navigations[-1].url
        mark_parties(visit)


def mark_parties(visit: Visit) -> None:
    """Tell first- from third-party requests and cookies by registrable domain."""
    first = {site_of(visit.target)}
    if visit.final_url:
        first.add(site_of(visit.final_url))
    first.discard("")
    visit.first_party_sites = sorted(first)
    for req in visit.requests:
        req.host = req.host or host_of(req.url)
        req.site = site_of(req.url)
        req.third_party = bool(req.site) and req.site not in first
    for cookie in visit.cookies:
        cookie.third_party = bool(cookie.site) and cookie.site not in first
