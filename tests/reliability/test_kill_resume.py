"""Kill and resume: ``kill -9`` the whole ``groves run --local`` process group mid-run, run
the same command again; it completes, executing exactly the invocations that had no
receipt at the kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambda_functions.stages import GRID
from lambda_functions.storage import open_storage

pytestmark = pytest.mark.slow
GROVES = str(Path(sys.executable).with_name("groves"))
RUN = "k"
STOCKS = ("RELIANCE", "TCS")
# Per stock: processing 1, parampreds 2 cells x 2 groves, predmses 2, minmse 1,
# trainfull 2, testfull 1.
EXPECTED = len(STOCKS) * (1 + 4 + 2 + 1 + 2 + 1)


def ok_receipts(url: str) -> dict[str, float]:
    """Receipt key -> start time, for every ok receipt of the run's stages."""
    store = open_storage(url)
    found = {}
    for stage in GRID.names:
        for key in store.keys(f"runs/{RUN}/receipts/{stage}/"):
            try:
                receipt = store.get_json(key)
            except (KeyError, ValueError):
                continue
            if receipt.get("status") == "ok":
                found[key] = receipt["start"]
    return found


def test_kill_minus_nine_then_the_same_command_resumes(
    local_store: str, prefect_api: str, tmp_path: Path
) -> None:
    url = local_store
    command = [
        GROVES, "run", "--local", "--data", url, "--stocks", ",".join(STOCKS),
        "--grid-feat", "5", "--grid-samp", "5,25", "--groves", "2", "--trees", "20",
        "--final-groves", "2", "--final-trees", "20", "--run-id", RUN, "--workers", "1",
        "--json",
    ]  # fmt: skip
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": prefect_api,  # the test API: no server to start in the child
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "GROVES_N_JOBS": "1",
    }
    log = (tmp_path / "first.log").open("wb")
    first = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            done = len(ok_receipts(url))
            if done >= 4 or first.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the flow, its worker processes, everything
        first.wait()
        log.close()
    assert first.returncode == -signal.SIGKILL, (tmp_path / "first.log").read_text()[-3000:]
    time.sleep(1.0)  # a worker that was writing when killed has certainly stopped now
    at_kill = ok_receipts(url)
    time.sleep(0.5)
    assert ok_receipts(url) == at_kill  # nothing is still running
    unfinished = EXPECTED - len(at_kill)
    assert 0 < len(at_kill) < EXPECTED

    restart = time.time()
    second = subprocess.run(command, env=env, capture_output=True, timeout=600)
    assert second.returncode == 0, second.stderr.decode()[-3000:]
    summary = json.loads(second.stdout)
    assert summary["failed"] == {}
    assert sum(summary["executed"].values()) == unfinished
    assert sum(summary["reused"].values()) == len(at_kill)
    # The receipts agree: exactly the unfinished invocations started after the restart,
    # and every receipt finished before the kill was kept as it was.
    final = ok_receipts(url)
    assert len(final) == EXPECTED
    assert sum(start > restart for start in final.values()) == unfinished
    assert {k: final[k] for k in at_kill} == at_kill
    assert [s["status"] for s in summary["stocks"]] == ["ok", "ok"]
    print(f"kill/resume: {len(at_kill)} ok receipts at the kill, {unfinished} executed after")
