"""Awaiting Lambda invocations by their start markers, without Prefect: a real local store,
workers played by threads that write what a worker writes (marker first, receipt last)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Any

import pytest

from lambda_functions.errors import WorkerFailedError
from lambda_functions.receipts import STARTED_SUFFIX
from lambda_functions.storage import open_storage
from tasks.awaiting import AwaitOptions, run_invocations
from tasks.invocations import plan
from tests.receipts import make_receipt


class QueueingExecutor:
    """Each event "waits in the queue" ``queued_s``, then writes its start marker, "runs"
    ``run_s`` and writes its receipt; ``lose`` names functions whose events never run."""

    kind = "lambda"

    def __init__(self, url: str, queued_s: float, run_s: float, lose: set[str]) -> None:
        self.store = open_storage(url)
        self.queued_s, self.run_s, self.lose = queued_s, run_s, lose
        self.sent: list[tuple[str, int]] = []
        self.threads: list[threading.Thread] = []

    def submit(self, function: str, event: dict[str, Any]) -> Future[Any] | None:
        self.sent.append((function, event["attempt"]))
        if function not in self.lose:
            thread = threading.Thread(target=self._run, args=(function, event))
            thread.start()
            self.threads.append(thread)
        return None

    def _run(self, function: str, event: dict[str, Any]) -> None:
        inv = plan(function, event)
        time.sleep(self.queued_s)
        self.store.put_bytes(inv.receipt_key + STARTED_SUFFIX, b"{}")
        time.sleep(self.run_s)
        receipt = make_receipt(
            function=function,
            unit=inv.unit,
            stock=inv.stock,
            event=event,
            fingerprint=inv.fingerprint,
            attempt=event["attempt"],
        )
        self.store.put_bytes(inv.receipt_key, receipt.to_json())

    def close(self) -> None:
        for thread in self.threads:
            thread.join()


def invocations(url: str) -> list[Any]:
    base = {"store": url, "run_id": "markers", "stock": "TCS"}
    return [
        plan("minmse", {**base, "grid": {"max_features": [5], "min_samples_split": [5]}}),
        plan("testfull", {**base, "groves": 2}),
    ]


FAST = {"first_poll_s": 0.02, "max_poll_s": 0.1}


def test_a_queued_event_is_awaited_from_its_start(local_store: str) -> None:
    # Queued 1.5 s, runs 0.5 s: its receipt comes 2 s after the invoke, twice the receipt
    # timeout; counted from the start marker it is in time.
    executor = QueueingExecutor(local_store, queued_s=1.5, run_s=0.5, lose=set())
    options = AwaitOptions(timeout_s=1.0, max_event_age_s=30, **FAST)
    outcome = run_invocations(executor, executor.store, invocations(local_store), options=options)
    executor.close()
    assert (outcome.executed, outcome.reused) == (2, 0)
    assert executor.sent == [("minmse", 1), ("testfull", 1)]  # each sent once


def test_a_started_worker_past_its_timeout_fails(local_store: str) -> None:
    executor = QueueingExecutor(local_store, queued_s=0.0, run_s=2.0, lose=set())
    options = AwaitOptions(timeout_s=0.5, max_event_age_s=30, **FAST)
    with pytest.raises(WorkerFailedError, match="no receipt 0 s after it started"):
        run_invocations(executor, executor.store, invocations(local_store), options=options)
    executor.close()


def test_an_event_that_never_starts_is_lost_after_the_maximum_event_age(
    local_store: str,
) -> None:
    executor = QueueingExecutor(local_store, queued_s=0.2, run_s=0.1, lose={"testfull"})
    options = AwaitOptions(timeout_s=0.5, max_event_age_s=1.5, **FAST)
    started = time.monotonic()
    with pytest.raises(WorkerFailedError) as info:
        run_invocations(executor, executor.store, invocations(local_store), options=options)
    assert time.monotonic() - started >= 3.0  # its age and as long again, not the timeout
    assert "1 of 2 invocation(s) failed: testfull/TCS/testfull: no receipt 3 s after " in str(
        info.value
    )
    assert "it never started" in str(info.value)
    # The retry sends only the lost one; a stale marker would be removed first.
    executor.lose = set()
    outcome = run_invocations(
        executor, executor.store, invocations(local_store), attempt=2, options=options
    )
    executor.close()
    assert (outcome.executed, outcome.reused) == (1, 1)
    assert executor.sent[-1] == ("testfull", 2)


def test_a_stale_marker_is_removed_before_the_event_is_sent_again(local_store: str) -> None:
    executor = QueueingExecutor(local_store, queued_s=0.0, run_s=0.0, lose={"testfull"})
    invs = invocations(local_store)
    stale = invs[1].receipt_key + STARTED_SUFFIX
    executor.store.put_bytes(stale, b"{}")  # left by a worker of an earlier attempt
    options = AwaitOptions(timeout_s=0.3, max_event_age_s=1.0, **FAST)
    with pytest.raises(WorkerFailedError, match="it never started"):
        run_invocations(executor, executor.store, invs, options=options)
    executor.close()
    assert not executor.store.exists(stale)


class ListCountingStore:
    """A store that counts its LIST calls (everything else passes through)."""

    def __init__(self, store: Any) -> None:
        self._store, self.lists = store, 0

    def list(self, prefix: str) -> Any:
        self.lists += 1
        return self._store.list(prefix)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.mark.parametrize(("cap", "fewest", "most"), [(0.1, 13, 40), (2.0, 1, 11)])
def test_looks_back_off_to_the_poll_cap(local_store: str, cap: float, fewest: int, most: int):
    # Both invocations end ~2.5 s after sending. Looks start 50 ms apart and grow 1.5x up
    # to the cap: capped at 0.1 s that is ~26 looks, at 2 s 9 (a slow machine: fewer).
    executor = QueueingExecutor(local_store, queued_s=0.0, run_s=2.5, lose=set())
    store = ListCountingStore(executor.store)
    options = AwaitOptions(timeout_s=30, max_event_age_s=30, max_poll_s=cap)
    outcome = run_invocations(executor, store, invocations(local_store), options=options)
    executor.close()
    assert outcome.executed == 2
    looks = (store.lists - 2) / 2  # a look LISTs both folders; split_reusable did so first
    assert fewest <= looks <= most, looks


def test_the_poll_cap_comes_from_the_run_options_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from groves.config import RunConfig

    monkeypatch.delenv("GROVES_MAX_POLL_S")
    assert RunConfig().max_poll_s == 2.0
    monkeypatch.setenv("GROVES_MAX_POLL_S", "0.5")
    assert RunConfig().max_poll_s == 0.5
    assert RunConfig(max_poll_s=3).max_poll_s == 3.0
    with pytest.raises(ValueError, match="max_poll_s"):
        RunConfig(max_poll_s=0)
