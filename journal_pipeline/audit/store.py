"""Reading the ledger and the audit tables: the rows, the SQL, the snapshot. psycopg 3.

Everything that sealing, verifying and proving read from PostgreSQL goes through here, so each
query is written once. The tables are created by sql/migrations/0007_audit.sql.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import select
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import polars as pl
import psycopg
from psycopg import pq

from journal_pipeline.audit.chain import GENESIS_HASH, EventFields, SealFields
from journal_pipeline.audit.encoding import ENCODING_VERSION, FIELD_NAMES, JOURNAL_LINE_FIELDS
from journal_pipeline.audit.leaves import IDENTITY_SIZE, DayDigest, DayDigester, identities_sha256
from journal_pipeline.audit.merkle import HASH_SIZE, root_of_concatenated

# int.from_bytes(b"JP_AUDIT"): the same key as in sql/migrations/0007_audit.sql.
AUDIT_CHAIN_LOCK: Final = 0x4A505F4155444954
SEALED_EVENT: Final = "partition_sealed"


class AuditError(RuntimeError):
    """The audit trail cannot be read or written as asked; the message says why and what to do."""


# --- rows ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seal(SealFields):
    """One row of ``audit.seals``."""

    seal_hash: bytes

    def to_dict(self) -> dict[str, object]:
        return {
            "seal_seq": self.seal_seq,
            "partition_date": self.partition_date.isoformat(),
            "line_count": self.line_count,
            "total_debit": str(self.total_debit),
            "total_credit": str(self.total_credit),
            "merkle_root": self.merkle_root.hex(),
            "seal_hash": self.seal_hash.hex(),
            "prev_seal_hash": self.prev_seal_hash.hex(),
            "sealed_at": self.sealed_at.astimezone(dt.UTC).isoformat(),
            "supersedes_seq": self.supersedes_seq,
            "run_id": self.run_id,
            "code_version": self.code_version,
            "encoding_version": self.encoding_version,
        }


@dataclass(frozen=True)
class Event(EventFields):
    """One row of ``audit.events`` (``payload_text`` is ``payload::text``)."""

    event_hash: bytes

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.payload_text)


_SEALS: Final = """
SELECT seal_seq, partition_date, line_count, total_debit, total_credit, merkle_root, leaf_identities_sha256,
    encoding_version, prev_seal_hash, sealed_at, run_id, code_version, supersedes_seq, seal_hash
FROM audit.seals ORDER BY seal_seq
"""
_SEAL: Final = """
SELECT seal_seq, partition_date, line_count, total_debit, total_credit, merkle_root, leaf_identities_sha256,
    encoding_version, prev_seal_hash, sealed_at, run_id, code_version, supersedes_seq, seal_hash
FROM audit.seals WHERE seal_seq = %s
"""
_LATEST_SEAL_OF_DAY: Final = """
SELECT seal_seq, partition_date, line_count, total_debit, total_credit, merkle_root, leaf_identities_sha256,
    encoding_version, prev_seal_hash, sealed_at, run_id, code_version, supersedes_seq, seal_hash
