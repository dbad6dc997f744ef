"""Flow tests: one Prefect test server for the session, and a moto S3 server on loopback."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from flows.config import RunConfig
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
}


def small_config(**changes: Any) -> RunConfig:
    """A pipeline configuration small enough for tests (2x2 grid, few trees)."""
    return RunConfig(**{**SMALL, **changes})


@pytest.fixture(scope="session", autouse=True)
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A temporary Prefect API for every flow test (PREFECT_HOME in a temp folder)."""
    home = tmp_path_factory.mktemp("prefect-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PREFECT_HOME", str(home))
        mp.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        mp.setenv("PREFECT_LOGGING_LEVEL", "WARNING")
        mp.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=120):
            yield


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real S3 API (moto's server) on 127.0.0.1; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


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


@pytest.fixture
def local_store(tmp_path: Path, raw_dir: Path) -> str:
    """A fresh local store folder with the raw files under raw/."""
    raw = tmp_path / "store" / "raw"
    raw.mkdir(parents=True)
    for path in sorted(raw_dir.glob("*.csv")):
        (raw / path.name).write_bytes(path.read_bytes())
    return str(tmp_path / "store")


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
