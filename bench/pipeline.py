"""(a) pipeline vs the physical limit, (b) pipeline vs a plain joblib script.

One generated dataset; the real flow (`flows.pipeline.forecast_pipeline`, local
executor: a process per core) runs it end to end against a private Prefect API, its
workers instrumented to report the CPU seconds spent inside ``fit_grove`` and
``predict_levels``; then `bench.plain` does the same fits with joblib in a fresh process.

* (a) = pipeline wall / (sum of in-worker fit+predict CPU seconds / cores)
* (b) = pipeline wall / plain wall

Both walls start after the process's own imports: the flow call (worker processes
started, every invocation, the timing report and plots) and the plain script's work
(joblib's worker processes started, every fit). Prefect's API server is already up.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from unittest import mock

from bench.common import (
    machine,
    peak_rss_mib,
    prefect_api,
    prefect_server_pid,
    process_cpu_s,
    quiet_prefect,
    reaped_children_cpu_s,
    write_result,
)

SIZES: dict[str, dict[str, Any]] = {
    # The seed's grid and forest sizes on three stocks of 14 trading days (5,250 rows each).
    "full": {
        "stocks": ["RELIANCE", "TCS", "INFY"],
        "days": 14,
        "feat": (5, 7, 9),
        "samp": (5, 15, 25),
        "groves": 3,
        "trees": 100,
        "final_groves": 30,
        "final_trees": 25,
    },
    "quick": {
        "stocks": ["RELIANCE", "TCS"],
        "days": 8,
        "feat": (5, 9),
        "samp": (5, 25),
        "groves": 2,
        "trees": 40,
        "final_groves": 6,
        "final_trees": 20,
    },
}


class InstrumentedExecutor:
    """`tasks.executors.LocalExecutor`, its workers reporting fit+predict CPU seconds."""

    kind = "local"

    def __init__(self, workers: int | None = None) -> None:
        from tasks.executors import LocalExecutor

        self._inner = LocalExecutor(workers=workers)
        self.workers = self._inner.workers
        self._lock = threading.Lock()
        self.fit_predict_cpu_s = 0.0
        self.handler_cpu_s = 0.0
        self.invocations = 0

    def submit(self, function: str, event: dict[str, Any]) -> Any:
        from bench.instrument import run_handler
        from tasks.executors import FUNCTIONS

        if function not in FUNCTIONS:
            raise ValueError(f"unknown worker function {function!r}")
        future = self._inner._pool.submit(run_handler, function, event)
        future.add_done_callback(self._collect)
        return future

    def _collect(self, future: Any) -> None:
        if future.exception() is not None:
            return
        result = future.result()
        with self._lock:
            self.fit_predict_cpu_s += result["fit_predict_cpu_s"]
            self.handler_cpu_s += result["handler_cpu_s"]
            self.invocations += 1

    def close(self) -> None:
        self._inner.close()


# Issue 15's targets (the first round's were 1.10 and 1.00).
GOAL_A = 1.05  # pipeline wall / (fit+predict CPU / cores)
GOAL_B = 0.95  # pipeline wall / the plain joblib script's wall


def _children_cpu_s() -> float:
    """CPU seconds of this process's finished (waited-for) children and their children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _workers_cpu_s() -> float:
    """CPU seconds of the local executor's worker processes so far: they are children of
    multiprocessing's forkserver (`groves.worker_processes`), which imports the handlers
    once and reaps each worker, so its own CPU and its reaped children's count."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid is None:
        return _children_cpu_s()
    return _children_cpu_s() + process_cpu_s(pid) + reaped_children_cpu_s(pid)


def _settled_workers_cpu_s(limit_s: float = 2.0) -> float:
    """`_workers_cpu_s` once the forkserver has reaped the workers that just exited."""
    last, deadline = _workers_cpu_s(), time.monotonic() + limit_s
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = _workers_cpu_s()
        if now == last:
            return now
        last = now
    return last


def _idle_gaps(report_json: Path, epoch: float, wall: float) -> dict[str, float]:
    """Where the wall time went besides invocations: before the first invoke, after the
    last end, and in between with no invocation running (from the saved report)."""
    from groves.reporting.stats import concurrency_steps

    timeline = json.loads(report_json.read_text())["series"]["timeline"]
    rows = timeline["rows"]
    steps = concurrency_steps((r[2], r[3]) for r in rows)
    idle = sum(b[0] - a[0] for a, b in itertools.pairwise(steps) if a[1] == 0)
    first = timeline["t0"] - epoch
    last_end = max(r[3] for r in rows)
    first_start = min(r[2] for r in rows)
    return {
        "flow_start_to_first_invoke_s": first,
        "first_invoke_to_first_start_s": first_start,
        "no_invocation_running_s": idle,
        "after_last_end_s": wall - first - last_end,
    }


def run(size: str, workdir: Path) -> dict[str, Any]:
    """Both benchmarks on one dataset; returns the figures and their ratios."""
    spec = SIZES[size]
    quiet_prefect(workdir / "prefect-home")
    from flows import pipeline
    from groves.config import RunConfig
    from groves.demo_data import generate_dataset
    from lambda_functions.events import Grid

    store = workdir / "store"
    generate_dataset(store / "raw", spec["stocks"], trading_days=spec["days"], seed=0,
                     engine="pyarrow")  # fmt: skip
    cores = os.cpu_count() or 1
    config = RunConfig(
        store=str(store),
        stocks=tuple(spec["stocks"]),
        grid=Grid(max_features=spec["feat"], min_samples_split=spec["samp"]),
        groves=spec["groves"],
        trees=spec["trees"],
        final_groves=spec["final_groves"],
        final_trees=spec["final_trees"],
        workers=cores,
        run_id="bench",
    )
    executors: list[InstrumentedExecutor] = []

    def make(kind: str, **options: Any) -> InstrumentedExecutor:
        executors.append(InstrumentedExecutor(workers=options.get("workers")))
        return executors[-1]

    with prefect_api(), mock.patch.object(pipeline, "make_executor", make):
        server = prefect_server_pid()
        server_cpu = process_cpu_s(server) if server else 0.0
        own_cpu, workers_cpu = process_cpu_s(), _workers_cpu_s()
        started, epoch = time.perf_counter(), time.time()
        summary = pipeline.forecast_pipeline(config)  # its worker processes end with it
        wall = time.perf_counter() - started
        own_cpu = process_cpu_s() - own_cpu
        workers_cpu = _settled_workers_cpu_s() - workers_cpu
        server_cpu = process_cpu_s(server) - server_cpu if server else None
    executor = executors[0]
    report = summary["timing"]["report"]
    gaps = _idle_gaps(store / "runs" / "bench" / "timingmetrics" / "report.json", epoch, wall)
    physical = executor.fit_predict_cpu_s / cores

    plain_spec = {
        "raw_dir": str(store / "raw"),
        "stocks": spec["stocks"],
        "cells": [[f, s] for f in spec["feat"] for s in spec["samp"]],
        "groves": spec["groves"],
        "trees": spec["trees"],
        "final_groves": spec["final_groves"],
        "final_trees": spec["final_trees"],
        "seed": 0,
        "workers": cores,
    }
    env = {**os.environ, "GROVES_N_JOBS": "1"}
    children = _children_cpu_s()
    out = subprocess.run(
        [sys.executable, "-m", "bench.plain", json.dumps(plain_spec)],
        capture_output=True, text=True, check=True, env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    plain_cpu = _children_cpu_s() - children  # the script and its joblib workers
    plain = json.loads(out.stdout.strip().splitlines()[-1])
    same = all(
        plain["stocks"][row["stock"]]["test_mse"] == row["test_mse"] for row in summary["stocks"]
    )
    invocations = report["total"]["invocations"]
    return {
        "size": size,
        "spec": {k: list(v) if isinstance(v, tuple) else v for k, v in spec.items()},
        "cores": cores,
        "invocations": invocations,
        "pipeline_wall_s": wall,
        "pipeline_makespan_s": report["total"]["makespan_s"],
        "fit_predict_cpu_s": executor.fit_predict_cpu_s,
        "handler_cpu_s": executor.handler_cpu_s,
        "receipts_compute_s": report["total"]["compute_s"],
        "receipts_busy_s": report["total"]["busy_s"],
        "orchestrator_cpu_s": own_cpu,
        "workers_process_cpu_s": workers_cpu,
        "prefect_server_cpu_s": server_cpu,
        "physical_limit_s": physical,
        "plain_wall_s": plain["wall_s"],
        "plain_cpu_s": plain_cpu,
        "plain_over_physical": plain["wall_s"] / physical,
        "same_test_mse": same,
        "ratio_a_pipeline_over_physical": wall / physical,
        "ratio_b_pipeline_over_plain": wall / plain["wall_s"],
        "goal_a": GOAL_A,
        "goal_b": GOAL_B,
        "stage_makespans_s": {s: v["makespan_s"] for s, v in report["stages"].items()},
        **gaps,
        "orchestrator_peak_rss_mib": peak_rss_mib(),
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="A smaller dataset and grid.")
    parser.add_argument("--out", type=Path, default=None, help="Results folder.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="groves-bench-") as tmp:
        result = run("quick" if args.quick else "full", Path(tmp))
    kwargs = {"out": args.out} if args.out else {}
    print(write_result("pipeline", result, **kwargs))
    print(json.dumps({k: v for k, v in result.items() if k.startswith("ratio")}))


if __name__ == "__main__":
    main()
