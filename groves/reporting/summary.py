"""The run summary: per-stock scores and timing totals, as data, Prefect artifacts and text."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote, urlparse

from groves.config import RunConfig
from lambda_functions.names import series_key
from lambda_functions.stages import GRID


def summarize_run(
    config: RunConfig,
    run_id: str,
    stocks: list[str],
    stage_results: dict[str, dict[str, dict[str, Any]]],
    failed: dict[str, str],
    timing: dict[str, Any],
    progress: dict[str, dict[str, int]],
) -> dict[str, Any]:
    """Collect what a user wants to see at the end of a run into one JSON-able dict.

    Args:
        stage_results: Per completed stock, per stage, what the stage task returned.
        failed: Per failed stock, why.
        progress: ``{"done": {stage: n}, "total": {stage: n}}``.
    """
    pipeline = config.stages
    per_stock = []
    for stock in stocks:
        # The display name (for tables and plots) and where its outputs are (stocks/{key}/).
        names = {"stock": stock, "display_name": stock, "key": series_key(stock)}
        if stock in failed:
            per_stock.append({**names, "status": "failed", "error": failed[stock]})
            continue
        results = {stage: out["results"] for stage, out in stage_results[stock].items()}
        per_stock.append({**names, "status": "ok", **pipeline.scores(results)})
    completed = list(stage_results.values())
    return {
        "run_id": run_id,
        "store": config.store,
        "executor": config.executor,
        "pipeline": pipeline.name,
        "stages": list(pipeline.names),
        "input": config.input.model_dump(mode="json"),
        "forecast": {
            "value": config.input.value_column,
            "lags": config.lags,
            "horizon": config.horizon,
        },
        "stocks": per_stock,
        "failed": failed,
        "executed": {s: sum(r[s]["executed"] for r in completed) for s in pipeline.names},
        "reused": {s: sum(r[s]["reused"] for r in completed) for s in pipeline.names},
        "progress": progress,
        "timing": timing,
    }


def stock_table_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-stock rows for tables (CLI and Prefect artifacts)."""
    rows = []
    for s in summary["stocks"]:
        name = s.get("display_name", s["stock"])
        if s["status"] != "ok":
            rows.append({"stock": name, "status": "failed", "error": s["error"][:200]})
            continue
        rows.append(
            {
                "stock": name,
                "best (feat, samp)": f"({s['best_feat']}, {s['best_samp']})",
                "validation MSE": round(s["validation_mse"], 6),
                "validation persistence": round(s["validation_persistence_mse"] or 0, 6),
                "test MSE": round(s["test_mse"], 6),
                "test persistence": round(s["test_persistence_mse"], 6),
                "test / persistence": round(s["test_ratio"], 4),
            }
        )
    return rows


def forecast_label(summary: dict[str, Any]) -> str:
    """What was forecast, when it is not the default (the next minute's TYPPRICE)."""
    forecast = summary.get("forecast")
    if not forecast or (forecast["horizon"] == 1 and forecast["value"] == "TYPPRICE"):
        return ""
    steps = forecast["horizon"]
    return (
        f"{forecast['value']} {steps} step(s) ahead from {forecast['lags']} lags; "
        f"persistence = the last known value, {steps} step(s) before the target"
    )


TIMING_COLUMNS = ("Invocation", "Computation", "I/O")
MARKDOWN_STOCK_ROWS = 25  # the scores table artifact lists every stock


def timing_rows(summary: dict[str, Any], table: str = "actual") -> list[dict[str, Any]]:
    """One timing table in seconds, rows in pipeline order, columns as in `TIMING_COLUMNS`."""
    data = summary["timing"]["tables"][table]
    rows = []
    for stage in (*summary.get("stages", GRID.names), "total"):
        if stage in data:
            columns = [c for c in TIMING_COLUMNS if c in data[stage]]
            columns += [c for c in data[stage] if c not in columns]
            rows.append({"stage": stage, **{c: round(data[stage][c] / 1000, 2) for c in columns}})
    return rows


