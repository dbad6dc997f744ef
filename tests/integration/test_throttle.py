"""The Lambda executor under throttling: its AIMD limiter against the local endpoint over
HTTP (the real boto3 client), and the limiter's arithmetic on its own."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from groves.lambda_endpoint import Faults, LocalLambdaEndpoint
from tasks.executors import NO_RETRIES, LambdaExecutor
from tasks.lambda_limits import discover_cap
from tasks.throttle import AimdLimiter

FIXTURES = str(Path(__file__).resolve().parents[1] / "fixtures")
if FIXTURES not in sys.path:
    sys.path.insert(0, FIXTURES)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalLambdaEndpoint]:
    """The endpoint with `minmse` standing for a fake that touches a file per run."""
    monkeypatch.delenv("GROVES_N_JOBS", raising=False)
    server = LocalLambdaEndpoint(
        concurrency=2, handlers={"minmse": "fake_handlers:touch", "echo": "fake_handlers:echo"}
    ).start()
    try:
        yield server
    finally:
        server.stop(timeout=5)


def executor_for(url: str, limiter: AimdLimiter) -> LambdaExecutor:
    from botocore.config import Config

    client = boto3.client(
        "lambda", region_name="us-east-1", endpoint_url=url, config=Config(retries=NO_RETRIES)
    )
    return LambdaExecutor(client=client, limiter=limiter)


def test_every_second_call_throttled_all_events_run_once(
    endpoint: LocalLambdaEndpoint, tmp_path: Path
) -> None:
    endpoint.set_faults(Faults(throttle_every=2))
    limiter = AimdLimiter(8)
    executor = executor_for(endpoint.url, limiter)
    threads = [
        threading.Thread(target=executor.submit, args=("minmse", {"dir": str(tmp_path)}))
        for _ in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert endpoint.wait_idle(20)
    counts = endpoint.stats()["functions"]["minmse"]
    assert counts["succeeded"] == 12  # every event accepted once, none twice
    assert counts["throttled"] == counts["received"] - 12 >= 6
    assert len(list(tmp_path.glob("*.done"))) == 12
    stats = limiter.stats()
    assert stats.throttles == counts["throttled"]
    assert stats.lowest < 8 and stats.decreases >= 1


def test_retry_after_is_honoured(endpoint: LocalLambdaEndpoint, tmp_path: Path) -> None:
    endpoint.set_faults(Faults(throttle_every=2, retry_after_s=1))
    limiter = AimdLimiter(4)
    executor = executor_for(endpoint.url, limiter)
    started = time.monotonic()
    for _ in range(3):  # calls 1 ok, 2 429, 3 ok, 4 429, 5 ok: two waits of 1 s
        executor.submit("minmse", {"dir": str(tmp_path)})
    elapsed = time.monotonic() - started
    assert elapsed >= 2.0
    assert limiter.stats().throttles == 2
    assert limiter.stats().paused_s >= 2.0
    assert endpoint.wait_idle(10)
    assert len(list(tmp_path.glob("*.done"))) == 3


def test_limiter_shrinks_once_per_window_and_grows_back() -> None:
    limiter = AimdLimiter(16, base_pause_s=0.0)
    with limiter.slot() as first, limiter.slot() as second:
        assert first == second == 0
    limiter.throttled(first)
    limiter.throttled(second)  # same window: no second halving
    assert limiter.limit == 8
    with limiter.slot() as window:
        assert window == 1
    limiter.throttled(window)
    assert limiter.limit == 4
    for _ in range(200):
        limiter.succeeded()
    assert limiter.limit == 16  # additive increase, back to the ceiling
    stats = limiter.stats()
    assert (stats.lowest, stats.decreases, stats.throttles) == (4, 2, 3)


def test_limiter_bounds_concurrent_calls() -> None:
    limiter = AimdLimiter(2, base_pause_s=0.0)
    with limiter.slot() as window:
        pass
    limiter.throttled(window)  # bound 1
    active, peak, lock = [0], [0], threading.Lock()

    def call() -> None:
        with limiter.slot():
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert peak[0] == 1


def test_discover_cap_reads_the_endpoint(endpoint: LocalLambdaEndpoint) -> None:
    client = boto3.client("lambda", region_name="us-east-1", endpoint_url=endpoint.url)
    cap = discover_cap(client, 900, "groves-", ["minmse", "echo"])
    assert (cap.value, cap.source) == (2, "account unreserved concurrency")
    assert "capped at 2 (account unreserved concurrency" in cap.describe()
    endpoint.set_limits(reserved={"echo": 1})
    cap = discover_cap(client, 900, "groves-", ["minmse", "echo"])
    assert cap.value == 1
    assert cap.figures["reserved concurrency of groves-echo"] == 1
    assert cap.figures["account unreserved concurrency"] == 1  # 2, less the reservation
    assert discover_cap(client, 1, "groves-", ["minmse"]).source == "--max-in-flight"
    # A function the endpoint does not know: noted, the rest still counts.
    cap = discover_cap(client, 900, "groves-", ["nope"])
    assert cap.value == 1 and "GetFunctionConcurrency(groves-nope) failed" in cap.describe()
