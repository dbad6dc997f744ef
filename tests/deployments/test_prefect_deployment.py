"""The documented Prefect sequence, end to end, against a real `prefect server`.

`prefect server start` on a free loopback port (PREFECT_HOME in a temp folder),
`prefect work-pool create`, `prefect deploy` from deployments/prefect.yaml, `prefect worker
start`, and `prefect deployment run --watch` on a one-stock dataset; then the flow run's
state and artifacts are read back through the API. Every process the test starts is
stopped by its PID (its process group) at the end, and the Prefect settings reach the
subprocesses and the client only: os.environ is never changed. One fast test checks the
progress artifacts' throttling without a server.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.prefect_ui import artifacts_tab

REPO = Path(__file__).resolve().parents[2]
POOL = "groves-local"
DEPLOYMENT = "forecast-pipeline/groves-local"
STAGES = ("processing", "parampreds", "predmses", "minmse", "trainfull", "testfull")
STOCK = "TCS"
RUN_ID = "deploy-check"


@dataclass
class Server:
    """A running Prefect API and the environment that points subprocesses at it."""

    url: str
    env: dict[str, str]
    logs: Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prefect(*args: str) -> list[str]:
    """The `prefect` command of this interpreter's environment."""
    return [sys.executable, "-m", "prefect", *args]


def tail(path: Path, lines: int = 40) -> str:
    """The end of a log file, for failure messages."""
    text = path.read_text(errors="replace") if path.exists() else "(no log)"
    return f"--- {path.name} ---\n" + "\n".join(text.splitlines()[-lines:])


@contextmanager
def started(cmd: list[str], env: dict[str, str], log: Path, cwd: Path) -> Iterator[int]:
    """Start ``cmd`` in its own process group; on exit stop that group by the PID.

    SIGTERM, up to 20 s to exit, then SIGKILL. The group holds only what ``cmd`` started
    (Prefect's flow-run and local worker processes), never anything else.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc.pid
    finally:
        for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        proc.wait(timeout=10)


def run(cmd: list[str], server: Server, timeout: float, cwd: Path = REPO) -> str:
    """Run a CLI command against the server; fail with its output if it fails."""
    done = subprocess.run(
        cmd, cwd=cwd, env=server.env, capture_output=True, text=True, timeout=timeout
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(cmd[2:])} failed:\n{output[-4000:]}"
    return output


def wait_healthy(url: str, proc_log: Path, timeout: float) -> None:
    """Poll ``{url}/health`` until it answers true, within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if json.loads(response.read()) is True:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"prefect server not healthy after {timeout:.0f} s\n{tail(proc_log)}")


def api_call(url: str, fn: Any) -> Any:
    """``fn(client)`` with a Prefect client for ``url``; the setting is scoped to this call."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as c:
        return fn(c)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`prefect server start` on a free port, PREFECT_HOME in a temp folder."""
    home = tmp_path_factory.mktemp("prefect-home")
    logs = tmp_path_factory.mktemp("logs")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="2",
        GROVES_N_JOBS="1",
    )
    cmd = prefect("server", "start", "--host", "127.0.0.1", "--port", str(port))
    with started(cmd, env, logs / "server.log", cwd=home):
        wait_healthy(url, logs / "server.log", timeout=180)
        yield Server(url, env, logs)


