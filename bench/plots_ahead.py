"""(h) each stock's plots drawn as its stages finish vs all of them after the last stage.

The real flow (local executor, real fits on small data, plots on) over the same stocks,
in one process against one Prefect API, run four times in the order end, ahead, ahead,
end (so that neither way gets the warmer machine):

* ahead: as shipped; `groves.reporting.plot_pool.StockPlotPool` draws a stock's forecast
  and grid-search plots in its own process as soon as the stock's last stage is done;
* end: the pool replaced by one that draws nothing, so ``report-plots`` draws every
  stock's plots in the orchestrating process after the last stage (what runs did
  before the pool).

Reported: the medians of flow wall and of the time after the last invocation ended
(from the run's timing report), their ratios ahead / end, and whether both ways made the
same plot files byte for byte. ``--quick``: fewer stocks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

from bench.common import machine, prefect_api, quiet_prefect, write_result

SIZES = {"full": 16, "quick": 6}
ORDER = ("end", "ahead", "ahead", "end")


class DrawAtTheEnd:
    """A plot pool that draws nothing ahead: ``report-plots`` draws every stock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def stock_done(self, row: Any) -> None:
        pass

    def drawn(self) -> dict[str, list[dict[str, Any]]]:
        return {}

    def close(self) -> None:
        pass


def _after_last_end(store: Path, run_id: str, epoch: float, wall: float) -> float:
    timeline = json.loads((store / "runs" / run_id / "timingmetrics" / "report.json").read_text())
    timeline = timeline["series"]["timeline"]
    return wall - (timeline["t0"] - epoch) - max(row[3] for row in timeline["rows"])


def run(stocks: int, workdir: Path) -> dict[str, Any]:
    quiet_prefect(workdir / "prefect-home")
    from flows import pipeline
    from groves.config import RunConfig
    from groves.demo_data import generate_dataset, symbol_names
    from lambda_functions.events import Grid
    from lambda_functions.storage import open_storage

    store = workdir / "store"
    names = symbol_names(stocks)
    generate_dataset(store / "raw", names, trading_days=4, seed=0, engine="pyarrow")
    runs: dict[str, list[dict[str, float]]] = {"ahead": [], "end": []}
    plots: dict[str, dict[str, bytes]] = {}
    with prefect_api():
        for n, way in enumerate(ORDER):
            run_id = f"{way}-{n}"
            config = RunConfig(
                store=str(store), stocks=tuple(names), run_id=run_id,
                grid=Grid(max_features=(5, 9), min_samples_split=(5, 25)),
                groves=2, trees=10, final_groves=4, final_trees=10,
            )  # fmt: skip
            patch = (
                mock.patch.object(pipeline, "StockPlotPool", DrawAtTheEnd)
                if way == "end"
                else mock.patch.object(pipeline, "StockPlotPool", pipeline.StockPlotPool)
            )
            with patch:
                started, epoch = time.perf_counter(), time.time()
                summary = pipeline.forecast_pipeline(config)
                wall = time.perf_counter() - started
            runs[way].append({"wall_s": wall, "after_last_end_s": _after_last_end(
                store, run_id, epoch, wall)})  # fmt: skip
            kept = open_storage(str(store))
            plots[way] = {
                f"{p['stock']}/{p['name']}": kept.get_bytes(p["png"])
                for p in summary["plots"]
                if p.get("stock") and p.get("png")
            }
    median = {
        way: {k: statistics.median(r[k] for r in rows) for k in ("wall_s", "after_last_end_s")}
        for way, rows in runs.items()
    }
    return {
        "stocks": stocks,
        "order": list(ORDER),
        "runs": runs,
        "median": median,
        "stock_plots": len(plots["ahead"]),
        "same_plots": plots["ahead"] == plots["end"],
        "ratio_wall_ahead_over_end": median["ahead"]["wall_s"] / median["end"]["wall_s"],
        "ratio_tail_ahead_over_end": (
            median["ahead"]["after_last_end_s"] / median["end"]["after_last_end_s"]
        ),
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Fewer stocks.")
    parser.add_argument("--out", type=Path, default=None, help="Results folder.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="groves-bench-") as tmp:
        result = run(SIZES["quick" if args.quick else "full"], Path(tmp))
    kwargs = {"out": args.out} if args.out else {}
    print(write_result("plots_ahead", result, **kwargs))
    print(json.dumps({k: v for k, v in result.items() if k.startswith("ratio")}))


if __name__ == "__main__":
    main()
