"""Shared machinery of the reliability tests.

* ``prefect_api`` (from `tests/conftest.py`): only the tests that run flows ask for it.
* S3: moto's server on 127.0.0.1 behind `S3FaultProxy`, which injects S3 faults.
* Lambda: one `LocalLambdaEndpoint` for the session, its worker processes warmed up once
  (a cold start imports scikit-learn: seconds on a loaded machine, which would otherwise
  blur the receipt timeouts the fault tests rely on); each test sets its own `Faults`.
* AWS credentials in the orchestrator and the workers are recognisable fake values, so a
  test can show they never reach a receipt, a stored object or a log.
* ``reference``: one clean run of the small configuration, computed once per test run
  (shared by the xdist workers); every fault scenario must reproduce its per-stock MSEs
  and its output bytes exactly.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import pickle
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from groves.config import RunConfig
from groves.lambda_endpoint import (
    DEFAULT_HANDLERS,
    MAX_EVENT_AGE_S,
    Faults,
    LocalLambdaEndpoint,
)
from lambda_functions.events import Grid
from lambda_functions.storage import open_storage
from tests.reliability.s3proxy import S3FaultProxy

FAKE_KEY_ID = "AKIAGROVESLEAKCHECK7"
FAKE_SECRET = "groves/LeakCheck+Secret+0123456789abcdefXYZ"
BUCKET = "groves-reliability"
STORE = f"s3://{BUCKET}/data"
STOCK = "TCS"
# Invocations per stage for `small` (1 stock, 1x2 grid, 1 grove, 2 final groves).
PER_STAGE = {
    "processing": 1,
    "parampreds": 2,
    "predmses": 2,
    "minmse": 1,
    "trainfull": 2,
    "testfull": 1,
}
CONCURRENCY = 3


def small(**changes: Any) -> RunConfig:
    """The smallest useful run: one stock, a 1x2 grid, 3 trees per grove."""
    options: dict[str, Any] = {
        "store": STORE,
        "stocks": (STOCK,),
        "grid": Grid(max_features=(5,), min_samples_split=(5, 25)),
        "groves": 1,
        "trees": 3,
        "final_groves": 2,
        "final_trees": 3,
        "executor": "lambda",
        "retries": 2,
        "retry_delay_s": 0.2,
        "timeout_s": 120,
        "plots": False,  # not what these tests check (the flow tests do)
    }
    return RunConfig(**{**options, **changes})


def stock_outputs(url: str, run_id: str) -> dict[str, bytes]:
    """Every object under ``runs/{run_id}/stocks/`` (key relative to it) with its bytes."""
    store = open_storage(url)
    prefix = f"runs/{run_id}/stocks/"
    return {key[len(prefix) :]: store.get_bytes(key) for key in store.keys(prefix)}


def mses(summary: dict[str, Any]) -> dict[str, tuple[float, float, float]]:
    """Per stock: (validation MSE, test MSE, test persistence MSE)."""
    return {
        s["stock"]: (s["validation_mse"], s["test_mse"], s["test_persistence_mse"])
        for s in summary["stocks"]
    }


# --------------------------------------------------------------------------- Prefect


# --------------------------------------------------------------------------- S3 + Lambda


@pytest.fixture(scope="session")
def s3_proxy(moto_server: str) -> Iterator[S3FaultProxy]:
    proxy = S3FaultProxy(moto_server).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="session")
def bucket(moto_server: str, raw_dir: Path) -> str:
    """The session's bucket with both demo raw files under ``data/raw/``; its store URL."""
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    client.create_bucket(Bucket=BUCKET)
    for path in sorted(raw_dir.glob("*.csv")):
        client.put_object(Bucket=BUCKET, Key=f"data/raw/{path.name}", Body=path.read_bytes())
    return STORE


def worker_env(s3_url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL_S3": s3_url,
        "AWS_ACCESS_KEY_ID": FAKE_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "GROVES_N_JOBS": "1",
    }


