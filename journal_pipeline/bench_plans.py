"""The queries that matter, planned on the legacy design and on the ledger: ``journal-pipeline bench``'s
EXPLAIN (ANALYZE, BUFFERS) section.

"Before" is the legacy design: what ``legacy.fn_insert_sun_journal`` writes (``legacy.sun_journal``,
``legacy.vouchers``, ``legacy.gl_entries``, with their indexes as sql/migrations/0002 made them).
"After" is the pipeline's ``ledger`` schema (sql/migrations/0005 and 0009). Both hold the same days
of the same seeded data when the benchmark plans them, so each pair returns the same rows.

Every statement names tables and views only, never an index or a partition, so that the plans
follow whatever layout the migrations give those tables. Each runs inside a transaction that is
rolled back, so the deletes delete nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

# What the plans read, vacuumed and analyzed first so that both designs are planned from fresh
# statistics and visibility maps (the benchmark has just deleted and rewritten days in both).
PLANNED_TABLES = (
    ("legacy", "sun_journal"),
    ("legacy", "vouchers"),
    ("legacy", "gl_entries"),
    ("ledger", "journal_lines"),
    ("ledger", "vouchers"),
    ("ledger", "gl_daily"),
)
SUMMARY_VIEW = ("ledger", "mv_journal_summary")


@dataclass(frozen=True)
class PlanQuery:
    """One question asked of both designs: the legacy statement and the ledger statement.

    Parameters (``%(name)s``) come from :func:`plan_parameters`.
    """

    name: str
    question: str
    legacy_sql: str
    ledger_sql: str


PLAN_QUERIES: tuple[PlanQuery, ...] = (
    PlanQuery(
        name="day_lines_delete",
        question="delete a day's journal lines, as the legacy function's undo does (rolled back); the "
        "posting may replace a day otherwise, see journal_pipeline/ledger.py",
        legacy_sql="DELETE FROM legacy.sun_journal WHERE journal_date = %(day)s",
        ledger_sql="DELETE FROM ledger.journal_lines WHERE journal_date BETWEEN %(day)s AND %(day)s",
    ),
    PlanQuery(
        name="day_lines_read",
        question="the seal's read of a day: every journal line of the day",
        legacy_sql="SELECT * FROM legacy.sun_journal WHERE journal_date = %(day)s",
        ledger_sql="SELECT * FROM ledger.journal_lines WHERE journal_date = %(day)s",
    ),
    PlanQuery(
        name="gl_balances_company_period",
        question="GL balances of one company and period",
        legacy_sql=(
            "SELECT account_code, debit, credit FROM legacy.gl_entries"
            " WHERE company_id = %(company_id)s AND period = %(period)s"
        ),
        ledger_sql=(
            "SELECT account_code, debit, credit FROM ledger.gl_balances"
            " WHERE company_id = %(company_id)s AND period = %(period)s"
        ),
    ),
    PlanQuery(
        name="txn_lines_by_id",
        question="one transaction's lines by txn_id alone",
        legacy_sql="SELECT * FROM legacy.sun_journal WHERE txn_id = %(txn_id)s",
        ledger_sql="SELECT * FROM ledger.journal_lines WHERE txn_id = %(txn_id)s",
    ),
    PlanQuery(
        name="txn_lines_by_day_and_id",
        question="one transaction's lines by day and txn_id (audit prove --date)",
        legacy_sql="SELECT * FROM legacy.sun_journal WHERE journal_date = %(day)s AND txn_id = %(txn_id)s",
        ledger_sql="SELECT * FROM ledger.journal_lines WHERE journal_date = %(day)s AND txn_id = %(txn_id)s",
    ),
    PlanQuery(
        name="day_vouchers",
        question="the vouchers of a day",
        legacy_sql="SELECT * FROM legacy.vouchers WHERE journal_date = %(day)s",
        ledger_sql="SELECT * FROM ledger.vouchers WHERE journal_date = %(day)s",
    ),
    PlanQuery(
        name="journal_summary",
        question="journal summary of one company and period: aggregated from the lines (legacy) "
        "vs ledger.mv_journal_summary",
        legacy_sql=(
            "SELECT company_id, period, journal_type, account_code, count(*) AS line_count,"
            " coalesce(sum(amount_base) FILTER (WHERE dc = 'D'), 0) AS debit,"
            " coalesce(sum(amount_base) FILTER (WHERE dc = 'C'), 0) AS credit"
            " FROM legacy.sun_journal WHERE company_id = %(company_id)s AND period = %(period)s"
            " GROUP BY company_id, period, journal_type, account_code"
        ),
        ledger_sql=(
            "SELECT company_id, period, journal_type, account_code, line_count, debit, credit"
            " FROM ledger.mv_journal_summary WHERE company_id = %(company_id)s AND period = %(period)s"
        ),
    ),
    PlanQuery(
        name="journal_summary_from_lines",
        question="the same summary aggregated from the lines in both designs (what the view saves)",
        legacy_sql=(
            "SELECT company_id, period, journal_type, account_code, count(*) AS line_count,"
            " coalesce(sum(amount_base) FILTER (WHERE dc = 'D'), 0) AS debit,"
            " coalesce(sum(amount_base) FILTER (WHERE dc = 'C'), 0) AS credit"
            " FROM legacy.sun_journal WHERE company_id = %(company_id)s AND period = %(period)s"
            " GROUP BY company_id, period, journal_type, account_code"
        ),
        ledger_sql=(
            "SELECT company_id, period, journal_type, account_code, count(*) AS line_count,"
            " coalesce(sum(amount_base) FILTER (WHERE dc = 'D'), 0) AS debit,"
            " coalesce(sum(amount_base) FILTER (WHERE dc = 'C'), 0) AS credit"
            " FROM ledger.journal_lines WHERE company_id = %(company_id)s AND period = %(period)s"
            " GROUP BY company_id, period, journal_type, account_code"
        ),
    ),
    PlanQuery(
        name="lines_by_counterparty",
        question="journal lines of one counterparty: JSON containment on the legacy GIN-indexed data "
        "vs the ledger's column (no index on src_transactions.data, so no source JSON search)",
        legacy_sql=(
            "SELECT * FROM legacy.sun_journal WHERE data @> jsonb_build_object('counterparty', %(counterparty)s::text)"
        ),
        ledger_sql="SELECT * FROM ledger.journal_lines WHERE counterparty = %(counterparty)s",
    ),
)

_EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {}"

# The day's middle voucher: a transaction that has lines in both designs.
_MIDDLE_TRANSACTION = """
SELECT company_id, txn_id FROM ledger.vouchers WHERE journal_date = %(day)s
ORDER BY txn_id OFFSET (SELECT count(*) / 2 FROM ledger.vouchers WHERE journal_date = %(day)s) LIMIT 1
"""
_TRANSACTION_COUNTERPARTY = """
SELECT counterparty FROM ledger.journal_lines
WHERE journal_date = %(day)s AND txn_id = %(txn_id)s AND counterparty IS NOT NULL
ORDER BY line_no LIMIT 1
"""
_ANY_COUNTERPARTY = """
SELECT counterparty FROM ledger.journal_lines WHERE journal_date = %(day)s AND counterparty IS NOT NULL LIMIT 1
"""


def plan_parameters(conn: psycopg.Connection, day: dt.date) -> dict[str, Any]:
    """Parameters that make every query find rows on ``day``: the day, its period, the company
    and txn_id of the day's middle voucher, and a counterparty of that transaction."""
    row = conn.execute(_MIDDLE_TRANSACTION, {"day": day}).fetchone()
    if row is None:
        raise ValueError(f"ledger.vouchers has no voucher on {day}: run the pipeline for that day before planning")
    company_id, txn_id = row
    found = conn.execute(_TRANSACTION_COUNTERPARTY, {"day": day, "txn_id": txn_id}).fetchone()
    found = found or conn.execute(_ANY_COUNTERPARTY, {"day": day}).fetchone()
    return {
        "day": day,
        "period": day.year * 1000 + day.month,
        "company_id": company_id,
        "txn_id": txn_id,
        "counterparty": found[0] if found else "",
    }


