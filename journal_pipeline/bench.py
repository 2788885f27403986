"""``journal-pipeline bench``: the pipeline against the legacy function and PostgreSQL's own floor.

On one fresh database and the same seeded data:

(d) a backfill of ``--backfill-days`` days through the pipeline in one launch, against the
    legacy function over the same days (this also gives every measured day its fraud history);
(a) the legacy function over every company of each measured day;
(b) the pipeline over each measured day through Dagster, every step timed;
(c) the floor: a bare COPY out of the day's source rows plus a COPY in of as many journal
    lines as the pipeline wrote, into a table with the same indexes as ledger.journal_lines;
    for (a), (b) and (c) the rows per second (transactions and journal lines) over the measured days,
    and for (b) and (c) the CPU time they cost, the server's and this process's
    (journal_pipeline/bench_cpu.py): work that no schedule on this machine's cores can fit in less
    than its total over the number of cores;
(e) Dagster's own cost, per run the wall time minus that run's step durations (the median of
    those differences): one partition materialized in this warm process, one schedule tick
    (the schedule evaluated and what it requests run), one ``journal-pipeline run`` in a new
    process, and per partition of the backfill (d); with the executor the job runs on;
(f) EXPLAIN (ANALYZE, BUFFERS) of the queries that matter (journal_pipeline/bench_plans.py) on
    the legacy tables (before) and the ledger schema (after), on the last measured day;
(g) with ``--scaling-txns-per-day N`` (the issue asks for 200000): linear scaling and memory. Two
    more fresh databases are seeded for ``--scaling-days`` days ending on the last measured day:
    one with that day's transactions in the first database, one with N / ``--txns-per-day`` times
    them (the same weekday, place in the month and volume profile: about 1.24 million
    transactions on the reference day at 200000). In each, every day is run once untimed, then
    the last day is timed in a new process per run, whose peak resident set (its own VmHWM) is
    the pipeline's own and not this process's. Both sizes thus have the same days of history for
    fraud scoring, and their times per transaction are compared (the issue: within 1.5x, and
    under 2 GiB at 200000). The legacy function is not run at N (about 20 minutes a day at
    200000).

Each measured figure is the median of ``--runs`` runs, each from the same starting state (the
day's previous output removed first for the legacy function, untimed; the pipeline replaces its
days, so every pipeline run is a rerun of an already posted day), so that no run is favoured by
what another left. Results print as a table and are written as JSON (every printed figure, plus
the full query plans).

``python -m journal_pipeline.bench materialize DAY`` is the child process of (g) (one partition
in a new ephemeral Dagster instance) and ``python -m journal_pipeline.bench cli run ...`` the CLI
launch of (e); each ends its output with a JSON report that includes its own peak RSS.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
from psycopg import sql

from journal_pipeline import __version__
from journal_pipeline.bench_cpu import CpuMeter, CpuSpent
from journal_pipeline.db.connection import PIPELINE_ROLE, admin_url, with_database, with_user
from journal_pipeline.db.migrate import migrate

Progress = Callable[[str], None]

FLOOR_TABLE = "bench_floor_journal_lines"

# The targets for (g): time per transaction at the scaled size within 1.5x of the
# reference's, and the scaled day's peak memory under 2 GiB.
SCALING_RATIO_TARGET = 1.5
# and for (c): the pipeline's day at most this many times the floor
FLOOR_RATIO_TARGET = 2.5
SCALING_PEAK_MIB_TARGET = 2048.0
LEGACY_SKIPPED = (
    "the legacy function is not run at the scaled size: it takes about 20 minutes a day at 200,000 "
    "transactions per company-day"
)


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
    # medians of (b)'s and (c)'s CPU seconds: {"pipeline"|"floor": {"server", "process", "total"}}
    cpu_s: dict[str, dict[str, float | None]] = field(default_factory=dict)
    backfill_days: int = 0
    backfill_pipeline_s: float = 0.0
    backfill_legacy_s: float = 0.0
    backfill_runs: int = 0
    backfill_transactions: int = 0
    backfill_journal_lines: int = 0
    dagster: dict[str, Any] = field(default_factory=dict)
    plans: dict[str, Any] = field(default_factory=dict)
    scaling: dict[str, Any] = field(default_factory=dict)
    peak_memory_mib: dict[str, float] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)

    def median(self, figures: dict[str, float] | dict[str, int]) -> float:
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

    @property
    def rates(self) -> dict[str, dict[str, float]]:
        """Rows per second: every measured day's rows over the sum of their (median) seconds.
        Journal lines are the pipeline's lines of those days (the legacy function writes as many)."""

        def rate(rows: int, seconds: float) -> float:
            return rows / seconds if seconds > 0 else float("nan")

        out = {}
        for name, figures in (
            ("legacy", self.legacy_day_s),
            ("pipeline", self.pipeline_day_s),
            ("floor", self.floor_day_s),
        ):
            seconds = sum(figures.values())
            out[name] = {
                "transactions_per_s": rate(sum(self.transactions_per_day.get(day, 0) for day in figures), seconds),
                "journal_lines_per_s": rate(sum(self.journal_lines_per_day.get(day, 0) for day in figures), seconds),
            }
        if self.backfill_days:
            for name, seconds in (
                ("backfill_legacy", self.backfill_legacy_s),
                ("backfill_pipeline", self.backfill_pipeline_s),
            ):
                out[name] = {
                    "transactions_per_s": rate(self.backfill_transactions, seconds),
                    "journal_lines_per_s": rate(self.backfill_journal_lines, seconds),
                }
        return out

    @property
    def errors(self) -> dict[str, str]:
        """Sections that failed (their error is in the table and the JSON instead of their figures)."""
        sections = {"dagster": self.dagster, "plans": self.plans, "scaling": self.scaling}
        return {name: section["error"] for name, section in sections.items() if "error" in section}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratios"] = self.ratios
        data["rates"] = self.rates
        data["errors"] = self.errors
        data["medians"] = {
            "transactions_per_day": self.median(self.transactions_per_day),
            "journal_lines_per_day": self.median(self.journal_lines_per_day),
            "legacy_day_s": self.median(self.legacy_day_s),
            "pipeline_day_s": self.median(self.pipeline_day_s),
            "floor_day_s": self.median(self.floor_day_s),
        }
        return data

    def table(self) -> str:
        txns, lines = self.median(self.transactions_per_day), self.median(self.journal_lines_per_day)
        rates = self.rates

        def per_s(name: str) -> str:
            figures = rates[name]
            return _figure(figures["transactions_per_s"], 12, 0) + _figure(figures["journal_lines_per_s"], 13, 0)

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
            f"{'one day':<34}{'seconds':>10}{'txns/s':>12}{'lines/s':>13}",
            f"{'  legacy fn_insert_sun_journal':<34}{legacy:>10.3f}{per_s('legacy')}",
            f"{'  pipeline (Dagster, all steps)':<34}{pipeline:>10.3f}{per_s('pipeline')}",
            *[f"{'    ' + step:<34}{seconds:>10.3f}" for step, seconds in self.pipeline_steps_s.items()],
            f"{'  floor (COPY out + COPY in)':<34}{floor:>10.3f}{per_s('floor')}",
            *[f"{'    ' + part:<34}{seconds:>10.3f}" for part, seconds in self.floor_parts_s.items()],
            "  (rows per second: all measured days' rows over their seconds)",
        ]
        if self.cpu_s:
            rows += ["", *_cpu_table(self.cpu_s, self.environment.get("cpus", ""), floor)]
        if self.backfill_days:
            rows += [
                "",
                f"{self.backfill_days}-day backfill in one launch ({self.backfill_runs} Dagster runs; "
                f"{self.backfill_transactions:,} transactions, {self.backfill_journal_lines:,} journal lines)",
                f"{'  legacy':<34}{self.backfill_legacy_s:>10.2f}{per_s('backfill_legacy')}",
                f"{'  pipeline':<34}{self.backfill_pipeline_s:>10.2f}{per_s('backfill_pipeline')}",
            ]
        rows += ["", "ratios"]
        rows += [f"  {name:<32}{value:>10.2f}x" for name, value in self.ratios.items()]
        if self.dagster:
            rows += ["", *_dagster_table(self.dagster)]
        if self.plans:
            from journal_pipeline.bench_plans import plans_table

            rows += ["", *plans_table(self.plans)]
        if self.scaling:
            rows += ["", *_scaling_table(self.scaling)]
        rows += ["", "peak memory (MiB)"]
        rows += [f"  {name:<32}{value:>10.0f}" for name, value in self.peak_memory_mib.items()]
        return "\n".join(rows)


