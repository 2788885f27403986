"""The group's reference data: companies, charts of accounts, posting rules, users, counterparties.

Reference data is a pure function of ``(seed, company count)``: seeding more days later
regenerates exactly the same rows, which is how :mod:`journal_pipeline.seed.generator` checks
that a database was seeded with the same arguments before it adds to it. Each company's chart,
counterparties and cost centres come from a random stream of their own
(``(seed, stream, company_id)``), so company 3 looks the same whether the group has 3 or 12.

What a company gets:

- a chart of 160-290 accounts: the core accounts every posting rule needs, a few suspense
  accounts (``is_suspense``), balance-sheet and P&L accounts of a typical group chart,
  department-level expense accounts, and a few inactive ones (including a closed bank account);
- one posting rule per transaction type of :data:`~journal_pipeline.seed.catalog.TXN_TYPES`
  that has a rule, with a tax account only where the company's indirect tax applies (a US
  company recovers no input tax; a Hong Kong company charges none);
- a finance team of at least 10 people (at least 50 users over the group, counting the five
  interface service accounts), each with one role and an approval limit;
- vendors, customers, employees, banks and authorities as counterparties.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from journal_pipeline.domain.holidays import country_for_timezone
from journal_pipeline.seed import catalog
from journal_pipeline.seed.catalog import (
    COMPANY_TEMPLATES,
    CURRENCY_INDEX,
    MAX_COMPANIES,
    ROLE_LIMITS,
    SERVICE_USERS,
    SOURCE_SYSTEMS,
    TXN_TYPES,
    CompanyTemplate,
)

# Random streams: each part of the reference data draws from its own (seed, stream, ...) so that
# changing one part never shifts another.
STREAM_CHART, STREAM_NAMES, STREAM_COUNTERPARTIES, STREAM_FABRICATORS = 1, 2, 4, 5

MIN_USERS = 50
MIN_TEAM = 10
FABRICATORS = 2  # posters whose amounts are fabricated (the benford_fabrication anomaly)
FABRICATOR_SHARE = 0.045  # each fabricator keys this share of their company's manual AP entries


@dataclass(frozen=True)
class Company:
    company_id: int
    name: str
    base_currency: str
    timezone: str
    country: str
    template: CompanyTemplate


@dataclass(frozen=True)
class Account:
    company_id: int
    account_code: str
    account_name: str
    account_type: str
    is_suspense: bool
    is_active: bool


@dataclass(frozen=True)
class PostingRule:
    company_id: int
    txn_type: str
    journal_type: str
    net_account: str
    net_side: str
    tax_account: str | None
    contra_account: str


@dataclass(frozen=True)
class User:
    """A user; ``limit_cents`` is the approval limit in the company's base currency (None: unlimited)."""

    user_id: str
    display_name: str
    limit_cents: int | None
    company_index: int  # -1 for the service accounts, which work for every company
    role: str  # a catalog.ROLE_LIMITS key, or "service"
    weight: float  # relative share of the role's manual entries in the company
    fabricator: bool = False

    @property
    def approval_limit(self) -> Decimal | None:
        return None if self.limit_cents is None else Decimal(self.limit_cents).scaleb(-2)

    @property
    def is_human(self) -> bool:
        return self.role != "service"


@dataclass(frozen=True)
class Reference:
    """Everything about the group that does not change from day to day."""

    seed: int
    companies: tuple[Company, ...]
    accounts: tuple[Account, ...]
    rules: tuple[PostingRule, ...]
    users: tuple[User, ...]
    counterparties: tuple[str, ...]
    # (company index, pool) -> (first index into counterparties, pool size)
    pools: dict[tuple[int, str], tuple[int, int]]
    cost_centers: tuple[tuple[str, ...], ...]  # per company index
    service_user: dict[str, int] = field(default_factory=dict)  # source system -> user index

    def rule(self, company_index: int, txn_type: str) -> PostingRule | None:
        return self._rules_by_key.get((self.companies[company_index].company_id, txn_type))

    @property
    def _rules_by_key(self) -> dict[tuple[int, str], PostingRule]:
        cached = self.__dict__.get("_rule_cache")
        if cached is None:
            cached = {(r.company_id, r.txn_type): r for r in self.rules}
            object.__setattr__(self, "_rule_cache", cached)
        return cached


def build_reference(seed: int, companies: int) -> Reference:
    """The reference data of a group of ``companies`` legal entities for ``seed``."""
    if not 1 <= companies <= MAX_COMPANIES:
        raise ValueError(
            f"--companies must be between 1 and {MAX_COMPANIES} (one per legal-entity template), not {companies}"
        )
    group = tuple(_company(i + 1, COMPANY_TEMPLATES[i]) for i in range(companies))
    accounts = tuple(a for company in group for a in _chart(seed, company))
    rules = tuple(r for company in group for r in _rules(company))
    users, service_user = _users(seed, group)
    counterparties, pools, cost_centers = _counterparties(seed, group)
    return Reference(
        seed=seed,
        companies=group,
        accounts=accounts,
        rules=rules,
        users=users,
        counterparties=counterparties,
        pools=pools,
        cost_centers=cost_centers,
        service_user=service_user,
    )


