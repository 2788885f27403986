"""The database roles of a deployment, set from the environment: what ``journal-pipeline provision`` does
after ``migrate`` (the compose file's ``migrate`` service runs both).

- The pipeline's role ``journal_pipeline``, which the migrations create without a password, gets
  ``JOURNAL_PIPELINE_PASSWORD``: the pipeline then connects as it (``JOURNAL_PIPELINE_DATABASE_URL``).
- Dagster's storage gets a role and a database of its own (``DAGSTER_POSTGRES_USER``,
  ``DAGSTER_POSTGRES_PASSWORD``, ``DAGSTER_POSTGRES_DB``), so that the webserver, the daemon and every run
  container hold credentials that reach Dagster's tables and nothing of the ledger, rather than the
  superuser's.

Passwords are sent as SCRAM-SHA-256 verifiers computed on this side (libpq's ``PQencryptPasswordConn``),
so the clear text never reaches the server or its statement log. Safe to run again: the role and the
database are created when missing and the passwords are set every time, which is how they are rotated
(change them in ``.env``, run the migrate service, restart the others).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import psycopg
from psycopg import sql

from journal_pipeline.db.connection import PIPELINE_ROLE, connect

SCRAM: Final = b"scram-sha-256"


class ProvisionError(RuntimeError):
    """The deployment's roles cannot be set up as asked; nothing after the failing step was done."""


@dataclass(frozen=True)
class ProvisionPlan:
    """What to set up; None leaves that part alone."""

    pipeline_password: str | None = None
    dagster_user: str | None = None
    dagster_password: str | None = None
    dagster_database: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ProvisionPlan:
        return cls(
            pipeline_password=environ.get("JOURNAL_PIPELINE_PASSWORD") or None,
            dagster_user=environ.get("DAGSTER_POSTGRES_USER") or None,
            dagster_password=environ.get("DAGSTER_POSTGRES_PASSWORD") or None,
            dagster_database=environ.get("DAGSTER_POSTGRES_DB") or None,
        )

    @property
    def empty(self) -> bool:
        return not (self.pipeline_password or self.dagster_user or self.dagster_database)


def _role_exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def _set_password(conn: psycopg.Connection, role: str, password: str) -> None:
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), SCRAM).decode()
    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier)))


def provision(admin_conninfo: str, plan: ProvisionPlan) -> list[str]:
    """Apply the plan as the admin role (a superuser, or a role with CREATEROLE and CREATEDB); return
    one line per thing done."""
    done: list[str] = []
    with connect(admin_conninfo, autocommit=True, application_name="journal-pipeline provision") as conn:
        if plan.pipeline_password:
            if not _role_exists(conn, PIPELINE_ROLE):
                raise ProvisionError(f"role {PIPELINE_ROLE} does not exist: run `journal-pipeline migrate` first")
            _set_password(conn, PIPELINE_ROLE, plan.pipeline_password)
            done.append(f"password of {PIPELINE_ROLE} set")
        if plan.dagster_user:
            done += _provision_dagster_role(conn, plan.dagster_user, plan.dagster_password)
        if plan.dagster_database:
            done += _provision_dagster_database(conn, plan.dagster_database, plan.dagster_user or conn.info.user)
    return done


def _provision_dagster_role(conn: psycopg.Connection, role: str, password: str | None) -> list[str]:
    if role == conn.info.user:
        # Dagster shares the admin's role (as in Dagster's own example): that password is the server's.
        return [f"Dagster's storage uses the admin role {role}: its password is left alone"]
    if role == PIPELINE_ROLE:
        raise ProvisionError(f"DAGSTER_POSTGRES_USER must not be {PIPELINE_ROLE}: give Dagster a role of its own")
    if not password:
        raise ProvisionError(f"DAGSTER_POSTGRES_PASSWORD is not set: the role {role} needs a password")
    done = []
    if not _role_exists(conn, role):
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        done.append(f"role {role} created")
    _set_password(conn, role, password)
    return [*done, f"password of {role} set"]


def _provision_dagster_database(conn: psycopg.Connection, database: str, owner: str) -> list[str]:
    row = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,)).fetchone()
    if row is None:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(owner)))
        return [f"database {database} created, owned by {owner}"]
    if row[0] != owner:
        raise ProvisionError(
            f"database {database} exists but belongs to {row[0]}, not {owner}: Dagster creates its tables there as "
            f"{owner}; ALTER DATABASE {database} OWNER TO {owner}, or name another DAGSTER_POSTGRES_DB"
        )
    return [f"database {database} exists, owned by {owner}"]
