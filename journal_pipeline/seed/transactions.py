"""Ordinary sub-ledger transactions, drawn column by column (no Python loop over rows).

A run is planned as a :class:`Plan`: one entry per transaction in numpy arrays of codes
(company, day, type, user, currency, amount in integer cents, ...). This module draws the
ordinary business; :mod:`journal_pipeline.seed.anomalies` then turns a few rows into invalid
ones and planted anomalies, :func:`assign_approvers` gives every manual entry its approver, and
:mod:`journal_pipeline.seed.render` turns the plan into ``legacy.src_transactions`` rows.

How many transactions a company has on a day (the exact rule)
------------------------------------------------------------
Every company gets exactly ``days * txns_per_day`` transactions over the run, spread over the
days in proportion to a weight: 1 for a business day; 1.8 for the last business day of a
month, 1.4 for the one before and 1.2 for the first (month-end close); 0.25 for Saturdays,
Sundays and the company's public holidays (only interfaces run then); each multiplied by a
day-to-day factor ``exp(N(0, 0.05^2))``. Counts are the largest-remainder apportionment of the
total by these weights, so the per-day count varies around ``txns_per_day`` and the total is exact.

What an ordinary transaction looks like
----------------------------------------
- its type follows the weights of :data:`~journal_pipeline.seed.catalog.TXN_TYPES` (payroll,
  depreciation, accruals and recharges weigh 3-4 times more in the last two business days of a
  month); on weekends and holidays only interface-driven types occur, and only automatically;
- on business days a type's ``manual_share`` is keyed by hand by a person of the type's role,
  chosen with Zipf-like weights (a few people do most of the work); everything else is created
  by the source system's service account with ``approved_by`` NULL. PAY and CB are never manual;
- ``created_at`` is on ``txn_date`` in the company's time zone, always between 07:00 and 20:00:
  people between 07:00 and 19:00 (peaks mid-morning and mid-afternoon), interfaces in hourly
  batches during the first half of each hour;
- the net amount is lognormal per type (``log10`` normal with the type's median and spread,
  truncated at three standard deviations), a mixture over four orders of magnitude that follows
  Benford's law closely; it is converted into the document currency by its nominal value and
  kept as integer cents (whole yen for JPY), at least one major unit;
- a taxed type (a rule with a tax account) carries ``tax_amount`` at the company's standard rate,
  rounded half up to the cent (whole yen), except 8 % zero-rated documents with ``"0.00"``;
- 8-12 % of AP/AR documents and 30 % of intercompany recharges are in a foreign currency;
- counterparties are Zipf-distributed within their pool: a handful of vendors and customers
  account for a large share (the big ones send automatic EDI documents, people key the long tail);
- amounts are JSON strings or numbers depending on the interface, with a few strings padded
  with a space (still valid: white space around a number is ignored);
- a manual entry's gross base amount is never within 10 % below its poster's approval limit
  (such entries are scaled down): being just below the limit is kept as a planted anomaly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from journal_pipeline.domain.holidays import holidays_between
from journal_pipeline.seed import catalog
from journal_pipeline.seed.catalog import CURRENCIES, CURRENCY_INDEX, TXN_TYPES, TYPE_INDEX
from journal_pipeline.seed.reference import Reference

BUSINESS, WEEKEND, HOLIDAY = 0, 1, 2
FX_LEAD_DAYS = 10  # fx_rates start this many days before the first seeded day
ROLES: tuple[str, ...] = ("ap", "ar", "gl", "payroll")
STYLE_STRING, STYLE_NUMBER, STYLE_PADDED = 0, 1, 2
NO_TAX = -1
NEAR_LIMIT_BAND = 0.10  # ordinary manual entries stay out of [90 %, 100 %) of the poster's limit

# Hour-of-day weights for people (07:00-18:59) and for interface batches (07:00-19:59), local time.
_MANUAL_HOURS = np.array([0.02, 0.08, 0.13, 0.14, 0.12, 0.06, 0.09, 0.12, 0.11, 0.08, 0.04, 0.01])
_AUTO_HOURS = np.array([0.06, 0.10, 0.08, 0.08, 0.08, 0.10, 0.08, 0.08, 0.08, 0.08, 0.08, 0.06, 0.04])
# Share of amounts written as JSON numbers, by source system, for interfaces and for people.
_NUMBER_SHARE_AUTO = {"AP": 0.1, "AR": 0.9, "CB": 0.9, "PAY": 0.2, "GJ": 0.8}
_NUMBER_SHARE_MANUAL = 0.05
_PADDED_SHARE = 0.003
_ZERO_RATED_SHARE = 0.08
_PO_SHARE = 0.4


@dataclass
class Calendar:
    """The run's days and, per company, what kind of day each is and how many transactions it gets."""

    start: dt.date
    days: int
    kind: np.ndarray  # (companies, days) BUSINESS / WEEKEND / HOLIDAY
    month_end: np.ndarray  # (companies, days) True on the last two business days of a month
    counts: np.ndarray  # (companies, days) transactions
    holiday_names: dict[tuple[int, int], str]

    @property
    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=d) for d in range(self.days)]


