"""The Dask executor end to end on a real cluster on loopback (`tests.flows.dask_cluster`:
``dask scheduler`` and two ``dask worker`` processes), S3 on a moto server: results equal
the local executor's exactly; a worker killed mid-stage costs only its invocation; the
scheduler gone fails the run naming it, and a rerun after its restart resumes."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from flows.pipeline import forecast_pipeline
from lambda_functions.errors import GrovesError
from lambda_functions.stages import GRID
from lambda_functions.storage import open_storage
from tests.flows.conftest import small_config
from tests.flows.dask_cluster import DaskCluster, dask_cluster  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow
PER_STOCK = {
    "processing": 1,
    "parampreds": 8,
    "predmses": 4,
    "minmse": 1,
    "trainfull": 3,
    "testfull": 1,
}
STOCKS = ("RELIANCE", "TCS")
STAGE_INVOCATIONS = len(STOCKS) * sum(PER_STOCK.values())


@pytest.fixture(scope="module")
def local_result(tmp_path_factory: pytest.TempPathFactory, raw_dir: Path) -> dict[str, Any]:
    """The local executor's run of the same configuration: the results to match."""
    from tests.conftest import place_raw

    url = str(tmp_path_factory.mktemp("local") / "store")
    place_raw(url, raw_dir)
    return forecast_pipeline(small_config(store=url, executor="local", run_id="same"))


def dask_config(cluster: DaskCluster, store: str, run_id: str, **changes: Any) -> Any:
    return small_config(
        store=store, executor="dask", dask_address=cluster.address, run_id=run_id, **changes
    )


def ok_receipts(url: str, run_id: str) -> set[str]:
    """The invocation names (stage/stock/unit) of the run's ok stage receipts."""
    store = open_storage(url)
    found = set()
    for stage in GRID.names:
        for key in store.keys(f"runs/{run_id}/receipts/{stage}/"):
            if store.get_json(key).get("status") == "ok":
                stock, unit = key.rsplit("/", 2)[-2:]
                found.add(f"{stage}/{stock}/{unit.removesuffix('.json')}")
    return found


def test_dask_executor_matches_local(
    dask_cluster: DaskCluster,  # noqa: F811
    s3_store: str,
    local_result: dict[str, Any],
) -> None:
    dask_cluster.reset_hooks()
    remote = forecast_pipeline(dask_config(dask_cluster, s3_store, "same"))
    assert remote["failed"] == {}
    assert remote["executor"] == "dask"
    assert remote["stocks"] == local_result["stocks"]  # MSEs equal exactly
    started = Counter(dask_cluster.starts())
    # Every invocation ran once, on the cluster (the report stage too).
    assert sum(started.values()) == STAGE_INVOCATIONS + 1
    assert set(started.values()) == {1}
    store = open_storage(s3_store)
    assert store.exists("runs/same/stocks/TCS/models/optimized/models/mse.csv")
    assert store.exists("runs/same/timingmetrics/actualtimingmetrics.csv")
    assert not store.keys(".groves-probe/")  # the store probe cleans up after itself


def test_worker_killed_mid_stage_only_its_invocation_runs_again(
    dask_cluster: DaskCluster,  # noqa: F811
    s3_store: str,
    local_result: dict[str, Any],
) -> None:
    dask_cluster.reset_hooks()
    # The worker that starts the cluster's 2nd trainfull invocation kills its own process.
    plan = {"stage": "trainfull", "nth": 2, "action": "kill"}
    (dask_cluster.hooks / "plan.json").write_text(json.dumps(plan))
    summary = forecast_pipeline(dask_config(dask_cluster, s3_store, "same"))
    killed = (dask_cluster.hooks / "killed").read_text()
    assert killed.startswith("trainfull/")
    assert summary["failed"] == {}
    assert summary["stocks"] == local_result["stocks"]  # every result identical
    started = Counter(dask_cluster.starts())
    assert started[killed] == 2  # the lost invocation ran again ...
    assert {n: c for n, c in started.items() if c != 1} == {killed: 2}  # ... and only it
    assert sum(started.values()) == STAGE_INVOCATIONS + 1 + 1
    dask_cluster.wait_for_workers(2)  # the nanny replaced the killed worker process


def test_scheduler_gone_fails_naming_it_then_rerun_resumes(
    dask_cluster: DaskCluster,  # noqa: F811
    s3_store: str,
    local_result: dict[str, Any],
) -> None:
    dask_cluster.reset_hooks()
    # Hold the cluster's 3rd parampreds invocation while the scheduler is taken away.
    plan = {"stage": "parampreds", "nth": 3, "action": "pause"}
    (dask_cluster.hooks / "plan.json").write_text(json.dumps(plan))
    config = dask_config(dask_cluster, s3_store, "gone", retry_delay_s=0.1)
    errors: list[BaseException] = []

    def first_run() -> None:
        try:
            forecast_pipeline(config)
        except BaseException as exc:
            errors.append(exc)

    runner = threading.Thread(target=first_run)
    runner.start()
    paused = dask_cluster.hooks / "paused"
    deadline = time.monotonic() + 300
    while not paused.exists() and runner.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert paused.exists(), "no invocation paused"
    dask_cluster.stop_scheduler()
    (dask_cluster.hooks / "release").write_text("")
    runner.join(timeout=300)
    assert not runner.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], GrovesError)
    assert f"lost the Dask scheduler at {dask_cluster.address}" in str(errors[0])

    dask_cluster.restart()  # the same address; no worker left from before
    finished = ok_receipts(s3_store, "gone")
    assert 0 < len(finished) < STAGE_INVOCATIONS
    dask_cluster.reset_hooks()
    summary = forecast_pipeline(config)
    assert summary["failed"] == {}
    assert summary["stocks"] == local_result["stocks"]
    rerun = Counter(dask_cluster.starts())
    assert set(rerun.values()) == {1}
    # Exactly the invocations without a receipt ran (and the report stage).
    stages_run = {name for name in rerun if not name.startswith("timingmetrics/")}
    assert stages_run == ok_receipts(s3_store, "gone") - finished
    assert not set(rerun) & finished


def test_executor_probes_a_shared_folder_and_sizes_threads(
    dask_cluster: DaskCluster,  # noqa: F811
    local_store: str,
) -> None:
    from tasks.dask_executor import DaskExecutor

    executor = DaskExecutor(dask_cluster.address, local_store)  # every worker reads the probe
    try:
        assert executor.workers == 2
        cores = len(os.sched_getaffinity(0))
        assert executor.threads == {"127.0.0.1": max(1, cores // 2)}  # 2 Dask threads here
        assert f"Dask scheduler {dask_cluster.address}: 2 worker(s)" in executor.about
    finally:
        executor.close()
    assert not list(Path(local_store, ".groves-probe").iterdir())
