"""Company names as one vocabulary, whatever list or tool they came from.

Lists name the same company differently ("ByteDance Ltd.", "Bytedance", "ByteDance"; "Alphabet, Inc.",
"Google LLC", "Google"). Findings use one display name per company, so that counts across sites and
comparisons with other tools (Blacklight) mean something. Parent companies are used where a list names a
subsidiary brand that is not a separate controller of the data in practice (YouTube, DoubleClick -> Google).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Canonical display names, keyed by the normalised form of every known variant (see `_key`).
_ALIASES: dict[str, str] = {
    "bytedance": "ByteDance",
    "tiktok": "ByteDance",
    "alphabet": "Google",
    "google": "Google",
    "doubleclick": "Google",
    "youtube": "Google",
    "facebook": "Meta",
    "meta": "Meta",
    "meta platforms": "Meta",
    "instagram": "Meta",
    "microsoft": "Microsoft",
    "linkedin": "Microsoft",
    "amazon": "Amazon",
    "amazon technologies": "Amazon",
    "amazoncom": "Amazon",
    "twitter": "X (Twitter)",
    "x": "X (Twitter)",
    "x corp": "X (Twitter)",
    "snap": "Snap",
    "snapchat": "Snap",
    "adobe": "Adobe",
    "adobe systems": "Adobe",
    "the trade desk": "The Trade Desk",
    "tapad": "Experian",
    "experian": "Experian",
    "experian information solutions": "Experian",
    "magnite": "Magnite",
    "rubicon project": "Magnite",
    "the rubicon project": "Magnite",
    "telaria": "Magnite",
    "index exchange": "Index Exchange",
    "pubmatic": "PubMatic",
    "iponweb": "IPONWEB",
    "criteo": "Criteo",
    "taboola": "Taboola",
    "liveramp": "LiveRamp",
    "liveramp holdings": "LiveRamp",
    "liveintent": "LiveIntent",
    "lotame": "Lotame",
    "lotame solutions": "Lotame",
    "neustar": "Neustar",
    "transunion": "Neustar",
    "openx": "OpenX",
    "openx technologies": "OpenX",
    "zeta global": "Zeta Global",
    "eyeota": "Eyeota",
    "mediamath": "MediaMath",
    "medianet advertising fz": "Media.net",
    "medianet advertising": "Media.net",
    "medianet advertising fzllc": "Media.net",
    "media net": "Media.net",
    "medianet": "Media.net",
    "hotjar": "Hotjar",
    "new relic": "New Relic",
    "cloudflare": "Cloudflare",
    "tvsquared": "TVSquared",
    "tv squared": "TVSquared",
    "collective roll": "Collective Roll",
    "stackadapt": "StackAdapt",
    "yandex": "Yandex",
    "pinterest": "Pinterest",
    "reddit": "Reddit",
    "oracle": "Oracle",
    "salesforce": "Salesforce",
    "salesforcecom": "Salesforce",
    "hubspot": "HubSpot",
    "undertone": "Undertone",
    "undertone networks": "Undertone",
    "vimeo": "Vimeo",
    "intent iq": "Intent IQ",
    "mountain digital": "Mountain Digital",
    "sargents": "Sargents",
    "throtle": "Throtle",
    "towerdata": "TowerData",
    "quantcast": "Quantcast",
}

_LEGAL_SUFFIXES = re.compile(
    r"\b(incorporated|inc|ltd|limited|llc|l\.l\.c|corp|corporation|co|company|gmbh|ag|sa|s\.a|sas|bv|b\.v|nv|"
    r"plc|pte|pty|holdings|group|technologies|technology|fz-llc|fzllc|srl|spa|ab|oy|as|kk|ulc|lp)\b\.?",
    re.IGNORECASE,
)


def _key(name: str) -> str:
    text = name.lower().replace("&", " and ")
    text = _LEGAL_SUFFIXES.sub(" ", text)
    text = re.sub(r"[^a-z0-9 ]+", "", text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=8192)
def canonical_company(name: str | None) -> str | None:
    """One display name per company: 'ByteDance Ltd.' -> 'ByteDance', 'Alphabet, Inc.' -> 'Google'."""
    if not name or not name.strip():
        return None
    key = _key(name)
    if key in _ALIASES:
        return _ALIASES[key]
    # Keep the list's own spelling, without legal suffixes.
    cleaned = _LEGAL_SUFFIXES.sub("", name).strip(" ,.")
    return re.sub(r"\s+", " ", cleaned) or name.strip()


def display_company(company: str | None, product: str | None = None) -> str:
    """'ByteDance' with product 'TikTok' -> 'ByteDance (TikTok)', as reports write it."""
    if not company:
        return "unknown owner"
    if product and product.lower() not in company.lower():
        return f"{company} ({product})"
    return company
