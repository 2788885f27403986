"""Real Dagster services for end-to-end tests: start them, wait for them, talk GraphQL, stop them."""

from __future__ import annotations

import base64
import contextlib
import http.server
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import websockets.sync.client
import yaml
from prometheus_client.parser import text_string_to_metric_families

from journal_pipeline.config import project_root
from journal_pipeline_tests.reliability_support import pipeline_process

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def process(args: list[str], env: dict[str, str], log: Path) -> contextlib.AbstractContextManager[subprocess.Popen]:
    """A service process in its own group, its output in ``log``, stopped (the whole group) afterwards."""
    return pipeline_process(args, env, log, grace=30)


@contextmanager
def dagster_dev(dagster_home: Path, env: dict[str, str]) -> Iterator[str]:
    """``dagster dev`` (webserver and daemon) on a free port; yields the webserver's URL."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = free_port()
    env = {**env, "DAGSTER_HOME": str(dagster_home)}
    args = [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    log = dagster_home / "dagster-dev.log"
    with process(args, env, log) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/server_info", proc, log)
        yield url


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as exc:  # the body says what the server did not like
        raise RuntimeError(f"GraphQL HTTP {exc.code}: {exc.read().decode(errors='replace')[:3000]}") from None
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


# The mutation the UI's "Materialize" button sends for a selection of partitions.
LAUNCH_PARTITION_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on ConflictingExecutionParamsError { message }
    ... on NoModeProvidedError { message }
  }
}
"""

BACKFILL_STATUS = """
query BackfillStatus($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { id status numPartitions runs(limit: 50) { runId status jobName } }
    ... on PythonError { message }
  }
}
"""

ASSET_PARTITIONS = """
query AssetPartitions($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode { partitionStats { numMaterialized numFailed numPartitions } }
  }
}
"""


def launch_backfill(url: str, assets: list[str], partitions: list[str]) -> str:
    params = {
        "partitionNames": partitions,
        "assetSelection": [{"path": [name]} for name in assets],
        "fromFailure": False,
        "title": "end-to-end test backfill",
    }
    result = graphql(url, LAUNCH_PARTITION_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"backfill not launched: {result}")
    return result["backfillId"]


