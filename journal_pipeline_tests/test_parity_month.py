"""On a seeded month the pipeline and the legacy function agree to the cent, and parity
names a one-cent change in a legacy row."""

from __future__ import annotations

from decimal import Decimal

from journal_pipeline.cli import main


def test_the_pipeline_and_the_legacy_function_agree_on_a_seeded_month(month, capsys):
    db = month.database
    assert db.scalar("SELECT count(*) FROM legacy.src_transactions") >= 5 * 2000 * 31 * 0.9
    lines = db.scalar("SELECT count(*) FROM ledger.journal_lines")
    assert lines == db.scalar("SELECT count(*) FROM legacy.sun_journal") > 600_000

    assert main(["parity", "--start", str(month.first_day), "--end", str(month.last_day)]) == 0
    assert "identical: every line, voucher and GL balance agrees to the cent" in capsys.readouterr().out

    txn_id, line_no, amount = db.rows(
        "SELECT txn_id, line_no, amount_base FROM legacy.sun_journal WHERE journal_date = '2024-07-15'"
        " ORDER BY txn_id, line_no LIMIT 1"
    )[0]
    try:
        db.rows("UPDATE legacy.sun_journal SET amount_base = amount_base + 0.01 WHERE txn_id = %s AND line_no = %s"
                " RETURNING 1", (txn_id, line_no))  # fmt: skip
        assert main(["parity", "--start", str(month.first_day), "--end", str(month.last_day)]) == 1
        out = capsys.readouterr().out
        assert f"txn {txn_id} line {line_no}: amount_base {amount} vs {amount + Decimal('0.01')}" in out
        assert "1 line, 0 voucher and 0 GL difference(s):" in out
    finally:
        db.rows("UPDATE legacy.sun_journal SET amount_base = amount_base - 0.01 WHERE txn_id = %s AND line_no = %s"
                " RETURNING 1", (txn_id, line_no))  # fmt: skip
    assert main(["parity", "--start", str(month.first_day), "--end", str(month.last_day)]) == 0


def test_every_partition_of_the_month_is_accounted_for(month):
    db = month.database
    per_day = db.rows(
        """
        SELECT s.txn_date, count(*) AS extracted,
               (SELECT count(*) FROM ledger.vouchers v WHERE v.journal_date = s.txn_date) AS posted,
               (SELECT count(*) FROM ledger.quarantine q WHERE q.journal_date = s.txn_date) AS quarantined
        FROM legacy.src_transactions s GROUP BY s.txn_date ORDER BY s.txn_date
        """
    )
    assert len(per_day) == 31
    assert all(extracted == posted + quarantined for _, extracted, posted, quarantined in per_day)
    # every voucher balances and the GL is the sum of the lines, over the whole month
    assert db.scalar("SELECT count(*) FROM ledger.vouchers WHERE total_debit <> total_credit") == 0
    assert (
        db.scalar(
            """
        SELECT count(*) FROM ledger.gl_balances g FULL JOIN (
            SELECT company_id, account_code, period, sum(amount_base) FILTER (WHERE dc = 'D') AS d,
                   sum(amount_base) FILTER (WHERE dc = 'C') AS c
            FROM ledger.journal_lines GROUP BY 1, 2, 3) l USING (company_id, account_code, period)
        WHERE coalesce(g.debit, 0) <> coalesce(l.d, 0) OR coalesce(g.credit, 0) <> coalesce(l.c, 0)
        """
        )
        == 0
    )
