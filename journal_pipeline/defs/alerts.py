"""Run failures: a clear log line, an entry in the audit trail, and the place to plug in Slack or e-mail.

``run_failure_alert_sensor`` watches every job of this code location (the daily job, backfill runs,
maintenance). For each failed run it

1. logs one line saying which run of which job failed, for which days, in which step and why: the
   sensor's tick log in the UI and the code server's output (``docker compose logs user_code``);
2. appends a ``run_failed`` event to the hash-chained ``audit.events`` for each day of the run's
   partitions (one event without a day for an unpartitioned run), so that an auditor reading a day's
   events sees the failed attempt next to the successful ones. Recorded once per run, whatever retries;
3. hands the alert to :meth:`RunFailureAlerts.send`, **the place to plug in Slack or e-mail**. Out of the
   box it posts ``{"text": ...}`` to ``JOURNAL_ALERT_WEBHOOK_URL`` when that is set, which is what a
   Slack incoming webhook (and Mattermost's, and Teams' workflows) accepts. For e-mail, or a richer
   Slack message (``dagster-slack``'s ``SlackResource``), add a field and a branch to ``send``.

The sensor is on by default: an alert that has to be switched on is one that is off when it matters.
"""

import datetime as dt
import json
import os
import urllib.request
from dataclasses import dataclass
from typing import Any, Final

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    PARTITION_NAME_TAG,
)
from dagster._utils.error import SerializableErrorInfo

from journal_pipeline.audit.seal import record_event
from journal_pipeline.defs.resources import JournalDatabase
from journal_pipeline.ledger import days_between

RUN_FAILED_EVENT: Final = "run_failed"
MAX_REASON_CHARS: Final = 500
WEBHOOK_TIMEOUT_SECONDS: Final = 10
_ALREADY_RECORDED: Final = "SELECT 1 FROM audit.events WHERE event_type = %s AND run_id = %s LIMIT 1"


@dataclass(frozen=True)
class RunFailureAlert:
    """What failed, for which days, and why: everything a person needs before opening the UI."""

    run_id: str
    job_name: str
    first_day: dt.date | None
    last_day: dt.date | None
    backfill_id: str | None
    failed_steps: tuple[tuple[str, str], ...]  # (step, reason)
    message: str  # Dagster's own failure message, for runs that failed outside any step
    run_url: str | None

    @property
    def partitions(self) -> str | None:
        if self.first_day is None:
            return None
        return str(self.first_day) if self.first_day == self.last_day else f"{self.first_day}..{self.last_day}"

    def days(self) -> list[dt.date]:
        if self.first_day is None or self.last_day is None:
            return []
        return days_between(self.first_day, self.last_day)

    def summary(self) -> str:
        where = f" for {self.partitions}" if self.partitions else ""
        backfill = f" (backfill {self.backfill_id})" if self.backfill_id else ""
        if self.failed_steps:
            why = "; ".join(f"{step}: {reason}" for step, reason in self.failed_steps)
        else:
            why = self.message
        link = f" - {self.run_url}" if self.run_url else ""
        return f"run {self.run_id[:8]} of {self.job_name}{where}{backfill} failed: {why}{link}"

    def payload(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "job": self.job_name,
            "partitions": self.partitions,
            "backfill_id": self.backfill_id,
            "failed_steps": [{"step": step, "reason": reason} for step, reason in self.failed_steps],
            "message": self.message,
        }


def failure_reason(error: SerializableErrorInfo | None) -> str:
    """The user-facing error of a step failure, one line: the exception the code raised, not the
    ``DagsterExecution*Error`` wrapper Dagster puts around it, without its module path."""
    if error is None:
        return "failed (no error recorded)"
    while error.cause is not None and error.cls_name and error.cls_name.startswith("DagsterExecution"):
        error = error.cause
    lines = error.message.strip().splitlines()
    text = lines[0] if lines else ""
    prefix, separator, rest = text.partition(": ")
    if separator and error.cls_name and prefix.split(".")[-1] == error.cls_name:
        text = rest
    reason = f"{error.cls_name}: {text}" if error.cls_name else text
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 3] + "..."


