"""Time the sealing of one large day: ``python -m journal_pipeline.audit.bench [--lines 300000]``.

Creates a scratch database on the configured server (the embedded one by default), migrates it,
posts ``--lines`` synthetic journal lines for one day with a single INSERT ... SELECT, then, as the
pipeline role, does what the ``audit_seals`` step does, ``--repeat`` times: seals the day with
:func:`~journal_pipeline.audit.seal.seal_partitions` (read from PostgreSQL block by block, encode,
hash, build the tree, insert the seal, its leaves and its event, commit) and runs the step's
blocking check, :func:`~journal_pipeline.audit.seal_check.check_new_seals`. Medians of both and of
their sum are printed, then the phases of one more sealing, then the full recomputation
(:func:`~journal_pipeline.audit.seal.verify` of the day, what ``journal-pipeline audit verify``
and the weekly maintenance job do) and the process's peak memory. The scratch database is
dropped afterwards unless ``--keep`` is given. Nothing here is used by the pipeline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import psutil
import psycopg
from psycopg import sql

from journal_pipeline.audit.leaves import DayDigester
from journal_pipeline.audit.seal import append_seal, seal_partitions, verify
from journal_pipeline.audit.seal_check import check_new_seals
from journal_pipeline.audit.store import check_ledger_columns, read_day_lines_in_blocks
from journal_pipeline.db import admin_url, pipeline_url
from journal_pipeline.db.connection import with_database
from journal_pipeline.db.migrate import migrate

DAY = dt.date(2024, 7, 18)
T = TypeVar("T")

# Three lines per transaction (net and tax debited, gross credited), five companies, two
# currencies, descriptions and references of realistic length, some NULL cost centres.
_POST_DAY = """
INSERT INTO ledger.journal_lines
SELECT %(day)s::date, 1 + t %% 5, (ARRAY['AP', 'AR', 'CB', 'PAY', 'GJ'])[1 + t %% 5], t / 5 + 1, l::smallint,
       10000000 + t, (ARRAY['6000', '2200', '4000'])[l], 2024007, CASE WHEN l < 3 THEN 'D' ELSE 'C' END,
       a.base, round(a.base / a.rate, 4), CASE WHEN t %% 3 = 0 THEN 'USD' ELSE 'EUR' END, a.rate,
       'Invoice ' || t || ' for services rendered in July', CASE WHEN t %% 4 = 0 THEN NULL ELSE 'CC' || t %% 40 END,
       'Supplier ' || t %% 997, 'INV-2024-' || lpad(t::text, 8, '0')
