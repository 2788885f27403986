"""Sealing days of ``ledger.journal_lines`` into the hash-chained ``audit`` schema (SPEC section 6).

The database side of the audit trail, over psycopg 3: :func:`seal_partitions`,
:func:`record_event` and :func:`head` here; :func:`verify` (in
:mod:`~journal_pipeline.audit.verification`) and :func:`prove` (in
:mod:`~journal_pipeline.audit.proof`) are re-exported. The hashing is done by the pure modules:
:mod:`~journal_pipeline.audit.encoding` (a line's bytes and leaf hash),
:mod:`~journal_pipeline.audit.merkle` (the day's RFC 6962 tree) and
:mod:`~journal_pipeline.audit.chain` (the seal and event hashes); sql/migrations/0007_audit.sql
holds the tables and the triggers that make them append-only.

Invariants, stated once and checked by :func:`verify` and by the tests:

1. the seals form one chain: ``seal_seq`` is 1, 2, 3, ... without gaps, seal 1 links to 32 zero
   bytes and every other seal's ``prev_seal_hash`` is its predecessor's ``seal_hash``;
2. every seal's ``seal_hash`` is the hash of its own fields (:func:`~journal_pipeline.audit.chain.seal_hash`);
3. the latest seal of a day has the Merkle root, line count and totals of that day's lines in
   ``ledger.journal_lines`` now; older seals of a day are superseded and only have to chain;
4. the events form a chain in the same way, and each seal has exactly one ``partition_sealed``
   event that records its hash and root;
5. nothing in ``audit`` is ever updated or deleted: a reseal appends a seal that supersedes.

Concurrency: every append takes one transaction-level advisory lock (``AUDIT_CHAIN_LOCK``, taken
again by the insert triggers) and reads the head after taking it, so sealers queue instead of
forking; the UNIQUE ``prev_seal_hash``/``prev_event_hash`` constraints make a fork impossible
even for a client that skips the lock. The lock is taken after the day's lines are read and
hashed, so it is held only for the few inserts.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

import psycopg

from journal_pipeline.audit.chain import GENESIS_HASH, EventFields, SealFields, event_hash, seal_hash
from journal_pipeline.audit.leaves import DayDigest, identities_sha256
from journal_pipeline.audit.proof import LineProof, TransactionProof, check_line_proof, prove
from journal_pipeline.audit.report import Finding, VerificationReport
from journal_pipeline.audit.store import (
    AUDIT_CHAIN_LOCK,
    SEALED_EVENT,
    AuditError,
    Event,
    Seal,
    check_ledger_columns,
    digest_ledger_day,
    latest_seal_of_day,
    read_day_lines,
)
from journal_pipeline.audit.verification import verify
from journal_pipeline.faults import fault_point

__all__ = [
    "AUDIT_CHAIN_LOCK",
    "AuditError",
    "Event",
    "Finding",
    "LineProof",
    "Seal",
    "TransactionProof",
    "VerificationReport",
    "append_seal",
    "check_line_proof",
    "head",
    "prove",
    "read_day_lines",
    "record_event",
    "seal_partitions",
    "verify",
]

_INSERT_SEAL: Final = """
INSERT INTO audit.seals (seal_seq, partition_date, line_count, total_debit, total_credit, merkle_root,
    leaf_identities_sha256, encoding_version, prev_seal_hash, sealed_at, run_id, code_version, supersedes_seq,
    seal_hash)
VALUES (%(seal_seq)s, %(partition_date)s, %(line_count)s, %(total_debit)s, %(total_credit)s, %(merkle_root)s,
    %(leaf_identities_sha256)s, %(encoding_version)s, %(prev_seal_hash)s, %(sealed_at)s, %(run_id)s,
    %(code_version)s, %(supersedes_seq)s, %(seal_hash)s)
