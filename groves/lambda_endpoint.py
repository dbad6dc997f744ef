"""A local server speaking the AWS Lambda Invoke HTTP API, for development and tests.

The real boto3 Lambda client, created with ``endpoint_url=endpoint.url``, invokes our handlers
here with no Docker and no AWS: ``POST /2015-03-31/functions/{FunctionName}/invocations``.
Handlers run in a pool of worker processes, one invocation per process at a time.

Deliberate differences from AWS Lambda:

* Every qualifier (version or alias) runs the same code and reports ``$LATEST``.
* The concurrency cap (the "account" limit) counts ``RequestResponse`` and ``Event``
  invocations in flight; ``reserved`` gives functions reserved concurrency of their own (the
  rest share what is left, as on AWS). A ``RequestResponse`` call over the cap is answered
  with 429 (as Lambda does). An ``Event`` invocation over the cap is accepted (202) and
  queued, first in first out, as Lambda queues it; it runs when a slot frees, or expires
  unrun once it has waited ``max_event_age_s`` (counters ``queued`` and ``expired``). AWS
  retries a throttled event with backoff (1 s to 5 min) rather than at once; here it starts
  the moment a slot is free. ``Faults(reject_events_over_cap=True)`` answers 429 instead.
* ``GET /2016-08-19/account-settings/`` (GetAccountSettings) reports the cap as
  ``ConcurrentExecutions`` and what no function reserved as ``UnreservedConcurrentExecutions``;
  ``GET /2019-09-30/functions/{name}/concurrency`` (GetFunctionConcurrency) a reservation.
* There is no dead-letter queue and no retry of failed ``Event`` invocations: failures are
  logged and recorded in :meth:`LocalLambdaEndpoint.stats`.
* A timed-out ``RequestResponse`` call is answered as Lambda would, but its worker is not
  killed: it keeps its slot until the handler returns.
* Workers fork from a server process that imported the handlers and the main module once
  (`groves.worker_processes`; ``spawn`` where there is no forkserver): a script that starts
  an endpoint needs ``if __name__ == "__main__":``.

``Faults`` injects failures, throttling (the first k calls, or every n-th call with an
optional ``Retry-After``), lost and duplicated events and delays for reliability tests.
``GET /groves/stats`` returns the per-function counters as JSON. SIGTERM (see
`run_endpoint`) stops the server and its worker processes.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib
import json
import logging
import os
import random
import re
import signal
import sys
import threading
import time
import traceback
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from groves.worker_processes import adopt_parent, worker_context
from lambda_functions.stages import STAGES

logger = logging.getLogger(__name__)

DEFAULT_HANDLERS = {name: stage.handler for name, stage in STAGES.items()}
COUNTERS = (
    "received", "throttled", "failed", "dropped", "executed", "succeeded", "queued", "expired",
)  # fmt: skip
MAX_EVENT_AGE_S = 21600.0  # AWS Lambda's default (and largest) maximum event age: 6 hours
_REGION, _ACCOUNT = "us-east-1", "000000000000"
_INVOKE_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations/?")
_CONCURRENCY_PATH = re.compile(r"/2019-09-30/functions/([^/]+)/concurrency/?")
_ACCOUNT_PATH = re.compile(r"/2016-08-19/account-settings/?")

Response = tuple[int, dict[str, str], bytes]


@dataclass
class Faults:
    """Failures to inject, keyed by function name (with or without the name prefix).

    Attributes:
        fail_first: The first k invocations of a function raise ``InjectedFault`` unrun.
        throttle_first: The first k invocations of a function are answered with 429.
        drop_event_fraction: This fraction of ``Event`` invocations is answered 202, never run.
        drop_seed: Seed of the RNG choosing which events are dropped.
        delay_seconds: Sleep this long in the worker before running the handler.
        duplicate_events: Run every ``Event`` invocation twice, concurrently.
        throttle_every: Answer every n-th Invoke call (all functions counted together) with
            429, for as long as the faults are set: sustained throttling.
        retry_after_s: The ``Retry-After`` (``retryAfterSeconds``) an injected 429 carries;
            None sends none.
        reject_events_over_cap: Answer an ``Event`` over the cap with 429 instead of queueing.
        drop_first: The first k ``Event`` invocations of a function are answered 202, never run.
    """

    fail_first: dict[str, int] = field(default_factory=dict)
    throttle_first: dict[str, int] = field(default_factory=dict)
    drop_event_fraction: float = 0.0
    drop_seed: int = 0
    delay_seconds: dict[str, float] = field(default_factory=dict)
    duplicate_events: bool = False
    throttle_every: int = 0
    retry_after_s: int | None = None
    reject_events_over_cap: bool = False
    drop_first: dict[str, int] = field(default_factory=dict)


class InjectedFault(RuntimeError):
    """The error raised instead of running a handler when ``Faults.fail_first`` says so."""


@dataclass
class LambdaContext:
    """A picklable stand-in for the Lambda runtime's context object."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    timeout_s: float = 900.0
    memory_limit_in_mb: int = 3008
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    deadline: float = 0.0  # epoch seconds, set when the handler starts

    def get_remaining_time_in_millis(self) -> int:
        """Returns the milliseconds left before the function's timeout."""
        deadline = self.deadline or time.time() + self.timeout_s
        return max(0, int((deadline - time.time()) * 1000))


