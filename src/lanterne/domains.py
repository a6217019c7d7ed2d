"""Host names to registrable domains ("sites"), the unit of first- and third-party.

Uses tldextract with the Public Suffix List snapshot bundled in the package: no network access, ever.
Private suffixes (github.io, cloudfront.net...) count, as they do for browsers' notion of a site, so two
people's pages on github.io are two parties. Names under a suffix the list does not know (the reserved
`.example` and `.test` used by the simulated web, intranet names) fall back to their last two labels.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

_EXTRACT = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
)


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """`analytics.tiktok.com` -> `tiktok.com`; `a.b.example` -> `b.example`; an IP stays itself."""
    host = (host or "").strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        return ""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    parts = _EXTRACT(host)
    if parts.suffix and parts.domain:
        return f"{parts.domain}.{parts.suffix}"
    if parts.suffix:  # the host is itself a public suffix
        return host
    labels = host.split(".")
    return ".".join(labels[-2:])


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def site_of(url: str) -> str:
    return registrable_domain(host_of(url))


def host_matches(host: str, domain: str) -> bool:
    """True when `host` is `domain` or one of its subdomains."""
    host = host.lower().rstrip(".")
    domain = domain.lower().rstrip(".")
    return host == domain or host.endswith("." + domain)
