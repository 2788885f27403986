"""Closed accounting periods: a day whose period is closed is never reposted.

Finance closes a period by adding a row to ``ledger.closed_periods`` (sql/migrations/0010_reliability.sql)
as the admin role, for one company or, with ``company_id`` NULL, for all of them::

    INSERT INTO ledger.closed_periods (period, company_id, note) VALUES (2024007, NULL, 'July close');

and reopens it by deleting the row. The pipeline's role can only read the table.

Posting replaces whole days (every company of the day, in one transaction), so a day is refused
when its period is closed for every company or for any company that has rows on that day, in the
ledger now or in what is about to be posted. :func:`refuse_closed_periods` runs inside the
posting transaction after the day locks are taken (closing a period takes the same locks, so a
close and a posting of its days never interleave) and before anything is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import psycopg

_CLOSED_FOR_WINDOW: Final = """
WITH days AS (
    SELECT d::date AS day FROM generate_series(%(first_day)s::date, %(last_day)s::date, interval '1 day') AS d
), companies AS (
    SELECT company_id FROM unnest(%(posting_companies)s::integer[]) AS company_id
    UNION SELECT company_id FROM ledger.vouchers WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
    UNION SELECT company_id FROM ledger.quarantine
          WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s AND company_id IS NOT NULL
)
SELECT DISTINCT c.period, c.company_id, c.closed_at, c.closed_by, c.note
FROM ledger.closed_periods c
JOIN days ON c.period = extract(year FROM days.day)::int * 1000 + extract(month FROM days.day)::int
WHERE c.company_id IS NULL OR c.company_id IN (SELECT company_id FROM companies)
ORDER BY c.period, c.company_id NULLS FIRST
"""

_CLOSED_DAYS: Final = """
SELECT d::date AS day, c.period, c.company_id
FROM generate_series(%(first_day)s::date, %(last_day)s::date, interval '1 day') AS d
JOIN ledger.closed_periods c
  ON c.period = extract(year FROM d)::int * 1000 + extract(month FROM d)::int
ORDER BY 1, 3 NULLS FIRST
"""


class ClosedPeriodError(RuntimeError):
    """A posting would change a closed period; nothing was written."""


def refuse_closed_periods(
    conn: psycopg.Connection, first_day: dt.date, last_day: dt.date, posting_companies: list[int]
) -> None:
    """Raise ClosedPeriodError, naming the period, company and who closed it, when any day of
    first_day..last_day lies in a period closed for every company or for a company that has rows
    on those days (``posting_companies``: the companies of the rows about to be posted)."""
    rows = conn.execute(
        _CLOSED_FOR_WINDOW,
        {"first_day": first_day, "last_day": last_day, "posting_companies": sorted(set(posting_companies))},
    ).fetchall()
    if not rows:
        return
    closed = []
    for period, company_id, closed_at, closed_by, note in rows:
        whom = "every company" if company_id is None else f"company {company_id}"
        when = closed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        closed.append(
            f"period {period} is closed for {whom} (closed {when} by {closed_by}{': ' + note if note else ''})"
        )
    window = f"{first_day}..{last_day}" if first_day != last_day else str(first_day)
    raise ClosedPeriodError(
        f"refusing to post {window}: {'; '.join(closed)}. Nothing was written. To repost, reopen the period "
        "(delete its row from ledger.closed_periods as the admin role) and run the day again"
    )


def closed_days(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date) -> dict[dt.date, str]:
    """The days of first_day..last_day that lie in a period with any closed_periods row, each with
    a short description (for the late-data sensor, which does not request runs for them)."""
    described: dict[dt.date, list[str]] = {}
    for day, period, company_id in conn.execute(_CLOSED_DAYS, {"first_day": first_day, "last_day": last_day}):
        whom = "all companies" if company_id is None else f"company {company_id}"
        described.setdefault(day, []).append(f"period {period} closed for {whom}")
    return {day: ", ".join(parts) for day, parts in described.items()}
