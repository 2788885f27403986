"""Exact decimal money in Polars: parsing source amounts and converting them at FX rates.

Money never passes through a float. A source amount (a JSON number's text or a decimal string)
is parsed, as text, into a fixed-point integer with 18 decimal places (``Int128``: exact for
every value of ``numeric(38,18)``). A rate is a fixed-point integer with 8 decimal places
(``numeric(18,8)``). ``round(amount * rate, 2)`` is then computed in integer arithmetic, split
so that no intermediate product leaves the range of ``Int128``, and rounded half away from
zero exactly as PostgreSQL's ``round(numeric, 2)`` does.

The grammar and the bounds are those of docs/posting-semantics.md.
"""

from __future__ import annotations

import polars as pl

AMOUNT_SCALE = 18
RATE_SCALE = 8
MAX_INTEGER_DIGITS = 20  # numeric(38,18): |value| < 10^20
BASE_LIMIT_CENTS = 10**18  # numeric(18,2): |value| < 10^16, i.e. 10^18 cents

# Space, tab, newline, carriage return, vertical tab, form feed: what PostgreSQL's numeric
# input skips around a number, and nothing else (not Unicode spaces such as U+00A0).
WHITESPACE = " \t\n\r\x0b\x0c"
PLAIN_DECIMAL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"

_MAX_EXPONENT_DIGITS = 6  # larger exponents are clamped: far outside every bound either way
_ZEROS = "0" * 64

# How a parsed amount turned out.
OK = "ok"
MISSING = "missing"
NOT_NUMERIC = "not_numeric"
TOO_PRECISE = "too_precise"


def _i128(value: int) -> pl.Expr:
    return pl.lit(value, dtype=pl.Int128)


