"""The legacy function fn_insert_sun_journal and its runner, on the embedded PostgreSQL.

Every figure below is worked out by hand from docs/posting-semantics.md; the arithmetic is in
the comments. The data is a hand-made day of company 1 (base GBP): six postable transactions
and one or more rows for every reason a row can be skipped, each checked for its reason code.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest

from journal_pipeline.cli import main
from journal_pipeline.legacy.runner import LegacySummary, legacy_function_call, run_legacy

DAY = dt.date(2024, 7, 18)
NEXT_DAY = dt.date(2024, 7, 19)
PERIOD = 2024007  # July 2024, SunSystems YYYYPPP

REFERENCE_DATA = """
INSERT INTO legacy.companies (company_id, name, base_currency, timezone) VALUES
    (1, 'Acme Trading UK Ltd', 'GBP', 'Europe/London'),
    (2, 'Acme Handels GmbH',   'EUR', 'Europe/Berlin');

INSERT INTO legacy.accounts (company_id, account_code, account_name, account_type, is_active) VALUES
    (1, '1100', 'Trade debtors',   'ASSET',     true),
    (1, '1200', 'Bank',            'ASSET',     true),
    (1, '1300', 'VAT recoverable', 'ASSET',     true),
    (1, '2100', 'Trade creditors', 'LIABILITY', true),
    (1, '2200', 'VAT payable',     'LIABILITY', true),
    (1, '4000', 'Sales',           'REVENUE',   true),
    (1, '5000', 'Purchases',       'EXPENSE',   true),
    (1, '5900', 'Old expenses',    'EXPENSE',   false),
    (2, '1100', 'Forderungen',     'ASSET',     true),
    (2, '4000', 'Umsatzerloese',   'REVENUE',   true);

INSERT INTO legacy.posting_rules
    (company_id, txn_type, journal_type, net_account, net_side, tax_account, contra_account) VALUES
    (1, 'AR_INV',  'SI', '4000', 'C', '2200', '1100'),
    (1, 'AP_INV',  'PI', '5000', 'D', '1300', '2100'),
    (1, 'CB_PAY',  'CB', '2100', 'D', NULL,   '1200'),
    (1, 'BAD_TAX', 'SI', '4000', 'C', '2299', '1100'),  -- its tax account is not in the chart
    (1, 'MISC',    'JV', '9999', 'D', NULL,   '1200'),  -- its net account is not in the chart
    (1, 'OLD_EXP', 'PI', '5900', 'D', NULL,   '2100'),  -- its net account is inactive
    (1, 'MIXED',   'JV', '5900', 'D', NULL,   '9999'),  -- net inactive AND contra unknown
    (2, 'AR_INV',  'SI', '4000', 'C', NULL,   '1100');

-- units of GBP for one unit of currency
INSERT INTO legacy.fx_rates (rate_date, currency, base_currency, rate) VALUES
    ('2024-07-18', 'EUR', 'GBP', 0.85),     -- the day's rate: used
    ('2024-07-15', 'EUR', 'GBP', 0.90),     -- older than the day's: not used
    ('2024-07-19', 'EUR', 'GBP', 0.10),     -- the next day's: never used for 2024-07-18
    ('2024-07-11', 'USD', 'GBP', 0.78125),  -- exactly 7 days old: used
    ('2024-07-10', 'USD', 'GBP', 0.50),     -- 8 days old
    ('2024-07-10', 'CHF', 'GBP', 0.88),     -- 8 days old, and the only CHF rate: no rate
    ('2024-07-18', 'JPY', 'GBP', 0),        -- not usable (rate must be > 0): no rate
    ('2024-07-18', 'SEK', 'EUR', 0.087);    -- a rate to EUR, not to GBP: no rate for company 1
