"""What the flow adds in the seed layout (``groves run --layout seed``).

The original's parent function timed its serial invoke loop per stage and wrote the
milliseconds to ``runtimes/invoke_{type}.txt`` in the main bucket; its timingmetrics reads
those files. `InvokeClock` wraps the run's executor and measures the same thing: the time
spent sending each stage's invocations (summed over stocks, as one serial loop would
have spent it); `write_invoke_files` writes them at the end of the run.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import Future
from typing import Any

from lambda_functions.seed_buckets import SeedBuckets, invoke_key
from tasks.executors import Executor


class InvokeClock:
    """An executor that measures, per stage, the time its ``submit`` calls take."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.ms: dict[str, float] = defaultdict(float)
        self.sent: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def submit(self, function: str, event: dict[str, Any]) -> Future[Any] | None:
        started = time.perf_counter()
        try:
            return self.inner.submit(function, event)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            with self._lock:
                self.ms[function] += elapsed
                self.sent[function] += 1

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # workers, function_prefix, ...
        return getattr(self.inner, name)


def write_invoke_files(
    buckets: SeedBuckets, clock: InvokeClock, stages: tuple[str, ...]
) -> dict[str, float]:
    """Write ``runtimes/invoke_{stage}.txt`` (ms) into the main bucket for every stage
    that invoked something in this run (a fully resumed stage keeps its earlier file)."""
    store = buckets.main_store()
    written = {}
    for stage in stages:
        if clock.sent.get(stage):
            written[stage] = clock.ms[stage]
            store.put_text(invoke_key(stage), f"{clock.ms[stage]}")
    return written
