"""Flow tests: the session's Prefect test API and moto S3 server (`tests/conftest.py`)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from groves.config import RunConfig
from lambda_functions.events import Grid

SMALL = {
    "grid": Grid(max_features=(5, 9), min_samples_split=(5, 25)),
    "groves": 2,
    "trees": 5,
    "final_groves": 3,
    "final_trees": 5,
    "workers": 2,
    "retries": 2,
    "retry_delay_s": 0.2,
    # Plots are about a quarter of a small run's CPU; the tests that look at them
    # (test_report_plan, the per-stock pipeline's, the UI's) turn them on.
    "plots": False,
}


def small_config(**changes: Any) -> RunConfig:
    """A pipeline configuration small enough for tests (2x2 grid, few trees)."""
    return RunConfig(**{**SMALL, **changes})


@pytest.fixture(scope="session", autouse=True)
def prefect_server(prefect_api: str) -> str:
    """Every flow test runs against the session's temporary Prefect API."""
    return prefect_api


@pytest.fixture
def s3_store(
    moto_server: str, raw_dir: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> str:
    """A fresh bucket on the moto server with the raw files; the env points boto3 at it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower().replace("_", "-"))
    bucket = ("groves-" + name)[:60].strip("-")
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    client.create_bucket(Bucket=bucket)
    for path in sorted(raw_dir.glob("*.csv")):
        client.upload_file(str(path), bucket, f"data/raw/{path.name}")
    return f"s3://{bucket}/data"


def endpoint_env(moto_url: str) -> dict[str, str]:
    """Environment for Lambda worker processes: S3 on the moto server, fake credentials."""
    return {
        "AWS_ENDPOINT_URL_S3": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "GROVES_N_JOBS": "1",
        "PATH": os.environ.get("PATH", ""),
    }
