"""Retrying a step whose database went away, where that is safe.

Two layers. Opening a connection is retried with backoff in journal_pipeline.db.connection
(nothing has happened yet). A step that loses its connection part-way is retried whole, by
Dagster, only when running it again is harmless whatever the lost connection had done:

- ``source_transactions`` only reads (one REPEATABLE READ, READ ONLY snapshot);
- ``gl_postings`` replaces its days in one transaction: if the connection was lost before COMMIT
  the server rolled everything back, and if it was lost during COMMIT (outcome unknown) the days
  were written whole or not at all, and a second posting replaces them with the same rows.

A statement is never re-sent on its own, and a step is never retried for any other kind of
failure: a server that refuses the connection (wrong password, no such database), a failed
check, a closed period or bad reference data fail at once, since retrying cannot help.
The retries wait 2, 4, 8 ... seconds (``JOURNAL_STEP_RETRIES``, default 3, 0 turns them off);
each is logged in the run; when they are used up the step fails with one line saying what was
lost, where, and that nothing was half written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import dagster as dg
import psycopg

from journal_pipeline.db.connection import DatabaseUnreachable, redact

STEP_RETRIES_ENV = "JOURNAL_STEP_RETRIES"
DEFAULT_STEP_RETRIES = 3
FIRST_STEP_RETRY_DELAY_S = 2


class DatabaseUnavailableError(RuntimeError):
    """The step's database connection was lost or could not be opened; what was written is said."""


def step_retries() -> int:
    value = os.environ.get(STEP_RETRIES_ENV) or str(DEFAULT_STEP_RETRIES)
    if not value.isdigit():
        raise ValueError(f"{STEP_RETRIES_ENV} must be a whole number (0 turns step retries off), not {value!r}")
    return int(value)


@dataclass
class Attempt:
    """How far the step's transaction got when the connection went: ``writing`` (rolled back by
    the server), ``committing`` (outcome unknown: whole or nothing) or ``committed``."""

    stage: Literal["writing", "committing", "committed"] = "writing"


_OUTCOMES = {
    "writing": "the transaction was rolled back, nothing was written",
    "committing": "the connection went during COMMIT, so the transaction was written whole or not at all",
    "committed": "the transaction had been committed whole before the connection went",
}


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return redact(text.splitlines()[0]) if text else type(error).__name__


@contextmanager
def retried_if_the_database_is_lost(
    context: dg.AssetExecutionContext, doing: str, *, writes: bool
) -> Iterator[Attempt]:
    """Run the block; if the database connection is lost or cannot be opened, ask Dagster to run
    the step again after a backoff, or, once the retries are used up, fail with a clear message.

    ``doing`` names the work ("posting 2024-07-18"); ``writes`` says whether the block writes in one
    transaction (then the message says it was rolled back, or, if it was lost during COMMIT, that
    it was written whole or not at all). Set ``attempt.stage`` to ``committing`` just before COMMIT
    and to ``committed`` after it.
    """
    attempt = Attempt()
    try:
        yield attempt
    except (psycopg.OperationalError, DatabaseUnreachable) as lost:
        outcome = _OUTCOMES[attempt.stage] if writes else "it only reads, nothing was written"
        retries, retry_number = step_retries(), context.retry_number
        message = f"{doing}: the database is unavailable ({_first_line(lost)}); {outcome}"
        if retry_number >= retries:
            tried = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
            raise DatabaseUnavailableError(f"{message}{tried}; rerun the day once the database is back") from None
        delay = FIRST_STEP_RETRY_DELAY_S * 2**retry_number
        context.log.warning(
            f"{message}; retry {retry_number + 1} of {retries} in {delay} s (safe: rerunning it replaces)"
        )
        raise dg.RetryRequested(max_retries=retries, seconds_to_wait=delay) from DatabaseUnavailableError(message)
