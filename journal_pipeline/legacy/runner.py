"""Run the legacy PL/pgSQL posting function, ``legacy.fn_insert_sun_journal``, as its nightly job did.

The function (sql/migrations/0003_legacy_function.sql) posts one company-day. The runner calls it
for every day of a range and every company, each call in its own transaction, committed at once,
as the nightly job did. The function's only record of a row it cannot post is a NOTICE,
``txn <id> skipped (<reason_code>): <detail>``, so the runner listens for those notices and
counts the skipped rows by reason code: the figures ``journal-pipeline parity`` and the
benchmark compare with the pipeline's quarantine.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg

from journal_pipeline.db.connection import connect

_CALL = "SELECT legacy.fn_insert_sun_journal(%s, %s)"
_COMPANIES = "SELECT company_id FROM legacy.companies ORDER BY company_id"
_SKIPPED_NOTICE = re.compile(r"^txn (?P<txn_id>\d+) skipped \((?P<reason>[a-z_]+)\): ")


@dataclass(frozen=True)
class CompanyDayResult:
    """What one call of the legacy function did for one (day, company)."""

    posted: int
    skipped: dict[int, str]  # txn_id -> reason code, read from the function's NOTICEs

    @property
    def skipped_by_reason(self) -> Counter[str]:
        return Counter(self.skipped.values())


def legacy_function_call(conn: psycopg.Connection, day: dt.date, company_id: int) -> CompanyDayResult:
    """Call the legacy function once, in ``conn``'s current transaction; the caller commits.

    Notices are delivered while the statement runs, so the handler is attached only for this
    call. Any other notice (there are none today) is ignored rather than miscounted.
    """
    skipped: dict[int, str] = {}

    def on_notice(diagnostic: psycopg.errors.Diagnostic) -> None:
        match = _SKIPPED_NOTICE.match(diagnostic.message_primary or "")
        if match:
            skipped[int(match["txn_id"])] = match["reason"]

    conn.add_notice_handler(on_notice)
    try:
        row = conn.execute(_CALL, (day, company_id)).fetchone()
    finally:
        conn.remove_notice_handler(on_notice)
    posted = int(row[0]) if row and row[0] is not None else 0
    return CompanyDayResult(posted=posted, skipped=skipped)


@dataclass(frozen=True)
class LegacySummary:
    """What a run of the legacy function over a range of days and companies did, and how fast."""

    days: int
    companies: int
    posted: int
    skipped_by_reason: dict[str, int]
    seconds: float

    @property
    def company_days(self) -> int:
        return self.days * self.companies

    @property
    def skipped(self) -> int:
        return sum(self.skipped_by_reason.values())

    @property
    def company_days_per_second(self) -> float:
        return self.company_days / self.seconds if self.seconds > 0 else float("inf")

    def __str__(self) -> str:
        lines = [
            f"legacy fn_insert_sun_journal: {self.days} day(s) x {self.companies} company(ies)"
            f" = {self.company_days} company-day(s)",
            f"posted:   {self.posted:,} transactions",
            f"skipped:  {self.skipped:,} transactions (reported only as NOTICEs: the data is not kept)",
        ]
        width = max((len(reason) for reason in self.skipped_by_reason), default=0)
        for reason, count in sorted(self.skipped_by_reason.items(), key=lambda item: (-item[1], item[0])):
            lines.append(f"  {reason:<{width}}  {count:,}")
        lines.append(f"duration: {self.seconds:.2f} s ({self.company_days_per_second:,.2f} company-days/s)")
        return "\n".join(lines)


def _days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def run_legacy(
    url: str,
    *,
    start: dt.date,
    end: dt.date,
    company_id: int | None,
    progress: Callable[[str], None] | None = None,
) -> LegacySummary:
    """Run the legacy function for every day in [start, end] and every company (or just one).

    Every company in ``legacy.companies`` when ``company_id`` is None; a named company is used
    as given, so a company that is not in ``legacy.companies`` has each of its rows skipped as
    ``unknown_company``, which is what the legacy function itself does.
    """
    if end < start:
        raise ValueError(f"the legacy run ends ({end}) before it starts ({start})")
    started = time.perf_counter()
    posted = 0
    skipped: Counter[str] = Counter()
    with connect(url, application_name="journal-pipeline legacy") as conn:
        # The skipped rows are reported only as NOTICEs: make sure the server sends them.
        conn.execute("SET client_min_messages = notice")
        conn.commit()
        if company_id is None:
            companies = [row[0] for row in conn.execute(_COMPANIES).fetchall()]
            conn.commit()
            if not companies:
                raise RuntimeError(
                    "legacy.companies is empty: there is nothing to post (fill it first, e.g. journal-pipeline seed)"
                )
        else:
            companies = [company_id]
        days = 0
        for day in _days(start, end):
            day_started = time.perf_counter()
            day_posted = 0
            day_skipped = 0
            for company in companies:
                try:
                    result = legacy_function_call(conn, day, company)
                    conn.commit()
                except psycopg.Error as exc:
                    conn.rollback()
                    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    raise RuntimeError(
                        f"legacy.fn_insert_sun_journal({day}, {company}) failed and was rolled back: {first_line}"
                    ) from exc
                day_posted += result.posted
                day_skipped += len(result.skipped)
                skipped.update(result.skipped_by_reason)
            days += 1
            posted += day_posted
            if progress:
                progress(
                    f"legacy {day}: {len(companies)} company(ies), {day_posted:,} posted,"
                    f" {day_skipped:,} skipped, {time.perf_counter() - day_started:.2f} s"
                )
    return LegacySummary(
        days=days,
        companies=len(companies),
        posted=posted,
        skipped_by_reason=dict(sorted(skipped.items())),
        seconds=time.perf_counter() - started,
    )
