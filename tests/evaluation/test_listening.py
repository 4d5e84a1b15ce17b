"""Listening test: 2 systems x 5 prompts x 3 raters, blinding, report, CSV, bad ratings."""

from __future__ import annotations

import csv
import sqlite3

import numpy as np
import pytest
import soundfile as sf
from scipy import stats

from foleyldm.evaluation.listening import (
    ListeningTest,
    ListeningTestError,
    RatingError,
    holm,
    mean_ci95,
)
from tests.evaluation.audio_fixtures import SR, tone

PROMPTS = {f"p{i}": f"prompt number {i}" for i in range(5)}
RATERS = ("ann", "bob", "cai")


@pytest.fixture
def test_db(tmp_path):
    for system in ("base", "ours"):
        folder = tmp_path / system
        folder.mkdir()
        for i, pid in enumerate(PROMPTS):
            sf.write(folder / f"{pid}.wav", tone(300 + 40 * i, seconds=0.1), SR)
        sf.write(folder / "extra.wav", tone(seconds=0.1), SR)  # not in the prompts: ignored
    systems = {"base": tmp_path / "base", "ours": tmp_path / "ours"}
    with ListeningTest.create(tmp_path / "test.sqlite", systems, PROMPTS, seed=1) as t:
        yield t


def rate_everything(t: ListeningTest) -> dict[str, dict[str, list[int]]]:
    """'ours' is rated higher than 'base' by every rater on every prompt."""
    rng = np.random.default_rng(0)
    given: dict[str, dict[str, list[int]]] = {
        "base": {"ovl": [], "rel": []},
        "ours": {"ovl": [], "rel": []},
    }
    for rater in RATERS:
        for trial in t.playlist(rater):
            system = "ours" if "ours" in str(t.audio_path(trial.stimulus_id).parent) else "base"
            ovl = int(rng.integers(60, 90)) if system == "ours" else int(rng.integers(20, 50))
            rel = int(rng.integers(1, 101))
            t.rate(rater, trial.stimulus_id, ovl, rel)
            given[system]["ovl"].append(ovl)
            given[system]["rel"].append(rel)
    return given


def test_blinded_randomised_playlists(test_db):
    orders = {r: [trial.stimulus_id for trial in test_db.playlist(r)] for r in RATERS}
    assert all(len(o) == 10 and len(set(o)) == 10 for o in orders.values())
    assert len({tuple(o) for o in orders.values()}) == 3  # each rater has their own order
    assert orders["ann"] == [t.stimulus_id for t in test_db.playlist("ann")]  # stable on resume
    for trial in test_db.playlist("ann"):
        assert "base" not in trial.stimulus_id and "ours" not in trial.stimulus_id
        assert set(vars(trial)) == {"stimulus_id", "prompt"}  # no system, no path
    assert sorted(t.prompt for t in test_db.playlist("bob")) == sorted(2 * list(PROMPTS.values()))


def test_report_means_cis_and_significance(test_db, tmp_path):
    given = rate_everything(test_db)
    report = test_db.report()
    assert report.raters == 3 and report.ratings == 30
    by_name = {s.system: s for s in report.systems}
    for system in ("base", "ours"):
        s = by_name[system]
        assert s.n == 15
        assert s.ovl_mean == pytest.approx(np.mean(given[system]["ovl"]))
        lo, hi = stats.t.interval(
            0.95, 14, loc=np.mean(given[system]["ovl"]), scale=stats.sem(given[system]["ovl"])
        )
        assert s.ovl_ci95 == pytest.approx((hi - lo) / 2)
    ovl = next(c for c in report.comparisons if c.scale == "ovl")
    assert ovl.test == "wilcoxon" and ovl.n == 15
    assert ovl.p_value < 1e-3  # all 15 paired differences have the same sign
    table = report.to_markdown()
    assert "| ours | 15 |" in table and "wilcoxon" in table

    out = test_db.export_csv(tmp_path / "ratings.csv")
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 30
    assert {r["system"] for r in rows} == {"base", "ours"}
    assert sum(int(r["ovl"]) for r in rows if r["system"] == "ours") == sum(given["ours"]["ovl"])


def test_malformed_ratings_are_rejected(test_db):
    sid = test_db.playlist("ann")[0].stimulus_id
    for ovl, rel in ((0, 50), (101, 50), (50, -3), (50.5, 50), ("abc", 50), (True, 50), (None, 5)):
        with pytest.raises(RatingError):
            test_db.rate("ann", sid, ovl, rel)
    with pytest.raises(RatingError, match="unknown stimulus"):
        test_db.rate("ann", "deadbeef0000", 50, 50)
    with pytest.raises(RatingError, match="rater"):
        test_db.rate("  ", sid, 50, 50)
    assert test_db.ratings() == []
    test_db.rate("ann", sid, "77", 100.0)  # form strings and integral floats are fine
    test_db.rate("ann", sid, 78, 1)  # a second rating replaces the first
    (row,) = test_db.ratings()
    assert (row["ovl"], row["rel"]) == (78, 1)
    assert test_db.progress("ann") == (1, 10)
    with pytest.raises(sqlite3.IntegrityError):  # the schema itself refuses out-of-range values
        test_db.db.execute("UPDATE ratings SET ovl = 0")


def test_create_checks_folders(tmp_path):
    (tmp_path / "a").mkdir()
    sf.write(tmp_path / "a" / "p0.wav", tone(seconds=0.1), SR)
    with pytest.raises(ListeningTestError, match="no output for prompt"):
        ListeningTest.create(tmp_path / "t.sqlite", {"a": tmp_path / "a"}, PROMPTS)
    with pytest.raises(ListeningTestError, match="no such"):
        ListeningTest(tmp_path / "missing.sqlite")


def test_statistics_helpers():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    mean, half = mean_ci95([1, 2, 3, 4])
    assert mean == 2.5 and half == pytest.approx(stats.t.ppf(0.975, 3) * stats.sem([1, 2, 3, 4]))
    assert np.isnan(mean_ci95([5])[1])
