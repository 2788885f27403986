"""Operating the pipeline: database maintenance jobs and their schedules, and the run-failure alert.

Collected here so that journal_pipeline/definitions.py adds them in one place. The Prometheus metrics
are not a Dagster definition: they are served by ``journal-pipeline metrics`` (journal_pipeline/metrics.py).
See docs/operations.md.
"""

from __future__ import annotations

import dagster as dg

from journal_pipeline.defs.alerts import alerts_resource, run_failure_alert_sensor
from journal_pipeline.defs.maintenance import (
    maintenance_database_resource,
    monthly_vacuum_job,
    monthly_vacuum_schedule,
    weekly_maintenance_job,
    weekly_maintenance_schedule,
)

OPERATIONS_JOBS: list[dg.JobDefinition] = [weekly_maintenance_job, monthly_vacuum_job]
OPERATIONS_SCHEDULES: list[dg.ScheduleDefinition] = [weekly_maintenance_schedule, monthly_vacuum_schedule]
OPERATIONS_SENSORS: list[dg.SensorDefinition] = [run_failure_alert_sensor]


def operations_resources() -> dict[str, dg.ConfigurableResource]:
    """Built when the definitions are, so that they read the environment of the process that loads them."""
    return {"maintenance_database": maintenance_database_resource(), "alerts": alerts_resource()}
