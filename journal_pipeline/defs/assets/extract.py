"""source_transactions: the day's sub-ledger rows and the reference data, COPY'd out of PostgreSQL."""

import datetime as dt

import dagster as dg
import polars as pl
from pydantic import Field

from journal_pipeline.config import partitions_start
from journal_pipeline.consistency import rows_outside_every_partition
from journal_pipeline.defs.checks import (
    SOURCE_TRANSACTIONS_SCHEMA,
    STRICT_REFERENCE_DATA_ENV,
    blocking,
    partition_coverage_check,
    reference_data_check,
    schema_check,
    strict_reference_data,
)
from journal_pipeline.defs.events import record_step_events
from journal_pipeline.defs.metadata import table, timed
from journal_pipeline.defs.partitions import backfill_policy, daily_partitions, window_days
from journal_pipeline.defs.resources import JournalDatabase
from journal_pipeline.defs.retries import retried_if_the_database_is_lost
from journal_pipeline.source import read_source


class SourceTransactionsConfig(dg.Config):
    """How strict the extract is about the reference data (see ``reference_data_consistent``)."""

    strict_reference_data: bool | None = Field(
        default=None,
        description=(
            "Stop the run (ERROR) when a posting rule names an account missing from the chart of accounts, "
            "instead of quarantining its transactions as unknown_account and warning (WARN). "
            f"Unset: the {STRICT_REFERENCE_DATA_ENV} environment variable decides (default off)."
        ),
    )


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    group_name="journal",
    kinds={"postgres", "polars"},
    metadata={"partition_expr": "txn_date"},
    check_specs=[
        *blocking("source_transactions", "source_schema", "reference_data_consistent"),
        dg.AssetCheckSpec(
            "every_source_row_in_a_partition",
            asset="source_transactions",
            description="no legacy.src_transactions row has a NULL txn_date or one before the first partition",
        ),
    ],
)
def source_transactions(context: dg.AssetExecutionContext, config: SourceTransactionsConfig, database: JournalDatabase):
    """Every ``legacy.src_transactions`` row of the partition's days, with the JSON keys the
    posting reads, plus the companies, chart of accounts, posting rules, FX rates and users
    as they were at extraction (one consistent snapshot), so that later steps can be rerun
    and inspected exactly as this extract saw the source. It only reads, so a lost database
    connection retries it (journal_pipeline.defs.retries)."""
    first_day, last_day = window_days(context)
    start = partitions_start()
    with (
        timed() as clock,
        retried_if_the_database_is_lost(context, f"extracting {first_day}..{last_day}", writes=False),
    ):
        with database.connect("journal-pipeline extract") as conn:
            frames = read_source(conn, first_day, last_day)
            outside = rows_outside_every_partition(conn, dt.date.fromisoformat(start))
        transactions = frames["transactions"]
        record_step_events(
            context,
            database,
            "source_transactions",
            transactions.group_by(pl.col("txn_date").alias("day")).agg(pl.len().alias("transactions")),
        )
    per_company = transactions.group_by("company_id").len("transactions").sort("company_id")
    yield dg.Output(
        frames,
        metadata={
            "days": f"{first_day}..{last_day}",
            "transactions": transactions.height,
            "transactions_by_company": table(per_company),
            "reference_rows": {name: frame.height for name, frame in frames.items() if name != "transactions"},
            "duration_s": clock.seconds,
        },
    )
    yield schema_check("source_schema", SOURCE_TRANSACTIONS_SCHEMA, transactions)
    yield reference_data_check(
        frames["companies"],
        frames["accounts"],
        frames["posting_rules"],
        strict=strict_reference_data(config.strict_reference_data),
    )
    yield partition_coverage_check(outside, start)


def extracted_ids(frames: dict[str, pl.DataFrame]) -> pl.Series:
    return frames["transactions"]["txn_id"]