def _figure(value: float, width: int, decimals: int) -> str:
    return f"{value:>{width},.{decimals}f}" if not math.isnan(value) else f"{'-':>{width}}"


def _cpu_table(cpu: dict[str, dict[str, float | None]], cpus: str, floor: float) -> list[str]:
    def seconds(value: float | None) -> str:
        return _figure(math.nan if value is None else value, 10, 2)

    rows = [
        "CPU time of one day (core-seconds, medians; server: the PostgreSQL processes, if on this machine)",
        f"{'':<34}{'server':>10}{'process':>10}{'total':>10}",
        *[
            f"{'  ' + name:<34}{seconds(spent['server'])}{seconds(spent['process'])}{seconds(spent['total'])}"
            for name, spent in cpu.items()
        ],
    ]
    total = cpu.get("pipeline", {}).get("total")
    if total is not None and cpus.isdigit() and not math.isnan(floor):
        cores = int(cpus)
        rows += [
            f"  on {cores} cores the pipeline's day cannot take less than {total / cores:.2f} s of wall time; "
            f"{FLOOR_RATIO_TARGET}x the floor is {FLOOR_RATIO_TARGET * floor:.2f} s, "
            f"{FLOOR_RATIO_TARGET * floor * cores:.2f} core-seconds"
        ]
    return rows


