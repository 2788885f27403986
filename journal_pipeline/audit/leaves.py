"""A day's leaves: from journal lines to leaf hashes, root and totals, and their compact storage.

Pure functions. :class:`DayDigester` is the whole of what sealing computes from a day's lines, fed
one block of lines at a time (the database side reads a day in blocks of a few megabytes, so a
3,000,000-line day never sits in memory as a whole); :func:`digest_day` is the same for a day
held in one DataFrame. The leaf hash of a line does not depend on the other lines, so each block
is encoded and hashed as it comes, in whatever order the database returns it, and only the
identities and hashes (46 bytes a line) are kept and put in leaf order at the end.

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

from journal_pipeline.audit.encoding import ENCODING_VERSION, LINE_IDENTITY, leaf_hash_blob, refuse_repeated_identity
from journal_pipeline.audit.merkle import HASH_SIZE, root_of_concatenated

IDENTITY_DTYPE: Final = np.dtype([("company_id", ">i4"), ("txn_id", ">i8"), ("line_no", ">i2")])
IDENTITY_SIZE: Final = IDENTITY_DTYPE.itemsize  # 14
_IDENTITY_SCHEMA: Final = {"company_id": pl.Int32, "txn_id": pl.Int64, "line_no": pl.Int16}
_CENTS: Final = Decimal("0.01")


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


def identities_sha256(identities: bytes) -> bytes:
    return hashlib.sha256(identities).digest()


@dataclass(frozen=True)
class DayDigest:
    """What a day's lines hash to, in leaf order: the identities and leaf hashes as stored, the root, the totals."""

    identities: bytes
    leaf_blob: bytes
    root: bytes
    total_debit: Decimal
    total_credit: Decimal
    encoding_version: str = ENCODING_VERSION

    @property
    def line_count(self) -> int:
        return len(self.leaf_blob) // HASH_SIZE

    @property
    def leaves(self) -> list[bytes]:
        """The leaf hashes as a list (for proofs and for naming changed lines; sealing never needs it)."""
        return split_hashes(self.leaf_blob)


class DayDigester:
    """A day's digest, computed from its lines given in any number of blocks, in any order.

    ``add`` encodes and hashes a block (raising :class:`~journal_pipeline.audit.encoding.EncodingError`
    for a line that has no canonical encoding) and adds up its debits and credits; ``finish`` puts
    the leaves in leaf order, refuses a repeated identity and builds the tree. Memory: 46 bytes per
    line between the two, plus one block.
    """

    def __init__(self) -> None:
        self._identities: list[pl.DataFrame] = []
        self._hashes: list[bytes] = []
        self._debit = Decimal("0.00")
        self._credit = Decimal("0.00")

    def add(self, lines: pl.DataFrame) -> None:
        hashes = leaf_hash_blob(lines)  # checks the columns and refuses what has no encoding, first
        self._identities.append(
            lines.select(pl.col(name).cast(dtype, strict=True) for name, dtype in _IDENTITY_SCHEMA.items())
        )
        self._hashes.append(hashes)
        amount = pl.col("amount_base").cast(pl.Decimal(38, 2))
        debit, credit = lines.select(
            amount.filter(pl.col("dc") == "D").sum().alias("debit"),
            amount.filter(pl.col("dc") == "C").sum().alias("credit"),
        ).row(0)
        self._debit += Decimal(debit or 0)
        self._credit += Decimal(credit or 0)

    def finish(self) -> DayDigest:
        """The digest of every line added. Call it once: it lets go of the blocks' leaves as it goes."""
        identities = pl.concat(self._identities) if self._identities else pl.DataFrame(schema=_IDENTITY_SCHEMA)
        hashes = np.frombuffer(b"".join(self._hashes), dtype=np.uint8).reshape(-1, HASH_SIZE)
        self._identities.clear()  # each copy is let go as soon as the next exists: a 3,000,000-line day
        self._hashes.clear()  # holds 96 MB of leaf hashes, and three copies at once would be 300 MB
        # numpy's lexsort (the last key first): some 20 times faster than Polars' arg_sort_by on
        # lines that arrive by txn_id with the companies interleaved
        order = np.lexsort([identities[name].to_numpy() for name in reversed(LINE_IDENTITY)])
        identities = identities[order]
        refuse_repeated_identity(identities)
        ordered = hashes[order]
        del hashes
        leaf_blob = ordered.tobytes()
        del ordered
        return DayDigest(
            identities=pack_identities(identities),
            leaf_blob=leaf_blob,
            root=root_of_concatenated(leaf_blob),
            total_debit=self._debit.quantize(_CENTS),
            total_credit=self._credit.quantize(_CENTS),
        )


def digest_day(lines: pl.DataFrame) -> DayDigest:
    """Hash every line, put the leaves in leaf order, build the tree and add up debits and credits."""
    digester = DayDigester()
    digester.add(lines)
    return digester.finish()
