"""The production shape of docker-compose.yml, without Docker: the embedded PostgreSQL, ``dagster api grpc``
(the user-code server), dagster-webserver and dagster-daemon on an instance stored in PostgreSQL
(deploy/dagster.yaml with the DefaultRunLauncher), Dagster's storage in a role and database of its own
(``journal-pipeline provision``), and runs that connect to the ledger as the pipeline's role only.

One deployment for the module (starting it and backfilling takes a minute or two); the tests run in file
order: the backfill and the UI first, then a run that fails and what the failure leaves behind.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from journal_pipeline.definitions import JOURNAL_ASSETS
from journal_pipeline.defs.assets.fraud import HISTORY
from journal_pipeline.defs.partitions import BACKFILL_DAYS_PER_RUN
from journal_pipeline.provision import ProvisionPlan, provision
from journal_pipeline_tests import cases
from journal_pipeline_tests.conftest import TEMPLATE, Database, clone_database, drop_database
from journal_pipeline_tests.services import (
    ASSET_PARTITIONS,
    BIN,
    Deployment,
    chromium,
    deployment_instance_config,
    ensure_chromium,
    free_port,
    graphql,
    launch_asset_run,
    launch_backfill,
    process,
    production_shape,
    run_errors,
    run_status,
    scrape,
    wait_for_backfill,
    wait_for_http,
    webhook_receiver,
)

ASSET_NAMES = [key.to_user_string() for asset in JOURNAL_ASSETS for key in asset.keys]
HISTORY_DAYS = -HISTORY.start_offset
DAYS = [cases.DAY - dt.timedelta(days=1), cases.DAY, cases.NEXT_DAY]
# A day whose journal lines were never made: materializing its vouchers alone fails, as a real run would
# when a step upstream is missing.
FAILING_DAY = dt.date(2024, 8, 30)
SCREENSHOTS = os.environ.get("JOURNAL_SCREENSHOTS_DIR")  # set to keep the screenshots (docs/ has one)

PARTITION_RANGES = """
query PartitionRanges($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      assetPartitionStatuses { ... on TimePartitionStatuses { ranges { status startKey endKey } } }
    }
  }
}
"""

SENSOR_TICKS = """
query SensorTicks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      sensorState {
        status
        ticks(limit: 20, statuses: [SUCCESS, FAILURE]) { status logEvents { events { level message } } }
      }
    }
  }
}
"""
ALERT_SENSOR = {
    "repositoryLocationName": "journal_pipeline",
    "repositoryName": "__repository__",
    "sensorName": "run_failure_alert_sensor",
}


@dataclass
class Operated:
    deployment: Deployment
    database: Database
    backfill: dict
    webhook: list[dict]
    home: Path


@pytest.fixture(scope="module")
def operated(server_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operated]:
    """The deployment after a backfill of the case book's days launched as the UI launches it."""
    home = tmp_path_factory.mktemp("production_shape")
    database = clone_database(server_url, TEMPLATE, prefix="ops")
    dagster_name = f"dagster_{database.name}"
    try:
        with database.connect() as conn:
            cases.load_cases(conn)
        provision(
            server_url,
            ProvisionPlan(dagster_user=dagster_name, dagster_password="test-only", dagster_database=dagster_name),
        )
        with psycopg.connect(server_url) as conn:
            port = conn.execute("SHOW port").fetchone()[0]  # type: ignore[index]
        socket_dir = conninfo_to_dict(server_url)["host"]
        instance_config = deployment_instance_config(socket_dir, home / "compute_logs")
        # What docker-compose.yml gives the daemon and the code server, and nothing else: no admin URL.
        env = {key: value for key, value in os.environ.items() if key != "JOURNAL_DATABASE_URL"}
        env |= {
            "DAGSTER_POSTGRES_HOST": "localhost",  # the URL's host; the socket directory takes precedence
            "DAGSTER_POSTGRES_PORT": str(port),
            "DAGSTER_POSTGRES_USER": dagster_name,
            "DAGSTER_POSTGRES_PASSWORD": "test-only",
            "DAGSTER_POSTGRES_DB": dagster_name,
            "JOURNAL_PIPELINE_DATABASE_URL": database.pipeline_url,
            "JOURNAL_STORAGE_DIR": str(home / "storage"),
        }
        with webhook_receiver() as (hook_url, received):
            env["JOURNAL_ALERT_WEBHOOK_URL"] = hook_url
            with production_shape(home, env, instance_config) as deployment:
                backfill_id = launch_backfill(deployment.url, ASSET_NAMES, [day.isoformat() for day in DAYS])
                backfill = wait_for_backfill(deployment.url, backfill_id, check_alive=deployment.check_alive)
                yield Operated(deployment, database, backfill, received, home)
    finally:
        drop_database(server_url, database.name)
        drop_database(server_url, dagster_name)
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{dagster_name}"')