def _cpu_medians(samples: list[CpuSpent]) -> dict[str, float | None]:
    def median(values: list[float | None]) -> float | None:
        known = [value for value in values if value is not None]
        return statistics.median(known) if known and len(known) == len(values) else None

    return {
        "server": median([spent.server_s for spent in samples]),
        "process": median([spent.process_s for spent in samples]),
        "total": median([spent.total_s for spent in samples]),
    }


DAGSTER_LAUNCHES = {
    "warm_materialize": "warm materialize, 1 partition",
    "schedule_tick": "schedule tick (evaluate + run)",
    "cli_launch": "CLI launch (journal-pipeline run)",
}


def _dagster_table(dagster: dict[str, Any]) -> list[str]:
    if "error" in dagster:
        return [f"Dagster overhead: {dagster['error']}"]
    rows = [
        f"Dagster overhead (executor: {dagster['executor']}): per run, wall time - the run's step durations; "
        f"medians of {dagster['runs']} run(s)",
        f"{'':<40}{'wall s':>10}{'steps s':>10}{'overhead s':>12}",
    ]
    for key, label in DAGSTER_LAUNCHES.items():
        figures: dict[str, float] = dagster[key]
        rows.append(f"  {label:<38}{figures['wall_s']:>10.3f}{figures['steps_s']:>10.3f}{figures['overhead_s']:>12.3f}")
    backfill: dict[str, float] = dagster.get("backfill_per_partition", {})
    if backfill:
        label = f"backfill per partition ({backfill['partitions']:.0f} in {backfill['runs']:.0f} runs)"
        rows.append(
            f"  {label:<38}{backfill['wall_s']:>10.3f}{backfill['steps_s']:>10.3f}{backfill['overhead_s']:>12.3f}"
        )
    return rows


def _scaling_table(scaling: dict[str, Any]) -> list[str]:
    if "error" in scaling:
        return [f"linear scaling: {scaling['error']}"]
    reference: dict[str, Any] = scaling["reference"]
    scaled: dict[str, Any] = scaling["scaled"]
    ratio = float(scaling["ratio_us_per_transaction"])
    targets: dict[str, Any] = scaling["targets"]

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    rows = [
        f"linear scaling on {scaling['measured_day']}: one partition per new process, "
        f"medians of {scaling['runs']} run(s); the scaled days hold "
        f"{scaled['txns_per_company_day'] / reference['txns_per_company_day']:g}x the reference's transactions",
        f"{'per company-day':<20}{'txns':>12}{'lines':>12}{'seconds':>10}{'us/txn':>10}"
        f"{'peak RSS MiB':>14}{'history days':>14}",
    ]
    for figures in (reference, scaled):
        rows.append(
            f"  {figures['txns_per_company_day']:<18,}{figures['transactions']:>12,}{figures['journal_lines']:>12,}"
            f"{figures['seconds']:>10.3f}{figures['us_per_transaction']:>10.1f}{figures['peak_rss_mib']:>14,.0f}"
            f"{figures['history_days']:>14}"
        )
    rows += [
        f"  time per transaction, {scaled['txns_per_company_day']:,} over {reference['txns_per_company_day']:,}: "
        f"{ratio:.2f}x (target <= {targets['ratio_max']:.2f}x: {met(targets['ratio_met'])})",
        f"  peak RSS at {scaled['txns_per_company_day']:,}: {scaled['peak_rss_mib']:,.0f} MiB "
        f"(target < {targets['peak_rss_mib_max']:,.0f} MiB: {met(targets['memory_met'])})",
        f"  {'step us/txn':<30}{'reference':>10}{'scaled':>10}{'ratio':>8}",
    ]
    for step, ratio_step in scaling["step_ratios"].items():
        rows.append(
            f"    {step:<28}{reference['steps_us_per_transaction'][step]:>10.1f}"
            f"{scaled['steps_us_per_transaction'][step]:>10.1f}{_figure(ratio_step, 7, 2)}x"
        )
    rows.append(
        f"  first runs at {scaled['txns_per_company_day']:,} (untimed, one process a day): "
        + ", ".join(
            f"{run['day']} {run['seconds']:.1f} s {run['peak_rss_mib']:,.0f} MiB" for run in scaled["first_runs"]
        )
    )
    if reference["history_days"] != scaled["history_days"]:
        rows.append(
            f"  note: fraud_scores reads {scaled['history_days']} earlier day(s) at the scaled size and "
            f"{reference['history_days']} at the reference; --scaling-days {int(reference['history_days']) + 1} "
            "compares like with like"
        )
    rows.append(f"  {scaling['legacy_function']}")
    return rows


