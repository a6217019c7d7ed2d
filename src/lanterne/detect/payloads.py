"""What a request carries, decoded: query string, form body, JSON, base64-wrapped JSON, multipart.

`decode_request` flattens everything into named fields (`query.dl`, `json.context.page.url`...) and keeps
every textual layer (raw, URL-decoded, base64-decoded) for detectors that search for values. All of it is
bounded: payloads come from hostile pages.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

from lanterne.records import RequestRecord, header_value

MAX_FIELDS = 5_000
MAX_DEPTH = 12
MAX_TEXT = 256 * 1024
_B64 = re.compile(r"^[A-Za-z0-9+/_-]{16,}={0,2}$")
_B64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_FORMISH = re.compile(r"^[^=&\s]{1,200}=[^&]*(&[^=&\s]{1,200}=[^&]*)*$", re.DOTALL)


@dataclass
class Payload:
    fields: dict[str, str] = field(default_factory=dict)
    # Every textual layer, labelled by where it came from: "url", "url-decoded", "body", "body-decoded",
    # "base64" (a layer found base64-encoded inside another).
    layers: list[tuple[str, str]] = field(default_factory=list)
    json_bodies: list[Any] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [text for _, text in self.layers]

    def add_layer(self, where: str, text: str) -> None:
        text = text[:MAX_TEXT]
        if len(self.layers) < 200 and all(text != t for _, t in self.layers):
            self.layers.append((where, text))

    def get(self, *names: str) -> str | None:
        for name in names:
            if name in self.fields:
                return self.fields[name]
        return None

    def with_prefix(self, prefix: str) -> dict[str, str]:
        return {k[len(prefix) :]: v for k, v in self.fields.items() if k.startswith(prefix)}


def _printable(text: str) -> bool:
    if not text:
        return False
    good = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    return good / len(text) > 0.95


def b64decode_text(value: str) -> str | None:
    """The text inside a base64 (standard or URL-safe, padded or not) value, if it is text."""
    if len(value) < 16 or not _B64.match(value):
        return None
    padded = value + "=" * (-len(value) % 4)
    for decoder in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decoder(padded)
        except (binascii.Error, ValueError):
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if _printable(text):
            return text
    return None


def _try_json(text: str) -> Any:
    text = text.strip()
    if not text or text[0] not in "{[" or len(text) > MAX_TEXT:
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None


class _Flattener:
    def __init__(self, payload: Payload) -> None:
        self.payload = payload

    def add(self, name: str, value: str, depth: int = 0) -> None:
        fields = self.payload.fields
        if len(fields) >= MAX_FIELDS:
            return
        fields[name] = value[:MAX_TEXT]
        if depth >= MAX_DEPTH:
            return
        nested = _try_json(value)
        if nested is not None:
            self.payload.json_bodies.append(nested)
            self.json(name, nested, depth + 1)
            return
        decoded = b64decode_text(value)
        if decoded is not None:
            self.payload.add_layer("base64", decoded)
            self.add(f"{name}|b64", decoded, depth + 1)

    def json(self, prefix: str, value: Any, depth: int = 0) -> None:
        if len(self.payload.fields) >= MAX_FIELDS or depth > MAX_DEPTH:
            return
        if isinstance(value, dict):
            for key, item in list(value.items())[:1000]:
                self.json(f"{prefix}.{key}" if prefix else str(key), item, depth + 1)
        elif isinstance(value, list):
            for i, item in enumerate(value[:1000]):
                self.json(f"{prefix}[{i}]", item, depth + 1)
        elif value is None:
            self.payload.fields[prefix] = ""
        elif isinstance(value, bool):
            self.payload.fields[prefix] = "true" if value else "false"
        elif isinstance(value, str):
            self.add(prefix, value, depth)
        else:
            self.payload.fields[prefix] = str(value)

    def form(self, prefix: str, text: str, depth: int = 0) -> None:
        for key, value in parse_qsl(text, keep_blank_values=True)[:MAX_FIELDS]:
            self.add(f"{prefix}.{key}", value, depth)


def _multipart(body: bytes, content_type: str) -> list[tuple[str, str]]:
    try:
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
        )
    except Exception:  # malformed multipart from a hostile page: nothing to read
        return []
    parts: list[tuple[str, str]] = []
    if not message.is_multipart():
        return parts
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition") or ""
        payload = part.get_payload(decode=True) or b""
        parts.append((str(name), payload[:MAX_TEXT].decode("utf-8", "replace")))
    return parts


def _decode(url: str, body_text: str | None, content_type: str) -> Payload:
    payload = Payload()
    flat = _Flattener(payload)
    payload.add_layer("url", url)
    once = unquote(url)
    if once != url:
        payload.add_layer("url-decoded", once)
        payload.add_layer("url-decoded", unquote_plus(url))
        payload.add_layer("url-decoded", unquote(once))
    query = urlsplit(url).query
    if query:
        flat.form("query", query)
    # Paths sometimes carry the payload too (e.g. base64 segments).
    for segment in urlsplit(url).path.split("/"):
        decoded = b64decode_text(segment)
        if decoded is not None:
            payload.add_layer("base64", decoded)
    if not body_text:
        return payload
    body = body_text[:MAX_TEXT]
    payload.add_layer("body", body)
    unquoted = unquote_plus(body)
    if unquoted != body:
        payload.add_layer("body-decoded", unquoted)
        payload.add_layer("body-decoded", unquote(unquoted))
    ctype = content_type.lower()
    parsed = _try_json(body)
    if parsed is not None:
        payload.json_bodies.append(parsed)
        flat.json("json", parsed)
    elif "multipart/form-data" in ctype:
        for name, value in _multipart(body.encode("utf-8", "surrogateescape"), content_type):
            flat.add(f"form.{name}", value)
    elif "\n" in body.strip() and all(_FORMISH.match(line) for line in body.strip().splitlines()[:50]):
        for i, line in enumerate(body.strip().splitlines()[:200]):  # batched hits, one per line (GA4)
            flat.form(f"form[{i}]", line)
    elif "application/x-www-form-urlencoded" in ctype or _FORMISH.match(body.strip()):
        flat.form("form", body.strip())
    else:
        decoded = b64decode_text(body.strip())
        if decoded is not None:
            payload.add_layer("base64", decoded)
            flat.add("body|b64", decoded)
    # Base64 tokens inside free text (a JSON blob wrapped and embedded in a longer string).
    for token in _B64_TOKEN.findall(body)[:50]:
        decoded = b64decode_text(token)
        if decoded is not None:
            payload.add_layer("base64", decoded)
    return payload


@lru_cache(maxsize=4096)
def _decode_cached(url: str, body_text: str | None, content_type: str) -> Payload:
    return _decode(url, body_text, content_type)


def decode_request(req: RequestRecord) -> Payload:
    """Everything a request carries in its URL and body, decoded (cached: detectors share it)."""
    body = req.body.text if req.body is not None and req.body.encoding == "utf-8" else None
    return _decode_cached(req.url, body, header_value(req.headers, "content-type") or "")
