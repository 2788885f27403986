"""The scored population: one row per posted transaction, with what the fraud tests look at.

:func:`build_entries` joins a run's extracted transactions with their journal lines (posted only:
a quarantined transaction has no lines and is not scored), the poster's and approver's approval
limits, the accounts' suspense flags and the company's time zone and holiday calendar.

A :class:`Population` is those entries for the scored window plus the history the asset read
before it. Every statistic a test compares a transaction with is computed per scored day from
that day and the days before it, never from later days: a day's scores do not change when later
days are loaded or scored, and a backfill run of seven days gives each day the scores a one-day
run gives it. :func:`window_totals` is the one helper for those per-day rolling sums.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from functools import cached_property

import polars as pl

from journal_pipeline.domain.holidays import country_for_timezone, holidays_between
from journal_pipeline.domain.posting import MONEY, TXN_MONEY

# What the fraud asset reads from the intermediates (IO manager ``columns``): only these, since
# the history of 28 days is loaded with them.
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


@dataclass(frozen=True)
class Population:
    """Entries of the scored days (first_day..last_day) and of the history read before them."""

    entries: pl.DataFrame
    first_day: dt.date
    last_day: dt.date

    @cached_property
    def scored(self) -> pl.DataFrame:
        return self.entries.filter(pl.col("day").is_between(self.first_day, self.last_day))

    @cached_property
    def scored_days(self) -> pl.DataFrame:
        """One row per scored day (column ``day``), for per-day statistics."""
        return pl.DataFrame(
            {"day": pl.date_range(self.first_day, self.last_day, "1d", eager=True)}, schema={"day": pl.Date()}
        )


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


def valid_timezones(companies: pl.DataFrame) -> dict[int, str]:
    """company_id -> IANA zone, for the companies whose zone name is known to this machine."""
    zones = {}
    available = zoneinfo.available_timezones()
    for company_id, zone in companies.select("company_id", "timezone").iter_rows():
        if zone is not None and zone in available:
            zones[int(company_id)] = zone
    return zones


def with_local_time(entries: pl.DataFrame, companies: pl.DataFrame) -> pl.DataFrame:
    """Adds ``local_at``: created_at on the company's wall clock, as a naive datetime.

    A Polars column holds one time zone, so each zone is converted in its own branch and made
    naive; the branches are merged by company. Companies without a usable zone get null (their
    time-of-day tests do not fire; the asset reports them).
    """
    local = pl.lit(None, dtype=pl.Datetime("us"))
    by_zone: dict[str, list[int]] = {}
    for company_id, zone in valid_timezones(companies).items():
        by_zone.setdefault(zone, []).append(company_id)
    for zone, company_ids in sorted(by_zone.items()):
        local = (
            pl.when(pl.col("company_id").is_in(company_ids))
            .then(pl.col("created_at").dt.convert_time_zone(zone).dt.replace_time_zone(None))
            .otherwise(local)
        )
    return entries.with_columns(local.alias("local_at"))


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
    ``values`` over the rows of ``daily`` (``keys`` + ``day`` + values, one row per key and day)
    whose day lies in [day - days_back, day] (or [day - days_back, day - 1] without include_day).

    Computed as the difference of two cumulative sums looked up with as-of joins, so it costs one
    sort of ``daily`` whatever the window: no row is copied once per scored day.
    Returns ``targets`` with the ``values`` columns added (0 where nothing was in the window).
    """
    cumulative = (
        daily.group_by([*keys, "day"])
        .agg(pl.col(values).sum())
        .sort("day")
        .with_columns(pl.col(values).cum_sum().over(keys))
    )
    last = pl.col("day") if include_day else pl.col("day") - pl.duration(days=1)
    first_excluded = pl.col("day") - pl.duration(days=days_back + 1)

    def cumulative_at(bound: pl.Expr, suffix: str) -> pl.DataFrame:
        probe = targets.select([*keys, "day"]).unique().with_columns(bound.cast(pl.Date).alias("__at"))
        probe = probe.sort("__at")
        found = probe.join_asof(
            cumulative.rename({"day": "__at"}),
            on="__at",
            by=keys,
            strategy="backward",
            check_sortedness=False,
        )
        return found.select([*keys, "day", *[pl.col(v).fill_null(0).alias(v + suffix) for v in values]])

    upper = cumulative_at(last, "__upper")
    lower = cumulative_at(first_excluded, "__lower")
    sums = upper.join(lower, on=[*keys, "day"], how="left", nulls_equal=True).select(
        [*keys, "day", *[(pl.col(v + "__upper") - pl.col(v + "__lower")).alias(v) for v in values]]
    )
    totals = targets.join(sums, on=[*keys, "day"], how="left", nulls_equal=True)
    return totals.with_columns(pl.col(values).fill_null(0))
