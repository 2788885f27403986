"""Least privilege, credentials only from the environment and never shown, parameterized SQL.

1. The pipeline's role can read the source contract and nothing else of ``legacy`` and ``eval``,
   write the ledger by DELETE and INSERT only (a day's journal lines and vouchers only whole,
   through ``ledger.open_day`` and ``ledger.close_day``, and its fraud scores through
   ``ledger.open_scores_day`` and ``close_scores_day``), and only read and append the audit trail; the
   database refuses everything else, whatever the SQL.
2. A password in JOURNAL_PIPELINE_DATABASE_URL reaches no log, no event, no run config, tag or
   metadata, no stored file and no definitions snapshot (what the UI shows), of a run that
   succeeds or of one that fails to connect.
3. No SQL in the package is built by formatting values into text (f-strings, %, +, str.format):
   values are parameters, names are sql.Identifier.
"""

from __future__ import annotations

import ast
import secrets
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import psycopg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value
from psycopg import sql

from journal_pipeline.config import project_root
from journal_pipeline.db.connection import PIPELINE_ROLE
from journal_pipeline.definitions import build_definitions
from journal_pipeline_tests import cases
from journal_pipeline_tests.reliability_support import pipeline_env, pipeline_process, run_command, tail

SOURCE_TABLES = ("companies", "accounts", "posting_rules", "fx_rates", "users", "src_transactions")
LEDGER_WRITTEN = ("gl_daily", "quarantine", "posted_days")
LEDGER_SWAPPED = ("journal_lines", "vouchers", "fraud_scores")  # replaced a whole day at a time, by functions
AUDIT_TABLES = ("seals", "seal_leaves", "events")
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")

EXPECTED = {
    **{f"legacy.{table}": {"SELECT"} for table in SOURCE_TABLES},
    **{f"ledger.{table}": {"SELECT", "INSERT", "DELETE"} for table in LEDGER_WRITTEN},
    **{f"ledger.{table}": {"SELECT"} for table in LEDGER_SWAPPED},
    "ledger.gl_balances": {"SELECT"},
    "ledger.closed_periods": {"SELECT"},
    **{f"audit.{table}": {"SELECT", "INSERT"} for table in AUDIT_TABLES},
}


def table_privileges(db) -> dict[str, set[str]]:
    """Every table, view and materialized view of the four schemas, with the pipeline role's privileges."""
    relations = db.rows(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname IN ('legacy', 'ledger', 'audit', 'eval') AND c.relkind IN ('r', 'v', 'm', 'p')"
    )
    return {
        name: {p for p in PRIVILEGES if db.scalar("SELECT has_table_privilege(%s, %s, %s)", (PIPELINE_ROLE, name, p))}
        for (name,) in relations
    }


