"""Reading the source contract (SPEC section 2) into Polars with COPY.

Where a day's data enters the pipeline. Each query is COPY'd out as CSV (the server streams it;
nothing is fetched row by row) and parsed by Polars with an explicit schema, so an odd value
never changes a column's type. Money stays text until journal_pipeline.domain.amounts parses it
exactly: jsonb numbers are read through ``->>``, which prints PostgreSQL's exact numeric text.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import psycopg
from psycopg import sql

from journal_pipeline.db.copy import copy_to_polars
from journal_pipeline.domain.posting import FX_LOOKBACK_DAYS

TRANSACTIONS_QUERY = """
SELECT txn_id, company_id, txn_date, created_at AT TIME ZONE 'UTC' AS created_at,
       source_system, txn_type, created_by, approved_by,
       data::text AS data,
       data ->> 'amount'     AS amount_raw,   jsonb_typeof(data -> 'amount')     AS amount_type,
       data ->> 'tax_amount' AS tax_raw,      jsonb_typeof(data -> 'tax_amount') AS tax_type,
       data ->> 'currency'   AS currency_raw, jsonb_typeof(data -> 'currency')   AS currency_type,
       data ->> 'description'  AS description,
       data ->> 'cost_center'  AS cost_center,
       data ->> 'counterparty' AS counterparty,
       data ->> 'document_ref' AS document_ref,
       data ->> 'entry_mode'   AS entry_mode
FROM legacy.src_transactions
WHERE txn_date >= {first_day} AND txn_date <= {last_day}
ORDER BY txn_id
"""

TRANSACTIONS_SCHEMA: dict[str, pl.DataType] = {
    "txn_id": pl.Int64(),
    "company_id": pl.Int32(),
    "txn_date": pl.Date(),
    "created_at": pl.String(),  # parsed below: PostgreSQL prints microseconds only when non-zero
    "source_system": pl.String(),
    "txn_type": pl.String(),
    "created_by": pl.String(),
    "approved_by": pl.String(),
    "data": pl.String(),
    "amount_raw": pl.String(),
    "amount_type": pl.String(),
    "tax_raw": pl.String(),
    "tax_type": pl.String(),
    "currency_raw": pl.String(),
    "currency_type": pl.String(),
    "description": pl.String(),
    "cost_center": pl.String(),
    "counterparty": pl.String(),
    "document_ref": pl.String(),
    "entry_mode": pl.String(),
}

REFERENCE_QUERIES: dict[str, tuple[str, dict[str, pl.DataType]]] = {
    "companies": (
        "SELECT company_id, name, base_currency, timezone FROM legacy.companies ORDER BY company_id",
        {
            "company_id": pl.Int32(),
            "name": pl.String(),
            "base_currency": pl.String(),
            "timezone": pl.String(),
        },
    ),
    "accounts": (
        "SELECT company_id, account_code, account_name, account_type, is_suspense::text, is_active::text"
        " FROM legacy.accounts ORDER BY company_id, account_code",
        {
            "company_id": pl.Int32(),
            "account_code": pl.String(),
            "account_name": pl.String(),
            "account_type": pl.String(),
            "is_suspense": pl.Boolean(),
            "is_active": pl.Boolean(),
        },
    ),
    "posting_rules": (
        "SELECT company_id, txn_type, journal_type, net_account, net_side, tax_account, contra_account"
        " FROM legacy.posting_rules ORDER BY company_id, txn_type",
        {
            "company_id": pl.Int32(),
            "txn_type": pl.String(),
            "journal_type": pl.String(),
            "net_account": pl.String(),
            "net_side": pl.String(),
            "tax_account": pl.String(),
            "contra_account": pl.String(),
        },
    ),
    "users": (
        "SELECT user_id, display_name, approval_limit::text AS approval_limit FROM legacy.users ORDER BY user_id",
        {"user_id": pl.String(), "display_name": pl.String(), "approval_limit": pl.String()},
    ),
    "fx_rates": (
        "SELECT rate_date, currency, base_currency, rate::text AS rate FROM legacy.fx_rates"
        " WHERE rate_date >= {first_day} AND rate_date <= {last_day}"
        " ORDER BY rate_date, currency, base_currency",
        {"rate_date": pl.Date(), "currency": pl.String(), "base_currency": pl.String(), "rate": pl.String()},
    ),
}

# The frames of one extract, in the order the pipeline shows them.
SOURCE_FRAMES = ("transactions", "companies", "accounts", "posting_rules", "fx_rates", "users")


def _query(text: str, first_day: dt.date, last_day: dt.date) -> sql.Composable:
    return sql.SQL(text).format(first_day=sql.Literal(first_day), last_day=sql.Literal(last_day))  # type: ignore[arg-type]


def read_transactions(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date) -> pl.DataFrame:
    """Every src_transactions row with first_day <= txn_date <= last_day, ordered by txn_id."""
    frame = copy_to_polars(conn, _query(TRANSACTIONS_QUERY, first_day, last_day), TRANSACTIONS_SCHEMA)
    return frame.with_columns(
        pl.col("created_at").str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC", strict=False)
    )


def read_source(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date) -> dict[str, pl.DataFrame]:
    """The transactions of the days and the reference data they are posted with, read in one
    REPEATABLE READ snapshot so that the frames agree with each other."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    frames = {"transactions": read_transactions(conn, first_day, last_day)}
    rates_from = first_day - dt.timedelta(days=FX_LOOKBACK_DAYS)
    for name, (text, schema) in REFERENCE_QUERIES.items():
        frames[name] = copy_to_polars(conn, _query(text, rates_from, last_day), schema)
    conn.commit()
    return {name: frames[name] for name in SOURCE_FRAMES}
