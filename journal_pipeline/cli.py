"""The ``journal-pipeline`` command line (SPEC section 7).

Every command exits 0 on success and non-zero with a one-line reason on stderr otherwise.
Handlers are thin: they parse, call the module that does the work, and print its summary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence

from journal_pipeline.arguments import date_argument, positive_argument
from journal_pipeline.db import admin_url, redact


class UsageError(Exception):
    """A mistake in what the user asked for; printed as one line, exit status 2."""


def _date_range(start: dt.date, end: dt.date | None) -> tuple[dt.date, dt.date]:
    end = end or start
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}")
    return start, end


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- db ---------------------------------------------------------------------------------------


def cmd_db(args: argparse.Namespace) -> int:
    from journal_pipeline.config import configured_database_url
    from journal_pipeline.db import embedded

    external = configured_database_url()
    if args.action == "url":
        print(redact(external) if external else admin_url())
        return 0
    if external and args.action in ("start", "stop"):
        raise UsageError(
            f"JOURNAL_DATABASE_URL is set: the embedded server is not in use, so there is nothing to {args.action}"
        )
    if args.action == "start":
        url = admin_url()
        print(f"embedded PostgreSQL running: {url}")
    elif args.action == "stop":
        print("embedded PostgreSQL stopped" if embedded.stop() else "embedded PostgreSQL was not running")
    else:
        if external:
            print(f"external database: {redact(external)}")
            return 0
        state = embedded.status()
        print(
            f"embedded PostgreSQL {'running: ' + str(state.url) if state.running else 'not running'}"
            f" (data in {state.pgdata})"
        )
        return 0 if state.running else 3
    return 0


# --- migrate ----------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    from journal_pipeline.db.migrate import migrate

    applied = migrate(admin_url())
    if applied:
        for migration in applied:
            print(f"applied {migration.version:04d} {migration.name}")
    else:
        print("schema is up to date")
    return 0


# --- seed -------------------------------------------------------------------------------------


def cmd_seed(args: argparse.Namespace) -> int:
    from journal_pipeline.db.migrate import migrate
    from journal_pipeline.seed.generator import seed_database

    url = admin_url()
    migrate(url)
    summary = seed_database(
        url,
        start=args.start,
        days=args.days,
        companies=args.companies,
        txns_per_day=args.txns_per_day,
        seed=args.seed,
        progress=progress,
    )
    print(summary)
    return 0


# --- legacy -----------------------------------------------------------------------------------


def cmd_legacy(args: argparse.Namespace) -> int:
    from journal_pipeline.legacy.runner import run_legacy

    start, end = _date_range(args.date, args.end)
    summary = run_legacy(admin_url(), start=start, end=end, company_id=args.company, progress=progress)
    print(summary)
    return 0


# --- run --------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from journal_pipeline.db.migrate import migrate
    from journal_pipeline.runner import run_partitions

    start, end = _date_range(args.start, args.end)
    migrate(admin_url())
    progress(f"materializing {start}..{end} through daily_journal_job")
    print(run_partitions(start, end, progress=progress))
    return 0


# --- parity -----------------------------------------------------------------------------------


def cmd_parity(args: argparse.Namespace) -> int:
    from journal_pipeline.db import connect
    from journal_pipeline.parity import compare

    start, end = _date_range(args.start, args.end)
    with connect(admin_url()) as conn:
        report = compare(conn, start, end)
    print(report.describe(limit=args.limit))
    return 0 if report.equal else 1


# --- demo -------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from journal_pipeline.demo import run_demo

    text, identical = run_demo(args.start, args.days, args.companies, args.txns_per_day, args.seed, progress)
    print(text)
    return 0 if identical else 1


# --- bench ------------------------------------------------------------------------------------


def cmd_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from journal_pipeline.bench import run_bench

    result = run_bench(
        companies=args.companies,
        txns_per_day=args.txns_per_day,
        days=args.days,
        backfill_days=args.backfill_days,
        runs=args.runs,
        start=args.start,
        seed=args.seed,
        output=Path(args.output) if args.output else None,
        keep=args.keep,
        dagster_overhead=not args.no_dagster_overhead,
        progress=progress,
        plans=not args.no_plans,
        scaling_txns_per_day=args.scaling_txns_per_day,
        scaling_days=args.scaling_days,
        scaling_runs=args.scaling_runs,
    )
    print(result.table())
    if args.output:
        print(f"\nwritten to {args.output}")
    for section, error in result.errors.items():
        print(f"journal-pipeline bench: {section} failed: {error}", file=sys.stderr)
    return 1 if result.errors else 0


# --- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="journal-pipeline",
        description="Daily journals, vouchers, GL, fraud scores and audit seals from the legacy sub-ledger.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    db = add("db", cmd_db, "control the embedded PostgreSQL server")
    db.add_argument("action", choices=["start", "stop", "status", "url"])

    add("migrate", cmd_migrate, "create or upgrade every schema; safe to run again")

    seed = add("seed", cmd_seed, "fill the legacy schema with deterministic synthetic data")
    seed.add_argument("--start", type=date_argument, required=True, help="first day (YYYY-MM-DD)")
    seed.add_argument("--days", type=positive_argument, required=True, help="number of days")
    seed.add_argument("--companies", type=positive_argument, default=5, help="number of companies (default 5)")
    seed.add_argument(
        "--txns-per-day", type=positive_argument, default=2000, help="transactions per company and day (default 2000)"
    )
    seed.add_argument("--seed", type=int, default=42, help="random seed (default 42)")

    legacy = add("legacy", cmd_legacy, "run the legacy fn_insert_sun_journal function")
    legacy.add_argument("--date", type=date_argument, required=True, help="the day (YYYY-MM-DD)")
    legacy.add_argument("--end", type=date_argument, help="last day of a range (inclusive); default: --date")
    legacy.add_argument("--company", type=int, help="one company id; default: every company")

    run = add("run", cmd_run, "materialize the six steps for these days through the Dagster definitions")
    run.add_argument("--start", type=date_argument, required=True, help="first day (YYYY-MM-DD)")
    run.add_argument("--end", type=date_argument, help="last day (inclusive); default: --start")

    parity = add("parity", cmd_parity, "compare the pipeline's postings with the legacy function's")
    parity.add_argument("--start", type=date_argument, required=True, help="first day (YYYY-MM-DD)")
    parity.add_argument("--end", type=date_argument, help="last day (inclusive); default: --start")
    parity.add_argument(
        "--limit", type=positive_argument, default=50, help="differences to print per kind (default 50)"
    )

    demo = add("demo", cmd_demo, "migrate, seed a month, run pipeline and legacy function, compare, summarise")
    demo.add_argument("--start", type=date_argument, default=dt.date(2024, 7, 1), help="first day (default 2024-07-01)")
    demo.add_argument("--days", type=positive_argument, default=31, help="number of days (default 31)")
    demo.add_argument("--companies", type=positive_argument, default=5, help="companies (default 5)")
    demo.add_argument("--txns-per-day", type=positive_argument, default=2000, help="per company and day (default 2000)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")

    bench = add(
        "bench",
        cmd_bench,
        "benchmark the pipeline against the legacy function and the COPY floor, with Dagster's overhead, "
        "query plans and (optionally) linear scaling",
    )
    bench.add_argument("--companies", type=positive_argument, default=5, help="companies (default 5)")
    bench.add_argument(
        "--txns-per-day", type=positive_argument, default=20000, help="per company and day (default 20000)"
    )
    bench.add_argument("--days", type=positive_argument, default=3, help="days measured one by one (default 3)")
    bench.add_argument("--backfill-days", type=int, default=30, help="days of the one-launch backfill (default 30)")
    bench.add_argument("--runs", type=positive_argument, default=3, help="runs per measurement; medians (default 3)")
    bench.add_argument(
        "--start", type=date_argument, default=dt.date(2024, 6, 3), help="first seeded day (default 2024-06-03)"
    )
    bench.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    bench.add_argument(
        "--output", default="bench-results/bench.json", help="JSON file (default bench-results/bench.json)"
    )
    bench.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    bench.add_argument("--no-dagster-overhead", action="store_true", help="skip the CLI and schedule-tick launches")
    bench.add_argument("--no-plans", action="store_true", help="skip the EXPLAIN (ANALYZE, BUFFERS) section")
    bench.add_argument(
        "--scaling-txns-per-day",
        type=positive_argument,
        metavar="N",
        help="also time one day at N transactions per company-day in a second database, each run in a new "
        "process with its peak memory, against the reference day timed the same way; the issue's figure "
        "is 200000 (default: off)",
    )
    bench.add_argument(
        "--scaling-days",
        type=positive_argument,
        default=2,
        help="days seeded at the scaling size, the last one measured (default 2)",
    )
    bench.add_argument(
        "--scaling-runs", type=positive_argument, help="runs per scaling measurement; medians (default: --runs)"
    )

    from journal_pipeline.audit.commands import add_audit_commands
    from journal_pipeline.fraud.commands import add_fraud_commands
    from journal_pipeline.operations_commands import add_operations_commands

    add_fraud_commands(commands, add)
    add_audit_commands(commands)
    add_operations_commands(commands)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        status = args.handler(args)
    except UsageError as exc:
        print(f"journal-pipeline {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"journal-pipeline {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place that turns any failure into one line and an exit status
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"journal-pipeline {args.command}: {redact(reason)}", file=sys.stderr)
        return 1
    if args.command not in ("db",):
        progress(f"{args.command} took {time.perf_counter() - started:.2f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
