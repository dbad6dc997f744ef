"""(g) how orchestration cost grows with the work: no-op workers at 99, 330 and 990 stocks.

The real flow (`flows.pipeline.forecast_pipeline`) at the seed's grid, 69 invocations a
stock (6,831 / 22,770 / 68,310), on two executors whose workers do no work but write the
receipt a worker would (`bench.orchestration.NoopExecutor`'s, in the worker process):

* ``local``: `tasks.executors.LocalExecutor`'s process pool (one process per core);
* ``dask``: `tasks.dask_executor.DaskExecutor` on a Dask cluster on loopback started
  the Dask way (``dask scheduler``, one ``dask worker`` per core, one thread each).

Each (size, executor) runs in a fresh process with a Prefect API server of its own, so
the memory figures are that run's. Reported: ms per invocation (flow wall / invocations),
the orchestrating process's and the Prefect server's peak RSS, and the task runs the
Prefect server recorded (read back through the Prefect client, paged, once every event
has been delivered: ``EventsWorker`` drained, then polled until the count stops moving)
against the run-stage tasks the flow ran and the invocations the workers ran (receipts
counted). Growth: ms per invocation at the largest size over the smallest. Each run also
measures Prefect's own floor in the same process and server (`prefect_floor`: no-op
tasks with the run-stage task's options), the baseline the orchestration reads against.

``--quick``: 10, 33 and 99 stocks (the same 1 : 3.3 : 10 steps).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

from bench.common import (
    machine,
    minimal_raw,
    peak_rss_mib,
    prefect_api,
    prefect_server_pid,
    process_cpu_s,
    quiet_prefect,
    write_result,
)
from bench.orchestration import NoopExecutor, RssSampler, _vm_kib

SIZES = (99, 330, 990)
QUICK_SIZES = (10, 33, 99)
EXECUTORS = ("local", "dask")
PER_STOCK = 1 + 27 + 9 + 1 + 30 + 1
STAGE_TASKS = 6  # run-stage task runs per stock
ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def _stub(store_url: str) -> NoopExecutor:
    return NoopExecutor(store_url)


def noop_worker(function: str, event: dict[str, Any], threads: Any = None) -> None:
    """In a worker process: write the invocation's receipt at once (no work)."""
    _stub(event["store"]).submit(function, event)


def _executor_class(kind: str) -> Any:
    # By reference to this module, also when it runs as __main__ (Dask's scheduler
    # unpickles the task, and must import the function, not receive it by value).
    from bench.scale import noop_worker

    if kind == "local":
        from tasks.executors import LocalExecutor

        class NoopLocal(LocalExecutor):
            def submit(self, function: str, event: dict[str, Any]) -> Any:
                return self._pool.submit(noop_worker, function, event)

        return NoopLocal
    from tasks.dask_executor import DaskExecutor

    class NoopDask(DaskExecutor):
        runner = staticmethod(noop_worker)

    return NoopDask