"""
# The leaves go in by a binary COPY written piece by piece (see _insert_leaves).
_COPY_LEAVES: Final = (
    "COPY audit.seal_leaves (seal_seq, leaf_count, identities, leaf_hashes) FROM STDIN (FORMAT binary)"
)
_BINARY_COPY_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)  # signature, flags, no extension
_BINARY_COPY_TRAILER: Final = struct.pack("!h", -1)
_INSERT_EVENT: Final = """
INSERT INTO audit.events (event_seq, event_type, partition_date, payload, prev_event_hash, event_hash, recorded_at,
    run_id)
VALUES (%(event_seq)s, %(event_type)s, %(partition_date)s, %(payload_text)s::jsonb, %(prev_event_hash)s,
    %(event_hash)s, %(recorded_at)s, %(run_id)s)
"""


def _insert_leaves(conn: psycopg.Connection, seal_seq: int, digest: DayDigest) -> None:
    """The seal's row of ``audit.seal_leaves``, as one binary COPY row whose two values are sent as they are.

    Not an INSERT: its parameters (46 bytes a line, 140 MB for a 3,000,000-line day) make one
    Bind message, which libpq sends by shifting the rest of its buffer down after each write to
    the socket, seconds of memmove for a large day; COPY sends the values in chunks, uncopied.
    """
    identities, leaf_blob = digest.identities, digest.leaf_blob
    row_start = struct.pack("!hiqiqi", 4, 8, seal_seq, 8, digest.line_count, len(identities))
    with conn.cursor() as cursor, cursor.copy(_COPY_LEAVES) as copy:
        for piece in (_BINARY_COPY_HEADER + row_start, identities, struct.pack("!i", len(leaf_blob)), leaf_blob):
            copy.write(piece)
        copy.write(_BINARY_COPY_TRAILER)


def _lock_chain(conn: psycopg.Connection) -> None:
    """Take the chain lock; the head must be read after this, in a READ COMMITTED transaction."""
    row = conn.execute("SHOW transaction_isolation").fetchone()
    isolation = row[0] if row else "unknown"
    if isolation != "read committed":
        raise AuditError(
            f"appending to the audit chain needs a READ COMMITTED transaction, not {isolation}: the head must be "
            "read after the chain lock is taken"
        )
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_CHAIN_LOCK,))


def _seal_head(conn: psycopg.Connection) -> tuple[int, bytes]:
    row = conn.execute("SELECT seal_seq, seal_hash FROM audit.seals ORDER BY seal_seq DESC LIMIT 1").fetchone()
    return (0, GENESIS_HASH) if row is None else (row[0], bytes(row[1]))


def _event_head(conn: psycopg.Connection) -> tuple[int, bytes]:
    row = conn.execute("SELECT event_seq, event_hash FROM audit.events ORDER BY event_seq DESC LIMIT 1").fetchone()
    return (0, GENESIS_HASH) if row is None else (row[0], bytes(row[1]))


def _now(conn: psycopg.Connection) -> dt.datetime:
    """The server's clock: one time source for every seal and event, whichever machine seals."""
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]


def _json_value(value: object) -> str:
    if isinstance(value, dt.date):  # datetime included
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    raise TypeError(f"an audit event payload cannot hold {type(value).__name__} values")


def record_event(
    conn: psycopg.Connection,
    event_type: str,
    partition_date: dt.date | None,
    payload: Mapping[str, Any],
    run_id: str | None,
) -> Event:
    """Append one event to the hash-chained ``audit.events`` log and return it.

    ``event_type`` is a lower-case identifier (``partition_posted``); dates, decimals and bytes in
    the payload are written as ISO text, decimal text and hex. The payload is stored as ``jsonb``
    and hashed as PostgreSQL renders it back (``payload::text``), so what is hashed is exactly what
    is stored. Runs in its own transaction, or a savepoint of the caller's (then the event, and the
    chain lock, are the caller's until it commits).
    """
    text = json.dumps(dict(payload), default=_json_value, ensure_ascii=False, allow_nan=False)
    with conn.transaction():
        _lock_chain(conn)
        row = conn.execute("SELECT %s::jsonb::text", (text,)).fetchone()
        assert row is not None
        seq, prev = _event_head(conn)
        fields = EventFields(
            event_seq=seq + 1,
            event_type=event_type,
            partition_date=partition_date,
            payload_text=row[0],
            prev_event_hash=prev,
            recorded_at=_now(conn),
            run_id=run_id,
        )
        event = Event(**vars(fields), event_hash=event_hash(fields))
        conn.execute(_INSERT_EVENT, vars(event))
    return event


