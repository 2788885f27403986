"""Connections: which URL, which role, and a connect() that says clearly what went wrong.

Two roles use the database:

- the *admin* role runs migrations, the seed generator and the legacy function;
- the *pipeline* role (``journal_pipeline``, created by the migrations) reads the source contract
  and writes ``ledger`` and ``audit``: nothing more (see sql/migrations/*_roles.sql).

With no ``JOURNAL_DATABASE_URL`` both are the embedded server's socket, as ``postgres`` and as
``journal_pipeline``; with one, the pipeline uses ``JOURNAL_PIPELINE_DATABASE_URL`` when set and
the admin URL otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from journal_pipeline.config import configured_database_url, configured_pipeline_database_url

EMBEDDED_DATABASE = "journal"
PIPELINE_ROLE = "journal_pipeline"


def _ensure_embedded_database(server_url: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE}"')
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


@contextmanager
def connect(
    url: str, *, autocommit: bool = False, application_name: str = "journal-pipeline"
) -> Iterator[psycopg.Connection]:
    """A psycopg connection that is closed afterwards; on failure, one clear line naming the server."""
    try:
        conn = psycopg.connect(url, autocommit=autocommit, application_name=application_name)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConnectionError(f"cannot connect to {describe(url)}: {first_line}") from None
    try:
        with conn:
            yield conn
    finally:
        conn.close()
