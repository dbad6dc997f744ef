"""Local worker processes fork from a server that imported the main script once; what each
pool asks it to preload adds up, and a run can start it before its first invocation."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from groves.worker_processes import start_server, worker_context
from tasks.executors import LocalExecutor, start_local_workers

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver here"
)

SCRIPT = """
import os, sys
sys.path.insert(0, {root!r})
with open(os.environ["IMPORTS_LOG"], "a") as log:  # once per process that imports me
    log.write(f"{{os.getpid()}}\\n")
from tasks.executors import LocalExecutor

if __name__ == "__main__":
    workers = set()
    for _ in range(2):  # two pools, as two runs in one process
        executor = LocalExecutor(workers=2)
        workers.update(executor._pool.submit(os.getpid).result() for _ in range(4))
        executor.close()
    print(len(workers))
"""


def test_workers_do_not_import_the_main_script_again(tmp_path: Path) -> None:
    script, log = tmp_path / "main_script.py", tmp_path / "imports.log"
    script.write_text(SCRIPT.format(root=str(ROOT)))
    env = {**os.environ, "IMPORTS_LOG": str(log)}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) >= 2  # several worker processes ran
    # The script itself and the forkserver imported it; no worker did.
    assert len(log.read_text().split()) == 2


def test_a_new_pool_sees_the_environment_of_now(monkeypatch: pytest.MonkeyPatch) -> None:
    first = LocalExecutor(workers=1)
    try:  # the forkserver is running now, with the environment of before
        assert first._pool.submit(os.getenv, "GROVES_PROBE").result() is None
    finally:
        first.close()
    monkeypatch.setenv("GROVES_PROBE", "after")
    second = LocalExecutor(workers=1)
    try:
        assert second._pool.submit(os.getenv, "GROVES_PROBE").result() == "after"
        assert second._pool.submit(os.getenv, "GROVES_N_JOBS").result() is not None
    finally:
        second.close()


def _preload() -> list[str]:
    from multiprocessing import forkserver

    return list(forkserver._forkserver._preload_modules)  # type: ignore[attr-defined]


def test_a_later_pool_keeps_what_an_earlier_one_preloads() -> None:
    """The plot pool is made after the local workers' pool: asking for no preload of its
    own must not drop the workers' (each worker would import pandas and scikit-learn)."""
    worker_context(["lambda_functions.processing"])
    worker_context()
    preload = _preload()
    assert preload[0] == "groves._forkserver_main"
    assert "lambda_functions.processing" in preload


def test_start_local_workers_starts_the_server_with_the_handlers() -> None:
    from multiprocessing import forkserver

    start_local_workers()
    pid = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    assert pid is not None
    os.kill(pid, 0)  # running (raises if not)
    assert {"tasks.executors", "lambda_functions.trainfull"} <= set(_preload())
    start_server()  # already running: nothing to do, and nothing lost
    assert forkserver._forkserver._forkserver_pid == pid  # type: ignore[attr-defined]
    assert "lambda_functions.trainfull" in _preload()
