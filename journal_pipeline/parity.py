"""Parity: what the pipeline posted against what the legacy function posted, to the cent.

Three comparisons, each a FULL JOIN in PostgreSQL that names every difference:

- journal lines per (txn_id, line_no) for the days: account, side, base and transaction
  amounts, currency, rate, journal type, period, company and day;
- vouchers per txn_id: line count and totals;
- the GL per (company, account, period) for every period the days touch (both GLs hold every
  day each side has posted, so run both over the same days).

A transaction one side posted and the other did not is a difference too (for example a row the
pipeline quarantines under a rule the legacy function lacks).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import psycopg

LINES_QUERY = """
WITH pipeline AS (
    SELECT txn_id, line_no, company_id, journal_date, journal_type, account_code, period, dc,
           amount_base, amount_txn, currency::text AS currency, fx_rate
    FROM ledger.journal_lines WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
), legacy AS (
    SELECT txn_id, line_no, company_id, journal_date, journal_type, account_code, period, dc::text AS dc,
           amount_base, (data ->> 'amount_txn')::numeric AS amount_txn, data ->> 'currency' AS currency,
           (data ->> 'fx_rate')::numeric AS fx_rate
    FROM legacy.sun_journal WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
)
SELECT coalesce(p.txn_id, l.txn_id) AS txn_id, coalesce(p.line_no, l.line_no) AS line_no,
       concat_ws(', ',
         CASE WHEN p.txn_id IS NULL THEN 'only the legacy function posted this line' END,
         CASE WHEN l.txn_id IS NULL THEN 'only the pipeline posted this line' END,
         CASE WHEN p.account_code <> l.account_code
              THEN format('account %%s vs %%s', p.account_code, l.account_code) END,
         CASE WHEN p.dc <> l.dc THEN format('side %%s vs %%s', p.dc, l.dc) END,
         CASE WHEN p.amount_base <> l.amount_base
              THEN format('amount_base %%s vs %%s', p.amount_base, l.amount_base) END,
         CASE WHEN p.amount_txn <> l.amount_txn THEN format('amount_txn %%s vs %%s', p.amount_txn, l.amount_txn) END,
         CASE WHEN p.currency <> l.currency THEN format('currency %%s vs %%s', p.currency, l.currency) END,
         CASE WHEN p.fx_rate <> l.fx_rate THEN format('fx_rate %%s vs %%s', p.fx_rate, l.fx_rate) END,
         CASE WHEN p.journal_type <> l.journal_type
              THEN format('journal_type %%s vs %%s', p.journal_type, l.journal_type) END,
         CASE WHEN p.period <> l.period THEN format('period %%s vs %%s', p.period, l.period) END,
         CASE WHEN p.company_id <> l.company_id THEN format('company %%s vs %%s', p.company_id, l.company_id) END,
         CASE WHEN p.journal_date <> l.journal_date THEN format('day %%s vs %%s', p.journal_date, l.journal_date) END
       ) AS difference
FROM pipeline p FULL JOIN legacy l USING (txn_id, line_no)
WHERE p.txn_id IS NULL OR l.txn_id IS NULL
   OR (p.account_code, p.dc, p.amount_base, p.amount_txn, p.currency, p.fx_rate, p.journal_type, p.period,
       p.company_id, p.journal_date)
      IS DISTINCT FROM
      (l.account_code, l.dc, l.amount_base, l.amount_txn, l.currency, l.fx_rate, l.journal_type, l.period,
       l.company_id, l.journal_date)
ORDER BY 1, 2
"""

VOUCHERS_QUERY = """
WITH pipeline AS (
    SELECT txn_id, line_count, total_debit, total_credit FROM ledger.vouchers
    WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
), legacy AS (
    SELECT txn_id, line_count, total_debit, total_credit FROM legacy.vouchers
    WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
)
SELECT coalesce(p.txn_id, l.txn_id) AS txn_id,
       CASE WHEN p.txn_id IS NULL THEN 'only the legacy function has this voucher'
            WHEN l.txn_id IS NULL THEN 'only the pipeline has this voucher'
            ELSE format('line_count %%s vs %%s, debit %%s vs %%s, credit %%s vs %%s', p.line_count, l.line_count,
                        p.total_debit, l.total_debit, p.total_credit, l.total_credit) END AS difference
