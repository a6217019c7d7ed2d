"""Tracker and company lists: which company owns a host, and which requests are tracking.

Sources, in order of precedence (for the same domain, the first that knows it wins):
1. Lanterne's curated ByteDance/TikTok list (bundled, written here, a source for each entry);
2. DuckDuckGo's Tracker Blocklist (CC BY-NC-SA 4.0: not shipped, downloaded by `lanterne lists update`);
3. AdGuard companiesdb (CC BY-SA 4.0, bundled);
4. Disconnect's services and entities (CC BY-NC-SA 4.0: not shipped, downloaded on request).
A more specific domain always beats a less specific one (`graph.facebook.com` before `facebook.com`),
whatever list it comes from; precedence only breaks ties between lists on the same domain.
EasyPrivacy (bundled, through adblock-rust) flags tracking requests whose owner no list knows.
CNAME cloaking (a first-party subdomain that is an alias of a tracker) is recognised from DuckDuckGo's
cname map when that list is installed.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lanterne.detect.companies import canonical_company
from lanterne.domains import registrable_domain

BUNDLED = Path(str(resources.files("lanterne") / "data" / "lists"))

# Our categories, and how each list's own categories map onto them.
CATEGORIES = (
    "advertising", "analytics", "social", "session_recording", "fingerprinting", "tag_manager", "cdn",
    "content", "consent", "customer_interaction", "email", "anti_fraud", "essential", "hosting",
    "cryptomining", "other",
)
_ADGUARD_CATEGORIES = {
    "audio_video_player": "content", "comments": "content", "customer_interaction": "customer_interaction",
    "pornvertising": "advertising", "advertising": "advertising", "essential": "essential",
    "site_analytics": "analytics", "social_media": "social", "misc": "other", "cdn": "cdn",
    "hosting": "hosting", "unknown": "other", "extensions": "other", "email": "email", "consent": "consent",
    "telemetry": "analytics", "mobile_analytics": "analytics",
}
_DDG_CATEGORIES = [  # first match wins, most telling first
    ("Session Replay", "session_recording"), ("Fingerprinting", "fingerprinting"),
    ("Advertising", "advertising"), ("Ad Motivated Tracking", "advertising"), ("Action Pixels", "advertising"),
    ("Ad Fraud", "anti_fraud"), ("Audience Measurement", "analytics"), ("Analytics", "analytics"),
    ("Third-Party Analytics Marketing", "analytics"), ("Social Network", "social"), ("Social - Share", "social"),
    ("Social - Comment", "social"), ("Tag Manager", "tag_manager"), ("Consent Management Platform", "consent"),
    ("CDN", "cdn"), ("Embedded Content", "content"), ("Online Payment", "essential"),
]
_DISCONNECT_CATEGORIES = {
    "Advertising": "advertising", "Analytics": "analytics", "Social": "social", "Content": "content",
    "FingerprintingInvasive": "fingerprinting", "FingerprintingGeneral": "fingerprinting", "Email": "email",
    "EmailAggressive": "email", "Anti-fraud": "anti_fraud", "ConsentManagers": "consent",
    "Cryptomining": "cryptomining",
}

# Lists downloaded on request into the user's cache (not shipped: non-commercial licences).
DOWNLOADS: dict[str, dict[str, str]] = {
    "duckduckgo-tds.json": {
        "url": "https://staticcdn.duckduckgo.com/trackerblocking/v5/current/extension-tds.json",
        "name": "DuckDuckGo Tracker Blocklist",
        "licence": "CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/), Copyright Duck Duck Go, Inc.",
        "home": "https://github.com/duckduckgo/tracker-blocklists",
    },
    "disconnect-services.json": {
        "url": "https://raw.githubusercontent.com/disconnectme/disconnect-tracking-protection/master/services.json",
        "name": "Disconnect tracking protection: services",
        "licence": "CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/), Copyright Disconnect, Inc.",
        "home": "https://github.com/disconnectme/disconnect-tracking-protection",
    },
    "disconnect-entities.json": {
        "url": "https://raw.githubusercontent.com/disconnectme/disconnect-tracking-protection/master/entities.json",
        "name": "Disconnect tracking protection: entities",
        "licence": "CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/), Copyright Disconnect, Inc.",
        "home": "https://github.com/disconnectme/disconnect-tracking-protection",
    },
    "easyprivacy.txt": {
        "url": "https://easylist.to/easylist/easyprivacy.txt",
        "name": "EasyPrivacy",
        "licence": "GPL-3.0 or CC BY-SA 3.0, The EasyList authors (https://easylist.to/pages/licence.html)",
        "home": "https://easylist.to/",
    },
}


class ListError(Exception):
    """A list file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Owner:
    company: str
    domain: str  # the list entry that matched
    category: str
    source: str  # which list said so
    product: str | None = None
    legal_name: str | None = None
    cname_of: str | None = None  # set when attributed through a CNAME alias


