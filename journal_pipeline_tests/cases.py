"""A hand-made day of transactions, one for each posting case, with the outcome worked out by hand.

Used by the pipeline tests and by the parity test (the legacy function must agree on every one).
Day: Thursday 2024-07-18. Company 1 keeps its books in GBP, company 2 in USD.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import psycopg

DAY = dt.date(2024, 7, 18)
NEXT_DAY = dt.date(2024, 7, 19)

COMPANIES = [
    (1, "Northwind UK Ltd", "GBP", "Europe/London"),
    (2, "Northwind US Inc", "USD", "America/New_York"),
]
ACCOUNTS = [
    # company, code, name, type, is_suspense, is_active
    *[
        (company, code, name, kind, suspense, active)
        for company in (1, 2)
        for code, name, kind, suspense, active in [
            ("1100", "Trade debtors", "ASSET", False, True),
            ("1200", "Bank current account", "ASSET", False, True),
            ("2100", "Trade creditors", "LIABILITY", False, True),
            ("2200", "VAT control", "LIABILITY", False, True),
            ("4000", "Sales", "REVENUE", False, True),
            ("5000", "Purchases", "EXPENSE", False, True),
            ("6000", "Legacy expenses (closed)", "EXPENSE", False, False),
            ("9999", "Suspense", "ASSET", True, True),
        ]
    ]
]
RULES = [
    # company, txn_type, journal_type, net_account, net_side, tax_account, contra_account
    (1, "SALES_INVOICE", "SI", "4000", "C", "2200", "1100"),
    (1, "PURCHASE_INVOICE", "PI", "5000", "D", "2200", "2100"),
    (1, "SUPPLIER_PAYMENT", "PAY", "2100", "D", None, "1200"),
    (1, "OLD_EXPENSE", "GJ", "6000", "D", None, "1200"),  # its net account is inactive
    (1, "GHOST", "GJ", "7777", "D", None, "1200"),  # its net account does not exist
    (2, "SALES_INVOICE", "SI", "4000", "C", "2200", "1100"),
]
FX_RATES = [
    (dt.date(2024, 7, 11), "EUR", "GBP", Decimal("0.85000000")),  # exactly 7 days before DAY: usable
    (dt.date(2024, 7, 10), "USD", "GBP", Decimal("0.78000000")),  # 8 days before DAY: too old
    (DAY, "JPY", "GBP", Decimal("0.00512345")),
    (DAY, "EUR", "USD", Decimal("1.08000000")),
    (DAY, "CHF", "GBP", Decimal("0")),  # a zero rate is not usable
]
USERS = [("u001", "Alice Archer", Decimal("10000.00")), ("u002", "Bob Brown", None)]


def _txn(txn_id, company, txn_type, data, day=DAY, source="AR"):
    return (txn_id, company, day, f"{day} 09:30:00+00", source, txn_type, "u001", "u002", data)


def _data(amount, currency="GBP", tax=None, **extra):
    data = {"amount": amount, "currency": currency, "counterparty": "ACME", "cost_center": "CC10",
            "document_ref": "INV-1", "description": "case", "entry_mode": "auto", **extra}  # fmt: skip
    if tax is not None:
        data["tax_amount"] = tax
    return json.dumps(data)


TRANSACTIONS = [
    _txn(101, 1, "SALES_INVOICE", _data("1000.00", tax=200.00)),
    _txn(102, 1, "PURCHASE_INVOICE", _data(100.01, "EUR", tax="20.00")),
    _txn(103, 1, "SUPPLIER_PAYMENT", _data(" 1.25e2 ")),
    _txn(104, 1, "PURCHASE_INVOICE", _data(50, "USD")),
    _txn(105, 9, "SALES_INVOICE", _data(10)),
    _txn(106, 1, "XX", _data(10)),
    _txn(107, 1, "SALES_INVOICE", json.dumps({"currency": "GBP"})),
    _txn(108, 1, "SALES_INVOICE", _data("12,50")),
    _txn(109, 1, "SALES_INVOICE", _data("-5")),
    _txn(110, 1, "SALES_INVOICE", _data(10, "gbp")),
    _txn(111, 1, "SUPPLIER_PAYMENT", _data(10, tax=5)),
    _txn(112, 1, "GHOST", _data(10)),
    _txn(113, 1, "OLD_EXPENSE", _data(10)),
    _txn(114, 1, "SALES_INVOICE", _data("0.004")),
    _txn(115, 1, "SALES_INVOICE", _data("0.0000000000000000001")),
    _txn(116, 1, "SALES_INVOICE", _data(123456, "JPY", tax=0)),
    _txn(117, 2, "SALES_INVOICE", _data("999.995", "USD")),
    _txn(118, 2, "SALES_INVOICE", _data(10, "EUR", tax=2)),
    _txn(119, 1, "SALES_INVOICE", _data("10.005")),
    _txn(120, 1, "SALES_INVOICE", _data(50, tax=10), day=NEXT_DAY),
    _txn(121, 1, "PURCHASE_INVOICE", _data(10, "CHF")),
    _txn(122, 1, "SALES_INVOICE", None),
    _txn(123, 1, "SALES_INVOICE", _data(True)),
    _txn(124, 1, "SALES_INVOICE", _data(10, tax="NaN")),
]

# txn_id -> the reason it is quarantined (docs/posting-semantics.md)
QUARANTINED = {
    104: "no_rate",  # the only USD->GBP rate is 8 days old
    105: "unknown_company",
    106: "no_posting_rule",
    107: "amount_missing",
    108: "amount_not_numeric",
    109: "amount_out_of_range",
    110: "bad_currency",
    111: "tax_without_tax_account",
    112: "unknown_account",
    113: "inactive_account",
    114: "amount_out_of_range",  # 0.004 rounds to 0.00, below 0.01
    115: "amount_too_precise",
    121: "no_rate",  # the only CHF rate is 0
    122: "amount_missing",  # data is NULL
    123: "amount_not_numeric",  # a JSON boolean
    124: "amount_not_numeric",  # tax_amount "NaN"
}

# (txn_id, line_no) -> (account, dc, amount_base, amount_txn), worked out by hand:
POSTED_LINES = {
    # 1000.00 + 20% VAT in GBP, the base currency: rate 1
    (101, 1): ("4000", "C", Decimal("1000.00"), Decimal("1000.00")),
    (101, 2): ("2200", "C", Decimal("200.00"), Decimal("200.00")),
    (101, 3): ("1100", "D", Decimal("1200.00"), Decimal("1200.00")),
    # EUR at the 7-day-old rate 0.85: 100.01 * 0.85 = 85.0085 -> 85.01; 20.00 * 0.85 = 17.00
    (102, 1): ("5000", "D", Decimal("85.01"), Decimal("100.01")),
    (102, 2): ("2200", "D", Decimal("17.00"), Decimal("20.00")),
    (102, 3): ("2100", "C", Decimal("102.01"), Decimal("120.01")),
    # " 1.25e2 " is 125; a payment has no tax line, so the contra is line 2
    (103, 1): ("2100", "D", Decimal("125.00"), Decimal("125")),
    (103, 2): ("1200", "C", Decimal("125.00"), Decimal("125")),
    # JPY: 123456 * 0.00512345 = 632.52064320 -> 632.52; a tax of 0 makes no tax line
    (116, 1): ("4000", "C", Decimal("632.52"), Decimal("123456")),
    (116, 2): ("1100", "D", Decimal("632.52"), Decimal("123456")),
    # USD is company 2's base currency: 999.995 -> 1000.00 (half away from zero)
    (117, 1): ("4000", "C", Decimal("1000.00"), Decimal("999.995")),
    (117, 2): ("1100", "D", Decimal("1000.00"), Decimal("999.995")),
    # EUR->USD 1.08: 10 * 1.08 = 10.80, 2 * 1.08 = 2.16, gross 12.96
    (118, 1): ("4000", "C", Decimal("10.80"), Decimal("10")),
    (118, 2): ("2200", "C", Decimal("2.16"), Decimal("2")),
    (118, 3): ("1100", "D", Decimal("12.96"), Decimal("12")),
    # 10.005 in the base currency: 10.005 -> 10.01
    (119, 1): ("4000", "C", Decimal("10.01"), Decimal("10.005")),
    (119, 2): ("1100", "D", Decimal("10.01"), Decimal("10.005")),
}

# (company, account, period) -> (debit, credit) for DAY, summed by hand from POSTED_LINES
GL = {
    (1, "1100", 2024007): (Decimal("1842.53"), Decimal("0")),  # 1200.00 + 632.52 + 10.01
    (1, "1200", 2024007): (Decimal("0"), Decimal("125.00")),
    (1, "2100", 2024007): (Decimal("125.00"), Decimal("102.01")),
    (1, "2200", 2024007): (Decimal("17.00"), Decimal("200.00")),
    (1, "4000", 2024007): (Decimal("0"), Decimal("1642.53")),  # 1000.00 + 632.52 + 10.01
    (1, "5000", 2024007): (Decimal("85.01"), Decimal("0")),
    (2, "1100", 2024007): (Decimal("1012.96"), Decimal("0")),  # 1000.00 + 12.96
    (2, "2200", 2024007): (Decimal("0"), Decimal("2.16")),
    (2, "4000", 2024007): (Decimal("0"), Decimal("1010.80")),  # 1000.00 + 10.80
}


def load_cases(conn: psycopg.Connection) -> None:
    """Insert the reference data and the transactions above (as the admin role)."""
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO legacy.companies VALUES (%s, %s, %s, %s)", COMPANIES)
        cur.executemany("INSERT INTO legacy.accounts VALUES (%s, %s, %s, %s, %s, %s)", ACCOUNTS)
        cur.executemany("INSERT INTO legacy.posting_rules VALUES (%s, %s, %s, %s, %s, %s, %s)", RULES)
        cur.executemany("INSERT INTO legacy.fx_rates VALUES (%s, %s, %s, %s)", FX_RATES)
        cur.executemany("INSERT INTO legacy.users VALUES (%s, %s, %s)", USERS)
        cur.executemany("INSERT INTO legacy.src_transactions VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", TRANSACTIONS)
