"""fraud_scores: every posted transaction of the window scored for fraud risk, with reasons.

Reads what journal_lines stored for fraud scoring (journal_pipeline.fraud.population.DAY_FRAMES)
for the window and the HISTORY_DAYS before it: the window's entries, per-day counts of the history,
and lazy scans of the earlier entries and amounts that the duplicate, split and outlier tests
query by key. Scores with journal_pipeline.fraud (pure Polars) and replaces the window's rows of
``ledger.fraud_scores`` in one transaction. See journal_pipeline/fraud/__init__.py for the model.
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl

from journal_pipeline.defs.checks import blocking, invariant_check
from journal_pipeline.defs.metadata import table, timed
from journal_pipeline.defs.partitions import backfill_policy, daily_partitions, window_days
from journal_pipeline.defs.resources import JournalDatabase, storage_path
from journal_pipeline.fraud.benford import first_digit_distribution_of
from journal_pipeline.fraud.config import (
    DEFAULT_KEYWORDS,
    DEFAULT_WEIGHTS,
    HISTORY_DAYS,
    FraudConfig,
)
from journal_pipeline.fraud.features import valid_timezones
from journal_pipeline.fraud.population import DAY_FRAMES, History, Population
from journal_pipeline.fraud.report import benford_markdown, benford_svg, flagged_per_test, riskiest_table
from journal_pipeline.fraud.score import score_window
from journal_pipeline.fraud.store import replace_scores, score_coverage_problems

_DEFAULTS = FraudConfig()

# The window's partitions and the HISTORY_DAYS before them. Days before the first partition or
# never materialized (before the first seeded day) are skipped, not an error.
HISTORY = dg.TimeWindowPartitionMapping(
    start_offset=-HISTORY_DAYS, end_offset=0, allow_nonexistent_upstream_partitions=True
)


class FraudScoringConfig(dg.Config):
    """The fraud model's weights and thresholds (journal_pipeline.fraud.config.FraudConfig, where
    each is documented). Any change shows in the model_version of the rows it scores."""

    # pydantic copies field defaults per instance, so a mutable default is safe here
    weights: dict[str, float] = dict(DEFAULT_WEIGHTS)  # noqa: RUF012
    duplicate_days: int = _DEFAULTS.duplicate_days
    round_amount_units: int = _DEFAULTS.round_amount_units
    just_below_band: float = _DEFAULTS.just_below_band
    split_days: int = _DEFAULTS.split_days
    split_min_share: float = _DEFAULTS.split_min_share
    split_similarity: float = _DEFAULTS.split_similarity
    split_same_description: bool = _DEFAULTS.split_same_description
    split_min_part_share: float = _DEFAULTS.split_min_part_share
    business_hours_start: int = _DEFAULTS.business_hours_start
    business_hours_end: int = _DEFAULTS.business_hours_end
    manual_max_share: float = _DEFAULTS.manual_max_share
    manual_min_population: int = _DEFAULTS.manual_min_population
    rare_max_share: float = _DEFAULTS.rare_max_share
    rare_min_population: int = _DEFAULTS.rare_min_population
    unusual_poster_min_entries: int = _DEFAULTS.unusual_poster_min_entries
    unusual_poster_max_share: float = _DEFAULTS.unusual_poster_max_share
    outlier_z: float = _DEFAULTS.outlier_z
    outlier_min_sample: int = _DEFAULTS.outlier_min_sample
    outlier_min_mad: float = _DEFAULTS.outlier_min_mad
    keywords: list[str] = list(DEFAULT_KEYWORDS)  # noqa: RUF012
    history_days: int = _DEFAULTS.history_days
    benford_window_days: int = _DEFAULTS.benford_window_days
    benford_min_first_digit: int = _DEFAULTS.benford_min_first_digit
    benford_min_first_two_digits: int = _DEFAULTS.benford_min_first_two_digits
    benford_min_last_two_digits: int = _DEFAULTS.benford_min_last_two_digits
    benford_noise_margin_first_digit: float = _DEFAULTS.benford_noise_margin_first_digit
    benford_noise_margin_two_digits: float = _DEFAULTS.benford_noise_margin_two_digits

    def to_domain(self) -> FraudConfig:
        values = self.model_dump()
        values["keywords"] = tuple(values["keywords"])
        return FraudConfig(**values)


class FraudScoresNotWrittenError(RuntimeError):
    """The written scores did not cover the window's posted transactions; rolled back."""


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    group_name="journal",
    kinds={"polars", "postgres"},
    metadata={"partition_expr": "journal_date"},
    deps=["gl_postings"],
    ins={
        # scans, not loads: the history's entries are only read where a test's key matches
        "journal_lines": dg.AssetIn(
            partition_mapping=HISTORY,
            metadata={"frames": list(DAY_FRAMES), "lazy": True, "allow_missing_days": True},
        ),
        # only the companies (for the time zones the metadata reports), with the same reach as
        # journal_lines: a backfill's lineage then re-scores the 28 days after it whichever parent
        # Dagster follows first
        "source_transactions": dg.AssetIn(
            partition_mapping=HISTORY,
            metadata={"frames": ["companies"], "lazy": True, "allow_missing_days": True},
        ),
    },
    check_specs=blocking("fraud_scores", "every_posted_transaction_scored_once"),
)
def fraud_scores(
    context: dg.AssetExecutionContext,
    config: FraudScoringConfig,
    database: JournalDatabase,
    source_transactions: dict[str, dict[str, pl.LazyFrame]],
    journal_lines: dict[str, dict[str, pl.LazyFrame]],
):
    """Fraud risk of every posted transaction of the window (``ledger.fraud_scores``): a
    risk_score in 0..1 from journal-entry tests and Benford's law, the reasons with their
    evidence, and the model_version (release + hash of the configuration). Quarantined
    transactions are not scored. A day's scores depend on that day and the days before it only,
    so a rerun, or a backfill of any window size, gives the same rows."""
    first_day, last_day = window_days(context)
    model = config.to_domain()
    with timed() as clock:
        with timed() as scoring:
            history = History.from_frames(journal_lines)
            window_entries = history.entries_between(first_day, last_day).collect()
            population = Population(window_entries, first_day, last_day, history)
            scored = score_window(population, model)
            scores = scored.scores
        with database.connect("journal-pipeline fraud") as conn:
            replaced = replace_scores(conn, first_day, last_day, scores)
            problems = score_coverage_problems(conn, first_day, last_day)
            if problems.height:
                conn.rollback()
                first = f"txn {problems['txn_id'][0]}: {problems['problem'][0]}"
                raise FraudScoresNotWrittenError(
                    f"fraud scores {first_day}..{last_day} not written: {problems.height} posted "
                    f"transaction(s) without exactly one score in [0, 1] (first: {first}); rolled back"
                )
            conn.commit()
    window = population.scored
    chart = first_digit_distribution_of(history.digits.filter(pl.col("day").is_between(first_day, last_day)))
    before = first_day - dt.timedelta(days=1)
    history_entries = history.entries_between(first_day - dt.timedelta(days=HISTORY_DAYS), before).select(pl.len())
    last_verdicts = scored.benford_groups.filter(pl.col("day") == last_day)
    nonconforming = last_verdicts.filter(pl.col("nonconforming")).select(
        "kind", "group", "test", "n", pl.col("mad").round(4), pl.col("critical").round(4), "level"
    )
    companies = pl.concat(list(source_transactions["companies"].values())).unique().collect()
    unknown_zones = sorted(set(companies["company_id"].to_list()) - set(valid_timezones(companies)))
    yield dg.Output(
        scores,
        metadata={
            "days": f"{first_day}..{last_day}",
            "scored": scores.height,
            "flagged": scores.filter(pl.col("risk_score") > 0).height,
            "flagged_per_test": dg.MetadataValue.json(flagged_per_test(scored.findings)),
            "riskiest": dg.MetadataValue.md(riskiest_table(scores, 10)),
            "benford_first_digits": dg.MetadataValue.md(benford_markdown(chart)),
            "benford_chart": dg.MetadataValue.path(_write_chart(chart, first_day, last_day)),
            "benford_nonconforming_groups": table(nonconforming),
            "history_entries": history_entries.collect().item(),
            # fewer than HISTORY_DAYS at the start of the data (or if earlier intermediates are gone)
            "history_days_loaded": sum(day < first_day for day in history.entries_by_day),
            "companies_without_time_zone": str(unknown_zones or "none"),
            "model_version": scored.model_version,
            "replaced_rows": replaced,
            "duration_s": clock.seconds,
            "scoring_s": scoring.seconds,  # of which reading and scoring; the rest writes the scores
        },
    )
    yield invariant_check(
        "every_posted_transaction_scored_once",
        problems,
        f"each of the {window.height} posted transactions of {first_day}..{last_day} has one score in [0, 1]",
    )


def _write_chart(chart: pl.DataFrame, first_day: dt.date, last_day: dt.date) -> str:
    """The Benford SVG of the window, beside the intermediates (linked from the metadata)."""
    folder = Path(storage_path()) / "fraud_charts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"benford_first_digit_{first_day}_{last_day}.svg"
    title = f"First digits {first_day}..{last_day} vs Benford's law"
    path.write_text(benford_svg(chart, title), encoding="utf-8")
    return str(path)
