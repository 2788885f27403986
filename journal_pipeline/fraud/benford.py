"""Benford's law: first digit, first two digits and last two digits, judged per group.

Amounts that arise naturally over several orders of magnitude (invoices, payments) have first
digits that follow Benford's law, P(d) = log10(1 + 1/d): a 1 leads 30.1 % of amounts, a 9 only
4.6 %. People inventing amounts do not reproduce it: they favour middle digits, stay just under
thresholds, and end amounts in 00 or 50. So a group of amounts (a poster's, a company's) whose
digits deviate from the law is a reason to look at all of them.

Following Nigrini (Forensic Analytics, 2012):

- first digit (1-9) and first two digits (10-99) of the net amount as keyed, in the transaction
  currency (the amount a person typed; converting it would blur the pattern), exact: digits are
  computed from the decimal's integer units, never from a float. The first-two test uses
  amounts >= 10 only;
- last two digits (00-99) of the amount in its smallest everyday unit (the cents; whole yen for
  JPY: config.CURRENCY_DECIMALS), expected uniform; amounts of at least 100 units only, so that
  they are not also the first digits;
- conformity by the mean absolute deviation MAD = mean_k |observed_k - expected_k| against
  Nigrini's bands (config.FIRST_DIGIT_BANDS, ...), with a minimum sample per test and a bound
  that grows for small samples (see FraudConfig for why and the figures).

Groups: each company, and each poster (``created_by``, across companies), over a rolling window
of benford_window_days ending on the scored day. Every entry of a nonconforming group gets the
finding, with the group's MAD and how its own digit compares with the law. The window's digits
are counted once per day (:func:`digit_counts`, stored by journal_lines with the day's entries:
journal_pipeline.fraud.population), so judging a group costs its bins, not its amounts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from journal_pipeline.fraud import text
from journal_pipeline.fraud.config import (
    CURRENCY_DECIMALS,
    FIRST_DIGIT_BANDS,
    FIRST_TWO_DIGITS_BANDS,
    LAST_TWO_DIGITS_BANDS,
    BenfordBands,
    FraudConfig,
)
from journal_pipeline.fraud.features import window_totals
from journal_pipeline.fraud.jet import FINDING_SCHEMA, no_findings

if TYPE_CHECKING:  # population.py stores digit_counts: it builds on this module
    from journal_pipeline.fraud.population import Population


@dataclass(frozen=True)
class DigitTest:
    name: str  # the test's name in reasons and weights
    label: str  # in words
    digits: tuple[int, ...]  # the bins
    expected: tuple[float, ...]  # expected share per bin
    bands: BenfordBands

    def min_sample(self, config: FraudConfig) -> int:
        return {
            "benford_first_digit": config.benford_min_first_digit,
            "benford_first_two_digits": config.benford_min_first_two_digits,
            "benford_last_two_digits": config.benford_min_last_two_digits,
        }[self.name]

    def noise_margin(self, config: FraudConfig) -> float:
        if self.name == "benford_first_digit":
            return config.benford_noise_margin_first_digit
        return config.benford_noise_margin_two_digits

    def expected_mad(self, n: pl.Expr) -> pl.Expr:
        """MAD that sampling alone gives a group of n conforming amounts:
        mean_k E|p_hat_k - p_k| = mean_k sqrt(2 p_k (1 - p_k) / (pi n)) (normal approximation)."""
        spread = sum(math.sqrt(2 * p * (1 - p) / math.pi) for p in self.expected) / len(self.expected)
        return spread / n.cast(pl.Float64).sqrt()

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "test": [self.name] * len(self.digits),
                "digit": list(self.digits),
                "expected": list(self.expected),
            },
            schema={"test": pl.String(), "digit": pl.Int16(), "expected": pl.Float64()},
        )


FIRST_DIGIT = DigitTest(
    "benford_first_digit",
    "first-digit",
    tuple(range(1, 10)),
    tuple(math.log10(1 + 1 / d) for d in range(1, 10)),
    FIRST_DIGIT_BANDS,
)
FIRST_TWO_DIGITS = DigitTest(
    "benford_first_two_digits",
    "first-two-digits",
    tuple(range(10, 100)),
    tuple(math.log10(1 + 1 / d) for d in range(10, 100)),
    FIRST_TWO_DIGITS_BANDS,
)
LAST_TWO_DIGITS = DigitTest(
    "benford_last_two_digits",
    "last-two-digits",
    tuple(range(100)),
    tuple([0.01] * 100),
    LAST_TWO_DIGITS_BANDS,
)
DIGIT_TESTS = (FIRST_DIGIT, FIRST_TWO_DIGITS, LAST_TWO_DIGITS)
EXPECTED = pl.concat([t.frame() for t in DIGIT_TESTS])

GROUP_KINDS = ("company", "poster")

CONFORMITY_LEVELS = ("close conformity", "acceptable conformity", "marginal conformity", "nonconformity")


# 10^0 .. 10^38: a Decimal(38, s) holds fewer than 10^38 units
_POWERS_OF_TEN = pl.Series("power", [10**exponent for exponent in range(39)], dtype=pl.Int128)


def _power_of_ten(exponent: pl.Expr) -> pl.Expr:
    return exponent.clip(0, 38).replace_strict(list(range(39)), _POWERS_OF_TEN, return_dtype=pl.Int128)


def digits(entries: pl.DataFrame) -> pl.DataFrame:
    """Adds ``first_digit``, ``first_two_digits`` (amounts >= 10) and ``last_two_digits``
    (amounts of at least 100 smallest units), Int16, exactly from the decimal ``amount_txn``;
    null where a test does not apply (and for amounts of zero or less, which are never posted).

    Integer arithmetic on the decimal's units (amount x 10^scale, an Int128): the leading digits
    are units // 10^k for the exact number of digits k (a float logarithm only guesses k; exact
    comparisons with powers of ten settle it), the last two units // 10^(scale - places) % 100."""
    scale = entries.schema["amount_txn"].scale  # type: ignore[attr-defined]
    units = pl.col("amount_txn").to_physical()
    guess = units.cast(pl.Float64).log10().floor().cast(pl.Int32).clip(0, 37)
    exponent = (
        pl.when(units < _power_of_ten(guess))
        .then(guess - 1)
        .when(units >= _power_of_ten(guess + 1))
        .then(guess + 1)
        .otherwise(guess)
    )
    places = pl.col("currency").replace_strict(dict(CURRENCY_DECIMALS), default=2, return_dtype=pl.Int32)
    minor_units = units // _power_of_ten(scale - places)
    whole = units // 10**scale
    positive = units > 0
    return (
        entries.with_columns(exponent.alias("__exponent"))
        .with_columns(
            pl.when(positive).then(units // _power_of_ten(pl.col("__exponent"))).cast(pl.Int16).alias("first_digit"),
            pl.when(positive & (whole >= 10))
            .then(units // _power_of_ten(pl.col("__exponent") - 1))
            .cast(pl.Int16)
            .alias("first_two_digits"),
            pl.when(positive & (minor_units >= 100)).then(minor_units % 100).cast(pl.Int16).alias("last_two_digits"),
        )
        .drop("__exponent")
    )


_DIGIT_COLUMN = {
    "benford_first_digit": "first_digit",
    "benford_first_two_digits": "first_two_digits",
    "benford_last_two_digits": "last_two_digits",
}


def _long_digits(entries: pl.DataFrame) -> pl.DataFrame:
    """One row per (entry, group kind, test) with its group and digit."""
    with_digits = digits(entries)
    frames = []
    for kind, key in (("company", pl.col("company_id").cast(pl.String)), ("poster", pl.col("created_by"))):
        for test in DIGIT_TESTS:
            frames.append(
                with_digits.select(
                    "txn_id",
                    "day",
                    pl.lit(kind).alias("kind"),
                    key.alias("group"),
                    pl.lit(test.name).alias("test"),
                    pl.col(_DIGIT_COLUMN[test.name]).alias("digit"),
                ).filter(pl.col("group").is_not_null() & pl.col("digit").is_not_null())
            )
    return pl.concat(frames)


def digit_counts(entries: pl.DataFrame) -> pl.DataFrame:
    """Amounts per (kind, group, test, digit, day): what a day adds to the windows of the groups
    it belongs to (its company's and its poster's)."""
    with_digits = digits(entries)
    frames = []
    for kind, key in (("company", pl.col("company_id").cast(pl.String)), ("poster", pl.col("created_by"))):
        for test in DIGIT_TESTS:
            digit = pl.col(_DIGIT_COLUMN[test.name])
            frames.append(
                with_digits.filter(digit.is_not_null())
                .group_by(key.alias("group"), digit.alias("digit"), "day")
                .agg(pl.len().alias("count"))
                .filter(pl.col("group").is_not_null())
                .select(pl.lit(kind).alias("kind"), "group", pl.lit(test.name).alias("test"), "digit", "day", "count")
            )
    return pl.concat(frames)


def group_conformity(pop: Population, config: FraudConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per (kind, group, test, scored day): n, MAD, conformity level and whether nonconforming;
    and per (kind, group, test, scored day, digit): observed and expected shares.

    Only groups with an entry on the scored day are judged (those are the ones with entries to
    score). Window: the scored day and the benford_window_days - 1 days before it.
    """
    keys = ["kind", "group", "test"]
    daily = pop.history.digits
    in_window = pl.col("day").is_between(pop.first_day, pop.last_day)
    scored_groups = daily.filter(in_window).select(*keys, "day").unique()
    targets = scored_groups.join(EXPECTED, on="test")  # every bin of the test, so empty bins count
    shares = window_totals(daily, [*keys, "digit"], ["count"], targets, config.benford_window_days - 1)
    shares = shares.with_columns(pl.col("count").sum().over(*keys, "day").alias("n")).with_columns(
        (pl.col("count") / pl.col("n")).alias("observed")
    )
    groups = (
        shares.sort("digit")
        .group_by(*keys, "day")
        .agg(pl.col("n").first(), (pl.col("observed") - pl.col("expected")).abs().mean().alias("mad"))
        .filter(pl.col("n") > 0)
    )
    judged = []
    for test in DIGIT_TESTS:
        mine = groups.filter(pl.col("test") == test.name)
        bands = test.bands
        sampling = test.noise_margin(config) * test.expected_mad(pl.col("n"))
        critical = pl.max_horizontal(pl.lit(bands.marginal), sampling)
        level = (
            pl.when(pl.col("mad") <= bands.close)
            .then(pl.lit(CONFORMITY_LEVELS[0]))
            .when(pl.col("mad") <= bands.acceptable)
            .then(pl.lit(CONFORMITY_LEVELS[1]))
            .when(pl.col("mad") <= bands.marginal)
            .then(pl.lit(CONFORMITY_LEVELS[2]))
            .otherwise(pl.lit(CONFORMITY_LEVELS[3]))
        )
        judged.append(
            mine.with_columns(
                level.alias("level"),
                critical.alias("critical"),
                (pl.col("n") >= test.min_sample(config)).alias("judged"),
            ).with_columns((pl.col("judged") & (pl.col("mad") > pl.col("critical"))).alias("nonconforming"))
        )
    return pl.concat(judged).sort(*keys, "day"), shares.select(*keys, "day", "digit", "observed", "expected")


def benford_findings(
    pop: Population, config: FraudConfig, conformity: tuple[pl.DataFrame, pl.DataFrame] | None = None
) -> pl.DataFrame:
    """A finding per test for every scored entry of a nonconforming company or poster group
    (``conformity``: group_conformity's result, when already computed)."""
    groups, shares = conformity or group_conformity(pop, config)
    flagged = groups.filter(pl.col("nonconforming"))
    if flagged.height == 0:
        return no_findings()
    # digits of the flagged groups' scored entries only (usually a few posters' entries)
    companies = flagged.filter(pl.col("kind") == "company")["group"].cast(pl.Int32, strict=False)
    posters = flagged.filter(pl.col("kind") == "poster")["group"]
    members = pop.scored.filter(
        pl.col("company_id").is_in(companies.implode()) | pl.col("created_by").is_in(posters.implode())
    )
    scored = _long_digits(members)
    hit = scored.join(flagged, on=["kind", "group", "test", "day"]).join(
        shares, on=["kind", "group", "test", "day", "digit"], how="left"
    )
    label = pl.col("test").replace_strict({t.name: t.label for t in DIGIT_TESTS}, return_dtype=pl.String)
    bounds = {t.name: t.bands.marginal for t in DIGIT_TESTS}
    bound = pl.col("test").replace_strict(bounds, return_dtype=pl.Float64)
    digit_text = (
        pl.when(pl.col("test") == "benford_last_two_digits")
        .then(pl.lit("last two digits ") + pl.col("digit").cast(pl.String).str.zfill(2))
        .when(pl.col("test") == "benford_first_two_digits")
        .then(pl.lit("first two digits ") + pl.col("digit").cast(pl.String))
        .otherwise(pl.lit("first digit ") + pl.col("digit").cast(pl.String))
    )
    expectation = (
        pl.when(pl.col("test") == "benford_last_two_digits")
        .then(pl.lit(", uniform expects "))
        .otherwise(pl.lit(", Benford expects "))
    )
    start = pl.col("day") - pl.duration(days=config.benford_window_days - 1)
    group_name = pl.col("kind") + pl.lit(" ") + pl.col("group")
    evidence = (
        group_name
        + pl.lit(": ")
        + label
        + pl.lit(" MAD ")
        + text.number(pl.col("mad"), 4)
        + pl.lit(" over ")
        + text.count(pl.col("n"))
        + pl.lit(" amounts from ")
        + text.date(start)
        + pl.lit(" to ")
        + text.date(pl.col("day"))
        + pl.lit(" is ")
        + pl.col("level")
        + pl.lit(" (Nigrini bound ")
        + bound.cast(pl.String)
        + pl.lit("; a conforming sample this size stays below ")
        + text.number(pl.col("critical"), 4)
        + pl.lit("); amounts with ")
        + digit_text
        + pl.lit(" (as this one) are ")
        + text.percent(pl.col("observed"), 1)
        + pl.lit(" of the group")
        + expectation
        + text.percent(pl.col("expected"), 1)
    )
    return hit.select(
        "txn_id",
        "test",
        pl.lit(1.0).alias("strength"),
        evidence.alias("evidence"),
        group_name.alias("group"),
    ).cast(FINDING_SCHEMA)  # type: ignore[arg-type]


def first_digit_distribution(entries: pl.DataFrame) -> pl.DataFrame:
    """Observed vs expected first-digit shares per company and for all entries (company null),
    for the Benford chart of the asset's metadata."""
    return first_digit_distribution_of(digit_counts(entries))


def first_digit_distribution_of(counts: pl.DataFrame) -> pl.DataFrame:
    """first_digit_distribution from digit_counts (of the days to chart)."""
    first_digits = counts.filter((pl.col("kind") == "company") & (pl.col("test") == FIRST_DIGIT.name)).select(
        pl.col("group").cast(pl.Int32).alias("company_id"), pl.col("digit").alias("first_digit"), "count"
    )
    per_company = first_digits.group_by("company_id", "first_digit").agg(pl.col("count").sum().cast(pl.UInt32))
    overall = (
        first_digits.group_by("first_digit")
        .agg(pl.col("count").sum().cast(pl.UInt32))
        .with_columns(pl.lit(None, dtype=pl.Int32).alias("company_id"))
    )
    tallies = pl.concat([per_company, overall.select(per_company.columns)])
    expected = FIRST_DIGIT.frame().select(pl.col("digit").alias("first_digit"), "expected")
    companies = tallies.select("company_id").unique()
    grid = companies.join(expected, how="cross")
    return (
        grid.join(tallies, on=["company_id", "first_digit"], how="left", nulls_equal=True)
        .with_columns(pl.col("count").fill_null(0))
        .with_columns(
            pl.col("count").sum().over("company_id").alias("n"),
        )
        .with_columns((pl.col("count") / pl.col("n")).alias("observed"))
        .with_columns((pl.col("observed") - pl.col("expected")).abs().mean().over("company_id").alias("mad"))
        .sort(pl.col("company_id").fill_null(-1), "first_digit")
    )