def test_the_pipeline_role_has_only_the_privileges_it_needs(db):
    granted = table_privileges(db)
    for name, expected in EXPECTED.items():
        assert granted.pop(name) == expected, name
    # anything else (legacy outputs, ground truth, tables of later migrations): at most read in ledger
    for name, privileges in granted.items():
        allowed = {"SELECT"} if name.startswith("ledger.") else set()
        assert privileges <= allowed, f"{name}: {privileges}"

    role = db.rows(
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = %s",
        (PIPELINE_ROLE,),
    )
    assert role == [(False, False, False, False, False)]
    assert db.scalar("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s",
                     (PIPELINE_ROLE,)) == 0  # fmt: skip
    for schema in ("legacy", "ledger", "audit", "eval", "public"):
        assert not db.scalar("SELECT has_schema_privilege(%s, %s, 'CREATE')", (PIPELINE_ROLE, schema)), schema
    assert not db.scalar("SELECT has_database_privilege(%s, current_database(), 'CREATE')", (PIPELINE_ROLE,))
    assert not db.scalar("SELECT has_sequence_privilege(%s, 'legacy.journal_no_seq', 'USAGE')", (PIPELINE_ROLE,))
    for function in ("legacy.fn_insert_sun_journal(date, integer)", "legacy.try_numeric(text)"):
        assert not db.scalar("SELECT has_function_privilege(%s, %s, 'EXECUTE')", (PIPELINE_ROLE, function)), function
    for function in (
        "ledger.open_day(date)",
        "ledger.close_day(date)",
        "ledger.open_scores_day(date)",
        "ledger.close_scores_day(date)",
    ):
        assert db.scalar("SELECT has_function_privilege(%s, %s, 'EXECUTE')", (PIPELINE_ROLE, function)), function
        assert not db.scalar("SELECT has_function_privilege('public', %s, 'EXECUTE')", (function,)), function


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit.seals SET run_id = 'x'",
        "DELETE FROM audit.seals",
        "DELETE FROM audit.events",
        "UPDATE audit.events SET run_id = 'x'",
        "TRUNCATE audit.seal_leaves",
        "UPDATE ledger.journal_lines SET amount_base = 0",
        "DELETE FROM ledger.journal_lines",
        "INSERT INTO ledger.journal_lines (journal_date) VALUES ('2024-07-18')",
        "DELETE FROM ledger.journal_lines_default",
        "TRUNCATE ledger.journal_lines",
        "DELETE FROM ledger.vouchers",
        "INSERT INTO ledger.fraud_scores (journal_date) VALUES ('2024-07-18')",
        "SELECT ledger.swap_in_day_table('vouchers', '2024-07-18')",
        "INSERT INTO legacy.src_transactions (txn_id) VALUES (-1)",
        "UPDATE legacy.posting_rules SET net_account = '9999'",
        "DELETE FROM legacy.src_transactions",
        "SELECT count(*) FROM legacy.sun_journal",
        "SELECT count(*) FROM eval.ground_truth",
        "SELECT legacy.fn_insert_sun_journal('2024-07-18', 1)",
        "INSERT INTO ledger.closed_periods (period) VALUES (2024007)",
        "CREATE TABLE ledger.shadow (x int)",
    ],
)
def test_the_database_refuses_the_pipeline_role_everything_else(db, statement):
    with psycopg.connect(db.pipeline_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


# --- credentials ---------------------------------------------------------------------------------


@pytest.fixture
def role_with_password(db):
    """A login role with a real password and the pipeline role's privileges (roles are cluster-wide:
    a name of its own, dropped afterwards)."""
    name, password = f"pipeline_{secrets.token_hex(4)}", f"pw_{secrets.token_hex(16)}"
    with db.connect() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(name), sql.Literal(password), sql.Identifier(PIPELINE_ROLE)
            )
        )
    yield name, password
    with db.connect() as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def url_with_password(admin_url: str, role: str, password: str, database: str) -> str:
    """The admin URL's server, as ``role`` with ``password`` (the embedded server trusts its socket,
    so the password is carried, not checked: enough to see where it would leak)."""
    socket = psycopg.conninfo.conninfo_to_dict(admin_url)["host"]
    return f"postgresql://{role}:{quote(password, safe='')}@/{database}?host={quote(socket, safe='/')}"


def files_containing(folder: Path, needles: list[bytes]) -> list[str]:
    return [
        str(path)
        for path in folder.rglob("*")
        if path.is_file() and any(needle in path.read_bytes() for needle in needles)
    ]


# RepositorySnap.from_def reads a deprecated schedule property of Dagster's own
@pytest.mark.filterwarnings("ignore:Property `ScheduleDefinition.environment_vars` is deprecated")
def test_the_password_appears_in_no_log_event_metadata_file_or_ui(db, tmp_path, role_with_password):
    role, password = role_with_password
    needles = [password.encode(), quote(password, safe="").encode()]
    with db.connect() as conn:
        cases.load_cases(conn)
    dagster_home, storage = tmp_path / "dagster", tmp_path / "storage"
    good_url = url_with_password(db.admin_url, role, password, db.name)
    bad_url = url_with_password(db.admin_url, role, password, "no_such_database")

    runs = {}
    for name, url in (("succeeds", good_url), ("cannot_connect", bad_url)):
        env = pipeline_env(db, storage, dagster_home, JOURNAL_PIPELINE_DATABASE_URL=url)
        log = tmp_path / f"{name}.log"
        with pipeline_process(run_command(cases.DAY, cases.NEXT_DAY), env, log) as proc:
            runs[name] = (proc.wait(timeout=300), log)
    assert runs["succeeds"][0] == 0, tail(runs["succeeds"][1])
    assert db.scalar("SELECT count(*) FROM ledger.journal_lines") == len(cases.POSTED_LINES) + 3
    status, log = runs["cannot_connect"]
    assert status == 1
    # the scan looks where it should: the failure names the role and the database, not the password
    assert f"cannot connect to database no_such_database as {role} on " in log.read_text()

    # the processes' output, and every file the runs left: Dagster's run and event storage, compute
    # logs, the intermediate Parquet
    assert files_containing(tmp_path, needles) == []
    # what the UI reads: every run's config, tags and event log (messages, metadata, errors)
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        stored = instance.get_runs()
        assert len(stored) == 2
        for run in stored:
            text = serialize_value(run) + "".join(serialize_value(e) for e in instance.all_logs(run.run_id))
            assert password not in text and quote(password, safe="") not in text, run.run_id
    finally:
        instance.dispose()
    # what the UI shows of the definitions: the resource's configuration is the variable's name
    snapshot = serialize_value(RepositorySnap.from_def(build_definitions_with(good_url).get_repository_def()))
    assert password not in snapshot and "JOURNAL_PIPELINE_DATABASE_URL" in snapshot
    # and what the pipeline wrote to the database
    assert db.scalar("SELECT count(*) FROM audit.events WHERE payload::text LIKE %s", (f"%{password}%",)) == 0


