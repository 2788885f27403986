"""Localise a change to a sealed day: which lines were edited, deleted, inserted or moved. Pure.

A seal keeps, for every leaf, the line's identity ``(company_id, txn_id, line_no)`` and its leaf
hash. Joining those with the identities and leaf hashes recomputed from the ledger tells apart:

- *edited*: the identity is in both, the leaf hashes differ;
- *deleted*: the identity was sealed and is no longer in the ledger;
- *inserted*: the identity is in the ledger and was not sealed;
- *moved*: a ledger line, re-encoded under another changed identity, hashes to the leaf sealed
  for that identity: the content sealed as line B is now line A. This is what "reordering" means
  when the leaf order is a sort on the identity: swapping two lines' ``line_no`` (or their
  amounts and accounts) changes no storage order, it makes each line carry the other's content.

Only changed identities are tried for moves (a cross product, bounded by ``MAX_MOVE_CANDIDATES``),
so a clean day costs one join.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import polars as pl

from journal_pipeline.audit.encoding import LINE_IDENTITY, leaf_hashes
from journal_pipeline.audit.report import Finding

MAX_MOVE_CANDIDATES: Final = 250_000
_IDENTITY_SCHEMA: Final = {"company_id": pl.Int32, "txn_id": pl.Int64, "line_no": pl.Int16}


def _with_leaves(identities: pl.DataFrame, leaves: list[bytes], prefix: str) -> pl.DataFrame:
    return (
        identities.select(pl.col(name).cast(dtype) for name, dtype in _IDENTITY_SCHEMA.items())
        .with_columns(pl.Series(f"{prefix}_leaf", leaves, dtype=pl.Binary))
        .with_row_index(f"{prefix}_index")
    )


def _line(row: dict[str, object], prefix: str = "") -> str:
    return f"company {row[prefix + 'company_id']} txn {row[prefix + 'txn_id']} line {row[prefix + 'line_no']}"


def _moves(changed_now: pl.DataFrame, changed_sealed: pl.DataFrame) -> pl.DataFrame:
    """Pairs (line now at identity A, sealed identity B) where A's content re-encoded as B is B's leaf."""
    if changed_now.is_empty() or changed_sealed.is_empty():
        return pl.DataFrame()
    if changed_now.height * changed_sealed.height > MAX_MOVE_CANDIDATES:
        return pl.DataFrame()
    now = changed_now.rename({name: f"now_{name}" for name in LINE_IDENTITY})
    targets = changed_sealed.select(*LINE_IDENTITY, "sealed_index", "sealed_leaf")
    candidates = now.join(targets, how="cross").filter(
        pl.any_horizontal(pl.col(f"now_{name}") != pl.col(name) for name in LINE_IDENTITY)
    )
    if candidates.is_empty():
        return pl.DataFrame()
    candidates = candidates.with_columns(pl.Series("as_sealed_leaf", leaf_hashes(candidates), dtype=pl.Binary))
    return (
        candidates.filter(pl.col("as_sealed_leaf") == pl.col("sealed_leaf"))
        .sort("sealed_index")
        .unique(subset=[f"now_{name}" for name in LINE_IDENTITY], keep="first", maintain_order=True)
        .unique(subset=list(LINE_IDENTITY), keep="first", maintain_order=True)
    )


def localise_changes(
    sealed_identities: pl.DataFrame,
    sealed_leaves: list[bytes],
    current_lines: pl.DataFrame,
    current_leaves: list[bytes],
    *,
    partition_date: dt.date,
    seal_seq: int,
) -> list[Finding]:
    """Every line-level difference between a seal's leaves and the day's lines now, in leaf order.

    ``sealed_identities``/``sealed_leaves`` come from ``audit.seal_leaves``; ``current_lines`` are
    the day's ledger lines in leaf order with ``current_leaves`` their leaf hashes.
    """
    sealed = _with_leaves(sealed_identities, sealed_leaves, "sealed")
    now = _with_leaves(current_lines, current_leaves, "now")
    joined = sealed.join(now, on=list(LINE_IDENTITY), how="full", coalesce=True)
    differs = pl.col("sealed_leaf") != pl.col("now_leaf")
    changed_now_ids = joined.filter(pl.col("now_index").is_not_null() & (pl.col("sealed_index").is_null() | differs))
    changed_sealed = joined.filter(pl.col("sealed_index").is_not_null() & (pl.col("now_index").is_null() | differs))
    if changed_now_ids.is_empty() and changed_sealed.is_empty():
        return []

    changed_now = current_lines.with_columns(pl.col(name).cast(dtype) for name, dtype in _IDENTITY_SCHEMA.items()).join(
        changed_now_ids.select(*LINE_IDENTITY, "sealed_index", "now_index"), on=list(LINE_IDENTITY)
    )
    moves = _moves(changed_now.drop("sealed_index"), changed_sealed)
    moved_from: dict[tuple[int, ...], dict[str, object]] = {}
    moved_targets: set[tuple[int, ...]] = set()
    for move in moves.iter_rows(named=True):
        moved_from[tuple(move[f"now_{name}"] for name in LINE_IDENTITY)] = move
        moved_targets.add(tuple(move[name] for name in LINE_IDENTITY))

    findings: list[tuple[tuple[int, ...], Finding]] = []  # sorted on the identity: the leaf order
    where = {"partition_date": partition_date, "seal_seq": seal_seq}
    for row in changed_now.sort("now_index").iter_rows(named=True):
        identity: dict[str, int] = {name: row[name] for name in LINE_IDENTITY}
        key = tuple(identity.values())
        if key in moved_from:
            source = moved_from[key]
            finding = Finding(
                "line_moved",
                f"{_line(row)} now holds the content sealed as {_line(source)} (leaf {source['sealed_index']}) "
                f"of seal {seal_seq}",
                leaf_index=source["sealed_index"],
                **where,
                **identity,
            )
        elif row["sealed_index"] is None:
            finding = Finding(
                "line_inserted",
                f"{_line(row)} is in ledger.journal_lines but not in seal {seal_seq}",
                **where,
                **identity,
            )
        else:
            finding = Finding(
                "line_edited",
                f"{_line(row)} (leaf {row['sealed_index']}) differs from the line sealed in seal {seal_seq}",
                leaf_index=row["sealed_index"],
                **where,
                **identity,
            )
        findings.append((key, finding))
    for row in changed_sealed.filter(pl.col("now_index").is_null()).iter_rows(named=True):
        identity: dict[str, int] = {name: row[name] for name in LINE_IDENTITY}
        key = tuple(identity.values())
        if key in moved_targets:
            continue  # reported as moved to the line that now holds it
        findings.append(
            (
                key,
                Finding(
                    "line_deleted",
                    f"{_line(row)} (leaf {row['sealed_index']}) was sealed in seal {seal_seq} and is no longer in "
                    "ledger.journal_lines",
                    leaf_index=row["sealed_index"],
                    **where,
                    **identity,
                ),
            )
        )
    return [finding for _, finding in sorted(findings, key=lambda pair: pair[0])]
