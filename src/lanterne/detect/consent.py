"""The cookie banner: which consent platform, what the visit answered, and the IAB TCF consent string."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from lanterne.detect.engine import DetectContext
from lanterne.records import Finding


def decode_tc_string(tc_string: str) -> dict[str, Any]:
    """The fields of an IAB TCF v2 TC string that say what was consented to (iab-tcf does the bit reading)."""
    import iab_tcf

    try:
        consent = iab_tcf.decode_v2(tc_string)
    except Exception as exc:  # a malformed string from a page: say so, do not fail
        return {"error": f"not a valid TCF v2 string ({type(exc).__name__})"}
    if consent.version != 2:
        return {"error": f"not a TCF v2 string (version field {consent.version})"}

    def when(value: Any) -> str | None:
        return value.isoformat() if isinstance(value, dt.datetime) else None

    def text(value: Any) -> str:
        return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)

    vendors: list[int] = []
    if getattr(consent, "is_consent_range_encoding", False):
        for entry in getattr(consent, "consented_vendors_range", []) or []:
            start, end = (entry if isinstance(entry, (list, tuple)) else (entry, entry))[:2]
            vendors.extend(range(int(start), int(end) + 1))
    else:
        vendors = [int(k) for k, v in (getattr(consent, "consented_vendors", {}) or {}).items() if v]
    return {
        "version": consent.version,
        "created": when(consent.created),
        "last_updated": when(consent.last_updated),
        "cmp_id": consent.cmp_id,
        "cmp_version": consent.cmp_version,
        "consent_language": text(consent.consent_language),
        "publisher_cc": text(consent.publisher_cc),
        "vendor_list_version": consent.vendor_list_version,
        "purposes_consent": sorted(int(k) for k, v in consent.purposes_consent.items() if v),
        "purposes_legitimate_interest": sorted(int(k) for k, v in consent.purposes_legitimate_interests.items() if v),
        "special_features": sorted(int(k) for k, v in consent.special_features_optin.items() if v),
        "vendors_consent": sorted(vendors)[:2000],
    }


class ConsentBanner:
    name = "consent"

    def detect(self, ctx: DetectContext) -> Iterable[Finding]:
        state = ctx.visit.options.get("consent")
        if not isinstance(state, dict):
            return []
        tcf = state.get("tcf") if isinstance(state.get("tcf"), dict) else None
        if not state.get("cmp") and not tcf:
            return []
        details: dict[str, Any] = {
            "platform": state.get("cmp"),
            "banner_shown": bool(state.get("popup")),
            "phase": state.get("phase"),
            "answered": bool(state.get("answered")),
        }
        if state.get("answered_at"):
            details["answered_at"] = state["answered_at"]
        if tcf:
            details["tcf"] = {k: tcf.get(k) for k in ("cmpId", "cmpVersion", "gdprApplies", "eventStatus", "tcString")}
            if tcf.get("tcString"):
                details["tcf"]["decoded"] = decode_tc_string(str(tcf["tcString"]))
        platform = state.get("cmp") or f"TCF CMP {tcf.get('cmpId') if tcf else '?'}"
        what = {"refuse": "refused", "accept": "accepted"}.get(str(state.get("phase")), "left unanswered")
        if state.get("phase") in ("refuse", "accept") and not state.get("answered"):
            what = "could not be answered"
        return [
            Finding(
                kind="consent_banner",
                detector=self.name,
                category="consent",
                data_type="consent",
                summary=f"cookie banner ({platform}) {what}",
                details=details,
            )
        ]