def prepare(url: str) -> None:
    """Refresh the journal summary and VACUUM ANALYZE what the plans read (untimed)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(sql.Identifier(*SUMMARY_VIEW)))
        tables = sql.SQL(", ").join(sql.Identifier(*name) for name in (*PLANNED_TABLES, SUMMARY_VIEW))
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(tables))


def explain(conn: psycopg.Connection, statement: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of ``statement``, in a transaction rolled back after."""
    try:
        row = conn.execute(sql.SQL(_EXPLAIN).format(sql.SQL(statement)), parameters).fetchone()
    finally:
        conn.rollback()
    if row is None:
        raise RuntimeError("EXPLAIN returned no plan")
    document = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    return document[0] if isinstance(document, list) else document


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []) or []:
        yield from _nodes(child)


def _label(node: dict[str, Any]) -> str:
    kind = str(node.get("Node Type", "?"))
    relation = node.get("Relation Name")
    index = node.get("Index Name")
    if kind == "ModifyTable":
        return f"{node.get('Operation', 'Modify')} on {relation}"
    if kind == "Bitmap Heap Scan":
        indexes = sorted({str(n["Index Name"]) for n in _nodes(node) if n.get("Node Type") == "Bitmap Index Scan"})
        return (
            f"Bitmap Heap Scan on {relation} ({', '.join(indexes)})" if indexes else f"Bitmap Heap Scan on {relation}"
        )
    if index:
        return f"{kind} using {index} on {relation}" if relation else f"{kind} using {index}"
    if relation:
        return f"{kind} on {relation}"
    strategy = node.get("Strategy")
    return f"{kind} ({strategy})" if strategy and strategy != "Plain" else kind