def recorded_task_runs(client: Any, flow_run_id: Any) -> dict[Any, Any]:
    """Every task run the server holds for the flow run, by id (paged by name, 200 a page)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    runs: dict[Any, Any] = {}
    while True:
        page = client.read_task_runs(
            flow_run_filter=flow_filter, sort=TaskRunSort.NAME_ASC, limit=200, offset=len(runs)
        )
        runs.update((run.id, run) for run in page)
        if len(page) < 200:
            return runs


def count_task_runs(
    flow_run_id: Any, expected_run_stage: int, settle_s: float = 120.0
) -> dict[str, Any]:
    """Task runs the Prefect server recorded for the flow run, by state type.

    Task runs reach the server as events, which it may still be working through when the
    flow returns: first the client's event queue is drained, then the server is asked
    (paged, by name, de-duplicated by id) until every run-stage task run is there and the
    count holds for 2 s, or it holds for 15 s short of that, or ``settle_s`` passes."""
    from prefect.client.orchestration import get_client
    from prefect.events.worker import EventsWorker

    started = time.monotonic()
    EventsWorker.drain_all(timeout=settle_s)
    last, stable_since, final_at = -1, started, started
    with get_client(sync_client=True) as client:
        while True:
            runs = recorded_task_runs(client, flow_run_id)
            now = time.monotonic()
            if len(runs) != last:
                last, stable_since, final_at = len(runs), now, now
            stage_runs = sum(1 for r in runs.values() if r.task_key and "run_stage" in r.task_key)
            held = now - stable_since
            if (stage_runs >= expected_run_stage and held >= 2) or held >= 15:
                break
            if now - started > settle_s:
                break
            time.sleep(0.5)
    by_state: dict[str, int] = {}
    for run in runs.values():
        state = run.state_type.value if run.state_type else "NONE"
        by_state[state] = by_state.get(state, 0) + 1
    return {
        "total": len(runs),
        "run_stage": stage_runs,
        "by_state": by_state,
        "settle_s": final_at - started,  # from the flow's return to the last new task run
    }


def persisted_completions(flow_run_id: Any, expected: int, settle_s: float = 60.0) -> int:
    """How many ``prefect.task-run.Completed`` events of the flow run the server persisted
    (what its Events feed shows), once the count reaches ``expected`` or holds for 5 s.

    The task runs and the event feed are kept by different consumers of the server's
    event stream, each with its own bounded queue: both must have every event."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

    wanted = EventFilter(  # up to now: every event of the run occurred before this call
        event=EventNameFilter(name=["prefect.task-run.Completed"]),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
    )
    started = time.monotonic()
    last, stable_since = -1, started
    with get_client(sync_client=True) as client:
        while True:
            total = client.read_events(filter=wanted, limit=1).total
            now = time.monotonic()
            if total != last:
                last, stable_since = total, now
            if total >= expected or now - stable_since >= 5 or now - started > settle_s:
                return total
            time.sleep(0.5)


FLOOR_TASKS = 600  # enough to measure Prefect's cost per task run; it does not grow


def prefect_floor(tasks: int, server: str | None) -> dict[str, Any]:
    """Prefect's own cost per task run on this machine: a flow of ``tasks`` no-op tasks
    with the run-stage task's options (retries, a cache key function, persisted results)
    on the thread-pool runner, against the same server. The floor under any flow that
    makes one task run per (stock, stage)."""
    from prefect import flow, task

    @task(name="floor", task_run_name="floor-{i}", retries=2, cache_key_fn=lambda *_: None,
          persist_result=True)  # fmt: skip
    def noop(i: int) -> dict[str, Any]:
        return {"i": i, "results": []}

    @flow(name="prefect-floor")
    def floor(n: int) -> None:
        for future in [noop.submit(i) for i in range(n)]:
            future.result()

    floor(5)  # warm: the flow, the task and their first API round trips
    own, other = process_cpu_s(), process_cpu_s(server) if server else 0.0
    started = time.perf_counter()
    state = floor(tasks, return_state=True)
    wall = time.perf_counter() - started
    own, other = process_cpu_s() - own, (process_cpu_s(server) - other) if server else 0.0
    _await_recorded(state.state_details.flow_run_id, tasks)  # not cut off at shutdown
    return {
        "tasks": tasks,
        "wall_ms_per_task": wall * 1000 / tasks,
        "orchestrator_cpu_ms_per_task": own * 1000 / tasks,
        "prefect_server_cpu_ms_per_task": other * 1000 / tasks,
    }


def _await_recorded(flow_run_id: Any, tasks: int, limit_s: float = 60.0) -> None:
    """Wait until the server recorded the flow run's ``tasks`` task runs (or ``limit_s``)."""
    from prefect.client.orchestration import get_client
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=limit_s)
    give_up = time.monotonic() + limit_s
    with get_client(sync_client=True) as client:
        while len(recorded_task_runs(client, flow_run_id)) < tasks:
            if time.monotonic() > give_up:
                return
            time.sleep(0.5)


