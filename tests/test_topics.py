"""Content-suppression measurement: study and counts validation, statistics on data with a known effect,
the Research API collector against the API's contract and its failures, and the removal watch."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from lanterne.simweb import Router, SimulatedWeb
from lanterne.simweb.tiktok import CLIENT_KEY, CLIENT_SECRET, Faults, PublicPages, ResearchApi
from lanterne.store import Store
from lanterne.topics.counts import Count, CountsError, read_counts, write_counts
from lanterne.topics.stats import analyze, simulate_counts
from lanterne.topics.study import StudyError, load_study
from lanterne.topics.tiktok_api import Credentials, QuotaExhausted, ResearchApiCollector
from lanterne.topics.watch import classify_page, survival_by_topic, survival_data

EXAMPLE = ROOT / "studies" / "example-study.yaml"

SMALL = """name: small
platforms: {a: instagram, b: tiktok}
windows:
  - {start: 2023-01-01, end: 2023-01-30}
  - {start: 2023-01-31, end: 2023-03-01}
topics:
  - name: Tibet
    role: sensitive
    hashtags: {en: [tibet, freetibet]}
  - name: Everyday
    role: control
    hashtags: {en: [cooking, travel, football]}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- study and counts files ---------------------------------------------------------------------------------


def test_example_study_loads() -> None:
    study = load_study(EXAMPLE)
    roles = {t.name: t.role for t in study.topics}
    assert {n for n, r in roles.items() if r == "sensitive"} == {
        "Tiananmen", "Tibet", "Uyghurs and Xinjiang", "Taiwan", "Falun Gong", "Hong Kong"}
    assert {"Rohingya", "Mahsa Amini", "Belarus protests", "Myanmar coup"} <= {n for n, r in roles.items() if r == "placebo"}
    assert any(r == "control" for r in roles.values())
    assert study.platforms == ("instagram", "tiktok")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("role: sensitive", "role: suspicious"), r"small.yaml:7: topic 'Tibet' has unknown role 'suspicious'"),
        (("2023-01-31, end: 2023-03-01", "2023-01-15, end: 2023-03-01"), r"small.yaml:5: window 2023-01-15..2023-03-01 overlaps window 2023-01-01..2023-01-30 \(line 4\)"),
        (("[cooking, travel, football]", "[cooking, tibet]"), r"hashtag 'tibet' is in topic 'Everyday' and in 'Tibet'"),
        (("role: control", "role: placebo"), r"needs at least one topic with role 'control'"),
    ],
)
def test_study_errors_name_their_line(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = write(tmp_path, "small.yaml", SMALL.replace(*edit))
    with pytest.raises(StudyError, match=message):
        load_study(path)


def test_counts_errors_name_their_line(tmp_path: Path) -> None:
    study = load_study(write(tmp_path, "small.yaml", SMALL))
    counts = write(tmp_path, "c.csv", "platform,hashtag,window_start,window_end,count,source,collected_at\n"
                   "tiktok,tibet,2023-01-01,2023-01-30,10,manual,2023-07-01\n"
                   "tiktok,pizza,2023-01-01,2023-01-30,10,manual,2023-07-01\n"
                   "tiktok,tibet,2023-02-01,2023-02-28,10,manual,2023-07-01\n"
                   "youtube,tibet,2023-01-01,2023-01-30,10,manual,2023-07-01\n"
                   "instagram,tibet,2023-01-01,2023-01-30,-3,manual,2023-07-01\n"
                   "tiktok,tibet,2023-01-01,2023-01-30,11,manual,2023-07-02\n")
    with pytest.raises(CountsError) as info:
        read_counts(counts, study)
    errors = info.value.errors
    assert errors[0].endswith("c.csv:3: hashtag 'pizza' is in no topic of the study")
    assert "c.csv:4: window 2023-02-01..2023-02-28 is not one of the study's windows" in errors[1]
    assert "c.csv:5: platform 'youtube'" in errors[2]
    assert "c.csv:6: count -3 is negative" in errors[3]
    assert "c.csv:7: the same count was already given at line 2" in errors[4]
    result = subprocess.run([sys.executable, "-m", "lanterne", "topics", "validate", str(tmp_path / "small.yaml"),
                             "--counts", str(counts)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.count("lanterne: error:") == 5


# -- statistics on data with a known effect ------------------------------------------------------------------


@pytest.fixture(scope="module")
def study():
    return load_study(EXAMPLE)


@pytest.mark.parametrize("effect", [8.0, 1.0])
def test_known_effect_is_recovered_within_the_intervals(study, effect: float) -> None:
    covered = {"bootstrap": 0, "model": 0}
    excluded_one = 0
    seeds = range(5)
    for seed in seeds:
        result = analyze(study, simulate_counts(study, effect, placebo_effect=1.0, seed=seed), n_boot=600, n_perm=2000, seed=seed)
        sensitive = next(e for e in result.roles if e.label == "sensitive")
        model = next(e for e in result.model if e.label == "sensitive")
        covered["bootstrap"] += sensitive.low <= effect <= sensitive.high
        covered["model"] += model.low <= effect <= model.high
        excluded_one += not sensitive.covers_one and result.permutation_p < 0.01
        placebo = next(e for e in result.roles if e.label == "placebo")
        assert placebo.low < 1.6 and placebo.high > 0.6  # no effect was put on the placebo topics
    assert covered["bootstrap"] >= 4 and covered["model"] >= 4, covered
    if effect == 1.0:
        assert excluded_one <= 1  # with no effect, the intervals cover 1
    else:
        assert excluded_one == len(seeds)  # a real effect is found every time


def test_zero_counts_are_handled_and_reported(study) -> None:
    counts = simulate_counts(study, 30.0, seed=3, base=3.0)  # small counts: many zeros on the small platform
    result = analyze(study, counts, n_boot=300, n_perm=500)
    assert result.zeros and all(len(z) == 3 for z in result.zeros)
    for estimate in result.topics + result.roles:
        assert estimate.ratio > 0 and estimate.low > 0 and estimate.high < float("inf")
    dropped = [c for c in counts if not (c.hashtag == "tibet" and c.platform == "tiktok")]
    result = analyze(study, dropped, n_boot=300, n_perm=500)
    assert ("tiktok", "tibet", study.windows[0].label) in result.missing


def test_analyze_command_writes_report_and_json(tmp_path: Path) -> None:
    counts = tmp_path / "sim.csv"
    assert subprocess.run([sys.executable, "-m", "lanterne", "topics", "simulate", str(EXAMPLE), "--effect", "30", "-o",
                           str(counts)], capture_output=True, timeout=120).returncode == 0
    result = subprocess.run([sys.executable, "-m", "lanterne", "topics", "analyze", str(EXAMPLE), "--counts", str(counts),
                             "-o", str(tmp_path / "r.html"), "--json", str(tmp_path / "r.json"), "--bootstrap", "300",
                             "--lang", "fr"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "r.html").read_text()
    assert "<svg" in html and "Hypothèses" in html
    import json

    doc = json.loads((tmp_path / "r.json").read_text())
    assert {t["label"] for t in doc["topics"]} >= {"Tibet", "Hong Kong"} and doc["assumptions"]


# -- the Research API collector --------------------------------------------------------------------------------


def small_study(tmp_path: Path):
    return load_study(write(tmp_path, "small.yaml", SMALL))


def test_collector_survives_every_error_without_losing_or_double_counting(tmp_path: Path) -> None:
    api = ResearchApi(volume={"tibet": 9, "freetibet": 2, "cooking": 13, "travel": 0, "football": 5},
                      faults=Faults(rate_limited={2, 7}, server_error={3, 4, 11}, expire_search_id={6, 15}, expire_token={9}))
    router = Router()
    api.install(router)
    waits: list[float] = []
    study = small_study(tmp_path)
    with SimulatedWeb(router) as web, Store(tmp_path / "t.db") as store:
        collector = ResearchApiCollector(store, study, Credentials(CLIENT_KEY, CLIENT_SECRET),
                                         base_url=f"http://127.0.0.1:{web.port}", sleep=waits.append, backoff=1.0)
        counts = collector.collect()
    for c in counts:
        assert c.count == api.expected(c.hashtag, c.window_start, c.window_end), c
    kinds = " ".join(collector.events)
    assert "rate limited" in kinds and "server error 500" in kinds and "search id expired" in kinds and "token renewed" in kinds
    assert waits and waits[1] > waits[0]  # the pause grows
    assert CLIENT_SECRET not in kinds and CLIENT_SECRET not in repr(collector.credentials)


def test_collector_stops_at_the_daily_quota_and_resumes(tmp_path: Path) -> None:
    api = ResearchApi(volume={"tibet": 9, "freetibet": 2, "cooking": 13, "travel": 1, "football": 5}, faults=Faults(daily_quota=6))
    router = Router()
    api.install(router)
    study = small_study(tmp_path)
    with SimulatedWeb(router) as web, Store(tmp_path / "t.db") as store:
        base = f"http://127.0.0.1:{web.port}"
        first = ResearchApiCollector(store, study, Credentials(CLIENT_KEY, CLIENT_SECRET), base_url=base, sleep=lambda s: None)
        with pytest.raises(QuotaExhausted):
            first.collect()
        pages_before = store.conn.execute("SELECT SUM(pages) FROM api_progress").fetchone()[0]
        assert pages_before > 0
        api.faults.daily_quota = None  # the next day
        again = ResearchApiCollector(store, study, Credentials(CLIENT_KEY, CLIENT_SECRET), base_url=base, sleep=lambda s: None)
        counts = again.collect()
    assert all(c.count == api.expected(c.hashtag, c.window_start, c.window_end) for c in counts)
    # Pages fetched before the stop were not fetched again.
    first_cursor_calls = [e for e in api.log if e["cursor"] == 0 and e["hashtags"] == ["tibet"]]
    assert len(first_cursor_calls) == len(study.windows)


def test_collect_command_never_prints_the_secret(tmp_path: Path) -> None:
    creds = write(tmp_path, "creds.yaml", "client_key: wrong-key\nclient_secret: very-secret-value\n")
    api = ResearchApi()
    router = Router()
    api.install(router)
    with SimulatedWeb(router) as web:
        result = subprocess.run([sys.executable, "-m", "lanterne", "topics", "collect", str(tmp_path / "small.yaml") if
                                 (tmp_path / "small.yaml").exists() else str(write(tmp_path, "small.yaml", SMALL)),
                                 "--db", str(tmp_path / "t.db"), "--credentials", str(creds),
                                 "--api-base", f"http://127.0.0.1:{web.port}"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "refused the credentials" in result.stderr
    assert "very-secret-value" not in result.stdout + result.stderr


# -- the removal watch ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind", "state"),
    [(0, "post", "available"), (10216, "post", "private_post"), (10222, "account", "private_account"),
     (10204, "post", "blocked"), (10000, "post", "unknown")],
)
def test_page_states_are_classified(code: int, kind: str, state: str) -> None:
    scope = "webapp.video-detail" if kind == "post" else "webapp.user-detail"
    html = f'<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">{{"__DEFAULT_SCOPE__": {{"{scope}": {{"statusCode": {code}}}}}}}</script>'
    check = classify_page(html, kind, 200)
    assert (check.state, check.status_code) == (state, code)
    assert classify_page("<html>challenge</html>", kind, 200).state == "unknown"


@pytest.mark.browser
def test_watch_command_against_pages_of_each_state(tmp_path: Path) -> None:
    pages = PublicPages(states={"1001": [0, 0], "1002": [0, 10216], "1003": [10204], "1004": [99999], "1005": [None],
                                "sealed": [10222]})
    router = Router()
    pages.install(router)
    corpus = write(tmp_path, "corpus.csv", "url,topic,role\n"
                   "https://www.tiktok.com/@a/video/1001,Tibet,sensitive\n"
                   "https://www.tiktok.com/@a/video/1002,Tibet,sensitive\n"
                   "https://www.tiktok.com/@b/video/1003,Cooking,control\n"
                   "https://www.tiktok.com/@b/video/1004,Cooking,control\n"
                   "https://www.tiktok.com/@c/video/1005,Cooking,control\n"
                   "https://www.tiktok.com/@sealed,Tibet,sensitive\n")
    db = tmp_path / "w.db"
    with SimulatedWeb(router) as web:
        args = [sys.executable, "-m", "lanterne", "watch", str(corpus), "--db", str(db), "--vantage", "test-loopback",
                "--report", str(tmp_path / "w.html")]
        for arg in web.chromium_args():
            args += ["--chromium-arg", arg]
        for _ in range(2):
            result = subprocess.run(args, capture_output=True, text=True, timeout=180, env={**os.environ, "COLUMNS": "200"})
            assert result.returncode == 0, result.stderr
    with Store(db, create=False) as store:
        rows = store.conn.execute(
            "SELECT i.url, c.state, c.status_code, c.vantage FROM watch_checks c JOIN watch_items i ON i.id = c.item_id ORDER BY c.id"
        ).fetchall()
        states = [(r[0].rsplit("/", 1)[-1], r[1], r[2]) for r in rows]
        assert states[:6] == [("1001", "available", 0), ("1002", "available", 0), ("1003", "blocked", 10204),
                              ("1004", "unknown", 99999), ("1005", "unknown", None), ("@sealed", "private_account", 10222)]
        assert states[7] == ("1002", "private_post", 10216)  # taken down between the two checks
        assert {r[3] for r in rows} == {"test-loopback"}
        data, _ = survival_data(store)
    statuses = sorted(d["status"] for d in data)
    assert statuses == ["censored", "event", "unavailable_at_start", "unavailable_at_start", "unknown", "unknown"]
    assert "Kaplan" not in result.stdout and (tmp_path / "w.html").read_text().count("<svg") == 1


def test_survival_curves_and_log_rank_on_known_data(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        now = time.time()
        with store.transaction() as conn:
            for i in range(40):
                topic = "Tibet" if i < 20 else "Cooking"
                item = conn.execute("INSERT INTO watch_items(url, kind, topic, added_at) VALUES (?, 'post', ?, ?)",
                                    (f"https://www.tiktok.com/@u/video/{i}", topic, now)).lastrowid
                gone_on = (i % 20) + 1 if topic == "Tibet" else (200 if i % 5 else 30)
                for day in range(0, 60, 3):
                    state = "available" if day < gone_on else "private_post"
                    conn.execute("INSERT INTO watch_checks(item_id, checked_at, vantage, status_code, state) VALUES (?, ?, 'x', ?, ?)",
                                 (item, now + day * 86400, 0 if state == "available" else 10216, state))
        survival, test = survival_by_topic(store, {"Tibet"})
    by_topic = {s.topic: s for s in survival}
    assert by_topic["Tibet"].events == 20 and by_topic["Tibet"].timeline[-1][1] == 0.0
    assert by_topic["Cooking"].events == 4 and by_topic["Cooking"].timeline[-1][1] == pytest.approx(0.8)
    assert test is not None and test["p_value"] < 0.001
