"""What sustained throttling costs: the same Lambda-path run with and without a 429 on
every 2nd Invoke call, through the local endpoint (S3 on a moto server).

``python -m bench.throttle [--full] [--concurrency N] [--every N] [--retry-after S]``

Each configuration runs twice per repeat, throttled and not, in alternating order, each
under its own run id (nothing reused). Reported: the wall-time ratio throttled /
unthrottled (median over repeats), the 429s answered, and whether every per-stock MSE is
identical. The default run is the tests' small configuration on 2 stocks x 4 days;
``--full`` is the demo (3 stocks x 15 days, the default grid and groves).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import machine, quiet_prefect, write_result


def _moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return server, url
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.1)


def _mses(summary: dict[str, Any]) -> dict[str, list[float]]:
    return {
        s["stock"]: [s["validation_mse"], s["test_mse"], s["test_persistence_mse"]]
        for s in summary["stocks"]
    }


def run(full: bool, concurrency: int, every: int, retry_after: int | None, repeats: int) -> dict:
    import boto3

    from groves.config import RunConfig
    from groves.demo_data import generate_dataset
    from groves.lambda_endpoint import Faults, LocalLambdaEndpoint
    from lambda_functions.events import Grid

    stocks, days = (("RELIANCE", "TCS", "INFY"), 15) if full else (("RELIANCE", "TCS"), 4)
    raw = Path(tempfile.mkdtemp(prefix="groves-bench-raw-"))
    generate_dataset(raw, list(stocks), trading_days=days, seed=0)
    moto, s3_url = _moto()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": s3_url,
    }.items():
        os.environ[key] = value
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=s3_url)
    s3.create_bucket(Bucket="bench")
    for path in sorted(raw.glob("*.csv")):
        s3.upload_file(str(path), "bench", f"data/raw/{path.name}")
    env = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                      "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3")}  # fmt: skip
    endpoint = LocalLambdaEndpoint(concurrency=concurrency, env={**env, "GROVES_N_JOBS": "1"})
    endpoint.start()
    os.environ["AWS_ENDPOINT_URL_LAMBDA"] = endpoint.url
    small = {} if full else {
        "grid": Grid(max_features=(5, 9), min_samples_split=(5, 25)),
        "groves": 2, "trees": 5, "final_groves": 3, "final_trees": 5,
    }  # fmt: skip
    from bench.common import prefect_api
    from flows.pipeline import forecast_pipeline

    walls: dict[str, list[float]] = {"plain": [], "throttled": []}
    throttled_429: list[int] = []
    results: dict[str, Any] = {}
    try:
        with prefect_api():
            order = ["plain", "throttled"]
            for n in range(repeats):
                for kind in order if n % 2 == 0 else order[::-1]:
                    faults = Faults(throttle_every=every, retry_after_s=retry_after)
                    endpoint.set_faults(faults if kind == "throttled" else None)
                    before = endpoint.stats()["functions"]
                    config = RunConfig(
                        store="s3://bench/data",
                        executor="lambda",
                        run_id=f"{kind}-{n}",
                        **small,
                    )
                    started = time.perf_counter()
                    summary = forecast_pipeline(config)
                    walls[kind].append(time.perf_counter() - started)
                    endpoint.wait_idle(60)
                    after = endpoint.stats()["functions"]
                    if kind == "throttled":
                        throttled_429.append(
                            sum(after[f]["throttled"] - before[f]["throttled"] for f in after)
                        )
                    results.setdefault(kind, _mses(summary))
                    assert summary["failed"] == {}, summary["failed"]
                    assert results[kind] == _mses(summary)
    finally:
        endpoint.stop()
        moto.terminate()
        moto.wait(30)
    ratios = [t / p for t, p in zip(walls["throttled"], walls["plain"], strict=True)]
    return {
        "configuration": "demo (3 stocks x 15 days, defaults)" if full else "small (2 x 4)",
        "endpoint_concurrency": concurrency,
        "throttle_every": every,
        "retry_after_s": retry_after,
        "repeats": repeats,
        "wall_s": walls,
        "ratio_throttled_to_plain": statistics.median(ratios),
        "ratios": ratios,
        "throttled_429": throttled_429,
        "identical_mses": results["plain"] == results["throttled"],
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="The demo data set and defaults.")
    parser.add_argument("--concurrency", type=int, default=4, help="Endpoint concurrency.")
    parser.add_argument("--every", type=int, default=2, help="A 429 on every N-th call.")
    parser.add_argument("--retry-after", type=int, default=None, help="Retry-After seconds.")
    parser.add_argument("--repeats", type=int, default=1, help="Pairs of runs.")
    parser.add_argument("--out", type=Path, default=None, help="Results folder.")
    args = parser.parse_args()
    quiet_prefect()
    result = run(args.full, args.concurrency, args.every, args.retry_after, args.repeats)
    kwargs = {"out": args.out} if args.out else {}
    print(write_result("throttle", result, **kwargs))
    print(json.dumps({k: result[k] for k in ("ratio_throttled_to_plain", "identical_mses")}))


if __name__ == "__main__":
    main()
