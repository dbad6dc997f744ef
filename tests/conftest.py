"""Fixtures shared by every test: a fake AWS environment, demo raw data and stores.

* ``fake_aws_env`` (autouse, session): fake credentials, no profile or custom endpoint,
  single-threaded groves, receipt looks at most 0.25 s apart, Prefect analytics off;
  nothing can reach a real AWS account.
* ``raw_dir`` (session): Kaggle-schema demo CSVs for `STOCKS` (`TRADING_DAYS` days each).
* ``s3``: an in-process moto S3 with the bucket `TEST_BUCKET` created.
* ``store_url``: a store (a local folder, or ``s3://groves-test/prefix`` under moto) with
  the raw files already under ``raw/``; parametrized over ``local`` and ``s3``.
* ``make_store``: the same provisioning as a context manager, for module-scoped fixtures
  that must keep one store alive for several tests (they start moto themselves).
* ``store_keys`` / ``store_snapshot``: every key of a store, or every key with its bytes.
* ``prefect_api`` (session): a temporary Prefect API (PREFECT_HOME in a temp folder).
* ``moto_server`` (session): a real S3 API (moto's server) on 127.0.0.1.
* ``local_store``: a fresh local store folder with the raw files under ``raw/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from groves.prefect_settings import SERVER_DEFAULTS
from lambda_functions.storage import open_storage

STOCKS = ("RELIANCE", "TCS")
TRADING_DAYS = 4  # 4 x 375 = 1500 rows per stock; MIN_ROWS is 1000 usable rows
TEST_BUCKET = "groves-test"
TEST_PREFIX = "prefix"
RAW_SUFFIX = "_minute_data_with_indicators.csv"
STORE_KINDS = ("local", "s3")


def raw_file_name(stock: str) -> str:
    """The Kaggle file name of a stock."""
    return f"{stock}{RAW_SUFFIX}"


@pytest.fixture(scope="session", autouse=True)
def fake_aws_env() -> Iterator[None]:
    """Fake AWS credentials and region; no profile, no endpoint override, one core per fit."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name in (
                "AWS_PROFILE",
                "AWS_DEFAULT_PROFILE",
                "AWS_REGION",
                "AWS_SESSION_TOKEN",
                "AWS_SECURITY_TOKEN",
                "GROVES_BUCKET_ROOT",
            ) or name.startswith("AWS_ENDPOINT_URL"):
                mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        # Never read a developer's real config or credentials files.
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        mp.setenv("GROVES_N_JOBS", "1")
        # Lambda-path runs look for receipts at most 0.25 s apart (default 2 s), so a test
        # waits for its stages, not for the next look.
        mp.setenv("GROVES_MAX_POLL_S", "0.25")
        mp.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        yield


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo raw files for `STOCKS`: ``{dir}/{STOCK}_minute_data_with_indicators.csv``."""
    from groves.demo_data import generate_dataset

    directory = tmp_path_factory.mktemp("raw")
    generate_dataset(directory, list(STOCKS), trading_days=TRADING_DAYS, seed=0)
    return directory


def place_raw(url: str, raw_dir: Path, stocks: tuple[str, ...] = STOCKS) -> None:
    """Copy the raw files of ``stocks`` from ``raw_dir`` to ``raw/`` in the store at ``url``."""
    store = open_storage(url)
    for stock in stocks:
        name = raw_file_name(stock)
        store.put_bytes(f"raw/{name}", (raw_dir / name).read_bytes())


def list_keys(url: str, prefix: str = "") -> list[str]:
    """Every key of the store at ``url`` (sorted)."""
    return open_storage(url).keys(prefix)


def snapshot(url: str, prefix: str = "") -> dict[str, bytes]:
    """Every key of the store at ``url`` with its content."""
    store = open_storage(url)
    return {key: store.get_bytes(key) for key in store.keys(prefix)}


def create_bucket(name: str) -> Any:
    """Create an S3 bucket (moto must be active); return the client."""
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return client


@contextmanager
def provisioned_store(kind: str, folder: Path, raw_dir: Path) -> Iterator[str]:
    """A fresh store with the raw files under ``raw/``; yields its URL.

    Args:
        kind: ``"local"`` (a folder under ``folder``) or ``"s3"`` (starts moto itself,
            so do not nest it inside another active moto mock).
        folder: a scratch folder for the local store.
        raw_dir: where the raw files are (see the ``raw_dir`` fixture).
    """
    if kind == "local":
        url = str(folder / "store")
        place_raw(url, raw_dir)
        yield url
    elif kind == "s3":
        with mock_aws():
            create_bucket(TEST_BUCKET)
            url = f"s3://{TEST_BUCKET}/{TEST_PREFIX}"
            place_raw(url, raw_dir)
            yield url
    else:
        raise ValueError(f"unknown store kind {kind!r}")


@pytest.fixture
def s3() -> Iterator[Any]:
    """In-process moto S3 with `TEST_BUCKET` created; yields a boto3 S3 client."""
    with mock_aws():
        yield create_bucket(TEST_BUCKET)


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path, raw_dir: Path) -> str:
    """A store URL (local folder or ``s3://groves-test/prefix``) with raw files under raw/."""
    if request.param == "local":
        url = str(tmp_path / "store")
    else:
        request.getfixturevalue("s3")
        url = f"s3://{TEST_BUCKET}/{TEST_PREFIX}"
    place_raw(url, raw_dir)
    return url


@pytest.fixture(scope="session")
def make_store(raw_dir: Path) -> Callable[[str, Path], AbstractContextManager[str]]:
    """``make_store(kind, folder)``: `provisioned_store` bound to the session's raw files."""

    def make(kind: str, folder: Path) -> AbstractContextManager[str]:
        return provisioned_store(kind, folder, raw_dir)

    return make


@pytest.fixture(scope="session")
def store_keys() -> Callable[..., list[str]]:
    """``store_keys(url, prefix="")``: every key of a store, sorted."""
    return list_keys


@pytest.fixture(scope="session")
def store_snapshot() -> Callable[..., dict[str, bytes]]:
    """``store_snapshot(url, prefix="")``: every key of a store with its bytes."""
    return snapshot


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A temporary Prefect API for the session (PREFECT_HOME in a temp folder); its URL."""
    home = tmp_path_factory.mktemp("prefect-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PREFECT_HOME", str(home))
        mp.setenv("PREFECT_LOGGING_LEVEL", "WARNING")
        for name, value in SERVER_DEFAULTS.items():  # the server a `groves run` starts
            mp.setenv(name, value)
        mp.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
        from prefect.settings import PREFECT_API_URL
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=120):
            yield str(PREFECT_API_URL.value())


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 API (moto's server, its own process) on 127.0.0.1; yields its URL.

    A process of its own, not moto's in-process ThreadedMotoServer: in-process ``mock_aws``
    (the ``s3`` fixture) resets moto's shared backends when it exits, which would wipe the
    server's buckets in the middle of another test of the same worker process.
    """
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start: {log.read_text()}") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def local_store(tmp_path: Path, raw_dir: Path) -> str:
    """A fresh local store folder with the raw files under raw/."""
    url = str(tmp_path / "store")
    place_raw(url, raw_dir)
    return url
