"""Self-contained HTML reports: one site's visit, or a whole database (a crawl).

The files need nothing but themselves: styles and charts are inline, the screenshot is a data URI, and a
Content-Security-Policy forbids every script, so nothing taken from a scanned page can run even if an
escaping bug let it through. Values from scanned pages are escaped (Jinja autoescape), never made into
links, and long ones are cut in view with the full value in a disclosure element.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

import lanterne
from lanterne.detect.decoders import decode_events
from lanterne.detect.lists import company_db
from lanterne.detect.payloads import decode_request
from lanterne.records import Visit
from lanterne.report.charts import bar_chart, matrix_chart
from lanterne.report.i18n import N_, Translator, translator
from lanterne.report.model import CATEGORY_LABELS, DATA_LABELS, OUTCOME_LABELS, PERSONAL, CompanyRow, company_rows
from lanterne.store import Store

TEMPLATES = Path(str(resources.files("lanterne") / "report" / "templates"))
CLIP = 160
MAX_SCREENSHOT = 8 * 1024 * 1024
MAX_REQUESTS_SHOWN = 2000

# Phrases of the summary sentence, per data type (English message ids).
PHRASES = {
    "page_url": N_("which page you read"),
    "page_title": N_("the title of the page you read"),
    "pixel_event": N_("what you do on the page"),
    "identifier_cookie": N_("an identifier that recognises you when you come back"),
    "visit": N_("that you are visiting it"),
}
FIELD_NAMES = {
    "email": N_("the email address you typed"),
    "phone": N_("the phone number you typed"),
    "first_name": N_("the first name you typed"),
    "last_name": N_("the last name you typed"),
    "postal_code": N_("the postal code you typed"),
}
PHASE_LABELS = {
    "none": N_("before you answer the cookie banner"),
    "refuse": N_("after you refused cookies"),
    "accept": N_("after you accepted cookies"),
}


def _environment(t: Translator) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["clip"] = clip
    env.filters["when"] = lambda epoch: _when(epoch)
    env.filters["outcome"] = lambda value: t(OUTCOME_LABELS.get(value, value))
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False, indent=1, default=str)
    return env


@dataclass
class Clipped:
    short: str
    full: str
    clipped: bool


def clip(value: Any, limit: int = CLIP) -> Clipped:
    text = "" if value is None else str(value)
    full = text if len(text) <= 65536 else text[:65536] + " […]"
    return Clipped(text if len(text) <= limit else text[: limit - 1] + "…", full, len(text) > limit)


def _when(epoch: float | None) -> str:
    if not epoch:
        return ""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _join(items: list[Markup], t: Translator) -> Markup:
    if not items:
        return Markup("")
    if len(items) == 1:
        return items[0]
    return Markup(escape(t(", "))).join(items[:-1]) + Markup(escape(t(" and "))) + items[-1]


def _personal_phrase(item: Any, t: Translator) -> str:
    hashed = any(e.split("-")[0] in ("md5", "sha1", "sha256", "sha512") for e in item.encodings)
    what = t(FIELD_NAMES.get(item.data_type, item.data_type))
    phrase = (t("sends a hash of %(what)s") if hashed else t("sends %(what)s")) % {"what": what}
    if item.before_submit:
        phrase += " " + t("(before you even send the form)")
    return phrase


OPENINGS = {
    # (phase, banner seen): the first sentence's template, then the one for the following companies.
    ("none", False): (N_("When you visit this page, it tells %(company)s %(what)s."), N_("It also tells %(company)s %(what)s.")),
    ("none", True): (
        N_("Before you answer the cookie banner, this page already tells %(company)s %(what)s."),
        N_("It also tells %(company)s %(what)s."),
    ),
    ("refuse", True): (
        N_("After you refuse cookies, this page still tells %(company)s %(what)s."),
        N_("It also still tells %(company)s %(what)s."),
    ),
    ("accept", True): (
        N_("After you accept cookies, this page tells %(company)s %(what)s."),
        N_("It also tells %(company)s %(what)s."),
    ),
}
TECHNIQUE_NAMES = {
    "canvas": N_("canvas"), "canvas_font": N_("installed fonts"), "webgl": N_("graphics card"),
    "audio": N_("audio stack"), "webrtc": N_("local network addresses"), "navigator": N_("browser and screen properties"),
    "battery": N_("battery"),
}


def summary_sentences(
    rows: list[CompanyRow], t: Translator, anchors: dict[str, str], phase: str = "none", banner: bool = False
) -> list[Markup]:
    """Plain-language sentences, the most serious first, each company linked to its evidence.

    Shape: "When you visit this page, it tells ByteDance (TikTok) which page you read, sends a hash of the
    email address you typed (before you even send the form) and stores an identifier...". The opening says
    when it happens with respect to the cookie banner. Companies that only receive the visit itself are
    named together at the end.
    """
    first, following = OPENINGS.get((phase, banner), OPENINGS[("none", False)])
    sentences: list[Markup] = []
    quiet: list[Markup] = []
    for row in rows:
        link = Markup('<a href="#{}">{}</a>').format(anchors[row.key], row.name)
        # Key logging is said by the typed values' phrases ("... before you even send the form").
        sends = [_personal_phrase(item, t) for item in row.personal_data]
        if "session_recording" in row.data:
            sends.append(t("records what you do on the page"))
        if "fingerprinting" in row.data:
            techniques = ", ".join(t(TECHNIQUE_NAMES.get(x, x)) for x in row.techniques)
            sends.append(t("fingerprints your browser (%(techniques)s)") % {"techniques": techniques})
        if "identifier_cookie" in row.data:
            sends.append(t("stores %(what)s") % {"what": t(PHRASES["identifier_cookie"])})
        if "page_url" in row.data:
            tells = t(PHRASES["page_url"])
        elif "page_title" in row.data:
            tells = t(PHRASES["page_title"])
        elif "pixel_event" in row.data:
            tells = t(PHRASES["pixel_event"])
        elif sends:
            tells = t(PHRASES["visit"])
        else:
            quiet.append(link)
            continue
        what = _join([Markup(escape(p)) for p in [tells, *sends]], t)
        template = t(first) if not sentences else t(following)
        sentences.append(Markup(escape(template)) % {"company": link, "what": what})
    if quiet:
        template = t("Your browser also contacts %(companies)s, which learn at least that you are visiting this page.")
        if not sentences:
            template = t("When you visit this page, your browser contacts %(companies)s, which learn at least that you are visiting it.")
        sentences.append(Markup(escape(template)) % {"companies": _join(quiet, t)})
    return sentences


def _screenshot(visit: Visit) -> str | None:
    data = visit.screenshot
    if data is None and visit.screenshot_path:
        path = Path(visit.screenshot_path)
        if path.is_file() and path.stat().st_size <= MAX_SCREENSHOT:
            data = path.read_bytes()
    if not data or not data.startswith(b"\x89PNG"):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _item_rows(row: CompanyRow, t: Translator) -> list[dict[str, Any]]:
    items = []
    for key, item in row.data.items():
        label = t(DATA_LABELS.get(key, key))
        how: list[str] = []
        if key in PERSONAL:
            how = [t("in plain text") if e == "plain" else t("as %(encoding)s") % {"encoding": e} for e in item.encodings]
        elif key == "pixel_event":
            how = [", ".join(row.events[:12])]
        elif key == "identifier_cookie":
            how = [", ".join(dict.fromkeys(row.cookies))[:300]]
        elif key == "fingerprinting":
            how = [", ".join(t(TECHNIQUE_NAMES.get(x, x)) for x in row.techniques)]
        when = [t(PHASE_LABELS[p]) for p in item.phases if p in PHASE_LABELS and p != "none"]
        if item.before_submit:
            when.insert(0, t("before you sent the form"))
        items.append({"label": label, "how": "; ".join(how), "when": "; ".join(when), "evidence": item.evidence[:40],
                      "more": max(0, len(item.evidence) - 40), "personal": key in PERSONAL or key == "keylogging"})
    return items


def _consent_view(visit: Visit, t: Translator) -> dict[str, Any] | None:
    banner = next((f for f in visit.findings if f.kind == "consent_banner"), None)
    if banner is None:
        return None
    details = banner.details
    tcf = details.get("tcf") or {}
    decoded = tcf.get("decoded") or {}
    return {
        "platform": details.get("platform"),
        "shown": details.get("banner_shown"),
        "answered": details.get("answered"),
        "phase": details.get("phase"),
        "cmp_id": tcf.get("cmpId"),
        "tc_string": clip(tcf.get("tcString") or "", 80),
        "purposes": decoded.get("purposes_consent"),
        "vendors": decoded.get("vendors_consent"),
        "decode_error": decoded.get("error"),
    }


def _phase_context(visit: Visit, visit_id: int | None, t: Translator, db: Any) -> dict[str, Any]:
    """One visit (one consent phase) of a site: its summary, companies and evidence."""
    prefix = f"v{visit_id}-" if visit_id is not None else ""
    rows = company_rows(visit.findings)
    anchors = {row.key: f"{prefix}company-{i}" for i, row in enumerate(rows, start=1)}
    consent = _consent_view(visit, t)
    banner = bool(consent and (consent["shown"] or consent["platform"]))
    effective_phase = visit.phase if (visit.phase == "none" or (consent and consent["answered"])) else "none"
    cited: dict[int, list[str]] = defaultdict(list)
    for f in visit.findings:
        for seq in f.evidence:
            if len(cited[seq]) < 8:
                cited[seq].append(f.summary)
    requests = []
    for req in visit.requests[:MAX_REQUESTS_SHOWN]:
        owner = db.owner_of(req.host) if (req.third_party or req.seq in cited) else None
        decoded: list[tuple[str, Clipped]] = []
        events = []
        if req.third_party or req.seq in cited:
            payload = decode_request(req)
            decoded = [(name, clip(value, 120)) for name, value in list(payload.fields.items())[:150]]
            events = [e.as_details() for e in decode_events(req)]
        requests.append(
            {
                "seq": req.seq,
                "method": req.method,
                "url": clip(req.url, 110),
                "type": req.resource_type,
                "third_party": req.third_party,
                "company": owner.company if owner else None,
                "status": req.response.status if req.response else None,
                "failure": req.failure,
                "initiator": clip(req.initiator_url or req.initiator_type or "", 90),
                "frame": clip(req.frame_url or "", 90),
                "page_index": req.page_index,
                "when": _when(req.started_at),
                "body": clip(req.body.text if req.body else None, 300) if req.body else None,
                "body_note": (t("truncated: %(n)s bytes sent") % {"n": req.body.size}) if req.body and req.body.truncated else "",
                "headers": [(name, clip(value, 200)) for name, value in req.headers[:60]],
                "set_cookies": [clip(line, 200) for line in (req.response.set_cookies if req.response else [])[:30]],
                "decoded": decoded,
                "events": events,
                "claims": cited.get(req.seq, []),
            }
        )
    cookies = []
    for c in visit.cookies:
        lifetime = None
        if c.expires:
            lifetime = max(0.0, (c.expires - (visit.started_at or c.expires)) / 86400)
        owner = db.owner_of(c.domain.lstrip(".")) if c.third_party else None
        cookies.append({"name": clip(c.name, 60), "domain": c.domain, "value": clip(c.value, 60), "third_party": c.third_party,
                        "lifetime": lifetime, "company": owner.company if owner else None, "http_only": c.http_only,
                        "secure": c.secure, "same_site": c.same_site})
    companies = []
    for row in rows:
        category = t(CATEGORY_LABELS[row.category]) if row.category in CATEGORY_LABELS else row.category
        companies.append({"anchor": anchors[row.key], "name": row.name, "category": category, "requests": row.requests,
                          "pixel_ids": row.pixel_ids, "rows": _item_rows(row, t), "domain": row.domain})
    canary = visit.options.get("canary") if isinstance(visit.options.get("canary"), dict) else None
    headings = {
        "none": t("Before you answer the cookie banner") if banner else t("What the page does"),
        "refuse": t("After you refuse cookies"),
        "accept": t("After you accept cookies"),
    }
    return {
        "visit": visit,
        "visit_id": visit_id,
        "prefix": prefix,
        "heading": headings.get(visit.phase, visit.phase),
        "unanswered": visit.phase != "none" and effective_phase == "none",
        "consent": consent,
        "sentences": summary_sentences(rows, t, anchors, effective_phase, banner),
        "companies": companies,
        "requests": requests,
        "requests_hidden": max(0, len(visit.requests) - MAX_REQUESTS_SHOWN),
        "third_party_count": sum(1 for r in visit.requests if r.third_party),
        "cookies": cookies,
        "storage": [{"origin": s.origin, "kind": s.kind, "key": clip(s.key, 80), "value": clip(s.value, 120)} for s in visit.storage[:500]],
        "frames": [{"url": clip(f.url, 80), "direction": f.direction, "payload": clip(f.payload, 200), "when": _when(f.time)}
                   for f in visit.websocket_frames[:300]],
        "screenshot": _screenshot(visit),
        "canary": canary,
        "canary_fields": visit.options.get("canary_fields") or [],
        "outcome_ok": visit.outcome.value == "ok",
    }


def site_context(visits: list[tuple[int | None, Visit]], t: Translator) -> dict[str, Any]:
    """A site's report: one section per consent phase it was visited in (no banner: just one)."""
    order = {"none": 0, "refuse": 1, "accept": 2}
    visits = sorted(visits, key=lambda item: order.get(item[1].phase, 9))
    db = company_db()
    phases = [_phase_context(visit, visit_id, t, db) for visit_id, visit in visits]
    first = phases[0]["visit"]
    consent = next((p["consent"] for p in phases if p["consent"]), None)
    return {"site": first, "phases": phases, "consent": consent, "several": len(phases) > 1}


