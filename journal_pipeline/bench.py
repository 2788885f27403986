"""``journal-pipeline bench``: the pipeline against the legacy function and PostgreSQL's own floor.

On one fresh database and the same seeded data, in one process:

(d) a backfill of ``--backfill-days`` days through the pipeline in one launch, against the
    legacy function over the same days (this also gives every measured day its fraud history);
(a) the legacy function over every company of each measured day;
(b) the pipeline over each measured day through Dagster, every step timed;
(c) the floor: a bare COPY out of the day's source rows plus a COPY in of as many journal
    lines as the pipeline wrote, into a table with the same indexes as ledger.journal_lines;
(e) Dagster's own cost: a partition launched from the CLI (a new process) and from a schedule
    tick, against the same partition materialized in this warm process.

Each measured figure is the median of ``--runs`` runs, each from the same starting state (the
day's previous output removed first, untimed), so that no run is favoured by what another left.
Peak memory is the process's maximum resident set size after the pipeline runs (and, for the
CLI launch, the child's). Results print as a table and are written as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dagster as dg
import psycopg
from psycopg import sql

from journal_pipeline import __version__
from journal_pipeline.db.connection import PIPELINE_ROLE, admin_url, with_database, with_user
from journal_pipeline.db.migrate import migrate

Progress = Callable[[str], None]

FLOOR_TABLE = "bench_floor_journal_lines"


@dataclass
class BenchResult:
    scale: dict[str, int]
    measured_days: list[str]
    runs: int
    transactions_per_day: dict[str, int] = field(default_factory=dict)
    journal_lines_per_day: dict[str, int] = field(default_factory=dict)
    legacy_day_s: dict[str, float] = field(default_factory=dict)
    pipeline_day_s: dict[str, float] = field(default_factory=dict)
    pipeline_steps_s: dict[str, float] = field(default_factory=dict)
    floor_day_s: dict[str, float] = field(default_factory=dict)
    floor_parts_s: dict[str, float] = field(default_factory=dict)
    backfill_days: int = 0
    backfill_pipeline_s: float = 0.0
    backfill_legacy_s: float = 0.0
    backfill_runs: int = 0
    dagster: dict[str, float] = field(default_factory=dict)
    peak_memory_mib: dict[str, float] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)

    def median(self, figures: dict[str, float]) -> float:
        return statistics.median(figures.values()) if figures else float("nan")

    @property
    def ratios(self) -> dict[str, float]:
        legacy, pipeline, floor = (
            self.median(self.legacy_day_s),
            self.median(self.pipeline_day_s),
            self.median(self.floor_day_s),
        )
        out = {
            "legacy_over_pipeline_day": legacy / pipeline if pipeline else float("nan"),
            "pipeline_over_floor_day": pipeline / floor if floor else float("nan"),
        }
        if self.backfill_pipeline_s:
            out["legacy_over_pipeline_backfill"] = self.backfill_legacy_s / self.backfill_pipeline_s
        return out

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["ratios"] = self.ratios
        data["medians"] = {
            "legacy_day_s": self.median(self.legacy_day_s),
            "pipeline_day_s": self.median(self.pipeline_day_s),
            "floor_day_s": self.median(self.floor_day_s),
        }
        return data

    def table(self) -> str:
        txns = statistics.median(self.transactions_per_day.values()) if self.transactions_per_day else 0
        lines = statistics.median(self.journal_lines_per_day.values()) if self.journal_lines_per_day else 0

        def rate(seconds: float) -> str:
            return f"{txns / seconds:>12,.0f}" if seconds and not math.isnan(seconds) else f"{'-':>12}"

        legacy, pipeline, floor = (
            self.median(self.legacy_day_s),
            self.median(self.pipeline_day_s),
            self.median(self.floor_day_s),
        )
        rows = [
            f"journal-pipeline bench {__version__}: {self.scale['companies']} companies x "
            f"{self.scale['txns_per_day']:,} transactions per company-day; medians of {self.runs} run(s) over "
            f"{len(self.measured_days)} day(s) ({txns:,.0f} transactions, {lines:,.0f} journal lines a day)",
            "",
            f"{'one day':<34}{'seconds':>10}{'txns/s':>12}",
            f"{'  legacy fn_insert_sun_journal':<34}{legacy:>10.3f}{rate(legacy)}",
            f"{'  pipeline (Dagster, all steps)':<34}{pipeline:>10.3f}{rate(pipeline)}",
            *[f"{'    ' + step:<34}{seconds:>10.3f}" for step, seconds in self.pipeline_steps_s.items()],
            f"{'  floor (COPY out + COPY in)':<34}{floor:>10.3f}{rate(floor)}",
            *[f"{'    ' + part:<34}{seconds:>10.3f}" for part, seconds in self.floor_parts_s.items()],
        ]
        if self.backfill_days:
            rows += [
                "",
                f"{self.backfill_days}-day backfill in one launch ({self.backfill_runs} Dagster runs)",
                f"{'  legacy':<34}{self.backfill_legacy_s:>10.2f}",
                f"{'  pipeline':<34}{self.backfill_pipeline_s:>10.2f}",
            ]
        rows += ["", "ratios"]
        rows += [f"  {name:<32}{value:>10.2f}x" for name, value in self.ratios.items()]
        if self.dagster:
            rows += ["", "Dagster overhead (seconds)"]
            rows += [f"  {name:<32}{value:>10.3f}" for name, value in self.dagster.items()]
        rows += ["", "peak memory (MiB)"]
        rows += [f"  {name:<32}{value:>10.0f}" for name, value in self.peak_memory_mib.items()]
        return "\n".join(rows)


def _peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def _days(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range(count)]


def _fresh_database(server_admin_url: str, name: str) -> str:
    with psycopg.connect(server_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server_admin_url, name)
    migrate(url)
    return url


CLEAR_LEGACY_DAY = """
UPDATE legacy.gl_entries g
SET debit = g.debit - s.debit, credit = g.credit - s.credit
FROM (SELECT company_id, account_code, period,
             coalesce(sum(amount_base) FILTER (WHERE dc = 'D'), 0) AS debit,
             coalesce(sum(amount_base) FILTER (WHERE dc = 'C'), 0) AS credit
      FROM legacy.sun_journal WHERE journal_date = %(day)s GROUP BY 1, 2, 3) s
