"""Benford's law tests: exact digits, the MAD, the bands, the size-aware bound, the groups."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from journal_pipeline.fraud import benford
from journal_pipeline.fraud.config import FraudConfig
from journal_pipeline_tests.test_fraud_support import DAY, entries, entry, population

CONFIG = FraudConfig()
BENFORD = [math.log10(1 + 1 / d) for d in range(1, 10)]


def test_digits_are_read_exactly_from_the_amount_as_keyed():
    rows = [
        entry(1, amount="1234.56"),
        entry(2, amount="0.05"),  # below 10: no first two digits; 5 cents: no last two
        entry(3, amount="10.00"),
        entry(4, amount="123456", currency="JPY"),  # whole yen: the last two digits are yen
        entry(5, amount="999.995"),  # more places than the currency: its cents are 99
        entry(6, amount="1000.00"),  # 1000 is exactly 10^3: first digit 1, never 9.99...
    ]
    columns = ["txn_id", "first_digit", "first_two_digits", "last_two_digits"]
    found = benford.digits(entries(rows)).select(columns)
    assert found.rows() == [
        (1, 1, 12, 56),
        (2, 5, None, None),
        (3, 1, 10, 0),
        (4, 1, 12, 56),
        (5, 9, 99, 99),
        (6, 1, 10, 0),
    ]


def test_the_expected_mad_of_a_conforming_sample_shrinks_with_its_size():
    n = pl.lit(100)
    expected = sum(math.sqrt(2 * p * (1 - p) / (math.pi * 100)) for p in BENFORD) / 9
    assert pl.select(benford.FIRST_DIGIT.expected_mad(n)).item() == pytest.approx(expected)
    assert expected == pytest.approx(0.02348, abs=1e-5)
    uniform = math.sqrt(2 * 0.01 * 0.99 / (math.pi * 1000))
    assert pl.select(benford.LAST_TWO_DIGITS.expected_mad(pl.lit(1000))).item() == pytest.approx(uniform)


def _amounts_with_first_digits(counts: dict[int, int], poster: str, start: int) -> list[dict[str, object]]:
    """Entries whose amounts have the given first digits (d.37 x 10^k, spread over days)."""
    rows, txn_id = [], start
    for digit, count in counts.items():
        for k in range(count):
            amount = f"{digit}{(37 * k) % 100:02d}.{(13 * k) % 100:02d}"
            day = DAY - dt.timedelta(days=k % 20)
            rows.append(entry(txn_id, amount=amount, created_by=poster, day=day))
            txn_id += 1
    return rows


def test_a_fabricating_poster_is_nonconforming_and_a_benford_poster_is_not():
    benford_counts = dict(zip(range(1, 10), [91, 53, 38, 29, 24, 20, 17, 15, 14], strict=True))  # 301
    fabricated = {4: 20, 5: 20, 6: 20, 7: 20}  # 80 amounts, first digits 4-7 only
    rows = [
        *_amounts_with_first_digits(benford_counts, "u_ok", 1),
        *_amounts_with_first_digits(fabricated, "u_fab", 1000),
        *_amounts_with_first_digits({5: 49}, "u_few", 2000),  # below the minimum sample
    ]
    groups, shares = benford.group_conformity(population(rows), CONFIG)
    first = groups.filter((pl.col("test") == "benford_first_digit") & (pl.col("kind") == "poster"))
    verdict = {row["group"]: row for row in first.iter_rows(named=True)}
    assert verdict["u_fab"]["n"] == 80
    # four digits hold a quarter each, the other five none: MAD = mean |observed - expected|
    held = sum(abs(0.25 - BENFORD[d - 1]) for d in (4, 5, 6, 7))
    empty = sum(BENFORD[d - 1] for d in (1, 2, 3, 8, 9))
    mad = (held + empty) / 9
    assert verdict["u_fab"]["mad"] == pytest.approx(mad)
    assert verdict["u_fab"]["level"] == "nonconformity"
    assert verdict["u_fab"]["nonconforming"] is True
    assert verdict["u_ok"]["n"] == 301
    assert verdict["u_ok"]["level"] == "close conformity"
    assert verdict["u_ok"]["nonconforming"] is False
    assert verdict["u_few"]["judged"] is False and verdict["u_few"]["nonconforming"] is False
    observed = shares.filter(
        (pl.col("group") == "u_fab") & (pl.col("test") == "benford_first_digit") & (pl.col("digit") == 5)
    )
    assert observed["observed"].to_list() == [0.25]


def test_every_entry_of_a_nonconforming_group_gets_the_finding_with_evidence():
    rows = _amounts_with_first_digits({4: 20, 5: 20, 6: 20, 7: 20}, "u_fab", 1000)
    found = benford.benford_findings(population(rows), CONFIG)
    poster = found.filter((pl.col("test") == "benford_first_digit") & (pl.col("group") == "poster u_fab"))
    assert sorted(poster["txn_id"].to_list()) == [r["txn_id"] for r in rows if r["day"] == DAY]
    assert poster.filter(pl.col("txn_id") == 1000)["evidence"].item() == (
        "poster u_fab: first-digit MAD 0.1553 over 80 amounts from 2024-06-21 to 2024-07-18 is nonconformity "
        "(Nigrini bound 0.015; a conforming sample this size stays below 0.0656); amounts with first digit 4 "
        "(as this one) are 25.0 % of the group, Benford expects 9.7 %"
    )
    # the company's group (here the same entries) is judged too, and is just as nonconforming; the
    # first-two-digits and last-two-digits tests need 300 amounts
    assert set(found["group"].to_list()) == {"poster u_fab", "company 1"}
    assert set(found["test"].to_list()) == {"benford_first_digit"}


def test_a_group_is_judged_on_the_window_ending_on_each_scored_day():
    # 60 fabricated amounts, all before the window of a day 40 days later: nothing to judge then
    rows = _amounts_with_first_digits({5: 60}, "u_fab", 1)
    later = DAY + dt.timedelta(days=40)
    rows.append(entry(999, amount="512.00", created_by="u_fab", day=later))
    groups, _ = benford.group_conformity(population(rows, first=later), CONFIG)
    assert groups.filter(pl.col("group") == "u_fab")["n"].unique().to_list() == [1]


def test_the_first_digit_chart_compares_each_company_with_the_law():
    rows = _amounts_with_first_digits({1: 3, 2: 1}, "u010", 1)
    chart = benford.first_digit_distribution(entries(rows))
    overall = chart.filter(pl.col("company_id").is_null())
    assert overall["observed"].to_list() == [0.75, 0.25, 0, 0, 0, 0, 0, 0, 0]
    assert overall["expected"].to_list() == pytest.approx(BENFORD)
    assert chart.filter(pl.col("company_id") == 1)["n"].unique().to_list() == [4]


def test_digits_are_exact_at_the_edges_of_a_power_of_ten():
    rows = [
        entry(1, amount="9.999999999999999999"),  # a float would round it up to 10
        entry(2, amount="10.000000000000000000"),
        entry(3, amount="9999999999999999.99"),  # 16 whole digits
        entry(4, amount="0.000000000000000001"),  # the smallest unit: first digit 1, no cents
        entry(5, amount="100", currency="JPY"),
        entry(6, amount="1.00"),
    ]
    columns = ["txn_id", "first_digit", "first_two_digits", "last_two_digits"]
    assert benford.digits(entries(rows)).select(columns).rows() == [
        (1, 9, None, 99),
        (2, 1, 10, 0),
        (3, 9, 99, 99),
        (4, 1, None, None),
        (5, 1, 10, 0),
        (6, 1, None, 0),
    ]