FROM audit.seals WHERE partition_date = %s ORDER BY seal_seq DESC LIMIT 1
"""
_PREVIOUS_SEAL_OF_DAY: Final = "SELECT max(seal_seq) FROM audit.seals WHERE partition_date = %s AND seal_seq < %s"
_SEAL_HASH: Final = "SELECT seal_hash FROM audit.seals WHERE seal_seq = %s"
_EVENTS: Final = """
SELECT event_seq, event_type, partition_date, payload::text, prev_event_hash, recorded_at, run_id, event_hash
FROM audit.events ORDER BY event_seq
"""
_EVENTS_OF_SEAL: Final = """
SELECT event_seq, event_type, partition_date, payload::text, prev_event_hash, recorded_at, run_id, event_hash
FROM audit.events WHERE partition_date = %s AND event_type = %s AND payload->>'seal_seq' = %s::text
ORDER BY event_seq
"""
_EVENT_HASH: Final = "SELECT event_hash FROM audit.events WHERE event_seq = %s"


def _seal(row: tuple[Any, ...]) -> Seal:
    seq, day, count, debit, credit, root, identities, encoding, prev, sealed_at, run_id, code, supersedes, digest = row
    return Seal(
        seal_seq=seq,
        partition_date=day,
        line_count=count,
        total_debit=debit,
        total_credit=credit,
        merkle_root=bytes(root),
        leaf_identities_sha256=bytes(identities),
        encoding_version=encoding,
        prev_seal_hash=bytes(prev),
        sealed_at=sealed_at,
        run_id=run_id,
        code_version=code,
        supersedes_seq=supersedes,
        seal_hash=bytes(digest),
    )


def _event(row: tuple[Any, ...]) -> Event:
    seq, event_type, day, payload_text, prev, recorded_at, run_id, digest = row
    return Event(
        event_seq=seq,
        event_type=event_type,
        partition_date=day,
        payload_text=payload_text,
        prev_event_hash=bytes(prev),
        recorded_at=recorded_at,
        run_id=run_id,
        event_hash=bytes(digest),
    )


def read_seals(conn: psycopg.Connection) -> list[Seal]:
    """Every seal, in chain order (the leaves are read separately, one seal at a time)."""
    return [_seal(row) for row in conn.execute(_SEALS).fetchall()]


def read_events(conn: psycopg.Connection) -> list[Event]:
    return [_event(row) for row in conn.execute(_EVENTS).fetchall()]


def latest_seal_of_day(conn: psycopg.Connection, day: dt.date) -> Seal | None:
    row = conn.execute(_LATEST_SEAL_OF_DAY, (day,)).fetchone()
    return None if row is None else _seal(row)


def read_seal(conn: psycopg.Connection, seal_seq: int) -> Seal | None:
    row = conn.execute(_SEAL, (seal_seq,)).fetchone()
    return None if row is None else _seal(row)


def previous_seal_of_day(conn: psycopg.Connection, day: dt.date, seal_seq: int) -> int | None:
    """The ``seal_seq`` of the day's latest seal before ``seal_seq``: the one that seal supersedes."""
    row = conn.execute(_PREVIOUS_SEAL_OF_DAY, (day, seal_seq)).fetchone()
    return None if row is None else row[0]


def seal_hash_at(conn: psycopg.Connection, seal_seq: int) -> bytes | None:
    """The hash of seal ``seal_seq`` (the genesis hash for 0), None when there is no such seal."""
    if seal_seq == 0:
        return GENESIS_HASH
    row = conn.execute(_SEAL_HASH, (seal_seq,)).fetchone()
    return None if row is None else bytes(row[0])


def sealed_events_of(conn: psycopg.Connection, seal: Seal) -> list[Event]:
    """The ``partition_sealed`` events that record ``seal`` (there must be exactly one)."""
    rows = conn.execute(_EVENTS_OF_SEAL, (seal.partition_date, SEALED_EVENT, seal.seal_seq)).fetchall()
    return [_event(row) for row in rows]


def event_hash_at(conn: psycopg.Connection, event_seq: int) -> bytes | None:
    """The hash of event ``event_seq`` (the genesis hash for 0), None when there is no such event."""
    if event_seq == 0:
        return GENESIS_HASH
    row = conn.execute(_EVENT_HASH, (event_seq,)).fetchone()
    return None if row is None else bytes(row[0])