def append_seal(conn: psycopg.Connection, day: dt.date, digest: DayDigest, run_id: str, code_version: str) -> Seal:
    """Append the seal of an already digested day, its leaves and its event (in the caller's transaction)."""
    _lock_chain(conn)
    head_seq, head_hash = _seal_head(conn)
    previous = latest_seal_of_day(conn, day)
    identities = digest.identities
    fields = SealFields(
        seal_seq=head_seq + 1,
        partition_date=day,
        line_count=digest.line_count,
        total_debit=digest.total_debit,
        total_credit=digest.total_credit,
        merkle_root=digest.root,
        leaf_identities_sha256=identities_sha256(identities),
        encoding_version=digest.encoding_version,
        prev_seal_hash=head_hash,
        sealed_at=_now(conn),
        run_id=run_id,
        code_version=code_version,
        supersedes_seq=previous.seal_seq if previous else None,
    )
    seal = Seal(**vars(fields), seal_hash=seal_hash(fields))
    conn.execute(_INSERT_SEAL, vars(seal))
    _insert_leaves(conn, seal.seal_seq, digest)
    fault_point("audit_seals.seal")  # test-only (journal_pipeline.faults): a crash in the middle of sealing
    record_event(
        conn,
        SEALED_EVENT,
        day,
        {
            "seal_seq": seal.seal_seq,
            "seal_hash": seal.seal_hash.hex(),
            "merkle_root": seal.merkle_root.hex(),
            "line_count": seal.line_count,
            "total_debit": seal.total_debit,
            "total_credit": seal.total_credit,
            "supersedes_seq": seal.supersedes_seq,
            "root_changed": None if previous is None else previous.merkle_root != seal.merkle_root,
        },
        run_id,
    )
    return seal


def seal_partitions(conn: psycopg.Connection, dates: Iterable[dt.date], run_id: str, code_version: str) -> list[Seal]:
    """Seal each day: read its lines, hash them, append a seal that chains to the current head.

    Days are sealed in date order, each in its own transaction (a savepoint when the caller has
    one open: then the caller's commit publishes the seals). A day sealed before gets a new seal
    that supersedes the old one, which stays. A day with no lines is sealed too, with the empty
    tree's root: "nothing was posted that day" is worth sealing.
    """
    seals = []
    for day in sorted(set(dates)):
        with conn.transaction():
            check_ledger_columns(conn)
            digest = digest_ledger_day(conn, day)
            seals.append(append_seal(conn, day, digest, run_id, code_version))
    return seals


def head(conn: psycopg.Connection) -> dict[str, object]:
    """The chain heads as a JSON-ready dict, to keep outside the database (``audit head --output``).

    ``seal_seq`` 0 with the genesis hash (32 zero bytes) means that nothing has been sealed yet.
    """
    row = conn.execute(
        "SELECT seal_seq, seal_hash, partition_date, sealed_at FROM audit.seals ORDER BY seal_seq DESC LIMIT 1"
    ).fetchone()
    event_seq, event_digest = _event_head(conn)
    return {
        "seal_seq": row[0] if row else 0,
        "seal_hash": bytes(row[1]).hex() if row else GENESIS_HASH.hex(),
        "partition_date": row[2].isoformat() if row else None,
        "sealed_at": row[3].astimezone(dt.UTC).isoformat() if row else None,
        "event_seq": event_seq,
        "event_hash": event_digest.hex(),
    }
