"""The pipeline seals what it posts: verify passes, tampering is named, reruns supersede, events chain."""

from __future__ import annotations

from journal_pipeline.cli import main
from journal_pipeline.runner import materialize_window
from journal_pipeline_tests import cases


def test_sealed_days_verify_and_a_tampered_line_is_named_with_its_day(db, instance, capsys):
    with db.connect() as conn:
        cases.load_cases(conn)
    result = materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance)
    assert result.success
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "seal_matches_ledger"]
    assert check.passed

    seals = db.rows("SELECT partition_date, line_count, total_debit, supersedes_seq FROM audit.seals ORDER BY seal_seq")
    assert [(str(day), n, str(debit), s) for day, n, debit, s in seals] == [
        ("2024-07-18", 17, "3082.50", None),  # debits: 1842.53 + 125.00 + 17.00 + 85.01 + 1012.96 (cases.GL)
        ("2024-07-19", 3, "60.00", None),
    ]
    assert main(["audit", "verify"]) == 0
    capsys.readouterr()

    with db.connect() as conn:
        conn.execute("UPDATE ledger.journal_lines SET amount_base = 85.02 WHERE txn_id = 102 AND line_no = 1")
    assert main(["audit", "verify", "--date", str(cases.DAY)]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "2024-07-18" in text and "102" in text


def test_a_rerun_appends_a_superseding_seal_and_every_step_is_in_the_event_log(db, instance):
    with db.connect() as conn:
        cases.load_cases(conn)
    assert materialize_window(cases.DAY, cases.DAY, instance=instance).success
    assert materialize_window(cases.DAY, cases.DAY, instance=instance).success
    seals = db.rows("SELECT seal_seq, supersedes_seq, merkle_root FROM audit.seals ORDER BY seal_seq")
    assert [(seq, sup) for seq, sup, _ in seals] == [(1, None), (2, 1)]
    assert seals[0][2] == seals[1][2]  # same ledger rows, same root
    steps = db.rows(
        "SELECT event_type, count(*) FROM audit.events WHERE partition_date = %s GROUP BY 1 ORDER BY 1", (cases.DAY,)
    )
    assert dict(steps) == {
        "gl_postings_materialized": 2,
        "journal_lines_materialized": 2,
        "partition_sealed": 2,
        "source_transactions_materialized": 2,
        "vouchers_materialized": 2,
    }
    payload = db.scalar(
        "SELECT payload FROM audit.events WHERE event_type = 'gl_postings_materialized' ORDER BY event_seq LIMIT 1"
    )
    assert payload["lines"] == 17 and payload["posted"] == 7 and payload["quarantined"] == 16
    assert payload["total_debit"] == payload["total_credit"] == "3082.50"
    assert main(["audit", "verify"]) == 0
