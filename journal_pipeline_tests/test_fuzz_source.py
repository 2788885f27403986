"""Malformed source rows, generated: the pipeline never fails on a row.

Hypothesis writes batches of ``legacy.src_transactions`` rows with every kind of bad input: keys
missing or duplicated, wrong JSON types (for ``data`` itself too), amount strings such as "1e309",
"NaN", "Infinity", "-0", "12,50", " 12.50 ", huge and tiny decimals and too many decimal places,
lower-case and non-ISO currencies, any Unicode and control character in the text fields, NULL
columns, unknown companies and transaction types, and dates on other days, before the first
partition, in the far future or NULL. Each batch lands on a day of its own and is extracted and
posted exactly as the assets do it; every row must then be posted with the lines, or quarantined
with the reason, that an independent Decimal implementation of docs/posting-semantics.md
(posting_oracle.py) gives, and posted + quarantined = extracted for the day.

Then every generated day goes through the real Dagster job, all six steps, in a few backfill
runs: every run succeeds, every check passes, the ledger is again what the oracle says, rows of
other dates are in their own partitions, rows no partition extracts (NULL or pre-2020 txn_date)
are counted by ``every_source_row_in_a_partition``, and ``audit verify`` passes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import dagster as dg
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from journal_pipeline.cli import main
from journal_pipeline.db import connect
from journal_pipeline.defs.checks import REASON_CODES
from journal_pipeline.domain.gl import gl_daily
from journal_pipeline.domain.posting import post
from journal_pipeline.domain.vouchers import build_vouchers
from journal_pipeline.ledger import post_days
from journal_pipeline.runner import materialize_window, run_partitions
from journal_pipeline.source import read_source
from journal_pipeline_tests import cases
from journal_pipeline_tests.posting_oracle import Outcome, expected_outcomes

FIRST_DAY = dt.date(2024, 3, 1)
BATCHES = 26
DRAWN_ROWS_PER_BATCH = (66, 72)  # Hypothesis cannot draw many more rows this rich in one example
# Each drawn row is also posted under these (company, txn_type): base GBP with a tax account,
# base GBP without one, base USD, a rule whose account is missing, a rule whose account is inactive.
RULE_VARIANTS = [(1, "SALES_INVOICE"), (1, "SUPPLIER_PAYMENT"), (2, "SALES_INVOICE"), (1, "GHOST"), (1, "OLD_EXPENSE")]
MIN_ROWS = 10_000
# Dates that are not the batch's day: the first partition, before it, far in the future.
FIRST_PARTITION, BEFORE_PARTITIONS, FAR_FUTURE = dt.date(2020, 1, 1), dt.date(2019, 12, 31), dt.date(2099, 12, 31)

# --- what a row can hold ---------------------------------------------------------------------------

# JSON texts of amounts: valid, edge and malformed, as a source might write them.
AMOUNT_JSON = [
    "12.5", "100", "1e2", "1E+2", "0.005", "0.01", "7", "999999.99", "1234567.891", "42.424242",
    "0", "-0", "-5", "0.004", "1e309", "1e-19", "0.000000000000000001", "1.0000000000000000001",
    "99999999999999999999", "100000000000000000000", "1e15", "9999999999999999.99", "1e16",
    "123456789012345678.123456789012345678", "1e-400", "5e-3",
    '"12.50"', '" 12.50 "', '"\\t7\\n"', '"1e309"', '"NaN"', '"nan"', '"Infinity"', '"-Infinity"', '"-0"',
    '"12,50"', '""', '" "', '"1_000"', '"0x10"', '"\\uff11\\uff12"', '"12.5.1"', '"+5"', '".5"', '"5."',
    '"1e"', '"e5"', '"1E+2"', '"\\u00a012"', '"1e-19"', '"1.0000000000000000001"', '"12.50 EUR"', '"\\u20ac12"',
    '"\\u000b12\\u000c"', '"0e999999999"', '"1e999999999"', '"00012.500"',
    "true", "false", "[]", "{}", "[1]", '{"value": 1}', "null",
]  # fmt: skip
CURRENCY_JSON = [
    '"GBP"', '"GBP"', '"GBP"', '"EUR"', '"EUR"', '"USD"', '"USD"', '"JPY"', '"CHF"', '"XYZ"',
    '"gbp"', '"GB"', '"GBPX"', '" GBP"', '"GBP\\n"', '"\\u20acUR"', '"\\u00c9UR"', '"G\\u0042P"', "826", "null", "true",
    '["GBP"]', "",
]  # fmt: skip
NASTY_TEXT = [
    "", " ", "ACME Ltd", "a,b;c|d", 'quo"te', "back\\slash", "line\nbreak", "cr\rlf\r\n", "tab\there",
    "\x01\x02\x1f\x7f", "\u202eRTL override", "emoji \U0001f600", "zero\u200bwidth", "NULL", "\\N", "null",
    "Ω≈ç√∫", "日本語", "a" * 300, "'; DROP TABLE ledger.journal_lines; --",
]  # fmt: skip
TEXT_KEYS = ("description", "cost_center", "counterparty", "document_ref", "entry_mode")
TXN_TYPES = [
    "SALES_INVOICE", "SALES_INVOICE", "SALES_INVOICE", "PURCHASE_INVOICE", "PURCHASE_INVOICE", "SUPPLIER_PAYMENT",
    "OLD_EXPENSE", "GHOST", "XX", None, "sales_invoice", "SALES_INVOICE ", "\uff33ALES_INVOICE",
]  # fmt: skip
COMPANIES = [1, 1, 1, 1, 2, 2, 9, None]
RATE_PAIRS = [("EUR", "GBP"), ("USD", "GBP"), ("JPY", "GBP"), ("CHF", "GBP"), ("XYZ", "GBP"), ("EUR", "USD")]
RATES = ["0.85", "1.08", "0.00512345", "0", "0.00000001", "99999.99999999", "1", "1.23456789"]

# Unicode text that PostgreSQL can store: anything but NUL (and lone surrogates, which st.text omits).
# Each batch draws a pool of such strings once and its rows pick from it (with NASTY_TEXT): drawing
# fresh text for every field of every row would cap a batch at a few dozen rows.
any_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), min_size=1, max_size=16)
text_pools = st.lists(any_text, min_size=24, max_size=24)


def json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


# numbers and decimal strings of every scale up to and past the 18 places numeric(38,18) holds
decimals = st.integers(0, 22).flatmap(lambda places: st.decimals(-(10**22), 10**22, places=places))


def amount_json(texts: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(AMOUNT_JSON),
        decimals.map(str),
        decimals.map(lambda value: json_string(f" {value}\t")),
        st.sampled_from(texts).map(json_string),
    )


def text_json(texts: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NASTY_TEXT + texts).map(json_string),
        st.sampled_from(["42", "null", "true", "[]", '{"k": "v"}']),
    )


@st.composite
def data_json(draw: Callable[..., Any], texts: list[str]) -> str | None:
    """``src_transactions.data``: NULL, a JSON value that is not an object, or an object built from
    key/value pairs that may be missing, duplicated, mis-cased, of the wrong type or malformed."""
    shape = draw(st.sampled_from(["object"] * 12 + ["sql_null", "not_object"]))
    if shape == "sql_null":
        return None
    if shape == "not_object":
        return draw(st.sampled_from(["[]", '"text"', "42", "null", '[{"amount": 10}]']))
    pairs = []
    if draw(st.sampled_from([True] * 9 + [False])):
        pairs.append(("amount", draw(amount_json(texts))))
    if draw(st.booleans()):
        pairs.append(("tax_amount", draw(amount_json(texts))))
    currency = draw(st.one_of(st.sampled_from(CURRENCY_JSON), st.sampled_from(texts).map(json_string)))
    if currency:
        pairs.append(("currency", currency))
    for key in TEXT_KEYS:
        if draw(st.sampled_from([True, True, False])):
            pairs.append((key, draw(text_json(texts))))
    extra = draw(st.sampled_from([None, None, "dup_amount", "Amount", "unknown"]))
    if extra == "dup_amount":
        pairs.append(("amount", draw(amount_json(texts))))  # jsonb keeps the last one
    elif extra == "Amount":
        pairs.append(("Amount", draw(amount_json(texts))))  # keys are case-sensitive: not the amount
    elif extra == "unknown":
        pairs.append((draw(st.sampled_from(texts)), draw(text_json(texts))))
    if draw(st.booleans()):
        pairs.reverse()  # key order does not matter to jsonb
    return "{" + ", ".join(f"{json_string(key)}: {value}" for key, value in pairs) + "}"


@st.composite
def source_row(draw: Callable[..., Any], day: dt.date, texts: list[str]) -> tuple:
    """One row of legacy.src_transactions, without its txn_id."""
    when = draw(st.sampled_from(["day"] * 18 + ["next_day", "first_partition", "before_partitions", "future", "null"]))
    txn_date = {
        "day": day,
        "next_day": day + dt.timedelta(days=1),
        "first_partition": FIRST_PARTITION,
        "before_partitions": BEFORE_PARTITIONS,
        "future": FAR_FUTURE,
        "null": None,
    }[when]
    optional_text = st.one_of(st.none(), st.sampled_from(NASTY_TEXT + texts))
    return (  # in the column order of legacy.src_transactions, after txn_id
        draw(st.sampled_from(COMPANIES)),
        txn_date,
        draw(st.sampled_from([f"{day} 09:30:00+00", f"{day} 23:59:59.999999+05:30", None])),
        draw(optional_text),
        draw(st.sampled_from(TXN_TYPES)),
        draw(st.sampled_from(["u001", "u002", None, "\u00fcser"])),
        draw(optional_text),
        draw(data_json(texts)),
    )


@st.composite
def fx_rates(draw: Callable[..., Any], day: dt.date) -> list[tuple]:
    """Some rates of the day's week: zero and tiny ones too, some older than the 7-day look-back."""
    rows = []
    for currency, base in RATE_PAIRS:
        for offset in draw(st.sets(st.integers(0, 9), max_size=2)):
            rows.append((day - dt.timedelta(days=offset), currency, base, Decimal(draw(st.sampled_from(RATES)))))
    return rows