def _days(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range(count)]


def _fresh_database(server_admin_url: str, name: str) -> str:
    with psycopg.connect(server_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server_admin_url, name)
    migrate(url)
    return url


def _drop_database(server_admin_url: str, name: str) -> None:
    with psycopg.connect(server_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _count(url: str, query: str, *days: dt.date) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, days).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


COUNT_TRANSACTIONS = "SELECT count(*) FROM legacy.src_transactions WHERE txn_date = %s"
COUNT_LINES = "SELECT count(*) FROM ledger.journal_lines WHERE journal_date = %s"
COUNT_TRANSACTIONS_BETWEEN = "SELECT count(*) FROM legacy.src_transactions WHERE txn_date BETWEEN %s AND %s"
COUNT_LINES_BETWEEN = "SELECT count(*) FROM ledger.journal_lines WHERE journal_date BETWEEN %s AND %s"
# Days before ``day`` within the fraud model's history window that have source rows.
COUNT_HISTORY_DAYS = """
SELECT count(DISTINCT txn_date) FROM legacy.src_transactions
WHERE txn_date >= %(day)s - %(history_days)s AND txn_date < %(day)s
"""


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


def _time_floor_day(url: str, day: dt.date, lines: int, meter: CpuMeter) -> tuple[float, dict[str, float], CpuSpent]:
    """COPY the day's source rows out, and COPY as many journal lines in (into an indexed copy of
    ledger.journal_lines), the least any implementation has to move through PostgreSQL; with the
    CPU time of the timed part."""
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

        cpu_started = meter.read()
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
        spent = meter.spent(cpu_started, meter.read())
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(FLOOR_TABLE)))
        conn.commit()
    parts = {"copy_out_source": copied_out - started, "copy_in_lines": copied_in - copied_out}
    return copied_in - started, parts, spent


# --- child processes ---------------------------------------------------------------------------

# The line a child of the benchmark ends its output with: this marker, then a JSON object.
CHILD_REPORT = "journal-pipeline-bench-child: "


def own_peak_rss_mib() -> float:
    """This process's peak resident set since it started its program, in MiB.

    VmHWM belongs to the address space that exec gave the process, so it is the process's own.
    (ru_maxrss is not: Linux carries the parent's high-water mark over fork and exec into it,
    so a child of a large benchmark process would report the benchmark's peak.)
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, kB on Linux


@dataclass(frozen=True)
class ChildRun:
    """A finished child process: its wall time, and the JSON report it ended with."""

    wall_s: float
    report: dict[str, Any]


def _run_child(arguments: list[str], env: dict[str, str]) -> ChildRun:
    """``python -m journal_pipeline.bench ARGUMENTS`` in a new process, to completion."""
    argv = [sys.executable, "-m", "journal_pipeline.bench", *arguments]
    started = time.perf_counter()
    child = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    reports = [line for line in child.stdout.splitlines() if line.startswith(CHILD_REPORT)]
    if child.returncode != 0 or not reports:
        errors = child.stderr.strip().splitlines()
        ended = f"was killed by signal {-child.returncode}" if child.returncode < 0 else f"exited {child.returncode}"
        raise RuntimeError(f"{' '.join(argv[1:])} {ended}: {errors[-1] if errors else 'no output'}")
    return ChildRun(wall_s=wall, report=json.loads(reports[-1].removeprefix(CHILD_REPORT)))


def _materialize_in_child(env: dict[str, str], day: dt.date) -> dict[str, Any]:
    """One partition materialized in a new process: its timings, wall time and peak RSS."""
    child = _run_child(["materialize", day.isoformat()], env)
    return {**child.report, "process_wall_s": child.wall_s}


# --- (e) Dagster overhead ------------------------------------------------------------------------


def _cli_launch(env: dict[str, str], day: dt.date, dagster_home: Path) -> tuple[float, float, float]:
    """Wall time of ``journal-pipeline run`` for one partition in a new process, the step durations
    of the run it launched (from its instance, ``dagster_home``), and the child's peak RSS."""
    child = _run_child(["cli", "run", "--start", day.isoformat()], env)
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        (run,) = instance.get_runs(limit=1)
        steps = _run_step_total(instance, run.run_id)
    return child.wall_s, steps, float(child.report["peak_rss_mib"])


