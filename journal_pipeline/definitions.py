"""The Dagster definitions that ``dagster dev`` (workspace.yaml), the CLI and the tests load."""

from __future__ import annotations

import dagster as dg

from journal_pipeline.defs.assets.audit import audit_seals
from journal_pipeline.defs.assets.extract import source_transactions
from journal_pipeline.defs.assets.fraud import fraud_scores
from journal_pipeline.defs.assets.gl import gl_postings
from journal_pipeline.defs.assets.transform import journal_lines
from journal_pipeline.defs.assets.vouchers import vouchers
from journal_pipeline.defs.io_manager import DailyParquetIOManager
from journal_pipeline.defs.jobs import daily_journal_job, daily_journal_schedule
from journal_pipeline.defs.late_data import late_data_sensor
from journal_pipeline.defs.operations import (
    OPERATIONS_JOBS,
    OPERATIONS_SCHEDULES,
    OPERATIONS_SENSORS,
    operations_resources,
)
from journal_pipeline.defs.resources import database_resource, storage_path

JOURNAL_ASSETS = [source_transactions, journal_lines, vouchers, gl_postings, fraud_scores, audit_seals]


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=JOURNAL_ASSETS,
        jobs=[daily_journal_job, *OPERATIONS_JOBS],
        schedules=[daily_journal_schedule, *OPERATIONS_SCHEDULES],
        sensors=[*OPERATIONS_SENSORS, late_data_sensor],
        resources={
            "database": database_resource(),
            "io_manager": DailyParquetIOManager(base_dir=storage_path()),
            **operations_resources(),
        },
        # The steps run one after another anyway; in-process saves the seconds a subprocess
        # per step costs (see the benchmark's Dagster overhead figures).
        executor=dg.in_process_executor,
    )


defs = build_definitions()