def run_one(stocks: int, kind: str, address: str | None, workdir: Path) -> dict[str, Any]:
    """The flow over ``stocks`` no-op stocks on executor ``kind``; its figures."""
    quiet_prefect(workdir / "prefect-home")
    from flows import pipeline
    from groves.config import RunConfig
    from groves.demo_data import symbol_names
    from lambda_functions.storage import open_storage

    store_url = str(workdir / "store")
    store = open_storage(store_url)
    names = symbol_names(stocks)
    raw = minimal_raw()
    for name in names:  # passes the up-front input check; never read by the no-op workers
        store.put_text(f"raw/{name}_minute_data_with_indicators.csv", raw)
    config = RunConfig(
        store=store_url,
        stocks=tuple(names),
        run_id="scale",
        executor=kind,
        dask_address=address,
        workers=os.cpu_count() or 1,
    )
    executor_class = _executor_class(kind)

    def make(kind: str, **options: Any) -> Any:
        if kind == "local":
            return executor_class(workers=options.get("workers"))
        return executor_class(options["dask_address"], options["store_url"])

    with prefect_api():
        pid = prefect_server_pid()
        server = str(pid) if pid else None
        sampler = RssSampler()
        sampler.start()
        own_cpu, server_cpu = process_cpu_s(), process_cpu_s(server) if server else 0.0
        with mock.patch.object(pipeline, "make_executor", make):
            started = time.perf_counter()
            state = pipeline.forecast_pipeline(config, return_state=True)
            wall = time.perf_counter() - started
        summary = state.result()
        own_cpu = process_cpu_s() - own_cpu
        server_cpu = process_cpu_s(server) - server_cpu if server else 0.0
        sampled_peak = sampler.stop()
        # The run's peak: what follows (reading every task run back, the floor's flow) is
        # the benchmark's own bookkeeping, reported apart.
        run_peak = max(sampled_peak, peak_rss_mib())
        recorded = count_task_runs(
            state.state_details.flow_run_id, stocks * STAGE_TASKS, max(120.0, stocks * 0.6)
        )
        completions = persisted_completions(
            state.state_details.flow_run_id, recorded["by_state"].get("COMPLETED", 0)
        )
        # The server's, once it has taken in the run's last events (before the floor).
        server_hwm = _vm_kib("VmHWM", server) / 1024 if server else None
        floor = prefect_floor(min(stocks * STAGE_TASKS, FLOOR_TASKS), server)
    invocations = stocks * PER_STOCK
    receipts = sum(1 for _ in (Path(store_url) / "runs" / "scale" / "receipts").rglob("*.json"))
    bookkeeping_peak = peak_rss_mib()
    return {
        "stocks": stocks,
        "executor": kind,
        "invocations": invocations,
        "executed": sum(summary["executed"].values()),
        "receipts": receipts,  # stage invocations + the report stage's one
        "failed": len(summary["failed"]),
        "flow_wall_s": wall,
        "ms_per_invocation": wall * 1000 / invocations,
        "orchestrator_cpu_ms_per_invocation": own_cpu * 1000 / invocations,
        "prefect_server_cpu_ms_per_invocation": server_cpu * 1000 / invocations,
        "orchestrator_peak_rss_mib": run_peak,
        "orchestrator_peak_rss_with_bookkeeping_mib": bookkeeping_peak,
        "prefect_server_peak_rss_mib": server_hwm,
        "peak_rss_sum_mib": run_peak + (server_hwm or 0),
        "stage_tasks_expected": stocks * STAGE_TASKS,
        "task_runs_recorded": recorded,
        "completed_events_persisted": completions,
        "prefect_floor": floor,
        "machine": machine(),
    }


