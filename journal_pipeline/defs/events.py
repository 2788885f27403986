"""The audit event log from the Dagster side: one hash-chained ``audit.events`` row per step and
day (partition, rows, totals, run id), appended after the step's own work has committed, so that
the chain lock is never held across a posting (postings of different days stay parallel)."""

from __future__ import annotations

import dagster as dg
import polars as pl

from journal_pipeline.audit.seal import record_event
from journal_pipeline.defs.resources import JournalDatabase


def record_step_events(
    context: dg.AssetExecutionContext, database: JournalDatabase, step: str, per_day: pl.DataFrame
) -> int:
    """Append a ``<step>_materialized`` event for each day of ``per_day`` (a ``day`` column plus
    the figures to record) and for each day of the run's window that has no row (zeros)."""
    window = context.partition_time_window
    first, last = window.start.date(), window.end.date()
    all_days = pl.DataFrame({"day": pl.date_range(first, last, interval="1d", closed="left", eager=True)})
    figures = all_days.join(per_day, on="day", how="left").fill_null(0)
    with database.connect("journal-pipeline audit events") as conn:
        for row in figures.iter_rows(named=True):  # one row per day of the window: a handful
            day = row.pop("day")
            record_event(
                conn,
                f"{step}_materialized",
                day,
                {"step": step, "partition": day.isoformat(), "run_id": context.run.run_id, **row},
                context.run.run_id,
            )
    return figures.height