def _render(template: str, t: Translator, **context: Any) -> str:
    env = _environment(t)
    return env.get_template(template).render(
        lang=t.lang, version=lanterne.__version__, generated=_when(dt.datetime.now(dt.timezone.utc).timestamp()), **context
    )


def render_site_report(visit: Visit, visit_id: int | None = None, lang: str = "en") -> str:
    """A report on one visit."""
    return render_site_visits([(visit_id, visit)], lang)


def render_site_visits(visits: list[tuple[int | None, Visit]], lang: str = "en") -> str:
    """A report on a site visited in one or more consent phases."""
    t = translator(lang)
    return _render("site.html", t, **site_context(visits, t))


# -- a whole database --------------------------------------------------------------------------------------


@dataclass
class CrawlSummary:
    sites: int = 0
    visits: int = 0
    ok: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    company_sites: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    company_data: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    leaks: list[dict[str, Any]] = field(default_factory=list)
    site_rows: list[dict[str, Any]] = field(default_factory=list)
    banners: dict[str, str] = field(default_factory=dict)
    # company -> (phase, banner seen) -> sites
    company_phases: dict[str, dict[tuple[str, bool], set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )


def company_anchor(name: str) -> str:
    import hashlib

    return "co-" + hashlib.sha1(name.encode()).hexdigest()[:10]


def crawl_summary(store: Store, t: Translator, site_sections: int = 100) -> CrawlSummary:
    summary = CrawlSummary()
    visit_ids = store.visit_ids(latest_per_site=True)
    summary.visits = len(visit_ids)
    targets: set[str] = set()
    for visit_id in visit_ids:
        visit = store.load_visit(visit_id)
        targets.add(visit.target)
        summary.outcomes[visit.outcome.value] += 1
        if visit.outcome.value == "ok":
            summary.ok += 1
        else:
            summary.failures.append({"target": visit.target, "outcome": visit.outcome.value, "reason": visit.reason,
                                     "visit_id": visit_id, "phase": visit.phase})
        rows = company_rows(visit.findings)
        for row in rows:
            summary.company_sites[row.name].add(visit.target)
            for key in row.data:
                summary.company_data[row.name][key] += 1
        for f in visit.findings:
            if f.kind == "pii_leak":
                summary.leaks.append({"target": visit.target, "visit_id": visit_id, "company": f.company or f.domain,
                                      "data": t(DATA_LABELS.get(f.data_type or "", f.data_type or "")),
                                      "encoding": f.encoding, "before_submit": f.before_submit,
                                      "evidence": f.evidence[:10], "phase": visit.phase})
        consent = _consent_view(visit, t)
        banner = bool(consent and (consent["shown"] or consent["platform"]))
        phase = visit.phase if (visit.phase == "none" or (consent and consent["answered"])) else "none"
        if banner:
            summary.banners[visit.target] = consent["platform"] or "TCF"
        for row in rows:
            if row.data.keys() - {"visit"} or row.is_tracker:
                summary.company_phases[row.name][(phase, banner)].add(visit.target)
        if len(summary.site_rows) < site_sections:
            anchors = {row.key: company_anchor(row.name) for row in rows}
            summary.site_rows.append({"visit_id": visit_id, "target": visit.target, "outcome": visit.outcome.value,
                                      "phase": visit.phase, "sentences": summary_sentences(rows, t, anchors, phase, banner),
                                      "companies": [(anchors[r.key], r.name) for r in rows]})
    summary.sites = len(targets)
    return summary


def crawl_context(store: Store, t: Translator) -> dict[str, Any]:
    summary = crawl_summary(store, t)
    total = summary.ok or 1
    ranked = sorted(summary.company_sites.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    bars = [(name, len(sites), max(summary.sites, 1)) for name, sites in ranked[:25]]
    data_types = [k for k in DATA_LABELS if any(k in c for c in summary.company_data.values())]
    matrix = None
    if 0 < summary.sites <= 40 and 0 < len(ranked) <= 30:
        site_names = sorted({r["target"] for r in summary.site_rows})
        cells = {(site, name) for name, sites in ranked for site in sites}
        matrix = matrix_chart(site_names, [name for name, _ in ranked], cells, t("Which site sends data to which company"),
                              yes=t("yes"), no=t("no"))
    consent_rows = [
        {"name": name,
         "before": len(summary.company_phases[name].get(("none", True), ())),
         "refused": len(summary.company_phases[name].get(("refuse", True), ())),
         "accepted": len(summary.company_phases[name].get(("accept", True), ()))}
        for name, _ in ranked
        if any(k[1] for k in summary.company_phases.get(name, {}))
    ]
    return {
        "summary": summary,
        "consent_rows": consent_rows,
        "chart": bar_chart(bars, t("Companies by share of sites"), t("sites")),
        "matrix": matrix,
        "companies": [
            {"name": name, "anchor": company_anchor(name), "sites": len(sites), "share": len(sites) / max(summary.sites, 1),
             "data": [(t(DATA_LABELS[k]), summary.company_data[name].get(k, 0)) for k in data_types]}
            for name, sites in ranked
        ],
        "data_types": [t(DATA_LABELS[k]) for k in data_types],
        "total": total,
        "db_name": store.path.name,
    }


def render_crawl_report(store: Store, lang: str = "en") -> str:
    t = translator(lang)
    return _render("crawl.html", t, **crawl_context(store, t))


def write_report(html: str, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(output.suffix + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(output)
    return output