class LoopbackCluster:
    """``dask scheduler`` and one single-threaded ``dask worker`` per core, on loopback."""

    def __init__(self, folder: Path, workers: int) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.folder = folder
        self.count = workers
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> LoopbackCluster:
        dask = str(Path(sys.executable).with_name("dask"))
        env = {**os.environ, "PYTHONPATH": str(ROOT), "GROVES_N_JOBS": "1"}
        commands = [["scheduler", "--host", "127.0.0.1", "--port", str(self.port)]]
        commands += [
            ["worker", self.address, "--host", "127.0.0.1", "--nthreads", "1", "--name", f"w{i}"]
            for i in range(self.count)
        ]
        for n, args in enumerate(commands):
            log = (self.folder / f"dask-{n}.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    [dask, *args, "--no-dashboard"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        from distributed import Client

        deadline = time.monotonic() + 180
        while True:
            try:
                with Client(self.address, timeout=5, set_as_default=False) as client:
                    client.wait_for_workers(self.count, timeout=180)
                return self
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def __exit__(self, *exc: Any) -> None:
        import signal

        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _one_in_subprocess(stocks: int, kind: str, address: str | None, folder: Path) -> dict:
    out = folder / f"{kind}-{stocks}.json"
    args = [sys.executable, "-m", "bench.scale", "--one", str(stocks), "--executor", kind]
    args += ["--result", str(out)] + (["--dask-address", address] if address else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GROVES_N_JOBS": "1"}
    subprocess.run(args, check=True, cwd=ROOT, env=env)
    return json.loads(out.read_text())


def growth(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per executor: ms/invocation at the largest size over the smallest; dask over local."""
    result: dict[str, Any] = {}
    for kind in EXECUTORS:
        mine = sorted((r for r in runs if r["executor"] == kind), key=lambda r: r["stocks"])
        if len(mine) >= 2:
            result[f"{kind}_largest_over_smallest"] = (
                mine[-1]["ms_per_invocation"] / mine[0]["ms_per_invocation"]
            )
    for stocks in sorted({r["stocks"] for r in runs}):
        pair = {r["executor"]: r for r in runs if r["stocks"] == stocks}
        if set(EXECUTORS) <= set(pair):
            result[f"dask_over_local_{stocks}"] = (
                pair["dask"]["ms_per_invocation"] / pair["local"]["ms_per_invocation"]
            )
    return result


def _events_note(r: dict[str, Any]) -> str:
    persisted = r.get("completed_events_persisted")
    if persisted is None:  # measured before the events were counted
        return ""
    completed = r["task_runs_recorded"]["by_state"].get("COMPLETED", 0)
    lost = "" if persisted == completed else " (**lost some**)"
    return f"; task-run Completed events persisted {persisted:,} of {completed:,}{lost}"


def rows(g: dict[str, Any], row: Any) -> list[str]:
    """The markdown rows of (g) for docs/benchmarks.md (``row``: bench.__main__._row)."""
    out: list[str] = []
    runs = sorted(g["runs"], key=lambda r: (r["executor"], r["stocks"]))
    largest = max(r["stocks"] for r in runs)
    for r in runs:
        recorded = r["task_runs_recorded"]
        all_recorded = recorded["run_stage"] == r["stage_tasks_expected"]
        goal = r["stocks"] == largest  # the goal is stated for the largest size
        out.append(row(
            f"(g) {r['executor']}, {r['stocks']} stocks: ms per invocation",
            r["ms_per_invocation"], "<= 2 ms" if goal else "(for reference)",
            r["ms_per_invocation"] <= 2.0 if goal else None,
            f"{r['invocations']:,} invocations in {r['flow_wall_s']:.1f} s; peak RSS "
            f"orchestrator {r['orchestrator_peak_rss_mib']:.0f} + Prefect server "
            f"{r['prefect_server_peak_rss_mib'] or 0:.0f} MiB (goal <= 1536); run-stage task "
            f"runs recorded {recorded['run_stage']:,} of {r['stage_tasks_expected']:,}"
            f"{'' if all_recorded else ' (**lost some**)'}; receipts {r['receipts']:,}"
            f"{_events_note(r)}",
        ))  # fmt: skip
    grow = g["growth"]
    sizes = sorted({r["stocks"] for r in runs})
    for kind in EXECUTORS:
        ratio = grow.get(f"{kind}_largest_over_smallest")
        if ratio is not None:
            out.append(row(
                f"(g) {kind}: ms/invocation at {sizes[-1]} / at {sizes[0]} stocks", ratio,
                "<= 1.2", ratio <= 1.2, "growth of the cost per invocation with the work",
            ))  # fmt: skip
    for stocks in sizes:
        ratio = grow.get(f"dask_over_local_{stocks}")
        if ratio is not None:
            out.append(row(
                f"(g) dask / local ms per invocation, {stocks} stocks", ratio, "<= 2",
                ratio <= 2.0, "no-op workers: the executors' own overhead",
            ))  # fmt: skip
    return out


def details(g: dict[str, Any]) -> list[str]:
    """The (g) paragraph of docs/benchmarks.md's "Where the time goes"."""
    parts = []
    for r in sorted(g["runs"], key=lambda r: (r["executor"], r["stocks"])):
        recorded = r["task_runs_recorded"]
        floor = r.get("prefect_floor")
        per_task = r["invocations"] / r["stage_tasks_expected"]
        floor_text = (
            f" (Prefect's own floor, {floor['tasks']} no-op tasks in the same run: "
            f"{floor['orchestrator_cpu_ms_per_task'] / per_task:.2f} + "
            f"{floor['prefect_server_cpu_ms_per_task'] / per_task:.2f} at {per_task:.1f} "
            "invocations per task run)"
            if floor
            else ""
        )
        parts.append(
            f"{r['executor']} {r['stocks']}: orchestrator "
            f"{r['orchestrator_cpu_ms_per_invocation']:.2f}, Prefect server "
            f"{r['prefect_server_cpu_ms_per_invocation']:.2f} CPU-ms per invocation{floor_text}; "
            f"{recorded['total']:,} task runs recorded ({recorded['by_state']}), the last "
            f"{recorded['settle_s']:.1f} s after the flow returned"
        )
    sizes = ", ".join(str(s) for s in g["sizes"])
    load = g["machine"].get("loadavg_at_start")
    when = f"run {g['date']}, " if g.get("date") else ""
    missing = [s for s in SIZES if s not in g["sizes"]]
    if missing:
        when += f"sizes {', '.join(map(str, missing))} not run (`python -m bench --only g`), "
    absent = [k for k in EXECUTORS if all(r["executor"] != k for r in g["runs"])]
    if absent:
        when += f"executor {', '.join(absent)} not run (`--executors`), "
    return [
        f"(g) {when}load average at its start {load}; sizes {sizes} stocks"
        f"{' (--quick)' if g.get('quick') else ''}, no-op workers "
        f"({g['machine'].get('cpus')} local worker processes, or as many single-threaded "
        "Dask workers on loopback): " + "; ".join(parts) + ".",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10, 33, 99 stocks.")
    parser.add_argument("--sizes", default=None, help="Comma-separated stock counts.")
    parser.add_argument("--executors", default=",".join(EXECUTORS))
    parser.add_argument("--out", type=Path, default=None, help="Results folder.")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--executor", default="local", help=argparse.SUPPRESS)
    parser.add_argument("--dask-address", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # one (size, executor), in a process of its own
        with tempfile.TemporaryDirectory(prefix="groves-scale-") as tmp:
            result = run_one(args.one, args.executor, args.dask_address, Path(tmp))
        args.result.write_text(json.dumps(result, default=str))
        return
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else None
    sizes = sizes or list(QUICK_SIZES if args.quick else SIZES)
    kinds = [k for k in args.executors.split(",") if k]
    cores = os.cpu_count() or 1
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="groves-scale-") as tmp:
        folder = Path(tmp)
        cluster = LoopbackCluster(folder, cores) if "dask" in kinds else None
        address = cluster.__enter__().address if cluster else None
        try:
            for stocks in sizes:
                for kind in kinds:
                    print(f"-- {kind}, {stocks} stocks", flush=True)
                    where = address if kind == "dask" else None
                    runs.append(_one_in_subprocess(stocks, kind, where, folder))
        finally:
            if cluster:
                cluster.__exit__(None, None, None)
    result = {
        "sizes": sizes,
        "quick": args.quick,
        "runs": runs,
        "growth": growth(runs),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "goal_ms_per_invocation": 2.0,
        "goal_peak_rss_mib": 1536.0,
        "goal_growth": 1.2,
        "goal_dask_over_local": 2.0,
        "machine": machine(),
    }
    kwargs = {"out": args.out} if args.out else {}
    print(write_result("scale", result, **kwargs))
    print(json.dumps(result["growth"]))


if __name__ == "__main__":
    main()
