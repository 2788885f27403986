"""Connections: which URL, which role, and a connect() that says clearly what went wrong.

Two roles use the database:

- the *admin* role runs migrations, the seed generator and the legacy function;
- the *pipeline* role (``journal_pipeline``, created by the migrations) reads the source contract
  and writes ``ledger`` and ``audit``: nothing more (see sql/migrations/*_roles.sql).

With no ``JOURNAL_DATABASE_URL`` both are the embedded server's socket, as ``postgres`` and as
``journal_pipeline``; with one, the pipeline uses ``JOURNAL_PIPELINE_DATABASE_URL`` when set and
the admin URL otherwise.

Opening a connection is retried with bounded exponential backoff (``JOURNAL_CONNECT_ATTEMPTS``,
default 6: waits of 0.5, 1, 2, 4 and 8 s) while the server cannot be reached or is starting,
stopping or full; nothing has happened yet, so waiting is always safe. A server that answers
with a refusal that waiting does not cure (unknown role or database, wrong password) fails at
once. Statements are never retried here: whether re-running a write is safe is the caller's
call (see journal_pipeline.defs.retries).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from journal_pipeline.config import configured_database_url, configured_pipeline_database_url
from journal_pipeline.faults import fault_point

EMBEDDED_DATABASE = "journal"
PIPELINE_ROLE = "journal_pipeline"

CONNECT_ATTEMPTS_ENV = "JOURNAL_CONNECT_ATTEMPTS"
DEFAULT_CONNECT_ATTEMPTS = 6
FIRST_RETRY_DELAY_S = 0.5
MAX_RETRY_DELAY_S = 8.0

# What a server says while it starts, stops, recovers or is full: worth waiting for. Any other
# FATAL answer (no such role or database, wrong password, no pg_hba.conf entry) is final.
_TRANSIENT_REFUSALS = (
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "the database system is not accepting connections",
    "too many clients",
    "remaining connection slots",
    "terminating connection",
)


def _ensure_embedded_database(server_url: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(EMBEDDED_DATABASE)))
    return with_database(server_url, EMBEDDED_DATABASE)


def with_database(url: str, dbname: str) -> str:
    """The same server and user, another database (URL form kept when given a URL)."""
    return _replace_url_part(url, dbname=dbname)


def with_user(url: str, user: str) -> str:
    """The same server and database as another role, without a password."""
    return _replace_url_part(url, user=user, password=None)


def _replace_url_part(url: str, **changes: str | None) -> str:
    parts = {k: v for k, v in conninfo_to_dict(url).items() if v is not None}
    for key, value in changes.items():
        if value is None:
            parts.pop(key, None)
        else:
            parts[key] = value
    if not url.startswith(("postgresql://", "postgres://")):
        return make_conninfo(**parts)
    query = {k: v for k, v in parts.items() if k not in ("user", "password", "host", "port", "dbname")}
    host = parts.get("host", "")
    userinfo = parts.get("user", "")
    if "password" in parts:
        userinfo += ":" + quote(parts["password"], safe="")
    netloc = ""
    if host.startswith("/"):
        query = {"host": host, **query}
    else:
        netloc = host + (f":{parts['port']}" if "port" in parts else "")
    if userinfo:
        netloc = f"{quote(userinfo, safe=':')}@{netloc}"
    tail = ("?" + "&".join(f"{k}={v}" for k, v in query.items())) if query else ""
    return f"postgresql://{netloc}/{quote(parts.get('dbname', ''), safe='')}{tail}"


def admin_url() -> str:
    """The admin connection string: the configured database, or the embedded one (started if needed)."""
    configured = configured_database_url()
    if configured:
        return configured
    from journal_pipeline.db import embedded

    return _ensure_embedded_database(embedded.start())


def pipeline_url() -> str:
    """The pipeline role's connection string (least privilege)."""
    configured = configured_pipeline_database_url()
    if configured:
        return configured
    if configured_database_url():
        return configured_database_url()  # type: ignore[return-value]
    return with_user(admin_url(), PIPELINE_ROLE)


_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)([^@]*)(@)")
_PASSWORD_IN_DSN = re.compile(r"(password\s*=\s*)('[^']*'|\S+)")


