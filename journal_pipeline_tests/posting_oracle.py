"""docs/posting-semantics.md again, written independently with Python's Decimal, one row at a time.

The fuzz tests hold the pipeline (Polars, Int128 fixed point, COPY in and out of PostgreSQL)
against this: for every generated source row the same reason, or the same lines to the cent.
It reads the source rows and the reference tables from the database, as the pipeline does, and
parses ``data`` as the JSON text PostgreSQL stored (jsonb keeps the last of duplicate keys, and
so does json.loads).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

PLAIN_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
WHITESPACE = " \t\n\r\x0b\x0c"
CURRENCY = re.compile(r"[A-Z]{3}")
EXACT = decimal.Context(prec=2000, Emax=10**8, Emin=-(10**8))
CENT = Decimal("0.01")
BASE_LIMIT = Decimal(10) ** 16
TEXT_KEYS = ("description", "cost_center", "counterparty", "document_ref")

MISSING, NOT_NUMERIC, TOO_PRECISE, OK = "missing", "not_numeric", "too_precise", "ok"


@dataclass(frozen=True)
class Reference:
    """The reference tables as the pipeline's extract reads them."""

    base_currency: dict[int, str]  # company_id -> base currency (NULL and invalid ones left out)
    accounts: dict[tuple[int, str], bool]  # (company, account) -> is_active
    rules: dict[tuple[int, str], tuple[str, str, str, str | None, str]]  # journal_type, net, side, tax, contra
    rates: dict[tuple[str, str], list[tuple[dt.date, Decimal]]]  # (currency, base) -> [(rate_date, rate)]

    @classmethod
    def read(cls, conn: Any) -> Reference:
        rates: dict[tuple[str, str], list[tuple[dt.date, Decimal]]] = {}
        for day, currency, base, rate in conn.execute(
            "SELECT rate_date, currency, base_currency, rate FROM legacy.fx_rates"
        ):
            rates.setdefault((currency.strip(), base.strip()), []).append((day, rate))
        companies = conn.execute("SELECT company_id, base_currency FROM legacy.companies").fetchall()
        accounts = conn.execute("SELECT company_id, account_code, is_active FROM legacy.accounts").fetchall()
        rules = conn.execute(
            "SELECT company_id, txn_type, journal_type, net_account, net_side, tax_account, contra_account "
            "FROM legacy.posting_rules"
        ).fetchall()
        return cls(
            base_currency={company: base.strip() for company, base in companies if base is not None},
            accounts={(company, account): active for company, account, active in accounts},
            rules={(company, txn_type): tuple(rest) for company, txn_type, *rest in rules},
            rates=rates,
        )


@dataclass
class Outcome:
    """What must become of one source row: a reason, or lines (line_no -> account, dc, base, txn)."""

    txn_id: int
    reason: str | None = None
    lines: dict[int, tuple[str, str, Decimal, Decimal]] = field(default_factory=dict)
    texts: dict[str, str | None] = field(default_factory=dict)  # only keys whose value is a JSON string or absent


def parse_amount(present: bool, value: Any) -> tuple[str, Decimal | None]:
    """(status, value) of ``data.amount`` or ``data.tax_amount`` (value parsed with Decimal numbers)."""
    if not present or value is None:
        return MISSING, None
    if isinstance(value, bool) or not isinstance(value, Decimal | str):
        return NOT_NUMERIC, None
    if isinstance(value, str):
        text = value.strip(WHITESPACE)
        if not PLAIN_DECIMAL.fullmatch(text):
            return NOT_NUMERIC, None
        value = Decimal(text)
    if value != 0:
        # exact, whatever the exponent ("1e999999999"): decimal places of the value without its
        # trailing zeros, and the position of its leading digit (|value| >= 10^20 <=> adjusted >= 20)
        _, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
        if -(exponent + trailing_zeros) > 18 or value.adjusted() >= 20:
            return TOO_PRECISE, None
    return OK, value


def rate_for(reference: Reference, currency: str, base: str, day: dt.date) -> Decimal | None:
    if currency == base:
        return Decimal(1)
    usable = [
        (rate_date, rate)
        for rate_date, rate in reference.rates.get((currency, base), [])
        if rate > 0 and day - dt.timedelta(days=7) <= rate_date <= day
    ]
    return max(usable)[1] if usable else None


