"""The exact bytes behind a seal hash and an audit event hash (SPEC section 6). Pure functions.

Both chains start from the *genesis hash*, 32 zero bytes, and each link commits to the previous
link's hash, so changing, removing or reordering any link changes every later hash.

Seal hash (``journal_pipeline/seal/v1``)
----------------------------------------

::

    seal_hash = SHA-256( prev_seal_hash            32 raw bytes (genesis: 32 zero bytes)
                       || merkle_root              32 raw bytes, the day's RFC 6962 root
                       || metadata )

``metadata`` is a sequence of netstrings (``<UTF-8 byte length>:<value>,``; ``~`` for NULL, as
in :mod:`journal_pipeline.audit.encoding`), in this order::

     1 the literal domain tag 'journal_pipeline/seal/v1'
     2 seal_seq                base 10
     3 partition_date          YYYY-MM-DD
     4 line_count              base 10
     5 total_debit             exactly two decimals (sum of amount_base of the 'D' lines)
     6 total_credit            exactly two decimals (sum of amount_base of the 'C' lines)
     7 leaf_identities_sha256  64 lower-case hex digits (see below)
     8 encoding_version        e.g. 'journal_line/v1'
     9 sealed_at               UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ (always six fractional digits)
    10 run_id                  text
    11 code_version            text
    12 supersedes_seq          base 10, or ~ when the seal supersedes none

So every column of ``audit.seals`` except ``seal_hash`` itself is covered. The domain tag keeps a
seal hash from ever being mistaken for an event hash or a Merkle node.

``leaf_identities_sha256`` is the SHA-256 of the sealed line identities as stored in
``audit.seal_leaves.identities``: for each leaf, in leaf order, ``company_id`` as a 4-byte,
``txn_id`` as an 8-byte and ``line_no`` as a 2-byte big-endian two's-complement integer (14 bytes
per line). The Merkle root already commits to each line's content (identity included); this
digest also commits to the index that lets a verification name the line that changed.

Event hash (``journal_pipeline/event/v1``)
------------------------------------------

::

    event_hash = SHA-256( prev_event_hash || metadata )

with netstrings: the domain tag ``journal_pipeline/event/v1``, ``event_seq``, ``event_type``,
``partition_date`` (or ``~``), ``recorded_at`` (as ``sealed_at``), ``run_id`` (or ``~``) and
``payload`` as PostgreSQL renders the stored ``jsonb`` value as text (``payload::text``: keys in
jsonb's canonical order, ``", "`` and ``": "`` separators), so the payload hashed is exactly the
payload stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

GENESIS_HASH: Final = bytes(32)
SEAL_DOMAIN: Final = "journal_pipeline/seal/v1"
EVENT_DOMAIN: Final = "journal_pipeline/event/v1"


def netstring_bytes(value: str | None) -> bytes:
    """``<byte length>:<value>,`` in UTF-8, or ``~`` for None (the rule of the line encoding)."""
    if value is None:
        return b"~"
    data = value.encode("utf-8")
    return str(len(data)).encode("ascii") + b":" + data + b","


def decimal_text(value: Decimal, scale: int) -> str:
    """``value`` with exactly ``scale`` decimals, never an exponent nor ``-0``; refuses rounding."""
    quantum = Decimal(1).scaleb(-scale)
    fixed = value.quantize(quantum)
    if fixed != value:
        raise ValueError(f"{value} has more than {scale} decimals")
    if fixed == 0:
        fixed = abs(fixed)
    return format(fixed, "f")


def utc_text(moment: dt.datetime) -> str:
    """An aware timestamp as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC."""
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {moment} has no time zone")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class SealFields:
    """Everything a seal hash commits to: one row of ``audit.seals`` without its ``seal_hash``."""

    seal_seq: int
    partition_date: dt.date
    line_count: int
    total_debit: Decimal
    total_credit: Decimal
    merkle_root: bytes
    leaf_identities_sha256: bytes
    encoding_version: str
    prev_seal_hash: bytes
    sealed_at: dt.datetime
    run_id: str
    code_version: str
    supersedes_seq: int | None


def seal_metadata(seal: SealFields) -> bytes:
    """The ``metadata`` bytes of the seal hash (fields 1 to 12 of the module docstring)."""
    fields = (
        SEAL_DOMAIN,
        str(seal.seal_seq),
        seal.partition_date.isoformat(),
        str(seal.line_count),
        decimal_text(seal.total_debit, 2),
        decimal_text(seal.total_credit, 2),
        seal.leaf_identities_sha256.hex(),
        seal.encoding_version,
        utc_text(seal.sealed_at),
        seal.run_id,
        seal.code_version,
        None if seal.supersedes_seq is None else str(seal.supersedes_seq),
    )
    return b"".join(netstring_bytes(field) for field in fields)


def seal_hash(seal: SealFields) -> bytes:
    """``SHA-256(prev_seal_hash || merkle_root || metadata)``."""
    if len(seal.prev_seal_hash) != 32 or len(seal.merkle_root) != 32:
        raise ValueError("prev_seal_hash and merkle_root are 32-byte SHA-256 digests")
    return hashlib.sha256(seal.prev_seal_hash + seal.merkle_root + seal_metadata(seal)).digest()


@dataclass(frozen=True)
class EventFields:
    """Everything an event hash commits to: one row of ``audit.events`` without its ``event_hash``."""

    event_seq: int
    event_type: str
    partition_date: dt.date | None
    payload_text: str
    prev_event_hash: bytes
    recorded_at: dt.datetime
    run_id: str | None


def event_metadata(event: EventFields) -> bytes:
    fields = (
        EVENT_DOMAIN,
        str(event.event_seq),
        event.event_type,
        None if event.partition_date is None else event.partition_date.isoformat(),
        utc_text(event.recorded_at),
        event.run_id,
        event.payload_text,
    )
    return b"".join(netstring_bytes(field) for field in fields)


def event_hash(event: EventFields) -> bytes:
    """``SHA-256(prev_event_hash || metadata)``."""
    if len(event.prev_event_hash) != 32:
        raise ValueError("prev_event_hash is a 32-byte SHA-256 digest")
    return hashlib.sha256(event.prev_event_hash + event_metadata(event)).digest()
