"""The forecast pipeline as a Prefect flow: each stage a mapped task per stock.

Every stage task invokes its stock's workers through the executor and awaits their
receipts. Stocks advance independently: a stock's grid search starts when its own
processing is done. A failing stock stops only its own chain; the flow then fails naming
it (or completes, within ``tolerate``).
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.context import TaskRunContext
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run, task_run
from prefect.task_runners import ThreadPoolTaskRunner

from flows.config import RunConfig
from flows.report import publish_run_summary, summarize_run
from flows.ui import StageProgressArtifacts
from lambda_functions.errors import GrovesError, InputDataError
from lambda_functions.layout import raw_key
from lambda_functions.names import RAW_SUFFIX, stock_from_raw_file
from lambda_functions.storage import Storage, open_storage
from lambda_functions.worker import CODE_VERSION
from tasks.executors import Executor, make_executor
from tasks.invocations import AwaitOptions, Invocation, ProgressBoard, plan, run_invocations

STAGES = ("processing", "parampreds", "predmses", "minmse", "trainfull", "testfull")
LAMBDA_LIMIT_NAME = "groves-lambda-inflight"

# Listeners the CLI registers to draw progress (the flow runs in the CLI's process).
PROGRESS_LISTENERS: list[Callable[[str, int, int], None]] = []


@dataclass
class Runtime:
    """What the stage tasks of one flow run share in-process (never serialised)."""

    config: RunConfig
    store: Storage
    executor: Executor
    progress: ProgressBoard = field(default_factory=ProgressBoard)


_RUNTIMES: dict[str, Runtime] = {}
_RUNTIMES_LOCK = threading.Lock()


def stage_events(stage: str, stock: str, config: RunConfig, input_id: str) -> list[dict[str, Any]]:
    """The events of one stage for one stock."""
    base = {**config.event_base(), "stock": stock, "input_id": input_id}
    grid = config.grid.model_dump(mode="json")
    if stage == "processing":
        return [base]
    if stage == "parampreds":
        return [
            {**base, "feat": f, "samp": s, "n_estimators": config.trees, "pred_num": n}
            for f, s in config.grid.cells
            for n in range(config.groves)
        ]
    if stage == "predmses":
        return [
            {**base, "feat": f, "samp": s, "grid": grid, "groves": config.groves}
            for f, s in config.grid.cells
        ]
    if stage == "minmse":
        return [{**base, "grid": grid, "groves": config.groves}]
    if stage == "trainfull":
        return [
            {
                **base,
                "n_estimators": config.final_trees,
                "pred_num": n,
                "model_codec": config.model_codec,
            }
            for n in range(config.final_groves)
        ]
    if stage == "testfull":
        return [{**base, "groves": config.final_groves}]
    raise ValueError(f"unknown stage {stage!r}")


def _stage_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
    """Cache a stage only when all its receipts are in place, keyed on exactly those receipts.

    The key covers the events (so the configuration and the raw input's identity), the
    code version and every receipt's ETag. Receipts remain the source of truth: if any is
    missing (deleted, or a run was killed) there is no key and the stage resumes
    invocation by invocation; if any changed, the key changes.
    """
    runtime = _RUNTIMES.get(str(flow_run.id))
    if runtime is None or runtime.config.refresh:
        return None
    invocations = _plan_stage(
        parameters["stage"], parameters["stock"], runtime.config, parameters["input_id"]
    )
    digest = hashlib.sha256(CODE_VERSION.encode())
    for inv in invocations:
        info = runtime.store.head(inv.receipt_key)
        if info is None:
            return None
        digest.update(f"|{inv.fingerprint}:{info.etag}".encode())
    return f"groves-{parameters['stage']}-{parameters['stock']}-{digest.hexdigest()[:32]}"


def _plan_stage(stage: str, stock: str, config: RunConfig, input_id: str) -> list[Invocation]:
    return [plan(stage, event) for event in stage_events(stage, stock, config, input_id)]


@task(
    name="run-stage",
    task_run_name="{stage}-{stock}",
    retries=2,
    retry_delay_seconds=[2, 8, 30],
    retry_jitter_factor=0.5,
    cache_key_fn=_stage_cache_key,
    persist_result=True,
)
def run_stage(stage: str, stock: str, input_id: str) -> dict[str, Any]:
    """Invoke one stage's workers for one stock and await their receipts."""
    runtime = _RUNTIMES[str(flow_run.id)]
    invocations = _plan_stage(stage, stock, runtime.config, input_id)
    attempt = max(int(task_run.run_count or 1), 1)
    if attempt == 1:
        runtime.progress.add_total(stage, len(invocations))
    options = AwaitOptions(timeout_s=runtime.config.timeout_s)
    with _inflight_slots(runtime, len(invocations)):
        outcome = run_invocations(
            runtime.executor,
            runtime.store,
            invocations,
            attempt=attempt,
            reuse=not runtime.config.refresh,
            options=options,
            progress=runtime.progress,
        )
    receipts = outcome.receipts
    return {
        "stage": stage,
        "stock": stock,
        "invocations": len(receipts),
        "executed": outcome.executed,
        "reused": outcome.reused,
        "compute_ms": sum(r["compute_ms"] for r in receipts),
        "results": [r.get("result", {}) for r in receipts] if stage not in _BULK else [],
    }


_BULK = ("parampreds", "trainfull")  # many receipts; their results are not summarised


class _inflight_slots:
    """Hold Prefect global-concurrency slots for in-flight Lambda invocations."""

    def __init__(self, runtime: Runtime, count: int) -> None:
        self.active = runtime.executor.kind == "lambda"
        self.count = min(count, runtime.config.max_in_flight)
        self._cm: Any = None

    def __enter__(self) -> None:
        if self.active:
            from prefect.concurrency.sync import concurrency

            self._cm = concurrency(LAMBDA_LIMIT_NAME, occupy=self.count)
            self._cm.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self._cm is not None:
            self._cm.__exit__(*exc)


def _ensure_concurrency_limit(limit: int) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(LAMBDA_LIMIT_NAME)
            client.update_global_concurrency_limit(
                LAMBDA_LIMIT_NAME, GlobalConcurrencyLimitUpdate(limit=limit, active=True)
            )
        except ObjectNotFound:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=LAMBDA_LIMIT_NAME, limit=limit, active=True)
            )