@dataclass
class ListInfo:
    name: str
    path: str
    entries: int
    licence: str


@dataclass
class _Source:
    name: str
    domains: dict[str, Owner] = field(default_factory=dict)


def cache_dir() -> Path:
    if os.environ.get("LANTERNE_LISTS_DIR"):
        return Path(os.environ["LANTERNE_LISTS_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lanterne" / "lists"


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise ListError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise ListError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ListError(f"{path}: cannot be read ({exc})") from None


def _shape_error(path: Path, what: str) -> ListError:
    return ListError(f"{path}: not a {what} file (unexpected structure)")


# -- loaders: one per list format ------------------------------------------------------------------------


def load_curated(*paths: Path) -> _Source:
    """Lanterne's own lists: a company for the whole file, or one per entry."""
    source = _Source("lanterne-curated")
    for path in paths:
        doc = _read_json(path)
        try:
            for entry in doc["domains"]:
                domain = entry["domain"].lower()
                name = entry.get("company") or doc["company"]
                source.domains[domain] = Owner(
                    company=canonical_company(name) or name,
                    domain=domain,
                    category=entry.get("category") or "other",
                    source="lanterne-curated",
                    product=entry.get("product"),
                    legal_name=entry.get("legal_name") or doc.get("legal_name"),
                )
        except (KeyError, TypeError, AttributeError):
            raise _shape_error(path, "Lanterne curated list") from None
    return source


def load_recorders(path: Path) -> _Source:
    """Session-recording services (their domains, kept as data for the recorder detector) as owners."""
    doc = _read_json(path)
    source = _Source("lanterne-recorders")
    try:
        for entry in doc["recorders"]:
            company = canonical_company(entry["company"]) or entry["company"]
            for domain in entry["domains"]:
                source.domains[domain.lower()] = Owner(
                    company=company, domain=domain.lower(), category="session_recording",
                    source="lanterne-recorders", product=entry.get("product"),
                )
    except (KeyError, TypeError, AttributeError):
        raise _shape_error(path, "Lanterne session-recorder list") from None
    return source


def load_adguard(trackers_path: Path, companies_path: Path) -> _Source:
    trackers_doc = _read_json(trackers_path)
    companies_doc = _read_json(companies_path)
    try:
        categories = trackers_doc["categories"]
        trackers = trackers_doc["trackers"]
        companies = companies_doc["companies"]
        source = _Source("adguard")
        for domain, tracker_id in trackers_doc["trackerDomains"].items():
            tracker = trackers.get(tracker_id)
            if not tracker:
                continue
            company_id = tracker.get("companyId")
            legal = (companies.get(company_id) or {}).get("name") if company_id else None
            legal = legal or tracker.get("name")
            category = _ADGUARD_CATEGORIES.get(categories.get(str(tracker.get("categoryId")), ""), "other")
            source.domains[domain.lower()] = Owner(
                company=canonical_company(legal) or legal,
                domain=domain.lower(),
                category=category,
                source="adguard",
                product=tracker.get("name"),
                legal_name=legal,
            )
    except (KeyError, TypeError, AttributeError):
        raise _shape_error(trackers_path, "AdGuard companiesdb") from None
    return source


def load_duckduckgo(path: Path) -> tuple[_Source, dict[str, str]]:
    doc = _read_json(path)
    try:
        entities = doc["entities"]
        trackers = doc["trackers"]
        # Entities may be brands of a parent ("Google Ads", owned by "Google LLC").
        parents = {
            (t.get("owner") or {}).get("name"): (t.get("owner") or {}).get("ownedBy")
            for t in trackers.values()
            if isinstance(t, dict) and (t.get("owner") or {}).get("ownedBy")
        }
        source = _Source("duckduckgo")
        for domain, entity_name in doc["domains"].items():
            entity = entities.get(entity_name) or {}
            tracker = trackers.get(domain) or {}
            category = "other"
            for label, ours in _DDG_CATEGORIES:
                if label in (tracker.get("categories") or []):
                    category = ours
                    break
            parent = entity.get("ownedBy") or parents.get(entity_name)
            display = entity.get("displayName") or entity_name
            source.domains[domain.lower()] = Owner(
                company=canonical_company(parent or entity_name) or display,
                domain=domain.lower(),
                category=category,
                source="duckduckgo",
                product=entity_name if parent else None,
                legal_name=parent or entity_name,
            )
        for domain, tracker in trackers.items():
            if domain.lower() in source.domains:
                continue
            owner = tracker.get("owner") or {}
            if owner.get("name"):
                source.domains[domain.lower()] = Owner(
                    company=canonical_company(owner.get("ownedBy") or owner["name"]) or owner["name"],
                    domain=domain.lower(),
                    category="other",
                    source="duckduckgo",
                    legal_name=owner["name"],
                )
        cnames = {k.lower(): v.lower() for k, v in (doc.get("cnames") or {}).items()}
    except (KeyError, TypeError, AttributeError):
        raise _shape_error(path, "DuckDuckGo Tracker Blocklist") from None
    return source, cnames


def load_disconnect(services_path: Path, entities_path: Path | None) -> _Source:
    doc = _read_json(services_path)
    source = _Source("disconnect")
    try:
        for category_name, services in doc["categories"].items():
            category = _DISCONNECT_CATEGORIES.get(category_name, "other")
            for service in services:
                for name, urls in service.items():
                    for key, domains in urls.items():
                        if not isinstance(domains, list):
                            continue  # flags such as "performance": "true"
                        for domain in domains:
                            domain = domain.lower()
                            # A domain in several categories keeps its most telling one.
                            if domain in source.domains and source.domains[domain].category != "content":
                                continue
                            source.domains[domain] = Owner(
                                company=canonical_company(name) or name,
                                domain=domain,
                                category=category,
                                source="disconnect",
                                legal_name=name,
                            )
    except (KeyError, TypeError, AttributeError):
        raise _shape_error(services_path, "Disconnect services") from None
    if entities_path is not None and entities_path.exists():
        entities_doc = _read_json(entities_path)
        try:
            for name, entity in entities_doc["entities"].items():
                for domain in list(entity.get("properties", [])) + list(entity.get("resources", [])):
                    domain = domain.lower()
                    if domain not in source.domains:
                        source.domains[domain] = Owner(
                            company=canonical_company(name) or name,
                            domain=domain,
                            category="other",
                            source="disconnect",
                            legal_name=name,
                        )
        except (KeyError, TypeError, AttributeError):
            raise _shape_error(entities_path, "Disconnect entities") from None
    return source


# -- the database ------------------------------------------------------------------------------------------


class CompanyDB:
    """Every list that could be loaded, merged; `errors` says which could not and why."""

    def __init__(self, lists_dir: Path | None = None, bundled_dir: Path = BUNDLED) -> None:
        self.errors: list[str] = []
        self.loaded: list[ListInfo] = []
        self.cnames: dict[str, str] = {}
        self._sources: list[_Source] = []
        self._lookups: dict[str, Owner | None] = {}
        folder = lists_dir if lists_dir is not None else cache_dir()
        self._easyprivacy_path = bundled_dir / "easyprivacy" / "easyprivacy.txt"
        if (folder / "easyprivacy.txt").is_file():
            self._easyprivacy_path = folder / "easyprivacy.txt"
        self._engine: Any = None
        self._engine_lock = threading.Lock()

        def attempt(name: str, path: Path, licence: str, load: Callable[[], _Source]) -> None:
            try:
                source = load()
            except ListError as exc:
                self.errors.append(str(exc))
                return
            self._sources.append(source)
            self.loaded.append(ListInfo(name, str(path), len(source.domains), licence))

        attempt(
            "Lanterne curated lists (ByteDance/TikTok, ownership corrections)", bundled_dir, "Lanterne",
            lambda: load_curated(bundled_dir / "bytedance.json", bundled_dir / "corrections.json"),
        )
        recorders = bundled_dir.parent / "session-recorders.json"
        attempt("Lanterne session-recorder list", recorders, "Lanterne", lambda: load_recorders(recorders))
        ddg = folder / "duckduckgo-tds.json"
        if ddg.exists():

            def load_ddg() -> _Source:
                source, cnames = load_duckduckgo(ddg)
                self.cnames = cnames
                return source

            attempt(DOWNLOADS["duckduckgo-tds.json"]["name"], ddg, DOWNLOADS["duckduckgo-tds.json"]["licence"], load_ddg)
        adguard = bundled_dir / "adguard-companiesdb"
        attempt(
            "AdGuard companiesdb", adguard, "CC BY-SA 4.0",
            lambda: load_adguard(adguard / "trackers.json", adguard / "companies.json"),
        )
        disconnect = folder / "disconnect-services.json"
        if disconnect.exists():
            attempt(
                "Disconnect", disconnect, DOWNLOADS["disconnect-services.json"]["licence"],
                lambda: load_disconnect(disconnect, folder / "disconnect-entities.json"),
            )

    def lookup(self, host: str) -> Owner | None:
        """The owner of a host: the most specific listed domain, ties broken by list precedence."""
        host = host.lower().rstrip(".")
        if host in self._lookups:
            return self._lookups[host]
        found = None
        labels = host.split(".")
        for i in range(len(labels) - 1):
            candidate = ".".join(labels[i:])
            for source in self._sources:
                found = source.domains.get(candidate)
                if found is not None:
                    break
            if found is not None:
                break
        if len(self._lookups) < 100_000:
            self._lookups[host] = found
        return found

    def owner_of(self, host: str) -> Owner | None:
        """Like `lookup`, and also through a CNAME alias the lists know of (cloaked first-party trackers)."""
        owner = self.lookup(host)
        if owner is not None:
            return owner
        target = self.cnames.get(host.lower())
        if target:
            behind = self.lookup(target)
            if behind is not None:
                return Owner(
                    company=behind.company,
                    domain=behind.domain,
                    category=behind.category,
                    source=behind.source,
                    product=behind.product,
                    legal_name=behind.legal_name,
                    cname_of=target,
                )
        return None

    def tracking_rule(self, url: str, page_url: str, resource_type: str) -> str | None:
        """The EasyPrivacy rule a request matches, if any."""
        engine = self._easyprivacy()
        if engine is None:
            return None
        kind = _ADBLOCK_TYPES.get(resource_type, "other")
        try:
            result = engine.check_network_urls(url, page_url or url, kind)
        except Exception:  # adblock-rust refuses some odd URLs; then it simply does not match
            return None
        return result.filter if result.matched and not result.exception else None

    def _easyprivacy(self) -> Any:
        with self._engine_lock:
            if self._engine is None:
                import adblock

                try:
                    text = self._easyprivacy_path.read_text(encoding="utf-8")
                except OSError as exc:
                    self.errors.append(f"{self._easyprivacy_path}: cannot be read ({exc})")
                    self._engine = False
                    return None
                filters = adblock.FilterSet(debug=True)
                filters.add_filter_list(text)
                self._engine = adblock.Engine(filters, optimize=False)
            return self._engine or None


_ADBLOCK_TYPES = {
    "document": "document", "stylesheet": "stylesheet", "image": "image", "media": "media", "font": "font",
    "script": "script", "xhr": "xmlhttprequest", "fetch": "xmlhttprequest", "ping": "ping",
    "websocket": "websocket", "other": "other", "beacon": "ping", "eventsource": "other", "manifest": "other",
}

_DEFAULT: CompanyDB | None = None
_DEFAULT_LOCK = threading.Lock()


def company_db() -> CompanyDB:
    """The process-wide database, loaded on first use."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = CompanyDB()
        return _DEFAULT


def reset_company_db(db: CompanyDB | None = None) -> None:
    """Forget the loaded lists (they are read again on next use), or use `db` from now on."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        _DEFAULT = db


def lists_dir_from_published(root: Path, into: Path) -> Path:
    """Arrange lists in their published layout (as in a checkout of each project) under the file names
    `lanterne lists update` uses, so that CompanyDB can read them."""
    into.mkdir(parents=True, exist_ok=True)
    layout = {
        "duckduckgo-tds.json": root / "duckduckgo-tds" / "extension-tds.json",
        "disconnect-services.json": root / "disconnect" / "services.json",
        "disconnect-entities.json": root / "disconnect" / "entities.json",
    }
    for name, source in layout.items():
        if source.is_file():
            (into / name).write_bytes(source.read_bytes())
    return into


# -- downloading the lists that are not shipped -------------------------------------------------------------


def update_lists(folder: Path | None = None, base_url: str | None = None, timeout: float = 60) -> list[str]:
    """Download the non-shipped lists into the cache folder; each is checked before it replaces the old one.

    `base_url`, when given, replaces each list's home address with `<base_url>/<file name>` (mirrors, tests).
    Returns one line per list saying what happened; raises ListError if none could be fetched.
    """
    folder = folder or cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    report: list[str] = []
    fetched = 0
    for filename, meta in DOWNLOADS.items():
        url = f"{base_url.rstrip('/')}/{filename}" if base_url else meta["url"]
        tmp = folder / (filename + ".part")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - fixed https URLs or a user mirror
                tmp.write_bytes(resp.read(64 * 1024 * 1024))
            _validate_download(filename, tmp, folder)
        except (OSError, ValueError) as exc:
            tmp.unlink(missing_ok=True)
            report.append(f"{meta['name']}: not updated ({exc})")
            continue
        except ListError as exc:
            tmp.unlink(missing_ok=True)
            report.append(f"{meta['name']}: not updated ({exc})")
            continue
        tmp.replace(folder / filename)
        fetched += 1
        report.append(f"{meta['name']}: saved to {folder / filename} ({meta['licence']})")
    _write_attribution(folder)
    reset_company_db()
    if fetched == 0:
        raise ListError("no list could be downloaded:\n  " + "\n  ".join(report))
    return report


def _validate_download(filename: str, path: Path, folder: Path) -> None:
    if filename == "duckduckgo-tds.json":
        load_duckduckgo(path)
    elif filename == "disconnect-services.json":
        load_disconnect(path, None)
    elif filename == "disconnect-entities.json":
        doc = _read_json(path)
        if not isinstance(doc, dict) or not isinstance(doc.get("entities"), dict):
            raise _shape_error(path, "Disconnect entities")
    elif filename == "easyprivacy.txt":
        head = path.read_text(encoding="utf-8", errors="replace")[:200]
        if "[Adblock" not in head and "EasyPrivacy" not in head:
            raise ListError(f"{path}: not an Adblock-format filter list")


def _write_attribution(folder: Path) -> None:
    lines = ["# Lists downloaded by `lanterne lists update`", ""]
    for filename, meta in DOWNLOADS.items():
        if (folder / filename).exists():
            lines.append(f"- `{filename}`: {meta['name']}, {meta['home']}. Licence: {meta['licence']}.")
    lines.append("")
    lines.append("They are used locally to attribute requests to companies and are not redistributed by Lanterne.")
    (folder / "ATTRIBUTION.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def site_owner_label(host: str) -> str:
    """For unattributed hosts, the registrable domain is the best name we have."""
    return registrable_domain(host)
