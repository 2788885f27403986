"""The synthetic data generator (``journal-pipeline seed``) on the embedded PostgreSQL.

One small group (2 companies x 300 transactions x 5 days, 2024-03-29..2024-04-02: Good Friday,
a weekend, Easter Monday and a month end) is seeded once for the read-only checks; the tests
that write get their own fresh databases. The central check replays docs/posting-semantics.md in
SQL: every row the generator calls invalid fails exactly at the recorded check, and no other row
fails any check.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from journal_pipeline.cli import main
from journal_pipeline.domain.holidays import (
    country_for_timezone,
    easter_sunday,
    holidays_between,
    is_public_holiday,
    public_holidays,
)
from journal_pipeline.legacy.runner import legacy_function_call
from journal_pipeline.seed.anomalies import ANOMALY_KINDS, INVALID_KINDS, money
from journal_pipeline.seed.catalog import SUSPICIOUS_KEYWORD_PATTERN
from journal_pipeline.seed.generator import SeedSummary, seed_database
from journal_pipeline.seed.render import copy_json_string
from journal_pipeline.seed.transactions import _apportion
from journal_pipeline_tests.conftest import TEMPLATE, Database, clone_database, drop_database

START = dt.date(2024, 3, 29)  # Good Friday; the run covers Easter weekend and Easter Monday
ARGS = {"start": START, "days": 5, "companies": 2, "txns_per_day": 300, "seed": 42}
NOT_IN_TRUTH = "NOT EXISTS (SELECT 1 FROM eval.ground_truth g WHERE g.txn_id = t.txn_id)"


def decimal_of(key: str) -> str:
    """SQL for data->>key as numeric, NULL unless it is a plain decimal (WHERE clauses are not ordered)."""
    text = f"btrim(data->>'{key}')"
    return f"(CASE WHEN {text} ~ '^[0-9]+(\\.[0-9]+)?$' THEN {text}::numeric END)"


AMOUNT, TAX = decimal_of("amount"), decimal_of("tax_amount")
GROSS = f"({AMOUNT} + coalesce({TAX}, 0))"

# The first failing check of docs/posting-semantics.md for every transaction (NULL: it posts).
# "20 or more integer digits" is read as numeric(38,18) reads it (10^20 and up), as the legacy
# function does; the generator's too-precise amounts have 22 or more, so either reading agrees.
FIRST_FAILING_CHECK = r"""
WITH src AS (
    SELECT s.txn_id, s.company_id, s.txn_date, s.data, c.company_id IS NOT NULL AS company_ok, c.base_currency,
           r.txn_type IS NOT NULL AS rule_ok, r.net_account, r.tax_account, r.contra_account,
           s.data -> 'amount' AS amount_j, s.data -> 'tax_amount' AS tax_j, s.data -> 'currency' AS currency_j
    FROM legacy.src_transactions s
    LEFT JOIN legacy.companies c ON c.company_id = s.company_id
    LEFT JOIN legacy.posting_rules r ON r.company_id = s.company_id AND r.txn_type = s.txn_type
), texts AS (
    SELECT *,
        CASE WHEN jsonb_typeof(amount_j) = 'number' THEN amount_j #>> '{}'
             WHEN jsonb_typeof(amount_j) = 'string' AND btrim(amount_j #>> '{}', E' \t\n\r\f' || chr(11))
                  ~ '^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$'
             THEN btrim(amount_j #>> '{}', E' \t\n\r\f' || chr(11)) END AS net_text,
        CASE WHEN tax_j IS NULL OR jsonb_typeof(tax_j) = 'null' THEN '0'
             WHEN jsonb_typeof(tax_j) = 'number' THEN tax_j #>> '{}'
             WHEN jsonb_typeof(tax_j) = 'string' AND btrim(tax_j #>> '{}', E' \t\n\r\f' || chr(11))
                  ~ '^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$'
             THEN btrim(tax_j #>> '{}', E' \t\n\r\f' || chr(11)) END AS tax_text
    FROM src
), amounts AS (
    SELECT *, net_text::numeric AS net, tax_text::numeric AS tax,
           CASE WHEN jsonb_typeof(currency_j) = 'string' AND (currency_j #>> '{}') ~ '^[A-Z]{3}$'
                THEN currency_j #>> '{}' END AS currency
    FROM texts
), checked AS (
    SELECT a.*,
        (SELECT bool_and(x.company_id IS NOT NULL) FROM unnest(ARRAY[a.net_account, a.contra_account]
            || CASE WHEN a.tax > 0 THEN ARRAY[a.tax_account] ELSE ARRAY[]::text[] END) AS code
            LEFT JOIN legacy.accounts x ON x.company_id = a.company_id AND x.account_code = code) AS accounts_known,
        (SELECT bool_and(x.is_active) FROM unnest(ARRAY[a.net_account, a.contra_account]
            || CASE WHEN a.tax > 0 THEN ARRAY[a.tax_account] ELSE ARRAY[]::text[] END) AS code
            JOIN legacy.accounts x ON x.company_id = a.company_id AND x.account_code = code) AS accounts_active,
        CASE WHEN a.currency = a.base_currency THEN 1
             ELSE (SELECT f.rate FROM legacy.fx_rates f WHERE f.currency = a.currency
                   AND f.base_currency = a.base_currency AND f.rate > 0
                   AND f.rate_date BETWEEN a.txn_date - 7 AND a.txn_date ORDER BY f.rate_date DESC LIMIT 1) END AS rate
    FROM amounts a
)
SELECT txn_id, CASE
    WHEN NOT company_ok THEN 'unknown_company'
    WHEN NOT rule_ok THEN 'no_posting_rule'
    WHEN data IS NULL OR amount_j IS NULL OR jsonb_typeof(amount_j) = 'null' THEN 'amount_missing'
    WHEN net_text IS NULL OR tax_text IS NULL THEN 'amount_not_numeric'
    WHEN scale(net) > 18 OR scale(tax) > 18 OR abs(net) >= 1e20 OR abs(tax) >= 1e20 THEN 'amount_too_precise'
    WHEN net <= 0 OR tax < 0 THEN 'amount_out_of_range'
    WHEN currency IS NULL THEN 'bad_currency'
    WHEN tax > 0 AND tax_account IS NULL THEN 'tax_without_tax_account'
    WHEN NOT accounts_known THEN 'unknown_account'
    WHEN NOT accounts_active THEN 'inactive_account'
    WHEN rate IS NULL THEN 'no_rate'
    WHEN round(net * rate, 2) < 0.01 OR round(net * rate, 2) >= 1e16 OR round(tax * rate, 2) >= 1e16
         OR round(net * rate, 2) + round(tax * rate, 2) >= 1e16 THEN 'amount_out_of_range'
    END AS reason
FROM checked
"""

TABLES = {
    "legacy.companies": "company_id",
    "legacy.accounts": "company_id, account_code",
    "legacy.posting_rules": "company_id, txn_type",
    "legacy.users": "user_id",
    "legacy.fx_rates": "rate_date, currency, base_currency",
    "legacy.src_transactions": "txn_id",
    "eval.ground_truth": "txn_id, kind",
}


def table_hashes(db: Database) -> dict[str, str]:
    """md5 of every seeded table's rows in key order: equal hashes mean byte-identical data."""
    return {
        table: str(db.scalar(f"SELECT md5(string_agg(t::text, E'\\n' ORDER BY {key})) FROM {table} t"))
        for table, key in TABLES.items()
    }


@pytest.fixture(scope="module")
def seeded(server_url: str, template_url: str) -> Iterator[tuple[Database, SeedSummary]]:
    database = clone_database(server_url, TEMPLATE, prefix="seed")
    messages: list[str] = []
    summary = seed_database(database.admin_url, progress=messages.append, **ARGS)
    assert any("2024-04-02: " in m for m in messages), messages  # one progress line per day
    yield database, summary
    drop_database(server_url, database.name)


# --- what a seed writes -----------------------------------------------------------------------------


def test_seed_writes_every_transaction_once_with_increasing_ids(seeded):
    db, summary = seeded
    assert summary.transactions == 2 * 300 * 5 == 3000
    assert db.rows(
        "SELECT count(*), min(txn_id), max(txn_id), count(DISTINCT txn_id) FROM legacy.src_transactions"
    ) == [(3000, 1, 3000, 3000)]
    assert (summary.first_txn_id, summary.last_txn_id) == (1, 3000)
    # ids follow txn_date, then created_at
    assert (
        db.scalar("""
        SELECT count(*) FROM (SELECT txn_date, created_at, lag(txn_date) OVER w AS prev_date,
                                     lag(created_at) OVER w AS prev_created
                              FROM legacy.src_transactions WINDOW w AS (ORDER BY txn_id)) x
        WHERE txn_date < prev_date OR (txn_date = prev_date AND created_at < prev_created)""")
        == 0
    )
    assert db.rows(
        "SELECT seed, start_date, days, companies, txns_per_day, first_txn_id, last_txn_id FROM eval.seed_runs"
    ) == [(42, START, 5, 2, 300, 1, 3000)]
    assert "seeded 3,000 transactions" in str(summary) and "rows/s" in str(summary)


def test_days_vary_around_the_mean_lighter_on_weekends_and_holidays(seeded):
    db, _ = seeded
    per_day = dict(
        db.rows("""
        SELECT txn_date, count(*) FROM legacy.src_transactions t
        WHERE company_id = 1 AND txn_type NOT IN ('FX_REVAL', 'PURCH_INV_V2', 'LOAN_DRAWDOWN') GROUP BY 1""")
    )
    # Company 1 is in London: Good Friday, Saturday, Sunday and Easter Monday weigh 0.25 each,
    # Tuesday 2 April is the first business day of April (1.2).
    closed = [per_day[START + dt.timedelta(days=d)] for d in range(4)]
    assert max(closed) < per_day[dt.date(2024, 4, 2)] / 3
    # Weekend and holiday rows of ordinary transactions are all automatic.
    assert (
        db.scalar(f"""
        SELECT count(*) FROM legacy.src_transactions t WHERE company_id = 1 AND txn_date < '2024-04-02'
          AND data->>'entry_mode' = 'manual' AND {NOT_IN_TRUTH}""")
        == 0
    )


def test_reference_data_is_a_realistic_group(seeded):
    db, _ = seeded
    charts = db.rows("""
        SELECT company_id, count(*), count(*) FILTER (WHERE is_suspense), count(*) FILTER (WHERE NOT is_active),
               count(DISTINCT account_type)
        FROM legacy.accounts GROUP BY 1 ORDER BY 1""")
    assert len(charts) == 2
    for _, accounts, suspense, inactive, kinds in charts:
        assert 150 <= accounts <= 300
        assert suspense >= 3 and inactive >= 1 and kinds == 5
    assert db.rows("SELECT company_id, base_currency, timezone FROM legacy.companies ORDER BY 1") == [
        (1, "GBP", "Europe/London"),
        (2, "USD", "America/New_York"),
    ]
    # Every rule's accounts exist in the chart, except the deliberately broken ones.
    broken = db.rows("""
        SELECT DISTINCT r.txn_type FROM legacy.posting_rules r
        CROSS JOIN LATERAL unnest(ARRAY[r.net_account, r.contra_account, r.tax_account]) AS code
        LEFT JOIN legacy.accounts a ON a.company_id = r.company_id AND a.account_code = code
        WHERE code IS NOT NULL AND (a.account_code IS NULL OR NOT a.is_active) ORDER BY 1""")
    assert broken == [("MIGRATED_AP",), ("MIGRATED_SI",), ("OLD_BANK_FEE",)]
    assert {r[0] for r in db.rows("SELECT DISTINCT journal_type FROM legacy.posting_rules")} >= {
        "PI",
        "SI",
        "PAY",
        "REC",
        "PR",
        "GJ",
        "ACC",
        "CB",
    }
    users = db.rows("SELECT user_id, approval_limit FROM legacy.users ORDER BY 1")
    assert len(users) >= 50 and all(re.fullmatch(r"u\d{3}", u) for u, _ in users)
    assert {limit for _, limit in users} >= {
        Decimal("5000.00"),
        Decimal("10000.00"),
        Decimal("25000.00"),
        Decimal("100000.00"),
        None,
    }


def test_transactions_mix_types_sources_currencies_and_json_forms(seeded):
    db, _ = seeded
    valid = f"FROM legacy.src_transactions t WHERE {NOT_IN_TRUTH}"
    assert db.scalar(f"SELECT count(DISTINCT txn_type) {valid}") >= 15
    assert {r[0] for r in db.rows(f"SELECT DISTINCT source_system {valid}")} == {"AP", "AR", "CB", "PAY", "GJ"}
    assert db.scalar(f"SELECT count(*) {valid} AND (approved_by IS NULL) <> (data->>'entry_mode' = 'auto')") == 0
    assert {r[0] for r in db.rows(f"SELECT DISTINCT jsonb_typeof(data->'amount') {valid}")} == {"number", "string"}
    keys = db.rows(f"SELECT DISTINCT jsonb_object_keys(data) FROM legacy.src_transactions t WHERE {NOT_IN_TRUTH}")
    assert {k for (k,) in keys} >= {
        "amount",
        "tax_amount",
        "currency",
        "counterparty",
        "cost_center",
        "document_ref",
        "description",
        "entry_mode",
    }
    foreign = db.scalar(f"""SELECT avg((data->>'currency' <> c.base_currency)::int) FROM legacy.src_transactions t
                            JOIN legacy.companies c USING (company_id) WHERE {NOT_IN_TRUTH}""")
    assert 0.02 < foreign < 0.15
    # tax is 20 % VAT (GBP company) rounded half up to the cent, or zero-rated
    for amount, tax in db.rows(f"""SELECT {AMOUNT}, {TAX} {valid}
                                  AND company_id = 1 AND txn_type = 'SALES_INV' AND data->>'currency' = 'GBP'"""):
        assert tax in (0, (amount * Decimal("0.2")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    # counterparties repeat, a few big ones dominate (Zipf)
    top = db.rows(f"""SELECT count(*) {valid} AND txn_type = 'SALES_INV' AND company_id = 1
                      GROUP BY data->>'counterparty' ORDER BY 1 DESC""")
    assert top[0][0] >= 5 * top[len(top) // 2][0]
    # awkward names survive the JSON and COPY escaping
    names = {r[0] for r in db.rows("SELECT DISTINCT data->>'counterparty' FROM legacy.src_transactions")}
    assert any('"' in n for n in names) and any("'" in n for n in names)


def test_fx_rates_cover_ten_days_before_the_start_on_weekdays_only(seeded):
    db, _ = seeded
    first, last = START - dt.timedelta(days=10), START + dt.timedelta(days=4)
    weekdays = [first + dt.timedelta(days=d) for d in range((last - first).days + 1)]
    weekdays = [d for d in weekdays if d.weekday() < 5]
    assert db.rows("SELECT DISTINCT rate_date FROM legacy.fx_rates ORDER BY 1") == [(d,) for d in weekdays]
    pairs = db.rows("SELECT DISTINCT currency, base_currency FROM legacy.fx_rates")
    assert ("EUR", "GBP") in pairs and ("JPY", "USD") in pairs and ("GBP", "USD") in pairs
    assert len(pairs) == 2 * 14  # 15 rated currencies against each of the two bases
    assert db.scalar("SELECT count(*) FROM legacy.fx_rates WHERE rate <= 0") == 0
    # a random walk: day-to-day moves are small but not nil, and cross rates agree
    moves = [
        float(m)
        for (m,) in db.rows("""
        SELECT abs(rate / lag(rate) OVER (PARTITION BY currency, base_currency ORDER BY rate_date) - 1)
        FROM legacy.fx_rates""")
        if m is not None
    ]
    assert 0.001 < sum(moves) / len(moves) < 0.02
    gbp_usd, usd_gbp = db.rows("""SELECT (SELECT rate FROM legacy.fx_rates WHERE currency = 'GBP'
        AND base_currency = 'USD' AND rate_date = '2024-04-02'), (SELECT rate FROM legacy.fx_rates
        WHERE currency = 'USD' AND base_currency = 'GBP' AND rate_date = '2024-04-02')""")[0]
    assert abs(gbp_usd * usd_gbp - 1) < Decimal("0.0000001")


# --- invalid rows and anomalies ---------------------------------------------------------------------


def test_invalid_rows_fail_exactly_at_their_recorded_check_and_no_other_row_fails(seeded):
    db, summary = seeded
    outcome = db.rows(f"""
        SELECT v.reason, g.kind, count(*) FROM ({FIRST_FAILING_CHECK}) v
        LEFT JOIN eval.ground_truth g ON g.txn_id = v.txn_id AND g.category = 'invalid'
        GROUP BY 1, 2""")
    assert all(reason == kind for reason, kind, _ in outcome), outcome
    assert {kind for _, kind, _ in outcome if kind} == set(INVALID_KINDS)
    assert sum(n for reason, _, n in outcome if reason is None) == 3000 - sum(summary.invalid_by_kind.values())


def test_the_legacy_function_skips_the_invalid_rows_for_the_recorded_reason(seeded):
    db, _ = seeded
    skipped: dict[int, str] = {}
    with db.connect(autocommit=False) as conn:
        for day in (START + dt.timedelta(days=d) for d in range(5)):
            for company_id in (1, 2):
                skipped.update(legacy_function_call(conn, day, company_id).skipped)
        conn.rollback()  # the seeded database stays as seeded for the other tests
    recorded = dict(
        db.rows("SELECT txn_id, kind FROM eval.ground_truth WHERE category = 'invalid' AND kind <> 'unknown_company'")
    )  # the function only visits known companies
    assert skipped == recorded


def test_every_anomaly_kind_is_planted_on_rows_that_exist_and_post(seeded):
    db, summary = seeded
    kinds = dict(db.rows("SELECT kind, count(*) FROM eval.ground_truth WHERE category = 'anomaly' GROUP BY 1"))
    assert set(kinds) == set(ANOMALY_KINDS) and summary.not_planted == {}
    assert kinds == {k: v for k, v in summary.anomalies_by_kind.items()}
    assert (
        db.scalar(
            "SELECT count(*) FROM eval.ground_truth g LEFT JOIN legacy.src_transactions t USING (txn_id)"
            " WHERE t.txn_id IS NULL"
        )
        == 0
    )
    posting = db.scalar(f"""SELECT count(*) FROM ({FIRST_FAILING_CHECK}) v JOIN eval.ground_truth g
                            ON g.txn_id = v.txn_id AND g.category = 'anomaly' WHERE v.reason IS NOT NULL""")
    assert posting == 0
    total = sum(kinds.values())
    assert 0.004 < total / 3000 < 0.03  # every kind at least once at this small scale
    assert db.scalar(r"SELECT count(*) FROM eval.ground_truth WHERE detail ~ '\{\d+\}'") == 0  # ids filled in


def test_planted_anomalies_carry_their_trait(seeded):
    db, _ = seeded

    def rows(kind: str, columns: str) -> list[tuple]:
        return db.rows(f"""SELECT {columns} FROM legacy.src_transactions t JOIN eval.ground_truth g USING (txn_id)
                           JOIN legacy.companies c USING (company_id) WHERE g.kind = '{kind}' ORDER BY txn_id""")

    duplicates = Counter(data for (data,) in rows("duplicate", "data::text"))
    assert duplicates and set(duplicates.values()) == {2}  # pairs with every data field identical
    near: dict[tuple[str, str], list[str]] = {}
    for counterparty, amount, ref in rows(
        "near_duplicate", "data->>'counterparty', data->>'amount', data->>'document_ref'"
    ):
        near.setdefault((counterparty, amount), []).append(ref)
    for first, second in near.values():  # the copy may be the earlier of the two on the same day
        original, copy = sorted((first, second), key=lambda ref: (ref.endswith("-A"), -ref.count("-")))
        assert copy in (original + "-A", original.replace("-", "", 1))
    for gross, limit in rows(
        "just_below_limit",
        f"""{GROSS}, (SELECT approval_limit FROM legacy.users
            WHERE user_id = t.created_by)""",
    ):
        assert Decimal("0.95") * limit <= gross < Decimal("0.995") * limit
    for hour, _ in rows("after_hours", "extract(hour FROM created_at AT TIME ZONE c.timezone), 1"):
        assert hour >= 22 or hour < 5
    for created_by, approved_by in rows("self_approval", "created_by, approved_by"):
        assert created_by == approved_by
    for dow, mode in rows(
        "weekend_entry", "extract(isodow FROM created_at AT TIME ZONE c.timezone), data->>'entry_mode'"
    ):
        assert dow >= 6 and mode == "manual"
    for (amount,) in rows("round_amount", AMOUNT):
        assert amount % 1000 == 0
    for source, mode in rows("manual_entry", "source_system, data->>'entry_mode'"):
        assert source in ("PAY", "CB") and mode == "manual"
    for (description,) in rows("suspicious_keyword", "data->>'description'"):
        assert re.search(SUSPICIOUS_KEYWORD_PATTERN, description)
    suspense = rows(
        "suspense_posting",
        "(SELECT a.is_suspense FROM legacy.posting_rules r JOIN legacy.accounts a"
        " ON a.company_id = r.company_id AND a.account_code = r.net_account"
        " WHERE r.company_id = t.company_id AND r.txn_type = t.txn_type)",
    )
    assert suspense and all(s for (s,) in suspense)
    parts = rows(
        "split_transaction",
        "g.detail, created_by, data->>'counterparty',"
        f" {GROSS},"
        " (SELECT approval_limit FROM legacy.users WHERE user_id = t.created_by)",
    )
    groups: dict[str, list[tuple]] = {}
    for detail, *rest in parts:
        groups.setdefault(detail.split(" as txns ")[1], []).append(tuple(rest))
    for members in groups.values():
        assert len(members) >= 2 and len({(m[0], m[1]) for m in members}) == 1
        assert all(m[2] < m[3] for m in members) and sum(m[2] for m in members) > members[0][3]


def test_ordinary_rows_do_not_carry_planted_traits(seeded):
    db, _ = seeded
    ordinary = f"""FROM legacy.src_transactions t JOIN legacy.companies c USING (company_id)
                   LEFT JOIN legacy.users u ON u.user_id = t.created_by WHERE {NOT_IN_TRUTH}"""
    assert db.scalar(f"SELECT count(*) {ordinary} AND created_by = approved_by") == 0
    hours = db.rows(f"SELECT DISTINCT extract(hour FROM created_at AT TIME ZONE c.timezone)::int {ordinary}")
    assert {h for (h,) in hours} <= set(range(7, 20))
    assert db.scalar(f"SELECT count(*) {ordinary} AND (created_at AT TIME ZONE c.timezone)::date <> txn_date") == 0
    assert (
        db.scalar(f"SELECT count(*) {ordinary} AND source_system IN ('PAY', 'CB') AND data->>'entry_mode' = 'manual'")
        == 0
    )
    descriptions = [d for (d,) in db.rows(f"SELECT DISTINCT data->>'description' {ordinary}")]
    assert not [d for d in descriptions if re.search(SUSPICIOUS_KEYWORD_PATTERN, d)]
    near_limit = db.scalar(f"""SELECT count(*) {ordinary} AND data->>'entry_mode' = 'manual'
        AND data->>'currency' = c.base_currency AND u.approval_limit > 0
        AND {GROSS}
            BETWEEN 0.9 * u.approval_limit AND u.approval_limit - 0.01""")
    assert near_limit == 0


def test_ordinary_amounts_follow_benford_and_the_fabricated_ones_do_not(seeded):
    db, _ = seeded

    def first_digit_mad(where: str) -> tuple[float, int]:
        digits = Counter(
            next(ch for ch in amount if ch in "123456789")
            for (amount,) in db.rows(f"SELECT btrim(data->>'amount') FROM legacy.src_transactions t WHERE {where}")
        )
        total = sum(digits.values())
        return sum(abs(digits[str(d)] / total - math.log10(1 + 1 / d)) for d in range(1, 10)) / 9, total

    mad, count = first_digit_mad(NOT_IN_TRUTH)
    assert count > 2900 and mad < 0.012
    fabricated, count = first_digit_mad(
        "EXISTS (SELECT 1 FROM eval.ground_truth g WHERE g.txn_id = t.txn_id AND g.kind = 'benford_fabrication')"
    )
    assert count >= 5 and fabricated > 0.04


# --- determinism and seeding again ---------------------------------------------------------------------


def test_the_same_arguments_give_byte_identical_rows_and_another_seed_does_not(db, seeded, server_url):
    first, _ = seeded
    seed_database(db.admin_url, **ARGS)
    assert table_hashes(db) == table_hashes(first)
    other = clone_database(server_url, TEMPLATE, prefix="seed_other")
    try:
        seed_database(other.admin_url, **{**ARGS, "seed": 7})
        different = table_hashes(other)
    finally:
        drop_database(server_url, other.name)
    assert different["legacy.src_transactions"] != table_hashes(first)["legacy.src_transactions"]
    assert different["legacy.companies"] == table_hashes(first)["legacy.companies"]


def test_seeding_adjacent_days_continues_and_overlapping_days_are_refused(db):
    small = {"companies": 2, "txns_per_day": 100, "seed": 42}
    first = seed_database(db.admin_url, start=dt.date(2024, 5, 6), days=3, **small)
    fx_before = db.scalar("SELECT count(*) FROM legacy.fx_rates")
    second = seed_database(db.admin_url, start=dt.date(2024, 5, 9), days=2, **small)
    assert second.reference_created is False and second.first_txn_id == first.last_txn_id + 1 == 601
    assert db.rows("SELECT min(txn_date), max(txn_date), count(*), max(txn_id) FROM legacy.src_transactions") == [
        (dt.date(2024, 5, 6), dt.date(2024, 5, 10), 1000, 1000)
    ]
    # rates for the overlapping lead days were kept, the new days added
    assert db.scalar("SELECT count(*) FROM legacy.fx_rates") == fx_before + second.fx_rates_added
    assert second.fx_rates_added == 2 * 2 * 14  # Thursday and Friday, two bases, 14 currencies each
    assert db.scalar("SELECT count(*) FROM eval.seed_runs") == 2
    # an earlier gap can be filled too, later ids continue after the largest one
    third = seed_database(db.admin_url, start=dt.date(2024, 5, 1), days=2, **small)
    assert third.first_txn_id == 1001

    before = table_hashes(db)
    refusals = [
        ({"start": dt.date(2024, 5, 10), "days": 2, **small}, r"overlap days already seeded"),
        (
            {"start": dt.date(2024, 5, 20), "days": 1, **{**small, "companies": 3}},
            r"seeded with --seed 42 --companies 2",
        ),
        ({"start": dt.date(2024, 5, 20), "days": 1, **{**small, "seed": 1}}, r"seeded with --seed 42 --companies 2"),
    ]
    for args, message in refusals:
        with pytest.raises(ValueError, match=message):
            seed_database(db.admin_url, **args)
    limit = db.scalar("SELECT approval_limit FROM legacy.users WHERE user_id = 'u010'")
    with db.connect() as conn:
        conn.execute("UPDATE legacy.users SET approval_limit = 1 WHERE user_id = 'u010'")
    with pytest.raises(ValueError, match=r"reference data in the database differs"):
        seed_database(db.admin_url, start=dt.date(2024, 5, 20), days=1, **small)
    with db.connect() as conn:
        conn.execute("UPDATE legacy.users SET approval_limit = %s WHERE user_id = 'u010'", (limit,))
    assert table_hashes(db) == before  # nothing was written by the refused runs


def test_foreign_data_and_bad_arguments_are_refused(db):
    with db.connect() as conn:
        conn.execute("INSERT INTO legacy.companies VALUES (1, 'Someone else', 'EUR', 'Europe/Paris')")
    with pytest.raises(ValueError, match=r"did not write"):
        seed_database(db.admin_url, start=START, days=1, companies=1, txns_per_day=10)
    with pytest.raises(ValueError, match=r"between 1 and 20"):
        seed_database(db.admin_url, start=START, days=1, companies=21, txns_per_day=10)
    assert db.scalar("SELECT count(*) FROM legacy.src_transactions") == 0


def test_the_command_line_seeds_and_reports_refusals_in_one_line(db, capsys):
    assert main(["seed", "--start", "2024-07-01", "--days", "2", "--companies", "1", "--txns-per-day", "50"]) == 0
    out, err = capsys.readouterr()
    assert "seeded 100 transactions" in out and re.search(r"2024-07-02: \d+ transactions loaded", err)
    assert main(["seed", "--start", "2024-07-02", "--days", "1", "--companies", "1", "--txns-per-day", "50"]) == 1
    _, err = capsys.readouterr()
    assert err.strip().splitlines()[-1].startswith("journal-pipeline seed: days 2024-07-02..2024-07-02 overlap")


# --- pure parts -------------------------------------------------------------------------------------------


def test_holiday_calendar():
    assert easter_sunday(2024) == dt.date(2024, 3, 31) and easter_sunday(2025) == dt.date(2025, 4, 20)
    assert country_for_timezone("Europe/London") == "GB" and country_for_timezone("Asia/Tokyo") == "JP"
    gb_2022 = public_holidays("GB", 2022)
    assert gb_2022[dt.date(2022, 1, 3)] == "New Year's Day (substitute day)"
    assert dt.date(2022, 12, 27) in gb_2022 and dt.date(2022, 12, 26) in gb_2022  # Christmas on a Sunday
    assert public_holidays("US", 2024)[dt.date(2024, 11, 28)] == "Thanksgiving Day"
    assert holidays_between("US", dt.date(2021, 12, 31), dt.date(2021, 12, 31))  # 1 Jan 2022 was a Saturday
    assert public_holidays("JP", 2024)[dt.date(2024, 3, 20)] == "Vernal Equinox Day"
    assert public_holidays("SE", 2024)[dt.date(2024, 6, 21)] == "Midsummer Eve"
    assert public_holidays("CA", 2024)[dt.date(2024, 5, 20)] == "Victoria Day"
    assert is_public_holiday("DE", dt.date(2024, 5, 9)) and not is_public_holiday("US", dt.date(2024, 3, 29))
    with pytest.raises(ValueError, match="no holiday calendar for time zone"):
        country_for_timezone("Mars/Olympus_Mons")


def test_money_and_escaping_are_exact():
    assert money(123456789) == "1,234,567.89" and money(-5) == "-0.05" and money(250000, 0) == "2,500"
    assert money(100, grouped=False) == "1.00"
    # JSON escapes first, then COPY text format doubles every backslash
    assert copy_json_string('Café "Le Zinc"\tback\\slash') == 'Café \\\\"Le Zinc\\\\"\\\\tback\\\\\\\\slash'
    counts = _apportion(1000, np.array([1.0, 1.8, 0.25, 0.25, 1.2]))
    assert counts.sum() == 1000 and list(counts) == [222, 400, 56, 55, 267]