@dataclass(frozen=True)
class FailedRun:
    run_id: str
    events: list[tuple[dt.date | None, dict]]


@pytest.fixture(scope="module")
def failed_run(operated: Operated) -> FailedRun:
    """A run launched from the UI that fails, after the failure sensor has handled it."""
    deployment = operated.deployment
    deployment.wait_until("the run-failure sensor has started", lambda: _sensor_started(deployment.url), 120)
    run_id = launch_asset_run(deployment.url, "daily_journal_job", ["vouchers"], FAILING_DAY.isoformat())
    deployment.wait_until(
        f"run {run_id} has failed", lambda: run_status(deployment.url, run_id) in ("FAILURE", "SUCCESS"), 180
    )
    assert run_status(deployment.url, run_id) == "FAILURE"
    query = "SELECT partition_date, payload FROM audit.events WHERE event_type = 'run_failed' AND run_id = %s"
    events = deployment.wait_until(
        "the sensor has recorded the failure in audit.events", lambda: operated.database.rows(query, (run_id,)), 180
    )
    return FailedRun(run_id, events)  # type: ignore[arg-type]


def _sensor_ticks(url: str) -> list[dict]:
    """The alert sensor's ticks that did something (the skipped ones are left out)."""
    sensor = graphql(url, SENSOR_TICKS, {"selector": ALERT_SENSOR})["sensorOrError"]
    assert sensor["__typename"] == "Sensor", sensor
    assert sensor["sensorState"]["status"] == "RUNNING", "the alert sensor is on by default"
    return sensor["sensorState"]["ticks"]


def _sensor_started(url: str) -> bool:
    """A run-status sensor only sees runs that finish after its first tick, which sets its cursor."""
    query = """
    query Started($selector: SensorSelector!) {
      sensorOrError(sensorSelector: $selector) { ... on Sensor { sensorState { ticks(limit: 1) { status } } } }
    }"""
    return bool(graphql(url, query, {"selector": ALERT_SENSOR})["sensorOrError"]["sensorState"]["ticks"])