def to_cents(amount: Decimal, rate: Decimal) -> Decimal:
    """round(amount * rate, 2), half away from zero, computed exactly."""
    return EXACT.multiply(amount, rate).quantize(CENT, rounding=decimal.ROUND_HALF_UP, context=EXACT)


def expected_outcome(
    reference: Reference, txn_id: int, company_id: int | None, txn_type: str | None, day: dt.date, data_text: str | None
) -> Outcome:
    """The first rule of docs/posting-semantics.md that the row breaks, or its lines."""
    with decimal.localcontext(EXACT):  # every sum exact: amounts have up to 38 digits
        return _outcome(reference, txn_id, company_id, txn_type, day, data_text)


def _outcome(
    reference: Reference, txn_id: int, company_id: int | None, txn_type: str | None, day: dt.date, data_text: str | None
) -> Outcome:
    outcome = Outcome(txn_id)
    data = json.loads(data_text, parse_float=Decimal, parse_int=Decimal) if data_text is not None else None
    data = data if isinstance(data, dict) else {}  # ->> on a non-object (or NULL) finds no key
    base = reference.base_currency.get(company_id) if company_id is not None else None
    if base is None:
        outcome.reason = "unknown_company"
        return outcome
    rule = reference.rules.get((company_id, txn_type)) if txn_type is not None else None
    if rule is None:
        outcome.reason = "no_posting_rule"
        return outcome
    _journal_type, net_account, side, tax_account, contra_account = rule
    net_status, net = parse_amount("amount" in data, data.get("amount"))
    tax_status, tax = parse_amount("tax_amount" in data, data.get("tax_amount"))
    if tax_status == MISSING:
        tax_status, tax = OK, Decimal(0)
    currency = data.get("currency")
    statuses = (net_status, tax_status)
    if net_status == MISSING:
        outcome.reason = "amount_missing"
    elif NOT_NUMERIC in statuses:
        outcome.reason = "amount_not_numeric"
    elif TOO_PRECISE in statuses:
        outcome.reason = "amount_too_precise"
    elif net <= 0 or tax < 0:  # type: ignore[operator]
        outcome.reason = "amount_out_of_range"
    elif not (isinstance(currency, str) and CURRENCY.fullmatch(currency)):
        outcome.reason = "bad_currency"
    elif tax > 0 and tax_account is None:  # type: ignore[operator]
        outcome.reason = "tax_without_tax_account"
    if outcome.reason:
        return outcome
    assert net is not None and tax is not None and isinstance(currency, str)
    used = [net_account, contra_account] + ([tax_account] if tax > 0 else [])
    if any((company_id, account) not in reference.accounts for account in used):
        outcome.reason = "unknown_account"
        return outcome
    if not all(reference.accounts[(company_id, account)] for account in used):
        outcome.reason = "inactive_account"
        return outcome
    rate = rate_for(reference, currency, base, day)
    if rate is None:
        outcome.reason = "no_rate"
        return outcome
    base_net, base_tax = to_cents(net, rate), to_cents(tax, rate)
    if base_net < CENT or max(base_net, base_tax, base_net + base_tax) >= BASE_LIMIT:
        outcome.reason = "amount_out_of_range"
        return outcome
    other = "C" if side == "D" else "D"
    outcome.lines[1] = (net_account, side, base_net, net)
    if tax > 0:
        outcome.lines[2] = (tax_account, side, base_tax, tax)  # type: ignore[assignment]
    outcome.lines[len(outcome.lines) + 1] = (contra_account, other, base_net + base_tax, net + tax)
    outcome.texts = {key: data.get(key) for key in TEXT_KEYS if data.get(key) is None or isinstance(data[key], str)}
    return outcome


def expected_outcomes(conn: Any, first_day: dt.date, last_day: dt.date) -> dict[int, Outcome]:
    """The outcome of every source row dated first_day..last_day, by txn_id."""
    reference = Reference.read(conn)
    rows = conn.execute(
        "SELECT txn_id, company_id, txn_type, txn_date, data::text FROM legacy.src_transactions "
        "WHERE txn_date BETWEEN %s AND %s",
        (first_day, last_day),
    ).fetchall()
    return {row[0]: expected_outcome(reference, *row) for row in rows}
