"""audit_seals: each posted day sealed in the hash-chained, append-only audit log (journal_pipeline.audit)."""

import dagster as dg
import polars as pl

from journal_pipeline import __version__
from journal_pipeline.audit.seal import seal_partitions
from journal_pipeline.audit.seal_check import check_new_seals
from journal_pipeline.defs.checks import blocking
from journal_pipeline.defs.metadata import table, timed
from journal_pipeline.defs.partitions import backfill_policy, daily_partitions, window_days
from journal_pipeline.defs.resources import JournalDatabase

SEALS_SCHEMA = {
    "partition_date": pl.Date(),
    "seal_seq": pl.Int64(),
    "line_count": pl.Int64(),
    "total_debit": pl.String(),
    "total_credit": pl.String(),
    "merkle_root": pl.String(),
    "seal_hash": pl.String(),
    "prev_seal_hash": pl.String(),
    "supersedes_seq": pl.Int64(),
}


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    group_name="journal",
    kinds={"postgres"},
    # seals what gl_postings wrote, once the day is scored: the last step of the day
    deps=["gl_postings", "fraud_scores"],
    metadata={"partition_expr": "partition_date"},
    check_specs=blocking("audit_seals", "seal_matches_ledger"),
)
def audit_seals(context: dg.AssetExecutionContext, database: JournalDatabase):
    """One seal per posted day in ``audit.seals``: the RFC 6962 Merkle root of the day's journal
    lines (canonical encoding: journal_pipeline/audit/encoding.py), chained to the previous seal.
    Resealing a day appends a seal that supersedes the old one; nothing is overwritten.

    The check ``seal_matches_ledger`` is journal_pipeline/audit/seal_check.py: the new seals against
    the ledger as PostgreSQL counts it (lines, totals, identities) and against the chain, without
    re-hashing the lines that were hashed a moment ago. ``journal-pipeline audit verify``
    recomputes everything from the ledger; weekly_maintenance_job runs it."""
    first_day, last_day = window_days(context)
    days = pl.date_range(first_day, last_day, interval="1d", eager=True).to_list()
    with timed() as clock, database.connect("journal-pipeline seal") as conn:
        seals = seal_partitions(conn, days, run_id=context.run.run_id, code_version=__version__)
        with timed() as check_clock:
            report = check_new_seals(conn, seals)
    frame = pl.DataFrame(
        [
            {
                "partition_date": seal.partition_date,
                "seal_seq": seal.seal_seq,
                "line_count": seal.line_count,
                "total_debit": str(seal.total_debit),
                "total_credit": str(seal.total_credit),
                "merkle_root": seal.merkle_root.hex(),
                "seal_hash": seal.seal_hash.hex(),
                "prev_seal_hash": seal.prev_seal_hash.hex(),
                "supersedes_seq": seal.supersedes_seq,
            }
            for seal in seals  # one seal per day of the window
        ],
        schema=SEALS_SCHEMA,
    )
    yield dg.Output(
        frame,
        metadata={
            "seals": table(frame.select("partition_date", "seal_seq", "line_count", "merkle_root", "supersedes_seq")),
            "chain_head": frame["seal_hash"][-1] if frame.height else "",
            "duration_s": clock.seconds,
        },
    )
    yield dg.AssetCheckResult(
        check_name="seal_matches_ledger",
        passed=report.ok,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            "every seal of the window has the ledger's line count, totals and line identities, is stored as "
            "computed, is recorded by its event and extends the chain"
            if report.ok
            else report.summary()
        ),
        metadata={
            "days": len(report.days_checked),
            "lines": report.lines_checked,
            "findings": len(report.findings),
            "duration_s": check_clock.seconds,
            "full_verification": "journal-pipeline audit verify (weekly_maintenance_job)",
        },
    )