def _scans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The nodes that read a relation, top down; a bitmap heap scan stands for its index scans."""
    kind = str(node.get("Node Type", ""))
    if node.get("Relation Name") or kind.endswith("Scan"):
        yield node
        if kind == "Bitmap Heap Scan":
            return
    for child in node.get("Plans", []) or []:
        yield from _scans(child)


def describe(plan: dict[str, Any], most: int = 2) -> str:
    """The top plan node, then the distinct ways the relations are read: "Aggregate <- Seq Scan on
    sun_journal". Many identical scans (one per partition) are counted, not listed."""
    top: dict[str, Any] = plan["Plan"]
    labels: list[str] = []
    for node in _scans(top):
        label = _label(node)
        if label not in labels:
            labels.append(label)
    head = _label(top)
    reads = [label for label in labels if label != head]
    shown = reads[:most] + ([f"+{len(reads) - most} more"] if len(reads) > most else [])
    return " <- ".join([head, ", ".join(shown)]) if shown else head


def _rows(plan: dict[str, Any]) -> int:
    """Rows the statement returned, or for a DELETE the rows it deleted."""
    top: dict[str, Any] = plan["Plan"]
    if top.get("Node Type") == "ModifyTable" and top.get("Plans"):
        top = top["Plans"][0]
    return int(top.get("Actual Rows", 0)) * int(top.get("Actual Loops", 1))


def measure(conn: psycopg.Connection, statement: str, parameters: dict[str, Any], runs: int) -> dict[str, Any]:
    """``runs`` EXPLAIN ANALYZE executions: the median execution time, and the last run's plan and buffers."""
    plans = [explain(conn, statement, parameters) for _ in range(runs)]
    last = plans[-1]
    top: dict[str, Any] = last["Plan"]
    executions = [float(plan["Execution Time"]) for plan in plans]
    return {
        "sql": statement,
        "execution_ms": statistics.median(executions),
        "execution_ms_runs": executions,
        "planning_ms": float(last.get("Planning Time", 0.0)),
        "rows": _rows(last),
        "shared_hit_blocks": int(top.get("Shared Hit Blocks", 0)),
        "shared_read_blocks": int(top.get("Shared Read Blocks", 0)),
        "top": describe(last),
        "plan": last,
    }


def compare_plans(url: str, day: dt.date, runs: int) -> dict[str, Any]:
    """Every PLAN_QUERIES pair planned and run on the database at ``url`` (admin role) for ``day``."""
    prepare(url)
    with psycopg.connect(url) as conn:
        parameters = plan_parameters(conn, day)
        conn.rollback()
        queries = [
            {
                "name": query.name,
                "question": query.question,
                "before": measure(conn, query.legacy_sql, parameters, runs),
                "after": measure(conn, query.ledger_sql, parameters, runs),
            }
            for query in PLAN_QUERIES
        ]
    return {
        "day": day.isoformat(),
        "runs": runs,
        "parameters": {key: str(value) if isinstance(value, dt.date) else value for key, value in parameters.items()},
        "queries": queries,
    }


def plans_table(plans: dict[str, Any]) -> list[str]:
    """The plans section of the benchmark's table."""
    if "error" in plans:
        return [f"query plans: {plans['error']}"]
    rows = [
        f"query plans, EXPLAIN (ANALYZE, BUFFERS) on {plans['day']}, median of {plans['runs']} run(s): "
        "before = legacy tables, after = ledger schema",
        f"{'':<29}{'':<7}{'ms':>10}{'rows':>10}{'hit':>10}{'read':>9}  top plan nodes",
    ]
    for query in plans["queries"]:
        for side in ("before", "after"):
            figures = query[side]
            rows.append(
                f"  {query['name'] if side == 'before' else '':<27}{side:<7}{figures['execution_ms']:>10.2f}"
                f"{figures['rows']:>10,}{figures['shared_hit_blocks']:>10,}{figures['shared_read_blocks']:>9,}"
                f"  {figures['top']}"
            )
    return rows