def _schedule_tick(instance: dg.DagsterInstance, definitions: dg.Definitions, day: dt.date) -> tuple[float, float]:
    """Evaluate the daily schedule for the tick that processes ``day`` and run what it requests:
    the wall time, and the step durations of that run."""
    schedule = definitions.resolve_schedule_def("daily_journal_schedule")
    job = definitions.resolve_job_def("daily_journal_job")
    tick_time = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(2, 0), tzinfo=dt.UTC)
    started = time.perf_counter()
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick_time) as context:
        (request,) = schedule.evaluate_tick(context).run_requests or []
    result = job.execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    return time.perf_counter() - started, sum(_step_seconds(result).values())


def _overhead(samples: list[tuple[float, float]]) -> dict[str, float]:
    """Medians of (wall, steps) samples and of each sample's own difference."""
    return {
        "wall_s": statistics.median(wall for wall, _ in samples),
        "steps_s": statistics.median(steps for _, steps in samples),
        "overhead_s": statistics.median(wall - steps for wall, steps in samples),
        "overhead_s_runs": [wall - steps for wall, steps in samples],
    }


def _measure_dagster_overhead(
    instance: dg.DagsterInstance,
    definitions: dg.Definitions,
    day: dt.date,
    runs: int,
    backfill: list[tuple[str, str, str, float]],
    backfill_days: int,
    dagster_home: Path,
    progress: Progress,
) -> tuple[dict[str, Any], float]:
    """(e): the overhead figures, and the CLI child's peak RSS."""
    from journal_pipeline.runner import LOCAL_INSTANCE_YAML

    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(LOCAL_INSTANCE_YAML)
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}  # the CLI's runs go to a scratch instance
    warm, ticks, cli = [], [], []
    cli_peak = 0.0
    for attempt in range(1, runs + 1):
        progress(f"bench: (e) Dagster overhead, run {attempt}/{runs}: warm materialize, schedule tick, CLI launch")
        seconds, steps = _time_pipeline_day(instance, definitions, day)
        warm.append((seconds, sum(steps.values())))
        ticks.append(_schedule_tick(instance, definitions, day))
        wall, steps_total, peak = _cli_launch(env, day, dagster_home)
        cli.append((wall, steps_total))
        cli_peak = max(cli_peak, peak)
    backfill_steps = sum(_run_step_total(instance, run_id) for _, _, run_id, _ in backfill)
    backfill_wall = sum(run[3] for run in backfill)
    job = definitions.resolve_job_def("daily_journal_job")
    figures: dict[str, Any] = {
        "executor": f"{job.executor_def.name}_executor",
        "runs": runs,
        "day": day.isoformat(),
        "warm_materialize": _overhead(warm),
        "schedule_tick": _overhead(ticks),
        "cli_launch": _overhead(cli),
    }
    if backfill_days:
        figures["backfill_per_partition"] = {
            "partitions": backfill_days,
            "runs": len(backfill),
            "wall_s": backfill_wall / backfill_days,
            "steps_s": backfill_steps / backfill_days,
            "overhead_s": (backfill_wall - backfill_steps) / backfill_days,
        }
    return figures, cli_peak


# --- (g) linear scaling --------------------------------------------------------------------------


def _scale_figures(
    url: str, env: dict[str, str], day: dt.date, txns_per_company_day: int, runs: int, progress: Progress, label: str
) -> dict[str, Any]:
    """``runs`` child processes materializing ``day`` against the database at ``url``."""
    from journal_pipeline.fraud.config import HISTORY_DAYS

    samples = []
    for attempt in range(1, runs + 1):
        progress(f"bench: (g) {label}: {day} in a new process, run {attempt}/{runs}")
        samples.append(_materialize_in_child(env, day))
    transactions = _count(url, COUNT_TRANSACTIONS, day)
    seconds = statistics.median(float(sample["seconds"]) for sample in samples)
    steps = {
        step: statistics.median(float(sample["steps_s"][step]) for sample in samples) for step in samples[0]["steps_s"]
    }
    with psycopg.connect(url) as conn:
        row = conn.execute(COUNT_HISTORY_DAYS, {"day": day, "history_days": HISTORY_DAYS}).fetchone()
        database = conn.info.dbname

    def per_transaction(value: float) -> float:
        return value / transactions * 1e6 if transactions else float("nan")

    return {
        "txns_per_company_day": txns_per_company_day,
        "transactions": transactions,
        "journal_lines": _count(url, COUNT_LINES, day),
        "history_days": int(row[0]) if row else 0,
        "seconds": seconds,
        "seconds_runs": [sample["seconds"] for sample in samples],
        "steps_s": steps,
        "us_per_transaction": per_transaction(seconds),
        "steps_us_per_transaction": {step: per_transaction(value) for step, value in steps.items()},
        "peak_rss_mib": max(float(sample["peak_rss_mib"]) for sample in samples),
        "peak_rss_mib_runs": [sample["peak_rss_mib"] for sample in samples],
        "process_wall_s_runs": [sample["process_wall_s"] for sample in samples],
        "database": database,
    }