def build_calendar(ref: Reference, start: dt.date, days: int, txns_per_day: int, rng: np.random.Generator) -> Calendar:
    """Day kinds, month-end flags and per-day counts (the rule in the module docstring)."""
    end = start + dt.timedelta(days=days - 1)
    companies = len(ref.companies)
    kind = np.zeros((companies, days), dtype=np.int8)
    month_end = np.zeros((companies, days), dtype=bool)
    weight = np.ones((companies, days))
    names: dict[tuple[int, int], str] = {}
    # Month boundaries need the whole months around the run, not only its days.
    span_start = start.replace(day=1)
    span_end = (end.replace(day=28) + dt.timedelta(days=4)).replace(day=1) + dt.timedelta(days=31)
    for c, company in enumerate(ref.companies):
        holidays = holidays_between(company.country, span_start, span_end)
        business = [
            day
            for day in (span_start + dt.timedelta(days=i) for i in range((span_end - span_start).days))
            if day.weekday() < 5 and day not in holidays
        ]
        by_month: dict[tuple[int, int], list[dt.date]] = {}
        for day in business:
            by_month.setdefault((day.year, day.month), []).append(day)
        peak: dict[dt.date, float] = {}
        for month_days in by_month.values():
            peak[month_days[0]] = 1.2
            if len(month_days) >= 2:
                peak[month_days[-2]] = 1.4
            peak[month_days[-1]] = 1.8
        for d in range(days):
            day = start + dt.timedelta(days=d)
            if day in holidays and day.weekday() < 5:
                kind[c, d] = HOLIDAY
                names[(c, d)] = holidays[day]
            elif day.weekday() >= 5:
                kind[c, d] = WEEKEND
            if kind[c, d] != BUSINESS:
                weight[c, d] = 0.25
            else:
                weight[c, d] = peak.get(day, 1.0)
                month_end[c, d] = peak.get(day, 1.0) >= 1.4
    weight *= np.exp(rng.normal(0.0, 0.05, size=weight.shape))
    counts = np.vstack([_apportion(days * txns_per_day, weight[c]) for c in range(companies)])
    return Calendar(start=start, days=days, kind=kind, month_end=month_end, counts=counts, holiday_names=names)


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder apportionment of ``total`` by ``weights``: integers that sum to ``total``."""
    quotas = total * weights / weights.sum()
    counts = np.floor(quotas).astype(np.int64)
    short = total - int(counts.sum())
    if short:
        order = np.lexsort((np.arange(len(quotas)), -(quotas - counts)))
        counts[order[:short]] += 1
    return counts


@dataclass
class Plan:
    """One entry per transaction: codes and integer amounts, before rendering to rows."""

    company: np.ndarray  # int32 company index (company_id - 1)
    day: np.ndarray  # int32 day offset from the run's start
    secs: np.ndarray  # int32 local seconds after midnight of created_at
    txn_type: np.ndarray  # int16 index into TXN_TYPES
    manual: np.ndarray  # bool
    creator: np.ndarray  # int32 index into ref.users
    approver: np.ndarray  # int32 index into ref.users, -1 for NULL
    approver_fixed: np.ndarray  # bool: approver set by a planted anomaly, not to be reassigned
    currency: np.ndarray  # int16 index into CURRENCIES
    amount: np.ndarray  # int64 net amount in cents of the document currency
    tax: np.ndarray  # int64 tax in cents, NO_TAX when the key is absent
    counterparty: np.ndarray  # int32 index into ref.counterparties
    cost_center: np.ndarray  # int32 index into the company's cost centres
    phrase: np.ndarray  # int32 index into TypeTable.phrases
    style: np.ndarray  # int8 STYLE_*
    po_number: np.ndarray  # int32, -1 for none

    @property
    def size(self) -> int:
        return len(self.company)

    @classmethod
    def empty(cls, size: int) -> Plan:
        return cls(
            company=np.zeros(size, np.int32),
            day=np.zeros(size, np.int32),
            secs=np.zeros(size, np.int32),
            txn_type=np.zeros(size, np.int16),
            manual=np.zeros(size, bool),
            creator=np.zeros(size, np.int32),
            approver=np.full(size, -1, np.int32),
            approver_fixed=np.zeros(size, bool),
            currency=np.zeros(size, np.int16),
            amount=np.zeros(size, np.int64),
            tax=np.full(size, NO_TAX, np.int64),
            counterparty=np.zeros(size, np.int32),
            cost_center=np.zeros(size, np.int32),
            phrase=np.zeros(size, np.int32),
            style=np.zeros(size, np.int8),
            po_number=np.full(size, -1, np.int32),
        )


class TypeTable:
    """TXN_TYPES as arrays, for vectorised look-ups by type index."""

    def __init__(self) -> None:
        types = TXN_TYPES
        self.codes = [t.code for t in types]
        self.weight = np.array([t.weight for t in types])
        self.manual_share = np.array([t.manual_share for t in types])
        self.foreign_share = np.array([t.foreign_share for t in types])
        self.log_median = np.log10([t.median for t in types])
        self.sigma = np.array([t.sigma for t in types])
        self.month_end = np.array([t.month_end for t in types])
        self.closed_days = np.array([t.closed_days for t in types])
        self.normal = np.array([t.usage == "normal" for t in types])
        self.source = np.array([catalog.SOURCE_SYSTEMS.index(t.source_system) for t in types], np.int8)
        self.role = np.array([ROLES.index(t.role) for t in types], np.int8)
        self.pool_names = sorted({t.pool for t in types})
        self.pool = np.array([self.pool_names.index(t.pool) for t in types], np.int8)
        self.pool_member = np.array([t.pool_member for t in types], np.int32)
        self.by_counterparty = np.array([t.description == "counterparty" for t in types])
        self.phrases: list[str] = []
        offsets, counts = [], []
        for t in types:
            offsets.append(len(self.phrases))
            counts.append(len(t.phrases))
            self.phrases.extend(t.phrases)
        self.suspicious_offset = len(self.phrases)
        self.phrases.extend(catalog.SUSPICIOUS_PHRASES)
        self.phrase_offset = np.array(offsets, np.int32)
        self.phrase_count = np.array(counts, np.int32)
        self.doc_prefixes = sorted({t.doc_prefix for t in types})
        self.doc_prefix = np.array([self.doc_prefixes.index(t.doc_prefix) for t in types], np.int16)
        per_cp = {t.doc_prefix: t.doc_per_counterparty for t in types}
        if any(per_cp[t.doc_prefix] != t.doc_per_counterparty for t in types):
            raise AssertionError("types sharing a document series must agree on doc_per_counterparty")
        self.doc_per_counterparty = np.array([t.doc_per_counterparty for t in types])


TYPES = TypeTable()


class Context:
    """The reference data and calendar as look-up arrays, shared by every drawing function."""

    def __init__(self, ref: Reference, calendar: Calendar, fx_values: np.ndarray) -> None:
        self.ref = ref
        self.calendar = calendar
        self.fx_values = fx_values  # (FX_LEAD_DAYS + days, currencies) USD value per unit
        companies = len(ref.companies)
        self.base = np.array([CURRENCY_INDEX[c.base_currency] for c in ref.companies], np.int16)
        self.decimals = np.array([c.decimals for c in CURRENCIES], np.int8)
        self.usd_value = np.array([c.usd_value for c in CURRENCIES])
        self.limit_scale = np.array([CURRENCIES[b].limit_scale for b in self.base], np.int64)
        users = ref.users
        self.user_limit = np.array([np.inf if u.limit_cents is None else u.limit_cents for u in users])
        self.user_human = np.array([u.is_human for u in users])
        self.user_company = np.array([u.company_index for u in users], np.int32)
        self.user_role = np.array([ROLES.index(u.role) if u.role in ROLES else -1 for u in users], np.int8)
        self.user_fabricator = np.array([u.fabricator for u in users])
        self.service_user = np.array([ref.service_user[s] for s in catalog.SOURCE_SYSTEMS], np.int32)
        # Tax rate (1/100,000) per company and type: 0 where the rule has no tax account.
        self.tax_rate = np.zeros((companies, len(TXN_TYPES)), np.int64)
        self.has_tax_account = np.zeros((companies, len(TXN_TYPES)), bool)
        for c, company in enumerate(ref.companies):
            for t, txn_type in enumerate(TXN_TYPES):
                rule = ref.rule(c, txn_type.code)
                self.has_tax_account[c, t] = rule is not None and rule.tax_account is not None
                if self.has_tax_account[c, t] and txn_type.tax in ("purchase", "sales"):
                    self.tax_rate[c, t] = company.template.tax_rate_e5
        # Posting pools: who keys a role's entries by hand, with what weight.
        self.role_pools: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        for c in range(companies):
            for r, role in enumerate(ROLES):
                members = [
                    i
                    for i, u in enumerate(users)
                    if u.company_index == c and (u.role == role or (role == "gl" and u.role == "controller"))
                ]
                weights = np.array([users[i].weight for i in members])
                self.role_pools[(c, r)] = (np.array(members, np.int32), _cdf(weights))
        # Approvers per company, by ascending limit (unlimited last).
        self.approvers: list[tuple[np.ndarray, np.ndarray]] = []
        for c in range(companies):
            floor = catalog.APPROVER_MIN_LIMIT * int(self.limit_scale[c]) * 100
            members = sorted(
                (
                    i
                    for i, u in enumerate(users)
                    if u.company_index == c
                    and u.is_human
                    and not u.fabricator
                    and (u.limit_cents is None or u.limit_cents >= floor)
                ),
                key=lambda i: (self.user_limit[i], i),
            )
            self.approvers.append((np.array(members, np.int32), self.user_limit[members]))
        # Counterparty pools: first index per (company, pool) and the pool's size.
        self.pool_offset = np.zeros((companies, len(TYPES.pool_names)), np.int32)
        self.pool_size = np.zeros(len(TYPES.pool_names), np.int32)
        for (c, pool), (offset, size) in ref.pools.items():
            if pool in TYPES.pool_names:
                p = TYPES.pool_names.index(pool)
                self.pool_offset[c, p] = offset
                self.pool_size[p] = size
        self.cost_center_count = np.array([len(cc) for cc in ref.cost_centers], np.int32)
        # Foreign currencies each company sees, with weights.
        self.foreign_cdf: list[tuple[np.ndarray, np.ndarray]] = []
        for c in range(companies):
            codes = [k for k in catalog.FOREIGN_CURRENCY_WEIGHTS if CURRENCY_INDEX[k] != self.base[c]]
            self.foreign_cdf.append(
                (
                    np.array([CURRENCY_INDEX[k] for k in codes], np.int16),
                    _cdf(np.array([catalog.FOREIGN_CURRENCY_WEIGHTS[k] for k in codes])),
                )
            )

    def unit(self, currency: np.ndarray) -> np.ndarray:
        """Cents per smallest unit in everyday use: 100 for whole yen, 1 otherwise."""
        return np.where(self.decimals[currency] == 0, 100, 1).astype(np.int64)

    def rate(self, day: np.ndarray, currency: np.ndarray, company: np.ndarray) -> np.ndarray:
        """The day's published rate (currency -> company base) as a float, 1 for the base itself."""
        fx_day = day + FX_LEAD_DAYS
        base = self.base[company]
        raw = self.fx_values[fx_day, currency] / self.fx_values[fx_day, base]
        return np.where(currency == base, 1.0, np.rint(raw * 1e8) / 1e8)

    def gross_base_cents(self, plan: Plan, rows: np.ndarray) -> np.ndarray:
        """Approximate gross amount of ``rows`` in base-currency cents (for approvals, not for posting)."""
        gross = plan.amount[rows] + np.maximum(plan.tax[rows], 0)
        return gross * self.rate(plan.day[rows], plan.currency[rows], plan.company[rows])


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights, dtype=float)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf


