"""The Prefect tasks that end a run: timing tables, the timing report, the plots, and the
run's artifacts."""

from __future__ import annotations

import time
from typing import Any

from prefect import get_run_logger, task
from prefect.runtime import task_run

from groves.reporting import report as timing_report
from groves.reporting.gallery import run_plots, write_result_plots
from groves.reporting.stored import load_timings
from groves.reporting.summary import artifact_key, summary_headline
from groves.reporting.ui import run_cards
from lambda_functions.layout import RunLayout
from lambda_functions.storage import open_storage
from tasks import runtime as runtimes
from tasks.artifacts import OrderedArtifacts
from tasks.awaiting import run_invocations
from tasks.invocations import plan
from tasks.progress import StageProgressArtifacts


@task(name="report-timing", task_run_name="report-timing", retries=1, retry_delay_seconds=2)
def report_timing(run_id: str, started: float) -> dict[str, Any]:
    """Invoke the pipeline's report stage (timingmetrics) over the run's receipts; return
    its tables and the run's wall time so far."""
    runtime = runtimes.current()
    pipeline = runtime.config.stages
    event = runtime.config.report_event(run_id)
    outcome = run_invocations(
        runtime.executor,
        runtime.store,
        [plan(pipeline.report.name, event)],
        attempt=max(int(task_run.run_count or 1), 1),
        reuse=False,
        options=runtime.await_options,
    )
    result = outcome.receipts[0].result
    return {
        "tables": result["tables"],
        "receipts": result["receipts"],
        "wall_s": time.time() - started,
    }


@task(name="report-summaries", task_run_name="report-summaries", retries=1, retry_delay_seconds=2)
def report_summaries(run_id: str, stocks: list[str]) -> dict[str, Any]:
    """Invoke the pipeline's summary stages (the per-stock pipeline's ``metrics``) over the
    finished stocks; publish each result as a table artifact; return them by stage."""
    runtime = runtimes.current()
    pipeline = runtime.config.stages
    results: dict[str, Any] = {}
    for spec in pipeline.summaries:
        event = {"store": runtime.config.store_url, "run_id": run_id, "stocks": stocks}
        outcome = run_invocations(
            runtime.executor,
            runtime.store,
            [plan(spec.name, event)],
            attempt=max(int(task_run.run_count or 1), 1),
            reuse=False,
            options=runtime.await_options,
        )
        results[spec.name] = outcome.receipts[0].result
        _publish_table(run_id, spec.name, results[spec.name])
    return results


def summary_table(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A summary stage's result as table rows: one per measure (the metrics stage's
    runtime sums, maxima and S3 differences per stage, then the average MSE)."""
    rows: list[dict[str, Any]] = []
    for name, value in result.items():
        if isinstance(value, dict) and name != "per_stock":
            rows += [{"measure": f"{name} {key}", "value": v} for key, v in value.items()]
        elif isinstance(value, int | float):
            rows.append({"measure": name, "value": value})
    return rows


def _publish_table(run_id: str, name: str, result: dict[str, Any]) -> None:
    from prefect.artifacts import create_table_artifact

    try:
        create_table_artifact(
            summary_table(result),
            key=artifact_key(run_id, name),
            description=f"{name}: the per-stock pipeline's run metrics",
        )
    except Exception as exc:  # an artifact must not fail a finished run
        get_run_logger().warning("%s artifact not published: %s", name, exc)


@task(name="report-analysis", task_run_name="report-analysis", retries=1, retry_delay_seconds=2)
def report_analysis(run_id: str) -> dict[str, Any]:
    """Per-stage statistics, cost and plots of the run (`groves.reporting.report`), saved
    under ``timingmetrics/``; returns the report without plot data (published with the
    run's other artifacts by `publish_run_summary`)."""
    runtime = runtimes.current()
    config = runtime.config
    cap = runtime.inflight_cap or config.max_in_flight  # the cap the run found
    workers = cap if config.executor == "lambda" else None
    workers = workers or getattr(runtime.executor, "workers", None)
    try:
        timings = load_timings(runtime.store, runtime.layout)
        report = timing_report.build_report(timings, config.stages.names, workers=workers)
        files = timing_report.write_report(
            runtime.store, runtime.layout, report, plots=config.plots
        )
    except Exception as exc:  # a report must not fail a finished run
        get_run_logger().exception("timing report failed")
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {**timing_report.compact(report), "files": files}


@task(name="report-plots", task_run_name="report-plots", retries=1, retry_delay_seconds=2)
def report_plots(
    summary: dict[str, Any], drawn: dict[str, list[dict[str, Any]]] | None = None
) -> list[dict[str, Any]]:
    """Render the result plots (overview, per stock forecast and grid search) into the
    run's ``plots/`` folder, but for the stocks already ``drawn`` (their entries, from
    `groves.reporting.plot_pool`); return every plot of the run in display order (with
    the timing report's), for ``summary.json``."""
    store = open_storage(summary["store"])
    layout = RunLayout(summary["run_id"])
    made = write_result_plots(store, layout, summary, drawn)
    return run_plots(made, summary["timing"].get("report"))


def publish_run_summary(
    summary: dict[str, Any], progress: StageProgressArtifacts | None = None
) -> None:
    """Publish the run's artifacts on its Artifacts tab, in order (`groves.reporting.ui`),
    then the stages' final progress (refilling the progress artifacts, so they come last);
    and the summary under the key ``<run id>-summary`` for the Artifacts page. A failure is
    logged, never raised: the run's outputs are already saved."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate
    from prefect.runtime import flow_run

    try:
        store = open_storage(summary["store"])
        cards = run_cards(summary, store)
        with get_client(sync_client=True) as client:
            pool = OrderedArtifacts(client)
            if progress is not None:
                pool.adopt(progress.artifact_ids)
                cards += progress.cards()
            pool.fill(cards)
            headline = summary_headline(summary)
            client.create_artifact(  # not the run's: the Artifacts page's entry for this id
                ArtifactCreate(
                    key=artifact_key(summary["run_id"], "summary"),
                    type="markdown",
                    description=headline,
                    data=cards[0].markdown
                    + (f"\n\n[The flow run](/runs/flow-run/{flow_run.id})" if flow_run.id else ""),
                )
            )
    except Exception as exc:
        get_run_logger().warning("run artifacts not published: %s: %s", type(exc).__name__, exc)