def _measure_scaled(
    server: str,
    name: str,
    *,
    companies: int,
    txns_per_day: int,
    volumes: dict[dt.date, int],
    day: dt.date,
    seed: int,
    runs: int,
    storage: Path,
    keep: bool,
    progress: Progress,
) -> dict[str, Any]:
    """(g) at the scaled size: a fresh database seeded with ``volumes`` (transactions per company on
    each day, the last one ``day``), every day run once untimed (one process a day), then ``day``
    timed in a new process per run."""
    from journal_pipeline.seed.generator import seed_database

    url = _fresh_database(server, name)
    env = {
        **os.environ,
        "JOURNAL_DATABASE_URL": url,
        "JOURNAL_PIPELINE_DATABASE_URL": with_user(url, PIPELINE_ROLE),
        "JOURNAL_STORAGE_DIR": str(storage),
    }
    scaled_days = sorted(volumes)
    try:
        for seeded, per_company in volumes.items():  # a day per call: the generator holds a call's rows in memory
            progress(f"bench: (g) seeding {seeded}: {companies} x {per_company:,} transactions")
            seed_database(url, start=seeded, days=1, companies=companies, txns_per_day=per_company, seed=seed)
        with psycopg.connect(url) as conn:
            conn.execute("ANALYZE")
        first_runs = []
        for first in scaled_days:
            progress(f"bench: (g) {txns_per_day:,} per company-day: first run of {first} (untimed)")
            run = _materialize_in_child(env, first)
            first_runs.append(
                {"day": first.isoformat(), "seconds": run["seconds"], "peak_rss_mib": run["peak_rss_mib"]}
            )
        figures = _scale_figures(url, env, day, txns_per_day, runs, progress, f"{txns_per_day:,} per company-day")
        figures["first_runs"] = first_runs
        figures["seeded_txns_per_company"] = {seeded.isoformat(): count for seeded, count in volumes.items()}
        return figures
    finally:
        if not keep:
            _drop_database(server, name)
            shutil.rmtree(storage, ignore_errors=True)


def _scaled_volumes(
    url: str, days: list[dt.date], companies: int, txns_per_day: int, scaled_txns_per_day: int
) -> dict[dt.date, int]:
    """Transactions per company to seed on each scaled day: the day's count in the first database
    (``url``) times scaled_txns_per_day / txns_per_day, so that each scaled day holds that multiple
    of the same day's transactions. (The generator spreads a run's total over its days by weekday
    and month weights, so a day seeded alone would get exactly the average, while a busy day of a
    longer run gets more: 2024-07-02 of the reference run gets 1.24 times it.) A day the first
    database does not have gets the average."""
    volumes = {}
    for day in days:
        seeded = _count(url, COUNT_TRANSACTIONS, day)
        volumes[day] = (
            max(1, round(scaled_txns_per_day * seeded / (companies * txns_per_day))) if seeded else scaled_txns_per_day
        )
    return volumes


def _scaling_summary(reference: dict[str, Any], scaled: dict[str, Any], day: dt.date, runs: int) -> dict[str, Any]:
    def ratio(big: float, small: float) -> float:
        return big / small if small and not math.isnan(small) else float("nan")

    ratio_all = ratio(float(scaled["us_per_transaction"]), float(reference["us_per_transaction"]))
    ref_steps: dict[str, float] = reference["steps_us_per_transaction"]
    big_steps: dict[str, float] = scaled["steps_us_per_transaction"]
    return {
        "measured_day": day.isoformat(),
        "runs": runs,
        "legacy_function": LEGACY_SKIPPED,
        "reference": reference,
        "scaled": scaled,
        "ratio_us_per_transaction": ratio_all,
        "step_ratios": {step: ratio(big_steps.get(step, float("nan")), value) for step, value in ref_steps.items()},
        "targets": {
            "ratio_max": SCALING_RATIO_TARGET,
            "peak_rss_mib_max": SCALING_PEAK_MIB_TARGET,
            "ratio_met": ratio_all <= SCALING_RATIO_TARGET,
            "memory_met": float(scaled["peak_rss_mib"]) < SCALING_PEAK_MIB_TARGET,
        },
    }


