"""The scored population's rows: one per posted transaction, with what the fraud tests look at.

:func:`build_entries` joins a day's extracted transactions with their journal lines (posted only:
a quarantined transaction has no lines and is not scored), the poster's and approver's approval
limits, the accounts' suspense flags and the company's time zone and holiday calendar. The
journal_lines step builds them once per day and stores them with the per-day counts the tests
compare with (journal_pipeline.fraud.population); the fraud asset reads them back.

:func:`window_totals` is the one helper for per-day rolling sums over those counts: every
statistic is computed per scored day from that day and the days before it, never from later days.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache

import polars as pl

from journal_pipeline.domain.holidays import country_for_timezone, holidays_between
from journal_pipeline.domain.posting import MONEY, TXN_MONEY

# What build_entries reads of the extract's transactions and of the journal lines.
TRANSACTION_COLUMNS = [
    "txn_id", "company_id", "txn_date", "created_at", "source_system", "txn_type", "created_by",
    "approved_by", "currency_raw", "description", "counterparty", "document_ref", "entry_mode",
]  # fmt: skip
LINE_COLUMNS = ["txn_id", "line_no", "dc", "account_code", "amount_base", "amount_txn"]

ENTRY_SCHEMA: dict[str, pl.DataType] = {
    "txn_id": pl.Int64(),
    "company_id": pl.Int32(),
    "day": pl.Date(),
    "created_at": pl.Datetime("us", "UTC"),
    "local_at": pl.Datetime("us"),  # created_at on the company's wall clock (null: unknown zone)
    "source_system": pl.String(),
    "txn_type": pl.String(),
    "created_by": pl.String(),
    "approved_by": pl.String(),
    "manual": pl.Boolean(),
    "description": pl.String(),
    "counterparty": pl.String(),
    "document_ref": pl.String(),
    "currency": pl.String(),
    "amount_txn": TXN_MONEY,  # net amount as keyed, in the transaction currency (exact)
    "base_net": MONEY,
    "base_gross": MONEY,
    "net_account": pl.String(),
    "net_dc": pl.String(),
    "contra_account": pl.String(),
    "net_suspense": pl.Boolean(),
    "contra_suspense": pl.Boolean(),
    "poster_limit": MONEY,  # null: unlimited or unknown user
    "holiday": pl.String(),  # name of the public holiday on the local date, else null
}


def build_entries(
    transactions: pl.DataFrame,
    lines: pl.DataFrame,
    users: pl.DataFrame,
    companies: pl.DataFrame,
    accounts: pl.DataFrame,
) -> pl.DataFrame:
    """One row per posted transaction (ENTRY_SCHEMA), sorted by day and txn_id.

    ``transactions`` has TRANSACTION_COLUMNS, ``lines`` LINE_COLUMNS (line 1 is the net line, the
    line on the other side is the contra line: docs/posting-semantics.md). Reference frames loaded
    over several days may hold a key twice if it changed; the latest day's version is used.
    """
    users = users.unique(subset=["user_id"], keep="last", maintain_order=True)
    companies = companies.unique(subset=["company_id"], keep="last", maintain_order=True)
    accounts = accounts.unique(subset=["company_id", "account_code"], keep="last", maintain_order=True)
    net = lines.filter(pl.col("line_no") == 1).select(
        "txn_id",
        pl.col("account_code").alias("net_account"),
        pl.col("dc").alias("net_dc"),
        pl.col("amount_base").alias("base_net"),
        "amount_txn",
    )
    contra = (
        lines.filter(pl.col("line_no") > 1)
        .select("txn_id", "dc", "account_code", "amount_base")
        .join(net.select("txn_id", "net_dc"), on="txn_id")
        .filter(pl.col("dc") != pl.col("net_dc"))
        .select(
            "txn_id",
            pl.col("account_code").alias("contra_account"),
            pl.col("amount_base").alias("base_gross"),
        )
    )
    limit = pl.col("approval_limit").cast(pl.String).str.strip_chars().cast(MONEY, strict=False)
    limits = users.select(
        pl.col("user_id").alias("created_by"),
        limit.alias("poster_limit"),
    )
    suspense = accounts.select("company_id", "account_code", "is_suspense")
    entries = (
        transactions.join(net, on="txn_id", how="inner")
        .join(contra, on="txn_id", how="left")
        .join(limits, on="created_by", how="left")
        .join(
            suspense.rename({"account_code": "net_account", "is_suspense": "net_suspense"}),
            on=["company_id", "net_account"],
            how="left",
        )
        .join(
            suspense.rename({"account_code": "contra_account", "is_suspense": "contra_suspense"}),
            on=["company_id", "contra_account"],
            how="left",
        )
        .with_columns(
            pl.col("txn_date").alias("day"),
            (pl.col("entry_mode") == "manual").fill_null(False).alias("manual"),
            pl.col("currency_raw").alias("currency"),
            pl.col("net_suspense").fill_null(False),
            pl.col("contra_suspense").fill_null(False),
        )
    )
    entries = with_local_time(entries, companies)
    entries = with_holidays(entries, companies)
    return entries.select(list(ENTRY_SCHEMA)).cast(ENTRY_SCHEMA).sort("day", "txn_id")  # type: ignore[arg-type]


@cache
def _available_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())  # reads the zone database's files: once


def valid_timezones(companies: pl.DataFrame) -> dict[int, str]:
    """company_id -> IANA zone, for the companies whose zone name is known to this machine."""
    zones = {}
    available = _available_timezones()
    for company_id, zone in companies.select("company_id", "timezone").iter_rows():
        if zone is not None and zone in available:
            zones[int(company_id)] = zone
    return zones


def with_local_time(entries: pl.DataFrame, companies: pl.DataFrame) -> pl.DataFrame:
    """Adds ``local_at``: created_at on the company's wall clock, as a naive datetime.

    A Polars column holds one time zone, so each zone's entries are converted on their own and
    made naive, then put back in place. Companies without a usable zone get null (their
    time-of-day tests do not fire; the asset reports them).
    """
    by_zone: dict[str, list[int]] = {}
    for company_id, zone in valid_timezones(companies).items():
        by_zone.setdefault(zone, []).append(company_id)
    numbered = entries.with_row_index("__row")
    local = [
        numbered.filter(pl.col("company_id").is_in(company_ids)).select(
            "__row", pl.col("created_at").dt.convert_time_zone(zone).dt.replace_time_zone(None).alias("local_at")
        )
        for zone, company_ids in sorted(by_zone.items())
    ]
    if not local:
        return entries.with_columns(pl.lit(None, dtype=pl.Datetime("us")).alias("local_at"))
    return numbered.join(pl.concat(local), on="__row", how="left", maintain_order="left").drop("__row")


def holiday_calendar(companies: pl.DataFrame, first: dt.date, last: dt.date) -> pl.DataFrame:
    """(company_id, local_date, holiday) for every public holiday of each company's country.

    The country follows from the time zone (journal_pipeline.domain.holidays); a company whose
    zone has no calendar gets none (no holiday test for it)."""
    rows = []
    for company_id, zone in valid_timezones(companies).items():
        try:
            country = country_for_timezone(zone)
        except ValueError:
            continue
        for day, name in holidays_between(country, first, last).items():
            rows.append((company_id, day, f"{name} ({country})"))
    return pl.DataFrame(
        rows, schema={"company_id": pl.Int32(), "local_date": pl.Date(), "holiday": pl.String()}, orient="row"
    )


def with_holidays(entries: pl.DataFrame, companies: pl.DataFrame) -> pl.DataFrame:
    """Adds ``holiday``: the public holiday on the entry's local date, if any."""
    if entries.height == 0:
        return entries.with_columns(pl.lit(None, dtype=pl.String).alias("holiday"))
    local_date = pl.col("local_at").dt.date()
    span = entries.select(local_date.min().alias("first"), local_date.max().alias("last"))
    first, last = span.row(0)
    if first is None:
        return entries.with_columns(pl.lit(None, dtype=pl.String).alias("holiday"))
    calendar = holiday_calendar(companies, first, last)
    return (
        entries.with_columns(pl.col("local_at").dt.date().alias("__local_date"))
        .join(
            calendar,
            left_on=["company_id", "__local_date"],
            right_on=["company_id", "local_date"],
            how="left",
        )
        .drop("__local_date")
    )