def test_a_ui_backfill_on_the_production_shape_posts_the_case_book(operated: Operated) -> None:
    backfill, url, database = operated.backfill, operated.deployment.url, operated.database
    errors = [error for run in backfill["runs"] for error in run_errors(url, run["runId"])]
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), (backfill, errors)
    assert backfill["runs"] and all(run["status"] == "SUCCESS" for run in backfill["runs"]), backfill

    # Dagster's partition status: the three days of every asset, and for fraud scores and seals the 28
    # days after them too (their history window reads the backfilled days, so lineage re-scores them)
    for name in ASSET_NAMES:
        stats = graphql(url, ASSET_PARTITIONS, {"path": [name]})["assetNodeOrError"]["partitionStats"]
        expected = len(DAYS) + (HISTORY_DAYS if name in ("fraud_scores", "audit_seals") else 0)
        assert (stats["numMaterialized"], stats["numFailed"]) == (expected, 0), (name, stats)
    statuses = graphql(url, PARTITION_RANGES, {"path": ["gl_postings"]})["assetNodeOrError"]["assetPartitionStatuses"]
    assert statuses["ranges"] == [
        {"status": "MATERIALIZED", "startKey": str(DAYS[0]), "endKey": str(DAYS[-1])},
    ]

    # the ledger holds exactly the case book, posted by the pipeline's role
    assert database.scalar("SELECT count(*) FROM ledger.journal_lines") == len(cases.POSTED_LINES) + 3
    assert database.scalar("SELECT count(*) FROM ledger.vouchers") == 8  # 7 on DAY, 1 on NEXT_DAY
    quarantined = database.rows("SELECT txn_id, reason FROM ledger.quarantine ORDER BY txn_id")
    assert dict(quarantined) == cases.QUARANTINED
    gl = database.rows(
        "SELECT company_id, account_code, period, debit, credit FROM ledger.gl_daily WHERE journal_date = %s",
        (cases.DAY,),
    )
    assert {(c, a, p): (d, k) for c, a, p, d, k in gl} == cases.GL
    assert database.scalar("SELECT count(DISTINCT partition_date) FROM audit.seals") == len(DAYS) + HISTORY_DAYS


def test_the_browser_shows_the_asset_graph_and_the_materialized_gl_partitions(
    operated: Operated, tmp_path: Path
) -> None:
    """Headless Chromium on the Dagster UI: the lineage of the six assets, and the GL's partitions with the
    three backfilled days materialized and their metadata. Saves both screenshots (docs/ has them)."""
    executable = ensure_chromium()
    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    url = operated.deployment.url
    with chromium(executable, tmp_path / "chromium-profile", width=1800, height=900) as browser:
        browser.open(f"{url}/locations/journal_pipeline/asset-groups/journal")
        browser.wait_for_text(["journal", "Lineage", *ASSET_NAMES])
        # room for the graph, and one step closer: the nodes then show their checks and partitions
        browser.click_button("Hide navigation")
        browser.click("[aria-label=zoom_in]")
        graph_text = browser.wait_for_text(["Asset checks", "Passed", "filled"], absent=["Loading"])
        graph = browser.screenshot(shots / "dagster-asset-graph.png")

        selected = f"{url}/assets/gl_postings?view=partitions&partition={cases.DAY}&status=MATERIALIZED"
        browser.open(selected)
        partitions_text = browser.wait_for_text(
            ["gl_postings", "Materialized (3)", "Failed (0)", *(str(day) for day in DAYS), "journal_lines", "20"]
        )
        partitions = browser.screenshot(shots / "dagster-gl-partitions.png")
    assert all(name in graph_text for name in ASSET_NAMES)
    assert "quarantined_by_reason" in partitions_text
    for shot in (graph, partitions):
        assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and shot.stat().st_size > 20_000, shot


