"""``journal-pipeline provision`` (journal_pipeline/provision.py) on the embedded server: the roles and the
database a deployment needs besides the schema, with SCRAM verifiers that match the passwords."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from journal_pipeline.db.connection import PIPELINE_ROLE
from journal_pipeline.provision import ProvisionError, ProvisionPlan, provision
from journal_pipeline_tests.conftest import Database
from journal_pipeline_tests.services import BIN


def scram_matches(verifier: str, password: str) -> bool:
    """Whether a PostgreSQL SCRAM-SHA-256 verifier was made from ``password`` (RFC 5802 / 7677)."""
    scheme, rest = verifier.split("$", 1)
    iterations_and_salt, keys = rest.split("$")
    iterations, salt = iterations_and_salt.split(":")
    stored_key, server_key = (base64.b64decode(key) for key in keys.split(":"))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return (
        scheme == "SCRAM-SHA-256"
        and hashlib.sha256(client_key).digest() == stored_key
        and hmac.new(salted, b"Server Key", hashlib.sha256).digest() == server_key
    )


@pytest.fixture
def dagster_name(server_url: str) -> Iterator[str]:
    """A name for Dagster's role and database; both removed afterwards, and the pipeline role's password
    too (roles belong to the whole server, which the other tests share)."""
    name = f"dagster_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')
        conn.execute(f'ALTER ROLE "{PIPELINE_ROLE}" PASSWORD NULL')


def password_of(server_url: str, role: str) -> str | None:
    with psycopg.connect(server_url) as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
    return row[0] if row else None


def test_provision_sets_the_passwords_and_gives_dagster_a_role_and_database_of_its_own(
    server_url: str, db: Database, dagster_name: str
) -> None:
    plan = ProvisionPlan(
        pipeline_password="pipeline-secret", dagster_user=dagster_name, dagster_password="dagster-secret",
        dagster_database=dagster_name,
    )  # fmt: skip
    assert provision(db.admin_url, plan) == [
        f"password of {PIPELINE_ROLE} set",
        f"role {dagster_name} created",
        f"password of {dagster_name} set",
        f"database {dagster_name} created, owned by {dagster_name}",
    ]
    # verifiers, not the passwords, reached the server; and they match
    assert scram_matches(password_of(server_url, PIPELINE_ROLE) or "", "pipeline-secret")
    assert scram_matches(password_of(server_url, dagster_name) or "", "dagster-secret")
    with psycopg.connect(server_url) as conn:
        role = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s",
            (dagster_name,),
        ).fetchone()
    assert role == (True, False, False, False)  # may log in, and nothing else beyond its database

    # again, with a rotated password: nothing is created twice, the new password applies
    rotated = ProvisionPlan(dagster_user=dagster_name, dagster_password="rotated", dagster_database=dagster_name)
    assert provision(db.admin_url, rotated) == [
        f"password of {dagster_name} set",
        f"database {dagster_name} exists, owned by {dagster_name}",
    ]
    assert scram_matches(password_of(server_url, dagster_name) or "", "rotated")


def test_provision_refuses_what_would_go_wrong_later(server_url: str, db: Database, dagster_name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dagster_name}"')  # owned by the admin, not by Dagster's role
    plan = ProvisionPlan(dagster_user=dagster_name, dagster_password="secret", dagster_database=dagster_name)
    with pytest.raises(ProvisionError, match=f"database {dagster_name} exists but belongs to postgres"):
        provision(db.admin_url, plan)
    with pytest.raises(ProvisionError, match="DAGSTER_POSTGRES_PASSWORD is not set"):
        provision(db.admin_url, ProvisionPlan(dagster_user=f"{dagster_name}_other"))
    with pytest.raises(ProvisionError, match=f"must not be {PIPELINE_ROLE}"):
        provision(db.admin_url, ProvisionPlan(dagster_user=PIPELINE_ROLE, dagster_password="secret"))
    # Dagster on the admin's own role, as in Dagster's example: that password is not ours to change
    assert provision(db.admin_url, ProvisionPlan(dagster_user="postgres", dagster_password="other")) == [
        "Dagster's storage uses the admin role postgres: its password is left alone"
    ]


def test_the_command_reads_the_environment(db: Database, dagster_name: str) -> None:
    env = {"PATH": str(BIN), "JOURNAL_DATABASE_URL": db.admin_url}
    command = [str(BIN / "journal-pipeline"), "provision"]
    nothing = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert nothing.returncode == 2
    assert nothing.stderr.startswith("journal-pipeline provision: nothing to provision: set JOURNAL_PIPELINE_PASSWORD")

    env |= {
        "DAGSTER_POSTGRES_USER": dagster_name,
        "DAGSTER_POSTGRES_PASSWORD": "s3cret",
        "DAGSTER_POSTGRES_DB": dagster_name,
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"role {dagster_name} created",
        f"password of {dagster_name} set",
        f"database {dagster_name} created, owned by {dagster_name}",
    ]
