"""Invoke workers and await their receipts in the store.

A receipt is the worker's last write, so its presence means the outputs are complete.
Awaiting polls one LIST per receipt folder per round (with backoff) instead of one HEAD
per invocation, and reads only receipts that are new or changed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

from lambda_functions.errors import ObjectNotFoundError, WorkerFailedError
from lambda_functions.events import (
    ClearbucketsEvent,
    MinmseEvent,
    ParampredsEvent,
    PredmsesEvent,
    ProcessingEvent,
    TestfullEvent,
    TimingmetricsEvent,
    TrainfullEvent,
    parse_event,
)
from lambda_functions.layout import RunLayout, invocation_unit
from lambda_functions.storage import Storage
from lambda_functions.worker import CODE_VERSION, RUN_LEVEL_FUNCTIONS
from tasks.executors import Executor

# Error types that an invocation raises again on every retry: bad input, not bad luck.
PERMANENT_ERRORS = frozenset({"InputDataError", "InvalidEventError", "UnsafeNameError"})

EVENT_MODELS = {
    "processing": ProcessingEvent,
    "parampreds": ParampredsEvent,
    "predmses": PredmsesEvent,
    "minmse": MinmseEvent,
    "trainfull": TrainfullEvent,
    "testfull": TestfullEvent,
    "timingmetrics": TimingmetricsEvent,
    "clearbuckets": ClearbucketsEvent,
}


@dataclass(frozen=True)
class Invocation:
    """One planned worker invocation and where its receipt will appear."""

    function: str
    stock: str | None
    unit: str
    event: dict[str, Any]
    receipt_key: str
    fingerprint: str

    @property
    def name(self) -> str:
        return f"{self.function}/{self.stock or '_run'}/{self.unit}"


def plan(function: str, event: dict[str, Any]) -> Invocation:
    """Validate an event (so a bad one is never sent) and locate its receipt."""
    parsed = parse_event(EVENT_MODELS[function], event)
    stock = getattr(parsed, "stock", None) or getattr(parsed, "stock_name", None)
    layout = RunLayout(seed_mode=False, run_id=parsed.run_id)
    if function in RUN_LEVEL_FUNCTIONS:
        key, unit = layout.receipt_key(function, None, function), function
    else:
        unit = invocation_unit(
            function,
            getattr(parsed, "feat", None),
            getattr(parsed, "samp", None),
            getattr(parsed, "pred_num", None),
        )
        key = layout.receipt_key(function, stock, unit)
    return Invocation(function, stock, unit, event, key, parsed.fingerprint())


class ProgressBoard:
    """Thread-safe counters of invocations done / total per stage, for progress displays."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.executed: dict[str, int] = {}
        self.listeners: list[Callable[[str, int, int], None]] = []

    def add_total(self, stage: str, count: int) -> None:
        with self._lock:
            self.total[stage] = self.total.get(stage, 0) + count
            self.done.setdefault(stage, 0)
        self._notify(stage)

    def advance(self, stage: str, count: int = 1, executed: bool = True) -> None:
        with self._lock:
            self.done[stage] = self.done.get(stage, 0) + count
            if executed:
                self.executed[stage] = self.executed.get(stage, 0) + count
        self._notify(stage)

    def _notify(self, stage: str) -> None:
        for listener in self.listeners:
            listener(stage, self.done.get(stage, 0), self.total.get(stage, 0))


@dataclass
class AwaitOptions:
    """How long and how often to wait for receipts."""

    timeout_s: float = 960.0  # Lambda's 900 s limit plus a margin
    first_poll_s: float = 0.05
    max_poll_s: float = 2.0
    crash_grace_s: float = 2.0  # a local worker that died: wait this long for a receipt


@dataclass
class Outcome:
    """Every invocation's receipt (in order), and how many ran now vs were reused."""

    receipts: list[dict[str, Any]]
    executed: int
    reused: int


