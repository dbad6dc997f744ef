"""The fault matrix: one flow run per fault, through the real boto3 Lambda and S3 clients.

Lambda is `LocalLambdaEndpoint` with `Faults`; S3 is moto's server behind `S3FaultProxy`.
Each run uses its own run id on the session's bucket, and either completes with results
identical to the clean reference run (same per-stock MSEs, same output bytes) or fails
with a message naming the invocation. The last test checks that none of these runs
touched the reference run's keys or the raw input.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from flows.pipeline import STAGES, forecast_pipeline
from lambda_functions.errors import GrovesError
from lambda_functions.storage import open_storage
from tasks.lambda_endpoint import Faults
from tests.reliability.conftest import (
    PER_STAGE,
    STOCK,
    Lambda,
    delta,
    mses,
    small,
    stock_outputs,
)

pytestmark = pytest.mark.slow
TIMEOUT_S = 5.0  # receipt timeout of the runs that must notice a lost invocation


def assert_same_as_reference(lam: Lambda, summary: dict, run_id: str) -> None:
    assert summary["failed"] == {}
    assert mses(summary) == mses(lam.reference.summary)  # exactly, not approximately
    assert stock_outputs(lam.url, run_id) == lam.reference.outputs  # byte for byte


@contextmanager
def prefect_logs() -> Iterator[list[str]]:
    """Collect Prefect's INFO records (task retries say why they retry)."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect(level=logging.INFO)
    logger = logging.getLogger("prefect")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_throttling_429_is_retried_by_botocore(lam: Lambda) -> None:
    lam.faults(Faults(throttle_first={"parampreds": 3, "trainfull": 2}))
    before = lam.counters()
    summary = forecast_pipeline(small(run_id="throttled"))
    changes = delta(before, lam.counters())
    assert changes["parampreds"]["throttled"] == 3
    assert changes["trainfull"]["throttled"] == 2
    for stage in STAGES:  # every invocation ran exactly once: throttling lost nothing
        assert changes[stage]["executed"] == PER_STAGE[stage]
    assert_same_as_reference(lam, summary, "throttled")


def test_function_error_before_the_handler_is_retried(lam: Lambda) -> None:
    # `fail_first` raises before the handler runs, like a crash in the runtime: no receipt,
    # so the orchestrator learns of it only at the receipt timeout, then retries it.
    lam.faults(Faults(fail_first={"predmses": 1}))
    before = lam.counters()
    with prefect_logs() as logs:
        summary = forecast_pipeline(small(run_id="failfirst", timeout_s=TIMEOUT_S))
    changes = delta(before, lam.counters())
    assert changes["predmses"]["failed"] == 1
    assert changes["predmses"]["executed"] == PER_STAGE["predmses"] + 1  # only the lost one
    retry = [line for line in logs if "Retry 1/2" in line]
    assert retry and "1 of 2 invocation(s) failed: predmses/TCS/feat5_samp" in retry[0]
    assert "no receipt 5 s after invoking" in retry[0]
    assert_same_as_reference(lam, summary, "failfirst")


def test_error_inside_the_worker_leaves_an_error_receipt_then_retries(lam: Lambda) -> None:
    # The first read of the processed training table answers 404 (a read-after-write
    # anomaly): parampreds raises inside run_worker, which writes an error receipt; the
    # orchestrator sees it at once (no timeout) and the stage retry runs it again.
    table = f"runs/inside/stocks/{STOCK}/processed/training/"
    lam.proxy.add("GetObject", 404, key=table, times=1)
    before = lam.counters()
    with prefect_logs() as logs:
        summary = forecast_pipeline(small(run_id="inside"))
    changes = delta(before, lam.counters())
    assert changes["parampreds"]["failed"] == 1
    assert changes["parampreds"]["executed"] == PER_STAGE["parampreds"] + 1
    error_receipts = [
        e
        for e in lam.proxy.entries("PutObject", "runs/inside/receipts/parampreds/")
        if e.status == 200
    ]
    assert len(error_receipts) == PER_STAGE["parampreds"] + 2  # error receipt, then ok
    retry = [line for line in logs if "Retry 1/2" in line]
    assert retry, logs
    assert "parampreds/TCS/feat5_samp" in retry[0]
    assert "ObjectNotFoundError: object not found" in retry[0]
    assert "processed/training/TCS.parquet" in retry[0]
    assert_same_as_reference(lam, summary, "inside")


