"""Is the ledger still a faithful image of the source? The SQL that answers it, in one place.

Two questions, both read-only and cheap enough to ask on every run or sensor tick:

- :func:`rows_outside_every_partition`: source rows that no partition will ever extract, because
  a partition is a ``txn_date`` and theirs is NULL or before the first partition. They are not
  lost silently: the extract's check ``every_source_row_in_a_partition`` counts them on every run.
- :func:`day_states`: per day, the source now (transactions and an md5 of their sorted txn_ids)
  against what was posted (``ledger.vouchers`` + ``ledger.quarantine``, the same md5), against
  what the posting recorded (``ledger.posted_days``) and against the day's latest seal. The
  late-data sensor (journal_pipeline/defs/late_data.py) turns the differences into runs.

The md5 of ``string_agg(txn_id::text, ',' ORDER BY txn_id)`` is computed the same way on both
sides, so equal sets give equal checksums; an empty day is ``md5('')``. It sees transactions that
arrive, disappear or move to another day; an in-place edit of a source row that keeps its txn_id
and txn_date is not a late arrival and is not seen here (rerun the day to repost it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import psycopg

MAX_LISTED_IDS: Final = 20

_OUTSIDE_EVERY_PARTITION: Final = """
SELECT count(*) FILTER (WHERE txn_date IS NULL) AS null_txn_date,
       count(*) FILTER (WHERE txn_date < %(start)s) AS before_start,
       (array_agg(txn_id ORDER BY txn_id) FILTER (WHERE txn_date IS NULL))[1:%(listed)s] AS null_ids,
       (array_agg(txn_id ORDER BY txn_id) FILTER (WHERE txn_date < %(start)s))[1:%(listed)s] AS before_ids
FROM legacy.src_transactions
WHERE txn_date IS NULL OR txn_date < %(start)s
"""

_DAY_STATES: Final = """
WITH source AS (
    SELECT txn_date AS day, count(*) AS transactions, md5(string_agg(txn_id::text, ',' ORDER BY txn_id)) AS ids_md5
    FROM legacy.src_transactions WHERE txn_date BETWEEN %(first_day)s AND %(last_day)s
    GROUP BY txn_date
), posted AS (
    SELECT day, count(*) AS transactions, md5(string_agg(txn_id::text, ',' ORDER BY txn_id)) AS ids_md5
    FROM (SELECT journal_date AS day, txn_id FROM ledger.vouchers
          WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
          UNION ALL
          SELECT journal_date, txn_id FROM ledger.quarantine
          WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
    ) accounted
    GROUP BY day
), latest_seal AS (
    SELECT DISTINCT ON (partition_date) partition_date AS day, seal_seq, line_count, total_debit, total_credit, run_id
    FROM audit.seals WHERE partition_date BETWEEN %(first_day)s AND %(last_day)s
    ORDER BY partition_date, seal_seq DESC
), days AS (
    SELECT day FROM latest_seal
    UNION SELECT journal_date FROM ledger.posted_days WHERE journal_date BETWEEN %(first_day)s AND %(last_day)s
)
SELECT days.day,
       coalesce(source.transactions, 0), coalesce(source.ids_md5, md5('')),
       coalesce(posted.transactions, 0), coalesce(posted.ids_md5, md5('')),
       latest_seal.seal_seq, latest_seal.line_count, latest_seal.total_debit, latest_seal.total_credit,
       latest_seal.run_id,
       pd.line_count, pd.total_debit, pd.total_credit
FROM days
LEFT JOIN source ON source.day = days.day
LEFT JOIN posted ON posted.day = days.day
LEFT JOIN latest_seal ON latest_seal.day = days.day
LEFT JOIN ledger.posted_days pd ON pd.journal_date = days.day
ORDER BY days.day
"""


@dataclass(frozen=True)
class OutsideEveryPartition:
    """Source rows no partition extracts, with the first few txn_ids of each kind."""

    null_txn_date: int
    before_start: int
    null_ids: list[int]
    before_ids: list[int]

    @property
    def total(self) -> int:
        return self.null_txn_date + self.before_start


def rows_outside_every_partition(conn: psycopg.Connection, partitions_start: dt.date) -> OutsideEveryPartition:
    """Source rows whose txn_date is NULL or before ``partitions_start`` (the first partition)."""
    row = conn.execute(_OUTSIDE_EVERY_PARTITION, {"start": partitions_start, "listed": MAX_LISTED_IDS}).fetchone()
    assert row is not None  # an aggregate always returns one row
    return OutsideEveryPartition(row[0], row[1], row[2] or [], row[3] or [])


@dataclass(frozen=True)
class DayState:
    """One sealed or posted day: the source now, the ledger now, the posting's record, the seal."""

    day: dt.date
    source_transactions: int
    source_md5: str
    posted_transactions: int
    posted_md5: str
    seal_seq: int | None
    sealed_lines: int | None
    sealed_debit: Decimal | None
    sealed_credit: Decimal | None
    sealed_by_run: str | None
    recorded_lines: int | None  # ledger.posted_days, written with the posting
    recorded_debit: Decimal | None
    recorded_credit: Decimal | None

    @property
    def late_data(self) -> bool:
        """Sealed, and the source no longer has exactly the transactions that were posted."""
        return self.seal_seq is not None and (
            self.source_transactions != self.posted_transactions or self.source_md5 != self.posted_md5
        )

    @property
    def posted_after_its_seal(self) -> bool:
        """The last posting (ledger.posted_days) is not what the latest seal covers, or the day was
        posted and never sealed: a run stopped between posting and sealing."""
        if self.recorded_lines is None:
            return False  # posted before ledger.posted_days existed: nothing to compare
        return (self.sealed_lines, self.sealed_debit, self.sealed_credit) != (
            self.recorded_lines,
            self.recorded_debit,
            self.recorded_credit,
        )

    def describe(self) -> str:
        if self.late_data:
            return (
                f"{self.day}: the source has {self.source_transactions} transaction(s) (txn_ids md5 "
                f"{self.source_md5[:12]}) but {self.posted_transactions} were posted or quarantined (md5 "
                f"{self.posted_md5[:12]}) before seal {self.seal_seq}"
            )
        if self.seal_seq is None:
            return f"{self.day}: posted ({self.recorded_lines} lines) but never sealed"
        return (
            f"{self.day}: posted {self.recorded_lines} line(s), debit {self.recorded_debit}, but its latest seal "
            f"{self.seal_seq} covers {self.sealed_lines} line(s), debit {self.sealed_debit}: not resealed after posting"
        )


def day_states(conn: psycopg.Connection, first_day: dt.date, last_day: dt.date) -> list[DayState]:
    """Every day of first_day..last_day that was sealed or posted, in date order."""
    rows = conn.execute(_DAY_STATES, {"first_day": first_day, "last_day": last_day}).fetchall()
    return [DayState(*row) for row in rows]