def _fetch_binary(conn: psycopg.Connection, query: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """One row, received in binary: a ``bytea`` value arrives as it is, not as hex text twice its size."""
    with conn.cursor(binary=True) as cursor:
        return cursor.execute(query, params).fetchone()


def read_seal_leaves(conn: psycopg.Connection, seal_seq: int) -> tuple[bytes, bytes] | None:
    """``(identities, leaf_hashes)`` of a seal, as stored; None when the row is missing."""
    row = _fetch_binary(conn, "SELECT identities, leaf_hashes FROM audit.seal_leaves WHERE seal_seq = %s", (seal_seq,))
    return None if row is None else (bytes(row[0]), bytes(row[1]))


@dataclass(frozen=True)
class StoredLeavesSummary:
    """What ``audit.seal_leaves`` holds for a seal, without fetching its leaf hashes."""

    leaf_count: int
    leaf_hashes_bytes: int
    identities: bytes


def read_seal_leaves_summary(conn: psycopg.Connection, seal_seq: int) -> StoredLeavesSummary | None:
    row = _fetch_binary(
        conn,
        "SELECT leaf_count, octet_length(leaf_hashes), identities FROM audit.seal_leaves WHERE seal_seq = %s",
        (seal_seq,),
    )
    return None if row is None else StoredLeavesSummary(row[0], row[1], bytes(row[2]))


def stored_leaves_problem(seal: Seal, stored: tuple[bytes, bytes] | None) -> str | None:
    """Why a seal's stored leaves cannot be trusted, or None when they hash to the seal's root."""
    if stored is None:
        return "it has no row in audit.seal_leaves"
    identities, leaf_blob = stored
    if len(leaf_blob) != HASH_SIZE * seal.line_count or len(identities) != IDENTITY_SIZE * seal.line_count:
        return f"audit.seal_leaves holds {len(leaf_blob) // HASH_SIZE} leaf hash(es) for a seal of {seal.line_count}"
    if root_of_concatenated(leaf_blob) != seal.merkle_root:
        return "its stored leaf hashes no longer hash to the sealed root"
    if identities_sha256(identities) != seal.leaf_identities_sha256:
        return "its stored line identities no longer match leaf_identities_sha256"
    return None


@contextmanager
def one_snapshot(conn: psycopg.Connection) -> Iterator[None]:
    """A read-only transaction in which everything read (seals, events, ledger) is of one moment.

    When the caller already has a transaction open, its snapshot rules are kept (a savepoint).
    """
    idle = conn.info.transaction_status == pq.TransactionStatus.IDLE
    with conn.transaction():
        if idle:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


# --- the ledger ------------------------------------------------------------------------------------

# The day's lines as CSV, without a header. journal_date is the day asked for (added back in
# Polars, not sent 300,000 times); NULL-able text goes out as '' plus one bit of null_mask, so
# that NULL and the empty string can never be confused by the CSV round trip. Numerics leave
# PostgreSQL as exact decimal text: numeric(18,2) and numeric(18,8) print in their canonical form
# already, and trim_scale() drops amount_txn's trailing fractional zeros (its scale is not
# content), so the encoding's check finds them canonical and has nothing to rewrite. COPY
# parameters are bound client-side by psycopg, with proper quoting.
_DAY_LINES_COPY: Final = """
COPY (
    SELECT company_id, journal_type, journal_no, line_no, txn_id, account_code, period, dc, amount_base,
           trim_scale(amount_txn) AS amount_txn, currency, fx_rate,
           coalesce(description, '') AS description, coalesce(cost_center, '') AS cost_center,
           coalesce(counterparty, '') AS counterparty, coalesce(document_ref, '') AS document_ref,
           (description IS NULL)::int + 2 * (cost_center IS NULL)::int + 4 * (counterparty IS NULL)::int
               + 8 * (document_ref IS NULL)::int AS null_mask
    FROM ledger.journal_lines
    WHERE journal_date = %(day)s AND (%(txn_id)s::bigint IS NULL OR txn_id = %(txn_id)s::bigint)
) TO STDOUT (FORMAT csv, ENCODING 'UTF8')
"""
_CSV_SCHEMA: Final = {
    "company_id": pl.Int32,
    "journal_type": pl.String,
    "journal_no": pl.Int32,
    "line_no": pl.Int16,
    "txn_id": pl.Int64,
    "account_code": pl.String,
    "period": pl.Int32,
    "dc": pl.String,
    "amount_base": pl.String,
    "amount_txn": pl.String,
    "currency": pl.String,
    "fx_rate": pl.String,
    "description": pl.String,
    "cost_center": pl.String,
    "counterparty": pl.String,
    "document_ref": pl.String,
    "null_mask": pl.Int8,
}
# null_mask has bit i set when the i-th of these is NULL (the query above writes it in this order)
_NULLABLE: Final = tuple(field.name for field in JOURNAL_LINE_FIELDS if field.nullable)

# The CSV of a day is parsed and handed on in blocks of about this size (some 27,000 lines): the
# memory a day needs does not grow with the day, each block is large enough for Polars, and the
# last one, which nothing overlaps, is short. BLOCKS_AHEAD blocks at most wait to be parsed.
BLOCK_BYTES: Final = 4 << 20
BLOCKS_AHEAD: Final = 3


def check_ledger_columns(conn: psycopg.Connection) -> None:
    """Refuse to seal or verify when ``ledger.journal_lines`` has columns the encoding does not cover.

    A seal must commit to the whole line; a new column needs a new encoding version first.
    """
    columns = [
        name
        for (name,) in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'ledger.journal_lines'::regclass "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ).fetchall()
    ]
    uncovered = [name for name in columns if name not in FIELD_NAMES]
    missing = [name for name in FIELD_NAMES if name not in columns]
    if uncovered or missing:
        problems = [f"column(s) {', '.join(uncovered)} are not encoded"] if uncovered else []
        problems += [f"column(s) {', '.join(missing)} are missing"] if missing else []
        raise AuditError(
            f"ledger.journal_lines does not match the audit encoding {ENCODING_VERSION}: {'; '.join(problems)}: "
            "a new encoding version in journal_pipeline/audit/encoding.py must cover the table before sealing"
        )


def _parse_block(csv: bytes, day: dt.date) -> pl.DataFrame:
    """Lines of the COPY's CSV as the encoding's columns: journal_date added, NULLs put back from null_mask."""
    if csv:
        raw = pl.read_csv(csv, schema=_CSV_SCHEMA, has_header=False, empty_string_is_null=False)
    else:
        raw = pl.DataFrame(schema=_CSV_SCHEMA)
    is_null = {name: (pl.col("null_mask") & (1 << bit)) != 0 for bit, name in enumerate(_NULLABLE)}
    return raw.select(
        pl.lit(day, dtype=pl.Date).alias("journal_date"),
        *(
            pl.when(is_null[name]).then(None).otherwise(pl.col(name)).alias(name) if name in is_null else pl.col(name)
            for name in FIELD_NAMES[1:]
        ),
    )


def _finish_copy_out(conn: psycopg.Connection, poller: select.poll) -> None:
    """Collect the COPY's final result (what psycopg's own COPY reader does after the last row)."""
    pgconn = conn.pgconn
    while pgconn.is_busy():
        poller.poll()
        pgconn.consume_input()
    results = []
    while (result := pgconn.get_result()) is not None:
        results.append(result)
    for result in results:
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)


