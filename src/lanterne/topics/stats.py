"""How a topic is represented on platform A relative to platform B, against control topics.

The quantity estimated is a ratio of ratios: for a topic, (posts on A / posts on B) divided by the same
ratio for the control topics, counted over the same time windows. 1 means the topic is represented on A and
B as ordinary topics are; 30 means it has thirty times fewer posts on B than its presence on A would predict.

It is estimated three ways, which should agree:
1. descriptively: per hashtag and window, log((A + 0.5) / (B + 0.5)) minus the mean of the control
   hashtags in that window; averaged per hashtag, then per topic; a bootstrap that resamples hashtags (those
   of the topic and the controls) gives a percentile interval;
2. a permutation test of the sensitive against the control labels among hashtags;
3. a negative binomial regression of the counts with hashtag and window-by-platform effects and a
   platform-by-role interaction, with errors clustered by hashtag: exp(interaction) is the same ratio.
Windows are the same on both platforms, so neither platform's age (lifetime counts) can enter.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lanterne.report.i18n import N_
from lanterne.topics.counts import Count
from lanterne.topics.study import Study

CONTINUITY = 0.5  # Haldane-Anscombe correction, so a zero count never divides by zero
BOOTSTRAP = N_("bootstrap over hashtags")
MODEL = N_("negative binomial, hashtag-clustered errors")

ASSUMPTIONS = [
    N_("Counts are of posts created within each window, on both platforms, over the same windows; lifetime "
    "totals (which favour the older platform) are not used."),
    N_("The control topics show the platforms' relative size for ordinary subjects; their ratio, window by "
    "window, is the baseline."),
    N_("Hashtags are a sample of the ways a topic is written about: the bootstrap resamples them, so a topic with "
    "few hashtags gets a wide interval."),
    N_("Zero counts get 0.5 added in log ratios (Haldane-Anscombe correction) and are listed; missing counts are "
    "listed and left out."),
    N_("The negative binomial model allows counts to vary more than Poisson counts; its errors are clustered by "
    "hashtag because windows of one hashtag are not independent."),
    N_("The counts are only as good as their sources: each is kept with where and when it was collected."),
]


@dataclass
class Estimate:
    label: str
    ratio: float
    low: float
    high: float
    hashtags: int
    method: str
    p_value: float | None = None

    @property
    def covers_one(self) -> bool:
        return self.low <= 1 <= self.high


@dataclass
class Analysis:
    study: Study
    topics: list[Estimate]
    roles: list[Estimate]
    model: list[Estimate]
    permutation_p: float | None
    permutation_stat: float | None
    hashtag_table: pd.DataFrame
    zeros: list[tuple[str, str, str]]  # (platform, hashtag, window)
    missing: list[tuple[str, str, str]]
    model_note: str = ""
    sources: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=lambda: list(ASSUMPTIONS))


def _frame(study: Study, counts: list[Count]) -> tuple[pd.DataFrame, list, list]:
    rows = []
    for c in counts:
        topic = study.topic_of(c.hashtag)
        rows.append({"platform": c.platform, "hashtag": c.hashtag, "window": f"{c.window_start}..{c.window_end}",
                     "count": c.count, "topic": topic.name if topic else None, "role": topic.role if topic else None,
                     "source": c.source})
    df = pd.DataFrame(rows)
    # Several sources for one cell: their mean (each is kept in the store with its provenance).
    df = df.groupby(["platform", "hashtag", "window", "topic", "role"], as_index=False)["count"].mean()
    zeros = [(r.platform, r.hashtag, r.window) for r in df.itertuples() if r.count == 0]
    missing = []
    for topic in study.topics:
        for hashtag in topic.all_hashtags:
            for window in study.windows:
                for platform in study.platforms:
                    if not ((df.platform == platform) & (df.hashtag == hashtag) & (df.window == window.label)).any():
                        missing.append((platform, hashtag, window.label))
    return df, zeros, missing


def _log_ratios(df: pd.DataFrame, study: Study) -> pd.DataFrame:
    wide = df.pivot_table(index=["hashtag", "topic", "role", "window"], columns="platform", values="count").reset_index()
    wide = wide.dropna(subset=[study.platform_a, study.platform_b])
    wide["log_ratio"] = np.log((wide[study.platform_a] + CONTINUITY) / (wide[study.platform_b] + CONTINUITY))
    return wide


def _matrix(wide: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Log ratios as a hashtag x window matrix (NaN where a count is missing)."""
    table = wide.pivot_table(index="hashtag", columns="window", values="log_ratio")
    return table.to_numpy(dtype=float), list(table.index)


