"""Fingerprints of the ledger tables: a hash of every row, sorted, per table."""

from __future__ import annotations

LEDGER_TABLES = {
    "ledger.journal_lines": "journal_date, txn_id, line_no",
    "ledger.vouchers": "journal_date, company_id, journal_no",
    "ledger.gl_daily": "journal_date, company_id, account_code",
    "ledger.quarantine": "journal_date, txn_id",
    "ledger.gl_balances": "company_id, account_code, period",
}


def ledger_fingerprint(db, tables: dict[str, str] = LEDGER_TABLES) -> dict[str, tuple[int, str]]:
    """(row count, md5 of all rows in key order) per table."""
    out = {}
    for table, order in tables.items():
        out[table] = db.rows(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY {order}), '')) FROM {table} t"
        )[0]
    return out
