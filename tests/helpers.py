"""Building records by hand for detector tests (the browser tests use real captures)."""

from __future__ import annotations

import time

from lanterne.capture import mark_parties
from lanterne.records import Body, RequestRecord, ResponseRecord, Visit


def request(
    url: str,
    method: str = "GET",
    body: str | bytes | None = None,
    headers: list[tuple[str, str]] | None = None,
    seq: int = 2,
    resource_type: str = "fetch",
) -> RequestRecord:
    data = body.encode() if isinstance(body, str) else body
    return RequestRecord(
        seq=seq,
        url=url,
        method=method,
        resource_type=resource_type,
        started_at=time.time(),
        headers=headers or [],
        body=Body.from_bytes(data, 1024 * 1024) if data is not None else None,
        response=ResponseRecord(200),
    )


def visit_with(target: str, *requests: RequestRecord, title: str | None = None, canary: dict | None = None) -> Visit:
    visit = Visit(target=target, started_at=time.time(), final_url=target, title=title, pages=[target])
    document = RequestRecord(1, target, "GET", "document", time.time(), is_navigation=True, response=ResponseRecord(200))
    visit.requests = [document]
    for i, req in enumerate(requests, start=2):
        req.seq = i
        visit.requests.append(req)
    if canary is not None:
        visit.options["canary"] = canary
    mark_parties(visit)
    return visit
