"""Findings arranged for people: per company, what it receives and how, with the evidence.

The terminal summary, the HTML reports and the web app all read this one arrangement.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from lanterne.detect.companies import display_company
from lanterne.report.i18n import N_
from lanterne.records import Finding

# What each data type is called: English message ids, translated through lanterne.report.i18n.
DATA_LABELS = {
    "visit": N_("your visit (IP address, browser)"),
    "page_url": N_("the address of the page"),
    "page_title": N_("the title of the page"),
    "pixel_event": N_("tracking events"),
    "identifier_cookie": N_("identifying cookies"),
    "email": N_("your email address"),
    "phone": N_("your phone number"),
    "first_name": N_("your first name"),
    "last_name": N_("your last name"),
    "postal_code": N_("your postal code"),
    "keylogging": N_("what you type, as you type it"),
    "fingerprinting": N_("your browser's fingerprint"),
    "session_recording": N_("a recording of what you do on the page"),
}
# Findings about the page rather than about a recipient of data.
NOT_RECIPIENTS = ("consent_banner",)
PERSONAL = ("email", "phone", "first_name", "last_name", "postal_code")

# Categories, most telling first: a company seen in several is shown in the first.
CATEGORY_LABELS = {
    "session_recording": N_("session recording"),
    "fingerprinting": N_("browser fingerprinting"),
    "advertising": N_("advertising"),
    "social": N_("social network"),
    "analytics": N_("audience measurement"),
    "tracking": N_("tracking (EasyPrivacy)"),
    "tag_manager": N_("tag manager"),
    "customer_interaction": N_("customer interaction"),
    "consent": N_("consent management"),
    "anti_fraud": N_("fraud prevention"),
    "email": N_("email"),
    "cryptomining": N_("cryptocurrency mining"),
    "content": N_("embedded content"),
    "cdn": N_("content delivery"),
    "hosting": N_("hosting"),
    "essential": N_("essential service"),
    "other": N_("other"),
    "unknown": N_("owner unknown"),
}
_CATEGORY_RANK = {name: rank for rank, name in enumerate(CATEGORY_LABELS)}


@dataclass
class DataItem:
    data_type: str
    encodings: list[str] = field(default_factory=list)
    before_submit: bool | None = None
    phases: list[str] = field(default_factory=list)
    evidence: list[int] = field(default_factory=list)
    finding_ids: list[int] = field(default_factory=list)


@dataclass
class CompanyRow:
    key: str
    company: str | None
    domain: str | None
    product: str | None
    category: str | None
    requests: int = 0
    data: OrderedDict[str, DataItem] = field(default_factory=OrderedDict)
    pixel_ids: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)
    techniques: list[str] = field(default_factory=list)  # fingerprinting techniques
    phases: list[str] = field(default_factory=list)
    evidence: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        if self.company:
            return display_company(self.company, self.product)
        return self.domain or "?"

    @property
    def personal_data(self) -> list[DataItem]:
        return [item for key, item in self.data.items() if key in PERSONAL]

    @property
    def is_tracker(self) -> bool:
        return self.category not in (None, "cdn", "content", "essential", "hosting", "unknown", "other") or bool(
            self.data.keys() - {"visit"}
        )


def _product(finding: Finding) -> str | None:
    products = finding.details.get("products") or []
    tracker = finding.details.get("tracker")
    if finding.company == "ByteDance":
        return "TikTok"
    if tracker and finding.company and finding.company.lower() not in tracker.lower():
        return tracker.split()[0]
    return products[0] if products and finding.company and products[0].split()[0] != finding.company else None


def company_rows(findings: list[Finding], finding_ids: list[int] | None = None) -> list[CompanyRow]:
    """One row per company (or per unattributed site), the most concerning first."""
    rows: dict[str, CompanyRow] = {}
    for index, f in enumerate(findings):
        if f.kind in NOT_RECIPIENTS:
            continue
        key = f.company or f.domain or "?"
        row = rows.get(key)
        if row is None:
            row = rows[key] = CompanyRow(key, f.company, f.domain, None, f.category)
        if row.product is None:
            row.product = _product(f)
        if f.category and _CATEGORY_RANK.get(f.category, 99) < _CATEGORY_RANK.get(row.category or "", 100):
            row.category = f.category
        if f.kind == "third_party":
            row.requests += int(f.details.get("requests", len(f.evidence)))
        if f.kind == "cookie":
            row.cookies += [c["name"] for c in f.details.get("cookies", [])]
        if f.kind == "pixel_event":
            row.pixel_ids += [p for p in f.details.get("pixel_ids", []) if p not in row.pixel_ids]
            event = f.details.get("event")
            if event and event not in row.events:
                row.events.append(event)
        if f.kind == "pixel_loaded":
            row.pixel_ids += [p for p in f.details.get("pixel_ids", []) if p not in row.pixel_ids]
        if f.kind == "fingerprinting" and f.encoding and f.encoding not in row.techniques:
            row.techniques.append(f.encoding)
        data_type = f.data_type or f.kind
        if data_type == "pixel_loaded":
            continue
        item = row.data.setdefault(data_type, DataItem(data_type))
        if f.encoding and f.encoding not in item.encodings:
            item.encodings.append(f.encoding)
        if f.before_submit is not None:
            item.before_submit = bool(item.before_submit) or f.before_submit
        if f.phase not in item.phases:
            item.phases.append(f.phase)
        if f.phase not in row.phases:
            row.phases.append(f.phase)
        item.evidence += [s for s in f.evidence if s not in item.evidence]
        row.evidence += [s for s in f.evidence if s not in row.evidence]
        if finding_ids is not None:
            item.finding_ids.append(finding_ids[index])

    def weight(row: CompanyRow) -> tuple[int, int, int, int, str]:
        serious = len(row.data.keys() & {"keylogging", "session_recording", "fingerprinting"})
        return (-len(row.personal_data), -serious, -len(row.data), -row.requests, row.name.lower())

    return sorted(rows.values(), key=weight)

OUTCOME_LABELS = {
    "ok": N_("completed"),
    "timeout": N_("timed out"),
    "dns_error": N_("address not found (DNS)"),
    "connection_refused": N_("connection refused"),
    "connection_error": N_("connection failed"),
    "tls_error": N_("certificate error (TLS)"),
    "redirect_loop": N_("redirect loop"),
    "dialog_storm": N_("the page kept opening dialogs"),
    "internal_error": N_("Lanterne failed on this site"),
    "renderer_crash": N_("the page crashed the browser tab"),
    "browser_crash": N_("the browser crashed"),
    "navigation_error": N_("the page could not be loaded"),
    "invalid_target": N_("invalid address"),
}
