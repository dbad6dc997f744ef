"""(c) orchestration at the seed's scale: the real flow, 99 stocks, a no-op worker.

99 stocks x (1 + 27 + 9 + 1 + 30 + 1) = 6,831 invocations through the real flow
(`flows.pipeline.forecast_pipeline`: Prefect tasks per stage and stock, events planned
and validated, receipts awaited by `tasks.invocations.run_invocations`, the timing
tables and report). Only the executor is a stub, injected through ``make_executor``: it
writes each invocation's receipt at once, as a worker with no work would, so what is
measured is the orchestration. Reports ms per invocation (flow wall / invocations) and the
orchestrating process's peak RSS (sampled every 20 ms, and the kernel's high-water mark).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
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

FAKE_RESULTS: dict[str, dict[str, Any]] = {
    "minmse": {"feat": 5, "samp": 5, "mse": 1.0},
    "predmses": {"mse": {}, "persistence_mse": 1.0},
    "testfull": {"mse": 1.0, "persistence_mse": 1.0, "ratio": 1.0},
}


class RssSampler(threading.Thread):
    """Samples this process's resident set size (VmRSS) until stopped."""

    def __init__(self, every_s: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.every_s = every_s
        self.peak_kib = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_kib = max(self.peak_kib, _vm_kib("VmRSS"))
            self._stop_event.wait(self.every_s)

    def stop(self) -> float:
        """Stop; return the peak in MiB."""
        self._stop_event.set()
        self.join()
        return self.peak_kib / 1024


def _vm_kib(field: str, pid: str = "self") -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class NoopExecutor:
    """Writes each invocation's receipt at once (no work); timingmetrics really runs."""

    kind = "local"
    workers = 1

    def __init__(self, store_url: str) -> None:
        from lambda_functions.storage import open_storage

        self.store = open_storage(store_url)
        self.root = Path(store_url)
        self._folders: set[Path] = set()
        self.stub_s = 0.0
        self.invocations = 0
        self._lock = threading.Lock()

    def submit(self, function: str, event: dict[str, Any]) -> None:
        from lambda_functions.worker import CODE_VERSION
        from tasks.invocations import plan

        started = time.thread_time()  # CPU: wall time here would include GIL waits
        inv = plan(function, event)
        now = time.time()
        result = FAKE_RESULTS.get(function, {})
        if function == "timingmetrics":
            result = self._timingmetrics(event)
        receipt = {
            "function": function,
            "unit": inv.unit,
            "stock": inv.stock,
            "run_id": event["run_id"],
            "event": event,
            "fingerprint": inv.fingerprint,
            "code_version": CODE_VERSION,
            "attempt": event.get("attempt", 1),
            "request_id": f"noop-{self.invocations}",
            "cold_start": False,
            "memory_limit_mb": None,
            "start": now,
            "end": time.time(),
            "read_ms": 0.0,
            "write_ms": 0.0,
            "compute_ms": 0.0,
            "bytes_read": 0,
            "bytes_written": 0,
            "peak_rss_mb": 0.0,
            "status": "ok",
            "error": None,
            "error_type": None,
            "outputs": {},
            "result": result,
        }
        # A worker's last write (plain, not via the storage layer: the stub's own cost
        # is not what is measured, and it runs in the orchestrator's process here).
        path = self.root / inv.receipt_key
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        path.write_bytes(json.dumps(receipt).encode())
        with self._lock:
            self.invocations += 1
            self.stub_s += time.thread_time() - started

    def _timingmetrics(self, event: dict[str, Any]) -> dict[str, Any]:
        # The real work function, without run_worker (which resets the peak-RSS mark).
        from lambda_functions import timingmetrics
        from lambda_functions.events import TimingmetricsEvent, parse_event

        parsed = parse_event(TimingmetricsEvent, event)
        return timingmetrics.compute_timing(timingmetrics.resolve("timingmetrics", parsed))

    def close(self) -> None:
        pass


def run(stocks: int, workdir: Path) -> dict[str, Any]:
    """The flow over ``stocks`` stocks with the seed's grid; returns the figures."""
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
    config = RunConfig(store=store_url, stocks=tuple(names), run_id="orchestration", workers=1)
    per_stock = 1 + 27 + 9 + 1 + 30 + 1
    executors: list[NoopExecutor] = []

    def make(kind: str, **options: Any) -> NoopExecutor:
        executors.append(NoopExecutor(store_url))
        return executors[-1]

    with prefect_api():
        pid = prefect_server_pid()
        server = str(pid) if pid else None
        sampler = RssSampler()
        sampler.start()
        own_cpu, server_cpu = process_cpu_s(), process_cpu_s(server) if server else 0.0
        with mock.patch.object(pipeline, "make_executor", make):
            started, epoch = time.perf_counter(), time.time()
            summary = pipeline.forecast_pipeline(config)
            wall = time.perf_counter() - started
        own_cpu = process_cpu_s() - own_cpu
        server_cpu = process_cpu_s(server) - server_cpu if server else 0.0
        sampled_peak = sampler.stop()
        server_hwm = _vm_kib("VmHWM", server) / 1024 if server else None
    executed = sum(summary["executed"].values())
    invocations = stocks * per_stock
    stub = executors[0]
    report = summary["timing"]["report"]
    saved = store.get_json("runs/orchestration/timingmetrics/report.json")
    first_invoke = saved["series"]["timeline"]["t0"]
    last_end = first_invoke + report["total"]["makespan_s"]  # the last stage receipt's end
    return {
        "stocks": stocks,
        "stages_s": last_end - epoch,
        "to_first_invoke_s": first_invoke - epoch,
        "tail_s": wall - (last_end - epoch),
        "invocations": invocations,
        "executed": executed,
        "flow_wall_s": wall,
        "ms_per_invocation": wall * 1000 / invocations,
        "stub_cpu_ms_per_invocation": stub.stub_s * 1000 / max(stub.invocations, 1),
        "ms_per_invocation_net_of_stub": (wall - stub.stub_s) * 1000 / invocations,
        "orchestrator_peak_rss_mib": max(sampled_peak, peak_rss_mib()),
        "orchestrator_peak_rss_sampled_mib": sampled_peak,
        "prefect_server_peak_rss_mib": server_hwm,
        "orchestrator_cpu_ms_per_invocation": own_cpu * 1000 / invocations,
        "prefect_server_cpu_ms_per_invocation": server_cpu * 1000 / invocations,
        "report_ok": "error" not in report,
        "goal_ms_per_invocation": 5.0,
        "goal_peak_rss_mib": 1024.0,
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 stocks instead of 99.")
    parser.add_argument("--stocks", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="Results folder.")
    args = parser.parse_args()
    stocks = args.stocks or (20 if args.quick else 99)
    with tempfile.TemporaryDirectory(prefix="groves-bench-") as tmp:
        result = run(stocks, Path(tmp))
    kwargs = {"out": args.out} if args.out else {}
    print(write_result("orchestration", result, **kwargs))
    print(json.dumps({k: result[k] for k in ("ms_per_invocation", "orchestrator_peak_rss_mib")}))


if __name__ == "__main__":
    main()
