"""The page itself going to third parties: its address and its title.

On a clinic's or a place of worship's page, the address or title alone says something sensitive about the
reader. A match is looked for in what the request carries (decoded query, body, JSON), never in the
`Origin` header or an origin-only `Referer`, which every cross-site request has.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from urllib.parse import quote, urldefrag, urlsplit

from lanterne.detect.engine import DetectContext
from lanterne.detect.payloads import decode_request
from lanterne.records import Finding, RequestRecord, header_value

MIN_TITLE = 8


def _url_variants(url: str) -> list[str]:
    url, _ = urldefrag(url)
    variants = {url}
    parts = urlsplit(url)
    if parts.path in ("", "/") and not parts.query:
        variants.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(variants, key=len, reverse=True)


def _found_in(req: RequestRecord, needles: list[str]) -> list[str]:
    payload = decode_request(req)
    places: list[str] = []
    for name, value in payload.fields.items():
        if any(n == value or (len(n) > 20 and n in value) for n in needles):
            places.append(name)
    if not places:
        for where, text in payload.layers:
            if any(n in text or (where == "url" and quote(n, safe="") in text) for n in needles):
                places.append(where)
                break
    referer = header_value(req.headers, "referer") or ""
    if referer and urlsplit(referer).path not in ("", "/") and any(referer.startswith(n) for n in needles):
        places.append("header.referer")
    return places[:20]


class PageData:
    name = "page-data"

    def detect(self, ctx: DetectContext) -> Iterable[Finding]:
        visit = ctx.visit
        owners = ctx.shared.get("owners", {})
        pages = list(dict.fromkeys([*visit.pages, visit.final_url or "", visit.target]))
        url_needles = [v for page in pages if page for v in _url_variants(page)]
        title = (visit.title or "").strip()
        title_needles = [title] if len(title) >= MIN_TITLE else []
        hits: dict[tuple[str, str], list[tuple[RequestRecord, list[str]]]] = defaultdict(list)
        for req in visit.requests:
            if not req.third_party and req.seq not in owners:
                continue
            owner = owners.get(req.seq)
            who = owner.company if owner else req.site
            for data_type, needles in (("page_url", url_needles), ("page_title", title_needles)):
                if not needles:
                    continue
                places = _found_in(req, needles)
                if places:
                    hits[(who, data_type)].append((req, places))
        findings = []
        for (who, data_type), found in hits.items():
            owner = owners.get(found[0][0].seq)
            label = "the address of the page" if data_type == "page_url" else "the title of the page"
            findings.append(
                Finding(
                    kind="page_data",
                    detector=self.name,
                    company=owner.company if owner else None,
                    domain=found[0][0].site,
                    category=owner.category if owner else None,
                    data_type=data_type,
                    encoding="plain",
                    summary=f"{who} receives {label} in {len(found)} request(s)",
                    evidence=[req.seq for req, _ in found][:200],
                    details={
                        "value": (url_needles[0] if data_type == "page_url" else title)[:2000],
                        "places": {str(req.seq): places for req, places in found[:50]},
                    },
                )
            )
        return findings
