"""Personal data leaving the page: the canary identity typed into forms, found in third-party traffic.

Every value is searched in every form it is known to travel in (plain, normalised, URL-encoded once and
twice, base64, MD5/SHA-1/SHA-256/SHA-512 as hex and base64, phone numbers in E.164), in URLs, headers
(Cookie included), bodies and their decoded layers, and WebSocket frames. A hash is reported only when
Lanterne computed the same hash from the value it typed: matched, never guessed from a hash's shape.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from lanterne.canary import FIELDS, CanaryIdentity, encodings, normalised_forms
from lanterne.detect.engine import DetectContext
from lanterne.detect.payloads import decode_request
from lanterne.domains import site_of
from lanterne.records import Finding

FIELD_LABELS = {
    "email": "email address",
    "phone": "phone number",
    "first_name": "first name",
    "last_name": "last name",
    "postal_code": "postal code",
}
_CASE_SENSITIVE = ("base64",)


@dataclass(frozen=True)
class Needle:
    field: str
    form: str  # which normalisation: as-typed, lowercase, e164...
    encoding: str  # plain, url-encoded, sha256-hex...


def build_needles(identity: CanaryIdentity) -> tuple[dict[str, Needle], dict[str, Needle]]:
    """Search strings -> what they are: (case-insensitive ones, case-sensitive ones)."""
    folded: dict[str, Needle] = {}
    exact: dict[str, Needle] = {}
    for field in FIELDS:
        for form, value in normalised_forms(identity, field).items():
            for encoding, values in encodings(value).items():
                for text in values:
                    if len(text) < 4:
                        continue
                    needle = Needle(field, form, encoding)
                    if encoding.endswith("base64"):
                        exact.setdefault(text, needle)
                    else:
                        folded.setdefault(text.lower(), needle)
    return folded, exact


def _pattern(needles: dict[str, Needle], flags: int) -> re.Pattern[str] | None:
    if not needles:
        return None
    alternatives = "|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", flags)


class Matcher:
    def __init__(self, identity: CanaryIdentity) -> None:
        self.folded, self.exact = build_needles(identity)
        self._folded_re = _pattern(self.folded, re.IGNORECASE)
        self._exact_re = _pattern(self.exact, 0)

    def search(self, text: str) -> set[tuple[Needle, str]]:
        found: set[tuple[Needle, str]] = set()
        if self._folded_re is not None:
            for m in self._folded_re.finditer(text):
                found.add((self.folded[m.group(0).lower()], m.group(0)))
        if self._exact_re is not None:
            for m in self._exact_re.finditer(text):
                found.add((self.exact[m.group(0)], m.group(0)))
        return found


_RAW_LAYERS = ("url", "body")


def _wire_matches(matcher: Matcher, places: list[tuple[str, str]]) -> list[tuple[Needle, str, str, str]]:
    """Matches as they were on the wire: a value found in the raw URL, body or a header is reported in the
    encoding found there; one found only in a decoded layer is reported with the wrapping that hid it."""
    found: dict[str, list[tuple[Needle, str, str, str]]] = defaultdict(list)
    for where, text in places:
        raw = where in _RAW_LAYERS or where.startswith("header.")
        for needle, matched in matcher.search(text):
            if raw:
                encoding = needle.encoding
            elif where == "base64":
                encoding = f"{needle.encoding} inside base64"
            elif needle.encoding == "plain":
                encoding = "url-encoded"
            else:
                encoding = needle.encoding
            found[needle.field].append((needle, encoding, where, matched))
    results: list[tuple[Needle, str, str, str]] = []
    for items in found.values():
        raw_items = [i for i in items if i[2] in _RAW_LAYERS or i[2].startswith("header.")]
        chosen = raw_items or items
        seen: set[tuple[str, str]] = set()
        for item in chosen:
            if (item[1], item[2]) not in seen:
                seen.add((item[1], item[2]))
                results.append(item)
    return results


def identity_of(options: dict) -> CanaryIdentity | None:
    data = options.get("canary")
    if not isinstance(data, dict):
        return None
    try:
        return CanaryIdentity.from_dict(data)
    except (KeyError, TypeError):
        return None


class PersonalDataLeaks:
    name = "pii-leaks"

    def detect(self, ctx: DetectContext) -> Iterable[Finding]:
        visit = ctx.visit
        identity = identity_of(visit.options)
        if identity is None:
            return []
        matcher = Matcher(identity)
        owners = ctx.shared.get("owners", {})
        submitted_at = visit.options.get("submitted_at")
        # (who, field, encoding) -> [(seq or None for a frame, where, matched text, time)]
        hits: dict[tuple[str, str, str], list[tuple[int | None, str, str, float]]] = defaultdict(list)
        forms: dict[tuple[str, str, str], str] = {}
        for req in visit.requests:
            if not req.third_party and req.seq not in owners:
                continue
            owner = owners.get(req.seq)
            who = owner.company if owner else req.site
            payload = decode_request(req)
            places = list(payload.layers) + [(f"header.{name.lower()}", value) for name, value in req.headers]
            for needle, encoding, where, matched in _wire_matches(matcher, places):
                key = (who, needle.field, encoding)
                hits[key].append((req.seq, where, matched, req.started_at))
                forms.setdefault(key, needle.form)
        first_party = set(visit.first_party_sites)
        for frame in visit.websocket_frames:
            if frame.direction != "sent" or site_of(frame.url) in first_party:
                continue
            for needle, matched in matcher.search(frame.payload):
                key = (site_of(frame.url), needle.field, needle.encoding)
                hits[key].append((None, f"websocket {frame.url}", matched, frame.time))
                forms.setdefault(key, needle.form)
        findings = []
        for (who, field, encoding), found in hits.items():
            seqs = sorted({seq for seq, *_ in found if seq is not None})
            owner = next((owners.get(s) for s in seqs if owners.get(s)), None)
            times = [t for *_, t in found]
            before = submitted_at is None or max(times) < float(submitted_at)
            label = FIELD_LABELS.get(field, field)
            how = "in plain text" if encoding == "plain" else f"as {encoding}"
            when = "before any form submission" if before else "after the form was submitted"
            findings.append(
                Finding(
                    kind="pii_leak",
                    detector=self.name,
                    company=owner.company if owner else None,
                    domain=next((r.site for r in visit.requests if r.seq in seqs), who),
                    category=owner.category if owner else None,
                    data_type=field,
                    encoding=encoding,
                    summary=f"{who} received the {label} typed into the page {how}, {when}",
                    evidence=seqs[:200],
                    before_submit=before,
                    details={
                        "normalisation": forms[(who, field, encoding)],
                        "value_sent": found[0][2][:300],
                        "locations": sorted({where for _, where, _, _ in found})[:20],
                        "typed_value": identity.value(field),
                    },
                )
            )
        return findings
