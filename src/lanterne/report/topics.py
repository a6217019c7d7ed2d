"""HTML reports of a topic study and of the removal watch (same catalogue and look as the site reports)."""

from __future__ import annotations

from typing import Any

from lanterne.report.charts import forest_plot, survival_chart
from lanterne.report.html import _render
from lanterne.report.i18n import N_, translator
from lanterne.topics.stats import Analysis


ROLE_NAMES = (N_("sensitive"), N_("placebo"), N_("control"))


def render_topics_report(analysis: Analysis, lang: str = "en") -> str:
    t = translator(lang)
    study = analysis.study
    rows = [(e.label, e.ratio, e.low, e.high, next((x.role for x in study.topics if x.name == e.label), "")) for e in analysis.topics]
    rows += [(t("all %(role)s topics (bootstrap)") % {"role": t(e.label)}, e.ratio, e.low, e.high, e.label) for e in analysis.roles]
    rows += [(t("all %(role)s topics (model)") % {"role": t(e.label)}, e.ratio, e.low, e.high, "model") for e in analysis.model]
    chart = forest_plot(rows, t("Ratio of ratios, %(a)s / %(b)s, relative to control topics (95%% intervals)")
                        % {"a": study.platform_a, "b": study.platform_b})
    return _render("topics.html", t, analysis=analysis, study=study, chart=chart, table=analysis.hashtag_table.to_dict("records"))


def render_watch_report(survival: list[Any], test: dict[str, Any] | None, timelines: list[dict[str, Any]], lang: str = "en") -> str:
    t = translator(lang)
    chart = survival_chart([(s.topic, s.timeline) for s in survival], t("Share of items still publicly available"), t("days since first seen available"))
    return _render("watch.html", t, survival=survival, test=test, timelines=timelines[:2000], chart=chart)