def test_lost_events_time_out_and_are_sent_again(lam: Lambda) -> None:
    # Seed 227 drops exactly the 4th event (the first predmses) and the 11th: the
    # timingmetrics event, sent after the predmses retry. Both are recovered.
    lam.faults(Faults(drop_event_fraction=0.1, drop_seed=227))
    before = lam.counters()
    summary = forecast_pipeline(small(run_id="dropped", timeout_s=TIMEOUT_S))
    changes = delta(before, lam.counters())
    assert changes["predmses"]["dropped"] == 1
    assert changes["timingmetrics"]["dropped"] == 1
    for stage in STAGES:
        assert changes[stage]["executed"] == PER_STAGE[stage]
    assert changes["timingmetrics"]["executed"] == 1
    assert_same_as_reference(lam, summary, "dropped")


def test_worker_past_its_timeout_fails_naming_it(lam: Lambda) -> None:
    lam.faults(Faults(delay_seconds={"processing": TIMEOUT_S + 3}))
    config = small(run_id="slow", timeout_s=TIMEOUT_S, retries=1)
    before = lam.counters()
    with pytest.raises(GrovesError) as info:
        forecast_pipeline(config)
    message = str(info.value)
    assert message.startswith("1 stock(s) failed: TCS (processing: ")
    assert "processing/TCS/processing: no receipt 5 s after invoking" in message
    assert "(lost event, or the worker timed out or was killed)" in message
    assert delta(before, lam.counters())["processing"]["received"] == 2  # try + 1 retry
    # Nothing downstream ran, and the failure is on record for `groves report`.
    store = open_storage(lam.url)
    assert store.keys("runs/slow/receipts/parampreds/") == []
    assert store.get_json("runs/slow/summary.json")["failed"][STOCK].startswith("processing:")


def test_worker_killed_after_its_outputs_before_its_receipt(lam: Lambda) -> None:
    # The store refuses minmse's receipt once (403, not retried by botocore): the worker
    # dies having written best_params.csv but no receipt, exactly the store state a worker
    # killed between its outputs and its receipt leaves. The receipt timeout re-invokes it.
    lam.proxy.add("PutObject", 403, key="runs/killed/receipts/minmse/", times=1)
    before = lam.counters()
    summary = forecast_pipeline(small(run_id="killed", timeout_s=TIMEOUT_S))
    changes = delta(before, lam.counters())
    assert changes["minmse"]["executed"] == 2
    assert changes["minmse"]["failed"] == 1
    receipt_puts = lam.proxy.entries("PutObject", "runs/killed/receipts/minmse/")
    assert [(e.status, e.injected) for e in receipt_puts] == [(403, True), (200, False)]
    # Both executions wrote the same bytes, and those are the reference run's bytes.
    best = lam.proxy.entries("PutObject", "runs/killed/stocks/TCS/models/optimized/best_params")
    assert len(best) == 2 and best[0].sha256 == best[1].sha256
    assert best[0].at < receipt_puts[0].at  # the output was complete before the receipt
    assert_same_as_reference(lam, summary, "killed")


def test_duplicate_concurrent_delivery_writes_identical_bytes(lam: Lambda) -> None:
    lam.faults(Faults(duplicate_events=True))
    before = lam.counters()
    summary = forecast_pipeline(small(run_id="twice-delivered"))
    lam.endpoint.wait_idle(60)  # the second copies may still be writing
    changes = delta(before, lam.counters())
    for stage in STAGES:
        assert changes[stage]["executed"] == 2 * PER_STAGE[stage]
    puts: dict[str, set[str | None]] = {}
    for entry in lam.proxy.entries("PutObject", "runs/twice-delivered/stocks/"):
        puts.setdefault(entry.key, set()).add(entry.sha256)
    assert puts and all(len(digests) == 1 for digests in puts.values())
    assert_same_as_reference(lam, summary, "twice-delivered")


def test_transient_s3_errors_are_retried(lam: Lambda) -> None:
    # Every 8th request of each kind, from the orchestrator and from the workers alike,
    # answers 503 SlowDown; botocore's standard retry mode absorbs them all.
    for op in ("GetObject", "PutObject", "HeadObject", "ListObjectsV2"):
        lam.proxy.add(op, 503, every=8)
    summary = forecast_pipeline(small(run_id="slowdown"))
    injected = {e.op for e in lam.proxy.entries() if e.injected}
    assert injected == {"GetObject", "PutObject", "HeadObject", "ListObjectsV2"}
    assert_same_as_reference(lam, summary, "slowdown")


def test_no_run_touched_another_runs_keys_or_the_raw_input(lam: Lambda) -> None:
    store = open_storage(lam.url)
    assert {k: store.get_bytes(k) for k in store.keys("runs/clean/")} == (
        lam.reference.run_objects
    )
    assert {k: store.get_bytes(k) for k in store.keys("raw/")} == lam.reference.raw
    prefixes = {key.split("/")[0] for key in store.keys()}
    assert prefixes == {"raw", "runs"}
