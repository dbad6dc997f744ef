"""Running the pipeline: ``groves run`` (one run, now) and ``groves serve`` (a deployment)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from groves.cli.common import (
    DEMO_DAYS,
    DEMO_STOCKS,
    CredentialsBlockOption,
    DaskAddressOption,
    FunctionPrefixOption,
    WorkersOption,
    console,
    csv_list,
    err,
    guard,
    int_list,
    quiet_prefect,
)
from groves.cli.render import print_summary
from groves.config import (
    DEFAULT_DATA_DIR,
    MAX_EVENT_AGE_S,
    MAX_IN_FLIGHT,
    MAX_POLL_ENV,
    MAX_POLL_S,
    RECEIPT_TIMEOUT_S,
)
from groves.prefect_settings import apply_server_defaults
from lambda_functions import defaults
from lambda_functions.features import MIN_ROWS
from lambda_functions.inputs import DEFAULT_FILES, DEFAULT_TIME_COLUMN, DEFAULT_VALUE_COLUMN
from lambda_functions.layout import SEED_MAIN_BUCKET
from lambda_functions.seed_buckets import DEFAULT_PATTERN
from lambda_functions.stages import DEFAULT_PIPELINE
from lambda_functions.storage import BUCKET_ROOT_ENV


def _joined(values: tuple[int, ...]) -> str:
    return ",".join(str(v) for v in values)


def run(
    local: Annotated[bool, typer.Option("--local", help="Shorthand for --executor local.")] = False,
    executor: Annotated[
        str, typer.Option(help="local | lambda | dask", envvar="GROVES_EXECUTOR")
    ] = "local",
    data: Annotated[
        str,
        typer.Option(
            help="Store: a folder or s3://bucket/prefix (raw/ inside).", envvar="GROVES_STORE"
        ),
    ] = DEFAULT_DATA_DIR,
    stocks: Annotated[
        str | None, typer.Option(help="Comma-separated stocks (default: all).")
    ] = None,
    pipeline: Annotated[
        str, typer.Option(help="grid (the fine-grained one) | per-stock")
    ] = DEFAULT_PIPELINE,
    run_id: Annotated[str | None, typer.Option(help="Run id (default: from the options).")] = None,
    grid_feat: Annotated[str, typer.Option(help="max_features values.")] = _joined(
        defaults.GRID_MAX_FEATURES
    ),
    grid_samp: Annotated[str, typer.Option(help="min_samples_split values.")] = _joined(
        defaults.GRID_MIN_SAMPLES_SPLIT
    ),
    groves: Annotated[int, typer.Option(help="Groves per grid cell.")] = defaults.GROVES_PER_CELL,
    trees: Annotated[int, typer.Option(help="Trees per grid grove.")] = defaults.TREES_PER_GROVE,
    final_groves: Annotated[
        int, typer.Option(help="Groves of the final model.")
    ] = defaults.FINAL_GROVES,
    final_trees: Annotated[int, typer.Option(help="Trees per final grove.")] = defaults.FINAL_TREES,
    split: Annotated[str, typer.Option(help="chronological | random")] = "chronological",
    table_format: Annotated[str, typer.Option("--format", help="parquet | csv")] = "parquet",
    features: Annotated[str, typer.Option(help="lags | indicators")] = "lags",
    target: Annotated[str, typer.Option(help="change | level")] = "change",
    seed: Annotated[int, typer.Option(help="Run seed.")] = defaults.RUN_SEED,
    files: Annotated[
        str,
        typer.Option(
            help="Raw files under raw/: a template with {series} (one file per series), or "
            "with --series-column one long-format file or folder. CSV (.gz too) or Parquet.",
            rich_help_panel="Input",
        ),
    ] = DEFAULT_FILES,
    series_column: Annotated[
        str | None,
        typer.Option(
            help="Long format: the column naming each row's series.", rich_help_panel="Input"
        ),
    ] = None,
    time_column: Annotated[
        str, typer.Option(help="The column of times.", rich_help_panel="Input")
    ] = DEFAULT_TIME_COLUMN,
    time_format: Annotated[
        str,
        typer.Option(
            help="auto (ISO 8601 with or without offset, or epoch numbers by magnitude) "
            "| iso | s | ms | us | ns",
            rich_help_panel="Input",
        ),
    ] = "auto",
    timezone: Annotated[
        str | None,
        typer.Option(
            help="Zone to show times in (e.g. UTC). Default: ISO offsets in Asia/Kolkata, "
            "epoch times in UTC.",
            rich_help_panel="Input",
        ),
    ] = None,
    value_column: Annotated[
        str, typer.Option(help="The column to forecast.", rich_help_panel="Input")
    ] = DEFAULT_VALUE_COLUMN,
    lags: Annotated[
        int, typer.Option(help="Lagged values as features.", rich_help_panel="Input")
    ] = defaults.N_LAGS,
    horizon: Annotated[
        int, typer.Option(help="Forecast this many steps ahead.", rich_help_panel="Input")
    ] = 1,
    min_rows: Annotated[
        int,
        typer.Option(help="Usable rows a series needs (after lags).", rich_help_panel="Input"),
    ] = MIN_ROWS,
    tolerate: Annotated[
        int, typer.Option(help="Complete despite up to N failed or unusable stocks.")
    ] = 0,
    refresh: Annotated[bool, typer.Option(help="Recompute even finished invocations.")] = False,
    plots: Annotated[
        bool,
        typer.Option(
            help="Render the result and timing plots at the end of the run (about a second "
            "a stock, in this process); --no-plots writes the tables, report and summary only."
        ),
    ] = True,
    max_in_flight: Annotated[
        int,
        typer.Option(
            help="Cap on in-flight Lambda invocations (the account's and functions' "
            "concurrency limits lower it; this can only lower them)."
        ),
    ] = MAX_IN_FLIGHT,
    timeout: Annotated[
        float,
        typer.Option(help="Seconds to await one invocation's receipt (from when it started)."),
    ] = RECEIPT_TIMEOUT_S,
    max_event_age: Annotated[
        float,
        typer.Option(
            help="Lambda: seconds an event may wait to start before it is called lost and "
            "sent again (not below the functions' MaximumEventAgeInSeconds)."
        ),
    ] = MAX_EVENT_AGE_S,
    max_poll: Annotated[
        float,
        typer.Option(
            envvar=MAX_POLL_ENV,
            help="Lambda: the longest wait, in seconds, between two looks (LIST requests) "
            "for receipts; looks start 50 ms after sending and back off to it.",
        ),
    ] = MAX_POLL_S,
    workers: WorkersOption = None,
    function_prefix: FunctionPrefixOption = "groves-",
    credentials_block: CredentialsBlockOption = None,
    dask_address: DaskAddressOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every table column (the default fits 80 columns).")
    ] = False,
    layout: Annotated[
        str,
        typer.Option(
            help="run (runs/<run-id>/ in --data) | seed (the original's buckets: S3, or "
            "folders under $GROVES_BUCKET_ROOT; --data is not used)",
            rich_help_panel="Seed layout",
        ),
    ] = "run",
    seed_bucket: Annotated[
        str,
        typer.Option(
            help="Seed layout: the main bucket (raw/, runtimes/, timingmetrics/, groves/).",
            rich_help_panel="Seed layout",
        ),
    ] = SEED_MAIN_BUCKET,
    seed_bucket_pattern: Annotated[
        str,
        typer.Option(
            help="Seed layout: each stock's bucket, {stock} in lower case.",
            rich_help_panel="Seed layout",
        ),
    ] = DEFAULT_PATTERN,
) -> None:
    """Run the whole pipeline (processing -> model search -> final model -> timing report)."""
    quiet_prefect()

    def go() -> dict[str, Any]:
        from groves.config import RunConfig
        from lambda_functions.events import Grid
        from lambda_functions.inputs import InputSpec

        kind = "local" if local else executor
        source = InputSpec(
            files=files,
            series_column=series_column,
            time_column=time_column,
            time_format=time_format,
            timezone=timezone,
            value_column=value_column,
        )
        bucket_root = os.environ.get(BUCKET_ROOT_ENV, "")
        if layout == "seed":  # demo data into the main bucket's folder
            if kind == "local" and bucket_root and "://" not in bucket_root and source.is_default:
                ensure_demo_data(Path(bucket_root.removeprefix("file://")) / seed_bucket)
        elif kind == "local" and "://" not in data and source.is_default:
            ensure_demo_data(Path(data))
        config = RunConfig(
            store=data,
            stocks=tuple(csv_list(stocks)) if stocks else None,
            pipeline=pipeline,
            grid=Grid(max_features=int_list(grid_feat), min_samples_split=int_list(grid_samp)),
            groves=groves,
            trees=trees,
            final_groves=final_groves,
            final_trees=final_trees,
            split=split,
            table_format=table_format,
            features=features,
            target=target,
            seed=seed,
            input=source,
            lags=lags,
            horizon=horizon,
            min_rows=min_rows,
            executor=kind,
            run_id=run_id,
            tolerate=tolerate,
            refresh=refresh,
            plots=plots,
            max_in_flight=max_in_flight,
            timeout_s=timeout,
            max_event_age_s=max_event_age,
            max_poll_s=max_poll,
            workers=workers,
            function_prefix=function_prefix,
            credentials_block=credentials_block,
            layout=layout,
            seed_bucket=seed_bucket,
            seed_bucket_pattern=seed_bucket_pattern,
            dask_address=dask_address,
        )
        if kind == "dask":  # no address: say so before Prefect starts
            from tasks.dask_executor import scheduler_address

            scheduler_address(dask_address)
        from flows.pipeline import check_inputs
        from groves.inputs import UnusableSeriesError
        from lambda_functions.errors import GrovesError

        try:  # bad stocks, store or options fail here, before Prefect starts
            check_inputs(config)
        except UnusableSeriesError as exc:
            for name, problem in exc.problems.items():
                err.print(f"[red]{name}[/]: {problem}", highlight=False, soft_wrap=True)
            raise GrovesError(exc.headline) from None
        return run_with_progress(config)

    summary = guard(go)
    if as_json:
        console.print_json(json.dumps(summary, default=str))
    else:
        print_summary(summary, wide=wide)


def ensure_demo_data(store: Path) -> None:
    """Generate the demo data set into ``store/raw/`` unless it holds raw files."""
    raw = store / "raw"
    if raw.is_dir() and any(raw.glob("*_minute_data_with_indicators.csv")):
        return
    from groves.demo_data import DEFAULT_SYMBOLS, generate_dataset
    from lambda_functions.errors import StorageError

    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot use {store} as a store: {exc.strerror} ({exc.filename}); "
            "give a writable folder (raw/ and runs/ go inside) or an s3://bucket/prefix URL"
        ) from None
    console.print(
        f"[yellow]No raw data in {raw}: generating the demo set "
        f"({DEMO_STOCKS} stocks x {DEMO_DAYS} trading days) there.[/]"
    )
    generate_dataset(raw, DEFAULT_SYMBOLS[:DEMO_STOCKS], trading_days=DEMO_DAYS, seed=0)


def run_with_progress(config: Any) -> dict[str, Any]:
    """Run the flow in this process, drawing a progress bar per stage."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from flows import pipeline

    progress = Progress(
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    stages = config.stages.names
    bars = {stage: progress.add_task(stage, total=None, start=False) for stage in stages}
    lock = threading.Lock()

    def on_progress(stage: str, done: int, total: int) -> None:
        with lock:
            progress.start_task(bars[stage])
            progress.update(bars[stage], completed=done, total=total)

    pipeline.PROGRESS_LISTENERS.append(on_progress)
    if config.executor == "local":  # the workers' imports go on while Prefect starts
        from tasks.executors import start_local_workers

        start_local_workers()
    try:
        with progress:
            return pipeline.forecast_pipeline(config)
    finally:
        pipeline.PROGRESS_LISTENERS.remove(on_progress)


def serve(
    executor: Annotated[
        str,
        typer.Option(help="Default executor: local | lambda | dask", envvar="GROVES_EXECUTOR"),
    ] = "local",
    data: Annotated[
        str,
        typer.Option(help="Default store: a folder or s3://bucket/prefix.", envvar="GROVES_STORE"),
    ] = "groves-data",
    workers: WorkersOption = None,
    function_prefix: FunctionPrefixOption = "groves-",
    credentials_block: CredentialsBlockOption = None,
    dask_address: DaskAddressOption = None,
    name: Annotated[str, typer.Option(help="Deployment name.")] = "groves-serve",
    limit: Annotated[int, typer.Option(help="Flow runs at a time.")] = 1,
) -> None:
    """Serve the pipeline as deployment forecast-pipeline/NAME (no work pool, no worker):
    start runs with `prefect deployment run 'forecast-pipeline/NAME'` or in the UI. The
    options become the deployment's default `config`. Needs a Prefect API (PREFECT_API_URL,
    e.g. of `prefect server start`). Ctrl-C stops serving."""
    apply_server_defaults()

    def go() -> None:
        from prefect import serve as prefect_serve
        from prefect.deployments.runner import EntrypointType
        from prefect.settings import get_current_settings

        from flows.pipeline import forecast_pipeline
        from groves.config import RunConfig

        local_store = "://" not in data
        store = str(Path(data).resolve()) if local_store else data
        config = RunConfig(
            store=store,
            executor=executor,
            workers=workers,
            function_prefix=function_prefix,
            credentials_block=credentials_block,
            dask_address=dask_address,
        )
        if executor == "local" and local_store:
            ensure_demo_data(Path(store))
        if not get_current_settings().api.url:
            err.print(
                "[yellow]PREFECT_API_URL is not set: serving against a temporary server "
                "that only this process can reach. Start `prefect server start` and "
                "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api` first.[/]"
            )
        parameters = config.model_dump(mode="json", exclude_defaults=True)
        # Not forecast_pipeline.serve(): that cloudpickles the flow into each run's
        # process, and the flow's module state (a lock) does not pickle. Served this way,
        # each run's process imports flows.pipeline like a worker's does.
        deployment = forecast_pipeline.to_deployment(
            name=name,
            parameters={"config": parameters},
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        prefect_serve(deployment, limit=limit)

    guard(go)
