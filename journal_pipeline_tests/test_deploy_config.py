"""docker-compose.yml, deploy/dagster.yaml, the workspace files and the Dockerfile describe one deployment:
these tests check that they agree (services, commands, ports, environment, volumes, network), since no
Docker engine runs here to find out the hard way. test_operations_deployment.py runs the same processes."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator

from journal_pipeline.cli import build_parser
from journal_pipeline.config import project_root
from journal_pipeline.operations_commands import DEFAULT_METRICS_PORT
from journal_pipeline_tests.services import deployment_instance_config

ROOT = project_root()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
INSTANCE: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
DOCKER_WORKSPACE: dict[str, Any] = yaml.safe_load((ROOT / "workspace.docker.yaml").read_text())
LOCAL_WORKSPACE: dict[str, Any] = yaml.safe_load((ROOT / "workspace.yaml").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PROMETHEUS: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
LAUNCHER = INSTANCE["run_launcher"]["config"]
# the processes that load the Dagster instance (deploy/dagster.yaml), and so need its variables
INSTANCE_SERVICES = ("user_code", "webserver", "daemon", "metrics")


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def environment(service: str) -> dict[str, str]:
    return {key: str(value) for key, value in (SERVICES[service].get("environment") or {}).items()}


def instance_env_vars(node: object) -> set[str]:
    """Every ``{env: NAME}`` in the instance configuration."""
    if isinstance(node, dict):
        found = {node["env"]} if set(node) == {"env"} else set()
        return found.union(*(instance_env_vars(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(instance_env_vars(value) for value in node))
    return set()


def option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def dockerfile_workdir() -> str:
    [workdir] = re.findall(r"^WORKDIR\s+(\S+)", DOCKERFILE, flags=re.MULTILINE)
    return workdir


def test_the_compose_file_has_the_services_of_dagsters_docker_deployment() -> None:
    assert set(SERVICES) == {"postgres", "migrate", "user_code", "webserver", "daemon", "metrics"}
    assert "pg_isready" in " ".join(SERVICES["postgres"]["healthcheck"]["test"])
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert SERVICES["user_code"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    for service in ("webserver", "daemon"):
        assert SERVICES[service]["depends_on"] == {"user_code": {"condition": "service_healthy"}}
    assert "grpc-health-check" in SERVICES["user_code"]["healthcheck"]["test"]
    # one image for every service and for the runs, which start from DAGSTER_CURRENT_IMAGE
    images = {service["image"] for name, service in SERVICES.items() if name != "postgres"}
    assert images == {environment("user_code")["DAGSTER_CURRENT_IMAGE"]}
    assert all(service["build"] == "." for name, service in SERVICES.items() if name != "postgres")


def test_the_code_location_is_the_same_in_compose_the_workspaces_and_pyproject() -> None:
    command = SERVICES["user_code"]["command"]
    assert command[:3] == ["dagster", "api", "grpc"]
    [grpc] = [entry["grpc_server"] for entry in DOCKER_WORKSPACE["load_from"]]
    [local] = [entry["python_module"] for entry in LOCAL_WORKSPACE["load_from"]]
    tool = PYPROJECT["tool"]["dagster"]
    assert grpc["host"] == "user_code" and SERVICES["user_code"]["container_name"] == "journal_pipeline_user_code"
    assert int(option(command, "-p")) == grpc["port"]
    assert option(command, "-m") == local["module_name"] == tool["module_name"]
    assert grpc["location_name"] == local["location_name"] == tool["code_location_name"]
    # the webserver and the daemon read the workspace file that the image holds
    workspace_in_image = f"{dockerfile_workdir()}/workspace.docker.yaml"
    assert "COPY workspace.docker.yaml ./" in DOCKERFILE
    assert SERVICES["webserver"]["command"][0] == "dagster-webserver"
    assert SERVICES["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    for service in ("webserver", "daemon"):
        assert option(SERVICES[service]["command"], "-w") == workspace_in_image


def test_the_ports_agree() -> None:
    exposed = set(re.findall(r"^EXPOSE\s+(.+)$", DOCKERFILE, flags=re.MULTILINE)[0].split())
    webserver, metrics = SERVICES["webserver"]["command"], SERVICES["metrics"]["command"]
    assert SERVICES["webserver"]["ports"] == [f"{option(webserver, '-p')}:{option(webserver, '-p')}"]
    assert metrics[:2] == ["journal-pipeline", "metrics"] and option(metrics, "--host") == "0.0.0.0"
    assert option(metrics, "--port") == str(DEFAULT_METRICS_PORT)
    assert SERVICES["metrics"]["ports"] == [f"{DEFAULT_METRICS_PORT}:{DEFAULT_METRICS_PORT}"]
    assert {option(webserver, "-p"), str(DOCKER_WORKSPACE["load_from"][0]["grpc_server"]["port"])} <= exposed
    assert str(DEFAULT_METRICS_PORT) in exposed
    [job] = PROMETHEUS["scrape_configs"]
    assert job["static_configs"][0]["targets"] == [f"metrics:{DEFAULT_METRICS_PORT}"]


def test_every_process_gets_the_variables_its_instance_and_its_runs_need() -> None:
    storage = instance_env_vars(INSTANCE)
    assert storage == {f"DAGSTER_POSTGRES_{part}" for part in ("HOST", "PORT", "USER", "PASSWORD", "DB")}
    for service in INSTANCE_SERVICES:
        assert storage <= set(environment(service)), service
    # the daemon launches the runs and forwards them these variables from its own environment
    forwarded = set(LAUNCHER["env_vars"])
    assert forwarded == storage | {"JOURNAL_PIPELINE_DATABASE_URL", "JOURNAL_STORAGE_DIR"}
    assert forwarded <= set(environment("daemon"))
    # the code server evaluates the sensors (audit events, alerts) and the metrics read the ledger
    for service in ("user_code", "metrics"):
        assert {"JOURNAL_PIPELINE_DATABASE_URL", "JOURNAL_STORAGE_DIR"} <= set(environment(service)), service
    assert "JOURNAL_ALERT_WEBHOOK_URL" in environment("user_code")
    # every process that touches the ledger does it as the pipeline's role, on the compose database
    for service in ("user_code", "daemon", "metrics"):
        url = environment(service)["JOURNAL_PIPELINE_DATABASE_URL"]
        assert url.startswith("postgresql://journal_pipeline:${JOURNAL_PIPELINE_PASSWORD")
        assert url.endswith("@postgres:5432/${POSTGRES_DB:?set POSTGRES_DB in .env}")
    assert {environment(service)["DAGSTER_POSTGRES_HOST"] for service in INSTANCE_SERVICES} == {"postgres"}


def test_the_superuser_credentials_reach_only_the_database_and_the_migrations() -> None:
    for name, service in SERVICES.items():
        env = environment(name)
        holds_admin = "POSTGRES_PASSWORD" in env or "JOURNAL_DATABASE_URL" in env
        assert holds_admin == (name in ("postgres", "migrate")), name
        assert "env_file" not in service, f"{name}: env_file would hand it every secret in .env"
    assert "JOURNAL_DATABASE_URL" not in LAUNCHER["env_vars"]


def test_the_run_containers_share_the_volumes_and_network_of_the_services() -> None:
    named = {volume.get("name"): key for key, volume in COMPOSE["volumes"].items()}
    mounts = dict(volume.split(":", 1) for volume in LAUNCHER["container_kwargs"]["volumes"])
    for volume in mounts:
        assert volume in named, f"the run launcher mounts {volume}, which compose must name exactly so"
    assert mounts["journal_storage"] == environment("daemon")["JOURNAL_STORAGE_DIR"]
    compute_logs = INSTANCE["compute_logs"]["config"]["base_dir"]
    assert mounts["dagster_compute_logs"] == compute_logs
    for service in ("webserver", "daemon"):  # the webserver shows what the run containers logged
        assert f"dagster_compute_logs:{compute_logs}" in SERVICES[service]["volumes"]
        assert "/var/run/docker.sock:/var/run/docker.sock" in SERVICES[service]["volumes"]
    [network] = COMPOSE["networks"].values()
    assert network["name"] == LAUNCHER["network"]
    for name, service in SERVICES.items():
        assert service["networks"] == ["journal_pipeline_network"], name


def test_the_environment_file_example_names_every_variable_and_holds_no_secret() -> None:
    example = env_example()
    read = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text()))
    assert read == set(example), "docker-compose.yml and .env.example name different variables"
    secrets = {key for key in example if key.endswith("PASSWORD") or key == "JOURNAL_ALERT_WEBHOOK_URL"}
    assert secrets and all(example[key] == "" for key in secrets), "the example must not hold secrets"
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_commands_in_the_compose_file_exist() -> None:
    parser = build_parser()
    migrate = SERVICES["migrate"]["command"]
    assert migrate[:2] == ["sh", "-c"]
    commands = [shlex.split(part) for part in migrate[2].split("&&")]
    assert [command[:2] for command in commands] == [
        ["journal-pipeline", "migrate"],
        ["journal-pipeline", "provision"],
    ]
    for command in [*commands, SERVICES["metrics"]["command"]]:
        parser.parse_args(command[1:])  # exits (SystemExit) on an unknown command or option


def test_the_production_instance_is_valid_dagster_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in instance_env_vars(INSTANCE):
        monkeypatch.setenv(name, "5432" if name.endswith("PORT") else "value")
    (tmp_path / "dagster.yaml").write_text((ROOT / "deploy" / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["telemetry"] == {"enabled": False}
    # the run coordinator's own schema: run limits, one per backfill, one maintenance run at a time
    coordinator = process_config(QueuedRunCoordinator.config_type(), INSTANCE["run_coordinator"]["config"])
    assert coordinator.success, coordinator.errors
    limits = {limit["key"]: limit for limit in INSTANCE["run_coordinator"]["config"]["tag_concurrency_limits"]}
    assert limits["dagster/backfill"]["value"] == {"applyLimitPerUniqueValue": True}
    assert limits["journal/maintenance"]["limit"] == 1
    assert INSTANCE["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert (INSTANCE["run_launcher"]["module"], INSTANCE["run_launcher"]["class"]) == (
        "dagster_docker",
        "DockerRunLauncher",
    )
    assert "dagster-docker" in " ".join(PYPROJECT["project"]["optional-dependencies"]["docker"])
    assert 'pip install --no-cache-dir -c constraints.txt ".[docker]"' in DOCKERFILE
    assert 'COPY deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"' in DOCKERFILE


def test_the_tests_run_the_production_instance_with_only_the_launcher_and_paths_changed(tmp_path: Path) -> None:
    tested = deployment_instance_config("/socket/dir", tmp_path)
    assert tested["storage"]["postgres"]["postgres_db"].pop("params") == {"host": "/socket/dir"}
    assert tested.pop("run_launcher")["class"] == "DefaultRunLauncher"
    assert tested["compute_logs"]["config"].pop("base_dir") == str(tmp_path)
    production = {key: value for key, value in INSTANCE.items() if key != "run_launcher"}
    production["compute_logs"] = {**production["compute_logs"], "config": {}}
    assert tested == production
