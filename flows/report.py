"""The run summary: per-stock scores and timing totals, as data, Prefect artifacts and text."""

from __future__ import annotations

from typing import Any

from flows.config import RunConfig
from lambda_functions.timing import STAGES
from tasks.invocations import ProgressBoard


def summarize_run(
    config: RunConfig,
    run_id: str,
    stocks: list[str],
    stage_results: dict[str, dict[str, dict[str, Any]]],
    failed: dict[str, str],
    timing: dict[str, Any],
    progress: ProgressBoard,
) -> dict[str, Any]:
    """Collect what a user wants to see at the end of a run into one JSON-able dict."""
    per_stock = []
    for stock in stocks:
        if stock in failed:
            per_stock.append({"stock": stock, "status": "failed", "error": failed[stock]})
            continue
        stages = stage_results[stock]
        best = stages["minmse"]["results"][0]
        test = stages["testfull"]["results"][0]
        validation = stages["predmses"]["results"][0]
        per_stock.append(
            {
                "stock": stock,
                "status": "ok",
                "best_feat": best["feat"],
                "best_samp": best["samp"],
                "validation_mse": best["mse"],
                "validation_persistence_mse": validation.get("persistence_mse"),
                "test_mse": test["mse"],
                "test_persistence_mse": test["persistence_mse"],
                "test_ratio": test["ratio"],
            }
        )
    executed = {
        s: sum(r[s]["executed"] for r in stage_results.values()) for s in _stages(stage_results)
    }
    reused = {
        s: sum(r[s]["reused"] for r in stage_results.values()) for s in _stages(stage_results)
    }
    return {
        "run_id": run_id,
        "store": config.store,
        "executor": config.executor,
        "stocks": per_stock,
        "failed": failed,
        "executed": executed,
        "reused": reused,
        "progress": {"done": dict(progress.done), "total": dict(progress.total)},
        "timing": timing,
    }


def _stages(stage_results: dict[str, dict[str, Any]]) -> list[str]:
    for stages in stage_results.values():
        return list(stages)
    return []


def stock_table_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-stock rows for tables (CLI and Prefect artifacts)."""
    rows = []
    for s in summary["stocks"]:
        if s["status"] != "ok":
            rows.append({"stock": s["stock"], "status": "failed", "error": s["error"][:200]})
            continue
        rows.append(
            {
                "stock": s["stock"],
                "best (feat, samp)": f"({s['best_feat']}, {s['best_samp']})",
                "validation MSE": round(s["validation_mse"], 6),
                "validation persistence": round(s["validation_persistence_mse"] or 0, 6),
                "test MSE": round(s["test_mse"], 6),
                "test persistence": round(s["test_persistence_mse"], 6),
                "test / persistence": round(s["test_ratio"], 4),
            }
        )
    return rows


def timing_rows(summary: dict[str, Any], table: str = "actual") -> list[dict[str, Any]]:
    """One timing table in seconds, rows in pipeline order."""
    data = summary["timing"]["tables"][table]
    return [
        {"stage": stage, **{k: round(v / 1000, 2) for k, v in data[stage].items()}}
        for stage in (*STAGES, "total")
        if stage in data
    ]


def publish_run_summary(summary: dict[str, Any]) -> None:
    """Publish the summary as Prefect artifacts (shown on the flow run's page)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    key = summary["run_id"].lower().replace("_", "-").replace(".", "-")
    create_table_artifact(
        stock_table_rows(summary),
        key=f"{key}-scores",
        description="Per-stock validation and test MSE vs the persistence forecast",
    )
    for table in ("actual", "sequential"):
        create_table_artifact(
            timing_rows(summary, table),
            key=f"{key}-timing-{table}",
            description=f"{table} timing (seconds): invocation, computation, I/O per stage",
        )
    ok = [s for s in summary["stocks"] if s["status"] == "ok"]
    lines = [
        f"# groves run `{summary['run_id']}`",
        f"Store: `{summary['store']}` · executor: `{summary['executor']}` · "
        f"{len(ok)} of {len(summary['stocks'])} stock(s) completed · "
        f"wall time {summary['timing']['wall_s']:.1f} s",
        "",
        f"Outputs: `{summary['store']}/runs/{summary['run_id']}/` (stocks/, receipts/, "
        "timingmetrics/)",
    ]
    if summary["failed"]:
        lines += ["", "## Failed stocks"] + [
            f"- **{s}**: {m}" for s, m in summary["failed"].items()
        ]
    create_markdown_artifact("\n".join(lines), key=f"{key}-summary", description="Run summary")
