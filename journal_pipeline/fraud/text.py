"""Numbers in words for the evidence of a reason: "9,950.00", "0.5 %", "txns 12, 15".

Polars expressions, so that evidence is written for every flagged row at once.
"""

from __future__ import annotations

import polars as pl

from journal_pipeline.fraud.config import CURRENCY_DECIMALS


def grouped(digits: pl.Expr) -> pl.Expr:
    """'1234567' -> '1,234,567' (digits only; thousands separators from the right)."""
    return digits.str.reverse().str.replace_all(r"(\d{3})", "$1,").str.strip_suffix(",").str.reverse()


def money(amount: pl.Expr, decimals: int = 2) -> pl.Expr:
    """A decimal or float amount with thousands separators and ``decimals`` places: 9,950.00."""
    text = amount.cast(pl.Decimal(38, decimals)).abs().cast(pl.String)
    whole = text.str.extract(r"^(\d+)", 1)
    fraction = text.str.extract(r"(\.\d+)$", 1).fill_null("")
    sign = pl.when(amount.cast(pl.Float64) < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return sign + grouped(whole) + fraction


def currency_money(amount: pl.Expr, currency: pl.Expr) -> pl.Expr:
    """An amount in its currency's everyday places and the code: '1,234.50 GBP', '120,000 JPY'."""
    zero = [code for code, places in CURRENCY_DECIMALS.items() if places == 0]
    three = [code for code, places in CURRENCY_DECIMALS.items() if places == 3]
    text = (
        pl.when(currency.is_in(zero))
        .then(money(amount, 0))
        .when(currency.is_in(three))
        .then(money(amount, 3))
        .otherwise(money(amount, 2))
    )
    return text + pl.lit(" ") + currency.fill_null("?")


def percent(share: pl.Expr, decimals: int = 1) -> pl.Expr:
    """0.0123 -> '1.2 %'."""
    return (share * 100).round(decimals).cast(pl.String) + pl.lit(" %")


def number(value: pl.Expr, decimals: int = 4) -> pl.Expr:
    return value.round(decimals).cast(pl.String)


def count(value: pl.Expr) -> pl.Expr:
    """An integer with thousands separators: 54,210."""
    return grouped(value.cast(pl.Int64).cast(pl.String))


def date(day: pl.Expr) -> pl.Expr:
    return day.dt.strftime("%Y-%m-%d")


def ids(values: pl.Expr) -> pl.Expr:
    """A list of txn_ids as '12, 15, 19'."""
    return values.cast(pl.List(pl.String)).list.join(", ")