WHERE (g.company_id, g.account_code, g.period) = (s.company_id, s.account_code, s.period)
"""


def _clear_legacy_day(conn: psycopg.Connection, day: dt.date) -> None:
    """Take the legacy function's output for the day away again, untimed, so that every timed
    run starts from the state of a first run (the function's own undo then finds nothing)."""
    conn.execute(CLEAR_LEGACY_DAY, {"day": day})
    conn.execute("DELETE FROM legacy.sun_journal WHERE journal_date = %s", (day,))
    conn.execute("DELETE FROM legacy.vouchers WHERE journal_date = %s", (day,))
    conn.commit()


def _time_legacy_day(url: str, day: dt.date) -> float:
    from journal_pipeline.legacy.runner import run_legacy

    with psycopg.connect(url) as conn:
        _clear_legacy_day(conn, day)
    return run_legacy(url, start=day, end=day, company_id=None).seconds


def _step_seconds(result: dg.ExecuteInProcessResult) -> dict[str, float]:
    return {
        event.step_key: event.event_specific_data.duration_ms / 1000
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    }


def _run_step_total(instance: dg.DagsterInstance, run_id: str) -> float:
    """Seconds the run's steps took, from its event log."""
    return sum(
        entry.dagster_event.event_specific_data.duration_ms / 1000
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
    )


def _time_pipeline_day(
    instance: dg.DagsterInstance, definitions: dg.Definitions, day: dt.date
) -> tuple[float, dict[str, float]]:
    from journal_pipeline.runner import materialize_window

    started = time.perf_counter()
    result = materialize_window(day, day, instance=instance, definitions=definitions)
    return time.perf_counter() - started, _step_seconds(result)


def _time_floor_day(url: str, day: dt.date, lines: int) -> tuple[float, dict[str, float]]:
    """COPY the day's source rows out, and COPY as many journal lines in (into an indexed copy of
    ledger.journal_lines), the least any implementation has to move through PostgreSQL."""
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(FLOOR_TABLE)))
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE ledger.journal_lines INCLUDING ALL)").format(sql.Identifier(FLOOR_TABLE))
        )
        # the lines to load, prepared untimed: the day's own lines repeated up to the count
        payload = bytearray()
        with conn.cursor().copy(
            sql.SQL(
                "COPY (SELECT * FROM ledger.journal_lines WHERE journal_date = {day}"
                " ORDER BY txn_id, line_no LIMIT {n}) TO STDOUT"
            ).format(day=sql.Literal(day), n=sql.Literal(lines))
        ) as copy:
            for chunk in copy:
                payload += chunk
        conn.commit()

        started = time.perf_counter()
        out = 0
        with conn.cursor().copy(
            sql.SQL("COPY (SELECT * FROM legacy.src_transactions WHERE txn_date = {day}) TO STDOUT").format(
                day=sql.Literal(day)
            )
        ) as copy:
            for chunk in copy:
                out += len(chunk)
        copied_out = time.perf_counter()
        with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(FLOOR_TABLE))) as copy:
            copy.write(bytes(payload))
        conn.commit()
        copied_in = time.perf_counter()
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(FLOOR_TABLE)))
        conn.commit()
    return copied_in - started, {"copy_out_source": copied_out - started, "copy_in_lines": copied_in - copied_out}