def wait_for_backfill(
    url: str, backfill_id: str, timeout: float = 600, check_alive: Callable[[], None] | None = None
) -> dict:
    """Poll until the backfill and its runs are done; ``check_alive`` raises if a process it needs died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check_alive:
            check_alive()
        backfill = graphql(url, BACKFILL_STATUS, {"backfillId": backfill_id})["partitionBackfillOrError"]
        runs = backfill.get("runs") or []
        done = backfill.get("status") in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")
        if done and all(run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for run in runs):
            return backfill
        time.sleep(1)
    raise TimeoutError(f"backfill {backfill_id} did not finish within {timeout} s")


# --- the production shape, without Docker ---------------------------------------------------------
# docker-compose.yml runs the user-code gRPC server, dagster-webserver and dagster-daemon on an instance
# stored in PostgreSQL (deploy/dagster.yaml). The same processes, started directly: only the run launcher
# differs (the DefaultRunLauncher starts each run as a process of the gRPC server, instead of a container).

DEPLOY_INSTANCE = project_root() / "deploy" / "dagster.yaml"
DOCKER_WORKSPACE = project_root() / "workspace.docker.yaml"
CODE_MODULE = "journal_pipeline.definitions"


def deployment_instance_config(socket_dir: str, compute_logs: Path) -> dict:
    """deploy/dagster.yaml as the tests run it: the same storage (still configured from the DAGSTER_POSTGRES_*
    variables), run coordinator, monitoring and retention, with these local substitutions:

    - the embedded server listens on a Unix socket only, which dagster-postgres cannot take as a hostname
      (it builds ``user@host:port/db`` URLs), so the socket directory is passed as libpq's ``host``
      parameter, which takes precedence over the URL's host;
    - the DefaultRunLauncher instead of the DockerRunLauncher, and compute logs in a temporary folder.
    """
    config = yaml.safe_load(DEPLOY_INSTANCE.read_text())
    config["storage"]["postgres"]["postgres_db"]["params"] = {"host": socket_dir}
    config["run_launcher"] = {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}
    config["compute_logs"]["config"]["base_dir"] = str(compute_logs)
    return config


def deployment_workspace(grpc_port: int) -> dict:
    """workspace.docker.yaml with the gRPC server on this machine."""
    workspace = yaml.safe_load(DOCKER_WORKSPACE.read_text())
    server = workspace["load_from"][0]["grpc_server"]
    server["host"], server["port"] = "127.0.0.1", grpc_port
    return workspace


@dataclass
class Deployment:
    """The running processes of the production shape, and what the tests need to talk to them."""

    url: str
    grpc_port: int
    dagster_home: Path
    env: dict[str, str]
    processes: dict[str, tuple[subprocess.Popen, Path]]

    def check_alive(self) -> None:
        for name, (proc, log) in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")

    def wait_until(self, what: str, condition: Callable[[], object], timeout: float) -> object:
        """Poll ``condition`` until it returns something truthy; fail clearly if a process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            result = condition()
            if result:
                return result
            time.sleep(1)
        raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def grpc_serving(port: int) -> bool:
    result = subprocess.run(
        [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return result.returncode == 0


WORKSPACE_STATUS = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries { name loadStatus locationOrLoadError { __typename ... on PythonError { message } } }
    }
  }
}
"""


@contextmanager
def production_shape(home: Path, env: dict[str, str], instance_config: dict) -> Iterator[Deployment]:
    """Start ``dagster api grpc`` (the user_code service), then dagster-webserver and dagster-daemon on the
    workspace that points at it, all on ``instance_config`` (written to their DAGSTER_HOME) with ``env``.
    Alerts link to this webserver. Yields once the webserver has loaded the code location; stops
    everything afterwards."""
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(instance_config))
    workspace_file = home / "workspace.yaml"
    grpc_port, web_port = free_port(), free_port()
    workspace_file.write_text(yaml.safe_dump(deployment_workspace(grpc_port)))
    url = f"http://127.0.0.1:{web_port}"
    env = {**env, "DAGSTER_HOME": str(dagster_home), "JOURNAL_DAGSTER_UI_URL": url}
    commands = {
        "user_code": ["dagster", "api", "grpc", "-h", "127.0.0.1", "-p", str(grpc_port), "-m", CODE_MODULE],
        "webserver": ["dagster-webserver", "-h", "127.0.0.1", "-p", str(web_port), "-w", str(workspace_file)],
        "daemon": ["dagster-daemon", "run", "-w", str(workspace_file)],
    }
    with ExitStack() as stack:
        processes: dict[str, tuple[subprocess.Popen, Path]] = {}
        deployment = Deployment(url, grpc_port, dagster_home, env, processes)
        for name, args in commands.items():
            log = home / f"{name}.log"
            processes[name] = (stack.enter_context(process([str(BIN / args[0]), *args[1:]], env, log)), log)
            if name == "user_code":
                deployment.wait_until("the gRPC server answers its health check", lambda: grpc_serving(grpc_port), 120)
        deployment.wait_until("the webserver answers", lambda: _answers(f"{url}/server_info"), 120)
        deployment.wait_until("the webserver has loaded the code location", lambda: _location_loaded(url), 120)
        yield deployment


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _location_loaded(url: str) -> bool:
    entries = graphql(url, WORKSPACE_STATUS)["workspaceOrError"]["locationEntries"]
    for entry in entries:
        loaded = entry["locationOrLoadError"]
        if loaded and loaded["__typename"] == "PythonError":
            raise RuntimeError(f"code location {entry['name']} failed to load: {loaded['message']}")
    return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)


LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } }
}
"""


def launch_asset_run(url: str, job: str, assets: list[str], partition: str) -> str:
    """Materialize some assets of a job for one partition, as the UI's "Materialize" of one partition does."""
    params = {
        "selector": {
            "repositoryLocationName": "journal_pipeline",
            "repositoryName": "__repository__",
            "jobName": job,
            "assetSelection": [{"path": [name]} for name in assets],
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
        "runConfigData": {},
    }
    result = graphql(url, LAUNCH_RUN, {"executionParams": params})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"run not launched: {result}")
    return result["run"]["runId"]


def run_status(url: str, run_id: str) -> str:
    return graphql(url, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]


RUN_ERRORS = """
query RunErrors($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message level }
        ... on ExecutionStepFailureEvent { stepKey error { message } }
        ... on RunFailureEvent { error { message } }
      }
    }
  }
}
"""


def run_errors(url: str, run_id: str) -> list[str]:
    """The error messages of a run, to say why it failed in an assertion's message."""
    events = graphql(url, RUN_ERRORS, {"runId": run_id})["logsForRun"].get("events", [])
    errors = []
    for event in events:
        if event.get("level") == "ERROR" or event.get("error"):
            message = (event.get("error") or {}).get("message") or event.get("message")
            errors.append(f"{event.get('stepKey') or event['__typename']}: {message}")
    return errors


