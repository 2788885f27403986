"""Invariant 3, posted + quarantined = extracted: in Polars, and on what the posting wrote
(ledger.posted_days against the extracted ids, the ids read back only to name a difference)."""

from __future__ import annotations

import polars as pl
import pytest

from journal_pipeline.db import connect
from journal_pipeline.domain.invariants import unaccounted_transactions
from journal_pipeline.ledger import txn_ids_digest, unaccounted_in_database
from journal_pipeline.runner import materialize_window
from journal_pipeline_tests import cases


def ids(*values: int) -> pl.Series:
    return pl.Series("txn_id", values, dtype=pl.Int64)


@pytest.mark.parametrize(
    ("extracted", "posted", "quarantined", "expected"),
    [
        ((1, 2, 3), (1, 1, 2), (3,), []),  # a posted txn has two or three lines: its id repeats
        ((1, 2, 3), (1,), (3,), [(2, "neither posted nor quarantined")]),
        ((1, 2), (1, 2), (2,), [(2, "counted twice: posted+quarantined")]),
        ((1, 2), (1,), (2, 2), [(2, "counted twice: quarantined+quarantined")]),
        ((1,), (1, 9), (), [(9, "not extracted")]),
        # the same multiset of ids, but one extracted twice and accounted for once in each way
        ((1, 1), (1,), (1,), [(1, "counted twice: posted+quarantined")] * 2),
    ],
)
def test_unaccounted_transactions_names_each_problem(extracted, posted, quarantined, expected):
    problems = unaccounted_transactions(ids(*extracted), ids(*posted), ids(*quarantined))
    assert problems.rows() == expected
    assert problems.schema == {"txn_id": pl.Int64(), "problem": pl.String()}


def test_the_digest_is_the_one_postgresql_records(db):
    for values in ((), (7,), (30, 4, 100000000001)):
        expected = db.scalar(
            "SELECT coalesce(md5(string_agg(x::text, ',' ORDER BY x)), md5('')) FROM unnest(%s::bigint[]) x",
            (list(values),),
        )
        assert txn_ids_digest(ids(*values)) == expected


@pytest.fixture
def posted_day(db, instance):
    with db.connect() as conn:
        cases.load_cases(conn)
    assert materialize_window(cases.DAY, cases.DAY, instance=instance).success
    extracted = pl.DataFrame(
        db.rows("SELECT txn_id, txn_date FROM legacy.src_transactions WHERE txn_date = %s", (cases.DAY,)),
        schema={"txn_id": pl.Int64(), "txn_date": pl.Date()},
        orient="row",
    )
    assert extracted.height == 23  # 7 posted + 16 quarantined
    return extracted


def test_what_the_posting_wrote_accounts_for_every_extracted_transaction(db, posted_day):
    with connect(db.admin_url) as conn:
        assert unaccounted_in_database(conn, cases.DAY, cases.DAY, posted_day).height == 0


def test_a_difference_from_what_was_written_is_named(db, posted_day):
    posted_txn = db.scalar("SELECT min(txn_id) FROM ledger.vouchers WHERE journal_date = %s", (cases.DAY,))
    extra = pl.DataFrame({"txn_id": [999_999], "txn_date": [cases.DAY]})
    with connect(db.admin_url) as conn:
        missing = posted_day.filter(pl.col("txn_id") != posted_txn)
        assert unaccounted_in_database(conn, cases.DAY, cases.DAY, missing).rows() == [(posted_txn, "not extracted")]
        more = pl.concat([posted_day, extra])
        assert unaccounted_in_database(conn, cases.DAY, cases.DAY, more).rows() == [
            (999_999, "neither posted nor quarantined")
        ]
        # a day extracted but never posted (no ledger.posted_days row)
        later = pl.DataFrame({"txn_id": [5], "txn_date": [cases.NEXT_DAY]})
        problems = unaccounted_in_database(conn, cases.DAY, cases.NEXT_DAY, pl.concat([posted_day, later]))
        assert problems.rows() == [(5, "neither posted nor quarantined")]


def test_vouchers_and_scores_are_day_partitions_swapped_in_whole(db, posted_day, instance):
    partitions = (
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass"
    )
    for table in ("journal_lines", "vouchers", "fraud_scores"):
        assert sorted(r[0] for r in db.rows(partitions, (f"ledger.{table}",))) == [
            f"{table}_20240718",
            f"{table}_default",
        ]
    indexes = "SELECT indexname FROM pg_indexes WHERE schemaname = 'ledger' AND tablename = %s ORDER BY 1"
    assert [r[0] for r in db.rows(indexes, ("vouchers_20240718",))] == [
        "vouchers_20240718_journal_date_txn_id_key",
        "vouchers_20240718_pkey",
    ]
    assert [r[0] for r in db.rows(indexes, ("fraud_scores_20240718",))] == [
        "fraud_scores_20240718_pkey",
        "fraud_scores_20240718_risk_idx",
    ]
    before = db.rows("SELECT * FROM ledger.vouchers ORDER BY txn_id")
    scores = db.rows("SELECT * FROM ledger.fraud_scores ORDER BY txn_id")
    again = materialize_window(cases.DAY, cases.DAY, instance=instance)
    assert again.success
    assert db.rows("SELECT * FROM ledger.vouchers ORDER BY txn_id") == before
    assert db.rows("SELECT * FROM ledger.fraud_scores ORDER BY txn_id") == scores
    [posting] = again.asset_materializations_for_node("gl_postings")
    assert posting.metadata["replaced_rows"].value["vouchers"] == 7
    # no table of a day's swap is left behind
    assert db.scalar("SELECT count(*) FROM pg_class WHERE relname LIKE '%%\\_new'") == 0
