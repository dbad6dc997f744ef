"""Invoke workers and await their receipts in the store.

`run_invocations` does three things in turn: keep the invocations whose receipt is
already valid (`split_reusable`), send the rest (`dispatch`), and wait for their receipts
(`ReceiptWatch`). A receipt is the worker's last write, so its presence means the outputs
are complete. Waiting reads a finished local worker's receipt directly, and otherwise
LISTs each receipt folder once per round (with backoff), reading only new or changed ones.

On Lambda an accepted event may wait in Lambda's queue (the account or function is at its
concurrency) for up to the function's maximum event age before it runs. So the receipt
timeout counts from when the worker *started*, which its start marker
(``<receipt key>.started``, written first) shows in the same LIST; an event with no marker
is called lost (and sent again by the stage retry) only after ``max_event_age_s`` plus a
grace for the start itself (as long again, at most `START_GRACE_S`: an event taken from
the queue just before its age ran out still has its cold start, validation and the
marker's PUT ahead of it). The rule: ``max_event_age_s`` must not be shorter than the
functions' own maximum event age, or the run re-sends an event Lambda still holds and
the work runs twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from lambda_functions.errors import ObjectNotFoundError, ReceiptError, WorkerFailedError
from lambda_functions.receipts import STARTED_SUFFIX, Receipt, parse_receipt
from lambda_functions.storage import Storage
from tasks.executors import Executor
from tasks.invocations import Invocation, is_reusable
from tasks.progress import ProgressBoard

logger = logging.getLogger(__name__)

START_GRACE_S = 60.0  # at most this long past the maximum event age for a start marker

# Error types that an invocation raises again on every retry: bad input, not bad luck.
PERMANENT_ERRORS = frozenset({"InputDataError", "InvalidEventError", "UnsafeNameError"})


@dataclass
class AwaitOptions:
    """How long and how often to wait for receipts."""

    timeout_s: float = 960.0  # Lambda's 900 s limit plus a margin, from the start marker
    max_event_age_s: float = 3600.0  # Lambda: an event not started by then is lost
    first_poll_s: float = 0.05
    max_poll_s: float = 2.0
    crash_grace_s: float = 2.0  # a local worker that died: wait this long for a receipt


@dataclass
class Outcome:
    """Every invocation's receipt (in order), and how many ran now vs were reused."""

    receipts: list[Receipt]
    executed: int
    reused: int


@dataclass
class Failures:
    """What went wrong, and whether all of it was bad input (retrying cannot help)."""

    messages: list[str] = field(default_factory=list)
    permanent: bool = True

    def add(self, message: str, permanent: bool = False) -> None:
        self.messages.append(message)
        self.permanent = self.permanent and permanent

    def raise_if_any(self, total: int) -> None:
        if not self.messages:
            return
        shown = "; ".join(self.messages[:5])
        if len(self.messages) > 5:
            shown += f"; and {len(self.messages) - 5} more"
        raise WorkerFailedError(
            f"{len(self.messages)} of {total} invocation(s) failed: {shown}",
            permanent=self.permanent,
        )


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
    done, pending = split_reusable(store, invocations, executor.kind, reuse)
    if progress and attempt == 1:  # a retry's reused ones were counted already
        for inv in invocations:
            if inv.receipt_key in done:
                progress.advance(inv.stage, executed=False)
    failures = Failures()
    watch = ReceiptWatch(store, attempt, options, progress)
    dispatch(executor, pending, attempt, watch, failures)
    done.update(watch.wait(failures))
    failures.raise_if_any(len(invocations))
    ordered = [done[inv.receipt_key] for inv in invocations]
    return Outcome(ordered, executed=len(pending), reused=len(invocations) - len(pending))


