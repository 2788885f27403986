"""Exact money arithmetic: parsing and FX conversion agree with Python's Decimal, digit for digit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journal_pipeline.domain.amounts import (
    MISSING,
    NOT_NUMERIC,
    OK,
    TOO_PRECISE,
    convert_to_base_cents,
    format_scaled,
    parse_json_amount,
)


def parse(values: list[tuple[str | None, str | None]]) -> list[tuple[int | None, str | None]]:
    frame = pl.DataFrame(values, schema={"raw": pl.String, "kind": pl.String}, orient="row")
    out = parse_json_amount(frame, "raw", "kind", "value")
    return list(out.select("value", "value_status").iter_rows())


E18 = 10**18


@pytest.mark.parametrize(
    ("raw", "kind", "expected"),
    [
        ("1234.50", "number", (123450 * 10**16, OK)),
        ("1234.50", "string", (123450 * 10**16, OK)),
        (" \t12.5\n", "string", (125 * 10**17, OK)),
        ("1e3", "string", (1000 * E18, OK)),
        ("+.5E-1", "string", (5 * 10**16, OK)),
        ("-0", "string", (0, OK)),
        ("5.", "string", (5 * E18, OK)),
        ("0.000000000000000001", "string", (1, OK)),
        ("99999999999999999999.999999999999999999", "string", (10**38 - 1, OK)),
        ("0.0000000000000000001", "string", (None, TOO_PRECISE)),
        ("100000000000000000000", "string", (None, TOO_PRECISE)),
        ("1e309", "string", (None, TOO_PRECISE)),
        ("1e-99999999999999999999", "string", (None, TOO_PRECISE)),
        ("0e99999999999", "string", (0, OK)),
        ("12,50", "string", (None, NOT_NUMERIC)),
        ("", "string", (None, NOT_NUMERIC)),
        ("NaN", "string", (None, NOT_NUMERIC)),
        ("Infinity", "string", (None, NOT_NUMERIC)),
        ("1 000", "string", (None, NOT_NUMERIC)),
        ("\u00a012.5", "string", (None, NOT_NUMERIC)),  # a no-break space is not white space here
        ("١٢", "string", (None, NOT_NUMERIC)),  # Arabic-Indic digits are not [0-9]
        (".", "string", (None, NOT_NUMERIC)),
        ("true", "boolean", (None, NOT_NUMERIC)),
        ("[1]", "array", (None, NOT_NUMERIC)),
        ('{"a": 1}', "object", (None, NOT_NUMERIC)),
        (None, "null", (None, MISSING)),
        (None, None, (None, MISSING)),
    ],
)
def test_parse_json_amount(raw, kind, expected):
    assert parse([(raw, kind)]) == [expected]


def reference_base_cents(amount_e18: int, rate_e8: int) -> int:
    """round(amount * rate, 2) in cents with Python's Decimal at 200 digits (exact here)."""
    with localcontext() as ctx:
        ctx.prec = 200
        product = (Decimal(amount_e18) / E18) * (Decimal(rate_e8) / 10**8)
        sign = -1 if product < 0 else 1
        return sign * int((abs(product) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def base_cents(pairs: list[tuple[int, int]]) -> list[int]:
    frame = pl.DataFrame(pairs, schema={"amount": pl.Int128, "rate": pl.Int64}, orient="row")
    return frame.select(convert_to_base_cents(pl.col("amount"), pl.col("rate")).alias("cents"))["cents"].to_list()


def test_rounding_is_half_away_from_zero_on_the_third_decimal():
    # 10.005 * 1 = 10.005 -> 10.01; 0.125 * 0.5 = 0.0625 -> 0.06; 1.15 * 1.5 = 1.725 -> 1.73
    # and the symmetric negative case -10.005 -> -10.01 (half away from zero, not half up)
    assert base_cents(
        [
            (10_005 * 10**15, 10**8),
            (125 * 10**15, 5 * 10**7),
            (115 * 10**16, 15 * 10**7),
            (-10_005 * 10**15, 10**8),
        ]
    ) == [1001, 6, 173, -1001]


def test_conversion_at_the_edges_of_the_ranges_stays_exact():
    largest_amount = 10**38 - 1  # 99999999999999999999.999999999999999999
    largest_rate = 10**18 - 1  # 9999999999.99999999
    cases = [
        (largest_amount, 1),
        (largest_amount, largest_rate),
        (1, largest_rate),
        (4_999_999 * 10**12, 10**8),
    ]
    expected = [reference_base_cents(a, r) for a, r in cases]
    assert base_cents(cases) == expected


amounts = st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1) | st.integers(-(10**12), 10**12)
rates = st.integers(min_value=1, max_value=10**18 - 1) | st.integers(1, 10**10)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(amounts, rates), min_size=1, max_size=50))
def test_conversion_matches_decimal_arithmetic(pairs):
    expected = [reference_base_cents(a, r) for a, r in pairs]
    assert base_cents(pairs) == expected


decimal_texts = st.from_regex(r"\A[+-]?([0-9]{1,25}\.?[0-9]{0,22}|\.[0-9]{1,22})([eE][+-]?[0-9]{1,3})?\Z")


@settings(max_examples=400, deadline=None)
@given(st.lists(decimal_texts, min_size=1, max_size=50))
def test_parsing_matches_decimal(texts):
    got = parse([(text, "string") for text in texts])
    for text, (value, status) in zip(texts, got, strict=True):
        with localcontext() as ctx:
            ctx.prec = 2000
            try:
                exact = Decimal(text)
            except InvalidOperation:  # pragma: no cover - the regex only makes valid decimals
                raise
            scaled = exact * E18
            representable = scaled == scaled.to_integral_value() and abs(exact) < Decimal(10) ** 20
        if representable:
            assert (value, status) == (int(scaled), OK), text
        else:
            assert (value, status) == (None, TOO_PRECISE), text


def test_format_scaled_is_exact_and_keeps_two_decimals():
    frame = pl.DataFrame({"v": [123450 * 10**16, 10**18, 125 * 10**15, -5, 0, None]}, schema={"v": pl.Int128})
    assert frame.select(format_scaled(pl.col("v"), 18).alias("text"))["text"].to_list() == [
        "1234.50",
        "1.00",
        "0.125",
        "-0.000000000000000005",
        "0.00",
        None,
    ]
