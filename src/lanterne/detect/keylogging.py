"""Key logging: what the visitor typed into a form leaving the page before any submission.

Built on the personal-data leak detector (which must run first): each company that received a typed value
while no form had been submitted is reported once, with every field it captured.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from lanterne.detect.engine import DetectContext
from lanterne.records import Finding


class KeyLogging:
    name = "keylogging"

    def detect(self, ctx: DetectContext) -> Iterable[Finding]:
        if ctx.visit.options.get("submitted_at") is not None and not any(
            f.kind == "pii_leak" and f.before_submit for f in ctx.findings
        ):
            return []
        groups: dict[tuple[str | None, str | None], list[Finding]] = defaultdict(list)
        for f in ctx.findings:
            if f.kind == "pii_leak" and f.before_submit:
                groups[(f.company, f.domain)].append(f)
        findings = []
        for (company, domain), leaks in groups.items():
            fields = sorted({f.data_type for f in leaks if f.data_type})
            evidence = sorted({s for f in leaks for s in f.evidence})
            findings.append(
                Finding(
                    kind="keylogging",
                    detector=self.name,
                    company=company,
                    domain=domain,
                    category=leaks[0].category,
                    data_type="keylogging",
                    summary=f"{company or domain} captures what is typed into the page before it is sent: {', '.join(fields)}",
                    evidence=evidence[:200],
                    before_submit=True,
                    details={"fields": fields, "encodings": sorted({f.encoding for f in leaks if f.encoding})},
                )
            )
        return findings
