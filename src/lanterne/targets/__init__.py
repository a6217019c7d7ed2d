"""Targets: what the user asked to scan, checked and normalised before any browser starts.

Entry point: `parse_target` for one address, `read_site_list` for a file of them.
"""

from __future__ import annotations

import csv
import hashlib
import ipaddress
import random
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ALLOWED_SCHEMES = ("http", "https")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


class TargetError(ValueError):
    """An address that cannot be scanned. str() is a one-line explanation naming the input."""


def _shown(text: str) -> str:
    text = text if len(text) <= 80 else text[:77] + "..."
    return repr(text)


def parse_target(text: str) -> str:
    """`example.com` -> `https://example.com/`; refuses other schemes and malformed addresses."""
    raw = text
    text = text.strip()
    if not text:
        raise TargetError("empty address")
    if any(ch.isspace() for ch in text) or any(ord(ch) < 32 for ch in text):
        raise TargetError(f"{_shown(raw)}: an address cannot contain spaces or control characters")
    match = _SCHEME.match(text)
    if match and not text[match.end() :].startswith("//") and match.group(1).lower() not in ALLOWED_SCHEMES:
        # "javascript:alert(1)", "data:text/html,..." (but not "example.com:8080", handled below)
        if not re.match(r"^[^:/]+:\d+(/|$)", text):
            raise TargetError(f"{_shown(raw)}: unsupported scheme '{match.group(1).lower()}:' (only http and https)")
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"{_shown(raw)}: malformed address ({exc})") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise TargetError(f"{_shown(raw)}: malformed address")
    if scheme not in ALLOWED_SCHEMES:
        raise TargetError(f"{_shown(raw)}: unsupported scheme '{scheme}:' (only http and https)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TargetError(f"{_shown(raw)}: no host name")
    host = _normalise_host(host, raw)
    netloc = host if port is None else f"{host}:{port}"
    if ":" in host:  # IPv6 literal
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    if parts.username or parts.password:
        raise TargetError(f"{_shown(raw)}: addresses with a user name or password are not scanned")
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _normalise_host(host: str, raw: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise TargetError(f"{_shown(raw)}: '{host}' is not a valid host name") from None
    labels = ascii_host.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise TargetError(f"{_shown(raw)}: '{host}' is not a valid host name")
    if len(labels) < 2 and ascii_host != "localhost":
        raise TargetError(f"{_shown(raw)}: '{host}' is not a full host name (expected something like example.com)")
    if labels[-1].isdigit():
        raise TargetError(f"{_shown(raw)}: '{host}' is not a valid host name or IP address")
    return ascii_host


def parse_targets(texts: list[str]) -> tuple[list[str], list[TargetError]]:
    """Valid targets in order, without duplicates, and the errors for the others."""
    good: list[str] = []
    errors: list[TargetError] = []
    for text in texts:
        try:
            url = parse_target(text)
        except TargetError as exc:
            errors.append(exc)
            continue
        if url not in good:
            good.append(url)
    return good, errors


# -- site lists --------------------------------------------------------------------------------------------


class SiteListError(Exception):
    """A site list that cannot be read at all (missing, unreadable, no usable line)."""


@dataclass
class SiteList:
    urls: list[str]
    rejected: list[tuple[int, str]]  # (line number, reason)
    duplicates: list[tuple[int, str]]  # (line number, URL already listed)
    fingerprint: str  # identifies the list's content, to recognise the same crawl again


def _list_format(lines: list[str]) -> str:
    """'csv' (a header with a url/domain column), 'tranco' (rank,domain) or 'plain'."""
    content = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not content:
        return "plain"
    first = content[0]
    if "," in first:
        header = [c.strip().strip('"').lower() for c in next(csv.reader([first]))]
        if any(h in ("url", "urls", "domain", "site", "website", "address") for h in header):
            return "csv"
        if first.split(",")[0].strip().isdigit():
            return "tranco"
    return "plain"


def read_site_list(path: str | Path, limit: int | None = None, shuffle: bool = False, seed: int = 0) -> SiteList:
    """Read a plain list (one URL or domain a line, # comments), a CSV with a URL column, or a Tranco-style
    `rank,domain` list. Bad lines are reported with their number; the others are kept, in order."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SiteListError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteListError(f"{path}: cannot be read ({exc})") from None
    lines = text.splitlines()
    kind = _list_format(lines)
    entries: list[tuple[int, str]] = []
    if kind == "csv":
        reader = csv.reader(lines)
        header = [h.strip().lower() for h in next(reader)]
        column = next(i for i, h in enumerate(header) if h in ("url", "urls", "domain", "site", "website", "address"))
        for number, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            entries.append((number, row[column] if column < len(row) else ""))
    else:
        for number, line in enumerate(lines, start=1):
            stripped = line.split(" #", 1)[0].strip()
            if not stripped or stripped.startswith("#"):
                continue
            if kind == "tranco":
                parts = stripped.split(",")
                stripped = parts[1].strip() if len(parts) >= 2 else ""
            entries.append((number, stripped))
    urls: list[str] = []
    seen: set[str] = set()
    rejected: list[tuple[int, str]] = []
    duplicates: list[tuple[int, str]] = []
    for number, value in entries:
        try:
            url = parse_target(value)
        except TargetError as exc:
            rejected.append((number, str(exc)))
            continue
        if url in seen:
            duplicates.append((number, url))
            continue
        seen.add(url)
        urls.append(url)
    if shuffle:
        random.Random(seed).shuffle(urls)
    if limit is not None:
        urls = urls[:limit]
    if not urls:
        raise SiteListError(f"{path}: no usable address in it" + (f" ({len(rejected)} rejected)" if rejected else ""))
    fingerprint = hashlib.sha256("\n".join(urls).encode()).hexdigest()[:16]
    return SiteList(urls, rejected, duplicates, fingerprint)
