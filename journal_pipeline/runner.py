"""Materializing partitions from code (the ``run`` command and the tests) through the same
definitions, job and instance the Dagster UI uses, so every run shows up there."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from journal_pipeline.config import journal_home
from journal_pipeline.defs.partitions import BACKFILL_DAYS_PER_RUN

LOCAL_INSTANCE_YAML = """\
# Local Dagster instance of the journal pipeline: run history in SQLite under this folder.
# The production instance (PostgreSQL) is deploy/dagster.yaml.
telemetry:
  enabled: false
"""


def local_instance() -> dg.DagsterInstance:
    """The instance in $DAGSTER_HOME, by default ``$JOURNAL_HOME/dagster`` (what ``make dev`` uses)."""
    if not os.environ.get("DAGSTER_HOME"):
        home = journal_home() / "dagster"
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "dagster.yaml").exists():
            (home / "dagster.yaml").write_text(LOCAL_INSTANCE_YAML)
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def windows(start: dt.date, end: dt.date, days_per_run: int = BACKFILL_DAYS_PER_RUN) -> list[tuple[dt.date, dt.date]]:
    """[start, end] cut into consecutive windows of at most ``days_per_run`` days."""
    out = []
    first = start
    while first <= end:
        last = min(end, first + dt.timedelta(days=days_per_run - 1))
        out.append((first, last))
        first = last + dt.timedelta(days=1)
    return out


def materialize_window(
    first_day: dt.date,
    last_day: dt.date,
    *,
    instance: dg.DagsterInstance,
    definitions: dg.Definitions | None = None,
    job_name: str = "daily_journal_job",
    raise_on_error: bool = True,
    console_log_level: str = "WARNING",
) -> dg.ExecuteInProcessResult:
    """One run of the daily job over first_day..last_day (a ranged run when several days).

    The run's full event log goes to the instance (the UI shows it); the console gets warnings
    and errors only, so that a command prints its own progress rather than Dagster's debug log.
    """
    if definitions is None:
        from journal_pipeline.definitions import build_definitions

        definitions = build_definitions()
    job = definitions.resolve_job_def(job_name)
    run_config = {"loggers": {"console": {"config": {"log_level": console_log_level}}}}
    if first_day == last_day:
        return execute_without_keeping_outputs(
            job, run_config, instance, partition_key=first_day.isoformat(), raise_on_error=raise_on_error
        )
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: first_day.isoformat(),
        ASSET_PARTITION_RANGE_END_TAG: last_day.isoformat(),
    }
    return execute_without_keeping_outputs(job, run_config, instance, tags=tags, raise_on_error=raise_on_error)


def execute_without_keeping_outputs(
    job: dg.JobDefinition,
    run_config: dict,
    instance: dg.DagsterInstance,
    *,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """``job.execute_in_process`` without holding on to every step's output until the run ends.

    ``execute_in_process`` keeps each output object in the result (``output_for_node``), so a
    run holds the extract's frames, the day's lines and everything after them at once: a
    1,000,000-transaction day needed about a gigabyte more than its largest step. Every output
    here is stored by the IO manager and read back from it, so nothing needs them kept; this is
    ``execute_in_process`` (dagster 1.13) with that switched off, through the same internal
    function (test_runner.py pins it)."""
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._core.execution.execute_in_process import core_execute_in_process, merge_run_tags

    ephemeral_job = job.as_ephemeral_job(resource_defs={}, input_values={}, op_selection=[], asset_selection=[])
    if partition_key and ephemeral_job.partitions_def:  # as execute_in_process refuses a key it does not have
        with partition_loading_context(dynamic_partitions_store=instance) as context:
            ephemeral_job.validate_partition_key(
                partition_key=partition_key, selected_asset_keys=set(), context=context
            )
    return core_execute_in_process(
        job=InMemoryJob(job_def=ephemeral_job),
        run_config=run_config,
        instance=instance,
        output_capturing_enabled=False,
        raise_on_error=raise_on_error,
        run_tags=merge_run_tags(
            job_def=job,
            partition_key=partition_key,
            tags=tags,
            asset_selection=[],
            instance=instance,
            run_config=run_config,
        ),
        run_id=None,
        asset_selection=frozenset(),
    )


@dataclass
class RunSummary:
    runs: list[tuple[str, str, str, float]] = field(default_factory=list)  # first, last, run_id, seconds

    @property
    def seconds(self) -> float:
        return sum(run[3] for run in self.runs)

    def __str__(self) -> str:
        days = sum((dt.date.fromisoformat(r[1]) - dt.date.fromisoformat(r[0])).days + 1 for r in self.runs)
        return f"materialized {days} day(s) in {len(self.runs)} run(s), {self.seconds:.2f} s"


def run_partitions(
    start: dt.date,
    end: dt.date,
    *,
    progress: Callable[[str], None] | None = None,
    instance: dg.DagsterInstance | None = None,
) -> RunSummary:
    """Materialize every partition of [start, end], a backfill-sized window per run."""
    import time

    from journal_pipeline.definitions import build_definitions

    instance = instance or local_instance()
    definitions = build_definitions()
    summary = RunSummary()
    for first, last in windows(start, end):
        started = time.perf_counter()
        result = materialize_window(first, last, instance=instance, definitions=definitions, raise_on_error=False)
        seconds = time.perf_counter() - started
        if not result.success:
            failure = _first_failure(result)
            raise RuntimeError(f"run {result.run_id} for {first}..{last} failed: {failure}")
        summary.runs.append((first.isoformat(), last.isoformat(), result.run_id, seconds))
        if progress:
            progress(f"  {first}..{last}: run {result.run_id[:8]} in {seconds:.2f} s")
    return summary


def _first_failure(result: dg.ExecuteInProcessResult) -> str:
    failed_checks = [
        event.event_specific_data
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed
    ]
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None and (error.cls_name or "").startswith("DagsterExecution"):
                error = error.cause  # the asset's own exception, not Dagster's wrapper around it
            blocking = [c for c in failed_checks if c.severity == dg.AssetCheckSeverity.ERROR]
            if error.cls_name == "DagsterAssetCheckFailedError" and blocking:  # say which check, and why
                return f"{event.step_key}: check {blocking[0].check_name} failed: {blocking[0].description}"
            message = error.message.strip().splitlines()
            return f"{event.step_key}: {message[0] if message else 'failed'}"
    if failed_checks:
        return f"check {failed_checks[0].check_name} failed"
    return "failed"