# --- a webhook receiver (the alert channel's other end) -------------------------------------------


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[dict]]]:
    """An HTTP server on a free port that keeps the JSON body of every POST; yields its URL and the bodies."""
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


# --- a real browser ---------------------------------------------------------------------------------
# Debian's chromium, headless, driven over the Chrome DevTools Protocol (a WebSocket): navigate, read
# the rendered text, take screenshots. Only stable protocol methods are used (Page, Runtime, Emulation).

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # running as root (CI); the page is our own UI on 127.0.0.1
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers have a small /dev/shm
    "--hide-scrollbars",
]


def ensure_chromium() -> str:
    """The chromium executable; installs Debian's package first when it is missing and this is root on a
    Debian-like machine (CI: a fresh machine with only Python and make). Quick when already installed."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(
            "the browser test needs Chromium: install Debian's package (sudo apt-get install chromium), "
            "or run the tests as root on Debian/Ubuntu, where they install it"
        )
    quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        result = subprocess.run(args, env=quiet, capture_output=True, text=True, check=False, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    found = shutil.which("chromium")
    if not found:
        raise RuntimeError("apt-get installed chromium, but there is no chromium executable on PATH")
    return found


class Browser:
    """One page of a headless Chromium, over the DevTools protocol."""

    def __init__(self, connection: websockets.sync.client.ClientConnection) -> None:
        self._connection = connection
        self._ids = itertools.count(1)

    def call(self, method: str, **params: object) -> dict:
        """Send a command and return its result (events that arrive meanwhile are not needed here)."""
        message_id = next(self._ids)
        self._connection.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._connection.recv(timeout=60))
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def text(self) -> str:
        """The page's rendered text (what a person can read), or "" before the body exists."""
        result = self.call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''")
        return result["result"].get("value", "")

    def wait_for_text(self, expected: list[str], absent: Sequence[str] = (), timeout: float = 90) -> str:
        """Wait until every string in ``expected`` is on the page and none in ``absent`` (a "Loading…");
        fail naming what is missing or still there."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if all(item in text for item in expected) and not any(item in text for item in absent):
                return text
            time.sleep(0.5)
        missing = [item for item in expected if item not in text]
        still = [item for item in absent if item in text]
        raise TimeoutError(
            f"after {timeout:.0f} s, not on the page: {missing}, still on it: {still}\npage text:\n{text[:3000]}"
        )

    def click(self, css: str) -> None:
        """Click the element that ``css`` selects (the closest button around it, for an icon)."""
        script = f"(() => {{ const e = document.querySelector({json.dumps(css)}); if (!e) return false; "
        script += "(e.closest('button') || e).click(); return true; })()"
        if not self.call("Runtime.evaluate", expression=script)["result"].get("value"):
            raise RuntimeError(f"nothing on the page matches {css!r}")

    def click_button(self, label: str) -> None:
        """Click the button whose text is ``label``."""
        script = (
            "(() => { const b = [...document.querySelectorAll('button')].find(e => e.innerText.trim() === "
            f"{json.dumps(label)}); if (!b) return false; b.click(); return true; }})()"
        )
        if not self.call("Runtime.evaluate", expression=script)["result"].get("value"):
            raise RuntimeError(f"no button {label!r} on the page")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def chromium(executable: str, profile: Path, width: int = 1600, height: int = 1000) -> Iterator[Browser]:
    """Headless Chromium with a fresh profile, its DevTools endpoint on a free port; yields its first page."""
    profile.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        executable,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--remote-debugging-port={port}",
        f"--window-size={width},{height}",
        "about:blank",
    ]
    log = profile.parent / "chromium.log"
    with process(args, dict(os.environ), log) as proc:
        wait_for_http(f"http://127.0.0.1:{port}/json/version", proc, log, timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            targets = json.loads(response.read())
        page = next(target for target in targets if target["type"] == "page")
        with websockets.sync.client.connect(page["webSocketDebuggerUrl"], max_size=None) as connection:
            browser = Browser(connection)
            browser.call("Page.enable")
            browser.call(
                "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
            )
            yield browser


# --- Prometheus' side ---------------------------------------------------------------------------------


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET a /metrics endpoint and parse it as Prometheus does: {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(url, timeout=60) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
