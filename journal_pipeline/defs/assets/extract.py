"""source_transactions: the day's sub-ledger rows and the reference data, COPY'd out of PostgreSQL."""

import dagster as dg
import polars as pl

from journal_pipeline.defs.checks import SOURCE_TRANSACTIONS_SCHEMA, blocking, schema_check
from journal_pipeline.defs.events import record_step_events
from journal_pipeline.defs.metadata import table, timed
from journal_pipeline.defs.partitions import backfill_policy, daily_partitions, window_days
from journal_pipeline.defs.resources import JournalDatabase
from journal_pipeline.source import read_source


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    group_name="journal",
    kinds={"postgres", "polars"},
    metadata={"partition_expr": "txn_date"},
    check_specs=blocking("source_transactions", "source_schema"),
)
def source_transactions(context: dg.AssetExecutionContext, database: JournalDatabase):
    """Every ``legacy.src_transactions`` row of the partition's days, with the JSON keys the
    posting reads, plus the companies, chart of accounts, posting rules, FX rates and users
    as they were at extraction (one consistent snapshot), so that later steps can be rerun
    and inspected exactly as this extract saw the source."""
    first_day, last_day = window_days(context)
    with timed() as clock, database.connect("journal-pipeline extract") as conn:
        frames = read_source(conn, first_day, last_day)
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


def extracted_ids(frames: dict[str, pl.DataFrame]) -> pl.Series:
    return frames["transactions"]["txn_id"]