def split_reusable(
    store: Storage, invocations: Sequence[Invocation], executor_kind: str, reuse: bool
) -> tuple[dict[str, Receipt], list[Invocation]]:
    """The receipts that can stand for their invocations (by receipt key), and the rest.

    A stale, failed or unreadable receipt of a pending invocation is deleted, so it can
    never be mistaken for the new one."""
    markers: dict[str, float] = {}
    folders = {_folder(i.receipt_key) for i in invocations}
    existing = read_new_receipts(store, folders, {}, markers)
    done: dict[str, Receipt] = {}
    pending: list[Invocation] = []
    for inv in invocations:
        found = existing.get(inv.receipt_key)
        if reuse and isinstance(found, Receipt) and is_reusable(found, inv, executor_kind):
            done[inv.receipt_key] = found
            continue
        pending.append(inv)
        if found is not None or inv.receipt_key in markers:  # the start marker too
            if isinstance(found, ReceiptError):
                logger.warning("%s; running %s again", found, inv.name)
            store.delete_prefix(inv.receipt_key)
    return done, pending


def dispatch(
    executor: Executor,
    pending: Sequence[Invocation],
    attempt: int,
    watch: ReceiptWatch,
    failures: Failures,
) -> None:
    """Send every pending invocation; the watch learns what was sent and when."""
    for inv in pending:
        now = time.time()
        event = {**inv.event, "attempt": attempt, "invoked_at": now}
        try:
            future = executor.submit(inv.stage, event)
        except Exception as exc:  # e.g. still throttled after botocore's retries
            failures.add(f"{inv.name}: could not invoke: {type(exc).__name__}: {exc}")
            continue
        watch.expect(inv, now, future)


