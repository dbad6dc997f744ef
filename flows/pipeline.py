"""The forecast pipeline as a Prefect flow: each stage a task per stock.

The flow drives a `Pipeline` from the stage registry (`lambda_functions.stages`): every
stock advances through its stages on its own (a stock's grid search starts when its own
processing is done), each stage a `tasks.stage.run_stage` task that invokes the stock's
workers and awaits their receipts. A failing stock stops only its own chain; the flow then
fails naming it (or completes, within ``tolerate``). The report tasks end the run.
"""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Callable
from typing import Any

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from groves.config import RunConfig
from groves.inputs import InputCheck, UnusableSeriesError, check_series
from groves.reporting.plot_pool import StockPlotPool, pool_size
from groves.reporting.summary import stock_row, summarize_run
from lambda_functions.errors import GrovesError
from lambda_functions.storage import Storage, open_storage
from tasks.executors import Executor, make_executor, start_local_workers
from tasks.invocations import plan_stage
from tasks.lambda_limits import run_cap
from tasks.progress import StageProgressArtifacts
from tasks.reports import (
    publish_run_summary,
    report_analysis,
    report_plots,
    report_summaries,
    report_timing,
)
from tasks.runtime import Runtime, registered
from tasks.seed_run import InvokeClock, write_invoke_files
from tasks.stage import ensure_concurrency_limit, run_stage

# Listeners the CLI registers to draw progress (the flow runs in the CLI's process).
PROGRESS_LISTENERS: list[Callable[[str, int, int], None]] = []


def check_inputs(config: RunConfig) -> tuple[Storage, dict[str, str]]:
    """What can be checked before a run starts (the CLI calls it before starting Prefect):
    the store is reachable, every series is there and looks usable (`groves.inputs`), and
    every stage's events are valid. Up to ``config.tolerate`` unusable series are left out.

    Returns:
        The store, and each usable series' input identity (in run order).

    Raises:
        GrovesError: more unusable series than tolerated (each named, with what to fix).
    """
    store, check = check_run_inputs(config)
    return store, check.series


def check_run_inputs(config: RunConfig) -> tuple[Storage, InputCheck]:
    """`check_inputs`, also returning the series left out and why."""
    buckets = config.seed_buckets  # seed layout: raw/ in the main bucket
    raw = buckets.main_store() if buckets else open_storage(config.store)
    check = check_series(
        raw,
        config.input,
        config.stocks,
        config.feature_spec,
        config.indicator_columns,
    )
    if check.problems and (len(check.problems) > config.tolerate or not check.series):
        count = len(check.problems)
        allowed = f" (--tolerate {config.tolerate})" if config.tolerate else ""
        headline = (
            f"{count} series cannot be used{allowed}: fix them, leave them out with "
            f"--stocks, or run the rest with --tolerate {count}"
            if check.series
            else f"none of the {count} series can be used: fix them"
        )
        raise UnusableSeriesError(headline, check.problems)
    first, input_id = next(iter(check.series.items()))
    for stage in config.stages.names:  # events differ between stocks only by the name
        plan_stage(stage, first, config, input_id)
    if buckets is None:
        return raw, check
    for stock in check.series:  # every stock needs a valid bucket name
        buckets.stock_bucket(stock)
    return buckets.groves_store(), check