def _day(tag: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(tag) if tag else None
    except ValueError:  # a partition key that is not a day: not ours, keep the run's other facts
        return None


def alert_from_context(context: dg.RunFailureSensorContext, ui_url: str | None) -> RunFailureAlert:
    run = context.dagster_run
    tags = run.tags
    first = _day(tags.get(ASSET_PARTITION_RANGE_START_TAG)) or _day(tags.get(PARTITION_NAME_TAG))
    last = _day(tags.get(ASSET_PARTITION_RANGE_END_TAG)) or first
    failed_steps = tuple(
        (event.step_key or "?", failure_reason(event.step_failure_data.error))
        for event in context.get_step_failure_events()
    )
    return RunFailureAlert(
        run_id=run.run_id,
        job_name=run.job_name,
        first_day=first,
        last_day=last,
        backfill_id=tags.get(BACKFILL_ID_TAG),
        failed_steps=failed_steps,
        message=(context.failure_event.message or "run failed").strip().splitlines()[0],
        run_url=f"{ui_url.rstrip('/')}/runs/{run.run_id}" if ui_url else None,
    )


def record_run_failure(database: JournalDatabase, alert: RunFailureAlert) -> int:
    """Append the ``run_failed`` events of the alert, all or none, unless the run has them already.

    Returns the number of events appended (0 when they were recorded before)."""
    with database.connect("journal-pipeline alerts") as conn, conn.transaction():
        if conn.execute(_ALREADY_RECORDED, (RUN_FAILED_EVENT, alert.run_id)).fetchone():
            return 0
        days: list[dt.date | None] = list(alert.days()) or [None]
        for day in days:
            record_event(conn, RUN_FAILED_EVENT, day, alert.payload(), alert.run_id)
    return len(days)


class RunFailureAlerts(dg.ConfigurableResource):
    """Where run-failure alerts go besides the log and the audit trail. Extend :meth:`send` for e-mail
    or another chat; configure from the environment (``EnvVar``) so that no secret is in the code."""

    webhook_url: str | None = None  # a Slack-compatible incoming webhook: POST {"text": ...}
    ui_url: str | None = None  # the Dagster UI's address, for a link to the failed run

    def send(self, alert: RunFailureAlert) -> list[str]:
        """Deliver the alert; return where it went. An undeliverable alert raises (the tick shows it)."""
        delivered = []
        if self.webhook_url:
            body = json.dumps({"text": alert.summary()}).encode()
            request = urllib.request.Request(
                self.webhook_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
            )
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS):
                pass
            delivered.append("webhook")
        return delivered


def alerts_resource() -> RunFailureAlerts:
    """From JOURNAL_ALERT_WEBHOOK_URL (a secret: EnvVar, never shown) and JOURNAL_DAGSTER_UI_URL."""
    return RunFailureAlerts(
        webhook_url=dg.EnvVar("JOURNAL_ALERT_WEBHOOK_URL") if os.environ.get("JOURNAL_ALERT_WEBHOOK_URL") else None,
        ui_url=os.environ.get("JOURNAL_DAGSTER_UI_URL") or None,
    )


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    description="Logs every failed run of this code location, records it in audit.events and sends the alert.",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext, database: JournalDatabase, alerts: RunFailureAlerts
) -> None:
    alert = alert_from_context(context, alerts.ui_url)
    context.log.error(alert.summary())
    recorded = record_run_failure(database, alert)
    delivered = alerts.send(alert)
    context.log.info(
        f"run {alert.run_id[:8]}: {recorded} {RUN_FAILED_EVENT} audit event(s) appended"
        + (f", alert sent to {', '.join(delivered)}" if delivered else ", no alert channel configured")
    )