def _normalised(wide: pd.DataFrame, controls: list[str]) -> pd.Series:
    """Per hashtag: mean over windows of its log ratio minus the controls' mean log ratio in that window."""
    matrix, tags = _matrix(wide)
    rows = [tags.index(c) for c in controls if c in tags]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        base = np.nanmean(matrix[rows], axis=0)
        values = np.nanmean(matrix - base, axis=1)
    return pd.Series(values, index=pd.Index(tags, name="hashtag")).dropna()


def _bootstrap(wide: pd.DataFrame, members: list[str], controls: list[str], rng: np.random.Generator,
               n_boot: int) -> tuple[float, float, float]:
    """Point estimate and 95% percentile interval of the mean normalised log ratio of `members`,
    resampling the member hashtags and the control hashtags (with replacement, all draws at once)."""
    matrix, tags = _matrix(wide)
    m_rows = np.array([tags.index(t) for t in members if t in tags])
    c_rows = np.array([tags.index(t) for t in controls if t in tags])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        base = np.nanmean(matrix[c_rows], axis=0)
        point = float(np.nanmean(np.nanmean(matrix[m_rows] - base, axis=1)))
        m_draw = rng.choice(m_rows, size=(n_boot, len(m_rows)), replace=True)
        c_draw = rng.choice(c_rows, size=(n_boot, len(c_rows)), replace=True)
        bases = np.nanmean(matrix[c_draw], axis=1)  # (draws, windows)
        per_tag = np.nanmean(matrix[m_draw] - bases[:, None, :], axis=2)  # (draws, members)
        draws = np.nanmean(per_tag, axis=1)
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return point, float(low), float(high)


def _permutation(per_hashtag: pd.Series, roles: dict[str, str], rng: np.random.Generator, n_perm: int) -> tuple[float, float]:
    """Two-sided test of mean(sensitive) - mean(control) over per-hashtag mean log ratios."""
    tags = [t for t in per_hashtag.index if roles.get(t) in ("sensitive", "control")]
    values = per_hashtag.reindex(tags).to_numpy()
    labels = np.array([roles[t] == "sensitive" for t in tags])
    if labels.sum() == 0 or (~labels).sum() == 0:
        return float("nan"), float("nan")
    observed = values[labels].mean() - values[~labels].mean()
    extreme = 0
    for _ in range(n_perm):
        shuffled = rng.permutation(labels)
        stat = values[shuffled].mean() - values[~shuffled].mean()
        if abs(stat) >= abs(observed) - 1e-12:
            extreme += 1
    return float(observed), (extreme + 1) / (n_perm + 1)


def _negative_binomial(df: pd.DataFrame, study: Study) -> tuple[list[Estimate], str]:
    import statsmodels.formula.api as smf

    data = df.copy()
    data["on_a"] = (data.platform == study.platform_a).astype(int)
    data["sens_a"] = ((data.role == "sensitive") & (data.on_a == 1)).astype(int)
    data["plac_a"] = ((data.role == "placebo") & (data.on_a == 1)).astype(int)
    data["wp"] = data["window"] + "|" + data["platform"]
    data["count"] = data["count"].round().astype(int)
    terms = ["C(hashtag)", "C(wp)", "sens_a"] + (["plac_a"] if data.plac_a.any() else [])
    formula = "count ~ " + " + ".join(terms)
    groups = pd.factorize(data["hashtag"])[0]
    fit = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # Start from the Poisson fit (same mean model): Newton from zeros can diverge with many effects.
            poisson = smf.poisson(formula, data=data).fit(disp=False, maxiter=200)
            start = np.append(poisson.params.to_numpy(), 0.5)
            for method in ("newton", "bfgs"):
                candidate = smf.negativebinomial(formula, data=data).fit(
                    start_params=start, method=method, maxiter=2000, disp=False,
                    cov_type="cluster", cov_kwds={"groups": groups},
                )
                if np.all(np.isfinite(candidate.params)) and np.all(np.isfinite(candidate.bse)):
                    fit = candidate
                    break
        except Exception as exc:  # noqa: BLE001 - reported in the analysis, not hidden
            return [], f"the negative binomial model could not be fitted ({type(exc).__name__}: {exc})"
    if fit is None:
        return [], "the negative binomial model did not converge; the bootstrap and permutation results stand alone"
    estimates = []
    n_tags = {"sens_a": data[data.role == "sensitive"].hashtag.nunique(), "plac_a": data[data.role == "placebo"].hashtag.nunique()}
    for term, label in (("sens_a", "sensitive"), ("plac_a", "placebo")):
        if term not in fit.params:
            continue
        beta = float(fit.params[term])
        low, high = (float(x) for x in fit.conf_int().loc[term])
        estimates.append(Estimate(label, math.exp(beta), math.exp(low), math.exp(high), n_tags[term],
                                  MODEL, float(fit.pvalues[term])))
    alpha = float(fit.params.get("alpha", float("nan")))
    return estimates, f"converged: {bool(fit.mle_retvals.get('converged', True))}; dispersion alpha = {alpha:.3g}"