def redact(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    return _PASSWORD_IN_DSN.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1***\3", url))


def describe(url: str) -> str:
    """host/socket, port, database and user of a connection string, without the password."""
    parts = conninfo_to_dict(url)
    where = parts.get("host") or "localhost"
    return f"database {parts.get('dbname', '?')} as {parts.get('user', '?')} on {where}:{parts.get('port', 5432)}"


class DatabaseUnreachable(ConnectionError):
    """No connection after every attempt: the server could not be reached, or was starting,
    stopping or full each time. Worth trying again later."""


class DatabaseRefused(ConnectionError):
    """The server answered and refused the connection (no such role or database, wrong password,
    no pg_hba.conf entry): trying again will not help until the configuration is fixed."""


def connect_attempts() -> int:
    """How many times to try to open a connection (``JOURNAL_CONNECT_ATTEMPTS``, at least 1)."""
    value = os.environ.get(CONNECT_ATTEMPTS_ENV) or str(DEFAULT_CONNECT_ATTEMPTS)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{CONNECT_ATTEMPTS_ENV} must be a whole number of at least 1, not {value!r}")
    return int(value)


def retry_delays(attempts: int) -> list[float]:
    """The waits between ``attempts`` connection attempts: 0.5 s, doubling, at most 8 s each."""
    return [min(FIRST_RETRY_DELAY_S * 2**n, MAX_RETRY_DELAY_S) for n in range(attempts - 1)]


def is_transient(error: psycopg.OperationalError) -> bool:
    """Whether a failed connection attempt is worth repeating: the server was not reached at all
    (no socket, refused, timed out, name not resolved), or it answered that it is starting,
    stopping, recovering or full."""
    text = str(error)
    return "FATAL:" not in text or any(refusal in text for refusal in _TRANSIENT_REFUSALS)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return redact(text.splitlines()[0]) if text else type(error).__name__


def _retry_logger() -> logging.Logger:
    """Dagster's logger inside a run (the warning shows in the run's event log), a plain one outside."""
    import dagster as dg

    return dg.get_dagster_logger("journal_pipeline.db")


def open_connection(
    url: str, *, autocommit: bool = False, application_name: str = "journal-pipeline", attempts: int | None = None
) -> psycopg.Connection:
    """``psycopg.connect`` with bounded exponential backoff on transient failures (module docstring);
    raises DatabaseRefused or DatabaseUnreachable (both ConnectionError) with one clear line,
    without the password, when it gives up."""
    attempts = attempts or connect_attempts()
    delays = retry_delays(attempts)
    waited = 0.0
    for attempt in range(1, attempts + 1):
        try:
            return psycopg.connect(url, autocommit=autocommit, application_name=application_name)
        except psycopg.OperationalError as exc:
            if not is_transient(exc):
                raise DatabaseRefused(f"cannot connect to {describe(url)}: {_first_line(exc)}") from None
            if attempt == attempts:
                tried = f"{attempts} attempt(s) over {waited:.1f} s" if attempts > 1 else "1 attempt"
                raise DatabaseUnreachable(f"cannot connect to {describe(url)} ({tried}): {_first_line(exc)}") from None
            delay = delays[attempt - 1]
            _retry_logger().warning(
                f"cannot connect to {describe(url)}: {_first_line(exc)}; attempt {attempt + 1} of {attempts} "
                f"in {delay:.1f} s"
            )
            time.sleep(delay)
            waited += delay
    raise AssertionError("unreachable")  # the loop returns or raises


@contextmanager
def connect(
    url: str, *, autocommit: bool = False, application_name: str = "journal-pipeline", attempts: int | None = None
) -> Iterator[psycopg.Connection]:
    """A psycopg connection that is closed afterwards (see :func:`open_connection`).

    Each step of a run opens its connections here, so this is also where the test-only fault
    point ``<asset>.connect`` is (journal_pipeline.faults)."""
    fault_point("connect")
    conn = open_connection(url, autocommit=autocommit, application_name=application_name, attempts=attempts)
    try:
        with conn:
            yield conn
    finally:
        conn.close()
