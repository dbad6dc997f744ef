"""Kill and resume: ``kill -9`` the whole ``groves run --local`` process group mid-run (early
in the grid search, or during the final groves), run the same command again; it completes,
executing exactly the invocations that had no receipt at the kill, with the results of an
uninterrupted run."""

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
from tests.conftest import place_raw

pytestmark = pytest.mark.slow
GROVES = str(Path(sys.executable).with_name("groves"))
RUN = "k"
STOCKS = ("RELIANCE", "TCS")
FINAL_GROVES = 4
# Per stock: processing 1, parampreds 2 cells x 2 groves, predmses 2, minmse 1,
# trainfull 4, testfull 1.
EXPECTED = len(STOCKS) * (1 + 4 + 2 + 1 + FINAL_GROVES + 1)
OPTIONS = [
    "--stocks", ",".join(STOCKS), "--grid-feat", "5", "--grid-samp", "5,25", "--groves", "2",
    "--trees", "20", "--final-groves", str(FINAL_GROVES), "--final-trees", "20",
    "--workers", "1", "--no-plots", "--json",
]  # fmt: skip
# When to kill: early in the grid search (4 receipts), or once a final grove is done.
KILL_WHEN = {
    "grid-search": lambda found: len(found) >= 4,
    "final-groves": lambda found: any("/trainfull/" in key for key in found),
}


def ok_receipts(url: str, run_id: str = RUN) -> dict[str, float]:
    """Receipt key -> start time, for every ok receipt of the run's stages."""
    store = open_storage(url)
    found = {}
    for stage in GRID.names:
        for key in store.keys(f"runs/{run_id}/receipts/{stage}/"):
            try:
                receipt = store.get_json(key)
            except (KeyError, ValueError):
                continue
            if receipt.get("status") == "ok":
                found[key] = receipt["start"]
    return found


def cli_env(prefect_api: str, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": prefect_api,  # the test API: no server to start in the child
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "GROVES_N_JOBS": "1",
    }


@pytest.fixture(scope="module")
def uninterrupted(
    raw_dir: Path, prefect_api: str, tmp_path_factory: pytest.TempPathFactory
) -> list[dict]:
    """The per-stock results of the same command never interrupted (own store, run id
    ``clean``): run once, compared with both kill points (the run id enters no seed)."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    url = str(folder / "store")
    place_raw(url, raw_dir)
    clean = [GROVES, "run", "--local", "--data", url, "--run-id", "clean", *OPTIONS]
    env = cli_env(prefect_api, folder / "prefect-home")
    done = subprocess.run(clean, env=env, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return json.loads(done.stdout)["stocks"]


@pytest.mark.parametrize("kill_at", list(KILL_WHEN))
def test_kill_minus_nine_then_the_same_command_resumes(
    local_store: str, prefect_api: str, tmp_path: Path, kill_at: str, uninterrupted: list[dict]
) -> None:
    url = local_store
    command = [GROVES, "run", "--local", "--data", url, "--run-id", RUN, *OPTIONS]
    env = cli_env(prefect_api, tmp_path / "prefect-home")
    log = (tmp_path / "first.log").open("wb")
    first = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if KILL_WHEN[kill_at](ok_receipts(url)) or first.poll() is not None:
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
    # The same results as a run never interrupted.
    assert summary["stocks"] == uninterrupted
    print(f"kill/resume at {kill_at}: {len(at_kill)} ok receipts at the kill, {unfinished} after")