def build_definitions_with(url: str) -> dg.Definitions:
    import os

    saved = os.environ.get("JOURNAL_PIPELINE_DATABASE_URL")
    os.environ["JOURNAL_PIPELINE_DATABASE_URL"] = url
    try:
        return build_definitions()
    finally:
        if saved is None:
            os.environ.pop("JOURNAL_PIPELINE_DATABASE_URL", None)
        else:
            os.environ["JOURNAL_PIPELINE_DATABASE_URL"] = saved


def test_the_database_resource_takes_its_url_from_the_environment_only(monkeypatch):
    monkeypatch.setenv("JOURNAL_PIPELINE_DATABASE_URL", "postgresql://someone:hunter2@db.example/journal")
    resource = build_definitions().resources["database"]
    assert resource.url == "JOURNAL_PIPELINE_DATABASE_URL"  # an EnvVar: its name until a run resolves it
    assert isinstance(resource.url, dg.EnvVar)


# --- parameterized SQL ---------------------------------------------------------------------------

# Calls that take SQL text: psycopg's execute/executemany/copy/stream and psycopg.sql.SQL.
SQL_CALLS = {"execute", "executemany", "copy", "stream", "SQL"}


def _formatted(node: ast.AST) -> ast.AST | None:
    """The first part of ``node`` that builds text from values: an f-string with a field, % or +
    with something other than two literals, or str.format on a literal."""
    for part in ast.walk(node):
        if isinstance(part, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in part.values):
            return part
        literals = isinstance(part, ast.BinOp) and all(isinstance(s, ast.Constant) for s in (part.left, part.right))
        if isinstance(part, ast.BinOp) and isinstance(part.op, ast.Mod | ast.Add) and not literals:
            return part
        if (
            isinstance(part, ast.Call)
            and isinstance(part.func, ast.Attribute)
            and part.func.attr == "format"
            and isinstance(part.func.value, ast.Constant)
        ):
            return part
    return None


def formatted_sql(source: str) -> list[tuple[int, str]]:
    """(line, call) of every SQL call in ``source`` whose text is formatted from values, looking
    through module-level names (``conn.execute(QUERY)`` where QUERY is an f-string counts)."""
    tree = ast.parse(source)
    module_values = {
        target.id: statement.value
        for statement in tree.body
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None
        for target in (statement.targets if isinstance(statement, ast.Assign) else [statement.target])
        if isinstance(target, ast.Name)
    }
    found: dict[int, str] = {}  # by line: conn.execute(sql.SQL(f"...")) is one finding, not two
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        if name not in SQL_CALLS:
            continue
        text = node.args[0]
        if isinstance(text, ast.Name) and text.id in module_values:
            text = module_values[text.id]
        if _formatted(text) is not None:
            found.setdefault(node.lineno, ast.unparse(node)[:120])
    return sorted(found.items())


def test_the_scan_finds_sql_formatted_from_values():
    unsafe = """
QUERY = f"SELECT * FROM t WHERE id = {1}"
def f(conn, day, table):
    conn.execute(f"DELETE FROM ledger.vouchers WHERE journal_date = '{day}'")
    conn.execute("SELECT * FROM t WHERE d = '%s'" % day)
    conn.execute("SELECT * FROM " + table)
    conn.cursor().copy("COPY {} FROM STDIN".format(table))
    conn.execute(sql.SQL(f"SELECT {day}"))
    conn.execute(QUERY)
"""
    safe = """
def f(conn, day, table):
    conn.execute("DELETE FROM ledger.vouchers WHERE journal_date = %s", (day,))
    conn.execute(sql.SQL("SELECT * FROM {} WHERE d = %s").format(sql.Identifier(table)), (day,))
    conn.execute("SELECT 1 " "FROM t")
"""
    assert [line for line, _ in formatted_sql(unsafe)] == [4, 5, 6, 7, 8, 9]
    assert formatted_sql(safe) == []


def test_no_sql_in_the_package_is_formatted_from_values():
    package = project_root() / "journal_pipeline"
    found = {
        f"{path.relative_to(project_root())}:{line}": call
        for path in sorted(package.rglob("*.py"))
        for line, call in formatted_sql(path.read_text(encoding="utf-8"))
    }
    assert found == {}
