"""`capsule-xero deploy` writes a production Dagster instance that Dagster itself accepts: PostgreSQL
storage read from the environment, a run queue admitting one run per tenant, the receiver as its own
service; the Docker example passes the same validation. No PostgreSQL server is needed to validate."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster._config import process_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import ConcurrencyConfig, dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator, RunQueueConfig
from dagster._core.storage.config import pg_config
from dagster._core.workspace.config_schema import ensure_workspace_config
from dagster_docker import DockerRunLauncher
from typer.testing import CliRunner

from cli import app as cli
from cli.deploy import POSTGRES_ENVIRONMENT, REPOSITORY, write_deployment
from cli.ui import DAGSTER_YAML, prepare_dagster_home

ONE_RUN_PER_TENANT = {"key": "capsule_xero/tenant", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
# The asset graph's Materialize button tags a run with its partition (the tenant) only.
ONE_RUN_PER_PARTITION = {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
ONE_RUN_PER_DUCKDB_FILE = {
    "key": "capsule_xero/duckdb_file",
    "value": {"applyLimitPerUniqueValue": True},
    "limit": 1,
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAPSULE_XERO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CAPSULE_XERO_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def _run_queue(folder: Path) -> RunQueueConfig:
    """The run queue's limits as a Dagster instance on this folder computes them (its
    get_concurrency_config), from the run coordinator Dagster builds and validates, without storage."""
    config, _ = dagster_instance_config(str(folder))
    coordinator = InstanceRef.from_dir(str(folder)).run_coordinator
    assert isinstance(coordinator, QueuedRunCoordinator)
    concurrency = ConcurrencyConfig.from_concurrency_settings(
        config["concurrency"], coordinator.get_run_queue_config()
    )
    assert concurrency.run_queue_config is not None
    return concurrency.run_queue_config


def test_deploy_writes_an_instance_dagster_accepts_with_postgres_storage_and_one_run_per_tenant(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = CliRunner().invoke(cli.app, ["deploy", "--max-concurrent-runs", "6"])
    assert result.exit_code == 0, result.output
    folder = home / "deploy"
    config, _ = dagster_instance_config(str(folder))  # raises on any key Dagster does not know

    ref = InstanceRef.from_dir(str(folder))
    assert ref.storage_data is not None and ref.storage_data.class_name == "DagsterPostgresStorage"
    run_queue = _run_queue(folder)
    assert run_queue.max_concurrent_runs == 6
    assert run_queue.tag_concurrency_limits == [
        ONE_RUN_PER_TENANT,
        ONE_RUN_PER_PARTITION,
        ONE_RUN_PER_DUCKDB_FILE,
    ]
    assert config["concurrency"]["pools"]["default_limit"] == 6

    # The connection comes from the environment when Dagster starts; the file names variables only.
    monkeypatch.setenv("DAGSTER_PG_HOST", "db.internal")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5433")
    monkeypatch.setenv("DAGSTER_PG_DB", "dagster")
    monkeypatch.setenv("DAGSTER_PG_USERNAME", "dagster")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "s3cret-from-env")
    resolved = process_config(pg_config(), config["storage"]["postgres"])
    assert resolved.success, resolved.errors
    assert resolved.value["postgres_db"]["password"] == "s3cret-from-env"
    assert resolved.value["postgres_db"]["port"] == 5433
    assert "s3cret-from-env" not in "".join(path.read_text() for path in folder.rglob("*") if path.is_file())


def test_the_run_queue_admits_four_runs_by_default(home: Path) -> None:
    assert CliRunner().invoke(cli.app, ["deploy", "--out", "deploy"]).exit_code == 0
    assert _run_queue(home.parent / "deploy").max_concurrent_runs == 4


def test_a_wrong_key_in_the_run_queue_is_refused_with_dagsters_message(tmp_path: Path) -> None:
    folder = tmp_path / "deploy"
    write_deployment(folder, tmp_path / "home", max_concurrent_runs=4)
    config = yaml.safe_load((folder / "dagster.yaml").read_text())
    config["concurrency"]["runs"]["max_concurent_runs"] = 2  # a typo a person could make
    (folder / "dagster.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(DagsterInvalidConfigError, match='unexpected config entry "max_concurent_runs"'):
        dagster_instance_config(str(folder))


def test_a_password_written_in_place_of_its_variable_is_not_what_deploy_writes(tmp_path: Path) -> None:
    folder = tmp_path / "deploy"
    write_deployment(folder, tmp_path / "home", max_concurrent_runs=4)
    postgres = yaml.safe_load((folder / "dagster.yaml").read_text())["storage"]["postgres"]["postgres_db"]
    assert all(set(postgres[key]) == {"env"} for key in POSTGRES_ENVIRONMENT), postgres


def test_the_receiver_daemon_and_webserver_are_services_of_the_written_instance(tmp_path: Path) -> None:
    folder = (tmp_path / "deploy").resolve()
    write_deployment(folder, tmp_path / "home", max_concurrent_runs=4, webserver_port=3100, user="capsule")
    units = {path.name: path.read_text() for path in (folder / "systemd").glob("*.service")}
    assert "webhooks serve" in units["capsule-xero-webhooks.service"]
    # Its own process, reporting the webhook fast lane's writes to the written instance.
    assert f"Environment=DAGSTER_HOME={folder}\n" in units["capsule-xero-webhooks.service"]
    assert f"dagster-daemon run -w {folder}/workspace.yaml" in units["capsule-xero-dagster-daemon.service"]
    assert "-h 127.0.0.1 -p 3100" in units["capsule-xero-dagster-webserver.service"]
    for text in units.values():
        assert (
            "User=capsule" in text
            and f"EnvironmentFile={folder}/environment" in text
            and "$" not in text.split("[Unit]")[1].replace("$WEBHOOK_PORT", "")
        )
    workspace = yaml.safe_load((folder / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["working_directory"] == str(REPOSITORY)


def test_deploy_leaves_the_ui_instance_as_it_was(home: Path) -> None:
    ui_folder = prepare_dagster_home(home)
    before = (ui_folder / "dagster.yaml").read_text()
    assert CliRunner().invoke(cli.app, ["deploy"]).exit_code == 0
    assert (ui_folder / "dagster.yaml").read_text() == before == yaml.safe_dump(DAGSTER_YAML, sort_keys=True)
    assert prepare_dagster_home(home) == ui_folder
    assert "postgres" not in (ui_folder / "dagster.yaml").read_text()


def test_dagster_accepts_the_docker_example_and_builds_its_run_launcher() -> None:
    folder = REPOSITORY / "deploy" / "docker"
    dagster_instance_config(str(folder))
    ref = InstanceRef.from_dir(str(folder))
    launcher = ref.run_launcher
    assert isinstance(launcher, DockerRunLauncher)
    assert launcher.image == "capsule-xero:latest"
    assert "DAGSTER_PG_PASSWORD" in launcher.env_vars
    assert _run_queue(folder).tag_concurrency_limits == [
        ONE_RUN_PER_TENANT,
        ONE_RUN_PER_PARTITION,
        ONE_RUN_PER_DUCKDB_FILE,
    ]


def test_a_wrong_key_in_the_docker_launcher_is_refused_with_dagsters_message(tmp_path: Path) -> None:
    config = yaml.safe_load((REPOSITORY / "deploy" / "docker" / "dagster.yaml").read_text())
    config["run_launcher"]["config"]["imagee"] = "typo"
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(DagsterInvalidConfigError, match='unexpected config entry "imagee"'):
        InstanceRef.from_dir(str(tmp_path)).run_launcher  # noqa: B018 - building it is the check


def test_the_helm_example_limits_the_run_queue_as_deploy_does() -> None:
    values = yaml.safe_load((REPOSITORY / "deploy" / "helm" / "values.yaml").read_text())
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["tagConcurrencyLimits"] == [
        ONE_RUN_PER_TENANT,
        ONE_RUN_PER_PARTITION,
        ONE_RUN_PER_DUCKDB_FILE,
    ]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"


def test_deploy_refuses_the_ui_instance_folder_so_neither_overwrites_the_other(home: Path) -> None:
    ui_folder = prepare_dagster_home(home)
    result = CliRunner().invoke(cli.app, ["deploy", "--out", str(ui_folder)])
    assert result.exit_code == 2, result.output
    assert "capsule-xero ui" in result.output and "--out" in result.output
    assert "Traceback" not in result.output
    assert "postgres" not in (ui_folder / "dagster.yaml").read_text()


def test_dagster_accepts_the_written_workspace(tmp_path: Path) -> None:
    folder = tmp_path / "deploy"
    write_deployment(folder, tmp_path / "home", max_concurrent_runs=4)
    workspace = yaml.safe_load((folder / "workspace.yaml").read_text())
    ensure_workspace_config(workspace, str(folder / "workspace.yaml"))  # raises on a wrong key
    workspace["load_from"][0]["python_module"]["module"] = "assets.definitions"
    with pytest.raises(DagsterInvalidConfigError, match="module"):
        ensure_workspace_config(workspace, str(folder / "workspace.yaml"))


def test_dagster_accepts_the_docker_example_workspace() -> None:
    path = REPOSITORY / "deploy" / "docker" / "workspace.yaml"
    workspace = ensure_workspace_config(yaml.safe_load(path.read_text()), str(path))
    assert workspace["load_from"][0]["grpc_server"]["port"] == 4000
