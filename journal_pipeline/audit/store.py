"""Reading the ledger and the audit tables: the rows, the SQL, the snapshot. psycopg 3.

Everything that sealing, verifying and proving read from PostgreSQL goes through here, so each
query is written once. The tables are created by sql/migrations/0007_audit.sql.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
import psycopg
from psycopg import pq

from journal_pipeline.audit.chain import EventFields, SealFields
from journal_pipeline.audit.encoding import ENCODING_VERSION, FIELD_NAMES, JOURNAL_LINE_FIELDS
from journal_pipeline.audit.leaves import IDENTITY_SIZE, identities_sha256
from journal_pipeline.audit.merkle import HASH_SIZE, MerkleTree

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
_LATEST_SEAL_OF_DAY: Final = """
SELECT seal_seq, partition_date, line_count, total_debit, total_credit, merkle_root, leaf_identities_sha256,
    encoding_version, prev_seal_hash, sealed_at, run_id, code_version, supersedes_seq, seal_hash
FROM audit.seals WHERE partition_date = %s ORDER BY seal_seq DESC LIMIT 1
"""
_EVENTS: Final = """
SELECT event_seq, event_type, partition_date, payload::text, prev_event_hash, recorded_at, run_id, event_hash
FROM audit.events ORDER BY event_seq
"""


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


def read_seal_leaves(conn: psycopg.Connection, seal_seq: int) -> tuple[bytes, bytes] | None:
    """``(identities, leaf_hashes)`` of a seal, as stored; None when the row is missing."""
    row = conn.execute(
        "SELECT identities, leaf_hashes FROM audit.seal_leaves WHERE seal_seq = %s", (seal_seq,)
    ).fetchone()
    return None if row is None else (bytes(row[0]), bytes(row[1]))


def stored_leaves_problem(seal: Seal, stored: tuple[bytes, bytes] | None) -> str | None:
    """Why a seal's stored leaves cannot be trusted, or None when they hash to the seal's root."""
    if stored is None:
        return "it has no row in audit.seal_leaves"
    identities, leaf_blob = stored
    if len(leaf_blob) != HASH_SIZE * seal.line_count or len(identities) != IDENTITY_SIZE * seal.line_count:
        return f"audit.seal_leaves holds {len(leaf_blob) // HASH_SIZE} leaf hash(es) for a seal of {seal.line_count}"
    if MerkleTree.from_concatenated(leaf_blob).root != seal.merkle_root:
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

# The day's lines as CSV. journal_date is the day asked for (added back in Polars, not sent
# 300,000 times); NULL-able text goes out as '' plus an explicit is-NULL flag, so that NULL and
# the empty string can never be confused by the CSV round trip. Numerics leave PostgreSQL as
# exact decimal text and are normalised by the encoding. COPY parameters are bound client-side
# by psycopg, with proper quoting.
_DAY_LINES_COPY: Final = """
COPY (
    SELECT company_id, journal_type, journal_no, line_no, txn_id, account_code, period, dc, amount_base, amount_txn,
           currency, fx_rate,
           coalesce(description, '') AS description, description IS NULL AS description_is_null,
           coalesce(cost_center, '') AS cost_center, cost_center IS NULL AS cost_center_is_null,
           coalesce(counterparty, '') AS counterparty, counterparty IS NULL AS counterparty_is_null,
           coalesce(document_ref, '') AS document_ref, document_ref IS NULL AS document_ref_is_null
    FROM ledger.journal_lines
    WHERE journal_date = %(day)s AND (%(txn_id)s::bigint IS NULL OR txn_id = %(txn_id)s::bigint)
) TO STDOUT (FORMAT csv, HEADER true, ENCODING 'UTF8')
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
    "description_is_null": pl.String,
    "cost_center": pl.String,
    "cost_center_is_null": pl.String,
    "counterparty": pl.String,
    "counterparty_is_null": pl.String,
    "document_ref": pl.String,
    "document_ref_is_null": pl.String,
}
_NULLABLE: Final = tuple(f.name for f in JOURNAL_LINE_FIELDS if f.nullable)


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


def read_day_lines(conn: psycopg.Connection, day: dt.date, txn_id: int | None = None) -> pl.DataFrame:
    """The day's journal lines (or one transaction's) as exact text and integers, in no particular order."""
    buffer = bytearray()
    with conn.cursor() as cursor, cursor.copy(_DAY_LINES_COPY, {"day": day, "txn_id": txn_id}) as copy:
        for chunk in copy:
            buffer += chunk
    raw = pl.read_csv(bytes(buffer), schema=_CSV_SCHEMA, empty_string_is_null=False, has_header=True)
    return raw.with_columns(
        pl.lit(day, dtype=pl.Date).alias("journal_date"),
        *(
            pl.when(pl.col(f"{name}_is_null") == "t").then(None).otherwise(pl.col(name)).alias(name)
            for name in _NULLABLE
        ),
    ).select(FIELD_NAMES)
