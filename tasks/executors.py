"""Executors: how a worker invocation is started. One interface, two kinds.

* ``local``: the `lambda_functions` handlers in a pool of local processes, one per core,
  each fit single-threaded (``GROVES_N_JOBS=1``) so cores are not oversubscribed.
* ``dask``: a task per invocation on a Dask cluster (`tasks.dask_executor`).
* ``lambda``: boto3 ``invoke`` with ``InvocationType=Event`` against AWS Lambda (or any
  endpoint speaking its API, e.g. `groves.lambda_endpoint`). Throttling (429) is retried
  under an AIMD limiter (`tasks.throttle`) that slows the Invoke calls down to what Lambda
  accepts and honours ``retryAfterSeconds``; transient errors (connection, 5xx) are
  retried with backoff a few times.

Every way the outcome is observed through the receipt the worker writes, never through
the return value, so every kind is awaited the same way.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import random
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol

from groves.worker_processes import adopt_parent, start_server, worker_context
from lambda_functions.errors import GrovesError
from lambda_functions.stages import FUNCTIONS
from tasks.throttle import AimdLimiter

logger = logging.getLogger(__name__)
THROTTLE_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
CONCURRENT_INVOKES = 64  # the Invoke calls open at once at most (the client's connection pool)


class Executor(Protocol):
    """Starts worker invocations; results arrive as receipts in the store."""

    kind: str

    def submit(self, function: str, event: dict[str, Any]) -> Future[Any] | None:
        """Start one invocation; a local future lets the awaiter fail fast on a crash."""

    def close(self) -> None:
        """Release the executor's resources."""


_PRELOAD = ("tasks.executors", *(f"lambda_functions.{name}" for name in FUNCTIONS))


def start_local_workers() -> None:
    """Have the local executor's worker processes' imports start now, beside what a run
    does before its first invocation (`groves.worker_processes.start_server`)."""
    start_server(_PRELOAD)


def _run_handler(function: str, event: dict[str, Any]) -> dict[str, Any]:
    module = importlib.import_module(f"lambda_functions.{function}")
    return module.lambda_handler(event, None)


class LocalExecutor:
    """Runs the handlers in a pool of local processes."""

    kind = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=worker_context(_PRELOAD),
            initializer=adopt_parent,
            initargs=({"GROVES_N_JOBS": "1", **os.environ}, list(sys.path)),
        )
        self._queue_order = threading.Lock()

    def submit(self, function: str, event: dict[str, Any]) -> Future[Any]:
        if function not in FUNCTIONS:
            raise GrovesError(f"unknown worker function {function!r}; expected one of {FUNCTIONS}")
        # Stage tasks submit from many threads and the pool runs invocations in the order
        # it got them, so ``invoked_at`` is stamped here, in that order: the timing report
        # and the planner (which replays the run first come, first served) read it so.
        with self._queue_order:
            if "invoked_at" in event:
                event = {**event, "invoked_at": time.time()}
            return self._pool.submit(_run_handler, function, event)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class LambdaExecutor:
    """Invokes AWS Lambda functions asynchronously (``InvocationType=Event``)."""

    kind = "lambda"

    def __init__(
        self,
        function_prefix: str = "groves-",
        client: Any = None,
        credentials_block: str | None = None,
        limiter: AimdLimiter | None = None,
        throttled_for_s: float = 900.0,
        transient_attempts: int = 5,
    ) -> None:
        """``throttled_for_s``: how long one invocation keeps being retried while throttled;
        ``transient_attempts``: tries of one call under connection errors and 5xx."""
        self.function_prefix = function_prefix
        self._client = client
        self._credentials_block = credentials_block
        self.limiter = limiter or AimdLimiter(CONCURRENT_INVOKES)
        self.throttled_for_s = throttled_for_s
        self.transient_attempts = transient_attempts

    @property
    def client(self) -> Any:
        if self._client is None:
            # Retries are ours (`submit`): botocore's would hide the 429s from the limiter.
            self._client = lambda_client(self._credentials_block, retries=NO_RETRIES)
        return self._client

    def submit(self, function: str, event: dict[str, Any]) -> None:
        if function not in FUNCTIONS:
            raise GrovesError(f"unknown worker function {function!r}; expected one of {FUNCTIONS}")
        payload = json.dumps(event).encode()
        give_up = time.monotonic() + self.throttled_for_s
        failures = 0
        while True:
            with self.limiter.slot() as window:
                try:
                    response = self.client.invoke(
                        FunctionName=self.function_prefix + function,
                        InvocationType="Event",
                        Payload=payload,
                    )
                except Exception as exc:
                    if _is_throttle(exc) and time.monotonic() < give_up:
                        self.limiter.throttled(window, _retry_after(exc))
                        continue
                    failures += 1
                    if not _is_transient(exc) or failures >= self.transient_attempts:
                        raise
                    time.sleep(min(0.1 * 2**failures, 5.0) * random.uniform(0.5, 1.0))
                    continue
            self.limiter.succeeded()
            break
        response["Payload"].read()  # drained, so the connection returns to the pool for reuse
        status = response.get("StatusCode")
        if status != 202:
            raise GrovesError(f"Lambda did not accept {function} (HTTP {status}): {response}")
        return None

    def close(self) -> None:
        pass


NO_RETRIES = {"total_max_attempts": 1, "mode": "standard"}


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _is_throttle(exc: Exception) -> bool:
    return _error_code(exc) in THROTTLE_CODES


def _retry_after(exc: Exception) -> float | None:
    """The seconds a 429 asks to wait (``retryAfterSeconds`` / ``Retry-After``), if any."""
    response = getattr(exc, "response", None) or {}
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    raw = response.get("retryAfterSeconds") or headers.get("retry-after")
    try:
        return float(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _is_transient(exc: Exception) -> bool:
    """Connection trouble or a server-side (5xx) error: worth a few more tries."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return True
    response = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) >= 500


def lambda_client(credentials_block: str | None = None, retries: dict | None = None) -> Any:
    """A Lambda client: from a prefect-aws ``AwsCredentials`` block if named, else boto3's env.

    ``AWS_ENDPOINT_URL_LAMBDA`` is honoured by boto3 itself. By default errors (throttling
    included) are retried with backoff by botocore's standard retry mode (up to 10
    attempts); ``retries`` replaces that setting.
    """
    from botocore.config import Config

    config = Config(
        retries=retries or {"max_attempts": 10, "mode": "standard"},
        max_pool_connections=64,
        read_timeout=30,
        connect_timeout=5,
    )
    if credentials_block:
        from prefect_aws import AwsCredentials

        session = AwsCredentials.load(credentials_block).get_boto3_session()
        return session.client("lambda", config=config)
    import boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("lambda", region_name=region, config=config)


def make_executor(kind: str, **options: Any) -> Executor:
    """Select an executor by name: ``local``, ``lambda`` or ``dask``."""
    if kind == "local":
        return LocalExecutor(workers=options.get("workers"))
    if kind == "lambda":
        return LambdaExecutor(
            function_prefix=options.get("function_prefix", "groves-"),
            credentials_block=options.get("credentials_block"),
        )
    if kind == "dask":  # Dask is an optional extra: imported only when chosen
        from tasks.dask_executor import DaskExecutor

        return DaskExecutor(options.get("dask_address"), options["store_url"])
    raise GrovesError(f"unknown executor {kind!r}: use 'local', 'lambda' or 'dask'")