# --- checking what was posted against the oracle ---------------------------------------------------


def ledger_outcomes(conn: Any, first_day: dt.date, last_day: dt.date) -> dict[int, Outcome]:
    """What the ledger holds for the days, in the oracle's terms."""
    found: dict[int, Outcome] = {}
    for txn_id, reason in conn.execute(
        "SELECT txn_id, reason FROM ledger.quarantine WHERE journal_date BETWEEN %s AND %s", (first_day, last_day)
    ):
        found[txn_id] = Outcome(txn_id, reason=reason)
    for txn_id, line_no, account, dc, base, amount, *texts in conn.execute(
        "SELECT txn_id, line_no, account_code, dc, amount_base, amount_txn, description, cost_center, counterparty, "
        "document_ref FROM ledger.journal_lines WHERE journal_date BETWEEN %s AND %s",
        (first_day, last_day),
    ):
        assert txn_id not in found or found[txn_id].reason is None, f"txn {txn_id} both posted and quarantined"
        outcome = found.setdefault(txn_id, Outcome(txn_id))
        outcome.lines[line_no] = (account, dc, base, amount)
        outcome.texts = dict(zip(("description", "cost_center", "counterparty", "document_ref"), texts, strict=True))
    return found


def assert_ledger_matches_oracle(conn: Any, first_day: dt.date, last_day: dt.date) -> int:
    """Every source row of the days is in the ledger once, as the oracle says; returns how many."""
    expected = expected_outcomes(conn, first_day, last_day)
    found = ledger_outcomes(conn, first_day, last_day)
    assert found.keys() == expected.keys(), (
        f"posted + quarantined != extracted: missing {sorted(expected.keys() - found.keys())[:10]}, "
        f"extra {sorted(found.keys() - expected.keys())[:10]}"
    )

    def source(txn_id: int) -> tuple:  # for the messages: only read when an assertion fails
        return conn.execute("SELECT * FROM legacy.src_transactions WHERE txn_id = %s", (txn_id,)).fetchone()

    for txn_id, want in expected.items():
        got = found[txn_id]
        assert got.reason == want.reason, f"txn {txn_id}: {got.reason} instead of {want.reason}: {source(txn_id)}"
        assert got.lines == want.lines, f"txn {txn_id}: lines {got.lines} instead of {want.lines}: {source(txn_id)}"
        for key, text in want.texts.items():
            assert got.texts[key] == text, f"txn {txn_id}: {key} {got.texts[key]!r} instead of {text!r}"
    unfaithful = conn.execute(
        "SELECT q.txn_id FROM ledger.quarantine q JOIN legacy.src_transactions s USING (txn_id) "
        "WHERE q.journal_date BETWEEN %s AND %s AND (q.raw -> 'data' IS DISTINCT FROM coalesce(s.data, 'null'::jsonb) "
        "OR (q.raw ->> 'txn_id')::bigint <> s.txn_id OR q.detail NOT LIKE '%%(txn ' || s.txn_id || ')')",
        (first_day, last_day),
    ).fetchall()
    assert unfaithful == [], f"quarantine rows that do not keep their raw row: {unfaithful[:10]}"
    return len(expected)


