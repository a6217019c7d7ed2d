"""TikTok on the simulated web, written for Lanterne's tests: the Research API's documented contract, and
public post and account pages carrying the `__UNIVERSAL_DATA_FOR_REHYDRATION__` state a browser receives.

The Research API emulation follows TikTok's documentation for `POST /v2/oauth/token/` (client credentials)
and `POST /v2/research/video/query/` (conditions on hashtag_name, keyword, region_code, create_date;
windows of at most 30 days; paging with cursor and search_id; error objects with a code), and can be told
to misbehave as the real one does: rate limits (429), server errors (500), expired search ids, expired
tokens, and an exhausted daily quota.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from lanterne.simweb.server import Router, SimRequest, SimResponse

CLIENT_KEY = "lanterne-test-key"
CLIENT_SECRET = "lanterne-test-secret"  # noqa: S105 - the emulator's own, not a real credential


@dataclass
class Faults:
    """Which calls misbehave, by their number (1 = the first query call)."""

    rate_limited: set[int] = field(default_factory=set)  # 429 with Retry-After
    server_error: set[int] = field(default_factory=set)  # 500
    expire_search_id: set[int] = field(default_factory=set)  # the search id given is reported expired
    expire_token: set[int] = field(default_factory=set)  # the access token is reported invalid
    daily_quota: int | None = None  # calls allowed per day, then daily_quota_limit_exceeded


@dataclass
class ResearchApi:
    """Videos per hashtag and day come from `volume(hashtag, day)`; ids are stable across calls."""

    volume: dict[str, int] = field(default_factory=dict)  # hashtag -> videos per day
    faults: Faults = field(default_factory=Faults)
    page_size_cap: int = 100
    calls: int = 0
    tokens: set[str] = field(default_factory=set)
    searches: dict[str, dict] = field(default_factory=dict)
    expired: set[str] = field(default_factory=set)
    log: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def videos(self, hashtags: list[str], start: dt.date, end: dt.date) -> list[dict]:
        found = []
        day = start
        while day <= end:
            for tag in hashtags:
                for i in range(self.volume.get(tag, 0)):
                    vid = int(hashlib.sha1(f"{tag}|{day}|{i}".encode()).hexdigest()[:15], 16)
                    stamp = int(dt.datetime.combine(day, dt.time(12), dt.timezone.utc).timestamp())
                    found.append({"id": vid, "create_time": stamp, "region_code": "FR", "hashtag_names": [tag]})
            day += dt.timedelta(days=1)
        return sorted(found, key=lambda v: v["id"])

    def expected(self, hashtag: str, start: dt.date, end: dt.date) -> int:
        return self.volume.get(hashtag, 0) * ((end - start).days + 1)

    # -- HTTP ------------------------------------------------------------------------------------------
    def token(self, req: SimRequest) -> SimResponse:
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        if form.get("grant_type") != "client_credentials" or form.get("client_key") != CLIENT_KEY or form.get("client_secret") != CLIENT_SECRET:
            return _json({"error": "invalid_client", "error_description": "Client key or secret is incorrect."}, 401)
        with self.lock:
            token = f"clt.{hashlib.sha1(str(len(self.tokens)).encode()).hexdigest()}"
            self.tokens.add(token)
        return _json({"access_token": token, "expires_in": 7200, "token_type": "Bearer"})

    def query(self, req: SimRequest) -> SimResponse:
        with self.lock:
            self.calls += 1
            call = self.calls
        auth = req.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        if token not in self.tokens or call in self.faults.expire_token:
            self.tokens.discard(token)
            return _error(401, "access_token_invalid", "The access token is invalid or not found in the request.")
        if self.faults.daily_quota is not None and call > self.faults.daily_quota:
            return _error(429, "daily_quota_limit_exceeded", "API daily quota limit exceeded.")
        if call in self.faults.rate_limited:
            return _error(429, "rate_limit_exceeded", "API rate limit exceeded.", [("Retry-After", "1")])
        if call in self.faults.server_error:
            return _error(500, "internal_error", "Something went wrong. Please try again later.")
        try:
            body = json.loads(req.body or b"{}")
            start = dt.datetime.strptime(body["start_date"], "%Y%m%d").date()
            end = dt.datetime.strptime(body["end_date"], "%Y%m%d").date()
        except (KeyError, ValueError, TypeError):
            return _error(400, "invalid_params", "start_date and end_date (YYYYMMDD) are required.")
        if end < start or (end - start).days > 30:
            return _error(400, "invalid_params", "The end_date must be no more than 30 days after the start_date.")
        max_count = min(int(body.get("max_count") or 20), self.page_size_cap)
        cursor = int(body.get("cursor") or 0)
        search_id = body.get("search_id")
        if search_id:
            if search_id in self.expired or search_id not in self.searches or call in self.faults.expire_search_id:
                self.expired.add(search_id)
                return _error(400, "invalid_params", f"Search Id {search_id} is invalid or expired.")
        hashtags: list[str] = []
        for condition in (body.get("query") or {}).get("and", []):
            if condition.get("field_name") == "hashtag_name" and condition.get("operation") == "IN":
                hashtags += [str(v).lower() for v in condition.get("field_values", [])]
        videos = self.videos(hashtags, start, end)
        if not search_id:
            search_id = hashlib.sha1(f"{call}|{hashtags}|{start}".encode()).hexdigest()[:20]
            self.searches[search_id] = {"hashtags": hashtags}
        page = videos[cursor : cursor + max_count]
        self.log.append({"call": call, "hashtags": hashtags, "cursor": cursor, "returned": len(page)})
        return _json({
            "data": {"videos": page, "cursor": cursor + len(page), "has_more": cursor + len(page) < len(videos),
                     "search_id": search_id},
            "error": {"code": "ok", "message": "", "log_id": f"log{call}"},
        })

    def install(self, router: Router, host: str = "127.0.0.1") -> None:
        def handle(req: SimRequest) -> SimResponse:
            if req.method == "POST" and req.path == "/v2/oauth/token/":
                return self.token(req)
            if req.method == "POST" and req.path == "/v2/research/video/query/":
                return self.query(req)
            return _error(404, "not_found", "No such endpoint.")

        router.host(host, handle)


def _json(obj: object, status: int = 200, headers: list[tuple[str, str]] | None = None) -> SimResponse:
    return SimResponse(status=status, body=json.dumps(obj).encode(), content_type="application/json", headers=headers or [])


def _error(status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> SimResponse:
    return _json({"data": {}, "error": {"code": code, "message": message, "log_id": "log-error"}}, status, headers)


# -- public pages ------------------------------------------------------------------------------------------


@dataclass
class PublicPages:
    """Post and account pages whose embedded state says what TikTok says to a browser: statusCode 0 when
    available, 10216 for a private post, 10222 for a private account, 10204 when blocked for the visitor's
    network, anything else as given. `states` maps a post id or a user name to a list of codes, one per
    successive check (the last repeats)."""

    states: dict[str, list[int | None]] = field(default_factory=dict)
    served: dict[str, int] = field(default_factory=dict)

    def _code(self, key: str) -> int | None:
        codes = self.states.get(key, [0])
        index = self.served.get(key, 0)
        self.served[key] = index + 1
        return codes[min(index, len(codes) - 1)]

    def page(self, req: SimRequest) -> SimResponse:
        parts = [p for p in req.path.split("/") if p]
        if len(parts) >= 3 and parts[0].startswith("@") and parts[1] == "video":
            key, scope = parts[2], "webapp.video-detail"
        elif len(parts) == 1 and parts[0].startswith("@"):
            key, scope = parts[0][1:], "webapp.user-detail"
        else:
            return SimResponse(status=404, body=b"not found", content_type="text/plain")
        code = self._code(key)
        if code is None:  # a page without the embedded state (a challenge page, a redesign)
            return SimResponse(body=b"<!doctype html><title>TikTok</title><p>Please wait...</p>")
        state = {"__DEFAULT_SCOPE__": {scope: {"statusCode": code, "statusMsg": "" if code == 0 else "unavailable"}}}
        if code == 0 and scope == "webapp.video-detail":
            state["__DEFAULT_SCOPE__"][scope]["itemInfo"] = {"itemStruct": {"id": key, "desc": "a post"}}
        blob = json.dumps(state).replace("</", "<\\/")
        html = (
            "<!doctype html><html><head><title>TikTok</title></head><body>"
            f'<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">{blob}</script></body></html>'
        )
        return SimResponse(body=html.encode())

    def install(self, router: Router, host: str = "www.tiktok.com") -> None:
        router.host(host, self.page)
