"""Agreement with The Markup's Blacklight on the same real visits.

Blacklight's verdict for each captured site (its `report.md`) names the companies it saw as ad trackers,
the companies whose third-party cookies it saw, whether the site "tells Facebook", and any session-recorder
company. Lanterne analyses the same HAR and cookies, and the two sets of companies are compared, each
disagreement with its reason. `python -m lanterne.validation DIR -o docs/validation.md` writes the table.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

from lanterne.capture.har import read_har
from lanterne.detect import analyze
from lanterne.detect.companies import canonical_company
from lanterne.records import Finding, Visit

# Categories Blacklight's report covers: it lists advertising trackers, third-party cookies, the Facebook
# pixel and session recorders; it does not list analytics-only, CDN or content third parties.
_BLACKLIGHT_SCOPE = ("advertising", "session_recording", "social")


@dataclass
class SiteComparison:
    site: str
    visit: Visit
    findings: list[Finding]
    blacklight: set[str]
    ours: set[str]
    ours_in_scope: set[str]
    reasons: dict[str, str] = field(default_factory=dict)
    tiktok_in_har: bool = False
    bytedance_found: bool = False
    fb_pixel_ids_blacklight: set[str] = field(default_factory=set)
    fb_events_blacklight: set[tuple[str, str]] = field(default_factory=set)
    fb_events_ours: set[tuple[str, str]] = field(default_factory=set)
    inspection_hosts: list[str] = field(default_factory=list)


def blacklight_companies(report: str) -> set[str]:
    names: set[str] = set()
    for pattern in (
        r"Blacklight detected scripts? belonging to (.+?)\.\s*$",
        r"Blacklight detected cookies set for (.+?)\.\s*$",
        r"Blacklight detected a script belonging to the company (.+?) doing this",
    ):
        for match in re.finditer(pattern, report, re.MULTILINE):
            for name in match.group(1).split("; "):
                canonical = canonical_company(name.strip())
                if canonical:
                    names.add(canonical)
    if "it tells Facebook" in report:
        names.add("Meta")
    return names


def _fb_events_from_inspection(inspection: dict) -> set[tuple[str, str]]:
    events = set()
    for event in inspection.get("reports", {}).get("fb_pixel_events", []) or []:
        raw = event.get("raw", "")
        match = re.search(r"[?&]id=(\d+)", raw)
        if match and event.get("eventName"):
            events.add((match.group(1), event["eventName"]))
    return events


def compare_site(folder: Path) -> SiteComparison:
    import json

    imported = read_har(folder / "requests.har", cookies_path=folder / "browser-cookies.json")
    visit = imported.visit
    findings = analyze(visit)
    report = (folder / "report.md").read_text(encoding="utf-8")
    inspection = json.loads((folder / "inspection.json").read_text(encoding="utf-8"))
    categories: dict[str, set[str]] = {}
    third_party_cookie: set[str] = set()
    for f in findings:
        if f.company and f.kind in ("third_party", "cookie"):
            categories.setdefault(f.company, set()).add(f.category or "other")
            if f.kind == "cookie" and f.details.get("third_party"):
                third_party_cookie.add(f.company)
    ours = set(categories)
    ours_in_scope = {
        c for c, cats in categories.items() if cats & set(_BLACKLIGHT_SCOPE) or c in third_party_cookie
    }
    comparison = SiteComparison(
        site=folder.name,
        visit=visit,
        findings=findings,
        blacklight=blacklight_companies(report),
        ours=ours,
        ours_in_scope=ours_in_scope,
        tiktok_in_har=any("tiktok" in r.host for r in visit.requests),
        bytedance_found="ByteDance" in ours,
        fb_events_blacklight=_fb_events_from_inspection(inspection),
        inspection_hosts=list((inspection.get("hosts", {}).get("requests", {}) or {}).get("third_party", [])),
        fb_events_ours={
            (pid, f.details.get("event", ""))
            for f in findings
            if f.kind == "pixel_event" and f.details.get("tracker") == "Meta pixel"
            for pid in f.details.get("pixel_ids", [])
        },
    )
    for company in sorted(ours | comparison.blacklight):
        comparison.reasons[company] = _reason(company, comparison, categories, findings)
    return comparison


def _reason(company: str, cmp: SiteComparison, categories: dict[str, set[str]], findings: list[Finding]) -> str:
    in_ours, in_theirs = company in cmp.ours, company in cmp.blacklight
    if in_ours and in_theirs:
        return ""
    if in_ours:
        cats = ", ".join(sorted(categories.get(company, set())))
        kinds = {f.kind for f in findings if f.company == company}
        if company not in cmp.ours_in_scope:
            if kinds == {"cookie"}:
                return f"only first-party cookies set by its script ({cats}); Blacklight counts third-party cookies"
            return f"not an ad tracker in our lists ({cats}); Blacklight lists ad trackers and third-party cookies only"
        return f"ad tracker in our lists ({cats}); Blacklight's own tracker list did not flag it"
    # Blacklight only
    from lanterne.detect.lists import company_db

    db = company_db()
    word = re.sub(r"[^a-z0-9]", "", company.lower().split()[0])
    har_hosts = {r.host for r in cmp.visit.requests}
    unlisted = sorted(h for h in har_hosts if word and word in h.replace("-", "") and db.owner_of(h) is None)
    if unlisted:
        return f"requests to {', '.join(unlisted[:3])} are in the HAR, but no list we use names their owner"
    named_other = sorted(
        (h, o) for h in har_hosts if word and word in h.replace("-", "") and (o := db.owner_of(h)) is not None
    )
    if named_other:
        host, owner = named_other[0]
        return f"requests to {host} are in the HAR; our lists ({owner.source}) name {owner.company} as its owner"
    missing = sorted(
        h for h in cmp.inspection_hosts
        if h not in har_hosts and ((o := db.owner_of(h)) is not None and o.company == company or (word and word in h))
    )
    if missing:
        return (
            f"Blacklight's inspection lists requests to {', '.join(missing[:3])}, which are not in the HAR it saved "
            "(the HAR is all Lanterne sees)"
        )
    return "nothing in the HAR or cookies belongs to it in the lists we use; Blacklight's attribution comes from its own entity list"


def compare_all(root: Path) -> list[SiteComparison]:
    return [compare_site(folder) for folder in sorted(p for p in root.iterdir() if (p / "requests.har").exists())]


def render_markdown(
    comparisons: list[SiteComparison], root: Path, bundled_only: list[SiteComparison] | None = None
) -> str:
    lists_note = (
        "The tables use all of Lanterne's lists: the bundled ones (curated ByteDance list, AdGuard companiesdb,"
        " EasyPrivacy) and DuckDuckGo's and Disconnect's, which a user installs with `lanterne lists update`."
        if bundled_only is not None
        else "The tables use the lists bundled with Lanterne only."
    )
    lines = [
        "# Validation: Lanterne and Blacklight on the same real visits",
        "",
        "Generated by `python -m lanterne.validation ../shared/data/realworld/us-health-exchanges --lists ../shared/data/lists -o docs/validation.md`;",
        "do not edit by hand. Inputs: ten captures of US state health-insurance exchange sites made with The",
        "Markup's Blacklight collector on 2025-04-28 (CalMatters / The Markup, BSD-3-Clause). Lanterne reads each",
        "site's `requests.har` and `browser-cookies.json` with `lanterne analyze`; Blacklight's verdict is its",
        "`report.md` for the same visit.",
        "",
        "Company names are put in one vocabulary on both sides (`Alphabet, Inc.` and `Google LLC` are Google;",
        "`Facebook, Inc.` is Meta; Tapad is Experian's). Blacklight names companies in three places: ad-tracker",
        "scripts, third-party cookies, and the Facebook pixel (plus session recorders). Lanterne names every",
        "third party it can attribute, so it is expected to name more; the column *in scope* marks the companies",
        "Lanterne classes as advertising/social/session recording or that set third-party cookies, which is what",
        "Blacklight's report covers.",
        "",
        lists_note,
        "",
        "## Summary",
        "",
        "| site | TikTok in HAR | ByteDance found | Blacklight companies | found by Lanterne too | Lanterne in scope | also in Blacklight | Facebook pixel events (Blacklight) | found by Lanterne |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in comparisons:
        both = c.blacklight & c.ours
        lines.append(
            f"| {c.site} | {'yes' if c.tiktok_in_har else 'no'} | {'yes' if c.bytedance_found else 'no'} | "
            f"{len(c.blacklight)} | {len(both)} | {len(c.ours_in_scope)} | {len(c.ours_in_scope & c.blacklight)} | "
            f"{len(c.fb_events_blacklight)} | {len(c.fb_events_blacklight & c.fb_events_ours)} |"
        )
    total_bl = sum(len(c.blacklight) for c in comparisons)
    total_both = sum(len(c.blacklight & c.ours) for c in comparisons)
    lines += ["", f"Of the {total_bl} (site, company) pairs Blacklight reports, Lanterne finds {total_both}."]
    if bundled_only is not None:
        found = sum(len(c.blacklight & c.ours) for c in bundled_only)
        lines.append(f"With the bundled lists alone (no `lanterne lists update`), it finds {found}.")
    lines += [
        "",
        "## Site by company",
        "",
        "✓ = named; — = not named. A reason is given for every disagreement.",
        "",
    ]
    for c in comparisons:
        lines += [f"### {c.site}", "", "| company | Lanterne | in scope | Blacklight | why they differ |", "| --- | --- | --- | --- | --- |"]
        for company in sorted(c.ours | c.blacklight):
            lines.append(
                f"| {company} | {'✓' if company in c.ours else '—'} | {'yes' if company in c.ours_in_scope else 'no'} | "
                f"{'✓' if company in c.blacklight else '—'} | {c.reasons.get(company, '')} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def compare_with_lists(root: Path, published_lists: Path | None) -> list[SiteComparison]:
    """Compare using the bundled lists only (None), or also the non-shipped lists found under
    `published_lists` in their published layout."""
    import tempfile

    from lanterne.detect.lists import CompanyDB, lists_dir_from_published, reset_company_db

    with tempfile.TemporaryDirectory() as tmp:
        folder = lists_dir_from_published(published_lists, Path(tmp)) if published_lists else Path(tmp)
        reset_company_db(CompanyDB(lists_dir=folder))
        try:
            return compare_all(root)
        finally:
            reset_company_db()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path, help="folder of Blacklight captures (one sub-folder per site)")
    parser.add_argument(
        "--lists", type=Path, default=None,
        help="folder with DuckDuckGo's and Disconnect's lists in their published layout (e.g. ../shared/data/lists)",
    )
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/validation.md"))
    args = parser.parse_args(argv)
    bundled = compare_with_lists(args.root, None)
    full = compare_with_lists(args.root, args.lists) if args.lists else None
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render_markdown(full or bundled, args.root, bundled if full else None), encoding="utf-8")
    print(f"wrote {args.output} ({len(bundled)} sites)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
