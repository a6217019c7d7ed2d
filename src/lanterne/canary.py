"""The canary identity: a made-up person whose details Lanterne types into forms, then looks for in traffic.

Each visit gets its own identity (a random token in the email address, random phone digits), stored with
the visit, so that a value found in a request can only have come from that visit's typing, and so that the
same visit can be analysed again later. The encodings below are every form the values are known to travel
in: plain, normalised, URL-encoded, base64, and hashed as advertising "advanced matching" does.
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, quote_plus

FIELDS = ("email", "phone", "first_name", "last_name", "postal_code")


@dataclass(frozen=True)
class CanaryIdentity:
    email: str
    phone: str  # as typed, national format
    phone_e164: str  # +33...
    first_name: str
    last_name: str
    postal_code: str

    @classmethod
    def generate(cls, seed: int | None = None) -> CanaryIdentity:
        rng = random.Random(seed)
        token = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(6))
        digits = "".join(rng.choice(string.digits) for _ in range(8))
        return cls(
            email=f"lorelei.quintavalle.{token}@example.org",
            phone=f"06 {digits[0:2]} {digits[2:4]} {digits[4:6]} {digits[6:8]}",
            phone_e164=f"+336{digits}",
            first_name="Lorelei",
            last_name="Quintavalle",
            postal_code="29870",
        )

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CanaryIdentity:
        return cls(**{k: str(data[k]) for k in cls.__dataclass_fields__})

    def value(self, field: str) -> str:
        return self.phone if field == "phone" else getattr(self, field)


def normalised_forms(identity: CanaryIdentity, field: str) -> dict[str, str]:
    """The forms of one value that trackers send: as typed, trimmed and lower-cased, E.164 for phones."""
    if field == "phone":
        e164 = identity.phone_e164
        national = identity.phone
        return {
            "as-typed": national,
            "digits": "".join(ch for ch in national if ch.isdigit()),
            "e164": e164,
            "e164-no-plus": e164.lstrip("+"),
        }
    value = identity.value(field)
    forms = {"as-typed": value}
    if value.strip().lower() != value:
        forms["lowercase"] = value.strip().lower()
    return forms


def _b64(data: bytes) -> list[str]:
    std = base64.b64encode(data).decode()
    url = base64.urlsafe_b64encode(data).decode()
    return list(dict.fromkeys([std, std.rstrip("="), url, url.rstrip("=")]))


def encodings(text: str) -> dict[str, list[str]]:
    """Every encoding of `text` to search for, by name. Hex digests are lower-case (search ignores case)."""
    raw = text.encode("utf-8")
    found: dict[str, list[str]] = {"plain": [text]}
    once, once_plus = quote(text, safe=""), quote_plus(text, safe="")
    found["url-encoded"] = list(dict.fromkeys(v for v in (once, once_plus) if v != text))
    found["url-encoded-twice"] = list(dict.fromkeys([quote(once, safe=""), quote(once_plus, safe="")]))
    found["base64"] = _b64(raw)
    for algorithm in ("md5", "sha1", "sha256", "sha512"):
        digest = hashlib.new(algorithm, raw)
        found[f"{algorithm}-hex"] = [digest.hexdigest()]
        found[f"{algorithm}-base64"] = _b64(digest.digest())
    return {name: values for name, values in found.items() if values}