class ReceiptWatch:
    """Awaits the receipts of sent invocations; see the module docstring."""

    def __init__(
        self,
        store: Storage,
        attempt: int,
        options: AwaitOptions,
        progress: ProgressBoard | None = None,
    ) -> None:
        self.store = store
        self.attempt = attempt
        self.options = options
        self.progress = progress
        self.waiting: dict[str, Invocation] = {}
        self.sent: dict[str, float] = {}
        self.futures: dict[str, Future[Any] | None] = {}
        self.started: dict[str, float] = {}  # receipt key -> when its start marker was seen
        self._seen: dict[str, str] = {}  # receipt key -> ETag already read
        self._crashed_at: dict[str, float] = {}

    def expect(self, inv: Invocation, sent_at: float, future: Future[Any] | None) -> None:
        """Watch for ``inv``'s receipt (``future``: a local worker's, else None)."""
        self.waiting[inv.receipt_key] = inv
        self.sent[inv.receipt_key] = sent_at
        self.futures[inv.receipt_key] = future

    def wait(self, failures: Failures) -> dict[str, Receipt]:
        """Until every watched invocation succeeded, failed or timed out: the successes."""
        done: dict[str, Receipt] = {}
        delay = self.options.first_poll_s
        while self.waiting:
            found = self._look()
            now = time.time()
            for key, inv in list(self.waiting.items()):
                verdict = self._judge(key, inv, found.get(key), now, failures)
                if verdict is not None:
                    del self.waiting[key]
                    if isinstance(verdict, Receipt):
                        done[key] = verdict
                        if self.progress:
                            self.progress.advance(inv.stage)
            if self.waiting:
                delay = self._pause(delay)
        return done

    def _look(self) -> dict[str, Receipt | ReceiptError]:
        """The receipts that appeared or changed since the last look."""
        finished = {k for k in self.waiting if (f := self.futures.get(k)) is not None and f.done()}
        listed = {_folder(k) for k in self.waiting if self.futures.get(k) is None}
        markers: dict[str, float] = {}
        found = read_new_receipts(self.store, listed, self._seen, markers)
        now = time.time()
        for key in markers:
            if key in self.waiting:
                self.started.setdefault(key, now)  # seen now: started at most a poll ago
        for key in finished:
            receipt = read_receipt(self.store, key)
            if receipt is not None:
                found[key] = receipt
        return found

    def _judge(
        self,
        key: str,
        inv: Invocation,
        receipt: Receipt | ReceiptError | None,
        now: float,
        failures: Failures,
    ) -> Receipt | bool | None:
        """The receipt if ``inv`` succeeded, True if it failed for good, None to go on."""
        if isinstance(receipt, ReceiptError):
            failures.add(f"{inv.name}: {receipt}")
            return True
        if receipt is not None and receipt.fingerprint == inv.fingerprint:
            if receipt.ok:
                return receipt
            if receipt.attempt == self.attempt:
                failures.add(
                    f"{inv.name}: {receipt.error_type}: {receipt.error}",
                    permanent=receipt.error_type in PERMANENT_ERRORS,
                )
                return True
        future = self.futures.get(key)
        if future is not None and future.done() and future.exception() is not None:
            crashed = self._crashed_at.setdefault(key, now)
            if now - crashed > self.options.crash_grace_s:
                exc = future.exception()
                failures.add(f"{inv.name}: worker crashed: {type(exc).__name__}: {exc}")
                return True
        if future is None:  # Lambda: from the start marker, else up to the event's max age
            started = self.started.get(key)
            if started is not None and now - started > self.options.timeout_s:
                failures.add(
                    f"{inv.name}: no receipt {self.options.timeout_s:.0f} s after it started "
                    "(the worker timed out or was killed)"
                )
                return True
            age = self.options.max_event_age_s
            waited = age + min(age, START_GRACE_S)
            if started is None and now - self.sent[key] > waited:
                failures.add(
                    f"{inv.name}: no receipt {waited:.0f} s after invoking, and it never "
                    "started (a lost event, or it outwaited its maximum event age in "
                    "Lambda's queue)"
                )
                return True
            return None
        if now - self.sent[key] > self.options.timeout_s:
            failures.add(
                f"{inv.name}: no receipt {self.options.timeout_s:.0f} s after invoking "
                "(lost event, or the worker timed out or was killed)"
            )
            return True
        return None

    def _pause(self, delay: float) -> float:
        """Wait before the next look; return the wait after that.

        Local workers write their receipt before their future completes, so a completion
        is the moment to look again. Without a live future (Lambda) the wait backs off."""
        live = [f for k in self.waiting if (f := self.futures.get(k)) is not None and not f.done()]
        if live:
            done, _ = wait(live, timeout=delay, return_when=FIRST_COMPLETED)
            if done:
                return self.options.first_poll_s
        else:
            time.sleep(delay)
        return min(delay * 1.5, self.options.max_poll_s)


def _folder(key: str) -> str:
    return key.rsplit("/", 1)[0] + "/"


def read_receipt(store: Storage, key: str) -> Receipt | ReceiptError | None:
    """The receipt at ``key``; None if absent (not yet there, or the worker crashed)."""
    try:
        data = store.get_bytes(key)
    except ObjectNotFoundError:
        return None
    try:
        return parse_receipt(data, f"{store.url}/{key}")
    except ReceiptError as exc:
        return exc


def read_new_receipts(
    store: Storage,
    folders: set[str],
    seen: dict[str, str],
    markers: dict[str, float] | None = None,
) -> dict[str, Receipt | ReceiptError]:
    """Receipts under ``folders`` that are new or changed since ``seen`` (key -> ETag).

    ``markers``, if given, gets the receipt key of every start marker listed (-> its
    modification time)."""
    found: dict[str, Receipt | ReceiptError] = {}
    for folder in sorted(folders):
        for info in store.list(folder):
            if markers is not None and info.key.endswith(STARTED_SUFFIX):
                markers[info.key.removesuffix(STARTED_SUFFIX)] = info.last_modified
                continue
            if not info.key.endswith(".json") or seen.get(info.key) == info.etag:
                continue
            receipt = read_receipt(store, info.key)
            if receipt is None:
                continue  # replaced or deleted between LIST and GET: next round
            found[info.key] = receipt
            seen[info.key] = info.etag
    return found
