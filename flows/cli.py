"""The ``groves`` command line: run the pipeline, make demo data, report, clear, serve."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

T = TypeVar("T")

# Options that `run` and `serve` share.
WorkersOption = Annotated[int | None, typer.Option(help="Local worker processes (default: cores).")]
FunctionPrefixOption = Annotated[str, typer.Option(help="Lambda function name prefix.")]
CredentialsBlockOption = Annotated[
    str | None, typer.Option(help="prefect-aws AwsCredentials block for the Lambda client.")
]

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
data_app = typer.Typer(no_args_is_help=True, help="Demo and test data.")
app.add_typer(data_app, name="data")
aws_app = typer.Typer(no_args_is_help=True, help="AWS: Prefect blocks for the cloud deployment.")
app.add_typer(aws_app, name="aws")
console = Console()
err = Console(stderr=True)
DEBUG = False

DEMO_STOCKS = 3
DEMO_DAYS = 15  # the full grid and grove counts fit ~3 min on 2 cores at this size


def _quiet_prefect() -> None:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The first start of the embedded server migrates its database: give it time.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _ints(value: str | None) -> tuple[int, ...] | None:
    items = _csv(value)
    if items is None:
        return None
    try:
        return tuple(int(v) for v in items)
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {value!r}") from None


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """groves: distributed random-forest forecasting of many time series, on Prefect."""
    global DEBUG
    DEBUG = debug


@app.command()
def run(
    local: Annotated[bool, typer.Option("--local", help="Shorthand for --executor local.")] = False,
    executor: Annotated[
        str, typer.Option(help="local | lambda", envvar="GROVES_EXECUTOR")
    ] = "local",
    data: Annotated[
        str,
        typer.Option(
            help="Store: a folder or s3://bucket/prefix (raw/ inside).", envvar="GROVES_STORE"
        ),
    ] = "groves-data",
    stocks: Annotated[
        str | None, typer.Option(help="Comma-separated stocks (default: all).")
    ] = None,
    run_id: Annotated[str | None, typer.Option(help="Run id (default: from the options).")] = None,
    grid_feat: Annotated[str, typer.Option(help="max_features values.")] = "5,7,9",
    grid_samp: Annotated[str, typer.Option(help="min_samples_split values.")] = "5,15,25",
    groves: Annotated[int, typer.Option(help="Groves per grid cell.")] = 3,
    trees: Annotated[int, typer.Option(help="Trees per grid grove.")] = 100,
    final_groves: Annotated[int, typer.Option(help="Groves of the final model.")] = 30,
    final_trees: Annotated[int, typer.Option(help="Trees per final grove.")] = 25,
    split: Annotated[str, typer.Option(help="chronological | random")] = "chronological",
    table_format: Annotated[str, typer.Option("--format", help="parquet | csv")] = "parquet",
    features: Annotated[str, typer.Option(help="lags | indicators")] = "lags",
    target: Annotated[str, typer.Option(help="change | level")] = "change",
    seed: Annotated[int, typer.Option(help="Run seed.")] = 0,
    tolerate: Annotated[int, typer.Option(help="Complete despite up to N failed stocks.")] = 0,
    refresh: Annotated[bool, typer.Option(help="Recompute even finished invocations.")] = False,
    max_in_flight: Annotated[int, typer.Option(help="Cap on in-flight Lambda invocations.")] = 900,
    timeout: Annotated[
        float, typer.Option(help="Seconds to await one invocation's receipt.")
    ] = 960,
    workers: WorkersOption = None,
    function_prefix: FunctionPrefixOption = "groves-",
    credentials_block: CredentialsBlockOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the whole pipeline (processing -> grid search -> final model -> timing report)."""
    _quiet_prefect()

    def go() -> dict[str, Any]:
        from flows.config import RunConfig
        from lambda_functions.events import Grid

        kind = "local" if local else executor
        if kind == "local" and "://" not in data:
            _ensure_demo_data(Path(data))
        config = RunConfig(
            store=data,
            stocks=tuple(_csv(stocks)) if stocks else None,
            grid=Grid(max_features=_ints(grid_feat), min_samples_split=_ints(grid_samp)),
            groves=groves,
            trees=trees,
            final_groves=final_groves,
            final_trees=final_trees,
            split=split,
            table_format=table_format,
            features=features,
            target=target,
            seed=seed,
            executor=kind,
            run_id=run_id,
            tolerate=tolerate,
            refresh=refresh,
            max_in_flight=max_in_flight,
            timeout_s=timeout,
            workers=workers,
            function_prefix=function_prefix,
            credentials_block=credentials_block,
        )
        from flows.pipeline import check_inputs

        check_inputs(config)  # bad stocks, store or options fail here, before Prefect starts
        return _run_with_progress(config)

    summary = _guard(go)
    if as_json:
        console.print_json(json.dumps(summary, default=str))
    else:
        print_summary(summary)