_WARMING: list[threading.Thread] = []


@pytest.fixture(scope="session")
def endpoint(s3_proxy: S3FaultProxy) -> Iterator[LocalLambdaEndpoint]:
    """The session's Lambda endpoint (S3 through the proxy), its workers warmed up."""
    server = LocalLambdaEndpoint(
        concurrency=CONCURRENCY,
        handlers={**DEFAULT_HANDLERS, "warm": "tests.reliability.workerhooks:warm"},
        env=worker_env(s3_proxy.url),
    ).start()
    threads = [
        threading.Thread(
            target=server.invoke, args=(f"warm-{i}", "warm", None, "RequestResponse", b"{}")
        )
        for i in range(CONCURRENCY)
    ]
    for thread in threads:  # joined by `reference`, so the warm-up overlaps other setup
        thread.start()
    _WARMING.extend(threads)
    try:
        yield server
    finally:
        server.stop(timeout=30)


def env_for(mp: pytest.MonkeyPatch, proxy: S3FaultProxy, endpoint: LocalLambdaEndpoint) -> None:
    """Point this process's boto3 at the proxy and the endpoint, with the fake keys."""
    mp.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
    mp.setenv("AWS_ENDPOINT_URL_LAMBDA", endpoint.url)
    mp.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    mp.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)


LOGS: list[str] = []
"""Every log line of every flow run of these tests (INFO and up; Prefect's from DEBUG)."""