def artifact_key(run_id: str, name: str) -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) for one of a run's artifacts."""
    return re.sub(r"[^a-z0-9-]", "-", f"{run_id}-{name}".lower())


def run_folder(summary: dict[str, Any]) -> tuple[str, str | None]:
    """The run's output folder, and a link to it (the S3 console) when there is one."""
    store = summary["store"]
    if "://" not in store:
        return f"{os.path.abspath(store)}/runs/{summary['run_id']}/", None
    folder = f"{store.rstrip('/')}/runs/{summary['run_id']}/"
    parsed = urlparse(folder)
    if parsed.scheme != "s3":
        return folder, None
    prefix = quote(parsed.path.lstrip("/"), safe="/")
    return folder, f"https://s3.console.aws.amazon.com/s3/buckets/{parsed.netloc}?prefix={prefix}"


def summary_markdown(summary: dict[str, Any]) -> str:
    """The run summary as markdown: outcome, best model per stock, where the outputs are."""
    run_id = summary["run_id"]
    ok = [s for s in summary["stocks"] if s["status"] == "ok"]
    executed = sum(summary["executed"].values())
    reused = sum(summary["reused"].values())
    folder, link = run_folder(summary)
    lines = [
        f"# groves run `{run_id}`",
        "",
        f"**{len(ok)} of {len(summary['stocks'])} stock(s) completed** on the "
        f"`{summary['executor']}` executor in {summary['timing']['wall_s']:.1f} s · "
        f"invocations: {executed} executed, {reused} reused from earlier runs",
    ]
    label = forecast_label(summary)
    if label:
        lines += ["", f"Forecast: {label}."]
    if ok:
        lines += [
            "",
            "| stock | best (max_features, min_samples_split) | test MSE | persistence MSE "
            "| test / persistence |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for s in ok[:MARKDOWN_STOCK_ROWS]:
            verdict = "beats persistence" if s["test_ratio"] < 1 else "no better than persistence"
            lines.append(
                f"| {s.get('display_name', s['stock'])} | ({s['best_feat']}, {s['best_samp']}) "
                f"| {s['test_mse']:.6g} "
                f"| {s['test_persistence_mse']:.6g} | {s['test_ratio']:.3f} ({verdict}) |"
            )
        if len(ok) > MARKDOWN_STOCK_ROWS:
            lines.append(
                f"| ... {len(ok) - MARKDOWN_STOCK_ROWS} more in the scores table | | | | |"
            )
    if summary["failed"]:
        lines += ["", "## Failed stocks", ""]
        lines += [f"- **{s}**: {m}" for s, m in summary["failed"].items()]
    lines += [
        "",
        "## Outputs",
        "",
        f"Run folder: `{folder}`" + (f" ([S3 console]({link}))" if link else ""),
        "",
        "- `config.json`, `summary.json`: this run's configuration and this summary",
        "- `stocks/<STOCK>/processed/`: the training, validation and test sets (a name "
        "with other characters than letters, digits, `&_.-` is spelt with `~XX` escapes "
        "there: `NIFTY 50` -> `NIFTY~2050`)",
        "- `stocks/<STOCK>/models/params/`: the grid search (predictions and MSE per cell)",
        "- `stocks/<STOCK>/models/optimized/`: the final model (`best_params.csv`, `mse.csv`, "
        "models, predictions)",
        "- `timingmetrics/`: the timing tables; `receipts/`: one per worker invocation",
        "",
        f"Artifacts: `{artifact_key(run_id, 'scores')}` (every stock), "
        f"`{artifact_key(run_id, 'timing-actual')}`, "
        f"`{artifact_key(run_id, 'timing-sequential')}`. "
        f"`groves report {run_id} --data {summary['store']}` prints them again.",
    ]
    return "\n".join(lines)
