"""The Dask executor's errors and small rules (no cluster needed; the end-to-end tests on a
real cluster are in tests/flows/test_pipeline_dask.py)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from groves.cli import app
from tasks.dask_executor import (
    ADDRESS_ENV,
    DaskExecutor,
    DaskExecutorError,
    fit_threads,
    is_loopback,
    scheduler_address,
    task_key,
)
from tasks.executors import make_executor


class StubClient:
    """Stands for a connected `distributed.Client` (what the checks ask of one)."""

    status = "running"
    dashboard_link = "http://10.0.0.9:8787/status"

    def __init__(self, workers: dict[str, Any], probe: dict[str, str | None]) -> None:
        self.workers = workers
        self.probe = probe

    def scheduler_info(self, n_workers: int = 5) -> dict[str, Any]:
        return {"workers": self.workers}

    def run(self, fn: Any, *args: Any) -> dict[str, Any]:
        if fn.__name__ == "_probe":
            return self.probe
        return {address: 8 for address in self.workers}

    def close(self) -> None:
        pass


def test_no_address_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ADDRESS_ENV, raising=False)
    with pytest.raises(DaskExecutorError, match=r"needs a scheduler address: --dask-address"):
        make_executor("dask", dask_address=None, store_url="s3://b/p")


def test_address_from_the_environment_and_without_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ADDRESS_ENV, "10.1.2.3:8786")
    assert scheduler_address(None) == "tcp://10.1.2.3:8786"
    assert scheduler_address("tls://h:1") == "tls://h:1"
    assert is_loopback("tcp://127.0.0.1:8786") and is_loopback("tcp://localhost:1")
    assert not is_loopback("tcp://10.1.2.3:8786")


def test_unreachable_scheduler_is_named(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(DaskExecutorError, match=rf"cannot reach the Dask scheduler at {address}"):
        DaskExecutor(address, str(tmp_path), connect_timeout_s=2)
    assert time.monotonic() - started < 30


def test_local_folder_with_a_remote_scheduler_is_refused(tmp_path: Path) -> None:
    # No worker connected yet: a folder store and a scheduler on another machine.
    with pytest.raises(DaskExecutorError, match=r"use an s3:// store .* or a folder every"):
        DaskExecutor("tcp://10.0.0.9:8786", str(tmp_path), client=StubClient({}, {}))


def test_workers_that_cannot_see_the_store_are_named(tmp_path: Path, s3: Any) -> None:
    workers = {"tcp://10.0.0.5:4000": {"nthreads": 2}, "tcp://10.0.0.6:4000": {"nthreads": 2}}
    probe = {"tcp://10.0.0.5:4000": None, "tcp://10.0.0.6:4000": "the probe object is not there"}
    with pytest.raises(DaskExecutorError, match=r"1 Dask worker\(s\) \(tcp://10.0.0.6:4000: the"):
        DaskExecutor("tcp://10.0.0.9:8786", str(tmp_path), client=StubClient(workers, probe))
    assert not list((tmp_path / ".groves-probe").iterdir())  # the probe object removed
    url = "s3://groves-test/p"
    with pytest.raises(DaskExecutorError, match=rf"cannot read the store {url} .*credentials"):
        DaskExecutor("tcp://10.0.0.9:8786", url, client=StubClient(workers, probe))


def test_workers_that_see_the_store_are_accepted(tmp_path: Path) -> None:
    workers = {"tcp://10.0.0.5:4000": {"nthreads": 2}, "tcp://10.0.0.5:4001": {"nthreads": 2}}
    probe = dict.fromkeys(workers)
    executor = DaskExecutor("tcp://10.0.0.9:8786", str(tmp_path), client=StubClient(workers, probe))
    assert executor.workers == 4
    assert executor.threads == {"10.0.0.5": 2}  # 8 cores over 4 Dask threads on the host
    assert "dashboard http://10.0.0.9:8787/status" in executor.about


def test_fit_threads_never_oversubscribe() -> None:
    workers = {
        "tcp://a:1": {"nthreads": 1},
        "tcp://a:2": {"nthreads": 1},
        "tcp://b:1": {"nthreads": 4},
        "tcp://c:1": {"nthreads": 8},
    }
    cpus = {"tcp://a:1": 2, "tcp://a:2": 2, "tcp://b:1": 16, "tcp://c:1": 4}
    assert fit_threads(workers, cpus) == {"a": 1, "b": 4, "c": 1}


def test_task_keys_are_readable_and_unique() -> None:
    event = {"stock": "NIFTY 50", "attempt": 2}
    first, second = task_key("parampreds", event), task_key("parampreds", event)
    assert first.startswith("parampreds-NIFTY~2050-a2-") and first != second
    assert task_key("timingmetrics", {}).startswith("timingmetrics-_run-a1-")


def test_cli_without_an_address_fails_before_starting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(ADDRESS_ENV, raising=False)
    result = CliRunner().invoke(app, ["run", "--executor", "dask", "--data", str(tmp_path)])
    assert result.exit_code == 1
    assert "needs a scheduler address" in result.output


def test_prefect_yaml_has_a_dask_variant() -> None:
    import yaml

    from groves.config import RunConfig

    path = Path(__file__).resolve().parents[2] / "deployments" / "prefect.yaml"
    deployments = {d["name"]: d for d in yaml.safe_load(path.read_text())["deployments"]}
    config = dict(deployments["groves-dask"]["parameters"]["config"])
    config.update(store="s3://bucket", dask_address="tcp://10.0.0.9:8786")  # deploy-time values
    assert RunConfig.model_validate(config).executor == "dask"
