"""The fraud score of every posted transaction of a window, with its reasons.

:func:`score_window` runs every test (journal_pipeline.fraud.jet and .benford) on a
:class:`~journal_pipeline.fraud.population.Population` and combines the findings (noisy-OR of
weight x strength, see journal_pipeline.fraud.config) into SCORE_SCHEMA rows: ``risk_score`` in
0..1 (numeric(5,4)), ``reasons`` a JSON list of the tests that fired, strongest first, each
{"test", "weight", "evidence"} (plus "group" for the Benford tests), and ``model_version``.

Deterministic: the same population and configuration give byte-identical rows (contributions
are multiplied in a fixed order, reasons are sorted, nothing depends on thread scheduling).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from journal_pipeline.fraud.benford import benford_findings, group_conformity
from journal_pipeline.fraud.config import TESTS, FraudConfig, model_version
from journal_pipeline.fraud.jet import ALL_TESTS, FINDING_SCHEMA
from journal_pipeline.fraud.population import Population

RISK = pl.Decimal(5, 4)

SCORE_SCHEMA: dict[str, pl.DataType] = {
    "journal_date": pl.Date(),
    "txn_id": pl.Int64(),
    "company_id": pl.Int32(),
    "risk_score": RISK,
    "reasons": pl.String(),  # JSON array
    "model_version": pl.String(),
}

_TEST_ORDER = {name: position for position, name in enumerate(TESTS)}


@dataclass(frozen=True)
class ScoredWindow:
    """The scores of a window, the findings behind them and the Benford group verdicts."""

    scores: pl.DataFrame  # SCORE_SCHEMA
    findings: pl.DataFrame  # FINDING_SCHEMA plus "weight" (weight x strength)
    benford_groups: pl.DataFrame  # benford.group_conformity: every judged group and scored day
    model_version: str


def run_tests(pop: Population, config: FraudConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every finding of every test on the scored entries (FINDING_SCHEMA), and the Benford
    verdicts of every group and scored day."""
    found = [test(pop, config) for test in ALL_TESTS.values()]
    conformity = group_conformity(pop, config)
    found.append(benford_findings(pop, config, conformity))
    return pl.concat([f.cast(FINDING_SCHEMA) for f in found]), conformity[0]  # type: ignore[arg-type]


def combine(scored: pl.DataFrame, found: pl.DataFrame, config: FraudConfig) -> pl.DataFrame:
    """SCORE_SCHEMA rows for every entry of ``scored`` from its findings (none: score 0, [])."""
    version = model_version(config)
    weights = pl.col("test").replace_strict(dict(config.weights), return_dtype=pl.Float64)
    order = pl.col("test").replace_strict(_TEST_ORDER, return_dtype=pl.Int32)
    contributions = (
        found.with_columns((weights * pl.col("strength")).round(4).alias("weight"), order.alias("order"))
        .filter(pl.col("weight") > 0)
        .sort(
            "txn_id",
            pl.col("weight"),
            "order",
            "group",
            descending=[False, True, False, False],
            nulls_last=True,
        )
    )
    reason = (
        pl.when(pl.col("group").is_null())
        .then(pl.struct("test", "weight", "evidence").struct.json_encode())
        .otherwise(pl.struct("test", "weight", "evidence", "group").struct.json_encode())
    )
    per_txn = contributions.group_by("txn_id", maintain_order=True).agg(
        # 1 - prod(1 - w): contributions multiplied in ascending order, so the float result
        # never depends on how rows reached the group.
        (1 - (1 - pl.col("weight")).sort().product()).alias("risk"),
        (pl.lit("[") + reason.str.join(",") + pl.lit("]")).first().alias("reasons"),
    )
    basis_points = (pl.col("risk").fill_null(0.0).clip(0.0, 1.0) * 10_000).round(0).cast(pl.Int64)
    return (
        scored.select(pl.col("day").alias("journal_date"), "txn_id", "company_id")
        .join(per_txn, on="txn_id", how="left")
        .select(
            "journal_date",
            "txn_id",
            "company_id",
            (basis_points.cast(pl.Decimal(10, 4)) / 10_000).cast(RISK).alias("risk_score"),
            pl.col("reasons").fill_null("[]"),
            pl.lit(version).alias("model_version"),
        )
        .cast(SCORE_SCHEMA)  # type: ignore[arg-type]
        .sort("journal_date", "txn_id")
    )


def score_window(pop: Population, config: FraudConfig) -> ScoredWindow:
    """Scores and findings of every posted transaction of the population's scored days."""
    found, groups = run_tests(pop, config)
    scores = combine(pop.scored, found, config)
    weights = pl.col("test").replace_strict(dict(config.weights), return_dtype=pl.Float64)
    return ScoredWindow(
        scores=scores,
        findings=found.with_columns((weights * pl.col("strength")).round(4).alias("weight")),
        benford_groups=groups,
        model_version=model_version(config),
    )