def _draw(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def zipf_cdf(size: int, exponent: float) -> np.ndarray:
    return _cdf(1.0 / np.arange(1, size + 1) ** exponent)


# --- drawing the fields -----------------------------------------------------------------------------


def draw_types(rng: np.random.Generator, kind: np.ndarray, month_end: np.ndarray) -> np.ndarray:
    """Transaction types for rows on days of ``kind`` (with month-end flags)."""
    normal = np.flatnonzero(TYPES.normal)
    business = TYPES.weight[normal]
    classes = {
        0: business,
        1: business * TYPES.month_end[normal],
        2: business * (1 - TYPES.manual_share[normal]) * TYPES.closed_days[normal],
    }
    row_class = np.where(kind != BUSINESS, 2, month_end.astype(np.int8))
    u = rng.random(len(kind))
    types = np.empty(len(kind), np.int16)
    for cls, weights in classes.items():
        rows = row_class == cls
        types[rows] = normal[_draw(_cdf(weights), u[rows])]
    return types


def fill_rows(
    ctx: Context,
    plan: Plan,
    rows: np.ndarray,
    rng: np.random.Generator,
    *,
    types: np.ndarray,
    manual: np.ndarray,
    creator: np.ndarray | None = None,
    currency: np.ndarray | None = None,
) -> None:
    """Draw every field of ``rows`` (indexes into ``plan``) as ordinary transactions of ``types``.

    ``manual`` says which rows are keyed by hand; ``creator`` and ``currency`` are drawn unless given.
    Used for the whole run and again for the rows that a planted anomaly turns into another type.
    """
    n = len(rows)
    company = plan.company[rows]
    plan.txn_type[rows] = types
    plan.manual[rows] = manual
    plan.creator[rows] = creator if creator is not None else draw_creators(ctx, rng, company, types, manual)
    plan.currency[rows] = currency if currency is not None else draw_currencies(ctx, rng, company, types)
    plan.amount[rows] = draw_amounts(ctx, rng, types, plan.currency[rows])
    zero_rated = rng.random(n) < _ZERO_RATED_SHARE
    plan.tax[rows] = tax_for(ctx, company, types, plan.currency[rows], plan.amount[rows], zero_rated)
    plan.counterparty[rows] = draw_counterparties(ctx, rng, company, types, manual)
    plan.cost_center[rows] = np.floor(rng.random(n) ** 1.8 * ctx.cost_center_count[company]).astype(np.int32)
    plan.phrase[rows] = TYPES.phrase_offset[types] + np.floor(rng.random(n) * TYPES.phrase_count[types]).astype(
        np.int32
    )
    plan.secs[rows] = draw_secs(rng, manual)
    plan.style[rows] = draw_styles(rng, types, manual)
    po = (types == TYPE_INDEX["PURCH_INV"]) & manual & (rng.random(n) < _PO_SHARE)
    plan.po_number[rows] = np.where(po, rng.integers(100_000, 1_000_000, n), -1)
    plan.approver[rows] = -1
    plan.approver_fixed[rows] = False


def draw_creators(
    ctx: Context, rng: np.random.Generator, company: np.ndarray, types: np.ndarray, manual: np.ndarray
) -> np.ndarray:
    """The service account of the source system, or a person of the type's role for manual rows."""
    creator = ctx.service_user[TYPES.source[types]].astype(np.int32)
    role = TYPES.role[types]
    u = rng.random(len(types))
    for (c, r), (members, cdf) in ctx.role_pools.items():
        rows = manual & (company == c) & (role == r)
        if rows.any():
            creator[rows] = members[_draw(cdf, u[rows])]
    return creator


def draw_currencies(ctx: Context, rng: np.random.Generator, company: np.ndarray, types: np.ndarray) -> np.ndarray:
    currency = ctx.base[company].copy()
    foreign = rng.random(len(types)) < TYPES.foreign_share[types]
    u = rng.random(len(types))
    for c, (codes, cdf) in enumerate(ctx.foreign_cdf):
        rows = foreign & (company == c)
        if rows.any():
            currency[rows] = codes[_draw(cdf, u[rows])]
    return currency


def truncated_normal(rng: np.random.Generator, n: int, bound: float = 3.0) -> np.ndarray:
    z = rng.standard_normal(n)
    for _ in range(4):
        outside = np.abs(z) > bound
        if not outside.any():
            break
        z[outside] = rng.standard_normal(int(outside.sum()))
    return np.clip(z, -bound, bound)


def reference_to_cents(ctx: Context, reference_amount: np.ndarray, currency: np.ndarray) -> np.ndarray:
    """Reference units (about USD) -> integer cents of ``currency``, rounded to its everyday unit."""
    unit = ctx.unit(currency)
    cents = np.rint(reference_amount / ctx.usd_value[currency] * 100 / unit).astype(np.int64) * unit
    return np.maximum(cents, 100 * unit)


def draw_amounts(ctx: Context, rng: np.random.Generator, types: np.ndarray, currency: np.ndarray) -> np.ndarray:
    z = truncated_normal(rng, len(types))
    return reference_to_cents(ctx, 10.0 ** (TYPES.log_median[types] + TYPES.sigma[types] * z), currency)


def tax_for(
    ctx: Context,
    company: np.ndarray,
    types: np.ndarray,
    currency: np.ndarray,
    amount: np.ndarray,
    zero_rated: np.ndarray,
) -> np.ndarray:
    """Tax in cents at the company's rate, rounded half up to the everyday unit; NO_TAX when the rule has none."""
    rate = ctx.tax_rate[company, types]
    unit = ctx.unit(currency)
    tax = (amount // unit * rate + 50_000) // 100_000 * unit
    tax = np.where(zero_rated, 0, tax)
    return np.where(ctx.has_tax_account[company, types] & (rate > 0), tax, NO_TAX)


def draw_counterparties(
    ctx: Context, rng: np.random.Generator, company: np.ndarray, types: np.ndarray, manual: np.ndarray
) -> np.ndarray:
    """Zipf-like ranks within the type's pool; big vendors and customers send automatic documents."""
    pool = TYPES.pool[types]
    member = TYPES.pool_member[types].copy()
    u = rng.random(len(types))
    for p, name in enumerate(TYPES.pool_names):
        size = int(ctx.pool_size[p])
        if size == 0:
            continue
        steep, flat = (1.2, 0.6) if name in ("vendor", "customer") else (0.8, 0.8)
        for is_manual, exponent in ((False, steep), (True, flat)):
            rows = (pool == p) & (member < 0) & (manual == is_manual)
            if rows.any():
                member[rows] = _draw(zipf_cdf(size, exponent), u[rows])
    return ctx.pool_offset[company, pool] + member


def draw_secs(rng: np.random.Generator, manual: np.ndarray) -> np.ndarray:
    n = len(manual)
    manual_hour = 7 + _draw(_cdf(_MANUAL_HOURS), rng.random(n))
    auto_hour = 7 + _draw(_cdf(_AUTO_HOURS), rng.random(n))
    hour = np.where(manual, manual_hour, auto_hour)
    within = np.where(manual, rng.integers(0, 3600, n), rng.integers(0, 1800, n))
    return (hour * 3600 + within).astype(np.int32)


def draw_styles(rng: np.random.Generator, types: np.ndarray, manual: np.ndarray) -> np.ndarray:
    auto_share = np.array([_NUMBER_SHARE_AUTO[s] for s in catalog.SOURCE_SYSTEMS])[TYPES.source[types]]
    number = rng.random(len(types)) < np.where(manual, _NUMBER_SHARE_MANUAL, auto_share)
    padded = manual & ~number & (rng.random(len(types)) < _PADDED_SHARE)
    return np.where(number, STYLE_NUMBER, np.where(padded, STYLE_PADDED, STYLE_STRING)).astype(np.int8)


# --- the run --------------------------------------------------------------------------------------


def ordinary_plan(ctx: Context, rng: np.random.Generator) -> Plan:
    """Every transaction of the run as an ordinary one (before invalid rows and anomalies)."""
    cal = ctx.calendar
    companies, days = cal.counts.shape
    grid_company, grid_day = np.meshgrid(np.arange(companies), np.arange(days), indexing="ij")
    plan = Plan.empty(int(cal.counts.sum()))
    plan.company[:] = np.repeat(grid_company.ravel(), cal.counts.ravel())
    plan.day[:] = np.repeat(grid_day.ravel(), cal.counts.ravel())
    kind = cal.kind[plan.company, plan.day]
    types = draw_types(rng, kind, cal.month_end[plan.company, plan.day])
    manual = (kind == BUSINESS) & (rng.random(plan.size) < TYPES.manual_share[types])
    fill_rows(ctx, plan, np.arange(plan.size), rng, types=types, manual=manual)
    keep_clear_of_limits(ctx, plan, rng)
    return plan


def keep_clear_of_limits(ctx: Context, plan: Plan, rng: np.random.Generator) -> None:
    """Scale down manual entries whose gross base amount lies just below the poster's limit."""
    rows = np.flatnonzero(plan.manual)
    gross = ctx.gross_base_cents(plan, rows)
    limit = ctx.user_limit[plan.creator[rows]]
    near = rows[(gross >= (1 - NEAR_LIMIT_BAND) * limit) & (gross < limit)]
    if len(near):
        factor = rng.uniform(0.3, 0.85, len(near))
        set_amount(ctx, plan, near, np.rint(plan.amount[near] * factor).astype(np.int64))


def set_amount(ctx: Context, plan: Plan, rows: np.ndarray, cents: np.ndarray) -> None:
    """New net amounts for ``rows`` (rounded to the currency's unit), with their tax recomputed."""
    currency = plan.currency[rows]
    unit = ctx.unit(currency)
    cents = np.maximum(cents // unit * unit, unit)
    plan.amount[rows] = cents
    zero_rated = plan.tax[rows] == 0
    plan.tax[rows] = tax_for(ctx, plan.company[rows], plan.txn_type[rows], currency, cents, zero_rated)


def assign_approvers(ctx: Context, plan: Plan, rng: np.random.Generator) -> None:
    """Every manual entry is approved by another person of its company whose limit covers its gross base amount.

    Automatic entries need no approval (NULL). Approvers are drawn uniformly from the colleagues
    whose limit is high enough; each company has two people with no limit, so there is always one.
    """
    plan.approver[~plan.manual & ~plan.approver_fixed] = -1
    rows = np.flatnonzero(plan.manual & ~plan.approver_fixed)
    gross = ctx.gross_base_cents(plan, rows)
    u = rng.random(len(rows))
    for c, (members, limits) in enumerate(ctx.approvers):
        mine = plan.company[rows] == c
        if not mine.any():
            continue
        first = np.searchsorted(limits, gross[mine], side="left")
        choices = len(members) - first
        pick = first + np.floor(u[mine] * choices).astype(np.int64)
        clash = members[pick] == plan.creator[rows[mine]]
        pick = np.where(clash, first + (pick - first + 1) % choices, pick)
        plan.approver[rows[mine]] = members[pick]


def utc_offsets(ref: Reference, calendar: Calendar) -> np.ndarray:
    """UTC offset in seconds per (company, day, local hour): local wall time minus UTC.

    Offsets change only on the hour in every zone used, so an hourly table is exact. A wall time
    that does not exist (the hour skipped when clocks go forward) takes the offset before the
    change, and an ambiguous one the earlier instant, as ``datetime`` with ``fold=0`` does.
    """
    offsets = np.zeros((len(ref.companies), calendar.days, 24), np.int64)
    for c, company in enumerate(ref.companies):
        zone = ZoneInfo(company.timezone)
        for d, day in enumerate(calendar.dates):
            for hour in range(24):
                local = dt.datetime(day.year, day.month, day.day, hour, tzinfo=zone)
                offsets[c, d, hour] = int(local.utcoffset().total_seconds())  # type: ignore[union-attr]
    return offsets
