"""Invalid rows and planted anomalies, with the ground truth that says which rows they are.

The fraud engineer builds detectors against these; ``fraud-eval`` measures them with
``eval.ground_truth``. Every planted row is recorded there with its ``kind`` and a ``detail``
that names the evidence (partner transactions, the limit, the holiday, ...).

Counts
------
Each kind gets ``round(share * transactions)`` events (at least one once a run has 1,000 or more
transactions, so that every kind appears at test scale). Invalid rows are about 0.3 % of a run in
total (0.027 % per reason), planted anomalies about 0.7 % (see :data:`ANOMALY_SHARES`); a duplicate
or near-duplicate event records two rows, a split 2-3. Anomalies are planted only on rows that are
otherwise valid, ordinary and on business days (except weekend and holiday entries), and never
twice on the same row. A kind that needs something the seeded days lack (a weekend, a public
holiday) is reported as not planted.

Invalid rows (category ``invalid``; kind = the reason code of docs/posting-semantics.md)
-----------------------------------------------------------------------------------------
Each is valid in every check before its own, so the recorded kind is the first failing check.

- ``unknown_company``: ``company_id`` NULL, 0, 99 or 999.
- ``no_posting_rule``: types without a rule (FX_REVAL, PURCH_INV_V2, LOAN_DRAWDOWN) or a NULL type.
- ``amount_missing``: ``amount`` key absent, JSON null, or ``data`` NULL.
- ``amount_not_numeric``: ``"1,234.56"``, ``"1.234,56"``, ``""``, ``"NaN"``, ``"Infinity"``,
  ``true``, ``"EUR 120.00"``, ``[120.0]``, ``{"value": ...}``, or a valid amount with ``tax_amount "n/a"``.
- ``amount_too_precise``: 19 decimal places, 22 integer digits, or ``1.5e25`` (26): beyond
  ``numeric(38,18)`` however "20 or more integer digits" is read (10^19 or 10^20 and up).
- ``amount_out_of_range``: zero, negative (string, number, ``-0``), negative tax; or, past the
  currency checks, ``"0.004"`` in the base currency (``base_net`` 0.00) or a 17-digit amount
  whose base value does not fit ``numeric(18,2)``.
- ``bad_currency``: currency absent, JSON null, a number, ``"usd"``, ``"EURO"``, ``"US"``, ``"GB P"``, ``""``.
- ``tax_without_tax_account``: a positive ``tax_amount`` on a type whose rule has no tax account.
- ``unknown_account``: type MIGRATED_AP (net account 59100 not in the chart) or MIGRATED_SI with
  tax (tax account 22999 not in the chart).
- ``inactive_account``: type OLD_BANK_FEE (contra account 1209, a closed bank account).
- ``no_rate``: a well-formed currency with no rates at all (TRY, ARS, NGN, KZT, EGP).

Planted anomalies (category ``anomaly``; SPEC section 5) and how each is planted
-------------------------------------------------------------------------------
- ``duplicate``: an AP/AR document entered again 0-3 business days later with every ``data``
  field identical (same type, counterparty, amount, currency, document_ref, description), by the
  same interface or person. Both rows are recorded ("original of" / "exact duplicate of").
- ``near_duplicate``: the same counterparty, type and amount keyed by hand 1-4 business days
  later with a variant of the document_ref (suffix ``-A`` or the first dash dropped). Both rows.
- ``round_amount``: a manual entry whose net amount is a round multiple of 1,000 major units
  (times the currency's limit scale: 100,000 yen), e.g. 25,000.00.
- ``just_below_limit``: a manual entry whose gross base amount is 95-99.5 % of its poster's
  approval limit (``created_by``'s ``approval_limit``; approved by a colleague as usual).
  Ordinary manual entries never fall within 10 % below their poster's limit.
- ``split_transaction``: an AP clerk keys 2-3 purchase invoices from one vendor within three
  business days, each 60-85 % of the clerk's approval limit (all parts within 2 % of each
  other), together above it; same type, cost centre and description. Every part is recorded.
- ``weekend_entry``: a manual entry created by a person on a Saturday or Sunday (company time
  zone), 09:00-17:00. Ordinary weekend rows are automatic interface entries only.
- ``holiday_entry``: the same on a weekday public holiday of the company's country
  (journal_pipeline.domain.holidays). Ordinary holiday rows are automatic only.
- ``after_hours``: a manual entry created between 22:00 and 05:00 local time. Ordinary entries
  are created between 07:00 and 20:00.
- ``manual_entry``: a manual entry, by a person, in PAY or CB, whose entries are otherwise
  always automatic.
- ``self_approval``: ``approved_by`` = ``created_by`` on a manual entry. Ordinary entries never.
- ``suspense_posting``: type SUSPENSE_JNL (GJ, net account 1990 Suspense - general) or
  UNALLOC_RECEIPT (CB, net account 1190 Suspense - unallocated receipts); no ordinary row posts
  to a suspense account.
- ``rare_account``: types DONATION, FINE_PENALTY, LEGAL_SETTLEMENT, whose net accounts (7950,
  7960, 7970) no ordinary row uses.
- ``rare_account_pair``: types CASH_SALE (4000 / 1200) and DIRECT_PURCHASE (5000 / 1200): both
  accounts are busy, the pair is never used by ordinary rows.
- ``unusual_poster``: a manual entry by a person of another role (an AR clerk keying a purchase
  invoice, a payroll officer a manual journal, ...); ordinary entries are keyed only by the
  type's role.
- ``amount_outlier``: a net amount 10^(4.5..6 sigma) times the type's median; ordinary amounts
  stay within 3 sigma (sigma is the type's spread of log10 amounts, 0.45-0.8).
- ``suspicious_keyword``: a manual GJ entry described "Adjustment per CEO instruction", "Plug to
  balance trial balance", "Write off balance per CEO", "Manual override of system posting", ...
  (catalog.SUSPICIOUS_PHRASES); no ordinary description contains such a word.
- ``benford_fabrication``: two AP clerks of one company (the fabricators, chosen with the seed
  and the same in every run) whose every entry is fabricated over the whole period: 65 % with
  first digits 4-7, 35 % just under round thresholds (1,000 / 2,500 / 5,000 / 10,000 less 1-5 %,
  repeated). All their rows are recorded; judge them per poster, not per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from journal_pipeline.seed.catalog import CURRENCIES, ROLE_TITLES, TXN_TYPES, TYPE_INDEX
from journal_pipeline.seed.transactions import (
    BUSINESS,
    HOLIDAY,
    NEAR_LIMIT_BAND,
    NO_TAX,
    ROLES,
    STYLE_STRING,
    TYPES,
    WEEKEND,
    Context,
    Plan,
    draw_amounts,
    draw_secs,
    fill_rows,
    reference_to_cents,
    set_amount,
    tax_for,
)

INVALID_KINDS: tuple[str, ...] = (
    "unknown_company",
    "no_posting_rule",
    "amount_missing",
    "amount_not_numeric",
    "amount_too_precise",
    "amount_out_of_range",
    "bad_currency",
    "tax_without_tax_account",
    "unknown_account",
    "inactive_account",
    "no_rate",
)
INVALID_SHARE = 0.003 / len(INVALID_KINDS)

# Events per transaction. Duplicates and near-duplicates record two rows per event, splits 2-3.
ANOMALY_SHARES: dict[str, float] = {
    "duplicate": 0.0003,
    "near_duplicate": 0.0003,
    "round_amount": 0.0004,
    "just_below_limit": 0.0003,
    "split_transaction": 0.0001,
    "weekend_entry": 0.0003,
    "holiday_entry": 0.0002,
    "after_hours": 0.0004,
    "manual_entry": 0.0003,
    "self_approval": 0.0003,
    "suspense_posting": 0.0003,
    "rare_account": 0.0002,
    "rare_account_pair": 0.0002,
    "unusual_poster": 0.0003,
    "amount_outlier": 0.0003,
    "suspicious_keyword": 0.0003,
}
ANOMALY_KINDS: tuple[str, ...] = (*ANOMALY_SHARES, "benford_fabrication")
MIN_ROWS_FOR_EVERY_KIND = 1_000

_DOCUMENT_TYPES = np.array([TYPE_INDEX[t] for t in ("PURCH_INV", "PURCH_CRN", "SALES_INV", "EXPENSE_CLAIM")])
_OFF_HOURS_TYPES = np.array([TYPE_INDEX[t] for t in ("MANUAL_JOURNAL", "PURCH_INV", "ACCRUAL", "SALES_CRN")])
_OFF_HOURS_WEIGHTS = np.array([0.4, 0.3, 0.2, 0.1])
_ROUND_MULTIPLES = np.array([1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 250])
_FABRICATED_THRESHOLDS = np.array([1_000, 2_500, 5_000, 10_000])
_FABRICATED_DISCOUNTS = np.array([1, 2, 3, 5])
_UNRATED = [i for i, c in enumerate(CURRENCIES) if not c.rated]


@dataclass(frozen=True)
class Truth:
    """One ground-truth row; with ``partners``, ``{0}``, ``{1}``, ... in ``detail`` stand for their txn_ids."""

    row: int
    category: str
    kind: str
    detail: str
    partners: tuple[int, ...] = ()


@dataclass
class Overrides:
    """Row-level departures from the plan that only exist as JSON or NULLs (invalid rows, ref variants)."""

    company_id: dict[int, int | None] = field(default_factory=dict)
    txn_type_null: set[int] = field(default_factory=set)
    amount: dict[int, str | None] = field(default_factory=dict)  # JSON text of the value; None: key absent
    tax: dict[int, str] = field(default_factory=dict)
    currency: dict[int, str | None] = field(default_factory=dict)
    data_null: set[int] = field(default_factory=set)
    document_ref: dict[int, tuple[int, str]] = field(default_factory=dict)  # row -> (source row, variant)


def money(cents: int, decimals: int = 2, *, grouped: bool = True) -> str:
    """Exact decimal text of integer cents ("12,345.60"; "12,345" for whole-yen currencies)."""
    sign = "-" if cents < 0 else ""
    major, minor = divmod(abs(cents), 100)
    text = f"{major:,}" if grouped else str(major)
    return f"{sign}{text}" + (f".{minor:02d}" if decimals else "")


class Planter:
    """Plants invalid rows and anomalies into an ordinary plan and records the ground truth."""

    def __init__(self, ctx: Context, plan: Plan, rng: np.random.Generator) -> None:
        self.ctx = ctx
        self.plan = plan
        self.rng = rng
        self.truth: list[Truth] = []
        self.overrides = Overrides()
        self.not_planted: dict[str, str] = {}
        self.taken = ctx.user_fabricator[plan.creator].copy()  # fabricators' rows are all anomalies already
        cal = ctx.calendar
        self.kind = cal.kind[plan.company, plan.day]
        ends = np.cumsum(cal.counts.ravel()).reshape(cal.counts.shape)
        self.group_end = ends
        self.group_start = ends - cal.counts
        # The role pools without the fabricators: planted rows are never keyed by one.
        self.clean_pools: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        for key, (pool, _) in ctx.role_pools.items():
            members = pool[~ctx.user_fabricator[pool]]
            weights = np.array([ctx.ref.users[i].weight for i in members])
            self.clean_pools[key] = (members, np.cumsum(weights) / weights.sum())

    # --- helpers ----------------------------------------------------------------------------------

    def events(self, share: float) -> int:
        wanted = round(share * self.plan.size)
        return max(1, wanted) if self.plan.size >= MIN_ROWS_FOR_EVERY_KIND else wanted

    def ordinary(self) -> np.ndarray:
        """Rows still free, of an ordinary type, on a business day."""
        return (~self.taken) & TYPES.normal[self.plan.txn_type] & (self.kind == BUSINESS)

    def manual_by_person(self) -> np.ndarray:
        return self.ordinary() & self.plan.manual & self.ctx.user_human[self.plan.creator]

    def pick(self, mask: np.ndarray, count: int) -> np.ndarray:
        candidates = np.flatnonzero(mask & ~self.taken)
        count = min(count, len(candidates))
        chosen = np.sort(self.rng.choice(candidates, size=count, replace=False)) if count else candidates[:0]
        self.taken[chosen] = True
        return chosen

    def host_near(self, company: int, day: int, offsets: list[int]) -> int | None:
        """A free ordinary row of ``company`` on the first business day among ``day + offsets``."""
        cal = self.ctx.calendar
        for offset in offsets:
            d = day + offset
            if not 0 <= d < cal.days or cal.kind[company, d] != BUSINESS:
                continue
            start, end = int(self.group_start[company, d]), int(self.group_end[company, d])
            for _ in range(50):
                row = int(self.rng.integers(start, end))
                if not self.taken[row] and TYPES.normal[self.plan.txn_type[row]]:
                    self.taken[row] = True
                    return row
        return None

    def creators_for(self, rows: np.ndarray, types: np.ndarray) -> np.ndarray:
        """People of the types' roles (never a fabricator) for ``rows``."""
        company = self.plan.company[rows]
        role = TYPES.role[types]
        creator = np.empty(len(rows), np.int32)
        u = self.rng.random(len(rows))
        for (c, r), (members, cdf) in self.clean_pools.items():
            mine = (company == c) & (role == r)
            if mine.any():
                creator[mine] = members[np.minimum(np.searchsorted(cdf, u[mine], side="right"), len(cdf) - 1)]
        return creator

    def refill(self, rows: np.ndarray, types: np.ndarray, *, manual: bool) -> None:
        """Turn ``rows`` into ordinary-looking transactions of ``types``, keyed by hand or not."""
        is_manual = np.full(len(rows), manual)
        creator = self.creators_for(rows, types) if manual else None
        fill_rows(self.ctx, self.plan, rows, self.rng, types=types, manual=is_manual, creator=creator)
        self.keep_clear_of_limits(rows)

    def keep_clear_of_limits(self, rows: np.ndarray) -> None:
        plan, ctx = self.plan, self.ctx
        rows = rows[plan.manual[rows]]
        gross = ctx.gross_base_cents(plan, rows)
        limit = ctx.user_limit[plan.creator[rows]]
        near = rows[(gross >= (1 - NEAR_LIMIT_BAND) * limit) & (gross < limit)]
        if len(near):
            set_amount(ctx, plan, near, plan.amount[near] // 2)

    def record(
        self,
        rows: np.ndarray | list[int],
        category: str,
        kind: str,
        detail: Callable[[int], str] | str,
        partners: Callable[[int], tuple[int, ...]] | None = None,
    ) -> None:
        for row in map(int, rows):
            text = detail(row) if callable(detail) else detail
            self.truth.append(Truth(row, category, kind, text, partners(row) if partners else ()))

    def amount_text(self, row: int) -> str:
        return money(int(self.plan.amount[row]), CURRENCIES[self.plan.currency[row]].decimals, grouped=False)

    def describe(self, row: int) -> str:
        plan = self.plan
        currency = CURRENCIES[plan.currency[row]]
        return f"{TXN_TYPES[plan.txn_type[row]].code} {money(int(plan.amount[row]), currency.decimals)} {currency.code}"

    def user(self, index: int) -> str:
        return self.ctx.ref.users[index].user_id

    def limit_text(self, user: int) -> str:
        cents = self.ctx.ref.users[user].limit_cents
        return "unlimited" if cents is None else money(cents)

    # --- benford_fabrication ------------------------------------------------------------------------

    def fabricate(self) -> None:
        """Replace every amount of the fabricating posters (see the module docstring)."""
        plan, ctx, rng = self.plan, self.ctx, self.rng
        rows = np.flatnonzero(ctx.user_fabricator[plan.creator])
        if not len(rows):
            return
        company = plan.company[rows]
        plan.currency[rows] = ctx.base[company]
        unit = ctx.unit(plan.currency[rows])
        # The magnitude an honest entry of the type would have, in the base currency ...
        major = np.maximum(draw_amounts(ctx, rng, plan.txn_type[rows], plan.currency[rows]) // 100, 1)
        exponent = np.floor(np.log10(major.astype(float)))
        # ... with the leading digits made up, or a round threshold less a few per cent.
        digits_4_to_7 = np.rint(rng.uniform(4.0, 8.0, len(rows)) * 10.0**exponent * 100).astype(np.int64)
        threshold = rng.choice(_FABRICATED_THRESHOLDS, len(rows)) * ctx.limit_scale[company]
        under = threshold * (100 - rng.choice(_FABRICATED_DISCOUNTS, len(rows)))  # cents: x% below
        cents = np.where(rng.random(len(rows)) < 0.65, digits_4_to_7, under)
        set_amount(ctx, plan, rows, np.maximum(cents // unit * unit, 100 * unit))
        self.record(
            rows,
            "anomaly",
            "benford_fabrication",
            lambda r: (
                f"amounts keyed by {self.user(int(plan.creator[r]))} are fabricated over the whole period "
                "(first digits 4-7, repeated just-under-threshold amounts)"
            ),
        )

    # --- invalid rows -------------------------------------------------------------------------------

    def plant_invalid(self) -> None:
        anywhere = ~self.taken & TYPES.normal[self.plan.txn_type]
        for kind in INVALID_KINDS:
            count = self.events(INVALID_SHARE)
            if kind == "tax_without_tax_account":
                no_tax_account = ~self.ctx.has_tax_account[self.plan.company, self.plan.txn_type]
                rows = self.pick(anywhere & no_tax_account, count)
            else:
                rows = self.pick(anywhere, count)
            getattr(self, f"_invalid_{kind}")(rows)

    def _variant(self, count: int) -> int:
        return int(self.rng.integers(count))

    def _invalid_unknown_company(self, rows: np.ndarray) -> None:
        for row in rows:
            value = (None, 0, 99, 999)[self._variant(4)]
            self.overrides.company_id[int(row)] = value
            self.record(
                [row],
                "invalid",
                "unknown_company",
                "company_id is NULL" if value is None else f"company_id {value} is not in legacy.companies",
            )

    def _invalid_no_posting_rule(self, rows: np.ndarray) -> None:
        no_rule = np.array([i for i, t in enumerate(TXN_TYPES) if t.usage == "no_rule"])
        choice = self.rng.integers(len(no_rule) + 1, size=len(rows))
        typed = rows[choice < len(no_rule)]
        if len(typed):
            fill_rows(
                self.ctx,
                self.plan,
                typed,
                self.rng,
                types=no_rule[choice[choice < len(no_rule)]],
                manual=np.zeros(len(typed), bool),
            )
        for row in rows:
            if row in typed:
                self.record(
                    [row],
                    "invalid",
                    "no_posting_rule",
                    f"no posting rule for txn_type {TXN_TYPES[self.plan.txn_type[row]].code}",
                )
            else:
                self.overrides.txn_type_null.add(int(row))
                self.record([row], "invalid", "no_posting_rule", "txn_type is NULL")

    def _invalid_amount_missing(self, rows: np.ndarray) -> None:
        for row in rows:
            variant = self._variant(6)
            if variant == 0:
                self.overrides.data_null.add(int(row))
                self.record([row], "invalid", "amount_missing", "data is NULL")
            elif variant <= 3:
                self.overrides.amount[int(row)] = None
                self.record([row], "invalid", "amount_missing", "data has no amount key")
            else:
                self.overrides.amount[int(row)] = "null"
                self.record([row], "invalid", "amount_missing", "amount is JSON null")

    def _invalid_amount_not_numeric(self, rows: np.ndarray) -> None:
        for row in map(int, rows):
            major, minor = divmod(int(self.plan.amount[row]), 100)
            # Thousands separators (or a decimal comma for small amounts) make a string non-numeric.
            grouped = f'"{major:,}.{minor:02d}"' if major >= 1000 else f'"{major},{minor:02d}"'
            european = f'"{major:,}"'.replace(",", ".")[:-1] + f',{minor:02d}"' if major >= 1000 else grouped
            variants = [
                grouped,
                european,
                '""',
                '"NaN"',
                '"Infinity"',
                "true",
                f'"EUR {major}.{minor:02d}"',
                f"[{major}.{minor:02d}]",
                f'{{"value": "{major}.{minor:02d}"}}',
                "TAX",
            ]
            value = variants[self._variant(len(variants))]
            if value == "TAX":
                self.overrides.tax[row] = '"n/a"'
                self.record([row], "invalid", "amount_not_numeric", 'tax_amount "n/a" is not numeric')
            else:
                self.overrides.amount[row] = value
                self.record([row], "invalid", "amount_not_numeric", f"amount {value} is not numeric")

    def _invalid_amount_too_precise(self, rows: np.ndarray) -> None:
        for row in map(int, rows):
            whole, _, fraction = self.amount_text(row).partition(".")
            variants = [
                (f'"{whole}.{fraction.ljust(18, "0")}7"', "19 decimal places"),
                (f'"{(whole * 22)[:22]}.00"', "22 integer digits"),
                ("1.5e25", "26 integer digits"),
            ]
            value, why = variants[self._variant(len(variants))]
            self.overrides.amount[row] = value
            self.record([row], "invalid", "amount_too_precise", f"amount {value}: {why}, beyond numeric(38,18)")

    def _invalid_amount_out_of_range(self, rows: np.ndarray) -> None:
        plan = self.plan
        for row in map(int, rows):
            text = self.amount_text(row)
            variant = self._variant(7)
            if variant == 0:
                value, why = '"0.00"', "net amount is zero"
            elif variant == 1:
                value, why = f'"-{text}"', "net amount is negative"
            elif variant == 2:
                value, why = f"-{text}", "net amount is negative"
            elif variant == 3:
                value, why = "-0", "net amount -0 is zero"
            elif variant == 4:
                self.overrides.tax[row] = f'"-{money(max(int(plan.tax[row]), 100), grouped=False)}"'
                self.record([row], "invalid", "amount_out_of_range", "tax_amount is negative")
                continue
            elif variant == 5:
                plan.currency[row] = self.ctx.base[plan.company[row]]
                value, why = '"0.004"', "base net amount rounds to 0.00"
            else:
                plan.currency[row] = self.ctx.base[plan.company[row]]
                value, why = '"12345678901234567.89"', "base amount does not fit numeric(18,2)"
            self.overrides.amount[row] = value
            self.record([row], "invalid", "amount_out_of_range", f"amount {value}: {why}")

    def _invalid_bad_currency(self, rows: np.ndarray) -> None:
        variants: list[str | None] = [None, "null", "840", '"usd"', '"EURO"', '"US"', '"GB P"', '""']
        for row in rows:
            value = variants[self._variant(len(variants))]
            self.overrides.currency[int(row)] = value
            self.record(
                [row],
                "invalid",
                "bad_currency",
                "currency key is absent" if value is None else f"currency {value} is not an ISO code",
            )

    def _invalid_tax_without_tax_account(self, rows: np.ndarray) -> None:
        plan = self.plan
        unit = self.ctx.unit(plan.currency[rows])
        plan.tax[rows] = np.maximum(plan.amount[rows] // 5 // unit * unit, unit)
        self.record(
            rows,
            "invalid",
            "tax_without_tax_account",
            lambda r: (
                f"tax_amount {money(int(plan.tax[r]), grouped=False)} on "
                f"{TXN_TYPES[plan.txn_type[r]].code}, whose rule has no tax account"
            ),
        )

    def _invalid_unknown_account(self, rows: np.ndarray) -> None:
        plan, ctx = self.plan, self.ctx
        migrated_si = self.rng.random(len(rows)) < 0.5
        types = np.where(migrated_si, TYPE_INDEX["MIGRATED_SI"], TYPE_INDEX["MIGRATED_AP"]).astype(np.int16)
        fill_rows(ctx, plan, rows, self.rng, types=types, manual=np.zeros(len(rows), bool))
        si = rows[migrated_si]
        rate = np.maximum(np.array([ctx.ref.companies[c].template.tax_rate_e5 for c in plan.company[si]]), 10_000)
        unit = ctx.unit(plan.currency[si])
        plan.tax[si] = np.maximum((plan.amount[si] // unit * rate + 50_000) // 100_000 * unit, unit)
        self.record(
            rows,
            "invalid",
            "unknown_account",
            lambda r: (
                "rule MIGRATED_SI: tax account 22999 is not in the chart"
                if plan.txn_type[r] == TYPE_INDEX["MIGRATED_SI"]
                else "rule MIGRATED_AP: net account 59100 is not in the chart"
            ),
        )

    def _invalid_inactive_account(self, rows: np.ndarray) -> None:
        types = np.full(len(rows), TYPE_INDEX["OLD_BANK_FEE"], np.int16)
        fill_rows(self.ctx, self.plan, rows, self.rng, types=types, manual=np.zeros(len(rows), bool))
        self.record(rows, "invalid", "inactive_account", "rule OLD_BANK_FEE: contra account 1209 is inactive")

    def _invalid_no_rate(self, rows: np.ndarray) -> None:
        self.plan.currency[rows] = self.rng.choice(_UNRATED, len(rows))
        self.record(
            rows, "invalid", "no_rate", lambda r: f"no fx_rates for {CURRENCIES[self.plan.currency[r]].code} at all"
        )

    # --- anomalies --------------------------------------------------------------------------------

    def plant_anomalies(self) -> None:
        for kind, share in ANOMALY_SHARES.items():
            count = self.events(share)
            if count:
                getattr(self, f"_plant_{kind}")(count)

    def _copy_fields(self, source: int, target: int) -> None:
        plan = self.plan
        for name in (
            "txn_type",
            "manual",
            "creator",
            "currency",
            "amount",
            "tax",
            "counterparty",
            "cost_center",
            "phrase",
            "style",
            "po_number",
        ):
            getattr(plan, name)[target] = getattr(plan, name)[source]

    def _paired(self, count: int, offsets: Callable[[], list[int]]) -> list[tuple[int, int]]:
        """(original, copy) pairs: an ordinary AP/AR document and a free row of its company nearby."""
        plan = self.plan
        candidates = self.pick(self.ordinary() & np.isin(plan.txn_type, _DOCUMENT_TYPES), 3 * count)
        pairs: list[tuple[int, int]] = []
        for original in candidates.tolist():
            copy = None
            if len(pairs) < count:
                copy = self.host_near(int(plan.company[original]), int(plan.day[original]), offsets())
            if copy is None:
                self.taken[original] = False  # not used after all
            else:
                pairs.append((original, copy))
        return pairs

    def _plant_duplicate(self, count: int) -> None:
        plan = self.plan
        for original, copy in self._paired(count, lambda: [int(self.rng.integers(0, 4)), 0, 1, 2, 3]):
            self._copy_fields(original, copy)
            if plan.day[copy] == plan.day[original]:
                plan.secs[copy] = min(int(plan.secs[original]) + int(self.rng.integers(300, 7200)), 19 * 3600 + 3599)
            else:
                plan.secs[copy] = draw_secs(self.rng, plan.manual[[copy]])[0]
            self.overrides.document_ref[copy] = (original, "")
            what = self.describe(original)
            self.record(
                [original], "anomaly", "duplicate", f"{what}: original of duplicate txn {{0}}", lambda _r, c=copy: (c,)
            )
            self.record(
                [copy], "anomaly", "duplicate", f"{what}: exact duplicate of txn {{0}}", lambda _r, o=original: (o,)
            )

    def _plant_near_duplicate(self, count: int) -> None:
        plan = self.plan
        # A few days later where the run allows it, else the same day.
        for original, copy in self._paired(count, lambda: [int(self.rng.integers(1, 5)), 1, 2, 3, 4, 0]):
            self._copy_fields(original, copy)
            plan.manual[copy] = True
            plan.creator[copy] = self.creators_for(np.array([copy]), plan.txn_type[[copy]])[0]
            plan.style[copy] = STYLE_STRING
            plan.secs[copy] = draw_secs(self.rng, np.array([True]))[0]
            variant = ("-A", "nodash")[self._variant(2)]
            self.overrides.document_ref[copy] = (original, variant)
            what = self.describe(original)
            how = "suffix -A" if variant == "-A" else "first dash dropped"
            self.record(
                [original],
                "anomaly",
                "near_duplicate",
                f"{what}: original of near-duplicate txn {{0}}",
                lambda _r, c=copy: (c,),
            )
            self.record(
                [copy],
                "anomaly",
                "near_duplicate",
                f"{what}: same counterparty and amount as txn {{0}}, document_ref {how}",
                lambda _r, o=original: (o,),
            )

    def _plant_round_amount(self, count: int) -> None:
        plan, ctx = self.plan, self.ctx
        rows = self.pick(self.manual_by_person(), count)
        plan.currency[rows] = ctx.base[plan.company[rows]]
        round_unit = 1_000 * ctx.limit_scale[plan.company[rows]] * 100
        for row, unit in zip(rows, round_unit, strict=True):
            limit = ctx.user_limit[plan.creator[row]]
            for _ in range(20):
                multiple = int(self.rng.choice(_ROUND_MULTIPLES))
                set_amount(ctx, plan, np.array([row]), np.array([multiple * unit]))
                gross = ctx.gross_base_cents(plan, np.array([row]))[0]
                if not (1 - NEAR_LIMIT_BAND) * limit <= gross < limit:
                    break
        self.record(
            rows,
            "anomaly",
            "round_amount",
            lambda r: (
                f"{self.describe(r)} is a round multiple of "
                f"{money(int(1_000 * ctx.limit_scale[plan.company[r]] * 100), 0)}"
            ),
        )

    def _plant_just_below_limit(self, count: int) -> None:
        plan, ctx = self.plan, self.ctx
        finite = np.isfinite(ctx.user_limit[plan.creator])
        rows = self.pick(self.manual_by_person() & finite, count)
        self._set_gross(rows, np.floor(ctx.user_limit[plan.creator[rows]] * self.rng.uniform(0.95, 0.995, len(rows))))
        self.record(rows, "anomaly", "just_below_limit", self._limit_detail)

    def _limit_detail(self, row: int) -> str:
        plan, ctx = self.plan, self.ctx
        gross = int(plan.amount[row] + max(int(plan.tax[row]), 0))
        limit = ctx.user_limit[plan.creator[row]]
        currency = CURRENCIES[plan.currency[row]]
        return (
            f"gross {money(gross, currency.decimals)} {currency.code} is {100 * gross / limit:.1f} % of "
            f"{self.user(plan.creator[row])}'s approval limit {self.limit_text(plan.creator[row])}"
        )

    def _set_gross(self, rows: np.ndarray, gross_cents: np.ndarray) -> None:
        """Base-currency net and tax whose sum is at most ``gross_cents`` (and within a unit of it)."""
        plan, ctx = self.plan, self.ctx
        plan.currency[rows] = ctx.base[plan.company[rows]]
        unit = ctx.unit(plan.currency[rows])
        rate = np.where(plan.tax[rows] > 0, ctx.tax_rate[plan.company[rows], plan.txn_type[rows]], 0)
        net = (gross_cents.astype(np.int64) // unit * 100_000 // (100_000 + rate)) * unit
        plan.amount[rows] = np.maximum(net, unit)
        zero_rated = plan.tax[rows] == 0
        plan.tax[rows] = tax_for(
            ctx, plan.company[rows], plan.txn_type[rows], plan.currency[rows], plan.amount[rows], zero_rated
        )
        over = plan.amount[rows] + np.maximum(plan.tax[rows], 0) > gross_cents
        if over.any():  # rounding the tax up can overshoot by a unit
            plan.amount[rows[over]] -= unit[over]
            plan.tax[rows[over]] = tax_for(
                ctx,
                plan.company[rows[over]],
                plan.txn_type[rows[over]],
                plan.currency[rows[over]],
                plan.amount[rows[over]],
                zero_rated[over],
            )

    def _plant_split_transaction(self, count: int) -> None:
        plan, ctx, rng = self.plan, self.ctx, self.rng
        purchase = TYPE_INDEX["PURCH_INV"]
        starts = self.pick(self.ordinary(), count)
        for first in map(int, starts):
            company, day = int(plan.company[first]), int(plan.day[first])
            members, _ = self.clean_pools[(company, ROLES.index("ap"))]
            finite = members[np.isfinite(ctx.user_limit[members])]
            poster = int(rng.choice(finite))
            parts_wanted = 2 + int(rng.random() < 0.4)
            hosts = [first]
            for _ in range(parts_wanted - 1):
                host = self.host_near(company, day, [int(rng.integers(0, 3)), 0, 1, 2])
                if host is not None:
                    hosts.append(host)
            if len(hosts) < 2:
                continue
            rows = np.array(sorted(hosts, key=lambda r: (plan.day[r], r)))
            types = np.full(len(rows), purchase, np.int16)
            fill_rows(
                ctx,
                plan,
                rows,
                rng,
                types=types,
                manual=np.ones(len(rows), bool),
                creator=np.full(len(rows), poster, np.int32),
                currency=np.full(len(rows), ctx.base[company]),
            )
            for name in ("counterparty", "cost_center", "phrase"):
                getattr(plan, name)[rows] = getattr(plan, name)[rows[0]]
            plan.tax[rows] = np.where(plan.tax[rows] >= 0, 1, NO_TAX)  # taxed parts are standard-rated
            plan.po_number[rows] = -1
            limit = ctx.user_limit[poster]
            share = rng.uniform(0.6, 0.85)
            self._set_gross(rows, np.floor(limit * share * rng.uniform(0.98, 1.02, len(rows))))
            start_secs = int(rng.integers(9 * 3600, 15 * 3600))
            for k, row in enumerate(rows):
                plan.secs[row] = start_secs + k * int(rng.integers(300, 2400))
            total = int(sum(int(plan.amount[r] + max(int(plan.tax[r]), 0)) for r in rows))
            currency = CURRENCIES[plan.currency[rows[0]]]
            ids = ", ".join(f"{{{k}}}" for k in range(len(rows)))
            partners = tuple(int(r) for r in rows)
            for k, row in enumerate(rows):
                self.record(
                    [row],
                    "anomaly",
                    "split_transaction",
                    f"part {k + 1} of {len(rows)}: {self.user(poster)} keyed {money(total, currency.decimals)}"
                    f" {currency.code} gross (limit {self.limit_text(poster)}) as txns {ids}",
                    lambda _r, p=partners: p,
                )

    def _plant_off_days(self, count: int, kind: int, name: str) -> None:
        plan, ctx = self.plan, self.ctx
        rows = self.pick((~self.taken) & (self.kind == kind) & TYPES.normal[plan.txn_type], count)
        if not len(rows):
            self.not_planted[name] = (
                "no weekend day" if kind == WEEKEND else "no weekday public holiday"
            ) + " in the seeded days"
            return
        types = _OFF_HOURS_TYPES[np.searchsorted(np.cumsum(_OFF_HOURS_WEIGHTS), self.rng.random(len(rows)))]
        self.refill(rows, types.astype(np.int16), manual=True)
        plan.secs[rows] = self.rng.integers(9 * 3600, 17 * 3600, len(rows))
        cal = ctx.calendar
        if kind == WEEKEND:
            self.record(
                rows,
                "anomaly",
                name,
                lambda r: (
                    f"manual {self.describe(r)} by {self.user(plan.creator[r])} on {cal.dates[plan.day[r]]:%A %Y-%m-%d}"
                ),
            )
        else:
            self.record(
                rows,
                "anomaly",
                name,
                lambda r: (
                    f"manual {self.describe(r)} by {self.user(plan.creator[r])} on "
                    f"{cal.holiday_names[(int(plan.company[r]), int(plan.day[r]))]} "
                    f"({ctx.ref.companies[plan.company[r]].country}, {cal.dates[plan.day[r]]})"
                ),
            )

    def _plant_weekend_entry(self, count: int) -> None:
        self._plant_off_days(count, WEEKEND, "weekend_entry")

    def _plant_holiday_entry(self, count: int) -> None:
        self._plant_off_days(count, HOLIDAY, "holiday_entry")

    def _plant_after_hours(self, count: int) -> None:
        plan = self.plan
        rows = self.pick(self.manual_by_person(), count)
        hours = self.rng.choice(np.array([22, 23, 0, 1, 2, 3, 4]), len(rows))
        plan.secs[rows] = hours * 3600 + self.rng.integers(0, 3600, len(rows))
        self.record(
            rows,
            "anomaly",
            "after_hours",
            lambda r: (
                f"created at {plan.secs[r] // 3600:02d}:{plan.secs[r] % 3600 // 60:02d} local time "
                f"({self.ctx.ref.companies[plan.company[r]].timezone})"
            ),
        )

    def _plant_manual_entry(self, count: int) -> None:
        plan = self.plan
        automatic = np.isin(TYPES.source[plan.txn_type], [2, 3])  # CB, PAY
        rows = self.pick(self.ordinary() & automatic, count)
        plan.manual[rows] = True
        plan.creator[rows] = self.creators_for(rows, plan.txn_type[rows])
        plan.style[rows] = STYLE_STRING
        plan.secs[rows] = draw_secs(self.rng, np.ones(len(rows), bool))
        self.keep_clear_of_limits(rows)
        self.record(
            rows,
            "anomaly",
            "manual_entry",
            lambda r: (
                f"manual {self.describe(r)} by {self.user(plan.creator[r])}; "
                f"{TXN_TYPES[plan.txn_type[r]].source_system} entries are otherwise automatic"
            ),
        )

    def _plant_self_approval(self, count: int) -> None:
        plan = self.plan
        rows = self.pick(self.manual_by_person(), count)
        plan.approver[rows] = plan.creator[rows]
        plan.approver_fixed[rows] = True
        self.record(
            rows,
            "anomaly",
            "self_approval",
            lambda r: f"{self.user(plan.creator[r])} approved their own {self.describe(r)}",
        )

    def _plant_typed(self, count: int, kind: str, choices: dict[str, bool]) -> None:
        """Turn ordinary rows into types used only for planted anomalies (value: keyed by hand)."""
        rows = self.pick(self.ordinary(), count)
        codes = list(choices)
        pick = self.rng.integers(len(codes), size=len(rows))
        for k, code in enumerate(codes):
            mine = rows[pick == k]
            if len(mine):
                self.refill(mine, np.full(len(mine), TYPE_INDEX[code], np.int16), manual=choices[code])
        plan = self.plan
        rules = {code: self.ctx.ref.rule(0, code) for code in codes}
        self.record(
            rows,
            "anomaly",
            kind,
            lambda r: (
                f"{self.describe(r)} posts {rules[TXN_TYPES[plan.txn_type[r]].code].net_account} / "
                f"{rules[TXN_TYPES[plan.txn_type[r]].code].contra_account}"
            ),
        )

    def _plant_suspense_posting(self, count: int) -> None:
        self._plant_typed(count, "suspense_posting", {"SUSPENSE_JNL": True, "UNALLOC_RECEIPT": False})

    def _plant_rare_account(self, count: int) -> None:
        self._plant_typed(count, "rare_account", {"DONATION": True, "FINE_PENALTY": True, "LEGAL_SETTLEMENT": True})

    def _plant_rare_account_pair(self, count: int) -> None:
        self._plant_typed(count, "rare_account_pair", {"CASH_SALE": True, "DIRECT_PURCHASE": True})

    def _plant_unusual_poster(self, count: int) -> None:
        plan, ctx = self.plan, self.ctx
        rows = self.pick(self.manual_by_person(), count)
        for row in rows:
            company, role = int(plan.company[row]), int(TYPES.role[plan.txn_type[row]])
            others = np.concatenate(
                [
                    members[ctx.user_role[members] == r]  # never the controller of the GL pool
                    for (c, r), (members, _) in self.clean_pools.items()
                    if c == company and r != role
                ]
            )
            plan.creator[row] = int(self.rng.choice(others))
        self.keep_clear_of_limits(rows)
        titles = {i: ROLE_TITLES[ctx.ref.users[i].role] for i in set(plan.creator[rows].tolist())}
        self.record(
            rows,
            "anomaly",
            "unusual_poster",
            lambda r: (
                f"{self.user(plan.creator[r])} ({titles[int(plan.creator[r])]}) keyed "
                f"{TXN_TYPES[plan.txn_type[r]].code}, which their role never posts"
            ),
        )

    def _plant_amount_outlier(self, count: int) -> None:
        plan, ctx = self.plan, self.ctx
        rows = self.pick(self.ordinary(), count)
        types = plan.txn_type[rows]
        sigmas = self.rng.uniform(4.5, 6.0, len(rows))
        reference = 10.0 ** (TYPES.log_median[types] + TYPES.sigma[types] * sigmas)
        set_amount(ctx, plan, rows, reference_to_cents(ctx, reference, plan.currency[rows]))
        factors = dict(zip(rows.tolist(), (10.0 ** (TYPES.sigma[types] * sigmas)).tolist(), strict=True))
        self.record(
            rows,
            "anomaly",
            "amount_outlier",
            lambda r: (
                f"{self.describe(r)} is about {factors[r]:,.0f} times the usual "
                f"{TXN_TYPES[plan.txn_type[r]].code} amount"
            ),
        )

    def _plant_suspicious_keyword(self, count: int) -> None:
        plan = self.plan
        journals = TYPES.source[plan.txn_type] == 4  # GJ
        rows = self.pick(self.manual_by_person() & journals, count)
        plan.phrase[rows] = TYPES.suspicious_offset + self.rng.integers(
            len(TYPES.phrases) - TYPES.suspicious_offset, size=len(rows)
        )
        self.record(
            rows, "anomaly", "suspicious_keyword", lambda r: f"description starts {TYPES.phrases[plan.phrase[r]]!r}"
        )


def plant(ctx: Context, plan: Plan, rng: np.random.Generator) -> Planter:
    """Fabricate the fabricators' amounts, then plant invalid rows and anomalies; returns the planter."""
    planter = Planter(ctx, plan, rng)
    planter.fabricate()
    planter.plant_invalid()
    planter.plant_anomalies()
    return planter


__all__ = ["ANOMALY_KINDS", "INVALID_KINDS", "Overrides", "Planter", "Truth", "money", "plant"]