def analyze(study: Study, counts: list[Count], n_boot: int = 1000, n_perm: int = 5000, seed: int = 0) -> Analysis:
    rng = np.random.default_rng(seed)
    df, zeros, missing = _frame(study, counts)
    wide = _log_ratios(df, study)
    controls = sorted(wide[wide.role == "control"].hashtag.unique())
    per_hashtag = _normalised(wide, controls)
    tag_roles = {h: t.role for t in study.topics for h in t.all_hashtags}
    topics = []
    for topic in study.topics:
        members = [h for h in topic.all_hashtags if h in set(wide.hashtag)]
        if not members:
            continue
        if topic.role == "control":
            others = [c for c in controls if c not in members] or controls
            point, low, high = _bootstrap(wide, members, others, rng, n_boot)
        else:
            point, low, high = _bootstrap(wide, members, controls, rng, n_boot)
        topics.append(Estimate(topic.name, math.exp(point), math.exp(low), math.exp(high), len(members), BOOTSTRAP))
    role_estimates = []
    for role in ("sensitive", "placebo"):
        members = sorted(h for h, r in tag_roles.items() if r == role and h in set(wide.hashtag))
        if members:
            point, low, high = _bootstrap(wide, members, controls, rng, n_boot)
            role_estimates.append(Estimate(role, math.exp(point), math.exp(low), math.exp(high), len(members), BOOTSTRAP))
    stat, p_value = _permutation(per_hashtag, tag_roles, rng, n_perm)
    if role_estimates and not math.isnan(p_value):
        role_estimates[0].p_value = p_value
    model, note = _negative_binomial(df, study)
    table = per_hashtag.rename("normalised_log_ratio").reset_index()
    table["topic"] = table["hashtag"].map({h: t.name for t in study.topics for h in t.all_hashtags})
    table["role"] = table["hashtag"].map(tag_roles)
    table["ratio_vs_controls"] = np.exp(table["normalised_log_ratio"])
    return Analysis(study, topics, role_estimates, model, p_value, stat, table, zeros, missing, note,
                    sorted({c.source for c in counts}))


# -- data with a known effect, for tests and for checking the method --------------------------------------


def simulate_counts(study: Study, effect: float, placebo_effect: float = 1.0, seed: int = 0,
                    dispersion: float = 0.3, base: float = 400.0) -> list[Count]:
    """Counts drawn from a negative binomial model in which the sensitive topics' ratio of ratios is
    exactly `effect` (and the placebo topics' `placebo_effect`): platform A is three times platform B's
    size for ordinary topics, hashtags differ in popularity, and windows in activity."""
    rng = np.random.default_rng(seed)
    out: list[Count] = []
    for topic in study.topics:
        multiplier = {"sensitive": effect, "placebo": placebo_effect}.get(topic.role, 1.0)
        for hashtag in topic.all_hashtags:
            popularity = rng.lognormal(0, 1.0)
            for w, window in enumerate(study.windows):
                activity = rng.lognormal(0, 0.3)
                for platform in study.platforms:
                    size = 3.0 if platform == study.platform_a else 1.0
                    mean = base * popularity * activity * size * (math.sqrt(multiplier) if platform == study.platform_a else 1 / math.sqrt(multiplier))
                    # Negative binomial as a gamma-Poisson mixture with variance mean + dispersion * mean^2.
                    shape = 1 / dispersion
                    value = int(rng.poisson(rng.gamma(shape, mean / shape)))
                    out.append(Count(platform, hashtag, window.start, window.end, value,
                                     f"simulated (effect {effect}, seed {seed})", "simulated"))
    return out


def as_dict(analysis: Analysis) -> dict[str, Any]:
    def est(e: Estimate) -> dict[str, Any]:
        return {"label": e.label, "ratio_of_ratios": e.ratio, "ci95": [e.low, e.high], "hashtags": e.hashtags,
                "method": e.method, "p_value": e.p_value}

    return {
        "study": analysis.study.name,
        "platforms": {"a": analysis.study.platform_a, "b": analysis.study.platform_b},
        "quantity": f"ratio of ratios: ({analysis.study.platform_a} / {analysis.study.platform_b}) for the topic, "
                    "divided by the same for control topics, same windows",
        "topics": [est(e) for e in analysis.topics],
        "roles": [est(e) for e in analysis.roles],
        "model": [est(e) for e in analysis.model],
        "model_note": analysis.model_note,
        "permutation": {"statistic_log": analysis.permutation_stat, "p_value": analysis.permutation_p},
        "zero_counts": [list(z) for z in analysis.zeros],
        "missing_counts": [list(m) for m in analysis.missing],
        "sources": analysis.sources,
        "assumptions": analysis.assumptions,
    }
