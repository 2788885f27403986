"""The main command: migrate, seed a realistic month, run the pipeline and the legacy function
over it, compare them, and print what happened in a few lines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import psycopg

from journal_pipeline.db import admin_url, connect
from journal_pipeline.db.migrate import migrate

SUMMARY_QUERY = """
SELECT c.company_id, c.name, c.base_currency,
       (SELECT count(*) FROM ledger.vouchers v
         WHERE v.company_id = c.company_id AND v.journal_date BETWEEN %(first_day)s AND %(last_day)s),
       (SELECT count(*) FROM ledger.quarantine q
         WHERE q.company_id = c.company_id AND q.journal_date BETWEEN %(first_day)s AND %(last_day)s),
       (SELECT coalesce(sum(amount_base), 0) FROM ledger.journal_lines l
         WHERE l.company_id = c.company_id AND l.dc = 'D' AND l.journal_date BETWEEN %(first_day)s AND %(last_day)s)
FROM legacy.companies c ORDER BY c.company_id
"""

REASONS_QUERY = """
SELECT reason, count(*) FROM ledger.quarantine WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
GROUP BY reason ORDER BY count(*) DESC, reason
"""


def _seeded_days(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date) -> int:
    row = conn.execute(
        "SELECT count(DISTINCT txn_date) FROM legacy.src_transactions WHERE txn_date BETWEEN %s AND %s",
        (first_day, last_day),
    ).fetchone()
    return int(row[0]) if row else 0


def run_demo(
    start: dt.date, days: int, companies: int, txns_per_day: int, seed: int, progress: Callable[[str], None]
) -> tuple[str, bool]:
    from journal_pipeline.legacy.runner import run_legacy
    from journal_pipeline.parity import compare
    from journal_pipeline.runner import run_partitions
    from journal_pipeline.seed.generator import seed_database

    url = admin_url()
    last_day = start + dt.timedelta(days=days - 1)
    window = {"first_day": start, "last_day": last_day}
    progress("1/5 migrate")
    migrate(url)
    with connect(url) as conn:
        already = _seeded_days(conn, start, last_day)
    if already == days:
        progress(f"2/5 seed: {start}..{last_day} is already seeded, keeping it")
    else:
        progress(f"2/5 seed {companies} companies x {txns_per_day} transactions a day, {start}..{last_day}")
        seed_database(
            url,
            start=start,
            days=days,
            companies=companies,
            txns_per_day=txns_per_day,
            seed=seed,
            progress=progress,
        )
    progress("3/5 pipeline (Dagster)")
    pipeline = run_partitions(start, last_day, progress=progress)
    progress("4/5 legacy function fn_insert_sun_journal")
    legacy = run_legacy(url, start=start, end=last_day, company_id=None, progress=progress)
    progress("5/5 parity")
    with connect(url) as conn:
        parity = compare(conn, start, last_day)
        per_company = conn.execute(SUMMARY_QUERY, window).fetchall()
        reasons = conn.execute(REASONS_QUERY, window).fetchall()

    posted = sum(row[3] for row in per_company)
    quarantined = sum(row[4] for row in per_company)
    lines = [
        f"Journal pipeline demo, {start}..{last_day}",
        f"  posted      {posted:>9,} transactions",
        f"  quarantined {quarantined:>9,} transactions: "
        + ", ".join(f"{reason} {count:,}" for reason, count in reasons),
        "  totals (debit = credit, base currency):",
        *[
            f"    company {cid} {name:<24} {base} {debit:>18,}  ({vouchers:,} vouchers, {q:,} quarantined)"
            for cid, name, base, vouchers, q, debit in per_company
        ],
        f"  pipeline    {pipeline.seconds:8.2f} s  ({len(pipeline.runs)} Dagster runs)",
        f"  legacy      {legacy.seconds:8.2f} s  (fn_insert_sun_journal per company and day)",
        "  " + parity.describe(limit=10).replace("\n", "\n  "),
        "",
        "Open the Dagster UI on the same data:  make dev   then  http://127.0.0.1:3000",
    ]
    return "\n".join(lines), parity.equal