@flow(name="forecast-pipeline", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=64))
def forecast_pipeline(config: RunConfig | None = None, **overrides: Any) -> dict[str, Any]:
    """Process, grid-search, train and test every stock, then report the timings."""
    # Overrides are validated with the rest (a misspelt field is an error, not ignored).
    config = RunConfig.model_validate({**(config or RunConfig()).model_dump(), **overrides})
    if config.seed_buckets is not None:  # the run's own files: groves/ in the main bucket
        config = config.model_copy(update={"store": config.store_url})
    if config.executor == "local":  # the workers' imports go on while the inputs are checked
        start_local_workers()
    store, check = check_run_inputs(config)
    inputs, rejected = check.series, dict(check.problems)
    run_id = config.resolved_run_id
    logger = get_run_logger()
    logger.info(
        "run %s: %d stock(s), %s pipeline, %s executor, store %s, input %s",
        run_id,
        len(inputs),
        config.pipeline,
        config.executor,
        store.url,
        config.input.describe(),
    )
    for name, problem in rejected.items():
        logger.warning("left out %s (tolerated): %s", name, problem)
    cap = None
    if config.executor == "lambda":  # what Lambda allows, at most what --max-in-flight does
        cap = run_cap(config)
        logger.info(cap.describe())
        ensure_concurrency_limit(cap.value)
    executor: Executor = make_executor(
        config.executor,
        workers=config.workers,
        function_prefix=config.function_prefix,
        credentials_block=config.credentials_block,
        dask_address=config.dask_address,
        store_url=config.store_url,
    )
    if about := getattr(executor, "about", None):  # e.g. the Dask dashboard's link
        logger.info(about)
    if config.seed_buckets is not None:  # the original's invoke_{type}.txt: time the sends
        executor = InvokeClock(executor)
    runtime = Runtime(config, store, executor, inflight_cap=cap.value if cap else None)
    runtime.progress.listeners.extend(PROGRESS_LISTENERS)
    ui_progress = StageProgressArtifacts(config.stages.names, run_id)
    runtime.progress.listeners.append(ui_progress)
    started = time.time()
    summaries: dict[str, Any] = {}
    stocks = [*inputs, *(name for name in rejected if name not in inputs)]
    # Each stock's plots are drawn by other processes as soon as its stages are done.
    plot_pool = StockPlotPool(config.store, run_id, pool_size()) if config.plots else None

    def stock_done(stock: str, results: dict[str, dict[str, Any]]) -> None:
        if plot_pool is not None:
            plot_pool.stock_done(stock_row(config.stages, stock, results))

    try:  # whatever fails, the executor and the progress thread are closed
        with registered(runtime):
            store.put_json(
                runtime.layout.config_key(),
                {
                    **config.model_dump(mode="json"),
                    "run_id": run_id,
                    "stocks": stocks,
                    "inflight_cap": runtime.inflight_cap,  # Lambda: the cap it found
                },
            )
            chains = drive_stocks(config, inputs, stock_done)
            stage_results, failed = collect(config, chains)
            failed.update({name: f"input: {problem}" for name, problem in rejected.items()})
            if config.seed_buckets is not None and isinstance(executor, InvokeClock):
                write_invoke_files(config.seed_buckets, executor, config.stages.names)
            timing = report_timing(run_id, started)
            timing["report"] = report_analysis(run_id)
            if config.stages.summaries and stage_results:
                summaries = report_summaries(run_id, list(stage_results))
    except BaseException:
        if plot_pool is not None:
            plot_pool.close()
        raise
    finally:
        executor.close()
        ui_progress.close()
    progress = {"done": dict(runtime.progress.done), "total": dict(runtime.progress.total)}
    summary = summarize_run(config, run_id, stocks, stage_results, failed, timing, progress)
    if summaries:
        summary["summaries"] = summaries  # e.g. the per-stock pipeline's metrics
    if cap is not None:  # Lambda: the cap found and where it came from (the CLI shows it)
        summary["inflight_cap"] = cap.describe()
    if plot_pool is not None:
        try:
            summary["plots"] = report_plots(summary, plot_pool.drawn())
        finally:
            plot_pool.close()
    else:
        summary["plots"] = []
    store.put_json(runtime.layout.summary_key(), summary)
    publish_run_summary(summary, ui_progress)
    if len(failed) > config.tolerate:
        details = "; ".join(f"{s} ({msg})" for s, msg in failed.items())
        raise GrovesError(f"{len(failed)} stock(s) failed: {details}")
    return summary


def collect(
    config: RunConfig, chains: dict[str, list[PrefectFuture[Any]]]
) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, str]]:
    """Per stock: its stage results if every stage completed, else why it failed."""
    names = config.stages.names
    results: dict[str, dict[str, dict[str, Any]]] = {}
    failed: dict[str, str] = {}
    for stock, chain in chains.items():
        for stage, future in zip(names, chain, strict=False):
            if not future.state.is_completed():
                failed[stock] = f"{stage}: {future.state.message}"
                break
        else:
            results[stock] = {stage: f.result() for stage, f in zip(names, chain, strict=True)}
    return results, failed


def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a failed stage unless all its failures were bad input (they would recur)."""
    return not getattr(state.data, "permanent", False)


def drive_stocks(
    config: RunConfig,
    inputs: dict[str, str],
    stock_done: Callable[[str, dict[str, dict[str, Any]]], None] | None = None,
) -> dict[str, list[PrefectFuture[Any]]]:
    """Move every stock through the stages on its own: submit a stock's next stage as soon
    as its previous one completes, and stop a stock's chain at its first failure.
    ``stock_done(stock, results by stage)`` hears of each stock whose every stage completed
    (a failure there is logged: it must not stop the run).

    Completions arrive through the futures' done-callbacks, so the driver sleeps until a
    stage ends and never asks the Prefect API for a state."""
    names = config.stages.names
    # Exponential backoff with jitter: delay, 4x delay, 16x delay, ...
    stage_task = run_stage.with_options(
        retries=config.retries,
        retry_delay_seconds=[config.retry_delay_s * 4**k for k in range(max(config.retries, 1))],
        refresh_cache=config.refresh,
        retry_condition_fn=_worth_retrying,
    )
    finished: queue.SimpleQueue[str] = queue.SimpleQueue()
    chains: dict[str, list[PrefectFuture[Any]]] = {stock: [] for stock in inputs}

    def submit(stock: str) -> None:
        future = stage_task.submit(names[len(chains[stock])], stock, inputs[stock])
        chains[stock].append(future)
        future.add_done_callback(lambda _: finished.put(stock))

    for stock in inputs:
        submit(stock)
    active = len(inputs)
    while active:
        stock = finished.get()
        current = chains[stock][-1]
        with contextlib.suppress(Exception):  # a crashed task's state is read from the API
            current.wait()  # done already: this records its final state on the future
        if current.state.is_completed() and len(chains[stock]) < len(names):
            submit(stock)
            continue
        active -= 1
        if stock_done is not None and current.state.is_completed():
            try:
                stock_done(
                    stock, {s: f.result() for s, f in zip(names, chains[stock], strict=True)}
                )
            except Exception:
                get_run_logger().exception("after %s's last stage", stock)
    return chains
