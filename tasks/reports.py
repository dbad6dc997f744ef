"""The Prefect tasks that end a run: timing tables, the timing report, the run summary."""

from __future__ import annotations

import time
from typing import Any

from prefect import get_run_logger, task
from prefect.runtime import task_run

from groves.reporting import report as timing_report
from groves.reporting.cost import PRICES_AS_OF
from groves.reporting.stored import load_receipts
from groves.reporting.summary import artifact_key, stock_table_rows, summary_markdown, timing_rows
from tasks import runtime as runtimes
from tasks.awaiting import AwaitOptions, run_invocations
from tasks.invocations import plan


@task(name="report-timing", task_run_name="report-timing", retries=1, retry_delay_seconds=2)
def report_timing(run_id: str, started: float) -> dict[str, Any]:
    """Invoke the pipeline's report stage (timingmetrics) over the run's receipts; return
    its tables and the run's wall time so far."""
    runtime = runtimes.current()
    pipeline = runtime.config.stages
    event = {"store": runtime.config.store_url, "run_id": run_id, "pipeline": pipeline.name}
    outcome = run_invocations(
        runtime.executor,
        runtime.store,
        [plan(pipeline.report.name, event)],
        attempt=max(int(task_run.run_count or 1), 1),
        reuse=False,
        options=AwaitOptions(timeout_s=runtime.config.timeout_s),
    )
    result = outcome.receipts[0].result
    return {
        "tables": result["tables"],
        "receipts": result["receipts"],
        "wall_s": time.time() - started,
    }


@task(name="report-analysis", task_run_name="report-analysis", retries=1, retry_delay_seconds=2)
def report_analysis(run_id: str) -> dict[str, Any]:
    """Per-stage statistics, cost and plots of the run (`groves.reporting.report`): saved
    under ``timingmetrics/``, published as artifacts; returns the report without plot data."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    runtime = runtimes.current()
    config = runtime.config
    workers = config.max_in_flight if config.executor == "lambda" else None
    workers = workers or getattr(runtime.executor, "workers", None)
    try:
        receipts = load_receipts(runtime.store, runtime.layout)
        report = timing_report.build_report(receipts, config.stages.names, workers=workers)
        files = timing_report.write_report(runtime.store, runtime.layout, report)
    except Exception as exc:  # a report must not fail a finished run
        get_run_logger().exception("timing report failed")
        return {"error": f"{type(exc).__name__}: {exc}"}
    for name, rows, what in (
        ("stages", timing_report.stage_rows(report), "Per-stage makespan, busy time, efficiency"),
        ("cost", timing_report.cost_rows(report), f"Cost estimate ({PRICES_AS_OF})"),
        ("distributions", timing_report.distribution_rows(report), "Compute and I/O quartiles"),
    ):
        create_table_artifact(rows, key=artifact_key(run_id, name), description=what)
    markdown = timing_report.report_markdown(report, files, runtime.store.url)
    create_markdown_artifact(
        markdown, key=artifact_key(run_id, "report"), description="Timing report"
    )
    return {**timing_report.compact(report), "files": files}


def publish_run_summary(summary: dict[str, Any]) -> None:
    """Publish the summary as Prefect artifacts (shown on the flow run's page)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    run_id = summary["run_id"]
    create_table_artifact(
        stock_table_rows(summary),
        key=artifact_key(run_id, "scores"),
        description="Per-stock validation and test MSE vs the persistence forecast",
    )
    for table, what in (
        ("actual", "measured wall time"),
        ("sequential", "summed over invocations, as if one worker ran them all"),
    ):
        create_table_artifact(
            timing_rows(summary, table),
            key=artifact_key(run_id, f"timing-{table}"),
            description=f"Timing in seconds per stage ({what}): invocation, computation, I/O",
        )
    create_markdown_artifact(
        summary_markdown(summary), key=artifact_key(run_id, "summary"), description="Run summary"
    )
