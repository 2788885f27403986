"""The daily job, its schedule, and how partitions are launched from code."""

from __future__ import annotations

import dagster as dg

JOURNAL_ASSETS = dg.AssetSelection.groups("journal")

daily_journal_job = dg.define_asset_job(
    "daily_journal_job",
    selection=JOURNAL_ASSETS,
    description="Extract, post, score and seal one day (or a range of days in a backfill run).",
)

# Runs at 02:00 UTC and materializes the last complete day (yesterday), as
# build_schedule_from_partitioned_job does for daily partitions.
daily_journal_schedule = dg.build_schedule_from_partitioned_job(
    daily_journal_job, hour_of_day=2, minute_of_hour=0, name="daily_journal_schedule"
)