def _company(company_id: int, template: CompanyTemplate) -> Company:
    return Company(
        company_id=company_id,
        name=template.name,
        base_currency=template.base_currency,
        timezone=template.timezone,
        country=country_for_timezone(template.timezone),
        template=template,
    )


# --- chart of accounts ----------------------------------------------------------------------------


def _tax_account_names(template: CompanyTemplate) -> tuple[str, str]:
    if template.tax_name == "none":
        return "Other taxes recoverable", "Other taxes payable"
    if template.tax_name == "sales tax":
        return "Sales tax receivable", "Sales tax payable"
    return f"Input {template.tax_name} recoverable", f"Output {template.tax_name} payable"


def _chart(seed: int, company: Company) -> list[Account]:
    rng = np.random.default_rng([seed, STREAM_CHART, company.company_id])
    tax_in, tax_out = _tax_account_names(company.template)
    core = [
        (code, name.format(tax_in=tax_in, tax_out=tax_out), kind, suspense, active)
        for code, name, kind, suspense, active in catalog.CORE_ACCOUNTS
    ]
    core = [(c, f"{n} ({company.base_currency})" if c == "1200" else n, k, s, a) for c, n, k, s, a in core]
    foreign_banks = [code for code in ("USD", "EUR", "GBP", "JPY") if code != company.base_currency][:3]
    extras = [(f"{1230 + 10 * i}", f"Bank – {code} currency account", "ASSET") for i, code in enumerate(foreign_banks)]
    extras += list(catalog.EXTRA_ACCOUNTS)
    grid = [
        (f"{7000 + 20 * c + d + 1}", f"{category} – {department}", "EXPENSE")
        for c, category in enumerate(catalog.EXPENSE_CATEGORIES)
        for d, department in enumerate(catalog.DEPARTMENTS)
    ]
    size = int(rng.integers(160, 291))
    wanted = max(0, size - len(core) - len(extras))
    chosen = sorted(rng.choice(len(grid), size=min(wanted, len(grid)), replace=False).tolist())
    optional = extras + [grid[i] for i in chosen]
    # About one optional account in 25 is closed: kept for history, no longer posted to.
    inactive = rng.random(len(optional)) < 0.04
    accounts = [Account(company.company_id, c, n, k, s, a) for c, n, k, s, a in core]
    accounts += [
        Account(company.company_id, code, name, kind, False, not bool(closed))
        for (code, name, kind), closed in zip(optional, inactive, strict=True)
    ]
    accounts.sort(key=lambda a: a.account_code)
    codes = [a.account_code for a in accounts]
    if len(set(codes)) != len(codes):
        raise AssertionError(f"duplicate account codes in the chart of company {company.company_id}")
    return accounts


def _rules(company: Company) -> list[PostingRule]:
    rules = []
    for txn_type in TXN_TYPES:
        if txn_type.usage == "no_rule":
            continue
        rules.append(
            PostingRule(
                company_id=company.company_id,
                txn_type=txn_type.code,
                journal_type=txn_type.journal_type,
                net_account=txn_type.net_account,
                net_side=txn_type.net_side,
                tax_account=rule_tax_account(company.template, txn_type.tax),
                contra_account=txn_type.contra_account,
            )
        )
    return rules


def rule_tax_account(template: CompanyTemplate, tax: str) -> str | None:
    """The tax account of a rule: input tax for purchases, output tax for sales, where they apply."""
    if tax == "purchase" and template.purchase_tax:
        return "1400"
    if tax == "sales" and template.sales_tax:
        return "2200"
    if tax == "broken":
        return "22999"  # an account from the old ledger that the chart does not have
    return None


# --- users ----------------------------------------------------------------------------------------


def _team_roles(size: int) -> list[str]:
    payroll = 1 + (size >= 16)
    gl = max(2, round(0.2 * size))
    ar = max(2, round(0.25 * size))
    ap = size - 2 - payroll - gl - ar
    return ["controller", "finance_director"] + ["gl"] * gl + ["ap"] * ap + ["ar"] * ar + ["payroll"] * payroll


