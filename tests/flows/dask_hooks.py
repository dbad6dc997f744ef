"""Test-only hooks that the test cluster's Dask workers preload (``dask worker --preload``).

Every invocation a worker starts is appended to ``$GROVES_TEST_DASK_DIR/starts.log``
(``stage/stock/unit<TAB>pid``), so a test counts exactly what ran, and where. A test makes
one worker act at a chosen moment by writing ``plan.json`` there,
``{"stage": "trainfull", "nth": 2, "action": "kill" | "pause"}``: the worker that starts
the ``nth`` invocation of ``stage`` (counted over the whole cluster) takes the plan (an
atomic rename: exactly one worker wins) and then

* ``kill``: waits until it holds no finished task's result (so that nothing but this
  invocation is lost), writes ``killed`` (the invocation's name) and SIGKILLs its own
  worker process; its nanny starts a new one;
* ``pause``: writes ``paused`` and holds the invocation until ``release`` exists (or
  120 s), so the test can act while it is known to be running.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

DIR_ENV = "GROVES_TEST_DASK_DIR"


def _folder() -> Path:
    return Path(os.environ[DIR_ENV])


def _started(name: str) -> None:
    # One short O_APPEND write per line: lines from concurrent workers never interleave.
    fd = os.open(_folder() / "starts.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{name}\t{os.getpid()}\n".encode())
    finally:
        os.close(fd)


def starts(folder: Path) -> list[str]:
    """The invocation names started so far, in order (read by the tests)."""
    log = folder / "starts.log"
    if not log.exists():
        return []
    return [line.split("\t")[0] for line in log.read_text().splitlines() if line]


def _take_plan(stage: str) -> dict[str, Any] | None:
    folder = _folder()
    plan_file = folder / "plan.json"
    if not plan_file.exists():
        return None
    try:
        plan = json.loads(plan_file.read_text())
    except (OSError, ValueError):
        return None
    if plan.get("stage") != stage:
        return None
    if sum(name.startswith(f"{stage}/") for name in starts(folder)) < int(plan["nth"]):
        return None
    try:
        plan_file.rename(folder / f"plan.taken.{os.getpid()}")
    except OSError:  # another worker took it
        return None
    return plan


def _hold_no_results(limit_s: float = 20.0) -> None:
    """Wait until this worker keeps no finished task's result in memory."""
    from distributed import get_worker

    worker = get_worker()
    deadline = time.monotonic() + limit_s
    while len(worker.data) and time.monotonic() < deadline:
        time.sleep(0.05)


def _act(plan: dict[str, Any], name: str) -> None:
    folder = _folder()
    if plan["action"] == "kill":
        _hold_no_results()
        (folder / "killed").write_text(name)
        os.kill(os.getpid(), signal.SIGKILL)
    elif plan["action"] == "pause":
        (folder / "paused").write_text(name)
        deadline = time.monotonic() + 120
        while not (folder / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def _install() -> None:
    import tasks.executors
    from tasks.invocations import plan as plan_invocation

    original = tasks.executors._run_handler

    def hooked(function: str, event: dict[str, Any]) -> dict[str, Any]:
        name = plan_invocation(function, event).name
        _started(name)
        plan = _take_plan(function)
        if plan is not None:
            _act(plan, name)
        return original(function, event)

    tasks.executors._run_handler = hooked  # type: ignore[assignment]


def dask_setup(worker: Any) -> None:
    """Dask's preload entry point: runs in each worker process as it starts."""
    _install()