"""

# (txn_id, txn_type, data) for company 1 on DAY. JSON is written as text so that no amount ever
# passes through a Python float.
POSTABLE = [
    (
        101,
        "AR_INV",
        '{"amount": 10.005, "currency": "GBP", "description": "Widgets", "cost_center": "CC10",'
        ' "counterparty": "C-0042", "document_ref": "INV-101", "entry_mode": "auto"}',
    ),
    (102, "AR_INV", '{"amount": 12.1, "tax_amount": "2.42", "currency": "EUR"}'),
    (103, "AP_INV", '{"amount": " \\t99.99\\n ", "tax_amount": 0, "currency": "USD"}'),
    (104, "CB_PAY", '{"amount": "1.5E2", "tax_amount": null, "currency": "GBP"}'),
    (105, "AP_INV", '{"amount": "+.5", "tax_amount": "0.1e0", "currency": "GBP"}'),
    (106, "BAD_TAX", '{"amount": 20, "currency": "GBP"}'),  # no tax: the unknown tax account is not needed
]

# txn_id -> (txn_type, data, expected reason). The later rows fail several checks: the first
# failing check in the docs' order is the reason.
SKIPPED = {
    201: ("NOPE", '{"amount": 1, "currency": "GBP"}', "no_posting_rule"),
    202: (None, '{"amount": 1, "currency": "GBP"}', "no_posting_rule"),
    203: ("AR_INV", None, "amount_missing"),
    204: ("AR_INV", '{"currency": "GBP"}', "amount_missing"),
    205: ("AR_INV", '{"amount": null, "currency": "GBP"}', "amount_missing"),
    206: ("AR_INV", '{"amount": "", "currency": "GBP"}', "amount_not_numeric"),
    207: ("AR_INV", '{"amount": "NaN", "currency": "GBP"}', "amount_not_numeric"),
    208: ("AR_INV", '{"amount": "Infinity", "currency": "GBP"}', "amount_not_numeric"),
    209: ("AR_INV", '{"amount": "12,50", "currency": "GBP"}', "amount_not_numeric"),
    210: ("AR_INV", '{"amount": true, "currency": "GBP"}', "amount_not_numeric"),
    211: ("AR_INV", '{"amount": [10], "currency": "GBP"}', "amount_not_numeric"),
    212: ("AR_INV", '{"amount": {"value": 10}, "currency": "GBP"}', "amount_not_numeric"),
    213: ("AR_INV", '{"amount": 10, "tax_amount": "ten", "currency": "GBP"}', "amount_not_numeric"),
    # beyond numeric(38,18): overflows numeric input; 19 decimal places; 10^20; a tax of 19 places
    214: ("AR_INV", '{"amount": "1e999999", "currency": "GBP"}', "amount_too_precise"),
    215: ("AR_INV", '{"amount": "0.0000000000000000001", "currency": "GBP"}', "amount_too_precise"),
    216: ("AR_INV", '{"amount": 100000000000000000000, "currency": "GBP"}', "amount_too_precise"),
    217: (
        "AR_INV",
        '{"amount": 1, "tax_amount": 0.0000000000000000001, "currency": "GBP"}',
        "amount_too_precise",
    ),
    218: ("AR_INV", '{"amount": 0, "currency": "GBP"}', "amount_out_of_range"),
    219: ("AR_INV", '{"amount": "-0", "currency": "GBP"}', "amount_out_of_range"),
    220: ("AR_INV", '{"amount": -5, "currency": "GBP"}', "amount_out_of_range"),
    221: ("AR_INV", '{"amount": 10, "tax_amount": -1, "currency": "GBP"}', "amount_out_of_range"),
    222: ("AR_INV", '{"amount": 10}', "bad_currency"),
    223: ("AR_INV", '{"amount": 10, "currency": "gbp"}', "bad_currency"),
    224: ("AR_INV", '{"amount": 10, "currency": 826}', "bad_currency"),
    225: ("AR_INV", '{"amount": 10, "currency": "GBPX"}', "bad_currency"),
    226: ("CB_PAY", '{"amount": 10, "tax_amount": 1, "currency": "GBP"}', "tax_without_tax_account"),
    227: ("MISC", '{"amount": 10, "currency": "GBP"}', "unknown_account"),
    228: ("BAD_TAX", '{"amount": 10, "tax_amount": 1, "currency": "GBP"}', "unknown_account"),
    229: ("OLD_EXP", '{"amount": 10, "currency": "GBP"}', "inactive_account"),
    230: ("AR_INV", '{"amount": 10, "currency": "CHF"}', "no_rate"),  # its only rate is 8 days old
    231: ("AR_INV", '{"amount": 10, "currency": "JPY"}', "no_rate"),  # rate 0
    232: ("AR_INV", '{"amount": 10, "currency": "SEK"}', "no_rate"),  # a rate to EUR only
    233: ("AR_INV", '{"amount": 10, "currency": "XYZ"}', "no_rate"),  # no rate at all
    # rule 12: round(0.004, 2) = 0.00 < 0.01
    234: ("AR_INV", '{"amount": 0.004, "currency": "GBP"}', "amount_out_of_range"),
    # 20 integer digits pass rule 5 (< 10^20) but the base amount does not fit numeric(18,2)
    235: ("AR_INV", '{"amount": "99999999999999999999", "currency": "GBP"}', "amount_out_of_range"),
    # 5*10^15 + 5*10^15 = 10^16: the gross does not fit numeric(18,2) although net and tax do
    236: ("AR_INV", '{"amount": 5e15, "tax_amount": 5e15, "currency": "GBP"}', "amount_out_of_range"),
    # several failures: the first check in the docs' order wins
    237: ("NOPE", '{"amount": "x", "currency": "GBP"}', "no_posting_rule"),  # 2 before 4
    # 4 (net) before 5 (tax), and 4 (tax) before 5 (net)
    238: ("AR_INV", '{"amount": "abc", "tax_amount": "1e999999", "currency": "GBP"}', "amount_not_numeric"),
    239: ("AR_INV", '{"amount": 1e999, "tax_amount": "x", "currency": "GBP"}', "amount_not_numeric"),
    240: ("AR_INV", '{"amount": "-1e999999", "currency": "GBP"}', "amount_too_precise"),  # 5 before 6
    241: ("AR_INV", '{"amount": -1, "currency": "eur"}', "amount_out_of_range"),  # 6 before 7
    242: ("CB_PAY", '{"amount": 10, "tax_amount": 1, "currency": "xx"}', "bad_currency"),  # 7 before 8
    243: ("MISC", '{"amount": 10, "currency": "CHF"}', "unknown_account"),  # 9 before 11
    244: ("MIXED", '{"amount": 10, "currency": "GBP"}', "unknown_account"),  # 9 (contra) before 10 (net)
    # more that is not numeric: a no-break space is not white space here; a point alone; an
    # exponent without digits; hexadecimal
    245: ("AR_INV", '{"amount": "\\u00a010", "currency": "GBP"}', "amount_not_numeric"),
    246: ("AR_INV", '{"amount": ".", "currency": "GBP"}', "amount_not_numeric"),
    247: ("AR_INV", '{"amount": "1e", "currency": "GBP"}', "amount_not_numeric"),
    248: ("AR_INV", '{"amount": "0x1A", "currency": "GBP"}', "amount_not_numeric"),
    # a data that is not a JSON object has no amount
    249: ("AR_INV", "[10, 20]", "amount_missing"),
}

# The lines expected for POSTABLE, worked out by hand:
#   101: GBP, rate 1; 10.005 * 1 = 10.005 -> 10.01 (half away from zero; half-even would give 10.00)
#   102: EUR at 0.85 (the day's rate, not the older 0.90 nor the next day's 0.10):
#        net 12.1 * 0.85 = 10.285 -> 10.29 (half-even and binary floats would give 10.28),
#        tax 2.42 * 0.85 = 2.057 -> 2.06, gross 10.29 + 2.06 = 12.35
#        (not round(14.52 * 0.85 = 12.342, 2) = 12.34: the gross is the sum of the rounded parts)
#   103: USD at 0.78125, the rate exactly 7 days old: 99.99 * 0.78125 = 78.1171875 -> 78.12; tax 0: two lines
#   104: GBP " 1.5E2" = 150 -> 150.00; tax null = 0: two lines
#   105: GBP "+.5" = 0.5 -> 0.50, tax "0.1e0" = 0.1 -> 0.10, gross 0.60
#   106: GBP 20 -> 20.00; no tax, so the rule's unknown tax account does not matter
# (txn_id, line_no, account, dc, amount_base, amount_txn, currency, fx_rate)
EXPECTED_LINES = [
    (101, 1, "4000", "C", Decimal("10.01"), Decimal("10.005"), "GBP", Decimal("1")),
    (101, 2, "1100", "D", Decimal("10.01"), Decimal("10.005"), "GBP", Decimal("1")),
    (102, 1, "4000", "C", Decimal("10.29"), Decimal("12.1"), "EUR", Decimal("0.85")),
    (102, 2, "2200", "C", Decimal("2.06"), Decimal("2.42"), "EUR", Decimal("0.85")),
    (102, 3, "1100", "D", Decimal("12.35"), Decimal("14.52"), "EUR", Decimal("0.85")),
    (103, 1, "5000", "D", Decimal("78.12"), Decimal("99.99"), "USD", Decimal("0.78125")),
    (103, 2, "2100", "C", Decimal("78.12"), Decimal("99.99"), "USD", Decimal("0.78125")),
    (104, 1, "2100", "D", Decimal("150.00"), Decimal("150"), "GBP", Decimal("1")),
    (104, 2, "1200", "C", Decimal("150.00"), Decimal("150"), "GBP", Decimal("1")),
    (105, 1, "5000", "D", Decimal("0.50"), Decimal("0.5"), "GBP", Decimal("1")),
    (105, 2, "1300", "D", Decimal("0.10"), Decimal("0.1"), "GBP", Decimal("1")),
    (105, 3, "2100", "C", Decimal("0.60"), Decimal("0.6"), "GBP", Decimal("1")),
    (106, 1, "4000", "C", Decimal("20.00"), Decimal("20"), "GBP", Decimal("1")),
    (106, 2, "1100", "D", Decimal("20.00"), Decimal("20"), "GBP", Decimal("1")),
]

# GL of company 1 for July 2024 after DAY, summed from EXPECTED_LINES:
#   1100 D 10.01 + 12.35 + 20.00 = 42.36      1200 C 150.00          1300 D 0.10
#   2100 D 150.00, C 78.12 + 0.60 = 78.72     2200 C 2.06
#   4000 C 10.01 + 10.29 + 20.00 = 40.30      5000 D 78.12 + 0.50 = 78.62
#   debits 42.36 + 0.10 + 150.00 + 78.62 = 271.08 = credits 150.00 + 78.72 + 2.06 + 40.30
EXPECTED_GL = [
    ("1100", Decimal("42.36"), Decimal("0.00")),
    ("1200", Decimal("0.00"), Decimal("150.00")),
    ("1300", Decimal("0.10"), Decimal("0.00")),
    ("2100", Decimal("150.00"), Decimal("78.72")),
    ("2200", Decimal("0.00"), Decimal("2.06")),
    ("4000", Decimal("0.00"), Decimal("40.30")),
    ("5000", Decimal("78.62"), Decimal("0.00")),
]

INSERT_TXN = """
INSERT INTO legacy.src_transactions
    (txn_id, company_id, txn_date, created_at, source_system, txn_type, created_by, approved_by, data)
