"""A real Dask cluster on loopback for the tests, started the Dask way.

``dask scheduler`` and two ``dask worker`` processes (each a nanny and its worker
process, one thread), S3 on the session's moto server through the workers' environment,
every worker preloading `tests.flows.dask_hooks` (what ran, and a test's kill or pause
plan). `DaskCluster.stop_scheduler` takes the scheduler away; `restart` starts a fresh
scheduler (the same address) and fresh workers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flows.conftest import endpoint_env
from tests.flows.dask_hooks import DIR_ENV, starts

ROOT = Path(__file__).resolve().parents[2]
DASK = str(Path(sys.executable).with_name("dask"))
WORKERS = 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DaskCluster:
    """A scheduler and `WORKERS` workers as processes of their own; see the module doc."""

    def __init__(self, folder: Path, moto_url: str) -> None:
        self.folder = folder
        self.hooks = folder / "hooks"
        self.hooks.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.env = {
            **endpoint_env(moto_url),
            "PYTHONPATH": str(ROOT),
            "HOME": str(folder),
            DIR_ENV: str(self.hooks),
            "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self._logs = 0

    def _spawn(self, args: list[str], label: str) -> subprocess.Popen[bytes]:
        self._logs += 1
        log = (self.folder / f"{self._logs:02d}-{label}.log").open("wb")
        return subprocess.Popen(
            [DASK, *args],
            env=self.env,
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a nanny and its worker: one group, stopped together
        )

    def start(self) -> None:
        self.scheduler = self._spawn(
            ["scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
            "scheduler",
        )
        self.workers = [self._spawn(self._worker_args(i), f"worker{i}") for i in range(WORKERS)]
        self.wait_for_workers(WORKERS)

    def _worker_args(self, number: int) -> list[str]:
        return [
            "worker", self.address, "--host", "127.0.0.1", "--nthreads", "1",
            "--name", f"w{number}", "--memory-limit", "0", "--no-dashboard",
            "--death-timeout", "60", "--preload", "tests.flows.dask_hooks",
        ]  # fmt: skip

    def wait_for_workers(self, count: int, timeout_s: float = 180) -> None:
        from distributed import Client

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with Client(self.address, timeout=5, set_as_default=False) as client:
                    client.wait_for_workers(count, timeout=max(deadline - time.monotonic(), 1))
                    return
            except (OSError, TimeoutError) as exc:
                if time.monotonic() > deadline or (
                    self.scheduler is not None and self.scheduler.poll() is not None
                ):
                    raise RuntimeError(f"Dask cluster did not start: {exc}\n{self.logs()}") from exc
                time.sleep(0.5)

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.folder.glob("*.log"))
        )

    def stop_scheduler(self) -> None:
        """The scheduler gone, as a machine lost (SIGKILL); the workers stay."""
        if self.scheduler is not None:
            self.scheduler.send_signal(signal.SIGKILL)
            self.scheduler.wait(timeout=30)
            self.scheduler = None

    def stop(self) -> None:
        for process in [*self.workers, *([self.scheduler] if self.scheduler else [])]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        self.workers, self.scheduler = [], None

    def restart(self) -> None:
        self.stop()
        self.start()

    def starts(self) -> list[str]:
        """Every invocation started on the cluster so far (names, in order)."""
        return starts(self.hooks)

    def reset_hooks(self) -> None:
        for path in self.hooks.iterdir():
            path.unlink()


@pytest.fixture(scope="module")
def dask_cluster(
    moto_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaskCluster]:
    """A running loopback Dask cluster for the module's tests (its S3: the moto server)."""
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"), moto_server)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