def _cli_launch_seconds(env: dict[str, str], day: dt.date) -> tuple[float, float]:
    """Wall time of ``journal-pipeline run`` for one partition in a new process, and its peak RSS."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "journal_pipeline.cli", "run", "--start", day.isoformat()],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started, _peak_rss_mib(resource.RUSAGE_CHILDREN)


def _schedule_tick_seconds(instance: dg.DagsterInstance, definitions: dg.Definitions, day: dt.date) -> float:
    """Evaluate the daily schedule for the tick that processes ``day`` and run what it requests."""
    schedule = definitions.resolve_schedule_def("daily_journal_schedule")
    job = definitions.resolve_job_def("daily_journal_job")
    tick_time = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(2, 0), tzinfo=dt.UTC)
    started = time.perf_counter()
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick_time) as context:
        (request,) = schedule.evaluate_tick(context).run_requests or []
    job.execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    return time.perf_counter() - started


def run_bench(
    *,
    companies: int,
    txns_per_day: int,
    days: int,
    backfill_days: int,
    runs: int,
    start: dt.date,
    seed: int,
    output: Path | None,
    keep: bool,
    dagster_overhead: bool,
    progress: Progress,
) -> BenchResult:
    """Seed a fresh database and measure (a) to (e); see the module docstring."""
    from journal_pipeline.definitions import build_definitions
    from journal_pipeline.legacy.runner import run_legacy
    from journal_pipeline.runner import run_partitions
    from journal_pipeline.seed.generator import seed_database

    server = admin_url()
    name = f"journal_bench_{os.getpid()}"
    url = _fresh_database(server, name)
    pipeline_url = with_user(url, PIPELINE_ROLE)
    storage = Path(os.environ.get("JOURNAL_HOME", ".journal")) / "bench" / name
    saved = {
        k: os.environ.get(k) for k in ("JOURNAL_DATABASE_URL", "JOURNAL_PIPELINE_DATABASE_URL", "JOURNAL_STORAGE_DIR")
    }
    os.environ.update(
        {
            "JOURNAL_DATABASE_URL": url,
            "JOURNAL_PIPELINE_DATABASE_URL": pipeline_url,
            "JOURNAL_STORAGE_DIR": str(storage),
        }
    )
    total_days = max(days, backfill_days)
    all_days = _days(start, total_days)
    measured = all_days[-days:]
    result = BenchResult(
        scale={"companies": companies, "txns_per_day": txns_per_day, "days": days, "backfill_days": backfill_days},
        measured_days=[d.isoformat() for d in measured],
        runs=runs,
        environment={
            "python": platform.python_version(),
            "cpus": str(os.cpu_count()),
            "machine": platform.machine(),
            "database": name,
        },
    )
    try:
        progress(f"bench: seeding {companies} x {txns_per_day:,} transactions a day, {total_days} day(s)")
        seed_database(url, start=start, days=total_days, companies=companies, txns_per_day=txns_per_day, seed=seed)
        with psycopg.connect(url) as conn:
            conn.execute("ANALYZE")
            for day in measured:
                row = conn.execute(
                    "SELECT count(*) FROM legacy.src_transactions WHERE txn_date = %s", (day,)
                ).fetchone()
                result.transactions_per_day[day.isoformat()] = int(row[0]) if row else 0
        definitions = build_definitions()
        with dg.DagsterInstance.ephemeral() as instance:
            # (d) the backfill, which also materializes every measured day's history
            progress(f"bench: (d) pipeline backfill of {total_days} day(s) in one launch")
            backfill = run_partitions(all_days[0], all_days[-1], instance=instance, progress=progress)
            result.backfill_days, result.backfill_runs = total_days, len(backfill.runs)
            result.backfill_pipeline_s = backfill.seconds
            progress(f"bench: (d) legacy function over the same {total_days} day(s)")
            result.backfill_legacy_s = run_legacy(url, start=all_days[0], end=all_days[-1], company_id=None).seconds
            result.peak_memory_mib["pipeline_process"] = _peak_rss_mib()

            with psycopg.connect(url) as conn:
                for day in measured:
                    row = conn.execute(
                        "SELECT count(*) FROM ledger.journal_lines WHERE journal_date = %s", (day,)
                    ).fetchone()
                    result.journal_lines_per_day[day.isoformat()] = int(row[0]) if row else 0

            legacy_runs: dict[str, list[float]] = {}
            pipeline_runs: dict[str, list[float]] = {}
            step_runs: dict[str, list[float]] = {}
            floor_runs: dict[str, list[float]] = {}
            floor_parts: dict[str, list[float]] = {}
            for attempt in range(1, runs + 1):
                for day in measured:
                    key = day.isoformat()
                    progress(f"bench: run {attempt}/{runs}, {key}: (a) legacy, (b) pipeline, (c) floor")
                    legacy_runs.setdefault(key, []).append(_time_legacy_day(url, day))
                    seconds, steps = _time_pipeline_day(instance, definitions, day)
                    pipeline_runs.setdefault(key, []).append(seconds)
                    for step, step_seconds in steps.items():
                        step_runs.setdefault(step, []).append(step_seconds)
                    floor, parts = _time_floor_day(url, day, result.journal_lines_per_day[key])
                    floor_runs.setdefault(key, []).append(floor)
                    for part, part_seconds in parts.items():
                        floor_parts.setdefault(part, []).append(part_seconds)
            result.legacy_day_s = {k: statistics.median(v) for k, v in legacy_runs.items()}
            result.pipeline_day_s = {k: statistics.median(v) for k, v in pipeline_runs.items()}
            result.pipeline_steps_s = {k: statistics.median(v) for k, v in step_runs.items()}
            result.floor_day_s = {k: statistics.median(v) for k, v in floor_runs.items()}
            result.floor_parts_s = {k: statistics.median(v) for k, v in floor_parts.items()}
            result.peak_memory_mib["pipeline_process"] = _peak_rss_mib()

            if dagster_overhead:
                day = measured[-1]
                progress("bench: (e) Dagster overhead: CLI launch, schedule tick, warm materialize")
                warm = [_time_pipeline_day(instance, definitions, day)[0] for _ in range(runs)]
                ticks = [_schedule_tick_seconds(instance, definitions, day) for _ in range(runs)]
                env = dict(os.environ)
                cli = []
                for _ in range(runs):
                    seconds, child_peak = _cli_launch_seconds(env, day)
                    cli.append(seconds)
                result.peak_memory_mib["cli_run_process"] = child_peak
                step_total = sum(result.pipeline_steps_s.values())
                backfill_steps = sum(_run_step_total(instance, run_id) for _, _, run_id, _ in backfill.runs)
                result.dagster = {
                    "warm_materialize_s": statistics.median(warm),
                    "schedule_tick_s": statistics.median(ticks),
                    "cli_launch_s": statistics.median(cli),
                    "warm_overhead_over_steps_s": statistics.median(warm) - step_total,
                    "schedule_overhead_over_steps_s": statistics.median(ticks) - step_total,
                    "cli_overhead_over_steps_s": statistics.median(cli) - step_total,
                    "backfill_overhead_per_partition_s": (result.backfill_pipeline_s - backfill_steps) / total_days,
                }
    finally:
        os.environ.update({k: v for k, v in saved.items() if v is not None})
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
        if not keep:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result.to_dict(), indent=2, default=str))
    return result
