"""COPY between PostgreSQL and Polars: the only way bulk data moves in or out of the database."""

from __future__ import annotations

import io

import polars as pl
import psycopg
from psycopg import sql

from journal_pipeline.faults import fault_point

COPY_CHUNK_ROWS = 50_000
_TRAILING_ZEROS = r"(\.\d\d\d*?)0+$"  # keep two decimals, drop the rest of the padding zeros


def copy_to_polars(conn: psycopg.Connection, query: sql.Composable, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Run ``COPY (query) TO STDOUT`` as CSV and parse it with exactly ``schema``."""
    buffer = io.BytesIO()
    with (
        conn.cursor() as cur,
        cur.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(query)) as copy,
    ):
        for chunk in copy:
            buffer.write(chunk)
    if buffer.tell() == 0:
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    return pl.read_csv(buffer, schema=schema, infer_schema=False, try_parse_dates=False)


def to_csv(frame: pl.DataFrame) -> bytes:
    """The frame as PostgreSQL CSV: NULL unquoted and empty, decimals without padding zeros."""
    decimals = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Decimal)]
    frame = frame.with_columns(pl.col(decimals).cast(pl.String).str.replace(_TRAILING_ZEROS, "${1}"))
    return frame.write_csv(include_header=False, null_value="").encode("utf-8")


def copy_from_polars(conn: psycopg.Connection, table: sql.Composable, frame: pl.DataFrame) -> int:
    """COPY the frame into ``table`` (columns by name); returns the number of rows.

    The CSV is made and sent COPY_CHUNK_ROWS rows at a time: the server parses one chunk while
    the next is being encoded, so the encoding costs little more than the COPY itself. The
    test-only fault point ``<asset>.copy`` (journal_pipeline.faults) is after the first chunk:
    rows sent, the COPY not ended."""
    if frame.height == 0:
        return 0
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    )
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for number, chunk in enumerate(frame.iter_slices(COPY_CHUNK_ROWS)):
            copy.write(to_csv(chunk))
            if number == 0:
                fault_point("copy")
    return frame.height