VALUES (%s, %s, %s, (%s::date + time '10:30') AT TIME ZONE 'Europe/London', 'AR', %s, 'jdoe', NULL, %s::jsonb)
"""


def insert_txn(
    conn, txn_id: int, txn_type: str | None, data: str | None, *, company_id: int = 1, day: dt.date = DAY
) -> None:
    conn.execute(INSERT_TXN, (txn_id, company_id, day, day, txn_type, data))


@pytest.fixture
def legacy_day(db):
    """Reference data, DAY's rows for company 1 (postable and skipped), one row of company 2 on
    DAY and one row of company 1 on NEXT_DAY."""
    with db.connect() as conn:
        conn.execute(REFERENCE_DATA)
        for txn_id, txn_type, data in POSTABLE:
            insert_txn(conn, txn_id, txn_type, data)
        for txn_id, (txn_type, data, _reason) in SKIPPED.items():
            insert_txn(conn, txn_id, txn_type, data)
        # company 2 (base EUR): 100 EUR at rate 1 -> 4000 C 100.00, 1100 D 100.00
        insert_txn(conn, 401, "AR_INV", '{"amount": 100, "currency": "EUR"}', company_id=2)
        # the next day, same period: 5 GBP -> 4000 C 5.00, 1100 D 5.00
        insert_txn(conn, 301, "AR_INV", '{"amount": "5", "currency": "GBP"}', day=NEXT_DAY)
    return db


def journal_lines(db, company_id: int = 1, day: dt.date = DAY) -> list[tuple]:
    return db.rows(
        """
        SELECT txn_id, line_no, account_code, dc, amount_base, (data->>'amount_txn')::numeric,
               data->>'currency', (data->>'fx_rate')::numeric
        FROM legacy.sun_journal WHERE company_id = %s AND journal_date = %s ORDER BY txn_id, line_no
        """,
        (company_id, day),
    )


def gl(db, company_id: int = 1) -> list[tuple]:
    return db.rows(
        "SELECT account_code, debit, credit FROM legacy.gl_entries WHERE company_id = %s AND period = %s"
        " ORDER BY account_code",
        (company_id, PERIOD),
    )


def snapshot(db) -> dict[str, list[tuple]]:
    """Every legacy output row, without the surrogate keys a rerun draws anew (journal_no from
    legacy.journal_no_seq, journal_line_id from its bigserial)."""
    return {
        "lines": db.rows(
            "SELECT company_id, journal_date, journal_type, line_no, txn_id, account_code, period, dc,"
            " amount_base, data::text FROM legacy.sun_journal ORDER BY txn_id, line_no"
        ),
        "vouchers": db.rows(
            "SELECT company_id, journal_date, journal_type, txn_id, line_count, total_debit, total_credit"
            " FROM legacy.vouchers ORDER BY txn_id"
        ),
        "gl": db.rows(
            "SELECT company_id, account_code, period, debit, credit FROM legacy.gl_entries"
            " ORDER BY company_id, account_code, period"
        ),
    }


def assert_ledger_invariants(db) -> None:
    """Every voucher balances and agrees with its lines; the GL is exactly the sum of the lines."""
    unbalanced = db.rows(
        """
        SELECT v.journal_no, v.total_debit, v.total_credit, count(j.*), v.line_count,
               sum(j.amount_base) FILTER (WHERE j.dc = 'D'), sum(j.amount_base) FILTER (WHERE j.dc = 'C')
        FROM legacy.vouchers v LEFT JOIN legacy.sun_journal j USING (journal_no)
        GROUP BY v.journal_no
        HAVING v.total_debit <> v.total_credit OR count(j.*) <> v.line_count
            OR v.total_debit IS DISTINCT FROM sum(j.amount_base) FILTER (WHERE j.dc = 'D')
            OR v.total_credit IS DISTINCT FROM sum(j.amount_base) FILTER (WHERE j.dc = 'C')
            OR count(DISTINCT j.txn_id) <> 1
        """
    )
    assert unbalanced == []
    # balanced in transaction currency as well: net + tax on one side, net + tax on the other
    unbalanced_in_txn_currency = db.rows(
        """
        SELECT journal_no FROM legacy.sun_journal GROUP BY journal_no
        HAVING sum((data->>'amount_txn')::numeric) FILTER (WHERE dc = 'D')
            <> sum((data->>'amount_txn')::numeric) FILTER (WHERE dc = 'C')
        """
    )
    assert unbalanced_in_txn_currency == []
    orphan_lines = db.scalar(
        "SELECT count(*) FROM legacy.sun_journal j LEFT JOIN legacy.vouchers v USING (journal_no)"
        " WHERE v.journal_no IS NULL"
    )
    assert orphan_lines == 0
    from_lines = db.rows(
        """
        SELECT company_id, account_code, period,
               coalesce(sum(amount_base) FILTER (WHERE dc = 'D'), 0),
               coalesce(sum(amount_base) FILTER (WHERE dc = 'C'), 0)
        FROM legacy.sun_journal GROUP BY company_id, account_code, period ORDER BY 1, 2, 3
        """
    )
    gl_rows = db.rows("SELECT company_id, account_code, period, debit, credit FROM legacy.gl_entries ORDER BY 1, 2, 3")
    assert gl_rows == from_lines


def test_a_day_posts_the_exact_lines_vouchers_and_gl(legacy_day):
    db = legacy_day
    summary = run_legacy(db.admin_url, start=DAY, end=DAY, company_id=1)

    assert summary.posted == len(POSTABLE) == 6
    assert summary.skipped_by_reason == dict(Counter(reason for _t, _d, reason in SKIPPED.values()))
    assert journal_lines(db) == EXPECTED_LINES
    vouchers = db.rows(
        "SELECT txn_id, journal_type, line_count, total_debit, total_credit FROM legacy.vouchers ORDER BY txn_id"
    )
    assert vouchers == [
        (101, "SI", 2, Decimal("10.01"), Decimal("10.01")),
        (102, "SI", 3, Decimal("12.35"), Decimal("12.35")),
        (103, "PI", 2, Decimal("78.12"), Decimal("78.12")),
        (104, "CB", 2, Decimal("150.00"), Decimal("150.00")),
        (105, "PI", 3, Decimal("0.60"), Decimal("0.60")),
        (106, "SI", 2, Decimal("20.00"), Decimal("20.00")),
    ]
    assert gl(db) == EXPECTED_GL
    assert sum(d for _a, d, _c in EXPECTED_GL) == sum(c for _a, _d, c in EXPECTED_GL) == Decimal("271.08")
    assert db.scalar("SELECT count(DISTINCT period) FROM legacy.sun_journal") == 1
    assert_ledger_invariants(db)


def test_each_invalid_row_is_skipped_with_the_reason_of_its_first_failing_check(legacy_day):
    with legacy_day.connect(autocommit=False) as conn:
        conn.execute("SET client_min_messages = notice")
        result = legacy_function_call(conn, DAY, 1)
        conn.commit()
    assert result.posted == len(POSTABLE)
    assert result.skipped == {txn_id: reason for txn_id, (_t, _d, reason) in SKIPPED.items()}
    # posted + skipped = every source row of the company-day: nothing is lost without a NOTICE
    assert result.posted + len(result.skipped) == legacy_day.scalar(
        "SELECT count(*) FROM legacy.src_transactions WHERE company_id = 1 AND txn_date = %s", (DAY,)
    )
    assert legacy_day.scalar("SELECT count(*) FROM legacy.sun_journal WHERE txn_id >= 200") == 0


def test_the_fx_rate_is_the_latest_within_7_days_and_never_a_later_one(legacy_day):
    with legacy_day.connect(autocommit=False) as conn:
        result = legacy_function_call(conn, DAY, 1)
        conn.commit()
    rates = dict(
        legacy_day.rows("SELECT txn_id, (data->>'fx_rate')::numeric FROM legacy.sun_journal WHERE line_no = 1")
    )
    assert rates[102] == Decimal("0.85")  # EUR: the day's rate, not 0.90 (3 days old) nor 0.10 (the next day)
    assert rates[103] == Decimal("0.78125")  # USD: exactly 7 days old is still used
    assert result.skipped[230] == "no_rate"  # CHF: its only rate is 8 days old
    assert 230 not in rates


def test_rounding_is_half_away_from_zero_on_the_exact_product(legacy_day):
    run_legacy(legacy_day.admin_url, start=DAY, end=DAY, company_id=1)
    amounts = {
        (txn_id, line_no): amount
        for txn_id, line_no, amount in legacy_day.rows(
            "SELECT txn_id, line_no, amount_base FROM legacy.sun_journal WHERE txn_id IN (101, 102)"
        )
    }
    assert amounts[(101, 1)] == Decimal("10.01")  # 10.005 -> 10.01
    assert amounts[(102, 1)] == Decimal("10.29")  # 12.1 * 0.85 = 10.285 -> 10.29
    assert amounts[(102, 2)] == Decimal("2.06")  # 2.42 * 0.85 = 2.057 -> 2.06
    assert amounts[(102, 3)] == Decimal("12.35")  # 10.29 + 2.06


def test_line_details_carry_the_source_row(legacy_day):
    run_legacy(legacy_day.admin_url, start=DAY, end=DAY, company_id=1)
    # as text, exactly as stored (psycopg would read JSON numbers as floats)
    details = dict(
        legacy_day.rows(
            "SELECT key, value FROM legacy.sun_journal, jsonb_each_text(data) WHERE txn_id = 101 AND line_no = 2"
        )
    )
    assert details == {
        "amount_txn": "10.005",
        "currency": "GBP",
        "fx_rate": "1.00000000",
        "description": "Widgets",
        "cost_center": "CC10",
        "counterparty": "C-0042",
        "document_ref": "INV-101",
        "source_system": "AR",
        "created_by": "jdoe",
        "entry_mode": "auto",
    }
    gross_txn = legacy_day.scalar(
        "SELECT data->>'amount_txn' FROM legacy.sun_journal WHERE txn_id = 102 AND line_no = 3"
    )
    assert gross_txn == "14.52"  # 12.1 + 2.42, exactly


def test_an_unknown_company_has_every_row_skipped(legacy_day):
    with legacy_day.connect() as conn:
        insert_txn(conn, 901, "AR_INV", '{"amount": 10, "currency": "GBP"}', company_id=99)
        insert_txn(conn, 902, "AR_INV", '{"amount": 20, "currency": "GBP"}', company_id=99)
    summary = run_legacy(legacy_day.admin_url, start=DAY, end=DAY, company_id=99)
    assert (summary.posted, summary.skipped_by_reason) == (0, {"unknown_company": 2})
    assert legacy_day.scalar("SELECT count(*) FROM legacy.sun_journal") == 0


def test_amounts_at_the_bounds(db):
    with db.connect() as conn:
        conn.execute(REFERENCE_DATA)
        rows = {
            501: '{"amount": "9999999999999999.99", "currency": "GBP"}',  # the largest numeric(18,2)
            502: '{"amount": 0.005, "currency": "GBP"}',  # round(0.005, 2) = 0.01: the smallest base net
            # trailing zeros are not decimal places: this is 1
            503: '{"amount": "1.000000000000000000000000", "currency": "GBP"}',
            # fits numeric(38,18)...
            504: '{"amount": "99999999999999999999.999999999999999999", "currency": "GBP"}',
            505: '{"amount": 2, "tax_amount": "0e-99999999999999999999", "currency": "GBP"}',  # zero tax
            506: '{"amount": "1e-99999999999999999999", "currency": "GBP"}',
            507: '{"amount": "12345678901234567890e-18", "currency": "GBP"}',  # 12.345678901234567890
            # numeric input cannot read these two (more than 16383 digits after the point), yet both are 1
            508: '{"amount": "1.' + "0" * 20000 + '", "currency": "GBP"}',
            509: '{"amount": "0.' + "0" * 17000 + '1e17001", "currency": "GBP"}',
            # vertical tab, form feed and carriage return around it are white space: 7
            510: '{"amount": "\\u000b\\f7\\r", "currency": "GBP"}',
        }
        for txn_id, data in rows.items():
            insert_txn(conn, txn_id, "AR_INV", data)
    with db.connect(autocommit=False) as conn:
        conn.execute("SET client_min_messages = notice")
        result = legacy_function_call(conn, DAY, 1)
        conn.commit()
    assert result.skipped == {
        504: "amount_out_of_range",  # ...but its base amount is >= 10^16
        506: "amount_too_precise",  # a non-zero 10^-(10^20): not representable
    }
    assert result.posted == 8
    assert db.rows("SELECT txn_id, line_count, total_debit FROM legacy.vouchers ORDER BY txn_id") == [
        (501, 2, Decimal("9999999999999999.99")),
        (502, 2, Decimal("0.01")),
        (503, 2, Decimal("1.00")),
        (505, 2, Decimal("2.00")),  # tax 0: no tax line
        (507, 2, Decimal("12.35")),  # 12.345678... -> 12.35
        (508, 2, Decimal("1.00")),
        (509, 2, Decimal("1.00")),
        (510, 2, Decimal("7.00")),
    ]
    assert_ledger_invariants(db)


def test_every_voucher_balances_and_the_gl_is_the_sum_of_the_lines_over_days(legacy_day):
    db = legacy_day
    summary = run_legacy(db.admin_url, start=DAY, end=NEXT_DAY, company_id=None)
    # DAY: 6 for company 1 and 1 for company 2; NEXT_DAY: 1 for company 1
    assert (summary.days, summary.companies, summary.company_days, summary.posted) == (2, 2, 4, 8)
    assert_ledger_invariants(db)
    # the next day adds to the same July balances: 1100 D 42.36 + 5.00, 4000 C 40.30 + 5.00
    balances = {account: (debit, credit) for account, debit, credit in gl(db)}
    assert balances["1100"] == (Decimal("47.36"), Decimal("0.00"))
    assert balances["4000"] == (Decimal("0.00"), Decimal("45.30"))
    assert gl(db, company_id=2) == [
        ("1100", Decimal("100.00"), Decimal("0.00")),
        ("4000", Decimal("0.00"), Decimal("100.00")),
    ]


def test_rerunning_a_day_leaves_the_same_rows_and_gl(legacy_day):
    db = legacy_day
    run_legacy(db.admin_url, start=DAY, end=NEXT_DAY, company_id=None)
    first = snapshot(db)
    vouchers_before = db.scalar("SELECT count(*) FROM legacy.vouchers")
    # rerun the first day only, after the second, twice: its lines are replaced, the GL rows that
    # the next day shares (1100, 4000) keep the next day's part, nothing is doubled
    run_legacy(db.admin_url, start=DAY, end=DAY, company_id=1)
    run_legacy(db.admin_url, start=DAY, end=DAY, company_id=None)
    assert snapshot(db) == first
    assert db.scalar("SELECT count(*) FROM legacy.vouchers") == vouchers_before
    assert_ledger_invariants(db)


def test_a_rerun_after_the_source_changed_leaves_no_stale_gl(legacy_day):
    db = legacy_day
    run_legacy(db.admin_url, start=DAY, end=DAY, company_id=1)
    with db.connect() as conn:
        # 105 was the only posting to 1300; 104 the only one to 1200
        conn.execute("DELETE FROM legacy.src_transactions WHERE txn_id IN (104, 105)")
    run_legacy(db.admin_url, start=DAY, end=DAY, company_id=1)
    accounts = [account for account, _d, _c in gl(db)]
    assert "1200" not in accounts and "1300" not in accounts
    # 2100 keeps only 103's credit: 150.00 and 0.60 are gone
    assert dict((a, (d, c)) for a, d, c in gl(db))["2100"] == (Decimal("0.00"), Decimal("78.12"))
    assert_ledger_invariants(db)


def test_the_summary_reads_well():
    reasons = {"no_rate": 20, "bad_currency": 30}
    summary = LegacySummary(days=2, companies=5, posted=19_950, skipped_by_reason=reasons, seconds=4.0)
    assert str(summary).splitlines() == [
        "legacy fn_insert_sun_journal: 2 day(s) x 5 company(ies) = 10 company-day(s)",
        "posted:   19,950 transactions",
        "skipped:  50 transactions (reported only as NOTICEs: the data is not kept)",
        "  bad_currency  30",
        "  no_rate       20",
        "duration: 4.00 s (2.50 company-days/s)",
    ]


def test_cli_legacy_posts_every_company_and_prints_the_summary(legacy_day, capsys):
    assert main(["legacy", "--date", DAY.isoformat()]) == 0
    captured = capsys.readouterr()
    assert "posted:   7 transactions" in captured.out  # 6 for company 1, 1 for company 2
    assert f"skipped:  {len(SKIPPED)} transactions" in captured.out
    assert "  amount_not_numeric  " in captured.out
    assert captured.err.startswith(f"legacy {DAY}: 2 company(ies), 7 posted, {len(SKIPPED)} skipped")
    assert legacy_day.scalar("SELECT count(*) FROM legacy.vouchers") == 7


def test_cli_legacy_with_an_empty_source_fails_in_one_line(db, capsys):
    assert main(["legacy", "--date", DAY.isoformat()]) == 1
    assert capsys.readouterr().err.strip() == (
        "journal-pipeline legacy: legacy.companies is empty: there is nothing to post"
        " (fill it first, e.g. journal-pipeline seed)"
    )