@pytest.mark.slow
def test_deploy_and_run_from_prefect_yaml(server: Server, tmp_path: Path) -> None:
    """work-pool create, deploy, worker start, deployment run: Completed, with artifacts."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    from groves.demo_data import generate_dataset

    store = tmp_path / "store"
    generate_dataset(store / "raw", [STOCK], trading_days=4, seed=0)
    params = {
        "config": {
            "store": str(store),
            "run_id": RUN_ID,
            "grid": {"max_features": [5], "min_samples_split": [5, 25]},
            "groves": 1,
            "trees": 3,
            "workers": 1,
        },
        # Single fields on top of `config`: the flow's **overrides, through the schema.
        "overrides": {"final_groves": 2, "final_trees": 3},
    }

    run(prefect("work-pool", "create", POOL, "--type", "process"), server, timeout=120)
    deploy = prefect(
        "--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--name", POOL
    )
    run(deploy, server, timeout=180)

    deployment = api_call(server.url, lambda c: c.read_deployment_by_name(DEPLOYMENT))
    assert deployment.entrypoint == "flows/pipeline.py:forecast_pipeline"
    assert deployment.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
    ]
    assert deployment.parameters == {
        "config": {"store": f"{REPO}/groves-data", "executor": "local"}
    }

    with ExitStack() as stack:
        worker_log = server.logs / "worker.log"
        cmd = prefect("worker", "start", "--pool", POOL)
        # The worker starts outside the clone: the pull step must find it.
        stack.enter_context(started(cmd, server.env, worker_log, cwd=tmp_path))
        params_json = json.dumps(params)
        start = prefect("deployment", "run", DEPLOYMENT, "--params", params_json, "--watch")
        start += ["--watch-timeout", "300"]
        try:
            run(start, server, timeout=360, cwd=tmp_path)
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            pytest.fail(f"{exc}\n{tail(worker_log)}\n{tail(server.logs / 'server.log')}")

    def read_run(client: Any) -> Any:

        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[POOL]))
        )
        assert len(runs) == 1, runs
        return runs[0]

    flow_run = api_call(server.url, read_run)
    assert flow_run.state.is_completed(), flow_run.state
    shown = artifacts_tab(server.url, flow_run.id)  # as the UI lists them
    assert not any(a["key"] for a in shown)  # unkeyed: their order is ours

    summary = shown[0]
    assert summary["description"].startswith(f"groves run {RUN_ID}: 1 of 1 stock(s) completed")
    assert f"groves run `{RUN_ID}`" in summary["data"]
    assert f"{store}/runs/{RUN_ID}/" in summary["data"]
    titles = [a["description"].split("](")[0] for a in shown[1:6]]
    assert titles == [
        "![Test MSE / persistence MSE per stock",
        f"![{STOCK}: test-period forecast",
        f"![{STOCK}: grid search",
        "![Invocation timeline",
        "![Compute and I/O time per invocation",
    ]
    scores = shown[6]
    assert scores["description"].startswith("Scores of all 1 stock(s)")
    assert f"| {STOCK} |" in scores["data"]
    progress = shown[-len(STAGES) :]
    for stage, artifact in zip(STAGES, progress, strict=True):
        assert artifact["description"].startswith(f"{stage}: "), artifact["description"]
        assert artifact["description"].endswith(", done"), artifact["description"]
        assert "100%" in artifact["data"]
    keyed = {a.key: a for a in api_call(server.url, lambda c: c.read_artifacts()) if a.key}
    assert keyed[f"{RUN_ID.lower()}-summary"].flow_run_id is None  # the Artifacts page's copy

    config = json.loads((store / "runs" / RUN_ID / "config.json").read_text())
    assert (config["final_groves"], config["final_trees"], config["trees"]) == (2, 3, 3)


@pytest.mark.slow
def test_aws_blocks_keep_keys_secret(server: Server) -> None:
    """`groves aws blocks` saves both blocks; the secret key is stored but never printed."""
    secret = "fake-secret-" + os.urandom(8).hex()
    env = {
        **server.env,
        "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKE0000",
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_REGION": "eu-west-1",
    }
    env.pop("AWS_PROFILE", None)
    groves = [sys.executable, "-c", "from groves.cli import main; main()"]
    cmd = [*groves, "aws", "blocks", "--bucket", "groves-test-bucket"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert secret not in output and "AKIAFAKE" not in output
    assert "aws-credentials/groves-aws" in output and "s3-bucket/groves-store" in output

    def read(client: Any) -> tuple[Any, Any]:
        credentials = client.read_block_document_by_name(
            "groves-aws", "aws-credentials", include_secrets=True
        )
        bucket = client.read_block_document_by_name("groves-store", "s3-bucket")
        return credentials, bucket

    credentials, bucket = api_call(server.url, read)
    assert credentials.data["aws_secret_access_key"] == secret
    assert credentials.data["region_name"] == "eu-west-1"
    assert bucket.data["bucket_name"] == "groves-test-bucket"


def test_progress_artifacts_are_throttled_and_end_final(prefect_api: str) -> None:
    """At most one update per stage per interval while counts change; a final one at close;
    the API holds the final counts. Updates go to the real (session) Prefect API."""
    from prefect import flow
    from prefect.client.orchestration import SyncPrefectClient, get_client

    from tasks.progress import StageProgressArtifacts

    updates: list[tuple[Any, float, str, float]] = []
    real_update = SyncPrefectClient.update_artifact

    def spy(self: SyncPrefectClient, artifact_id: Any, artifact: Any) -> None:
        updates.append((artifact_id, artifact.data, artifact.description, time.monotonic()))
        real_update(self, artifact_id, artifact)

    interval = 0.2

    @flow
    def busy_run() -> tuple[dict[str, Any], float]:
        board = StageProgressArtifacts(["processing", "parampreds"], "Run_1", interval_s=interval)
        start = time.monotonic()
        for done in range(1, 501):  # 500 listener calls within about 1 s
            board("parampreds", done, 500)
            time.sleep(0.002)
        elapsed = time.monotonic() - start
        board("processing", 1, 1)
        board.close()
        return dict(board._ids), elapsed

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SyncPrefectClient, "update_artifact", spy)
        ids, elapsed = busy_run()

    mine = [u for u in updates if u[0] == ids["parampreds"]]
    assert 2 <= len(mine) <= elapsed / interval + 3  # the throttled ones, plus the final one
    gaps = [b[3] - a[3] for a, b in itertools.pairwise(mine[:-1])]
    assert all(gap >= interval * 0.9 for gap in gaps), gaps
    assert mine[-1][2] == "parampreds: 500 of 500 invocations, done"
    assert "100%" in mine[-1][1]
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterId

    mine_only = ArtifactFilter(id=ArtifactFilterId(any_=list(ids.values())))
    with get_client(sync_client=True) as client:  # only these: other tests made artifacts too
        stored = {a.id: a for a in client.read_artifacts(artifact_filter=mine_only)}
    processing, parampreds = stored[ids["processing"]], stored[ids["parampreds"]]
    assert processing.description == "processing: 1 of 1 invocations, done"
    assert parampreds.description == "parampreds: 500 of 500 invocations, done"
    assert "`[####################]` 100%" in parampreds.data
    # in stage order on the Artifacts tab (ids descending, as the UI sorts them)
    assert ids["processing"].int > ids["parampreds"].int
