"""Who receives the visit: third-party requests and cookies, attributed to companies.

Runs first; later detectors read `ctx.shared["owners"]` (request seq -> Owner or None).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from lanterne.detect.engine import DetectContext
from lanterne.detect.lists import CompanyDB, Owner, company_db
from lanterne.domains import registrable_domain
from lanterne.records import CookieRecord, Finding, RequestRecord

MAX_EVIDENCE = 200
_FIRST_PARTY_COOKIES = Path(str(resources.files("lanterne") / "data" / "first-party-tracker-cookies.json"))


def _load_cookie_names() -> list[dict[str, str]]:
    with open(_FIRST_PARTY_COOKIES, encoding="utf-8") as fh:
        return json.load(fh)["cookies"]


def known_tracker_cookie(name: str, table: list[dict[str, str]]) -> dict[str, str] | None:
    for entry in table:
        pattern = entry["name"]
        if (pattern.endswith("*") and name.startswith(pattern[:-1])) or name == pattern:
            return entry
    return None


class Attribution:
    name = "attribution"

    def __init__(self, db: CompanyDB | None = None) -> None:
        self._db = db
        self._cookie_names: list[dict[str, str]] | None = None

    @property
    def db(self) -> CompanyDB:
        return self._db or company_db()

    def owner(self, req: RequestRecord) -> Owner | None:
        return self.db.owner_of(req.host)

    def detect(self, ctx: DetectContext) -> Iterable[Finding]:
        visit = ctx.visit
        owners: dict[int, Owner | None] = {}
        page_url = visit.final_url or visit.target
        groups: dict[str, list[RequestRecord]] = defaultdict(list)
        group_owner: dict[str, Owner | None] = {}
        rules: dict[str, set[str]] = defaultdict(set)
        for req in visit.requests:
            owner = self.owner(req)
            cloaked = owner is not None and owner.cname_of is not None and not req.third_party
            if not req.third_party and not cloaked:
                continue
            owners[req.seq] = owner
            key = owner.company if owner else (req.site or registrable_domain(req.host))
            groups[key].append(req)
            group_owner.setdefault(key, owner)
            rule = self.db.tracking_rule(req.url, page_url, req.resource_type)
            if rule:
                rules[key].add(rule)
        ctx.shared["owners"] = owners
        findings: list[Finding] = []
        for key, reqs in groups.items():
            owner = group_owner[key]
            sites = sorted({r.site for r in reqs})
            details: dict[str, Any] = {
                "hosts": sorted({r.host for r in reqs})[:50],
                "requests": len(reqs),
                "sources": sorted({o.source for r in reqs if (o := owners.get(r.seq))}),
                "products": sorted({o.product for r in reqs if (o := owners.get(r.seq)) and o.product}),
            }
            if rules.get(key):
                details["easyprivacy_rules"] = sorted(rules[key])[:20]
            cnames = sorted({o.cname_of for r in reqs if (o := owners.get(r.seq)) and o.cname_of})
            if cnames:
                details["cname_cloaking"] = {r.host: owners[r.seq].cname_of for r in reqs if owners[r.seq] and owners[r.seq].cname_of}
            category = owner.category if owner else ("tracking" if rules.get(key) else "unknown")
            company = owner.company if owner else None
            who = company or f"{key} (owner unknown)"
            findings.append(
                Finding(
                    kind="third_party",
                    detector=self.name,
                    company=company,
                    domain=sites[0] if sites else key,
                    category=category,
                    data_type="visit",
                    summary=f"{len(reqs)} request(s) to {who}" + (" through a CNAME alias" if cnames else ""),
                    evidence=[r.seq for r in reqs][:MAX_EVIDENCE],
                    details=details,
                )
            )
        findings.extend(self._cookies(ctx))
        return findings

    def _cookies(self, ctx: DetectContext) -> list[Finding]:
        if self._cookie_names is None:
            self._cookie_names = _load_cookie_names()
        visit = ctx.visit
        by_company: dict[str, list[CookieRecord]] = defaultdict(list)
        meta: dict[str, tuple[str | None, str, str, bool]] = {}
        for cookie in visit.cookies:
            if cookie.third_party:
                owner = self.db.owner_of(cookie.domain.lstrip("."))
                key = owner.company if owner else cookie.site
                by_company[key].append(cookie)
                meta.setdefault(key, (owner.company if owner else None, cookie.site, owner.category if owner else "unknown", True))
            else:
                known = known_tracker_cookie(cookie.name, self._cookie_names)
                if known:
                    key = f"{known['company']}|first-party"
                    by_company[key].append(cookie)
                    meta.setdefault(key, (known["company"], cookie.site, known.get("category", "advertising"), False))
        findings = []
        for key, cookies in by_company.items():
            company, site, category, third_party = meta[key]
            evidence = _setting_requests(visit.requests, cookies)
            if ctx.after_answer:
                # Only cookies a response set after the banner was answered are this phase's doing; the
                # others may have been set before the answer (scripts' cookies carry no time).
                set_after = {line.split("=", 1)[0].strip() for r in visit.requests if r.response for line in r.response.set_cookies}
                cookies = [c for c in cookies if c.name in set_after]
                if not cookies:
                    continue
            names = [c.name for c in cookies]
            where = "third-party" if third_party else "first-party (set by the tracker's script on the site's own domain)"
            findings.append(
                Finding(
                    kind="cookie",
                    detector=self.name,
                    company=company,
                    domain=site,
                    category=category,
                    data_type="identifier_cookie",
                    summary=f"{len(cookies)} {where} cookie(s): {', '.join(names[:10])}",
                    evidence=evidence[:MAX_EVIDENCE],
                    details={
                        "third_party": third_party,
                        "cookies": [
                            {"name": c.name, "domain": c.domain, "expires": c.expires, "value_length": len(c.value)}
                            for c in cookies[:100]
                        ],
                    },
                )
            )
        return findings


def _setting_requests(requests: list[RequestRecord], cookies: list[CookieRecord]) -> list[int]:
    """Requests whose response set one of these cookies by header (script-set cookies have none)."""
    names = {c.name for c in cookies}
    seqs = []
    for req in requests:
        if req.response is None:
            continue
        for line in req.response.set_cookies:
            if line.split("=", 1)[0].strip() in names:
                seqs.append(req.seq)
                break
    return seqs
