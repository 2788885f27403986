"""Naming the lines of a day that changed since it was sealed: pure, no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl

from journal_pipeline.audit.diff import localise_changes
from journal_pipeline.audit.encoding import in_leaf_order
from journal_pipeline.audit.leaves import digest_day, unpack_identities
from journal_pipeline_tests.test_audit_encoding import LINE

DAY = dt.date(2024, 7, 18)


def sealed_and_now(sealed_lines: list[dict[str, object]], now_lines: list[dict[str, object]]) -> list[tuple]:
    sealed, now = digest_day(pl.DataFrame(sealed_lines)), digest_day(pl.DataFrame(now_lines))
    findings = localise_changes(
        unpack_identities(sealed.identities),
        sealed.leaves,
        in_leaf_order(pl.DataFrame(now_lines)),  # the digest's leaf order
        now.leaves,
        partition_date=DAY,
        seal_seq=7,
    )
    return [(f.kind, f.txn_id, f.line_no, f.leaf_index) for f in findings]


def voucher(txn_id: int) -> list[dict[str, object]]:
    return [
        {**LINE, "txn_id": txn_id, "line_no": 1, "account_code": "6000", "amount_base": Decimal("100.00")},
        {**LINE, "txn_id": txn_id, "line_no": 2, "account_code": "2200", "amount_base": Decimal("20.00")},
        {**LINE, "txn_id": txn_id, "line_no": 3, "account_code": "4000", "dc": "C", "amount_base": Decimal("120.00")},
    ]


def test_an_unchanged_day_has_no_findings():
    lines = voucher(1) + voucher(2)
    assert sealed_and_now(lines, list(reversed(lines))) == []


def test_edited_deleted_and_inserted_lines_are_named_in_leaf_order():
    sealed = voucher(1) + voucher(2)
    now = voucher(1) + voucher(2)
    now[1] = {**now[1], "description": "Rent July (corrected)"}
    del now[5]
    now.append({**LINE, "txn_id": 3, "line_no": 1})
    assert sealed_and_now(sealed, now) == [
        ("line_edited", 1, 2, 1),
        ("line_deleted", 2, 3, 5),
        ("line_inserted", 3, 1, None),
    ]


def test_a_renumbered_line_is_named_as_moved_not_as_deleted_and_inserted():
    sealed = voucher(1)
    now = [*voucher(1)[:2], {**voucher(1)[2], "line_no": 4}]
    assert sealed_and_now(sealed, now) == [("line_moved", 1, 4, 2)]


def test_swapped_line_numbers_are_two_moves():
    sealed = voucher(1)
    now = [{**sealed[0], "line_no": 2}, {**sealed[1], "line_no": 1}, sealed[2]]
    assert sealed_and_now(sealed, now) == [("line_moved", 1, 1, 1), ("line_moved", 1, 2, 0)]


def test_a_line_moved_to_another_transaction_is_named():
    sealed = voucher(1) + voucher(2)
    now = voucher(1)[:2] + voucher(2) + [{**voucher(1)[2], "txn_id": 5}]
    assert sealed_and_now(sealed, now) == [("line_moved", 5, 3, 2)]
