"""(d) invocation rate against the local Lambda endpoint, from 1 and from 16 threads.

`groves.lambda_endpoint.LocalLambdaEndpoint` runs in its own process with every groves
function name mapped to a no-op handler; the client is the pipeline's own path,
`tasks.executors.LambdaExecutor` (boto3 ``invoke`` with ``InvocationType=Event``, the
standard retry mode). Rate = accepted Event invokes / wall seconds; the endpoint's
counters tell how many were throttled (429, retried by botocore) on the way.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import machine, write_result

EVENT = {  # a typical grid-grove event (its size matters a little)
    "store": "s3://groves-bench/data",
    "run_id": "bench",
    "stock": "RELIANCE",
    "feat": 5,
    "samp": 15,
    "n_estimators": 100,
    "pred_num": 2,
    "seed": 0,
    "split": "chronological",
    "table_format": "parquet",
    "features": "lags",
    "target": "change",
    "input_id": "782169-bef59-18eb992ebb986f0d",
    "attempt": 1,
}
ENDPOINT_CONCURRENCY = 8


def _serve(conn: Any, concurrency: int) -> None:
    from groves.lambda_endpoint import LocalLambdaEndpoint
    from lambda_functions.stages import FUNCTIONS

    handlers = dict.fromkeys(FUNCTIONS, "bench.noop:handler")
    endpoint = LocalLambdaEndpoint(concurrency=concurrency, handlers=handlers).start()
    conn.send(endpoint.url)
    while conn.recv() == "stats":
        conn.send(endpoint.stats())
    endpoint.wait_idle(30)
    endpoint.stop()


def _counter(stats: dict[str, Any], name: str) -> int:
    return sum(f.get(name, 0) for f in stats["functions"].values())


def _wait_idle(parent: Any, timeout_s: float = 30.0) -> dict[str, Any]:
    """The endpoint's stats once nothing is in flight."""
    deadline = time.monotonic() + timeout_s
    while True:
        parent.send("stats")
        stats = parent.recv()
        idle = stats["in_flight"] == 0 and not stats.get("queued")
        if idle or time.monotonic() > deadline:
            return stats
        time.sleep(0.01)


def run(total: int) -> dict[str, Any]:
    """``total`` Event invokes from 1 thread, then from 16; returns the rates."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(child, ENDPOINT_CONCURRENCY))  # has children
    server.start()
    url = parent.recv()
    os.environ["AWS_ENDPOINT_URL_LAMBDA"] = url
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from tasks.executors import LambdaExecutor, lambda_client

    executor = LambdaExecutor(client=lambda_client())
    for _ in range(5):  # warm up: connections and every worker process, then let it drain
        for _ in range(ENDPOINT_CONCURRENCY):
            executor.submit("parampreds", EVENT)
        _wait_idle(parent)
    results: dict[str, Any] = {}
    try:
        for threads in (1, 16):
            parent.send("stats")
            before = parent.recv()
            per_thread = total // threads

            errors: list[str] = []

            def worker(n: int = per_thread, errors: list[str] = errors) -> None:
                try:
                    for _ in range(n):
                        executor.submit("parampreds", EVENT)
                except Exception as exc:  # e.g. throttled past botocore's retries
                    errors.append(f"{type(exc).__name__}: {exc}")

            pool = [threading.Thread(target=worker) for _ in range(threads)]
            started = time.perf_counter()
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            wall = time.perf_counter() - started
            after = _wait_idle(parent)
            sent = _counter(after, "received") - _counter(before, "received")
            sent -= _counter(after, "throttled") - _counter(before, "throttled")
            results[f"threads_{threads}"] = {
                "invokes": sent,
                "errors": errors[:3],
                "wall_s": wall,
                "invokes_per_s": sent / wall,
                "throttled_429": _counter(after, "throttled") - _counter(before, "throttled"),
                "received": _counter(after, "received") - _counter(before, "received"),
            }
    finally:
        parent.send("stop")
        server.join(60)
        if server.is_alive():
            server.terminate()
    return {
        **results,
        "endpoint_concurrency": ENDPOINT_CONCURRENCY,
        "rate_1_thread": results["threads_1"]["invokes_per_s"],
        "rate_16_threads": results["threads_16"]["invokes_per_s"],
        "goal_invokes_per_s": 300.0,
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 invokes per run, not 3000.")
    parser.add_argument("--out", type=Path, default=None, help="Results folder.")
    args = parser.parse_args()
    result = run(500 if args.quick else 3000)
    kwargs = {"out": args.out} if args.out else {}
    print(write_result("invoke_rate", result, **kwargs))
    print(json.dumps({k: result[k] for k in ("rate_1_thread", "rate_16_threads")}))


if __name__ == "__main__":
    main()
