"""What the tasks of one flow run share in-process: configuration, store, executor, progress.

Prefect task parameters are serialised and hashed, so live objects (an executor's process
pool, a boto3 client) do not travel as parameters: the flow registers a `Runtime` under its
flow run id for the duration of the run, and its tasks look it up with `current`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from prefect.runtime import flow_run

from groves.config import RunConfig
from lambda_functions.layout import RunLayout
from lambda_functions.storage import Storage
from tasks.awaiting import AwaitOptions
from tasks.executors import Executor
from tasks.progress import ProgressBoard


@dataclass
class Runtime:
    """The live objects of one flow run."""

    config: RunConfig
    store: Storage
    executor: Executor
    progress: ProgressBoard = field(default_factory=ProgressBoard)
    inflight_cap: int | None = None  # Lambda: the cap the run found (`tasks.lambda_limits`)

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.config.resolved_run_id)

    @property
    def await_options(self) -> AwaitOptions:
        """How the run's tasks await receipts (its timeout, event age and poll cap)."""
        return AwaitOptions(
            timeout_s=self.config.timeout_s,
            max_event_age_s=self.config.max_event_age_s,
            max_poll_s=self.config.max_poll_s,
        )


_RUNTIMES: dict[str, Runtime] = {}
_LOCK = threading.Lock()


@contextmanager
def registered(runtime: Runtime) -> Iterator[Runtime]:
    """Make ``runtime`` the current flow run's, until the block ends."""
    key = str(flow_run.id)
    with _LOCK:
        _RUNTIMES[key] = runtime
    try:
        yield runtime
    finally:
        with _LOCK:
            _RUNTIMES.pop(key, None)


def current() -> Runtime:
    """The runtime of the flow run this task belongs to."""
    return _RUNTIMES[str(flow_run.id)]


def find() -> Runtime | None:
    """The current runtime, or None outside a registered flow run."""
    return _RUNTIMES.get(str(flow_run.id))