def _read_copy_rows(conn: psycopg.Connection, blocks: queue.Queue[bytes | BaseException | None], size: int) -> None:
    """The COPY's reader thread: its rows gathered into blocks of about ``size`` bytes, put on ``blocks``.

    Ends with None after the last block, or with the exception that ended the COPY. The rows (one
    libpq message each) are taken straight from libpq (``psycopg.pq``: ``get_copy_data`` without
    waiting, and a poll on the socket, which releases the GIL, when nothing has arrived): half the
    Python time per row of psycopg's ``Copy.read()``, some 0.1 s less for a 300,000-line day.
    """
    try:
        pgconn = conn.pgconn
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN)
        get_copy_data = pgconn.get_copy_data
        buffer = bytearray()
        while True:
            length, row = get_copy_data(1)
            if length > 0:
                buffer += row
                if len(buffer) >= size:
                    blocks.put(bytes(buffer))
                    buffer.clear()
            elif length == 0:  # nothing received yet
                poller.poll()
                pgconn.consume_input()
            else:  # -1: the last row was read
                break
        _finish_copy_out(conn, poller)
        if buffer:
            blocks.put(bytes(buffer))
    except BaseException as failure:  # handed to the caller's thread, which raises it
        blocks.put(failure)
    else:
        blocks.put(None)


