"""The combined score: noisy-OR of the weights, reasons in order, model_version, configuration,
and the invariants: deterministic, and a day's scores never depend on later days."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import polars as pl
import pytest

from journal_pipeline.defs.assets.fraud import FraudScoringConfig
from journal_pipeline.fraud.config import DEFAULT_WEIGHTS, TESTS, FraudConfig, model_version
from journal_pipeline.fraud.jet import ALL_TESTS
from journal_pipeline.fraud.population import Population
from journal_pipeline.fraud.score import SCORE_SCHEMA, combine, score_window
from journal_pipeline_tests.test_fraud_support import DAY, entries, entry, synthetic_entries

CONFIG = FraudConfig()


def _findings(rows: list[tuple[int, str, float, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["txn_id", "test", "strength", "evidence", "group"], orient="row")


def test_contributions_combine_as_independent_evidence_and_reasons_are_strongest_first():
    scored = entries([entry(1), entry(2), entry(3)])
    found = _findings(
        [
            (1, "round_amount", 1.0, "25,000.00 GBP is a multiple of 1,000 GBP", None),
            (1, "self_approval", 1.0, "u010 entered and approved it", None),
            (3, "benford_first_digit", 1.0, "poster u010: ...", "poster u010"),
        ]
    )
    scores = combine(scored, found, CONFIG)
    assert scores.schema == pl.Schema(SCORE_SCHEMA)
    risk = dict(scores.select("txn_id", "risk_score").iter_rows())
    # 1 - (1 - 0.8)(1 - 0.45) = 0.89; no finding: 0; Benford alone: its weight 0.2
    assert risk == {1: Decimal("0.8900"), 2: Decimal("0.0000"), 3: Decimal("0.2000")}
    reasons = {txn: json.loads(text) for txn, text in scores.select("txn_id", "reasons").iter_rows()}
    assert reasons[1] == [
        {"test": "self_approval", "weight": 0.8, "evidence": "u010 entered and approved it"},
        {"test": "round_amount", "weight": 0.45, "evidence": "25,000.00 GBP is a multiple of 1,000 GBP"},
    ]
    assert reasons[2] == []
    assert reasons[3] == [
        {"test": "benford_first_digit", "weight": 0.2, "evidence": "poster u010: ...", "group": "poster u010"}
    ]
    assert set(scores["model_version"]) == {model_version(CONFIG)}


def test_a_zero_weight_silences_a_test():
    config = FraudConfig(weights={"round_amount": 0.0})
    found = _findings([(1, "round_amount", 1.0, "round", None)])
    scores = combine(entries([entry(1)]), found, config)
    assert scores.row(0, named=True)["risk_score"] == Decimal("0.0000")
    assert scores.row(0, named=True)["reasons"] == "[]"


def test_model_version_names_the_release_and_hashes_every_parameter():
    version = model_version(CONFIG)
    assert version.startswith("jet-1.0+") and len(version) == len("jet-1.0+") + 8
    assert model_version(FraudConfig()) == version
    assert model_version(FraudConfig(weights={"duplicate": 0.85})) != version
    assert model_version(FraudConfig(outlier_z=4.0)) != version
    assert model_version(FraudConfig(keywords=("plug",))) != version


def test_the_configuration_refuses_what_it_cannot_honour():
    with pytest.raises(ValueError, match="unknown tests"):
        FraudConfig(weights={"gut_feeling": 0.5})
    with pytest.raises(ValueError, match="between 0 and 1"):
        FraudConfig(weights={"duplicate": 1.5})
    with pytest.raises(ValueError, match=r"look-backs must be 1\.\.29 days"):
        FraudConfig(history_days=60)
    with pytest.raises(ValueError, match="business hours"):
        FraudConfig(business_hours_start=20, business_hours_end=7)


def test_every_test_has_a_weight_and_the_dagster_config_mirrors_the_model():
    assert set(DEFAULT_WEIGHTS) == set(TESTS)
    assert set(ALL_TESTS) | {
        "benford_first_digit",
        "benford_first_two_digits",
        "benford_last_two_digits",
    } == set(TESTS)
    assert FraudScoringConfig().to_domain().as_dict() == FraudConfig().as_dict()
    assert set(FraudScoringConfig.model_fields) == set(FraudConfig().as_dict())
    tuned = FraudScoringConfig(weights={"duplicate": 0.5}, keywords=["plug"]).to_domain()
    assert tuned.weight("duplicate") == 0.5 and tuned.weight("self_approval") == 0.8
    assert tuned.keywords == ("plug",)


FIRST = dt.date(2024, 7, 1)


@pytest.fixture(scope="module")
def synthetic() -> pl.DataFrame:
    return synthetic_entries(seed=7, first=FIRST, days=21)


def test_scores_are_deterministic(synthetic):
    pop = Population(synthetic, FIRST + dt.timedelta(days=14), FIRST + dt.timedelta(days=20))
    first, second = score_window(pop, CONFIG), score_window(pop, CONFIG)
    assert first.scores.equals(second.scores)
    assert first.scores.filter(pl.col("risk_score") > 0).height > 50  # the population has red flags


def test_a_days_scores_depend_on_that_day_and_the_days_before_only(synthetic):
    """One window of seven days, seven one-day windows, and a window with later days loaded
    too: every day gets the same rows."""
    last = FIRST + dt.timedelta(days=20)
    week = score_window(Population(synthetic, last - dt.timedelta(days=6), last), CONFIG).scores
    one_by_one = pl.concat(
        [
            score_window(Population(synthetic.filter(pl.col("day") <= day), day, day), CONFIG).scores
            for day in (last - dt.timedelta(days=k) for k in range(6, -1, -1))
        ]
    )
    assert week.equals(one_by_one)
    middle = FIRST + dt.timedelta(days=16)
    with_later_days = score_window(Population(synthetic, middle, middle), CONFIG).scores
    assert with_later_days.equals(week.filter(pl.col("journal_date") == middle))


def test_every_scored_entry_gets_exactly_one_row_in_range(synthetic):
    pop = Population(synthetic, FIRST + dt.timedelta(days=18), FIRST + dt.timedelta(days=20))
    scores = score_window(pop, CONFIG).scores
    assert scores["txn_id"].sort().to_list() == pop.scored["txn_id"].sort().to_list()
    assert scores["risk_score"].min() >= 0 and scores["risk_score"].max() <= 1
    assert scores.filter(pl.col("reasons") == "[]")["risk_score"].unique().to_list() == [Decimal("0.0000")]
    assert scores["journal_date"].min() == pop.first_day and scores["journal_date"].max() == pop.last_day
    assert DAY not in scores["journal_date"].to_list()
