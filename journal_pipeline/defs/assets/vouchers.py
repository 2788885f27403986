"""vouchers: one balanced header per journal (journal_pipeline.domain.vouchers)."""

import dagster as dg
import polars as pl

from journal_pipeline.defs.checks import VOUCHERS_SCHEMA, blocking, invariant_check, schema_check
from journal_pipeline.defs.events import record_step_events
from journal_pipeline.defs.metadata import table, timed
from journal_pipeline.defs.partitions import backfill_policy, daily_partitions
from journal_pipeline.defs.resources import JournalDatabase
from journal_pipeline.domain.invariants import unbalanced_vouchers
from journal_pipeline.domain.vouchers import LINE_COLUMNS, build_vouchers


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    group_name="journal",
    kinds={"polars"},
    metadata={"partition_expr": "journal_date"},
    ins={"journal_lines": dg.AssetIn(metadata={"frames": ["lines"], "columns": {"lines": list(LINE_COLUMNS)}})},
    check_specs=blocking("vouchers", "vouchers_schema", "every_voucher_balances"),
)
def vouchers(context: dg.AssetExecutionContext, database: JournalDatabase, journal_lines: dict[str, pl.DataFrame]):
    """One row per journal (company, day, journal_no): type, transaction, line count and the
    debit and credit totals in base and in transaction currency."""
    with timed() as clock:
        headers = build_vouchers(journal_lines["lines"])
    record_step_events(
        context,
        database,
        "vouchers",
        headers.group_by(pl.col("journal_date").alias("day")).agg(
            pl.len().alias("vouchers"), pl.col("total_debit").sum().alias("total_debit")
        ),
    )
    by_type = (
        headers.group_by("company_id", "journal_type")
        .agg(pl.len().alias("vouchers"), pl.col("total_debit").sum().alias("total_debit"))
        .sort("company_id", "journal_type")
    )
    yield dg.Output(
        headers,
        metadata={
            "vouchers": headers.height,
            "vouchers_by_type": table(by_type),
            "duration_s": clock.seconds,
        },
    )
    yield schema_check("vouchers_schema", VOUCHERS_SCHEMA, headers)
    yield invariant_check(
        "every_voucher_balances",
        unbalanced_vouchers(headers),
        "every voucher's debits equal its credits, in base and in transaction currency",
    )
