"""gl_postings: the window's lines, vouchers, GL and quarantine into ``ledger.*``, in one transaction."""

import dagster as dg
import polars as pl

from journal_pipeline.defs.checks import GL_DAILY_SCHEMA, blocking, invariant_check, schema_check
from journal_pipeline.defs.events import record_step_events
from journal_pipeline.defs.metadata import counts_by, table, timed
from journal_pipeline.defs.partitions import backfill_policy, daily_partitions, window_days
from journal_pipeline.defs.resources import JournalDatabase
from journal_pipeline.defs.retries import retried_if_the_database_is_lost
from journal_pipeline.domain.gl import gl_daily
from journal_pipeline.faults import fault_point
from journal_pipeline.ledger import (
    daily_figures,
    gl_differences_in_database,
    post_days,
    totals_by_company,
    unaccounted_in_database,
)


class LedgerInvariantError(RuntimeError):
    """A ledger invariant failed on what was about to be committed; the transaction was rolled back."""


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy,
    group_name="journal",
    kinds={"postgres"},
    metadata={"partition_expr": "journal_date"},
    ins={
        # only the extracted txn_ids and days (posted + quarantined = extracted)
        "source_transactions": dg.AssetIn(
            metadata={"frames": ["transactions"], "columns": {"transactions": ["txn_id", "txn_date"]}}
        ),
        "journal_lines": dg.AssetIn(metadata={"frames": ["lines", "quarantine"]}),
        "vouchers": dg.AssetIn(),
    },
    check_specs=blocking(
        "gl_postings", "gl_schema", "gl_equals_sum_of_lines", "posted_plus_quarantined_equals_extracted"
    ),
)
def gl_postings(
    context: dg.AssetExecutionContext,
    database: JournalDatabase,
    source_transactions: dict[str, pl.DataFrame],
    journal_lines: dict[str, pl.DataFrame],
    vouchers: pl.DataFrame,
):
    """The GL by day and account (``ledger.gl_daily``; ``ledger.gl_balances`` sums it per
    period), written together with the journal lines, vouchers and quarantine: the window's
    previous rows are replaced in one transaction, so a rerun leaves the same rows and a crash
    leaves the previous ones. The invariants are checked on the written rows before COMMIT.
    Days in a closed period are refused before anything is written (journal_pipeline.periods);
    a lost database connection retries the whole step (journal_pipeline.defs.retries)."""
    first_day, last_day = window_days(context)
    lines, quarantine = journal_lines["lines"], journal_lines["quarantine"]
    extracted = source_transactions["transactions"]
    window = f"{first_day}..{last_day}"
    with timed() as clock, retried_if_the_database_is_lost(context, f"posting {window}", writes=True) as attempt:
        gl = gl_daily(lines)
        with database.connect("journal-pipeline post") as conn:
            counts = post_days(
                conn,
                first_day,
                last_day,
                {"journal_lines": lines, "vouchers": vouchers, "gl_daily": gl, "quarantine": quarantine},
            )
            gl_violations = gl_differences_in_database(conn, first_day, last_day)
            unaccounted = unaccounted_in_database(conn, first_day, last_day, extracted)
            if gl_violations.height or unaccounted.height:
                conn.rollback()
                raise LedgerInvariantError(
                    f"not posted {window}: {gl_violations.height} GL difference(s) and "
                    f"{unaccounted.height} unaccounted transaction(s) on the written rows; rolled back"
                )
            fault_point("gl_postings.commit")
            attempt.stage = "committing"
            conn.commit()
            attempt.stage = "committed"
        fault_point("gl_postings.committed")
        record_step_events(context, database, "gl_postings", daily_figures(lines, quarantine))
    yield dg.Output(
        gl,
        metadata={
            "days": f"{first_day}..{last_day}",
            "journal_lines": counts.journal_lines,
            "vouchers": counts.vouchers,
            "gl_rows": counts.gl_daily,
            "quarantined": counts.quarantine,
            "quarantined_by_reason": counts_by(quarantine, "reason"),
            "replaced_rows": counts.replaced,
            "totals_by_company": table(totals_by_company(lines)),
            "duration_s": clock.seconds,
        },
    )
    yield schema_check("gl_schema", GL_DAILY_SCHEMA, gl)
    yield invariant_check(
        "gl_equals_sum_of_lines",
        gl_violations,
        "the GL equals the sum of its lines per (company, account, period)",
    )
    yield invariant_check(
        "posted_plus_quarantined_equals_extracted",
        unaccounted,
        f"posted ({counts.vouchers}) + quarantined ({counts.quarantine}) = extracted ({extracted.height})",
    )
