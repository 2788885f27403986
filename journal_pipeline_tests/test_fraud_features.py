"""The scored population: posted transactions only, net and contra lines, limits, local time,
holidays, and the per-day rolling sums every history comparison uses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl

from journal_pipeline.domain.posting import MONEY, TXN_MONEY
from journal_pipeline.fraud.features import build_entries, window_totals

UTC = dt.UTC


def _at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def _transactions() -> pl.DataFrame:
    rows = [
        # txn_id, company, date, created_at (UTC), source, type, created_by, approved_by, currency, mode
        (1, 1, dt.date(2024, 7, 18), _at(2024, 7, 18, 3, 30), "AP", "PI", "u010", "u020", "GBP", "manual"),
        (2, 2, dt.date(2024, 7, 17), _at(2024, 7, 18, 3, 30), "AR", "SI", "u001", None, "USD", "auto"),
        (3, 1, dt.date(2024, 7, 18), _at(2024, 7, 18, 9, 0), "AP", "PI", "u010", "u020", "GBP", "manual"),
        (4, 1, dt.date(2024, 12, 25), _at(2024, 12, 25, 12, 0), "GJ", "JNL", "u099", "u020", "GBP", None),
        (5, 3, dt.date(2024, 1, 15), _at(2024, 1, 15, 12, 0), "GJ", "JNL", "u010", None, "EUR", "manual"),
    ]  # fmt: skip
    frame = pl.DataFrame(
        rows,
        schema=["txn_id", "company_id", "txn_date", "created_at", "source_system", "txn_type", "created_by",
                "approved_by", "currency_raw", "entry_mode"],
        orient="row",
    )  # fmt: skip
    return frame.with_columns(
        pl.col("company_id").cast(pl.Int32),
        pl.lit("desc").alias("description"),
        pl.lit("ACME").alias("counterparty"),
        pl.lit("INV-1").alias("document_ref"),
    )


def _lines() -> pl.DataFrame:
    rows = [
        # txn 1: net, tax, contra (the contra is the line on the other side)
        (1, 1, "D", "5000", "100.00", "100.00"),
        (1, 2, "D", "1400", "20.00", "20.00"),
        (1, 3, "C", "2000", "120.00", "120.00"),
        # txn 2: net and contra
        (2, 1, "C", "4000", "80.00", "100.00"),
        (2, 2, "D", "1990", "80.00", "100.00"),
        # txn 3 was quarantined: no lines
        (4, 1, "D", "6900", "5.00", "5.00"),
        (4, 2, "C", "1200", "5.00", "5.00"),
        (5, 1, "D", "6900", "7.00", "7.00"),
        (5, 2, "C", "1200", "7.00", "7.00"),
    ]
    return pl.DataFrame(
        rows, schema=["txn_id", "line_no", "dc", "account_code", "amount_base", "amount_txn"], orient="row"
    ).with_columns(
        pl.col("line_no").cast(pl.Int16),
        pl.col("amount_base").cast(MONEY),
        pl.col("amount_txn").cast(TXN_MONEY),
    )


USERS = pl.DataFrame(
    {
        "user_id": ["u001", "u010", "u010", "u020"],
        "display_name": ["i", "a", "a", "b"],
        "approval_limit": ["0.00", "5000.00", "7500.00", None],
    }
)  # fmt: skip  (u010's limit changed: the later day's version counts)
COMPANIES = pl.DataFrame(
    {"company_id": [1, 2, 3], "name": ["UK", "US", "??"], "base_currency": ["GBP", "USD", "EUR"],
     "timezone": ["Europe/London", "America/New_York", "Mars/Olympus_Mons"]},
    schema_overrides={"company_id": pl.Int32},
)  # fmt: skip
ACCOUNTS = pl.DataFrame(
    {"company_id": [1, 1, 2, 2], "account_code": ["5000", "2000", "4000", "1990"],
     "account_name": ["P", "C", "S", "Suspense"],
     "account_type": ["EXPENSE", "LIABILITY", "REVENUE", "ASSET"],
     "is_suspense": [False, False, False, True], "is_active": [True, True, True, True]},
    schema_overrides={"company_id": pl.Int32},
)  # fmt: skip


def test_entries_are_the_posted_transactions_with_their_net_and_contra_lines():
    entries = build_entries(_transactions(), _lines(), USERS, COMPANIES, ACCOUNTS)
    assert entries["txn_id"].to_list() == [5, 2, 1, 4]  # by day; 3 was quarantined
    first = entries.filter(pl.col("txn_id") == 1).row(0, named=True)
    assert (first["net_account"], first["net_dc"], first["contra_account"]) == ("5000", "D", "2000")
    assert (first["base_net"], first["base_gross"], first["amount_txn"]) == (
        Decimal("100.00"),
        Decimal("120.00"),
        Decimal("100.000000000000000000"),
    )
    assert first["poster_limit"] == Decimal("7500.00")  # the latest version of u010
    assert first["manual"] is True
    second = entries.filter(pl.col("txn_id") == 2).row(0, named=True)
    assert (second["contra_account"], second["contra_suspense"], second["net_suspense"]) == (
        "1990",
        True,
        False,
    )
    assert second["poster_limit"] == Decimal("0.00")
    assert second["manual"] is False
    assert entries.filter(pl.col("txn_id") == 4)["poster_limit"].to_list() == [None]  # unknown user
    assert entries.filter(pl.col("txn_id") == 4)["manual"].to_list() == [False]  # no entry_mode


def test_local_time_follows_each_companys_zone_and_its_daylight_saving_time():
    entries = build_entries(_transactions(), _lines(), USERS, COMPANIES, ACCOUNTS)
    local = dict(entries.select("txn_id", "local_at").iter_rows())
    assert local[1] == dt.datetime(2024, 7, 18, 4, 30)  # London, summer time (UTC+1)
    assert local[2] == dt.datetime(2024, 7, 17, 23, 30)  # New York, the evening before (UTC-4)
    assert local[4] == dt.datetime(2024, 12, 25, 12, 0)  # London, winter (UTC)
    assert local[5] is None  # no such time zone: the time-of-day tests cannot judge it


def test_a_public_holiday_of_the_companys_country_is_named():
    entries = build_entries(_transactions(), _lines(), USERS, COMPANIES, ACCOUNTS)
    holidays = dict(entries.select("txn_id", "holiday").iter_rows())
    assert holidays == {1: None, 2: None, 4: "Christmas Day (GB)", 5: None}


def test_window_totals_sum_the_scored_day_and_the_days_before_it():
    day = dt.date(2024, 7, 18)
    daily = pl.DataFrame(
        {
            "key": ["a", "a", "a", "a", "b"],
            "day": [day - dt.timedelta(days=d) for d in (0, 1, 3, 4)] + [day],
            "n": [1, 10, 100, 1000, 7],
        }
    )
    targets = pl.DataFrame({"key": ["a", "a", "b", "c"], "day": [day, day - dt.timedelta(days=1), day, day]})
    with_day = window_totals(daily, ["key"], ["n"], targets, 3)
    assert with_day["n"].to_list() == [111, 1110, 7, 0]  # [day-3, day]; [day-4, day-1]; b; nothing for c
    before = window_totals(daily, ["key"], ["n"], targets, 3, include_day=False)
    assert before["n"].to_list() == [110, 1100, 0, 0]  # [day-3, day-1]; [day-4, day-2]