def _users(seed: int, group: tuple[Company, ...]) -> tuple[tuple[User, ...], dict[str, int]]:
    names_rng = np.random.default_rng([seed, STREAM_NAMES])
    all_names = [f"{first} {last}" for first in catalog.FIRST_NAMES for last in catalog.LAST_NAMES]
    names = iter(all_names[i] for i in names_rng.permutation(len(all_names)))
    fabricator_company = int(np.random.default_rng([seed, STREAM_FABRICATORS]).integers(len(group)))

    users: list[User] = []
    service_user: dict[str, int] = {}
    for source in SOURCE_SYSTEMS:
        service_user[source] = len(users)
        users.append(User(f"u{len(users) + 1:03d}", SERVICE_USERS[source], 0, -1, "service", 1.0))

    team_size = max(MIN_TEAM, math.ceil((MIN_USERS - len(SERVICE_USERS)) / len(group)))
    for index, company in enumerate(group):
        scale = catalog.CURRENCIES[CURRENCY_INDEX[company.base_currency]].limit_scale
        # Within a role a few people do most of the work: weights 1, 1/2^0.7, 1/3^0.7, ... Names
        # are drawn at random, so who carries the workload is random too.
        seen: dict[str, int] = {}
        team: list[User] = []
        for role in _team_roles(team_size):
            rank = seen.get(role, 0)
            seen[role] = rank + 1
            limits = ROLE_LIMITS[role]
            limit = limits[rank % len(limits)]
            weight = 0.15 if role == "controller" else 1.0 / (rank + 1) ** 0.7  # the controller keys the odd journal
            team.append(User("", next(names), None if limit is None else limit * scale * 100, index, role, weight))
        if index == fabricator_company:
            ap_weight = sum(u.weight for u in team if u.role == "ap")
            fab_weight = ap_weight * FABRICATOR_SHARE / (1 - FABRICATORS * FABRICATOR_SHARE)
            for k in range(FABRICATORS):
                limit = ROLE_LIMITS["ap"][-1 if k else 0]
                team.append(User("", next(names), limit * scale * 100, index, "ap", fab_weight, fabricator=True))
        for member in team:
            users.append(
                User(
                    f"u{len(users) + 1:03d}",
                    member.display_name,
                    member.limit_cents,
                    index,
                    member.role,
                    member.weight,
                    member.fabricator,
                )
            )
    return tuple(users), service_user


# --- counterparties and cost centres --------------------------------------------------------------


def _firm_names(
    rng: np.random.Generator, count: int, trades: tuple[str, ...], suffixes: tuple[str, ...], awkward: tuple[str, ...]
) -> list[str]:
    combos = len(catalog.NAME_STEMS) * len(trades)
    picks = rng.choice(combos, size=count - len(awkward), replace=False)
    names = [
        f"{catalog.NAME_STEMS[p // len(trades)]} {trades[p % len(trades)]} {suffixes[int(s)]}"
        for p, s in zip(picks, rng.integers(len(suffixes), size=len(picks)), strict=True)
    ]
    # The awkward names land at random ranks, one of them among the ten busiest.
    for k, name in enumerate(awkward):
        position = int(rng.integers(0, 10)) if k == 0 else int(rng.integers(10, len(names) + 1))
        names.insert(position, f"{name} {suffixes[0]}")
    return names


def _counterparties(
    seed: int, group: tuple[Company, ...]
) -> tuple[tuple[str, ...], dict[tuple[int, str], tuple[int, int]], tuple[tuple[str, ...], ...]]:
    names: list[str] = []
    pools: dict[tuple[int, str], tuple[int, int]] = {}
    cost_centers: list[tuple[str, ...]] = []
    person_names = [f"{first} {last}" for first in catalog.FIRST_NAMES for last in catalog.LAST_NAMES]
    for index, company in enumerate(group):
        rng = np.random.default_rng([seed, STREAM_COUNTERPARTIES, company.company_id])
        template = company.template
        members: dict[str, list[str]] = {
            "vendor": _firm_names(
                rng,
                catalog.POOL_SIZES["vendor"],
                catalog.VENDOR_TRADES,
                template.legal_suffixes,
                catalog.AWKWARD_VENDOR_NAMES,
            ),
            "customer": _firm_names(
                rng,
                catalog.POOL_SIZES["customer"],
                catalog.CUSTOMER_TRADES,
                template.legal_suffixes,
                catalog.AWKWARD_CUSTOMER_NAMES,
            ),
            "employee": [
                person_names[i]
                for i in rng.choice(len(person_names), size=catalog.POOL_SIZES["employee"], replace=False)
            ],
            "bank": list(template.banks),
            "payroll": ["Staff payroll", template.tax_authority, template.pension_provider],
            "internal": ["Internal"],
            "assets": ["Fixed asset register"],
            "charity": list(catalog.CHARITIES),
            "group": [c.name for c in group if c is not company] or ["Northwind Group Holdings"],
        }
        for pool, pool_names in members.items():
            pools[(index, pool)] = (len(names), len(pool_names))
            names.extend(pool_names)
        count = int(rng.integers(12, 19))
        codes = sorted(rng.choice(np.arange(100, 1000, 10), size=count, replace=False).tolist())
        cost_centers.append(tuple(f"CC{code}" for code in codes))
    return tuple(names), pools, tuple(cost_centers)