def _ensure_demo_data(store: Path) -> None:
    raw = store / "raw"
    if raw.is_dir() and any(raw.glob("*_minute_data_with_indicators.csv")):
        return
    from flows.demo_data import DEFAULT_SYMBOLS, generate_dataset
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


def _run_with_progress(config: Any) -> dict[str, Any]:
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
    bars = {stage: progress.add_task(stage, total=None, start=False) for stage in pipeline.STAGES}
    lock = threading.Lock()

    def on_progress(stage: str, done: int, total: int) -> None:
        with lock:
            progress.start_task(bars[stage])
            progress.update(bars[stage], completed=done, total=total)

    pipeline.PROGRESS_LISTENERS.append(on_progress)
    try:
        with progress:
            return pipeline.forecast_pipeline(config)
    finally:
        pipeline.PROGRESS_LISTENERS.remove(on_progress)


def print_summary(summary: dict[str, Any]) -> None:
    """Per-stock test MSE vs persistence, and the timing totals."""
    from flows.report import stock_table_rows, timing_rows

    rows = stock_table_rows(summary)
    table = Table(title=f"run {summary['run_id']}: test MSE vs persistence")
    for column in rows[0] if rows else ["stock"]:
        table.add_column(column)
    for row in rows:
        table.add_row(*[str(v) for v in row.values()])
    console.print(table)
    timing = Table(title="timing (s): actual (measured) and sequential (one worker)")
    for column in (
        "stage",
        "actual: invocation",
        "computation",
        "I/O",
        "sequential: computation",
        "I/O ",
    ):
        timing.add_column(column, justify="right")
    actual = {r["stage"]: r for r in timing_rows(summary, "actual")}
    sequential = {r["stage"]: r for r in timing_rows(summary, "sequential")}
    for stage, a in actual.items():
        s = sequential[stage]
        timing.add_row(
            stage,
            *(
                f"{v:.2f}"
                for v in (a["Invocation"], a["Computation"], a["I/O"], s["Computation"], s["I/O"])
            ),
        )
    console.print(timing)
    print_report(summary["timing"].get("report"))
    executed = sum(summary["executed"].values())
    reused = sum(summary["reused"].values())
    console.print(
        f"wall time {summary['timing']['wall_s']:.1f} s · invocations executed {executed}, "
        f"reused {reused} · outputs in {summary['store']}/runs/{summary['run_id']}/"
    )


def _rows_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for i, column in enumerate(rows[0] if rows else ()):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row.values()])
    return table


def print_report(report: dict[str, Any] | None, kind: str = "measured") -> None:
    """The per-stage statistics and cost tables of a timing report (`flows.analysis`)."""
    if not report:
        return
    if "error" in report:
        err.print(f"[yellow]timing report unavailable: {report['error']}[/]")
        return
    from flows.analysis import cost_rows, stage_rows

    console.print(_rows_table(f"per stage ({kind})", stage_rows(report)))
    cost = report["cost"]
    console.print(_rows_table(f"cost estimate ({cost['prices']['as_of']})", cost_rows(report)))
    if cost.get("lambda_over_vm"):
        console.print(f"Lambda / one {cost['vm']['name']}: {cost['lambda_over_vm']:.2f}x")
    files = report.get("files") or {}
    if files:
        console.print("plots: " + ", ".join(files[k] for k in ("distributions", "timeline")))


