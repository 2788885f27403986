"""Rerunning any partition, any number of times, in any order, leaves exactly the same rows."""

from __future__ import annotations

from journal_pipeline.runner import materialize_window
from journal_pipeline_tests import cases
from journal_pipeline_tests.ledger_state import ledger_fingerprint


def test_reruns_and_out_of_order_runs_leave_identical_ledger_tables(db, instance):
    with db.connect() as conn:
        cases.load_cases(conn)
    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success  # one ranged run
    reference = ledger_fingerprint(db)
    assert reference["ledger.journal_lines"][0] == len(cases.POSTED_LINES) + 3  # + the 3 lines of NEXT_DAY

    for day in (cases.NEXT_DAY, cases.DAY, cases.DAY, cases.NEXT_DAY, cases.DAY, cases.NEXT_DAY):
        assert materialize_window(day, day, instance=instance).success
        assert ledger_fingerprint(db) == reference, f"after rerunning {day}"
    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    assert ledger_fingerprint(db) == reference


def test_a_rerun_replaces_exactly_its_own_day(db, instance):
    with db.connect() as conn:
        cases.load_cases(conn)
    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    next_day_before = db.rows("SELECT * FROM ledger.journal_lines WHERE journal_date = %s ORDER BY 1, 6, 5",
                              (cases.NEXT_DAY,))  # fmt: skip
    # the source changes for DAY only: one invoice is corrected from 1000.00 to 1500.00
    with db.connect() as conn:
        conn.execute(
            "UPDATE legacy.src_transactions SET data = jsonb_set(data, '{amount}', '\"1500.00\"') WHERE txn_id = 101"
        )
    assert materialize_window(cases.DAY, cases.DAY, instance=instance).success
    assert db.scalar("SELECT amount_base FROM ledger.journal_lines WHERE txn_id = 101 AND line_no = 3") == 1700
    assert db.rows("SELECT * FROM ledger.journal_lines WHERE journal_date = %s ORDER BY 1, 6, 5",
                   (cases.NEXT_DAY,)) == next_day_before  # fmt: skip
    # GL for the period moved by exactly the correction, 500.00 on each side
    assert (
        db.scalar("SELECT sum(debit) FROM ledger.gl_balances WHERE company_id = 1")
        == sum(d for (c, _, _), (d, _) in cases.GL.items() if c == 1) + 500 + 60
    )  # + NEXT_DAY's 60.00 invoice
