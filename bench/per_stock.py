"""(f) The per-stock pipeline vs the grid pipeline: at what grain does fanning out pay?

The same generated data, grid and tree counts run through both pipelines with the real
flow and the local executor (a process per core), one after the other in this process:

* wall: the flow call (worker processes started, every invocation, reports, plots);
* CPU: the orchestrating process, its worker processes and the Prefect API server;
* invocations: the receipts' count (the per-stock pipeline: 3 per stock + metrics);
* test MSE / persistence MSE per stock, for each pipeline (their forests differ: the grid
  pipeline averages groves, the per-stock one fits each cell and the refit as one forest
  of the same number of trees; their seeds differ, so do their MSEs, slightly).

Then, through the planner, both at the seed's scale on Lambda (99 stocks of 650,250 rows,
3008 MB): projected makespan and cost, and whether one per-stock modeling invocation
fits Lambda's limits at all (`groves.limits`).

Ratios: per-stock / grid (below 1: the per-stock pipeline is cheaper here).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    machine,
    prefect_api,
    prefect_server_pid,
    process_cpu_s,
    quiet_prefect,
    write_result,
)
from bench.pipeline import SIZES  # the same data, grid and forests as benchmarks (a, b)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_pipeline(name: str, store: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """One pipeline end to end; its wall, CPU, invocations and scores."""
    import os

    from flows import pipeline
    from groves.config import RunConfig
    from lambda_functions.events import Grid

    config = RunConfig(
        store=str(store),
        stocks=tuple(spec["stocks"]),
        pipeline=name,
        grid=Grid(max_features=spec["feat"], min_samples_split=spec["samp"]),
        groves=spec["groves"],
        trees=spec["trees"],
        final_groves=spec["final_groves"],
        final_trees=spec["final_trees"],
        workers=os.cpu_count() or 1,
        run_id=f"bench-{name}",
    )
    server = prefect_server_pid()
    server_cpu = process_cpu_s(server) if server else 0.0
    own_cpu, workers_cpu = process_cpu_s(), _children_cpu_s()
    started = time.perf_counter()
    summary = pipeline.forecast_pipeline(config)
    wall = time.perf_counter() - started
    cpu = process_cpu_s() - own_cpu + _children_cpu_s() - workers_cpu
    if server:
        cpu += process_cpu_s(server) - server_cpu
    report = summary["timing"]["report"]
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "invocations": report["total"]["invocations"],
        "compute_s": report["total"]["compute_s"],
        "stocks": {
            row["stock"]: {
                "test_mse": row["test_mse"],
                "test_persistence_mse": row["test_persistence_mse"],
                "test_ratio": row["test_ratio"],
                "best": [row["best_feat"], row["best_samp"]],
            }
            for row in summary["stocks"]
        },
    }


def seed_scale() -> dict[str, Any]:
    """Both pipelines projected at the seed's scale on Lambda (`groves plan`'s numbers)."""
    from groves import planner
    from groves.limits import PerStockFit

    projected = {}
    for name in ("grid", "per-stock"):
        target = planner.Scale(stocks=99, memory_mb=3008, pipeline=name)
        profile = planner.profile_from_times({}, target, dispatch_s=planner.SEED_DISPATCH_S)
        plan = planner.plan(profile, target)
        projected[name] = {
            "makespan_s": plan["projected_makespan_s"],
            "invocations": plan["total"]["invocations"],
            "lambda_usd": plan["cost"]["lambda"]["total"]["total_usd"],
        }
    projected["per_stock_limits"] = PerStockFit(memory_mb=3008).check()
    projected["per_stock_limits_10240"] = PerStockFit(memory_mb=10240).check()
    return projected


def run(size: str, workdir: Path) -> dict[str, Any]:
    spec = SIZES[size]
    quiet_prefect(workdir / "prefect-home")
    from groves.demo_data import generate_dataset

    store = workdir / "store"
    generate_dataset(store / "raw", spec["stocks"], trading_days=spec["days"], seed=0,
                     engine="pyarrow")  # fmt: skip
    with prefect_api():
        grid = run_pipeline("grid", store, spec)
        per_stock = run_pipeline("per-stock", store, spec)
    return {
        "size": size,
        "spec": {k: list(v) if isinstance(v, tuple) else v for k, v in spec.items()},
        "grid": grid,
        "per_stock": per_stock,
        "ratio_wall_per_stock_over_grid": per_stock["wall_s"] / grid["wall_s"],
        "ratio_cpu_per_stock_over_grid": per_stock["cpu_s"] / grid["cpu_s"],
        "seed_scale": seed_scale(),
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
    print(write_result("per_stock", result, **kwargs))
    print(json.dumps({k: v for k, v in result.items() if k.startswith("ratio")}))


if __name__ == "__main__":
    main()
