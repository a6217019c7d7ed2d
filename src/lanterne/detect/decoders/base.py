"""What every tracker decoder returns, and helpers they share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from lanterne.detect.payloads import Payload
from lanterne.records import RequestRecord

_HEX_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_B64_LENGTHS = {24: "md5", 28: "sha1", 44: "sha256", 88: "sha512"}
_B64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


def looks_hashed(value: str) -> str | None:
    """The hash a value looks like ('sha256'...), from its shape alone. A shape is not proof: the leak
    detector proves a hash by recomputing it from a known value."""
    value = value.strip()
    if _HEX.match(value) and len(value) in _HEX_LENGTHS:
        return _HEX_LENGTHS[len(value)]
    if len(value) in _B64_LENGTHS and _B64.match(value) and value.endswith("="):
        return _B64_LENGTHS[len(value)] + "-base64"
    return None


@dataclass
class PixelEvent:
    tracker: str  # e.g. "TikTok pixel"
    company: str  # canonical company name
    kind: str  # "loader", "event" or "metadata"
    pixel_ids: list[str] = field(default_factory=list)
    event: str | None = None
    page_url: str | None = None
    referrer: str | None = None
    user_data: dict[str, str] = field(default_factory=dict)  # identifiers sent, by field
    hashed: dict[str, str] = field(default_factory=dict)  # field -> hash it looks like
    properties: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"tracker": self.tracker, "kind": self.kind, "pixel_ids": self.pixel_ids}
        for name in ("event", "page_url", "referrer"):
            value = getattr(self, name)
            if value is not None:
                details[name] = value
        for name in ("user_data", "hashed", "properties", "extra"):
            value = getattr(self, name)
            if value:
                details[name] = value
        return details


class Decoder(Protocol):
    name: str

    def decode(self, req: RequestRecord, payload: Payload) -> list[PixelEvent]:
        """The events in this request, or [] when it is not this tracker's."""
        ...


def identifiers(fields: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """User identifiers among decoded fields, and which of them look hashed."""
    user = {k: v for k, v in fields.items() if v}
    hashed = {k: h for k, v in user.items() if (h := looks_hashed(v))}
    return user, hashed