FROM pipeline p FULL JOIN legacy l USING (txn_id)
WHERE (p.line_count, p.total_debit, p.total_credit) IS DISTINCT FROM (l.line_count, l.total_debit, l.total_credit)
ORDER BY 1
"""

GL_QUERY = """
WITH periods AS (
    SELECT DISTINCT (extract(year FROM d) * 1000 + extract(month FROM d))::int AS period
    FROM generate_series(%(first_day)s::date, %(last_day)s::date, interval '1 day') AS d
), pipeline AS (
    SELECT company_id, account_code, period, debit, credit FROM ledger.gl_balances JOIN periods USING (period)
), legacy AS (
    SELECT company_id, account_code, period, debit, credit FROM legacy.gl_entries JOIN periods USING (period)
)
SELECT company_id, account_code, period,
       format('debit %%s vs %%s, credit %%s vs %%s', coalesce(p.debit, 0), coalesce(l.debit, 0),
              coalesce(p.credit, 0), coalesce(l.credit, 0)) AS difference
FROM pipeline p FULL JOIN legacy l USING (company_id, account_code, period)
WHERE coalesce(p.debit, 0) <> coalesce(l.debit, 0) OR coalesce(p.credit, 0) <> coalesce(l.credit, 0)
ORDER BY 1, 2, 3
"""

COUNTS_QUERY = """
SELECT (SELECT count(*) FROM ledger.journal_lines WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s),
       (SELECT count(*) FROM legacy.sun_journal WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s),
       (SELECT coalesce(sum(amount_base), 0) FROM ledger.journal_lines
         WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s AND dc = 'D'),
       (SELECT coalesce(sum(amount_base), 0) FROM legacy.sun_journal
         WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s AND dc = 'D')
"""


@dataclass
class ParityReport:
    first_day: dt.date
    last_day: dt.date
    pipeline_lines: int = 0
    legacy_lines: int = 0
    pipeline_debit: object = 0
    legacy_debit: object = 0
    line_differences: list[tuple] = field(default_factory=list)
    voucher_differences: list[tuple] = field(default_factory=list)
    gl_differences: list[tuple] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not (self.line_differences or self.voucher_differences or self.gl_differences)

    def describe(self, limit: int = 50) -> str:
        head = (
            f"parity {self.first_day}..{self.last_day}: pipeline {self.pipeline_lines} lines, debit "
            f"{self.pipeline_debit}; legacy {self.legacy_lines} lines, debit {self.legacy_debit}"
        )
        if self.equal:
            return head + "\nidentical: every line, voucher and GL balance agrees to the cent"
        out = [
            head,
            f"{len(self.line_differences)} line, {len(self.voucher_differences)} voucher and "
            f"{len(self.gl_differences)} GL difference(s):",
        ]
        out += [f"  txn {t} line {n}: {d}" for t, n, d in self.line_differences[:limit]]
        out += [f"  voucher of txn {t}: {d}" for t, d in self.voucher_differences[:limit]]
        out += [f"  GL company {c} account {a} period {p}: {d}" for c, a, p, d in self.gl_differences[:limit]]
        hidden = sum(max(0, len(x) - limit) for x in (self.line_differences, self.voucher_differences,
                                                       self.gl_differences))  # fmt: skip
        if hidden:
            out.append(f"  ... and {hidden} more")
        return "\n".join(out)


def compare(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date) -> ParityReport:
    """Every difference between the pipeline's and the legacy function's postings for the days."""
    window = {"first_day": first_day, "last_day": last_day}
    report = ParityReport(first_day, last_day)
    counts = conn.execute(COUNTS_QUERY, window).fetchone()
    assert counts is not None
    report.pipeline_lines, report.legacy_lines, report.pipeline_debit, report.legacy_debit = counts
    report.line_differences = conn.execute(LINES_QUERY, window).fetchall()
    report.voucher_differences = conn.execute(VOUCHERS_QUERY, window).fetchall()
    report.gl_differences = conn.execute(GL_QUERY, window).fetchall()
    return report