# --- the benchmark -------------------------------------------------------------------------------


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
    plans: bool = True,
    scaling_txns_per_day: int | None = None,
    scaling_days: int = 2,
    scaling_runs: int | None = None,
) -> BenchResult:
    """Seed a fresh database and measure (a) to (g); see the module docstring."""
    from journal_pipeline.bench_plans import compare_plans
    from journal_pipeline.definitions import build_definitions
    from journal_pipeline.legacy.runner import run_legacy
    from journal_pipeline.runner import run_partitions
    from journal_pipeline.seed.generator import seed_database

    server = admin_url()
    name = f"journal_bench_{os.getpid()}"
    url = _fresh_database(server, name)
    pipeline_url = with_user(url, PIPELINE_ROLE)
    bench_home = Path(os.environ.get("JOURNAL_HOME", ".journal")) / "bench"
    storage = bench_home / name
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
    scaling_runs = scaling_runs or runs
    result = BenchResult(
        scale={
            "companies": companies,
            "txns_per_day": txns_per_day,
            "days": days,
            "backfill_days": backfill_days,
            "scaling_txns_per_day": scaling_txns_per_day or 0,
            "scaling_days": scaling_days if scaling_txns_per_day else 0,
        },
        measured_days=[d.isoformat() for d in measured],
        runs=runs,
        environment={
            "python": platform.python_version(),
            "cpus": str(os.cpu_count()),
            "machine": platform.machine(),
            "database": name,
        },
    )
    reference: dict[str, Any] = {}
    volumes: dict[dt.date, int] = {}
    reference_volumes: dict[dt.date, int] = {}
    try:
        progress(f"bench: seeding {companies} x {txns_per_day:,} transactions a day, {total_days} day(s)")
        seed_database(url, start=start, days=total_days, companies=companies, txns_per_day=txns_per_day, seed=seed)
        with psycopg.connect(url) as conn:
            conn.execute("ANALYZE")
        for day in measured:
            result.transactions_per_day[day.isoformat()] = _count(url, COUNT_TRANSACTIONS, day)
        definitions = build_definitions()
        with dg.DagsterInstance.ephemeral() as instance:
            # (d) the backfill, which also materializes every measured day's history
            progress(f"bench: (d) pipeline backfill of {total_days} day(s) in one launch")
            backfill = run_partitions(all_days[0], all_days[-1], instance=instance, progress=progress)
            result.backfill_days, result.backfill_runs = total_days, len(backfill.runs)
            result.backfill_pipeline_s = backfill.seconds
            progress(f"bench: (d) legacy function over the same {total_days} day(s)")
            result.backfill_legacy_s = run_legacy(url, start=all_days[0], end=all_days[-1], company_id=None).seconds
            result.backfill_transactions = _count(url, COUNT_TRANSACTIONS_BETWEEN, all_days[0], all_days[-1])
            result.backfill_journal_lines = _count(url, COUNT_LINES_BETWEEN, all_days[0], all_days[-1])
            for day in measured:
                result.journal_lines_per_day[day.isoformat()] = _count(url, COUNT_LINES, day)

            legacy_runs: dict[str, list[float]] = {}
            pipeline_runs: dict[str, list[float]] = {}
            step_runs: dict[str, list[float]] = {}
            floor_runs: dict[str, list[float]] = {}
            floor_parts: dict[str, list[float]] = {}
            cpu_runs: dict[str, list[CpuSpent]] = {"pipeline": [], "floor": []}
            meter = CpuMeter.for_server(url)
            for attempt in range(1, runs + 1):
                for day in measured:
                    key = day.isoformat()
                    progress(f"bench: run {attempt}/{runs}, {key}: (a) legacy, (b) pipeline, (c) floor")
                    legacy_runs.setdefault(key, []).append(_time_legacy_day(url, day))
                    cpu_started = meter.read()
                    seconds, steps = _time_pipeline_day(instance, definitions, day)
                    cpu_runs["pipeline"].append(meter.spent(cpu_started, meter.read()))
                    pipeline_runs.setdefault(key, []).append(seconds)
                    for step, step_seconds in steps.items():
                        step_runs.setdefault(step, []).append(step_seconds)
                    floor, parts, floor_cpu = _time_floor_day(url, day, result.journal_lines_per_day[key], meter)
                    cpu_runs["floor"].append(floor_cpu)
                    floor_runs.setdefault(key, []).append(floor)
                    for part, part_seconds in parts.items():
                        floor_parts.setdefault(part, []).append(part_seconds)
            result.legacy_day_s = {k: statistics.median(v) for k, v in legacy_runs.items()}
            result.pipeline_day_s = {k: statistics.median(v) for k, v in pipeline_runs.items()}
            result.pipeline_steps_s = {k: statistics.median(v) for k, v in step_runs.items()}
            result.floor_day_s = {k: statistics.median(v) for k, v in floor_runs.items()}
            result.floor_parts_s = {k: statistics.median(v) for k, v in floor_parts.items()}
            result.cpu_s = {name: _cpu_medians(samples) for name, samples in cpu_runs.items()}
            result.peak_memory_mib["pipeline_process"] = own_peak_rss_mib()

            if dagster_overhead:
                try:
                    result.dagster, cli_peak = _measure_dagster_overhead(
                        instance,
                        definitions,
                        measured[-1],
                        runs,
                        backfill.runs,
                        total_days,
                        bench_home / f"{name}_dagster_home",
                        progress,
                    )
                    result.peak_memory_mib["cli_run_process"] = cli_peak
                except Exception as exc:  # the figures so far are still worth printing and writing
                    result.dagster = {"error": str(exc)}

        if plans:
            progress(f"bench: (f) EXPLAIN (ANALYZE, BUFFERS), legacy tables and ledger schema, {measured[-1]}")
            try:
                result.plans = compare_plans(url, measured[-1], runs)
            except Exception as exc:
                result.plans = {"error": str(exc)}

        if scaling_txns_per_day:
            scaling_window = _days(measured[-1] - dt.timedelta(days=scaling_days - 1), scaling_days)
            reference_volumes = _scaled_volumes(url, scaling_window, companies, txns_per_day, txns_per_day)
            volumes = {
                day: max(1, round(count * scaling_txns_per_day / txns_per_day))
                for day, count in reference_volumes.items()
            }
    finally:
        os.environ.update({k: v for k, v in saved.items() if v is not None})
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
        if not keep:
            _drop_database(server, name)
            shutil.rmtree(storage, ignore_errors=True)
            shutil.rmtree(bench_home / f"{name}_dagster_home", ignore_errors=True)

    if scaling_txns_per_day:
        # both sizes measured alike: a fresh database holding the same days (so the same history
        # for fraud scoring), every day run once, then the last one timed in new processes
        progress(f"bench: (g) {LEGACY_SKIPPED}")

        def measure(label: str, per_company_day: int, seeded: dict[dt.date, int]) -> dict[str, Any]:
            return _measure_scaled(
                server,
                f"{name}_{label}",
                companies=companies,
                txns_per_day=per_company_day,
                volumes=seeded,
                day=measured[-1],
                seed=seed,
                runs=scaling_runs,
                storage=bench_home / f"{name}_{label}",
                keep=keep,
                progress=progress,
            )

        try:
            reference = measure("reference", txns_per_day, reference_volumes)
            scaled = measure("scaled", scaling_txns_per_day, volumes)
            result.scaling = _scaling_summary(reference, scaled, measured[-1], scaling_runs)
        except Exception as exc:  # e.g. a child killed for lack of memory: a finding, printed with the rest
            result.scaling = {
                "error": f"{scaling_txns_per_day:,} per company-day failed: {exc}",
                "reference": reference,
            }
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result.to_dict(), indent=2, default=str))
    return result