def _failure(message: str, error_type: str, **extra: Any) -> str:
    """Lambda's error object for a failed invocation, as JSON."""
    return json.dumps({"errorMessage": message, "errorType": error_type, **extra})


def _handler_modules(handlers: dict[str, str]) -> list[str]:
    """The modules of ``module:function`` handler targets (what workers preload)."""
    return sorted({target.partition(":")[0] for target in handlers.values()})


def _init_worker(environ: dict[str, str], sys_path: list[str]) -> None:
    """Gives a fresh worker process the parent's environment and import path."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    adopt_parent(environ, sys_path)


def _execute(
    target: str, event: Any, context: LambdaContext, delay_s: float, inject: bool
) -> tuple[bool, str]:
    """Runs one invocation in a worker process.

    Returns:
        ``(True, result JSON)`` or ``(False, Lambda's error object as JSON)``.
    """
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = context.function_name
    os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(context.memory_limit_in_mb)
    context.deadline = time.time() + context.timeout_s
    try:
        time.sleep(delay_s)
        if inject:
            raise InjectedFault(f"injected failure of {context.function_name}")
        module, _, attr = target.partition(":")
        result = getattr(importlib.import_module(module), attr)(event, context)
    except Exception as exc:
        stack = traceback.format_tb(exc.__traceback__.tb_next)  # the handler's frames only
        return False, _failure(str(exc), type(exc).__name__, stackTrace=stack)
    try:
        return True, json.dumps(result)
    except (TypeError, ValueError) as exc:
        return False, _failure(f"Unable to marshal response: {exc}", "Runtime.MarshalError")


def _error(status: int, code: str, message: str, **extra: str) -> Response:
    """An API error; botocore takes the error code from the x-amzn-ErrorType header."""
    body = {"Type": "User", "message": message, **extra}
    return status, {"x-amzn-ErrorType": code}, json.dumps(body).encode()


_THROTTLED = _error(429, "TooManyRequestsException", "Rate Exceeded.",
                    Reason="ReservedFunctionConcurrentInvocationLimitExceeded")  # fmt: skip


def _throttled(retry_after_s: int | None) -> Response:
    """An injected 429; with ``Retry-After`` (botocore: ``retryAfterSeconds``) if given."""
    if retry_after_s is None:
        return _THROTTLED
    status, headers, _ = _THROTTLED
    body = {"Type": "User", "message": "Rate Exceeded.", "Reason": "CallerRateLimitExceeded",
            "retryAfterSeconds": str(retry_after_s)}  # fmt: skip
    return status, {**headers, "Retry-After": str(retry_after_s)}, json.dumps(body).encode()


@dataclass
class _Queued:
    """An accepted ``Event`` invocation waiting for a free slot."""

    function: str
    request_id: str
    args: tuple
    copies: int
    since: float  # time.monotonic() when accepted


def _split_name(raw: str) -> tuple[str, str | None]:
    """Splits a name, partial ARN or ARN (each optionally ``:qualifier``) into name, qualifier."""
    parts = raw.split(":")
    if parts[0] == "arn" and len(parts) >= 7:
        parts = parts[6:]
    elif len(parts) >= 3 and parts[1] == "function":
        parts = parts[2:]
    return parts[0], (parts[1] if len(parts) > 1 else None)


class LocalLambdaEndpoint:
    """Serves the Lambda Invoke API on ``host:port`` and runs handlers in worker processes.

    Args:
        host: Interface to bind.
        port: TCP port; 0 picks a free one (see ``url``).
        concurrency: Worker processes and the cap on invocations in flight (default: CPUs).
        handlers: Function name -> ``"module:attr"`` (default: the eight groves functions).
        name_prefix: Deployed-name prefix that is stripped, e.g. ``groves-parampreds``.
        faults: Failures to inject (default: none).
        timeout_s: The function timeout seen through ``get_remaining_time_in_millis``.
        env: Variables set in the workers (on top of this process's environment).
        memory_mb: Reported as ``memory_limit_in_mb``.
        reserved: Function name -> reserved concurrency (its own slots, out of ``concurrency``;
            at least one slot must stay unreserved).
        max_event_age_s: How long a queued ``Event`` may wait before it expires unrun
            (AWS's default: 6 hours).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        concurrency: int | None = None,
        handlers: dict[str, str] | None = None,
        name_prefix: str = "groves-",
        faults: Faults | None = None,
        timeout_s: float = 900,
        env: dict[str, str] | None = None,
        memory_mb: int = 3008,
        reserved: dict[str, int] | None = None,
        max_event_age_s: float = MAX_EVENT_AGE_S,
    ) -> None:
        self.host, self.port = host, port
        self.concurrency = concurrency or os.cpu_count() or 1
        self.handlers = dict(DEFAULT_HANDLERS if handlers is None else handlers)
        self.name_prefix, self.timeout_s, self.memory_mb = name_prefix, timeout_s, memory_mb
        self.env = dict(env or {})
        self._lock = threading.Lock()
        self.set_faults(faults)
        self._counters = {name: Counter(dict.fromkeys(COUNTERS, 0)) for name in self.handlers}
        self._errors: list[dict[str, str]] = []
        self._in_flight = 0
        self._running: Counter[str] = Counter()  # function -> invocations in flight
        self._queue: deque[_Queued] = deque()
        self._calls = 0  # Invoke calls since the faults were set (for throttle_every)
        self.reserved: dict[str, int] = {}
        self.max_event_age_s = max_event_age_s
        self.set_limits(reserved=reserved or {}, max_event_age_s=max_event_age_s)
        self._idle = threading.Condition(self._lock)
        self._pool_lock = threading.Lock()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def resolve(self, name: str) -> str | None:
        """Returns the registered function a name refers to, or None."""
        if name in self.handlers:
            return name
        if self.name_prefix and name.startswith(self.name_prefix):
            stripped = name[len(self.name_prefix) :]
            return stripped if stripped in self.handlers else None
        return None

    def set_faults(self, faults: Faults | None) -> None:
        """Replaces the faults to inject from now on (their counts and RNG start afresh).

        Lets one running endpoint, with warm workers, serve several fault scenarios.
        """
        with self._lock:
            self.faults = faults or Faults()
            self._throttle_left = self._by_function(self.faults.throttle_first)
            self._fail_left = self._by_function(self.faults.fail_first)
            self._drop_left = self._by_function(self.faults.drop_first)
            self._delay = self._by_function(self.faults.delay_seconds)
            self._rng = random.Random(self.faults.drop_seed)
            self._calls = 0

    def set_limits(
        self, reserved: dict[str, int] | None = None, max_event_age_s: float | None = None
    ) -> None:
        """Replaces reserved concurrency and/or the maximum event age (None keeps it).

        Raises:
            ValueError: an unknown function, a reservation below 0, or no slot left unreserved.
        """
        with self._lock:
            if reserved is not None:
                resolved: dict[str, int] = {}
                for name, count in reserved.items():
                    function = self.resolve(name)
                    if function is None or count < 0:
                        raise ValueError(f"bad reserved concurrency {name}={count}")
                    resolved[function] = int(count)
                if sum(resolved.values()) >= self.concurrency and set(resolved) != set(
                    self.handlers
                ):
                    raise ValueError(
                        f"reserved concurrency {sum(resolved.values())} leaves none of "
                        f"{self.concurrency} for the other functions"
                    )
                self.reserved = resolved
            if max_event_age_s is not None:
                if max_event_age_s <= 0:
                    raise ValueError("max_event_age_s must be positive")
                self.max_event_age_s = float(max_event_age_s)

    @property
    def unreserved(self) -> int:
        """Slots no function reserved (GetAccountSettings' UnreservedConcurrentExecutions)."""
        return self.concurrency - sum(self.reserved.values())

    def _has_slot(self, function: str, copies: int = 1) -> bool:
        """Whether ``function`` may start ``copies`` more invocations now (lock held)."""
        if self._in_flight + copies > self.concurrency:
            return False
        if function in self.reserved:
            return self._running[function] + copies <= self.reserved[function]
        shared = sum(n for name, n in self._running.items() if name not in self.reserved)
        return shared + copies <= self.unreserved

    def _by_function(self, values: dict[str, Any]) -> dict[str, Any]:
        return {self.resolve(key) or key: value for key, value in values.items()}

    @property
    def url(self) -> str:
        """The endpoint URL to give boto3 as ``endpoint_url``."""
        if self._server is None:
            raise RuntimeError("endpoint not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> LocalLambdaEndpoint:
        """Starts the worker pool and serves HTTP in a background thread."""
        self._pool = self._new_pool()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.endpoint = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True, name="lambda-endpoint"
        )
        self._thread.start()
        logger.info("local Lambda endpoint at %s (concurrency %d)", self.url, self.concurrency)
        return self

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        environ = {"GROVES_N_JOBS": "1", **os.environ, **self.env}
        return cf.ProcessPoolExecutor(
            self.concurrency,
            worker_context(_handler_modules(self.handlers)),
            initializer=_init_worker,
            initargs=(environ, sys.path),
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stops serving, waits up to ``timeout`` s for running invocations, ends the workers.

        Queued events that have not started are dropped (counted as ``expired``)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            for item in self._queue:
                self._counters[item.function]["expired"] += 1
            self._queue.clear()
        if self._pool is not None:
            if not self.wait_idle(timeout):
                logger.warning("stopping with %d invocations in flight", self._in_flight)
                # ProcessPoolExecutor has no public way to kill busy workers.
                for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                    process.terminate()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalLambdaEndpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Blocks until no invocation is in flight or queued; returns False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._in_flight or self._queue:
                self._expire_queued()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(0.2 if left is None else min(left, 0.2))
            return True

    def stats(self) -> dict[str, Any]:
        """Returns counters per function, invocations in flight and queued, the last failures."""
        with self._lock:
            self._expire_queued()
            functions = {name: dict(counts) for name, counts in self._counters.items()}
            errors = list(self._errors)
            return {
                "in_flight": self._in_flight,
                "queued": len(self._queue),
                "functions": functions,
                "errors": errors,
            }

    def account_settings(self) -> dict[str, Any]:
        """The GetAccountSettings answer: the cap and what no function reserved."""
        limit = {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": self.concurrency,
            "UnreservedConcurrentExecutions": self.unreserved,
        }
        usage = {"TotalCodeSize": 0, "FunctionCount": len(self.handlers)}
        return {"AccountLimit": limit, "AccountUsage": usage}

    def function_concurrency(self, raw_name: str) -> Response:
        """The GetFunctionConcurrency answer (``{}`` when nothing is reserved)."""
        function = self.resolve(_split_name(raw_name)[0])
        if function is None:
            message = f"Function not found: {raw_name}"
            return _error(404, "ResourceNotFoundException", message, Message=message)
        body = {}
        if function in self.reserved:
            body["ReservedConcurrentExecutions"] = self.reserved[function]
        return 200, {}, json.dumps(body).encode()

    def _expire_queued(self) -> None:
        """Drops queued events older than the maximum event age (lock held)."""
        now = time.monotonic()
        while self._queue and now - self._queue[0].since > self.max_event_age_s:
            item = self._queue.popleft()
            self._counters[item.function]["expired"] += 1
            logger.warning("event %s of %s expired in the queue", item.request_id, item.function)

    def invoke(
        self, request_id: str, raw_name: str, qualifier: str | None, kind: str | None, body: bytes
    ) -> Response:
        """Answers one Invoke request (``kind`` is X-Amz-Invocation-Type): status, headers, body."""
        name, qualifier_in_name = _split_name(raw_name)
        qualifier = qualifier or qualifier_in_name
        function = self.resolve(name)
        if function is None:
            message = f"Function not found: {raw_name}"
            return _error(404, "ResourceNotFoundException", message, Message=message)
        kind = kind or "RequestResponse"
        if kind not in ("RequestResponse", "Event", "DryRun"):
            return _error(400, "InvalidParameterValueException", f"bad InvocationType {kind}")
        try:
            event = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            message = f"Could not parse request body into json: {exc}"
            return _error(400, "InvalidRequestContentException", message)
        with self._lock:
            counts = self._counters[function]
            counts["received"] += 1
            if kind == "DryRun":
                return 204, {}, b""
            self._calls += 1
            every = self.faults.throttle_every
            if every and self._calls % every == 0:
                counts["throttled"] += 1
                return _throttled(self.faults.retry_after_s)
            copies = 2 if kind == "Event" and self.faults.duplicate_events else 1
            self._expire_queued()
            queue_it = False
            if self._throttle_left.get(function, 0) > 0:
                self._throttle_left[function] -= 1
                counts["throttled"] += 1
                return _THROTTLED
            waiting = any(item.function == function for item in self._queue)
            if (waiting and kind == "Event") or not self._has_slot(function, copies):
                if kind != "Event" or self.faults.reject_events_over_cap:
                    counts["throttled"] += 1
                    return _THROTTLED
                queue_it = True
            if kind == "Event" and self._drop_left.get(function, 0) > 0:
                self._drop_left[function] -= 1
                counts["dropped"] += 1
                return 202, {}, b""
            if kind == "Event" and self._rng.random() < self.faults.drop_event_fraction:
                counts["dropped"] += 1
                return 202, {}, b""
            if not queue_it:
                self._in_flight += copies
                self._running[function] += copies
            inject = self._fail_left.get(function, 0) > 0
            self._fail_left[function] = max(0, self._fail_left.get(function, 0) - 1)
        arn = f"arn:aws:lambda:{_REGION}:{_ACCOUNT}:function:{name}"
        context = LambdaContext(
            function_name=name,
            invoked_function_arn=f"{arn}:{qualifier}" if qualifier else arn,
            aws_request_id=request_id,
            timeout_s=self.timeout_s,
            memory_limit_in_mb=self.memory_mb,
            log_group_name=f"/aws/lambda/{name}",
            log_stream_name=f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
        )
        args = (self.handlers[function], event, context, self._delay.get(function, 0.0), inject)
        if queue_it:
            with self._lock:
                counts["queued"] += 1
                self._queue.append(_Queued(function, request_id, args, copies, time.monotonic()))
            self._start_queued()  # a slot may have freed meanwhile
            return 202, {}, b""
        outcomes = [self._submit(function, kind, request_id, args) for _ in range(copies)]
        if kind == "Event":
            return 202, {}, b""
        try:
            ok, payload = outcomes[0].result(timeout=self.timeout_s)
        except cf.TimeoutError:
            message = f"{request_id} Task timed out after {self.timeout_s:.2f} seconds"
            ok, payload = False, _failure(message, "Sandbox.Timedout")
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if not ok:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return 200, headers, payload.encode()

    def _submit(self, function: str, kind: str, request_id: str, args: tuple) -> cf.Future:
        """Runs ``_execute(*args)`` in the pool; the returned future resolves after accounting."""
        outcome: cf.Future = cf.Future()

        def finished(future: cf.Future) -> None:
            try:
                ok, payload = future.result()
            except BaseException as exc:  # the worker died or the pool was shut down
                ok, payload = False, _failure(f"{request_id} Error: {exc!r}", "Runtime.ExitError")
            with self._idle:
                counts = self._counters[function]
                counts["executed"] += 1
                counts["succeeded" if ok else "failed"] += 1
                if not ok and kind == "Event":
                    error = {"function": function, "request_id": request_id, **json.loads(payload)}
                    logger.warning("Event invocation failed: %s", error)
                    self._errors = [*self._errors[-99:], error]
                self._in_flight -= 1
                self._running[function] -= 1
                self._idle.notify_all()
            outcome.set_result((ok, payload))
            self._start_queued()

        pool = self._pool
        assert pool is not None, "endpoint not started"
        try:
            future = pool.submit(_execute, *args)
        except cf.BrokenExecutor:
            with self._pool_lock:
                if self._pool is pool:
                    logger.warning("worker pool broken (a worker died); starting a new one")
                    pool.shutdown(wait=False)
                    self._pool = self._new_pool()
            future = self._pool.submit(_execute, *args)
        future.add_done_callback(finished)
        return outcome

    def _start_queued(self) -> None:
        """Starts queued events, oldest first, while they have slots (FIFO per function)."""
        while True:
            with self._lock:
                self._expire_queued()
                if self._pool is None:
                    return
                blocked: set[str] = set()
                item = None
                for candidate in self._queue:
                    if candidate.function in blocked:
                        continue  # keep each function's events in order
                    if self._has_slot(candidate.function, candidate.copies):
                        item = candidate
                        break
                    blocked.add(candidate.function)
                if item is None:
                    return
                self._queue.remove(item)
                self._in_flight += item.copies
                self._running[item.function] += item.copies
            for _ in range(item.copies):
                self._submit(item.function, "Event", item.request_id, item.args)


class _Server(ThreadingHTTPServer):
    endpoint: LocalLambdaEndpoint


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = _INVOKE_PATH.fullmatch(url.path)
        if match is None:
            self._reply(*_error(404, "UnknownOperationException", f"no route {url.path}"))
            return
        qualifier = parse_qs(url.query).get("Qualifier", [None])[0]
        kind, request_id = self.headers.get("X-Amz-Invocation-Type"), str(uuid.uuid4())
        response = self.server.endpoint.invoke(request_id, unquote(match[1]), qualifier, kind, body)
        self._reply(*response, request_id=request_id)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        endpoint = self.server.endpoint
        if path.rstrip("/") == "/groves/stats":
            self._reply(200, {}, json.dumps(endpoint.stats()).encode())
        elif _ACCOUNT_PATH.fullmatch(path):
            self._reply(200, {}, json.dumps(endpoint.account_settings()).encode())
        elif match := _CONCURRENCY_PATH.fullmatch(path):
            self._reply(*endpoint.function_concurrency(unquote(match[1])))
        else:
            self._reply(*_error(404, "UnknownOperationException", f"no route {self.path}"))

    def _reply(
        self, status: int, headers: dict[str, str], body: bytes, request_id: str = ""
    ) -> None:
        self.send_response(status)
        headers = {**headers, "x-amzn-RequestId": request_id or str(uuid.uuid4())}
        for key, value in {**headers, "Content-Type": "application/json"}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


def run_endpoint(
    host: str = "127.0.0.1",
    port: int = 9001,
    concurrency: int | None = None,
    faults: Faults | None = None,
    **options: Any,
) -> None:
    """Serves until Ctrl-C or SIGTERM (the ``groves lambda-endpoint`` command); either stops
    the worker processes too.

    Args:
        host: Interface to bind.
        port: TCP port.
        concurrency: Worker processes and in-flight cap (default: CPUs).
        faults: Failures to inject.
        **options: Further ``LocalLambdaEndpoint`` arguments (handlers, env, timeout_s, ...).
    """
    endpoint = LocalLambdaEndpoint(host, port, concurrency, faults=faults, **options).start()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())  # main thread only
    print(f"Lambda Invoke API at {endpoint.url} (Ctrl-C stops)", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        endpoint.stop(timeout=5)
