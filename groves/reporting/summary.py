"""The run summary: per-stock scores and timing totals, as data, Prefect artifacts and text."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlparse

from groves.config import RunConfig
from groves.reporting.formatting import fixed, markdown_table, significant
from lambda_functions.names import series_key
from lambda_functions.stages import GRID, Pipeline


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
    per_stock = [
        stock_row(pipeline, stock, error=failed[stock])
        if stock in failed
        else stock_row(pipeline, stock, stage_results[stock])
        for stock in stocks
    ]
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


def stock_row(
    pipeline: Pipeline,
    stock: str,
    stage_results: Mapping[str, Mapping[str, Any]] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """A stock's entry in the summary: its names (the display name, for tables and plots,
    and the key its outputs are under, ``stocks/{key}/``), then its scores from what its
    stage tasks returned, or ``status: failed`` and the ``error``."""
    names = {"stock": stock, "display_name": stock, "key": series_key(stock)}
    if error is not None or stage_results is None:
        return {**names, "status": "failed", "error": error or "no stage results"}
    results = {stage: out["results"] for stage, out in stage_results.items()}
    return {**names, "status": "ok", **pipeline.scores(results)}


SCORE_COLUMNS = (
    # (heading, summary field, formatter, wide only)
    ("validation MSE", "validation_mse", significant, True),
    ("validation persistence", "validation_persistence_mse", significant, True),
    ("test MSE", "test_mse", significant, False),
    ("persistence", "test_persistence_mse", significant, False),
    ("test / persistence", "test_ratio", fixed(3), False),
)


def scores_rows(stocks: Sequence[Mapping[str, Any]], wide: bool = False) -> list[dict[str, str]]:
    """Per-stock scores as display rows (strings; the summary keeps the exact values).

    Columns: stock, the chosen (max_features, min_samples_split) when the pipeline reports
    one, test MSE, persistence MSE, their ratio; ``wide`` adds the validation MSEs. Only
    columns some stock has are kept (pipelines report different scores). A failed stock
    shows ``failed`` and nothing else (its error is in the summary's ``failed``).
    """
    has_best = any(s.get("best_feat") is not None for s in stocks)
    columns = [c for c in SCORE_COLUMNS if wide or not c[3]]
    columns = [c for c in columns if any(s.get(c[1]) is not None for s in stocks)]
    rows = []
    for s in stocks:
        row = {"stock": str(s.get("display_name", s["stock"]))}
        failed = s.get("status") not in (None, "ok")
        if has_best:
            best = f"({s.get('best_feat')}, {s.get('best_samp')})"
            row["best (feat, samp)"] = "failed" if failed else best
        for heading, field, render, _ in columns:
            row[heading] = "" if failed else render(s.get(field))
        if failed and not has_best:
            row["status"] = "failed"
        rows.append(row)
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
MARKDOWN_STOCK_ROWS = 25  # the scores artifact lists every stock, the summary this many


def timing_rows(summary: Mapping[str, Any], table: str = "actual") -> list[dict[str, Any]]:
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


def run_folder(summary: Mapping[str, Any]) -> tuple[str, str | None]:
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


def summary_headline(summary: Mapping[str, Any]) -> str:
    """One line: how the run went (the summary artifact's description)."""
    ok = [s for s in summary["stocks"] if s.get("status") == "ok"]
    ratios = [s["test_ratio"] for s in ok if s.get("test_ratio") is not None]
    beats = sum(1 for r in ratios if r < 1)
    line = (
        f"groves run {summary['run_id']}: {len(ok)} of {len(summary['stocks'])} stock(s) "
        f"completed in {summary['timing']['wall_s']:.1f} s"
    )
    if ratios:
        line += f", {beats} of {len(ratios)} beat persistence on test"
    return line


def summary_markdown(summary: Mapping[str, Any]) -> str:
    """The run summary as markdown: outcome, scores, where the outputs are, what the run
    published."""
    run_id = summary["run_id"]
    ok = [s for s in summary["stocks"] if s["status"] == "ok"]
    executed = sum(summary["executed"].values())
    reused = sum(summary["reused"].values())
    folder, link = run_folder(summary)
    lines = [
        f"# groves run `{run_id}`",
        "",
        f"**{len(ok)} of {len(summary['stocks'])} stock(s) completed** on the "
        f"`{summary['executor']}` executor ({summary.get('pipeline', 'grid')} pipeline) in "
        f"{summary['timing']['wall_s']:.1f} s · invocations: {executed} executed, {reused} "
        "reused from earlier runs",
    ]
    label = forecast_label(summary)
    if label:
        lines += ["", f"Forecast: {label}."]
    if ok:
        rows = scores_rows(ok[:MARKDOWN_STOCK_ROWS])
        for row, stock in zip(rows, ok, strict=False):
            ratio = stock.get("test_ratio")
            if ratio is not None:
                verdict = "beats persistence" if ratio < 1 else "no better than persistence"
                row["test / persistence"] += f" ({verdict})"
        lines += ["", markdown_table(rows, right=[c for c in rows[0] if "MSE" in c])]
        if len(ok) > MARKDOWN_STOCK_ROWS:
            lines.append(f"\n... and {len(ok) - MARKDOWN_STOCK_ROWS} more: see the scores artifact")
    if summary["failed"]:
        lines += ["", "## Failed stocks", ""]
        lines += [f"- **{s}**: {m}" for s, m in summary["failed"].items()]
    plots = summary.get("plots") or []
    lines += [
        "",
        "## Outputs",
        "",
        f"Run folder: `{folder}`" + (f" ([S3 console]({link}))" if link else ""),
        "",
        "- `config.json`, `summary.json`: this run's configuration and this summary",
        "- `plots/`: the overview and, per stock, the forecast and grid-search plots "
        f"({sum(1 for p in plots if p.get('png'))} plots with the timing ones)",
        "- `stocks/<STOCK>/processed/`: the training, validation and test sets (a name "
        "with other characters than letters, digits, `&_.-` is spelt with `~XX` escapes "
        "there: `NIFTY 50` -> `NIFTY~2050`)",
        "- `stocks/<STOCK>/models/`: the grid search (`params/`) and the final model "
        "(`optimized/`)",
        "- `timingmetrics/`: the timing tables, `report.json`, `cost.csv`, the timeline and "
        "distribution plots; `receipts/`: one per worker invocation",
        "",
        f"`groves report {run_id} --data {summary['store']}` prints this again; add `--html` "
        "for a self-contained HTML report with every plot.",
        "",
        "Artifacts of this run, in order: this summary; the overview plot; per stock its "
        "forecast and grid-search plots; the timeline and distribution plots; the scores of "
        "every stock, the timing tables, per-stage statistics, the cost estimate; the "
        "progress of each stage.",
    ]
    return "\n".join(lines)
