"""The legacy function and the pipeline agree on every hand-made case; parity names a one-cent change."""

from __future__ import annotations

from journal_pipeline.cli import main
from journal_pipeline.legacy.runner import run_legacy
from journal_pipeline.runner import materialize_window
from journal_pipeline_tests import cases


def test_parity_holds_on_the_case_book_and_names_a_one_cent_difference(db, instance, capsys):
    with db.connect() as conn:
        cases.load_cases(conn)
    assert materialize_window(cases.DAY, cases.NEXT_DAY, instance=instance).success
    run_legacy(db.admin_url, start=cases.DAY, end=cases.NEXT_DAY, company_id=None)

    assert main(["parity", "--start", str(cases.DAY), "--end", str(cases.NEXT_DAY)]) == 0
    assert "identical" in capsys.readouterr().out

    with db.connect() as conn:
        conn.execute(
            "UPDATE legacy.sun_journal SET amount_base = amount_base + 0.01 WHERE txn_id = 102 AND line_no = 1"
        )
    assert main(["parity", "--start", str(cases.DAY)]) == 1
    out = capsys.readouterr().out
    assert "txn 102 line 1: amount_base 85.01 vs 85.02" in out
    # only the line was changed: the legacy voucher and GL rows still agree with the pipeline's
    assert "1 line, 0 voucher and 0 GL difference(s):" in out