def discover_stocks(store: Storage) -> list[str]:
    """Every stock with a raw file under ``raw/``."""
    stocks = []
    for info in store.list("raw/"):
        name = info.key.removeprefix("raw/")
        if "/" not in name and name.endswith(RAW_SUFFIX):
            stocks.append(stock_from_raw_file(name))
    return stocks


def input_identity(store: Storage, stock: str) -> str:
    """The raw file's identity (size and ETag / mtime): a changed file gets new results."""
    info = store.head(raw_key(stock))
    if info is None:
        raise InputDataError(
            f"unknown stock {stock!r}: no {raw_key(stock)} in {store.url}; "
            "check the name or add its Kaggle CSV under raw/"
        )
    return f"{info.size}-{info.etag}"


def check_inputs(config: RunConfig) -> tuple[Storage, list[str], dict[str, str]]:
    """What can be checked before a run starts (the CLI calls it before starting Prefect):
    the store is reachable, every stock has a raw file, and every stage's events are valid.

    Returns:
        The store, the stocks and each stock's input identity.
    """
    store = open_storage(config.store)
    next(iter(store.list("raw/")), None)  # a missing bucket or unusable store fails here
    stocks = list(config.stocks or discover_stocks(store))
    if not stocks:
        raise GrovesError(
            f"no raw files in {store.url}/raw/: add {{STOCK}}{RAW_SUFFIX} files "
            "(or run `groves data generate`)"
        )
    inputs = {stock: input_identity(store, stock) for stock in stocks}
    for stage in STAGES:  # events differ between stocks only by the stock's name
        _plan_stage(stage, stocks[0], config, inputs[stocks[0]])
    return store, stocks, inputs


@flow(name="forecast-pipeline", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=64))
def forecast_pipeline(config: RunConfig | None = None, **overrides: Any) -> dict[str, Any]:
    """Process, grid-search, train and test every stock, then report the timings."""
    # Overrides are validated with the rest (a misspelt field is an error, not ignored).
    config = RunConfig.model_validate({**(config or RunConfig()).model_dump(), **overrides})
    logger = get_run_logger()
    store, stocks, inputs = check_inputs(config)
    run_id = config.resolved_run_id
    logger.info(
        "run %s: %d stock(s) on the %s executor, store %s",
        run_id,
        len(stocks),
        config.executor,
        store.url,
    )
    if config.executor == "lambda":
        _ensure_concurrency_limit(config.max_in_flight)
    executor = make_executor(
        config.executor,
        workers=config.workers,
        function_prefix=config.function_prefix,
        credentials_block=config.credentials_block,
    )
    runtime = Runtime(config, store, executor)
    runtime.progress.listeners.extend(PROGRESS_LISTENERS)
    runtime.progress.listeners.append(ui_progress := StageProgressArtifacts(STAGES, run_id))
    key = str(flow_run.id)
    with _RUNTIMES_LOCK:
        _RUNTIMES[key] = runtime
    started = time.time()
    try:  # from here on, whatever fails, the executor and the progress thread are closed
        store.put_json(
            f"runs/{run_id}/config.json",
            {**config.model_dump(mode="json"), "run_id": run_id, "stocks": stocks},
        )
        chains = _drive_stocks(config, stocks, inputs)
        failed: dict[str, str] = {}
        stage_results: dict[str, dict[str, dict[str, Any]]] = {}
        for stock, chain in chains.items():
            for stage, future in zip(STAGES, chain, strict=False):
                if not future.state.is_completed():
                    failed[stock] = f"{stage}: {future.state.message}"
                    break
            else:
                stage_results[stock] = {
                    stage: future.result() for stage, future in zip(STAGES, chain, strict=True)
                }
        timing = report_timing(run_id, started)
        timing["report"] = report_analysis(run_id)
    finally:
        with _RUNTIMES_LOCK:
            _RUNTIMES.pop(key, None)
        executor.close()
        ui_progress.close()
    summary = summarize_run(config, run_id, stocks, stage_results, failed, timing, runtime.progress)
    store.put_json(f"runs/{run_id}/summary.json", summary)
    publish_run_summary(summary)
    if len(failed) > config.tolerate:
        details = "; ".join(f"{s} ({msg})" for s, msg in failed.items())
        raise GrovesError(f"{len(failed)} stock(s) failed: {details}")
    return summary