@data_app.command("generate")
def data_generate(
    out: Annotated[Path, typer.Option(help="Store folder (files go to OUT/raw/).")] = Path(
        "groves-data"
    ),
    stocks: Annotated[str, typer.Option(help="Comma-separated symbols, or a count.")] = "3",
    days: Annotated[int, typer.Option(help="Trading days per stock (375 bars a day).")] = DEMO_DAYS,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Generate Kaggle-schema minute data (TA-Lib indicators) for demos and tests."""

    def go() -> list[Path]:
        from flows.demo_data import generate_dataset, symbol_names

        symbols = symbol_names(int(stocks)) if stocks.isdigit() else _csv(stocks) or []
        return generate_dataset(out / "raw", symbols, trading_days=days, seed=seed)

    for path in _guard(go):
        console.print(f"wrote {path}")


@app.command()
def report(
    run_id: Annotated[str | None, typer.Argument(help="Run id (default: the latest run).")] = None,
    data: Annotated[
        str, typer.Option(help="Store folder or s3:// URL.", envvar="GROVES_STORE")
    ] = "groves-data",
) -> None:
    """Print a finished run's scores and timing tables (from its stored outputs)."""

    def go() -> dict[str, Any]:
        from flows.stored import load_summary

        return load_summary(data, run_id)

    print_summary(_guard(go))


@app.command()
def plan(
    run_id: Annotated[
        str | None, typer.Argument(help="Measured run (default: the latest run).")
    ] = None,
    data: Annotated[
        str, typer.Option(help="Store folder or s3:// URL.", envvar="GROVES_STORE")
    ] = "groves-data",
    stocks: Annotated[int | None, typer.Option(help="Target stocks.")] = None,
    cells: Annotated[int | None, typer.Option(help="Target grid cells.")] = None,
    groves: Annotated[int | None, typer.Option(help="Target groves per grid cell.")] = None,
    trees: Annotated[int | None, typer.Option(help="Target trees per grid grove.")] = None,
    final_groves: Annotated[int | None, typer.Option(help="Target final groves.")] = None,
    final_trees: Annotated[int | None, typer.Option(help="Target trees per final grove.")] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Target concurrency limit (Lambda or local workers).")
    ] = None,
    memory: Annotated[int | None, typer.Option(help="Target Lambda memory (MB).")] = None,
    measured_concurrency: Annotated[
        int | None, typer.Option(help="The limit the measured run ran under (default: inferred).")
    ] = None,
    grove_seconds: Annotated[
        float | None,
        typer.Option(help="Given seconds per grid grove: plan without a measured run."),
    ] = None,
    final_grove_seconds: Annotated[
        float | None, typer.Option(help="Given seconds per final grove.")
    ] = None,
    stage_seconds: Annotated[
        str | None, typer.Option(help="Given seconds of other stages: STAGE=S[,STAGE=S].")
    ] = None,
    dispatch_ms: Annotated[
        float, typer.Option(help="With given times: ms between invokes of a stage.")
    ] = 31.0,
    cold_start: Annotated[
        float, typer.Option(help="With given times: seconds of a slot's first use.")
    ] = 0.0,
    assign: Annotated[
        str, typer.Option(help="auto | own | sampled per-invocation times.")
    ] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the sampled times' order.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Project makespan and cost at a target scale, simulating waves under the limit."""

    def go() -> dict[str, Any]:
        from dataclasses import replace

        from flows import planner

        given = grove_seconds is not None or final_grove_seconds is not None or stage_seconds
        if assign not in ("auto", "own", "sampled"):
            raise ValueError(f"--assign must be auto, own or sampled, not {assign!r}")
        changes = {
            k: v
            for k, v in {
                "stocks": stocks,
                "cells": cells,
                "groves": groves,
                "trees": trees,
                "final_groves": final_groves,
                "final_trees": final_trees,
                "concurrency": concurrency,
                "memory_mb": memory,
            }.items()
            if v is not None
        }
        if given:
            seconds = _pairs(stage_seconds, "SECONDS", float)
            if grove_seconds is not None:
                seconds["parampreds"] = grove_seconds
            if final_grove_seconds is not None:
                seconds["trainfull"] = final_grove_seconds
            target = planner.Scale(**{"stocks": 99, "memory_mb": 3008, **changes})
            profile = planner.profile_from_times(
                seconds, target, dispatch_s=dispatch_ms / 1000, cold_start_s=cold_start
            )
        else:
            from flows.stored import latest_run
            from lambda_functions.storage import open_storage

            store = open_storage(data)
            profile = planner.profile_for_run(
                store, run_id or latest_run(data), concurrency=measured_concurrency
            )
            target = replace(profile.scale, **changes)
        return planner.plan(profile, target, assign=assign, seed=seed)  # type: ignore[arg-type]

    result = _guard(go)
    if as_json:
        console.print_json(json.dumps(result, default=str))
        return
    print_plan(result)


def _pairs(value: str | None, what: str, convert: Callable[[str], T]) -> dict[str, T]:
    """Parse ``NAME=VALUE[,NAME=VALUE...]``; ``what`` names the VALUE in the error."""
    out: dict[str, T] = {}
    for item in _csv(value) or []:
        name, sep, raw = (part.strip() for part in item.partition("="))
        try:
            if not (sep and name):
                raise ValueError
            out[name] = convert(raw)
        except ValueError:
            raise ValueError(
                f"expected NAME={what}, e.g. parampreds={convert('2')}; got {item!r}"
            ) from None
    return out


def print_plan(result: dict[str, Any]) -> None:
    """A projection's per-stage table, its cost and projected vs measured makespan."""
    target = result["target"]
    console.print(
        f"target: {target['stocks']} stock(s) x ({target['cells']} cells x "
        f"{target['groves']} groves of {target['trees']} trees, {target['final_groves']} "
        f"final groves of {target['final_trees']} trees), concurrency "
        f"{target['concurrency']}, memory {target['memory_mb'] or 'as measured'} MB; "
        f"{result['receipts']} invocations, times: {result['assign']}"
    )
    print_report(result, "projected")
    line = f"projected makespan {result['projected_makespan_s']:.2f} s"
    measured = result.get("measured_makespan_s")
    if measured:
        line += f" · measured run: {measured:.2f} s at its own scale"
    console.print(line)


@app.command()
def clear(
    run_id: Annotated[str, typer.Argument(help="The run to delete.")],
    data: Annotated[
        str, typer.Option(help="Store folder or s3:// URL.", envvar="GROVES_STORE")
    ] = "groves-data",
    yes: Annotated[bool, typer.Option("--yes", help="Confirm the deletion.")] = False,
) -> None:
    """Delete one run's outputs (never the raw input)."""
    if not yes:
        err.print("[red]error:[/] refusing to delete without --yes")
        raise typer.Exit(code=1)

    def go() -> dict[str, Any]:
        from flows.config import RunConfig
        from lambda_functions import clearbuckets

        store = RunConfig(store=data).event_base()["store"]
        return clearbuckets.lambda_handler({"store": store, "run_id": run_id, "confirm": True})

    receipt = _guard(go)
    console.print(f"deleted {receipt['result']['deleted']} object(s) of run {run_id}")


@app.command("lambda-endpoint")
def lambda_endpoint(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 9001,
    concurrency: Annotated[int | None, typer.Option(help="Max invocations in flight.")] = None,
    fail_first: Annotated[
        str | None,
        typer.Option(help="Inject failures: FUNCTION=K[,FUNCTION=K] (first K calls fail)."),
    ] = None,
    throttle_first: Annotated[
        str | None, typer.Option(help="Inject throttling: FUNCTION=K (first K calls answer 429).")
    ] = None,
    drop_events: Annotated[float, typer.Option(help="Fraction of Event invokes dropped.")] = 0.0,
    duplicate_events: Annotated[bool, typer.Option(help="Run each Event invoke twice.")] = False,
) -> None:
    """Serve the AWS Lambda Invoke API locally, dispatching to the groves handlers."""
    from tasks.lambda_endpoint import Faults, run_endpoint

    faults = _guard(
        lambda: Faults(
            fail_first=_pairs(fail_first, "COUNT", int),
            throttle_first=_pairs(throttle_first, "COUNT", int),
            drop_event_fraction=drop_events,
            duplicate_events=duplicate_events,
        )
    )
    console.print(f"Lambda Invoke API on http://{host}:{port} (Ctrl-C to stop)")
    _guard(lambda: run_endpoint(host=host, port=port, concurrency=concurrency, faults=faults))


@app.command()
def serve(
    executor: Annotated[
        str, typer.Option(help="Default executor: local | lambda", envvar="GROVES_EXECUTOR")
    ] = "local",
    data: Annotated[
        str,
        typer.Option(help="Default store: a folder or s3://bucket/prefix.", envvar="GROVES_STORE"),
    ] = "groves-data",
    workers: WorkersOption = None,
    function_prefix: FunctionPrefixOption = "groves-",
    credentials_block: CredentialsBlockOption = None,
    name: Annotated[str, typer.Option(help="Deployment name.")] = "groves-serve",
    limit: Annotated[int, typer.Option(help="Flow runs at a time.")] = 1,
) -> None:
    """Serve the pipeline as deployment forecast-pipeline/NAME (no work pool, no worker):
    start runs with `prefect deployment run 'forecast-pipeline/NAME'` or in the UI. The
    options become the deployment's default `config`. Needs a Prefect API (PREFECT_API_URL,
    e.g. of `prefect server start`). Ctrl-C stops serving."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

    def go() -> None:
        from prefect import serve as prefect_serve
        from prefect.deployments.runner import EntrypointType
        from prefect.settings import get_current_settings

        from flows.config import RunConfig
        from flows.pipeline import forecast_pipeline

        local_store = "://" not in data
        store = str(Path(data).resolve()) if local_store else data
        config = RunConfig(
            store=store,
            executor=executor,
            workers=workers,
            function_prefix=function_prefix,
            credentials_block=credentials_block,
        )
        if executor == "local" and local_store:
            _ensure_demo_data(Path(store))
        if not get_current_settings().api.url:
            err.print(
                "[yellow]PREFECT_API_URL is not set: serving against a temporary server "
                "that only this process can reach. Start `prefect server start` and "
                "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api` first.[/]"
            )
        defaults = config.model_dump(mode="json", exclude_defaults=True)
        # Not forecast_pipeline.serve(): that cloudpickles the flow into each run's
        # process, and the flow's module state (a lock) does not pickle. Served this way,
        # each run's process imports flows.pipeline like a worker's does.
        deployment = forecast_pipeline.to_deployment(
            name=name,
            parameters={"config": defaults},
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        prefect_serve(deployment, limit=limit)

    _guard(go)


@aws_app.command("blocks")
def aws_blocks(
    bucket: Annotated[
        str,
        typer.Option(help="The store bucket (stack output BucketName).", envvar="GROVES_BUCKET"),
    ],
    region: Annotated[
        str | None, typer.Option(help="AWS region.", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"])
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(help="Use this AWS profile (no keys stored).", envvar="AWS_PROFILE"),
    ] = None,
    folder: Annotated[str, typer.Option(help="Folder (prefix) in the bucket.")] = "",
    credentials_name: Annotated[
        str, typer.Option(help="Name of the AwsCredentials block.")
    ] = "groves-aws",
    bucket_name: Annotated[str, typer.Option(help="Name of the S3Bucket block.")] = "groves-store",
    overwrite: Annotated[bool, typer.Option(help="Replace blocks of those names.")] = False,
) -> None:
    """Save an AwsCredentials and an S3Bucket block (prefect-aws) for the cloud deployment.
    With --profile (AWS_PROFILE) the block stores the profile name only; otherwise it stores
    the keys of AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), read from
    the environment only and never printed; with neither, boto3's default chain (an
    instance or task role) applies where the block is loaded."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

    def go() -> str:
        from prefect_aws import AwsCredentials, S3Bucket

        key_id = os.environ.get("AWS_ACCESS_KEY_ID")
        secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
        if profile:
            credentials = AwsCredentials(profile_name=profile, region_name=region)
            source = f"profile {profile}"
        elif key_id and secret:
            credentials = AwsCredentials(
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
                aws_session_token=os.environ.get("AWS_SESSION_TOKEN") or None,
                region_name=region,
            )
            source = "access keys from the environment (stored as a secret, not shown)"
        else:
            credentials = AwsCredentials(region_name=region)
            source = "boto3's default chain where the block is loaded"
        credentials.save(credentials_name, overwrite=overwrite)
        S3Bucket(bucket_name=bucket, bucket_folder=folder, credentials=credentials).save(
            bucket_name, overwrite=overwrite
        )
        return source

    source = _guard(go)
    console.print(
        f"saved aws-credentials/{credentials_name} ({source}; region {region or 'unset'})\n"
        f"saved s3-bucket/{bucket_name} (s3://{bucket}/{folder}, credentials "
        f"{credentials_name})"
    )


def _guard(fn: Any) -> Any:
    """Run ``fn``; turn expected errors into one clear line and exit code 1."""
    from pydantic import ValidationError

    from lambda_functions.errors import GrovesError

    try:
        return fn()
    except (GrovesError, ValidationError, ValueError, OSError) as exc:
        if DEBUG:
            raise
        message = str(exc).strip().splitlines()
        if isinstance(exc, ValidationError):
            message = [
                f"invalid option {e['loc'][-1] if e['loc'] else ''}: "
                f"{e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            ]
        err.print(f"[red]error:[/] {'; '.join(message[:3])}")
        raise typer.Exit(code=1) from None


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
