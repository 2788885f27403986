"""Time the sealing of one large day: ``python -m journal_pipeline.audit.bench [--lines 300000]``.

Creates a scratch database on the configured server (the embedded one by default), migrates it,
posts ``--lines`` synthetic journal lines for one day with a single INSERT ... SELECT, then, as the
pipeline role, seals the day with :func:`~journal_pipeline.audit.seal.seal_partitions` (read from
PostgreSQL, encode, hash, build the tree, insert the seal, its leaves and its event, commit) and
verifies it. Each phase is timed separately too. The scratch database is dropped afterwards
unless ``--keep`` is given. Nothing here is used by the pipeline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
import uuid
from collections.abc import Sequence

import psycopg
from psycopg import sql

from journal_pipeline.audit.leaves import digest_day
from journal_pipeline.audit.seal import append_seal, read_day_lines, seal_partitions, verify
from journal_pipeline.audit.store import check_ledger_columns
from journal_pipeline.db import admin_url, pipeline_url
from journal_pipeline.db.connection import with_database
from journal_pipeline.db.migrate import migrate

DAY = dt.date(2024, 7, 18)

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
           ((t * 7919) %% 1000000) / 100.0 + 1 AS net
) AS r
CROSS JOIN LATERAL (
    SELECT r.rate, CASE l WHEN 1 THEN round(r.net, 2) WHEN 2 THEN round(r.net * 0.2, 2)
                          ELSE round(r.net, 2) + round(r.net * 0.2, 2) END AS base
) AS a
"""


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
            timings = []
            for attempt in range(1, repeat + 1):
                started = time.perf_counter()
                (seal,) = seal_partitions(conn, [DAY], f"bench-{attempt}", "bench")
                timings.append(time.perf_counter() - started)
                note = " (first read after posting)" if attempt == 1 else ""
                print(
                    f"seal_partitions: {seal.line_count:,} lines sealed as seal {seal.seal_seq} in "
                    f"{timings[-1]:.3f} s{note}"
                )
            load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
            print(
                f"sealing {lines:,} lines: min {min(timings):.3f} s, median {statistics.median(timings):.3f} s "
                f"over {repeat} run(s); {os.cpu_count()} CPU(s), load average {load}"
            )

            print("phases of one more sealing:")
            with conn.transaction():
                started = time.perf_counter()
                check_ledger_columns(conn)
                day_lines = read_day_lines(conn, DAY)
                mark = _timed("read (COPY -> Polars)", started)
                digest = digest_day(day_lines)
                mark = _timed("encode + leaf hashes + tree + totals", mark)
                append_seal(conn, DAY, digest, "bench-phases", "bench")
                mark = _timed("insert seal, leaves and event", mark)
            _timed("commit", mark)
            _timed("total", started)

            started = time.perf_counter()
            report = verify(conn, date=DAY)
            print(
                f"verify --date {DAY}: {'ok' if report.ok else report.summary()} in "
                f"{time.perf_counter() - started:.3f} s"
            )
    finally:
        if keep:
            print(f"kept database {scratch}")
        else:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time the sealing (and verifying) of one large day of journal lines.")
    parser.add_argument("--lines", type=int, default=300_000, help="journal lines in the day (default 300000)")
    parser.add_argument("--repeat", type=int, default=3, help="sealings to time (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    run(args.lines, args.repeat, args.keep)


if __name__ == "__main__":
    main()