def post_day_as_the_assets_do(pipeline_url: str, day: dt.date) -> None:
    """extract -> journal_lines -> vouchers -> gl_postings for one day, the assets' own functions."""
    with connect(pipeline_url) as conn:
        frames = read_source(conn, day, day)
    result = post(*(frames[name] for name in ("transactions", "companies", "accounts", "posting_rules", "fx_rates")))
    ledger = {
        "journal_lines": result.lines,
        "vouchers": build_vouchers(result.lines),
        "gl_daily": gl_daily(result.lines),
        "quarantine": result.quarantine,
    }
    with connect(pipeline_url) as conn:
        post_days(conn, day, day, ledger)
        conn.commit()


# --- the tests -------------------------------------------------------------------------------------


def test_generated_bad_rows_are_each_posted_or_quarantined_as_the_spec_says(db, instance, capsys):
    with db.connect() as conn:
        conn.cursor().executemany("INSERT INTO legacy.companies VALUES (%s, %s, %s, %s)", cases.COMPANIES)
        conn.cursor().executemany("INSERT INTO legacy.accounts VALUES (%s, %s, %s, %s, %s, %s)", cases.ACCOUNTS)
        conn.cursor().executemany("INSERT INTO legacy.posting_rules VALUES (%s, %s, %s, %s, %s, %s, %s)", cases.RULES)
        conn.cursor().executemany("INSERT INTO legacy.users VALUES (%s, %s, %s)", cases.USERS)
    txn_ids = itertools.count(1)
    days = iter(FIRST_DAY + dt.timedelta(days=n) for n in itertools.count())
    generated: list[int] = []

    @settings(
        max_examples=BATCHES,
        deadline=None,
        database=None,
        # No shrinking: a batch costs a database round trip, and a failure already names the row.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(st.data())
    def a_batch_is_posted_as_the_oracle_says(data: st.DataObject) -> None:
        day = next(days)  # a day of its own, even while Hypothesis shrinks a failure
        rates = data.draw(fx_rates(day), label="fx_rates")
        texts = data.draw(text_pools, label="texts")
        drawn = data.draw(
            st.lists(source_row(day, texts), min_size=DRAWN_ROWS_PER_BATCH[0], max_size=DRAWN_ROWS_PER_BATCH[1]),
            label="rows",
        )
        rows = [
            variant
            for row in drawn
            for variant in [
                row,
                *((company, row[1], row[2], row[3], txn_type, *row[5:]) for company, txn_type in RULE_VARIANTS),
            ]
        ]
        with db.connect() as conn:
            conn.cursor().executemany(
                "INSERT INTO legacy.fx_rates VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", rates
            )
            with conn.cursor().copy("COPY legacy.src_transactions FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((next(txn_ids), *row))
        post_day_as_the_assets_do(db.pipeline_url, day)
        with db.connect() as conn:
            assert_ledger_matches_oracle(conn, day, day)
        generated.append(len(rows))

    a_batch_is_posted_as_the_oracle_says()
    assert sum(generated) >= MIN_ROWS, f"only {sum(generated)} rows generated"
    last_day = FIRST_DAY + dt.timedelta(days=len(generated) - 1)
    # the seed data has no rows before the fuzz days, so every row is one of the generated
    total = db.scalar("SELECT count(*) FROM legacy.src_transactions")
    assert total >= MIN_ROWS

    # the whole job, all six steps, over every generated day (a backfill: 7 days per run)
    summary = run_partitions(FIRST_DAY, last_day + dt.timedelta(days=1), instance=instance)
    assert summary.runs
    with db.connect() as conn:
        assert_ledger_matches_oracle(conn, FIRST_DAY, last_day + dt.timedelta(days=1))
    first_partition = materialize_window(FIRST_PARTITION, FIRST_PARTITION, instance=instance)
    assert first_partition.success
    with db.connect() as conn:
        assert assert_ledger_matches_oracle(conn, FIRST_PARTITION, FIRST_PARTITION) > 0

    evaluations = [
        event.asset_check_evaluation
        for run in instance.get_runs()
        for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    # Nothing fails but the two reports: the case book's GHOST rule (its rows are quarantined as
    # unknown_account) and the rows that no partition extracts, counted exactly.
    assert {e.check_name for e in evaluations if not e.passed} == {
        "reference_data_consistent",
        "every_source_row_in_a_partition",
    }
    null_dated, pre_2020, future = db.rows(
        "SELECT count(*) FILTER (WHERE txn_date IS NULL), count(*) FILTER (WHERE txn_date < %s), "
        "count(*) FILTER (WHERE txn_date = %s) FROM legacy.src_transactions",
        (FIRST_PARTITION, FAR_FUTURE),
    )[0]
    assert null_dated > 0 and pre_2020 > 0 and future > 0
    for e in evaluations:
        if e.check_name == "every_source_row_in_a_partition":
            assert (e.metadata["null_txn_date"].value, e.metadata["before_partitions_start"].value) == (
                null_dated,
                pre_2020,
            )
    # every row is in the partition of its txn_date, and only there
    in_ledger = db.rows("SELECT txn_id FROM ledger.vouchers UNION ALL SELECT txn_id FROM ledger.quarantine")
    dated = db.rows(
        "SELECT txn_id FROM legacy.src_transactions WHERE txn_date BETWEEN %s AND %s OR txn_date = %s",
        (FIRST_DAY, last_day + dt.timedelta(days=1), FIRST_PARTITION),
    )
    assert sorted(in_ledger) == sorted(dated)
    # and the batches reached every rule: each reason, and posting, happened
    reasons = dict(db.rows("SELECT reason, count(*) FROM ledger.quarantine GROUP BY reason"))
    assert set(reasons) == set(REASON_CODES), reasons
    assert db.scalar("SELECT count(*) FROM ledger.vouchers") > 100, reasons
    assert main(["audit", "verify"]) == 0, capsys.readouterr()
