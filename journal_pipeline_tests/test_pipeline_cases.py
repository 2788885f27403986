"""The pipeline on the hand-made case book (cases.py): every figure as worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest

from journal_pipeline.runner import materialize_window
from journal_pipeline_tests import cases

REFERENCE_WARNING = ("reference_data_consistent", dg.AssetCheckSeverity.WARN)


@pytest.fixture
def posted_cases(db, instance):
    with db.connect() as conn:
        cases.load_cases(conn)
    result = materialize_window(cases.DAY, cases.DAY, instance=instance)
    assert result.success
    return result


def test_every_line_amount_and_account_is_as_worked_out_by_hand(db, posted_cases):
    lines = db.rows(
        "SELECT txn_id, line_no, account_code, dc, amount_base, amount_txn FROM ledger.journal_lines"
        " WHERE journal_date = %s",
        (cases.DAY,),
    )
    assert {(t, n): (a, dc, base, txn) for t, n, a, dc, base, txn in lines} == cases.POSTED_LINES


def test_every_invalid_transaction_is_quarantined_with_its_reason_and_raw_row(db, posted_cases):
    rows = db.rows("SELECT txn_id, reason, detail, raw FROM ledger.quarantine WHERE journal_date = %s", (cases.DAY,))
    assert {txn_id: reason for txn_id, reason, _, _ in rows} == cases.QUARANTINED
    details = {txn_id: detail for txn_id, _, detail, _ in rows}
    assert details[104] == "fx_rates has no USD->GBP rate within 7 days before 2024-07-18 (txn 104)"
    assert details[113] == ("net account 6000 of the OLD_EXPENSE rule of company 1 is inactive (txn 113)")
    assert details[114] == 'amount "0.004" GBP at rate 1.00 is 0.00 GBP, below 0.01 (txn 114)'
    assert details[124] == 'tax_amount "NaN" is not a plain decimal number (txn 124)'
    raw = {txn_id: raw for txn_id, _, _, raw in rows}
    assert raw[108]["data"]["amount"] == "12,50"
    assert raw[108]["txn_id"] == 108 and raw[108]["txn_type"] == "SALES_INVOICE"
    assert raw[122]["data"] is None


def test_gl_vouchers_and_the_next_day_are_exact(db, posted_cases):
    gl = db.rows("SELECT company_id, account_code, period, debit, credit FROM ledger.gl_balances")
    assert {(c, a, p): (d, cr) for c, a, p, d, cr in gl} == cases.GL
    vouchers = db.rows(
        "SELECT txn_id, line_count, total_debit, total_credit, journal_no FROM ledger.vouchers ORDER BY txn_id"
    )
    assert [(t, n, d) for t, n, d, _, _ in vouchers] == [
        (101, 3, Decimal("1200.00")), (102, 3, Decimal("102.01")), (103, 2, Decimal("125.00")),
        (116, 2, Decimal("632.52")), (117, 2, Decimal("1000.00")), (118, 3, Decimal("12.96")),
        (119, 2, Decimal("10.01")),
    ]  # fmt: skip
    assert all(d == c for _, _, d, c, _ in vouchers)
    # journal numbers count each company's vouchers of the day in txn_id order
    assert [no for *_, no in vouchers] == [1, 2, 3, 4, 1, 2, 5]
    assert db.scalar("SELECT count(*) FROM ledger.journal_lines WHERE journal_date = %s", (cases.NEXT_DAY,)) == 0


def test_checks_pass_and_metadata_says_what_happened(posted_cases):
    evaluations = posted_cases.get_asset_check_evaluations()
    # the one that does not pass is the report of the case book's GHOST rule, whose net account is
    # missing from the chart (a warning: txn 112 is quarantined as unknown_account, as the spec says)
    assert evaluations and all(e.passed or (e.check_name, e.severity) == REFERENCE_WARNING for e in evaluations)
    assert {e.check_name for e in evaluations} >= {
        "source_schema", "journal_lines_schema", "quarantine_schema", "every_transaction_accounted_for",
        "vouchers_schema", "every_voucher_balances", "gl_schema", "gl_equals_sum_of_lines",
        "posted_plus_quarantined_equals_extracted",
    }  # fmt: skip
    materializations = {
        m.asset_key.to_user_string(): m.metadata for m in posted_cases.asset_materializations_for_node("journal_lines")
    }
    metadata = materializations["journal_lines"]
    assert metadata["posted_transactions"].value == 7
    assert metadata["quarantined_transactions"].value == 16
    assert metadata["quarantined_by_reason"].value["no_rate"] == 2
