"""The one daily partitions definition: a partition is a calendar day of ``txn_date``.

Starts on JOURNAL_PARTITIONS_START (default 2020-01-01). Every asset imports it from here.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from journal_pipeline.config import partitions_start

daily_partitions = dg.DailyPartitionsDefinition(start_date=partitions_start(), timezone="UTC")

# A backfill runs a week of partitions per run: the transform and the posting work on a whole
# window at once (one COPY out, one set of Polars expressions, one database transaction), so
# larger runs amortise Dagster's per-run cost (seconds) over more days, while a week keeps a
# run's memory bounded (~700k transactions at the reference scale of 100k a day) and lets the
# run queue spread a long backfill over parallel runs.
BACKFILL_DAYS_PER_RUN = 7
backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_DAYS_PER_RUN)


def window_days(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """First and last day of the run's partitions: one day, or a range in a backfill run.

    (``context.partition_key`` raises in a ranged run; the time window works in both.)
    """
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()
