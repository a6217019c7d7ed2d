"""Session recorders: known recording services by the domains they use (kept as data), and unknown ones by
their behaviour: a script that watches every change to the whole document and listens to what the visitor
types, and whose own domain receives uploads."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from lanterne.detect.companies import canonical_company
from lanterne.detect.engine import DetectContext
from lanterne.detect.lists import company_db
from lanterne.domains import host_matches, host_of, site_of
from lanterne.records import Finding

RECORDERS = Path(str(resources.files("lanterne") / "data" / "session-recorders.json"))
TYPING = ("dom.listen.input", "dom.listen.keydown", "dom.listen.keyup", "dom.listen.keypress", "dom.listen.change")
MIN_UPLOAD = 2 * 1024  # bytes a behaviour-detected recorder's domain must receive


@lru_cache(maxsize=1)
def known_recorders() -> list[dict[str, Any]]:
    with open(RECORDERS, encoding="utf-8") as fh:
        return json.load(fh)["recorders"]


def recorder_for(host: str) -> dict[str, Any] | None:
    for entry in known_recorders():
        if any(host_matches(host, domain) for domain in entry["domains"]):
            return entry
    return None


class SessionRecorders:
    name = "session-recorders"

    def detect(self, ctx: DetectContext) -> Iterable[Finding]:
        visit = ctx.visit
        found: dict[str, dict[str, Any]] = {}
        for req in visit.requests:
            entry = recorder_for(req.host)
            if entry is None:
                continue
            key = canonical_company(entry["company"]) or entry["company"]
            item = found.setdefault(key, {"product": entry["product"], "how": set(), "evidence": [], "site": req.site, "company": key})
            item["how"].add("known recording service")
            item["evidence"].append(req.seq)
        # Behaviour: watch the whole document + listen to typing, and upload to the script's own site.
        scripts: dict[str, set[str]] = defaultdict(set)
        whole_document: set[str] = set()
        for call in visit.js_calls:
            scripts[call.script_url].add(call.api)
            if call.api == "dom.MutationObserver.observe" and any(
                isinstance(a, dict) and a.get("root") and a.get("subtree") for args in call.args for a in args
            ):
                whole_document.add(call.script_url)
        uploads: dict[str, int] = defaultdict(int)
        upload_seqs: dict[str, list[int]] = defaultdict(list)
        for req in visit.requests:
            if req.body is not None and req.third_party:
                uploads[req.site] += req.body.size
                upload_seqs[req.site].append(req.seq)
        db = company_db()
        for script in whole_document:
            if not scripts[script] & set(TYPING):
                continue
            site = site_of(script)
            if uploads.get(site, 0) < MIN_UPLOAD:
                continue
            owner = db.owner_of(host_of(script))
            key = owner.company if owner else site
            entry = recorder_for(host_of(script))
            if entry is not None:
                key = canonical_company(entry["company"]) or entry["company"]
            item = found.setdefault(key, {"product": entry["product"] if entry else None, "how": set(), "evidence": [],
                                          "site": site, "company": key if (owner or entry) else None})
            item["how"].add("behaviour: watches the whole page and listens to typing, then uploads")
            item["script"] = script
            item["uploaded_bytes"] = uploads[site]
            item["evidence"].extend(upload_seqs[site])
        findings = []
        for key, item in found.items():
            findings.append(
                Finding(
                    kind="session_recording",
                    detector=self.name,
                    company=item["company"],
                    domain=item["site"],
                    category="session_recording",
                    data_type="session_recording",
                    summary=f"{item.get('product') or key} records the session ({'; '.join(sorted(item['how']))})",
                    evidence=sorted(set(item["evidence"]))[:200],
                    details={"product": item.get("product"), "how": sorted(item["how"]), "script": item.get("script"),
                             "uploaded_bytes": item.get("uploaded_bytes")},
                )
            )
        return findings