# --- the child process of (g) --------------------------------------------------------------------


def materialize_one_day(day: dt.date) -> dict[str, Any]:
    """Materialize ``day`` in a new ephemeral Dagster instance: wall seconds and step seconds."""
    from journal_pipeline.definitions import build_definitions

    with dg.DagsterInstance.ephemeral() as instance:
        seconds, steps = _time_pipeline_day(instance, build_definitions(), day)
    return {"day": day.isoformat(), "seconds": seconds, "steps_s": steps}


def main(argv: Sequence[str] | None = None) -> int:
    """The benchmark's child processes, each ending its output with a CHILD_REPORT line:

    ``python -m journal_pipeline.bench materialize DAY``: one partition in a new ephemeral Dagster
    instance, against the database and storage of the environment (its timings and peak RSS);
    ``python -m journal_pipeline.bench cli ARGS...``: ``journal-pipeline ARGS...`` (its peak RSS).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) == 2 and arguments[0] == "materialize":
        report = materialize_one_day(dt.date.fromisoformat(arguments[1]))
        status = 0
    elif arguments[:1] == ["cli"]:
        from journal_pipeline.cli import main as cli_main

        status, report = cli_main(arguments[1:]), {}
    else:
        print("usage: python -m journal_pipeline.bench (materialize DAY | cli ARGS...)", file=sys.stderr)
        return 2
    print(CHILD_REPORT + json.dumps({**report, "peak_rss_mib": own_peak_rss_mib()}), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