def test_a_failed_run_is_logged_recorded_in_the_audit_trail_and_alerted(
    operated: Operated, failed_run: FailedRun
) -> None:
    # one run_failed event, for the run's day, naming the step and the reason
    assert [day for day, _ in failed_run.events] == [FAILING_DAY]
    payload = failed_run.events[0][1]
    assert payload["run_id"] == failed_run.run_id
    assert payload["job"] == "daily_journal_job"
    assert payload["partitions"] == str(FAILING_DAY)
    [step] = payload["failed_steps"]
    assert step["step"] == "vouchers"
    assert step["reason"].startswith("DagsterInvariantViolationError: journal_lines has not been materialized for ")

    # the audit chain still verifies with the event in it
    verify = subprocess.run(
        [str(BIN / "journal-pipeline"), "audit", "verify"],
        env=operated.deployment.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # the sensor's tick log says it in one line, with a link to the run
    summary = (
        f"run {failed_run.run_id[:8]} of daily_journal_job for {FAILING_DAY} failed: vouchers: "
        "DagsterInvariantViolationError: journal_lines has not been materialized for"
    )
    logged = [
        event["message"]
        for tick in _sensor_ticks(operated.deployment.url)
        for event in tick["logEvents"]["events"]
        if event["level"] == "ERROR"
    ]
    assert any(message.startswith(summary) for message in logged), logged
    assert any(f"{operated.deployment.url}/runs/{failed_run.run_id}" in message for message in logged), logged

    # and the webhook (Slack's format) got the same line
    operated.deployment.wait_until("the webhook has the alert", lambda: operated.webhook, 60)
    assert [body["text"] for body in operated.webhook] == [message for message in logged if message.startswith(summary)]


def test_the_metrics_endpoint_reports_what_the_runs_did(operated: Operated, failed_run: FailedRun) -> None:
    deployment, database = operated.deployment, operated.database
    port = free_port()
    log = operated.home / "metrics.log"
    args = [str(BIN / "journal-pipeline"), "metrics", "--port", str(port)]
    with process(args, deployment.env, log) as proc:
        wait_for_http(f"http://127.0.0.1:{port}/metrics", proc, log, timeout=60)
        metrics = scrape(f"http://127.0.0.1:{port}/metrics")
        again = scrape(f"http://127.0.0.1:{port}/metrics")

    def value(name: str, **labels: str) -> float:
        return metrics[(name, tuple(sorted(labels.items())))]

    job = "daily_journal_job"  # the failed run's; a backfill of assets runs as Dagster's implicit asset job
    [backfill_job] = {run["jobName"] for run in operated.backfill["runs"]}
    backfill_runs = len(operated.backfill["runs"])
    # the ledger's own counts: every row was written once
    assert value("journal_rows_posted_total") == database.scalar("SELECT count(*) FROM ledger.journal_lines") == 20
    assert value("journal_rows_quarantined_total") == len(cases.QUARANTINED)
    flagged = database.scalar("SELECT count(*) FROM ledger.fraud_scores WHERE risk_score > 0")
    assert value("journal_rows_flagged_total") == flagged
    # the runs: the backfill's, and the one that failed
    assert value("journal_runs_total", job=backfill_job, status="SUCCESS") == backfill_runs
    assert value("journal_runs_total", job=job, status="FAILURE") == 1
    assert value("journal_errors_total", job=job, kind="run_failure") == 1
    assert value("journal_errors_total", job=job, kind="step_failure") == 1
    assert [key for key in metrics if key[0] == "journal_errors_total" and ("job", backfill_job) in key[1]] == []
    # step durations: the three days were posted in one run, their 31 days of fraud scores in runs of a week
    assert value("journal_process_seconds_count", job=backfill_job, step="gl_postings") == 1
    assert value("journal_process_seconds_bucket", job=backfill_job, step="gl_postings", le="+Inf") == 1
    scoring_runs = math.ceil((len(DAYS) + HISTORY_DAYS) / BACKFILL_DAYS_PER_RUN)
    for step in ("fraud_scores", "audit_seals"):
        assert value("journal_process_seconds_count", job=backfill_job, step=step) == scoring_runs
    assert value("journal_process_seconds_sum", job=backfill_job, step="gl_postings") > 0
    # freshness: the last sealed day is the last day the fraud history reached
    last_sealed = DAYS[-1] + dt.timedelta(days=HISTORY_DAYS)
    midnight = dt.datetime.combine(last_sealed, dt.time(), tzinfo=dt.UTC).timestamp()
    assert value("journal_last_sealed_day_timestamp_seconds") == midnight
    assert value("journal_metrics_source_up", source="dagster") == 1
    assert value("journal_metrics_source_up", source="ledger") == 1
    # a second scrape reads no run twice
    assert again == metrics


def test_metrics_once_prints_the_same_figures_for_a_textfile_collector(
    operated: Operated, failed_run: FailedRun
) -> None:
    result = subprocess.run(
        [str(BIN / "journal-pipeline"), "metrics", "--once"],
        env=operated.deployment.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "journal_rows_posted_total 20.0" in result.stdout
    assert 'journal_errors_total{job="daily_journal_job",kind="run_failure"} 1.0' in result.stdout
