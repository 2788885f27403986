"""The amounts an account usually carries: exact medians and MADs of log amounts over 28 days,
without loading 28 days of amounts.

The amount-outlier test (jet.amount_outlier) compares a base net amount with the median and the
MAD (median absolute deviation) of x = log10(amount) over the same company, net account and side
(D/C) in the scored day and the history_days before it: millions of amounts at the reference
scale, tens of millions at ten times that. Each day therefore stores its amounts once, binned
(:func:`amount_bins`): per account, side and bin of 1/BINS_PER_DECADE decade, the count and the
amounts themselves. :func:`median_and_mad` then finds both statistics exactly in two steps:

1. from the counts alone (a few hundred rows per account), the bins that hold the middle amounts,
   and the bins whose amounts may be at the middle distance from the median: every other bin is
   known to lie wholly below or wholly above it, and only its count matters;
2. the amounts of those few bins (typically under 5 % of the window's amounts) give the exact
   order statistics, so the figures equal a median and MAD over every amount, to the last bit.

Medians follow Polars' ``median`` (the mean of the two middle values for an even count).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

# Bins of 1/64 decade (3.7 % apart): about 100 bins per account and day at the reference scale,
# and a few bins around the median and around median +/- MAD to read in full. Part of the stored
# format: after a change, journal_lines must be materialized again for the history's days
# (median_and_mad refuses amounts binned otherwise).
BINS_PER_DECADE = 64

# Bin edges are floor(x * BINS_PER_DECADE) in floating point: an amount may lie a few ulps outside
# its bin's exact edges. Widening every bin by this much keeps the bounds of step 1 safe.
_EDGE_SLACK = 1e-9

AMOUNT_KEYS = ["company_id", "net_account", "net_dc"]

AMOUNT_BINS_SCHEMA: dict[str, pl.DataType] = {
    "company_id": pl.Int32(),
    "net_account": pl.String(),
    "net_dc": pl.String(),
    "bin": pl.Int32(),
    "day": pl.Date(),
    "count": pl.UInt32(),
    "x": pl.List(pl.Float64()),  # the bin's log10 amounts, ascending
}


def log_amount(amount: pl.Expr) -> pl.Expr:
    """x = log10 of a (positive) base amount, as every statistic of the outlier test reads it."""
    return amount.cast(pl.Float64).log10()


def _bin_of(x: pl.Expr) -> pl.Expr:
    return (x * BINS_PER_DECADE).floor().cast(pl.Int32)


def amount_bins(entries: pl.DataFrame) -> pl.DataFrame:
    """Per (company, net account, side, bin, day): how many positive base net amounts, and their
    log10 values (AMOUNT_BINS_SCHEMA). ``entries`` has ENTRY_SCHEMA columns."""
    x = log_amount(pl.col("base_net"))
    return (
        entries.filter(pl.col("base_net") > 0)
        .select(*AMOUNT_KEYS, "day", x.alias("x"))
        .with_columns(_bin_of(pl.col("x")).alias("bin"))
        .group_by(*AMOUNT_KEYS, "bin", "day")
        .agg(pl.len().alias("count"), pl.col("x").sort())
        .select(list(AMOUNT_BINS_SCHEMA))
        .sort(*AMOUNT_KEYS, "bin", "day")
    )


def median_and_mad(
    counts: pl.DataFrame,
    amounts: pl.LazyFrame,
    keys: pl.DataFrame,
    first_day: dt.date,
    last_day: dt.date,
) -> pl.DataFrame:
    """Per row of ``keys`` (AMOUNT_KEYS): ``n``, ``median`` and ``mad`` of x over the amounts of
    first_day..last_day, exactly as ``median()`` of every x and of every |x - median| would give.

    ``counts`` are amount_bins rows without ``x`` (in memory); ``amounts`` the same rows with
    ``x``, scanned only for the bins step 2 needs. Keys without amounts in the window are left out.
    """
    in_window = pl.col("day").is_between(first_day, last_day)
    keys = keys.unique().with_row_index("key")  # one integer per account and side: cheaper to group
    bins = (
        counts.filter(in_window)
        .group_by(*AMOUNT_KEYS, "bin")
        .agg(pl.col("count").sum().cast(pl.Int64))
        .join(keys, on=AMOUNT_KEYS)
        .sort("key", "bin")
        .with_columns(pl.col("count").sum().over("key").alias("n"))
        .with_columns(
            ((pl.col("n") - 1) // 2).alias("k1"),  # the middle ranks (0-based): equal when n is odd
            (pl.col("n") // 2).alias("k2"),
            (pl.col("count").cum_sum().over("key") - pl.col("count")).alias("before"),
        )
    )

    def holds(rank: str) -> pl.Expr:
        return (pl.col("before") <= pl.col(rank)) & (pl.col(rank) < pl.col("before") + pl.col("count"))

    # Step 1a: the bins of the two middle amounts; the median lies between their edges.
    middle = (
        bins.filter(holds("k1") | holds("k2"))
        .group_by("key")
        .agg(
            pl.col("bin").min().alias("low_bin"),
            pl.col("bin").max().alias("high_bin"),
            pl.col("before").min().alias("below_middle"),
        )
    )
    width = 1.0 / BINS_PER_DECADE
    low = pl.col("bin") * width - _EDGE_SLACK
    high = (pl.col("bin") + 1) * width + _EDGE_SLACK
    median_low = pl.col("low_bin") * width - _EDGE_SLACK
    median_high = (pl.col("high_bin") + 1) * width + _EDGE_SLACK
    # Step 1b: each bin's amounts lie at a distance from the median within [near, far].
    bins = bins.join(middle, on="key").with_columns(
        pl.max_horizontal(pl.lit(0.0), low - median_high, median_low - high).alias("near"),
        pl.max_horizontal(high - median_low, median_high - low).alias("far"),
    )
    # The middle distances are at least the k1-th smallest "near" and at most the k2-th smallest
    # "far" (an order statistic only grows when its values do).
    bounds = _ranked(bins, "near", "k1", "shortest").join(_ranked(bins, "far", "k2", "longest"), on="key")
    bins = bins.join(bounds, on="key").with_columns(
        (
            ((pl.col("far") >= pl.col("shortest")) & (pl.col("near") <= pl.col("longest")))
            | pl.col("bin").is_between(pl.col("low_bin"), pl.col("high_bin"))
        ).alias("read")
    )
    # Amounts of unread bins closer than the shortest possible middle distance: they only shift
    # the middle ranks among the amounts read.
    closer = (
        bins.filter(~pl.col("read") & (pl.col("far") < pl.col("shortest")))
        .group_by("key")
        .agg(pl.col("count").sum().alias("closer"))
    )
    per_key = (
        bins.group_by("key")
        .agg(pl.col("n", "k1", "k2", "low_bin", "high_bin", "below_middle").first())
        .join(closer, on="key", how="left")
        .with_columns(pl.col("closer").fill_null(0))
    )
    # Step 2: the amounts of the bins read, over the window's days.
    wanted = bins.filter(pl.col("read")).select("key", "bin").join(keys, on="key")
    values = (
        amounts.filter(in_window)
        .select(*AMOUNT_KEYS, "bin", "x")
        .join(wanted.lazy(), on=[*AMOUNT_KEYS, "bin"])
        .select("key", "bin", "x")
        .explode("x")
        .collect(engine="streaming")
    )
    if values.filter(_bin_of(pl.col("x")) != pl.col("bin")).height:
        raise ValueError(
            f"fraud_amounts of {first_day}..{last_day} were binned with another BINS_PER_DECADE than "
            f"{BINS_PER_DECADE}: materialize journal_lines again for those days"
        )
    in_middle = pl.col("bin").is_between(pl.col("low_bin").first(), pl.col("high_bin").first())
    median = _middle(pl.col("x").filter(in_middle), pl.col("below_middle"))
    stats = (
        values.join(per_key, on="key")
        .group_by("key")
        .agg(
            pl.col("n").first(),
            median.alias("median"),
            _middle((pl.col("x") - median).abs(), pl.col("closer")).alias("mad"),
        )
    )
    return keys.join(stats, on="key").select(*AMOUNT_KEYS, "n", "median", "mad")


def _ranked(bins: pl.DataFrame, value: str, rank: str, name: str) -> pl.DataFrame:
    """Per key, the ``rank``-th smallest ``value`` (0-based) with every bin's value repeated
    ``count`` times."""
    return (
        bins.sort("key", value)
        .with_columns(pl.col("count").cum_sum().over("key").alias("__through"))
        .filter(pl.col("__through") > pl.col(rank))
        .group_by("key")
        .agg(pl.col(value).first().alias(name))
    )


def _middle(values: pl.Expr, skipped: pl.Expr) -> pl.Expr:
    """In a group-by: the median of the window from ``values``, the ones it holds around the middle
    ranks k1 and k2, where ``skipped`` amounts of the window rank below all of them. Interpolated
    as Polars' median does (linear, so the mean of the two middle values for an even count)."""
    ordered = values.sort()
    lower = ordered.get(pl.col("k1").first() - skipped.first())
    upper = ordered.get(pl.col("k2").first() - skipped.first())
    return lower + (upper - lower) * 0.5