def run_invocations(
    executor: Executor,
    store: Storage,
    invocations: Sequence[Invocation],
    *,
    attempt: int = 1,
    reuse: bool = True,
    options: AwaitOptions | None = None,
    progress: ProgressBoard | None = None,
) -> Outcome:
    """Run the invocations that have no valid receipt yet; return every receipt, in order.

    Raises:
        WorkerFailedError: some invocation wrote an error receipt or none within the
            timeout; the message names each one. Successful ones are kept, so a retry
            re-invokes only the rest.
    """
    options = options or AwaitOptions()
    receipts: dict[str, dict[str, Any]] = {}
    existing = _read_receipts(store, {_folder(i.receipt_key) for i in invocations}, {})
    pending: list[Invocation] = []
    for inv in invocations:
        found = existing.get(inv.receipt_key)
        if reuse and found and _reusable(found, inv, executor.kind):
            receipts[inv.receipt_key] = found
            if progress and attempt == 1:  # a retry's reused ones were counted already
                progress.advance(inv.function, executed=False)
        else:
            pending.append(inv)
            if found:  # a stale or failed receipt: remove it so it cannot be mistaken
                store.delete_prefix(inv.receipt_key)

    sent: dict[str, float] = {}
    futures: dict[str, Future[Any] | None] = {}
    failures: list[str] = []
    permanent = True  # until a failure that a retry might cure
    for inv in pending:
        now = time.time()
        event = {**inv.event, "attempt": attempt, "invoked_at": now}
        try:
            futures[inv.receipt_key] = executor.submit(inv.function, event)
        except Exception as exc:  # e.g. still throttled after botocore's retries
            failures.append(f"{inv.name}: could not invoke: {type(exc).__name__}: {exc}")
            permanent = False
            continue
        sent[inv.receipt_key] = now

    waiting = {inv.receipt_key: inv for inv in pending if inv.receipt_key in sent}
    seen: dict[str, str] = {}
    delay = options.first_poll_s
    crashed_at: dict[str, float] = {}
    while waiting:
        # A finished local worker has written its receipt: read just that one. Otherwise
        # (Lambda) one LIST per folder finds the receipts that are new or changed.
        finished = {k for k in waiting if (f := futures.get(k)) is not None and f.done()}
        listed = {_folder(k) for k in waiting if futures.get(k) is None}
        found: dict[str, dict[str, Any] | None] = {
            **_read_receipts(store, listed, seen),
            **dict(_read_receipt(store, key) for key in finished),
        }
        now = time.time()
        for key, inv in list(waiting.items()):
            receipt = found.get(key)
            if receipt is not None and receipt.get("fingerprint") == inv.fingerprint:
                if receipt.get("status") == "ok":
                    receipts[key] = receipt
                    del waiting[key]
                    if progress:
                        progress.advance(inv.function)
                    continue
                if receipt.get("attempt") == attempt:
                    failures.append(
                        f"{inv.name}: {receipt.get('error_type')}: {receipt.get('error')}"
                    )
                    permanent = permanent and receipt.get("error_type") in PERMANENT_ERRORS
                    del waiting[key]
                    continue
            future = futures.get(key)
            if future is not None and future.done() and future.exception() is not None:
                crashed_at.setdefault(key, now)
                if now - crashed_at[key] > options.crash_grace_s:
                    exc = future.exception()
                    failures.append(f"{inv.name}: worker crashed: {type(exc).__name__}: {exc}")
                    permanent = False
                    del waiting[key]
                    continue
            if now - sent[key] > options.timeout_s:
                failures.append(
                    f"{inv.name}: no receipt {options.timeout_s:.0f} s after invoking "
                    f"(lost event, or the worker timed out or was killed)"
                )
                permanent = False
                del waiting[key]
        if waiting:
            delay = _pause(delay, [futures.get(k) for k in waiting], options)
    if failures:
        shown = "; ".join(failures[:5]) + (
            f"; and {len(failures) - 5} more" if len(failures) > 5 else ""
        )
        raise WorkerFailedError(
            f"{len(failures)} of {len(invocations)} invocation(s) failed: {shown}",
            permanent=permanent,
        )
    ordered = [receipts[inv.receipt_key] for inv in invocations]
    return Outcome(ordered, executed=len(pending), reused=len(invocations) - len(pending))


def _pause(delay: float, futures: Sequence[Future[Any] | None], options: AwaitOptions) -> float:
    """Wait before the next look for receipts; return the wait after that.

    Local workers write their receipt before their future completes, so a completion is
    the moment to look again. Without a live future (Lambda) the wait backs off."""
    live = [f for f in futures if f is not None and not f.done()]
    if live:
        done, _ = wait(live, timeout=delay, return_when=FIRST_COMPLETED)
        if done:
            return options.first_poll_s
    else:
        time.sleep(delay)
    return min(delay * 1.5, options.max_poll_s)


def _reusable(receipt: dict[str, Any], inv: Invocation, executor_kind: str) -> bool:
    if receipt.get("status") != "ok" or receipt.get("fingerprint") != inv.fingerprint:
        return False
    # The local workers are this very code; a Lambda image has its own version.
    return executor_kind != "local" or receipt.get("code_version") == CODE_VERSION


def _folder(key: str) -> str:
    return key.rsplit("/", 1)[0] + "/"


def _read_receipt(store: Storage, key: str) -> tuple[str, dict[str, Any] | None]:
    try:
        return key, json.loads(store.get_bytes(key))
    except (ObjectNotFoundError, ValueError):
        return key, None  # not (yet, or no longer) there: the worker crashed or is replaced


def _read_receipts(
    store: Storage, folders: set[str], seen: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Receipts under ``folders`` that are new or changed since ``seen`` (key -> etag)."""
    found: dict[str, dict[str, Any]] = {}
    for folder in sorted(folders):
        for info in store.list(folder):
            if not info.key.endswith(".json") or seen.get(info.key) == info.etag:
                continue
            try:
                found[info.key] = json.loads(store.get_bytes(info.key))
            except (ValueError, KeyError):
                continue  # replaced or deleted between LIST and GET: next round
            seen[info.key] = info.etag
    return found
