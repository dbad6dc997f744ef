"""Data and infrastructure: ``data generate``, ``clear``, ``lambda-endpoint``, ``aws blocks``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from groves.cli.common import DEMO_DAYS, console, csv_list, err, guard, pairs
from groves.prefect_settings import apply_server_defaults


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
        from groves.demo_data import generate_dataset, symbol_names

        symbols = symbol_names(int(stocks)) if stocks.isdigit() else csv_list(stocks) or []
        return generate_dataset(out / "raw", symbols, trading_days=days, seed=seed)

    for path in guard(go):
        console.print(f"wrote {path}")


def clear(
    run_id: Annotated[str, typer.Argument(help="The run to delete.")],
    data: Annotated[
        str, typer.Option(help="Store folder or s3:// URL.", envvar="GROVES_STORE")
    ] = "groves-data",
    yes: Annotated[bool, typer.Option("--yes", help="Confirm the deletion.")] = False,
    layout: Annotated[
        str, typer.Option(help="run | seed (the original's buckets; RUN_ID is then 'seed')")
    ] = "run",
    seed_bucket: Annotated[str, typer.Option(help="Seed layout: the main bucket.")] = "ds5110s3",
) -> None:
    """Delete one run's outputs (never the raw input).

    Seed layout: empties the run's stock buckets' outputs (processed/, models/), the main
    bucket's timingmetrics/ and runtimes/invoke_*.txt, and the run's files under groves/."""
    if not yes:
        err.print("[red]error:[/] refusing to delete without --yes")
        raise typer.Exit(code=1)

    def go() -> dict[str, Any]:
        from groves.config import RunConfig
        from lambda_functions import clearbuckets

        if layout == "seed":
            return clearbuckets.lambda_handler(seed_clear_event(seed_bucket, run_id))
        store = RunConfig(store=data).event_base()["store"]
        return clearbuckets.lambda_handler({"store": store, "run_id": run_id, "confirm": True})

    receipt = guard(go)
    deleted = receipt["result"]["deleted"]
    if isinstance(deleted, dict):
        for bucket, count in deleted.items():
            console.print(f"deleted {count} object(s) in {bucket}")
    else:
        console.print(f"deleted {deleted} object(s) of run {run_id}")


def seed_clear_event(main: str, run_id: str) -> dict[str, Any]:
    """The clearbuckets event of a seed-layout run: its stock buckets, from its saved
    configuration (``groves/runs/{run_id}/config.json`` in the main bucket)."""
    from groves.config import RunConfig
    from lambda_functions.errors import GrovesError
    from lambda_functions.layout import RunLayout
    from lambda_functions.seed_buckets import groves_store

    store = groves_store(main)
    key = RunLayout(run_id).config_key()
    if not store.exists(key):
        raise GrovesError(f"no seed-layout run {run_id!r} in {store.url} (no {key})")
    saved = store.get_json(key)
    fields = set(RunConfig.model_fields)
    config = RunConfig.model_validate({k: v for k, v in saved.items() if k in fields})
    buckets = config.seed_buckets
    if buckets is None:
        raise GrovesError(f"run {run_id!r} in {store.url} is not a seed-layout run")
    names = [buckets.stock_bucket(stock) for stock in saved.get("stocks", [])]
    return {
        "mainbucket": main,
        "buckets": names,
        "run_id": run_id,
        "confirm": True,
    }


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
    throttle_every: Annotated[
        int, typer.Option(help="Inject sustained throttling: every N-th call answers 429.")
    ] = 0,
    retry_after: Annotated[
        int | None, typer.Option(help="Retry-After seconds on injected 429s (default: none).")
    ] = None,
    reject_events_over_cap: Annotated[
        bool, typer.Option(help="Answer 429 to Event invokes over the cap instead of queueing.")
    ] = False,
    reserved: Annotated[
        str | None,
        typer.Option(help="Reserved concurrency: FUNCTION=N[,FUNCTION=N] (out of --concurrency)."),
    ] = None,
    max_event_age: Annotated[
        float, typer.Option(help="Seconds a queued Event may wait before it expires unrun.")
    ] = 21600.0,
) -> None:
    """Serve the AWS Lambda Invoke API locally, dispatching to the groves handlers.

    Event invokes over the concurrency cap are queued, as AWS Lambda queues them."""
    from groves.lambda_endpoint import Faults, run_endpoint

    faults = guard(
        lambda: Faults(
            fail_first=pairs(fail_first, "COUNT", int),
            throttle_first=pairs(throttle_first, "COUNT", int),
            drop_event_fraction=drop_events,
            duplicate_events=duplicate_events,
            throttle_every=throttle_every,
            retry_after_s=retry_after,
            reject_events_over_cap=reject_events_over_cap,
        )
    )
    reservations = guard(lambda: pairs(reserved, "COUNT", int))
    console.print(f"Lambda Invoke API on http://{host}:{port} (Ctrl-C to stop)")
    guard(
        lambda: run_endpoint(
            host=host,
            port=port,
            concurrency=concurrency,
            faults=faults,
            reserved=reservations,
            max_event_age_s=max_event_age,
        )
    )


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
    apply_server_defaults()

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

    source = guard(go)
    console.print(
        f"saved aws-credentials/{credentials_name} ({source}; region {region or 'unset'})\n"
        f"saved s3-bucket/{bucket_name} (s3://{bucket}/{folder}, credentials "
        f"{credentials_name})"
    )