FROM generate_series(0, %(txns)s - 1) AS t
CROSS JOIN generate_series(1, 3) AS l
CROSS JOIN LATERAL (
    SELECT CASE WHEN t %% 3 = 0 THEN 0.92345678 ELSE 1.00000000 END::numeric(18,8) AS rate,
           ((t::bigint * 7919) %% 1000000) / 100.0 + 1 AS net
) AS r
CROSS JOIN LATERAL (
    SELECT r.rate, CASE l WHEN 1 THEN round(r.net, 2) WHEN 2 THEN round(r.net * 0.2, 2)
                          ELSE round(r.net, 2) + round(r.net * 0.2, 2) END AS base
) AS a
"""


@dataclass(frozen=True)
class Cost:
    """Wall time, and the CPU time of this process and of its PostgreSQL backend (when the server is local).

    The CPU times are what to compare on a machine that others share: wall time there mostly
    measures how busy the other processes are.
    """

    wall: float
    client_cpu: float
    server_cpu: float | None

    def __add__(self, other: Cost) -> Cost:
        server = None if self.server_cpu is None or other.server_cpu is None else self.server_cpu + other.server_cpu
        return Cost(self.wall + other.wall, self.client_cpu + other.client_cpu, server)

    def __str__(self) -> str:
        server = "n/a" if self.server_cpu is None else f"{self.server_cpu:.3f} s"
        return f"{self.wall:.3f} s (CPU: this process {self.client_cpu:.3f} s, PostgreSQL {server})"


def _backend_cpu(backend: psutil.Process | None) -> float | None:
    if backend is None:
        return None
    times = backend.cpu_times()
    return times.user + times.system


def _measure(conn: psycopg.Connection, work: Callable[[], T]) -> tuple[T, Cost]:
    try:
        backend: psutil.Process | None = psutil.Process(conn.info.backend_pid)
    except psutil.Error:  # a server on another machine
        backend = None
    server, client, wall = _backend_cpu(backend), time.process_time(), time.perf_counter()
    result = work()
    wall, client = time.perf_counter() - wall, time.process_time() - client
    server_after = _backend_cpu(backend)
    return result, Cost(wall, client, None if server is None or server_after is None else server_after - server)


def _median(costs: Sequence[Cost]) -> Cost:
    servers = [cost.server_cpu for cost in costs if cost.server_cpu is not None]
    return Cost(
        statistics.median(cost.wall for cost in costs),
        statistics.median(cost.client_cpu for cost in costs),
        statistics.median(servers) if len(servers) == len(costs) else None,
    )


def _timed(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {label:<34} {now - started:6.3f} s")
    return now


def run(lines: int, repeat: int, keep: bool) -> None:
    server = admin_url()
    scratch = f"audit_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    admin, pipeline = with_database(server, scratch), with_database(pipeline_url(), scratch)
    try:
        migrate(admin)
        txns = -(-lines // 3)
        started = time.perf_counter()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(_POST_DAY, {"day": DAY, "txns": txns})
            count = conn.execute("SELECT count(*) FROM ledger.journal_lines").fetchone()
        print(f"posted {count[0] if count else 0:,} lines for {DAY} in {time.perf_counter() - started:.2f} s")

        with psycopg.connect(pipeline, autocommit=True) as conn:
            sealing: list[Cost] = []
            checking: list[Cost] = []
            for attempt in range(1, repeat + 1):
                run_id = f"bench-{attempt}"
                (seal,), sealed = _measure(conn, partial(seal_partitions, conn, [DAY], run_id, "bench"))
                report, checked = _measure(conn, partial(check_new_seals, conn, [seal]))
                sealing.append(sealed)
                checking.append(checked)
                note = " (first read after posting)" if attempt == 1 else ""
                print(f"seal {seal.seal_seq}: {seal.line_count:,} lines sealed in {sealed}{note}")
                print(f"        checked in {checked}: {'ok' if report.ok else report.summary()}")
            step = [sealed + checked for sealed, checked in zip(sealing, checking, strict=True)]
            load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
            print(f"{lines:,} lines, medians over {repeat} run(s); {os.cpu_count()} CPU(s), load average {load}:")
            print(f"  sealing                  {_median(sealing)}")
            print(f"  check                    {_median(checking)}")
            print(f"  step (sealing + check)   {_median(step)}, fastest {min(cost.wall for cost in step):.3f} s")

            print("phases of one more sealing:")
            with conn.transaction():
                started = time.perf_counter()
                check_ledger_columns(conn)
                digester = DayDigester()
                read_day_lines_in_blocks(conn, DAY, digester.add)
                mark = _timed("read + encode + leaf hashes, by block", started)
                digest = digester.finish()
                mark = _timed("leaf order + Merkle root", mark)
                append_seal(conn, DAY, digest, "bench-phases", "bench")
                mark = _timed("insert seal, leaves and event", mark)
            _timed("commit", mark)
            _timed("total", started)

            report, verified = _measure(conn, partial(verify, conn, date=DAY))
            print(
                f"verify --date {DAY} (the full recomputation): {'ok' if report.ok else report.summary()} in {verified}"
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(f"peak memory of this process: {peak:,.0f} MiB")
    finally:
        if keep:
            print(f"kept database {scratch}")
        else:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Time the sealing, checking and verifying of one large day of journal lines."
    )
    parser.add_argument("--lines", type=int, default=300_000, help="journal lines in the day (default 300000)")
    parser.add_argument("--repeat", type=int, default=3, help="sealings to time (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    run(args.lines, args.repeat, args.keep)


if __name__ == "__main__":
    main()
