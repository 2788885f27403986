"""journal_lines: posting rules, FX and periods applied (journal_pipeline.domain.posting).

Beside the lines, each day stores what the fraud scoring of that day and of the HISTORY_DAYS after
it reads (journal_pipeline.fraud.population): the day's scored entries and its per-day counts,
built once here, where the day's transactions and lines are in memory.
"""

import dagster as dg
import polars as pl

from journal_pipeline.defs.checks import (
    JOURNAL_LINES_SCHEMA,
    QUARANTINE_SCHEMA,
    blocking,
    invariant_check,
    schema_check,
)
from journal_pipeline.defs.events import record_step_events
from journal_pipeline.defs.metadata import counts_by, table, timed
from journal_pipeline.defs.partitions import backfill_policy, daily_partitions
from journal_pipeline.defs.resources import JournalDatabase
from journal_pipeline.domain.invariants import unaccounted_transactions
from journal_pipeline.domain.posting import post
from journal_pipeline.fraud.features import build_entries
from journal_pipeline.fraud.population import day_frames
from journal_pipeline.ledger import daily_figures, totals_by_company


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    group_name="journal",
    kinds={"polars"},
    metadata={"partition_expr": "journal_date"},
    check_specs=blocking(
        "journal_lines", "journal_lines_schema", "quarantine_schema", "every_transaction_accounted_for"
    ),
)
def journal_lines(
    context: dg.AssetExecutionContext, database: JournalDatabase, source_transactions: dict[str, pl.DataFrame]
):
    """Double-entry journal lines of every postable transaction (``lines``: net, tax, contra in
    base and transaction currency) and a quarantine row, with its reason and the raw row, for
    every transaction that cannot be posted (``quarantine``). See docs/posting-semantics.md.
    Also the posted transactions as fraud scoring sees them and their per-day counts
    (``fraud_*``, journal_pipeline.fraud.population.DAY_FRAMES)."""
    with timed() as clock:
        result = post(
            source_transactions["transactions"],
            source_transactions["companies"],
            source_transactions["accounts"],
            source_transactions["posting_rules"],
            source_transactions["fx_rates"],
        )
        entries = build_entries(
            source_transactions["transactions"],
            result.lines,
            source_transactions["users"],
            source_transactions["companies"],
            source_transactions["accounts"],
        )
        fraud_frames = day_frames(entries)
    lines, quarantine = result.lines, result.quarantine
    extracted = source_transactions["transactions"]["txn_id"]
    record_step_events(context, database, "journal_lines", daily_figures(lines, quarantine))
    yield dg.Output(
        {"lines": lines, "quarantine": quarantine, **fraud_frames},
        metadata={
            "lines": lines.height,
            "posted_transactions": lines["txn_id"].n_unique(),
            "quarantined_transactions": quarantine.height,
            "quarantined_by_reason": counts_by(quarantine, "reason"),
            "totals_by_company": table(totals_by_company(lines)),
            "duration_s": clock.seconds,
        },
    )
    yield schema_check("journal_lines_schema", JOURNAL_LINES_SCHEMA, lines)
    yield schema_check("quarantine_schema", QUARANTINE_SCHEMA, quarantine)
    yield invariant_check(
        "every_transaction_accounted_for",
        unaccounted_transactions(extracted, lines["txn_id"], quarantine["txn_id"]),
        "every extracted transaction is posted or quarantined, exactly once",
    )
