"""Daily FX rates: a mean-reverting random walk per currency, published on weekdays only.

Each rated currency's value in US dollars follows ``log v(t) = log v0 + x(t)`` with
``x(t) = 0.9995 x(t-1) + 0.005 e(t)``: about 0.5 % a day, wandering some 15 % around the
nominal value over years rather than drifting off to absurd levels. The walk runs from a fixed
epoch (1970-01-01) over a fixed horizon, with the same normal draws for a seed whatever dates
are asked for, so a rate is a pure function of ``(seed, currency, date)``: seeding adjacent days
later reproduces the overlapping rates exactly and adds the new ones without conflicts.

A published rate is ``v(currency) / v(base)`` rounded to 8 decimals (``numeric(18,8)``), for
every rated currency against every base currency in use, on Monday to Friday (no rows on
Saturdays and Sundays, like the ECB and most central banks; public holidays still get a rate).
Rates are kept as integers of 1e-8 and formatted as decimal strings: no float formatting.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from journal_pipeline.seed.catalog import CURRENCIES, CURRENCY_INDEX

EPOCH = dt.date(1970, 1, 1)
HORIZON = dt.date(2099, 12, 31)
STREAM_FX = 6
_PHI = 0.9995
_DAILY_VOL = 0.005
RATE_SCALE = 10**8  # numeric(18,8)


def check_dates(first: dt.date, last: dt.date) -> None:
    """Refuse dates outside the span the FX walk is defined on."""
    if first < EPOCH or last > HORIZON:
        raise ValueError(
            f"seed dates must lie between {EPOCH} and {HORIZON} (FX rates are simulated over that "
            f"span), not {first} to {last}"
        )


def usd_values(seed: int, first: dt.date, last: dt.date) -> np.ndarray:
    """Value in USD of one unit of each currency of CURRENCIES, per day: shape (days, currencies)."""
    check_dates(first, last)
    rng = np.random.default_rng([seed, STREAM_FX])
    horizon_days = (HORIZON - EPOCH).days + 1
    shocks = rng.standard_normal((horizon_days, len(CURRENCIES))) * _DAILY_VOL
    end = (last - EPOCH).days + 1
    walk = np.empty((end, len(CURRENCIES)))
    state = np.zeros(len(CURRENCIES))
    for day in range(end):  # an AR(1) filter over ~20,000 days: cheap, and exact for any prefix
        state = _PHI * state + shocks[day]
        walk[day] = state
    nominal = np.log([c.usd_value for c in CURRENCIES])
    values = np.exp(nominal + walk[(first - EPOCH).days :])
    values[:, CURRENCY_INDEX["USD"]] = 1.0  # the numeraire
    return values


def published_rates(values: np.ndarray, day: np.ndarray, currency: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Rates in integer units of 1e-8 (base per unit of currency) on day indexes into ``values``."""
    return np.rint(values[day, currency] / values[day, base] * RATE_SCALE).astype(np.int64)


def fx_rate_rows(seed: int, bases: list[str], first: dt.date, last: dt.date) -> pl.DataFrame:
    """fx_rates rows from ``first`` to ``last`` (weekdays only) for every rated currency against ``bases``.

    Columns: rate_date (date), currency, base_currency, rate (decimal string with 8 places).
    """
    values = usd_values(seed, first, last)
    days = np.arange((last - first).days + 1)
    weekdays = days[[(first + dt.timedelta(days=int(d))).weekday() < 5 for d in days]]
    rated = np.array([i for i, c in enumerate(CURRENCIES) if c.rated])
    base_index = np.array([CURRENCY_INDEX[b] for b in dict.fromkeys(bases)])
    day, base, currency = (a.ravel() for a in np.meshgrid(weekdays, base_index, rated, indexing="ij"))
    keep = currency != base
    day, base, currency = day[keep], base[keep], currency[keep]
    units = published_rates(values, day, currency, base)
    codes = pl.Series([c.code for c in CURRENCIES])
    dates = pl.Series([first + dt.timedelta(days=int(d)) for d in range(len(days))], dtype=pl.Date)
    return pl.DataFrame(
        {
            "rate_date": dates.gather(day),
            "currency": codes.gather(currency),
            "base_currency": codes.gather(base),
            "rate": format_fixed(pl.Series(units), 8),
        }
    )


def format_fixed(units: pl.Series, places: int) -> pl.Series:
    """Non-negative integers of 10^-places formatted as exact decimal strings ("0.00520631")."""
    scale = 10**places
    return pl.select(
        pl.concat_str(
            [(units // scale).cast(pl.String), pl.lit("."), (units % scale).cast(pl.String).str.zfill(places)]
        )
    ).to_series()