def read_day_lines_in_blocks(
    conn: psycopg.Connection,
    day: dt.date,
    handle: Callable[[pl.DataFrame], None],
    txn_id: int | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> None:
    """Hand the day's journal lines (or one transaction's) to ``handle``, block by block, in no particular order.

    One COPY. A reader thread (:func:`_read_copy_rows`) receives its rows and cuts them into blocks
    of about ``block_bytes`` of CSV, while this thread parses each block and hands it on: so
    PostgreSQL goes on writing the next rows while the previous block is encoded and hashed, instead
    of waiting for the client each time (some 0.2 s of a 300,000-line day's sealing, when the two
    have a core each). At most ``BLOCKS_AHEAD`` blocks wait, which bounds the memory. The
    connection is the reader's until the COPY is over.

    When ``handle`` raises, the rest of the COPY is still read (and dropped) before the exception
    goes on: cancelling it instead would abort the caller's transaction, and a verification goes on
    to the next day in the same snapshot after a day whose lines no longer encode.
    """
    failure: Exception | None = None
    blocks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=BLOCKS_AHEAD)
    with conn.cursor() as cursor, cursor.copy(_DAY_LINES_COPY, {"day": day, "txn_id": txn_id}):
        reader = threading.Thread(target=_read_copy_rows, args=(conn, blocks, block_bytes), name="audit-day-copy")
        reader.start()
        ended = False  # the reader has put its last item (None or an exception)
        try:
            while (block := blocks.get()) is not None:
                if isinstance(block, BaseException):
                    ended = True
                    raise block  # the COPY failed (an error from the server, a lost connection)
                if failure is None:
                    try:
                        handle(_parse_block(block, day))
                    except Exception as refused:  # raised once the COPY is over
                        failure = refused
            ended = True
        finally:
            while not ended:  # leaving early (an interrupt): the reader must not wait on a full queue
                block = blocks.get()
                ended = block is None or isinstance(block, BaseException)
            reader.join()
    if failure is not None:
        raise failure


def read_day_lines(conn: psycopg.Connection, day: dt.date, txn_id: int | None = None) -> pl.DataFrame:
    """The day's journal lines (or one transaction's) as exact text and integers, in no particular order."""
    blocks: list[pl.DataFrame] = []
    read_day_lines_in_blocks(conn, day, blocks.append, txn_id)
    return pl.concat(blocks) if blocks else _parse_block(b"", day)


# The day in one aggregate scan, by PostgreSQL alone: the count, the totals, and the identities
# packed as audit.seal_leaves stores them (int4send, int8send and int2send are big-endian), in
# whatever order the scan meets them.
_LEDGER_DAY_SUMMARY: Final = """
SELECT count(*), coalesce(sum(amount_base) FILTER (WHERE dc = 'D'), 0)::numeric(38,2),
       coalesce(sum(amount_base) FILTER (WHERE dc = 'C'), 0)::numeric(38,2),
       coalesce(string_agg(int4send(company_id) || int8send(txn_id) || int2send(line_no), ''::bytea), ''::bytea)
FROM ledger.journal_lines WHERE journal_date = %s
"""


@dataclass(frozen=True)
class LedgerDaySummary:
    """A day of ``ledger.journal_lines`` as PostgreSQL counts it (see ``_LEDGER_DAY_SUMMARY``)."""

    line_count: int
    total_debit: Decimal
    total_credit: Decimal
    identities_unordered: bytes


def ledger_day_summary(conn: psycopg.Connection, day: dt.date) -> LedgerDaySummary:
    row = _fetch_binary(conn, _LEDGER_DAY_SUMMARY, (day,))
    assert row is not None  # an aggregate without GROUP BY always returns a row
    return LedgerDaySummary(row[0], row[1], row[2], bytes(row[3]))


def digest_ledger_day(conn: psycopg.Connection, day: dt.date) -> DayDigest:
    """The digest of the day's lines in ``ledger.journal_lines`` now: read, encoded and hashed block by block."""
    digester = DayDigester()
    read_day_lines_in_blocks(conn, day, digester.add)
    return digester.finish()