class _Capture(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines = lines
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # an unformattable record is not a leak
            self.lines.append(self.format(record))


@contextlib.contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Collect the log lines written meanwhile (also into `LOGS`)."""
    lines: list[str] = []
    capture = _Capture(lines)
    root, prefect_logger = logging.getLogger(), logging.getLogger("prefect")
    levels = (root.level, prefect_logger.level)
    root.addHandler(capture)
    root.setLevel(logging.INFO)
    prefect_logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(capture)
        root.setLevel(levels[0])
        prefect_logger.setLevel(levels[1])
        LOGS.extend(lines)


@dataclass
class Reference:
    summary: dict[str, Any]
    outputs: dict[str, bytes]  # relative to runs/clean/stocks/
    run_objects: dict[str, bytes]  # every object under runs/clean/
    raw: dict[str, bytes]
    logs: list[str] = field(default_factory=list)
    api_records: list[str] = field(default_factory=list)
    """What the Prefect API of the process that ran it recorded: flow-run parameters, logs."""


@pytest.fixture(scope="session")
def reference(
    endpoint: LocalLambdaEndpoint,
    s3_proxy: S3FaultProxy,
    bucket: str,
    prefect_api: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Reference:
    """The clean run (run id ``clean``), with the logs it produced at INFO (prefect: DEBUG).

    Under pytest-xdist the first worker to need it runs it; the others load its result
    (file-locked, in the session's shared temp folder) and put its objects into their own
    bucket, so their fault runs must reproduce another process's outputs byte for byte."""
    for thread in _WARMING:
        thread.join()
    shared = tmp_path_factory.getbasetemp().parent / "reliability-reference.pickle"
    with _file_lock(shared.with_suffix(".lock")):
        if shared.exists():
            found: Reference = pickle.loads(shared.read_bytes())
            with pytest.MonkeyPatch.context() as mp:
                env_for(mp, s3_proxy, endpoint)
                store = open_storage(bucket)
                for key, data in found.run_objects.items():
                    store.put_bytes(key, data)
            return found
        made = _clean_run(endpoint, s3_proxy, bucket)
        shared.write_bytes(pickle.dumps(made))
        return made


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _clean_run(endpoint: LocalLambdaEndpoint, s3_proxy: S3FaultProxy, bucket: str) -> Reference:
    from flows.pipeline import forecast_pipeline

    with captured_logs() as logs, pytest.MonkeyPatch.context() as mp:
        env_for(mp, s3_proxy, endpoint)
        summary = forecast_pipeline(small(run_id="clean"))
        store = open_storage(bucket)
        run_objects = {k: store.get_bytes(k) for k in store.keys("runs/clean/")}
        raw = {k: store.get_bytes(k) for k in store.keys("raw/")}
    records = prefect_api_records()
    assert summary["failed"] == {}
    assert summary["executed"] == PER_STAGE
    prefix = "runs/clean/stocks/"
    outputs = {k[len(prefix) :]: v for k, v in run_objects.items() if k.startswith(prefix)}
    return Reference(summary, outputs, run_objects, raw, logs, records)


def prefect_api_records() -> list[str]:
    """Every flow run's parameters and every log line this process's Prefect API holds
    (queued log lines sent first)."""
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        records = [repr(run.parameters) for run in client.read_flow_runs()]
        offset = 0
        while True:
            page = client.read_logs(offset=offset, limit=200)
            records += [log.message for log in page]
            if len(page) < 200:
                return records
            offset += 200


@dataclass
class Lambda:
    """What a fault test needs: the endpoint, the proxy and the clean reference."""

    endpoint: LocalLambdaEndpoint
    proxy: S3FaultProxy
    reference: Reference
    url: str = STORE

    def faults(self, faults: Faults | None) -> None:
        self.endpoint.set_faults(faults)

    def counters(self) -> dict[str, dict[str, int]]:
        return self.endpoint.stats()["functions"]


def delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict:
    """Per function, the counters that changed between two `Lambda.counters` readings."""
    out: dict[str, dict[str, int]] = {}
    for function, counts in after.items():
        changed = {k: v - before.get(function, {}).get(k, 0) for k, v in counts.items()}
        changed = {k: v for k, v in changed.items() if v}
        if changed:
            out[function] = changed
    return out


@pytest.fixture
def lam(
    reference: Reference,
    endpoint: LocalLambdaEndpoint,
    s3_proxy: S3FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Lambda]:
    """Per test: no faults, no reservations, the endpoint's default maximum event age, an
    empty proxy log, this process pointed at proxy + endpoint. Afterwards the same reset,
    and the endpoint drained (late workers finish)."""
    endpoint.set_faults(None)
    endpoint.set_limits(reserved={}, max_event_age_s=MAX_EVENT_AGE_S)
    s3_proxy.reset()
    env_for(monkeypatch, s3_proxy, endpoint)
    try:
        with captured_logs():
            yield Lambda(endpoint, s3_proxy, reference)
    finally:
        endpoint.set_faults(None)
        s3_proxy.reset()
        endpoint.wait_idle(60)
        endpoint.set_limits(reserved={}, max_event_age_s=MAX_EVENT_AGE_S)


# --------------------------------------------------------------------------- handlers


def chain_events(url: str, run_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The small run's events, stage by stage, exactly as the flow would send them."""
    from groves.inputs import input_identity
    from lambda_functions.stages import GRID
    from tasks.invocations import stage_events

    config = small(store=url, run_id=run_id, executor="local")
    input_id = input_identity(open_storage(url), STOCK)
    return [
        (stage, event)
        for stage in GRID.names
        for event in stage_events(stage, STOCK, config, input_id)
    ]


def run_chain(url: str, run_id: str) -> list[dict[str, Any]]:
    """Run every worker of the small run in this process, in order; return the receipts."""
    import importlib

    receipts = []
    for stage, event in chain_events(url, run_id):
        handler = importlib.import_module(f"lambda_functions.{stage}").lambda_handler
        receipts.append(handler(event))
    return receipts


def outputs_except_receipts(url: str, run_id: str) -> dict[str, bytes]:
    """Every object of a run but its receipts (which hold times and request ids)."""
    store = open_storage(url)
    return {
        k: store.get_bytes(k)
        for k in store.keys(f"runs/{run_id}/")
        if not k.startswith(f"runs/{run_id}/receipts/")
    }
