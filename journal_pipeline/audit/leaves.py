"""A day's leaves: from journal lines to leaf hashes, root and totals, and their compact storage.

Pure functions. ``digest_day`` is the whole of what sealing computes from a day's lines; the
same function recomputes it from the ledger at verification time.

Storage of a seal's leaves (``audit.seal_leaves``), one row per seal, two ``bytea`` values:

- ``identities``: per leaf, in leaf order, ``company_id`` (4 bytes), ``txn_id`` (8 bytes),
  ``line_no`` (2 bytes), big-endian two's complement: 14 bytes per line;
- ``leaf_hashes``: the 32-byte leaf hashes back to back, in the same order.

Two values instead of a row per line keep sealing a 300,000-line day to one insert of about
14 MB (a row per line would be 300,000 rows to write and index).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import numpy as np
import polars as pl

from journal_pipeline.audit.encoding import ENCODING_VERSION, LINE_IDENTITY, in_leaf_order, leaf_hashes
from journal_pipeline.audit.merkle import HASH_SIZE, MerkleTree

IDENTITY_DTYPE: Final = np.dtype([("company_id", ">i4"), ("txn_id", ">i8"), ("line_no", ">i2")])
IDENTITY_SIZE: Final = IDENTITY_DTYPE.itemsize  # 14
_IDENTITY_SCHEMA: Final = {"company_id": pl.Int32, "txn_id": pl.Int64, "line_no": pl.Int16}


def pack_identities(identities: pl.DataFrame) -> bytes:
    """The 14-byte-per-line identity blob of ``company_id``, ``txn_id``, ``line_no`` (in row order)."""
    packed = np.empty(identities.height, dtype=IDENTITY_DTYPE)
    for name in LINE_IDENTITY:
        # strict casts: a value outside its column's range is refused, never wrapped around
        packed[name] = identities[name].cast(_IDENTITY_SCHEMA[name], strict=True).to_numpy()
    return packed.tobytes()


def unpack_identities(blob: bytes) -> pl.DataFrame:
    """The identities stored by :func:`pack_identities`, as Int32/Int64/Int16 columns."""
    if len(blob) % IDENTITY_SIZE:
        raise ValueError(f"{len(blob)} bytes is not a whole number of {IDENTITY_SIZE}-byte line identities")
    packed = np.frombuffer(blob, dtype=IDENTITY_DTYPE)
    return pl.DataFrame(
        {name: packed[name].astype(packed[name].dtype.newbyteorder("=")) for name in LINE_IDENTITY},
        schema=_IDENTITY_SCHEMA,
    )


def split_hashes(blob: bytes) -> list[bytes]:
    """32-byte hashes stored back to back, as a list."""
    if len(blob) % HASH_SIZE:
        raise ValueError(f"{len(blob)} bytes is not a whole number of {HASH_SIZE}-byte hashes")
    view = memoryview(blob)
    return [bytes(view[i : i + HASH_SIZE]) for i in range(0, len(blob), HASH_SIZE)]


@dataclass(frozen=True)
class DayDigest:
    """What a day's lines hash to: the lines in leaf order, their leaves, the tree and the totals."""

    lines: pl.DataFrame
    leaves: list[bytes]
    tree: MerkleTree
    total_debit: Decimal
    total_credit: Decimal
    encoding_version: str = ENCODING_VERSION

    @property
    def line_count(self) -> int:
        return len(self.leaves)

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def identities(self) -> bytes:
        return pack_identities(self.lines)

    @property
    def leaf_blob(self) -> bytes:
        return b"".join(self.leaves)


def _total(lines: pl.DataFrame, side: str) -> Decimal:
    total = lines.select(pl.col("amount_base").cast(pl.Decimal(38, 2)).filter(pl.col("dc") == side).sum()).item()
    return Decimal("0.00") if total is None else Decimal(total).quantize(Decimal("0.01"))


def digest_day(lines: pl.DataFrame) -> DayDigest:
    """Leaf-order the day's lines, hash every leaf, build the tree and add up debits and credits."""
    ordered = in_leaf_order(lines)
    leaves = leaf_hashes(ordered)
    return DayDigest(
        lines=ordered,
        leaves=leaves,
        tree=MerkleTree(leaves),
        total_debit=_total(ordered, "D"),
        total_credit=_total(ordered, "C"),
    )


def identities_sha256(identities: bytes) -> bytes:
    return hashlib.sha256(identities).digest()