def window_totals(
    daily: pl.DataFrame,
    keys: list[str],
    values: list[str],
    targets: pl.DataFrame,
    days_back: int,
    *,
    include_day: bool = True,
) -> pl.DataFrame:
    """Rolling per-day sums: for each row of ``targets`` (``keys`` + ``day``), the sums of
    ``values`` over the rows of ``daily`` (``keys`` + ``day`` + values, per key and day) whose
    day lies in [day - days_back, day] (or [day - days_back, day - 1] without include_day).

    Each row of ``daily`` with a target's key is summed into the target days whose window holds
    it: per-day counts are small (thousands of rows a day), and a run scores at most a week, so
    this costs a filter and one group-by, whatever the window.
    Returns ``targets`` (in its order) with the ``values`` columns added (0 where nothing was in
    the window).
    """
    last = 0 if include_day else 1
    spans = (
        targets.select("day")
        .unique()
        .select(
            pl.col("day").alias("__target"),
            (pl.col("day") - pl.duration(days=days_back)).alias("__from"),
            (pl.col("day") - pl.duration(days=last)).alias("__to"),
        )
    )
    sums = (
        daily.join(targets.select(keys).unique(), on=keys, how="semi", nulls_equal=True)
        .join(spans, how="cross")
        .filter(pl.col("day").is_between(pl.col("__from"), pl.col("__to")))
        .group_by(*keys, pl.col("__target").alias("day"))
        .agg(pl.col(values).sum())
    )
    totals = targets.join(sums, on=[*keys, "day"], how="left", nulls_equal=True, maintain_order="left")
    return totals.with_columns(pl.col(values).fill_null(0))


def key_fingerprint(columns: list[str]) -> pl.Expr:
    """A 64-bit hash of the columns' values (Polars' hash: the same in one process, not across
    versions, so never stored): equal keys have equal fingerprints, different keys rarely."""
    return pl.struct(columns).hash()
