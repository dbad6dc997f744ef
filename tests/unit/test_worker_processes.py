"""Local worker processes fork from a server that imported the main script once."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.executors import LocalExecutor

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
