"""journal_lines: posting rules, FX and periods applied (journal_pipeline.domain.posting).

Beside the lines, each day stores what the fraud scoring of that day and of the HISTORY_DAYS after
it reads (journal_pipeline.fraud.population): the day's scored entries and its per-day counts,
built once here, where the day's transactions and lines are in memory.

The transactions are posted a part of the day at a time, read from the extract's file as they are
needed, and with several parts each part's lines go to a spill folder beside the storage as soon
as they are posted (journal_pipeline.transform): a day of a million transactions fits in memory.
"""

import tempfile
from pathlib import Path

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
from journal_pipeline.defs.io_manager import SPILL_PREFIX
from journal_pipeline.defs.metadata import counts_by, table, timed
from journal_pipeline.defs.partitions import backfill_policy, daily_partitions
from journal_pipeline.defs.resources import JournalDatabase, storage_path
from journal_pipeline.domain.invariants import unaccounted_transactions
from journal_pipeline.ledger import daily_figures, totals_by_company
from journal_pipeline.transform import POSTING_PART_TRANSACTIONS, post_in_parts


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    group_name="journal",
    kinds={"polars"},
    metadata={"partition_expr": "journal_date"},
    # the transactions as a scan of the extract's file, read a part at a time (see above)
    ins={"source_transactions": dg.AssetIn(metadata={"scan": ["transactions"]})},
    check_specs=blocking(
        "journal_lines", "journal_lines_schema", "quarantine_schema", "every_transaction_accounted_for"
    ),
)
def journal_lines(
    context: dg.AssetExecutionContext,
    database: JournalDatabase,
    source_transactions: dict,  # frames, "transactions" a LazyFrame (Dagster takes no union here)
):
    """Double-entry journal lines of every postable transaction (``lines``: net, tax, contra in
    base and transaction currency) and a quarantine row, with its reason and the raw row, for
    every transaction that cannot be posted (``quarantine``). See docs/posting-semantics.md.
    Also the posted transactions as fraud scoring sees them and their per-day counts
    (``fraud_*``, journal_pipeline.fraud.population.DAY_FRAMES)."""
    transactions: pl.LazyFrame = source_transactions["transactions"]
    reference = {name: frame for name, frame in source_transactions.items() if isinstance(frame, pl.DataFrame)}
    Path(storage_path()).mkdir(parents=True, exist_ok=True)
    # the spill folder lives until the lines are stored and checked (the end of this generator)
    with tempfile.TemporaryDirectory(prefix=SPILL_PREFIX, dir=storage_path()) as spill:
        with timed() as clock:
            line_parts, quarantine, fraud_frames = post_in_parts(
                transactions, reference, POSTING_PART_TRANSACTIONS, Path(spill)
            )
        lines = pl.concat(line_parts)  # lazy: the parts in memory, or scans of their spilled files
        extracted = transactions.select("txn_id").collect()["txn_id"]
        posted = lines.select("txn_id").collect()["txn_id"]
        record_step_events(context, database, "journal_lines", daily_figures(lines, quarantine))
        yield dg.Output(
            {"lines": lines, "quarantine": quarantine, **fraud_frames},
            metadata={
                "lines": posted.len(),
                "posted_transactions": posted.n_unique(),
                "quarantined_transactions": quarantine.height,
                "quarantined_by_reason": counts_by(quarantine, "reason"),
                "totals_by_company": table(totals_by_company(lines)),
                "duration_s": clock.seconds,
            },
        )
        yield schema_check("journal_lines_schema", JOURNAL_LINES_SCHEMA, line_parts)
        yield schema_check("quarantine_schema", QUARANTINE_SCHEMA, quarantine)
        yield invariant_check(
            "every_transaction_accounted_for",
            unaccounted_transactions(extracted, posted, quarantine["txn_id"]),
            "every extracted transaction is posted or quarantined, exactly once",
        )
