"""The Lambda executor end to end: the real boto3 Invoke API against our local endpoint,
S3 on a moto server on 127.0.0.1; results must equal the local executor's exactly.

The endpoint runs 2 invocations at a time and queues the excess, as Lambda does; the runs
keep the default --max-in-flight (900) and must find the real cap themselves."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from flows.pipeline import forecast_pipeline
from groves.lambda_endpoint import DEFAULT_HANDLERS, Faults, LocalLambdaEndpoint
from lambda_functions.errors import GrovesError
from lambda_functions.storage import open_storage
from tests.flows.conftest import endpoint_env, small_config

pytestmark = pytest.mark.slow
# The fault runs' maximum event age (the endpoint's too) and receipt timeout: a lost event
# is known after twice the age. Workers start in milliseconds (preloaded, and warmed by the
# fixture), so what waits longer than this in the queue is queued, not starting.
AGE_S = 10.0
TIMEOUT_S = 12.0
PER_STOCK = {
    "processing": 1,
    "parampreds": 8,
    "predmses": 4,
    "minmse": 1,
    "trainfull": 3,
    "testfull": 1,
}


@pytest.fixture
def endpoint(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[LocalLambdaEndpoint]:
    faults = getattr(request, "param", None) or Faults()
    handlers = {**DEFAULT_HANDLERS, "warm": "tests.reliability.workerhooks:warm"}
    server = LocalLambdaEndpoint(
        concurrency=2, handlers=handlers, faults=faults, env=endpoint_env(moto_server)
    )
    server.start()
    # Warm both worker processes (a cold start imports scikit-learn: many seconds on a
    # loaded machine, which would count as time in the queue).
    warm = [
        threading.Thread(
            target=server.invoke, args=(f"warm-{n}", "warm", None, "RequestResponse", b"{}")
        )
        for n in range(2)
    ]
    for thread in warm:
        thread.start()
    for thread in warm:
        thread.join()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", server.url)
    try:
        yield server
    finally:
        server.stop(timeout=2)  # a test's deliberately delayed worker is not waited for


def _executed(endpoint: LocalLambdaEndpoint, function: str) -> int:
    return endpoint.stats()["functions"].get(function, {}).get("executed", 0)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_lambda_executor_matches_local(
    endpoint: LocalLambdaEndpoint, s3_store: str, local_store: str
) -> None:
    config = small_config(store=s3_store, executor="lambda", run_id="same")
    assert config.max_in_flight == 900  # the default, far above the endpoint's 2
    lines, logger = _Lines(), logging.getLogger("prefect")
    logger.addHandler(lines)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        remote = forecast_pipeline(config)
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    local = forecast_pipeline(small_config(store=local_store, executor="local", run_id="same"))
    assert remote["failed"] == {}
    assert remote["stocks"] == local["stocks"]  # MSEs equal exactly, not approximately
    for function, count in PER_STOCK.items():
        assert _executed(endpoint, function) == 2 * count  # none sent twice
        assert endpoint.stats()["functions"][function]["throttled"] == 0
    cap = "in-flight Lambda invocations capped at 2 (account unreserved concurrency"
    assert any(cap in line for line in lines.lines), lines.lines
    assert remote["inflight_cap"].startswith(cap)  # the CLI prints it after the run
    assert "inflight_cap" not in local
    # The workers really wrote to S3: the run's outputs and the timing tables are there.
    store = open_storage(s3_store)
    assert store.exists("runs/same/stocks/TCS/models/optimized/models/mse.csv")
    assert store.exists("runs/same/timingmetrics/actualtimingmetrics.csv")


@pytest.mark.parametrize(
    "endpoint",
    [Faults(fail_first={"parampreds": 1}, throttle_first={"trainfull": 3})],
    indirect=True,
)
def test_failure_once_and_throttling_are_recovered(
    endpoint: LocalLambdaEndpoint, s3_store: str
) -> None:
    # An injected failure happens before the handler runs (like a crash): no start marker
    # and no receipt are written, so the invocation is known lost only at the maximum
    # event age, the endpoint's and the run's alike (never shorter than the endpoint's).
    endpoint.set_limits(max_event_age_s=AGE_S)
    config = small_config(
        store=s3_store,
        executor="lambda",
        run_id="faults",
        stocks=("TCS",),
        timeout_s=90,
        max_event_age_s=AGE_S,
    )
    summary = forecast_pipeline(config)
    assert summary["failed"] == {}
    stats = endpoint.stats()["functions"]
    # Exactly the failed invocation ran twice; throttled calls were retried by botocore.
    assert stats["parampreds"]["executed"] == PER_STOCK["parampreds"] + 1
    assert stats["parampreds"]["failed"] == 1
    assert stats["trainfull"]["throttled"] == 3
    assert stats["trainfull"]["executed"] == PER_STOCK["trainfull"]


@pytest.mark.parametrize("endpoint", [Faults(delay_seconds={"testfull": 6 * AGE_S})], indirect=True)
def test_missing_receipt_times_out_then_fails_naming_it(
    endpoint: LocalLambdaEndpoint, s3_store: str
) -> None:
    # testfull may run one at a time (reserved concurrency 1): the first attempt holds its
    # slot, delayed before its handler (so it never shows a start), for longer than both
    # attempts' wait (twice the maximum event age each); the retry waits in the queue and
    # expires there (the run's age is the endpoint's), and the report stage still finds
    # the unreserved slot free.
    endpoint.set_limits(reserved={"testfull": 1}, max_event_age_s=AGE_S)
    config = small_config(
        store=s3_store,
        executor="lambda",
        run_id="lost",
        stocks=("TCS",),
        timeout_s=TIMEOUT_S,
        max_event_age_s=AGE_S,
        retries=1,
        retry_delay_s=0.1,
    )
    with pytest.raises(GrovesError, match=r"TCS \(testfull: .*testfull/TCS/testfull: no receipt"):
        forecast_pipeline(config)
    testfull = endpoint.stats()["functions"]["testfull"]
    assert testfull["received"] == 2  # first try + 1 retry
    assert testfull["expired"] == 1  # the retry, never started