def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a failed stage unless all its failures were bad input (they would recur)."""
    return not getattr(state.data, "permanent", False)


def _drive_stocks(
    config: RunConfig, stocks: list[str], inputs: dict[str, str]
) -> dict[str, list[PrefectFuture[Any]]]:
    """Move every stock through the stages on its own: submit a stock's next stage as soon
    as its previous one completes, and stop a stock's chain at its first failure.

    Completions arrive through the futures' done-callbacks, so the driver sleeps until a
    stage ends and never asks the Prefect API for a state."""
    # Exponential backoff with jitter: delay, 4x delay, 16x delay, ...
    stage_task = run_stage.with_options(
        retries=config.retries,
        retry_delay_seconds=[config.retry_delay_s * 4**k for k in range(max(config.retries, 1))],
        refresh_cache=config.refresh,
        retry_condition_fn=_worth_retrying,
    )
    finished: queue.SimpleQueue[str] = queue.SimpleQueue()
    chains: dict[str, list[PrefectFuture[Any]]] = {stock: [] for stock in stocks}

    def submit(stock: str) -> None:
        future = stage_task.submit(STAGES[len(chains[stock])], stock, inputs[stock])
        chains[stock].append(future)
        future.add_done_callback(lambda _: finished.put(stock))

    for stock in stocks:
        submit(stock)
    active = len(stocks)
    while active:
        stock = finished.get()
        current = chains[stock][-1]
        with contextlib.suppress(Exception):  # a crashed task's state is read from the API
            current.wait()  # done already: this records its final state on the future
        if current.state.is_completed() and len(chains[stock]) < len(STAGES):
            submit(stock)
        else:
            active -= 1
    return chains


@task(name="report-timing", retries=1, retry_delay_seconds=2)
def report_timing(run_id: str, started: float) -> dict[str, Any]:
    """Invoke timingmetrics over the run's receipts; return its tables and the wall time."""
    runtime = _RUNTIMES[str(flow_run.id)]
    base = runtime.config.event_base()
    invocation = plan("timingmetrics", {"store": base["store"], "run_id": run_id})
    outcome = run_invocations(
        runtime.executor,
        runtime.store,
        [invocation],
        attempt=max(int(task_run.run_count or 1), 1),
        reuse=False,
        options=AwaitOptions(timeout_s=runtime.config.timeout_s),
    )
    result = outcome.receipts[0]["result"]
    return {
        "tables": result["tables"],
        "receipts": result["receipts"],
        "wall_s": time.time() - started,
    }


@task(name="report-analysis", retries=1, retry_delay_seconds=2)
def report_analysis(run_id: str) -> dict[str, Any]:
    """Per-stage statistics, cost and plots of the run (`flows.analysis`): saved under
    ``timingmetrics/``, published as artifacts; returns the report without plot data."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from flows import analysis
    from flows.stored import load_receipts

    runtime = _RUNTIMES[str(flow_run.id)]
    lam = runtime.executor.kind == "lambda"
    workers = runtime.config.max_in_flight if lam else getattr(runtime.executor, "workers", None)
    try:
        report = analysis.build_report(load_receipts(runtime.store, run_id), workers=workers)
        files = analysis.write_report(runtime.store, f"runs/{run_id}/", report)
    except Exception as exc:  # a report must not fail a finished run
        get_run_logger().exception("timing report failed")
        return {"error": f"{type(exc).__name__}: {exc}"}
    key = run_id.lower().replace("_", "-").replace(".", "-")
    for name, rows, what in (
        ("stages", analysis.stage_rows(report), "Per-stage makespan, busy time, efficiency"),
        ("cost", analysis.cost_rows(report), f"Cost estimate ({analysis.PRICES_AS_OF})"),
        ("distributions", analysis.distribution_rows(report), "Compute and I/O quartiles"),
    ):
        create_table_artifact(rows, key=f"{key}-{name}", description=what)
    markdown = analysis.report_markdown(report, files, runtime.store.url)
    create_markdown_artifact(markdown, key=f"{key}-report", description="Timing report")
    return {**analysis.compact(report), "files": files}