def parse_decimal(frame: pl.DataFrame, text: str, scale: int, out: str) -> pl.DataFrame:
    """Parse the plain-decimal text column ``text`` into an exact fixed-point integer.

    Adds ``{out}`` (``Int128``, the value times 10^scale, null unless representable) and
    ``{out}_status``: ``ok``, ``not_numeric`` (does not match the grammar) or ``too_precise``
    (more than ``scale`` decimal places, or 10^(38 - scale) or more). ``text`` must already be
    trimmed; a null ``text`` gives a null status: the caller decides what an absent value means.
    """
    t = "__parse_" + out  # prefix of the working columns, dropped at the end
    col = pl.col
    steps = (
        frame.with_columns(
            col(text).str.contains(PLAIN_DECIMAL).alias(f"{t}_matches"),
            col(text).str.starts_with("-").alias(f"{t}_negative"),
            col(text).str.extract(r"^[+-]?([0-9]*)", 1).alias(f"{t}_int"),
            col(text).str.extract(r"\.([0-9]*)", 1).fill_null("").alias(f"{t}_frac"),
            col(text).str.extract(r"[eE]([+-]?[0-9]+)$", 1).fill_null("0").alias(f"{t}_exp_text"),
        )
        .with_columns(
            (col(f"{t}_int") + col(f"{t}_frac")).alias(f"{t}_digits"),
            pl.when(
                col(f"{t}_exp_text").str.strip_chars_start("+-").str.strip_chars_start("0").str.len_chars()
                > _MAX_EXPONENT_DIGITS
            )
            .then(
                pl.when(col(f"{t}_exp_text").str.starts_with("-"))
                .then(-(10**_MAX_EXPONENT_DIGITS))
                .otherwise(10**_MAX_EXPONENT_DIGITS)
            )
            .otherwise(col(f"{t}_exp_text").str.to_integer(dtype=pl.Int64, strict=False))
            .alias(f"{t}_exp"),
        )
        .with_columns(
            col(f"{t}_digits").str.strip_chars_start("0").alias(f"{t}_sig_trailing"),
        )
        .with_columns(
            # value = 0.<significant digits> * 10^point, once leading zeros are dropped
            (
                col(f"{t}_int").str.len_chars().cast(pl.Int64)
                + col(f"{t}_exp")
                - (col(f"{t}_digits").str.len_chars() - col(f"{t}_sig_trailing").str.len_chars()).cast(pl.Int64)
            ).alias(f"{t}_point"),
            col(f"{t}_sig_trailing").str.strip_chars_end("0").alias(f"{t}_sig"),
        )
        .with_columns(
            col(f"{t}_sig").str.len_chars().cast(pl.Int64).alias(f"{t}_count"),
        )
        .with_columns(
            (
                (col(f"{t}_count") > 0)
                & ((col(f"{t}_count") - col(f"{t}_point") > scale) | (col(f"{t}_point") > 38 - scale))
            ).alias(f"{t}_too_precise"),
        )
    )
    valid = col(f"{t}_matches") & ~col(f"{t}_too_precise")
    # the significant digits followed by enough zeros to reach `scale` decimals: at most 38 digits
    padding = (col(f"{t}_point") + scale - col(f"{t}_count")).clip(lower_bound=0)
    magnitude = (
        pl.when(col(f"{t}_count") == 0)
        .then(_i128(0))
        .otherwise((col(f"{t}_sig") + pl.lit(_ZEROS).str.slice(0, padding)).str.to_integer(dtype=pl.Int128))
    )
    steps = steps.with_columns(pl.when(valid).then(magnitude).alias(f"{t}_magnitude"))
    return steps.with_columns(
        pl.when(col(f"{t}_negative"))
        .then(_i128(0) - col(f"{t}_magnitude"))
        .otherwise(col(f"{t}_magnitude"))
        .alias(out),
        pl.when(col(text).is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(~col(f"{t}_matches"))
        .then(pl.lit(NOT_NUMERIC))
        .when(col(f"{t}_too_precise"))
        .then(pl.lit(TOO_PRECISE))
        .otherwise(pl.lit(OK))
        .alias(f"{out}_status"),
    ).drop(pl.selectors.starts_with(t))


def parse_json_amount(frame: pl.DataFrame, raw_text: str, json_type: str, out: str) -> pl.DataFrame:
    """Parse a ``data ->> key`` text column given its ``jsonb_typeof``: adds ``{out}`` (value
    times 10^18, ``Int128``) and ``{out}_status`` (``ok``, ``missing``, ``not_numeric``,
    ``too_precise``).

    JSON numbers arrive as PostgreSQL's exact numeric text; strings are trimmed of white space
    first; any other JSON type is not numeric; an absent key or a JSON null is ``missing``.
    """
    kind = pl.col(json_type)
    numeric_type = kind.is_in(["number", "string"])
    trimmed = f"__trim_{out}"
    frame = frame.with_columns(pl.when(numeric_type).then(pl.col(raw_text).str.strip_chars(WHITESPACE)).alias(trimmed))
    frame = parse_decimal(frame, trimmed, AMOUNT_SCALE, out)
    return frame.with_columns(
        pl.when(kind.is_null() | (kind == "null"))
        .then(pl.lit(MISSING))
        .when(~numeric_type)
        .then(pl.lit(NOT_NUMERIC))
        .otherwise(pl.col(f"{out}_status"))
        .alias(f"{out}_status"),
    ).drop(trimmed)


def convert_to_base_cents(amount_e18: pl.Expr, rate_e8: pl.Expr) -> pl.Expr:
    """``round(amount * rate, 2)`` in cents, half away from zero, exact; ``Int128``.

    amount has 18 decimals (|amount| < 10^20), rate 8 (0 < rate < 10^10). The product has 26
    decimals and up to 56 digits, beyond Int128, so it is split: amount = q + r / 10^18 with
    q the integer part. Then q * rate < 10^38 and r * rate < 10^36, and
        cents = floor(q*rate / 10^6) + floor(r*rate / 10^24) + carry + (remainder >= 1/2),
    where the two fractional remainders are added exactly before deciding the rounding.
    Negative amounts are converted by symmetry, so rounding is half away from zero.
    """
    negative = amount_e18 < 0
    magnitude = amount_e18.abs()
    rate = rate_e8.cast(pl.Int128)
    one_e6, one_e18, one_e24 = _i128(10**6), _i128(10**18), _i128(10**24)
    whole = (magnitude // one_e18) * rate  # units of 10^-8
    fraction = (magnitude % one_e18) * rate  # units of 10^-26
    remainder = (whole % one_e6) * one_e18 + fraction % one_e24  # units of 10^-26, < 2 * 10^24
    cents = (
        whole // one_e6
        + fraction // one_e24
        + remainder // one_e24
        + ((remainder % one_e24) >= _i128(5 * 10**23)).cast(pl.Int128)
    )
    return pl.when(negative).then(_i128(0) - cents).otherwise(cents)


def format_scaled(value: pl.Expr, scale: int, min_decimals: int = 2) -> pl.Expr:
    """Exact decimal text of a fixed-point integer: at least ``min_decimals`` decimals, no
    trailing zeros beyond them, no exponent (for COPY into numeric columns and for reports)."""
    one = _i128(10**scale)
    magnitude = value.cast(pl.Int128).abs()
    integer = (magnitude // one).cast(pl.String)
    fraction = (magnitude % one).cast(pl.String).str.pad_start(scale, "0")
    keep = fraction.str.slice(0, min_decimals)
    rest = fraction.str.slice(min_decimals).str.strip_chars_end("0")
    sign = pl.when(value < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    text = sign + integer + pl.lit(".") + keep + rest
    return pl.when(value.is_not_null()).then(text)


def cents_to_decimal(cents: pl.Expr) -> pl.Expr:
    """Integer cents as an exact ``Decimal(18, 2)``."""
    return format_scaled(cents, 2).cast(pl.Decimal(18, 2))


def scaled_to_decimal(value: pl.Expr, scale: int) -> pl.Expr:
    """A fixed-point integer as an exact ``Decimal(38, scale)``."""
    return format_scaled(value, scale, min_decimals=scale).cast(pl.Decimal(38, scale))
