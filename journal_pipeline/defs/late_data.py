"""late_data_sensor: reposts and reseals a sealed day whose source changed after it was sealed.

Transactions keep arriving after their day was run (a late feed, a back-dated entry). Every
``MINIMUM_INTERVAL_S`` the sensor compares, for each sealed or posted day of the lookback window
(journal_pipeline.consistency.day_states):

- the source now (number of ``legacy.src_transactions`` rows and an md5 of their sorted txn_ids)
  with what was posted (``ledger.vouchers`` + ``ledger.quarantine``, the same md5): a sealed day
  that differs has **late data**;
- what the last posting of a day recorded (``ledger.posted_days``, written in the posting's own
  transaction) with the day's latest seal: a day posted after its latest seal, or never sealed,
  was left **not resealed** by a run that stopped between posting and sealing.

For each such day it requests one run of ``daily_journal_job`` for that partition, which reposts
the day and appends a seal that supersedes the old one (``audit.seals.supersedes_seq``: the old
seal stays, nothing is overwritten). The run key carries the state it saw, so a state is acted on
once: if that run fails, the sensor does not loop; the run's failure is what to look at.

Not requested: days that a run in progress (queued or started) already covers, and days in a
closed period (journal_pipeline.periods), which are listed in the tick's log instead: reposting
them would be refused.

The window is the ``JOURNAL_LATE_DATA_LOOKBACK_DAYS`` days (default 62) up to the latest sealed
day, and on to today. The sensor is STOPPED by default, like the schedule: turn it on with the
schedule (UI, or ``dagster sensor start late_data_sensor``).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Final

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from journal_pipeline.consistency import DayState, day_states
from journal_pipeline.defs.jobs import daily_journal_job
from journal_pipeline.defs.resources import JournalDatabase
from journal_pipeline.periods import closed_days

LOOKBACK_ENV: Final = "JOURNAL_LATE_DATA_LOOKBACK_DAYS"
DEFAULT_LOOKBACK_DAYS: Final = 62
MINIMUM_INTERVAL_S: Final = 300
TRIGGER_TAG: Final = "journal/trigger"
REASON_TAG: Final = "journal/reason"

_IN_PROGRESS: Final = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def lookback_days() -> int:
    value = os.environ.get(LOOKBACK_ENV) or str(DEFAULT_LOOKBACK_DAYS)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{LOOKBACK_ENV} must be a whole number of days, at least 1, not {value!r}")
    return int(value)


def days_in_progress(instance: dg.DagsterInstance) -> set[dt.date]:
    """The days that a queued or running run (of any job or backfill) materializes."""
    days: set[dt.date] = set()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_IN_PROGRESS), limit=1000):
        tags = run.tags
        if PARTITION_NAME_TAG in tags:
            first = last = tags[PARTITION_NAME_TAG]
        elif ASSET_PARTITION_RANGE_START_TAG in tags and ASSET_PARTITION_RANGE_END_TAG in tags:
            first, last = tags[ASSET_PARTITION_RANGE_START_TAG], tags[ASSET_PARTITION_RANGE_END_TAG]
        else:
            continue
        try:
            day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
        except ValueError:
            continue  # another partitions definition's key: not one of our days
        while day <= end:
            days.add(day)
            day += dt.timedelta(days=1)
    return days


def _run_request(state: DayState) -> dg.RunRequest:
    reason = "late_data" if state.late_data else "not_resealed"
    seen = f"{state.source_md5}:{state.posted_md5}:{state.seal_seq}:{state.recorded_lines}:{state.recorded_debit}"
    return dg.RunRequest(
        run_key=f"{state.day}:{reason}:{seen}",
        partition_key=state.day.isoformat(),
        tags={TRIGGER_TAG: "late_data_sensor", REASON_TAG: reason},
    )


@dg.sensor(
    job=daily_journal_job,
    minimum_interval_seconds=MINIMUM_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Reposts and reseals a sealed day when its source transactions changed after sealing (late data), "
        "or when a run stopped between posting and sealing it."
    ),
)
def late_data_sensor(context: dg.SensorEvaluationContext, database: JournalDatabase) -> dg.SensorResult:
    """See the module docstring: one run request per day with late data or left not resealed."""
    today = dt.datetime.now(dt.UTC).date()
    with database.connect("journal-pipeline late data") as conn:
        row = conn.execute(
            "SELECT greatest((SELECT max(partition_date) FROM audit.seals), "
            "(SELECT max(journal_date) FROM ledger.posted_days))"
        ).fetchone()
        anchor = row[0] if row and row[0] else None
        if anchor is None:
            return dg.SensorResult(skip_reason=dg.SkipReason("nothing has been posted or sealed yet"))
        first_day, last_day = anchor - dt.timedelta(days=lookback_days() - 1), max(anchor, today)
        states = day_states(conn, first_day, last_day)
        closed = closed_days(conn, first_day, last_day)
    running = days_in_progress(context.instance)
    stale = [state for state in states if state.late_data or state.posted_after_its_seal]
    requests, notes = [], []
    for state in stale:
        if state.day in running:
            notes.append(f"{state.day}: a run in progress covers it")
        elif state.day in closed:
            context.log.warning(f"{state.describe()}; not reposted: {closed[state.day]}")
            notes.append(f"{state.day}: not reposted, {closed[state.day]}")
        else:
            context.log.info(f"{state.describe()}: requesting a run")
            requests.append(_run_request(state))
    if requests:
        return dg.SensorResult(run_requests=requests)
    checked = f"{len(states)} posted or sealed day(s) of {first_day}..{last_day} checked"
    if notes:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"{checked}, {len(notes)} differ: {'; '.join(notes)}"))
    return dg.SensorResult(skip_reason=dg.SkipReason(f"{checked}: source, ledger and seals agree"))
