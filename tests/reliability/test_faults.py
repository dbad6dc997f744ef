"""The fault matrix: one flow run per fault, through the real boto3 Lambda and S3 clients.

Lambda is `LocalLambdaEndpoint` with `Faults`; S3 is moto's server behind `S3FaultProxy`.
Each run uses its own run id on the session's bucket, and either completes with results
identical to the clean reference run (same per-stock MSEs, same output bytes) or fails
with a message naming the invocation. The last test checks that none of these runs
touched the reference run's keys or the raw input.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from flows.pipeline import forecast_pipeline
from groves.lambda_endpoint import Faults
from lambda_functions.errors import GrovesError
from lambda_functions.stages import GRID
from lambda_functions.storage import open_storage
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
TIMEOUT_S = 4.0  # receipt timeout of the runs that must notice a lost invocation


def lossy(lam: Lambda, **changes: object) -> object:
    """A small run that notices a lost invocation within seconds: receipt timeout and
    maximum event age both `TIMEOUT_S`, the endpoint's event age set the same (the rule:
    a run must not call an event lost before Lambda would have expired it)."""
    lam.endpoint.set_limits(max_event_age_s=TIMEOUT_S)
    return small(**{"timeout_s": TIMEOUT_S, "max_event_age_s": TIMEOUT_S, **changes})


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


def test_throttling_and_a_crash_before_the_handler(lam: Lambda) -> None:
    # 429: the first 2 parampreds invokes are throttled; botocore retries them with backoff.
    # Crash: `fail_first` raises before the handler runs (like the runtime dying), so no
    # start marker and no receipt are written: the orchestrator calls it lost at the
    # maximum event age and the stage retry sends that one invocation again.
    lam.faults(Faults(throttle_first={"parampreds": 2}, fail_first={"predmses": 1}))
    before = lam.counters()
    with prefect_logs() as logs:
        summary = forecast_pipeline(lossy(lam, run_id="crash-429"))
    changes = delta(before, lam.counters())
    assert changes["parampreds"]["throttled"] == 2
    assert changes["parampreds"]["executed"] == PER_STAGE["parampreds"]  # none lost
    assert changes["predmses"]["failed"] == 1
    assert changes["predmses"]["executed"] == PER_STAGE["predmses"] + 1  # only the lost one
    retries = [line for line in logs if "Retry 1/2" in line]
    assert len(retries) == 1
    assert "1 of 2 invocation(s) failed: predmses/TCS/feat5_samp" in retries[0]
    assert "no receipt 8 s after invoking" in retries[0]  # its age and as long again
    for stage in ("processing", "minmse", "trainfull", "testfull"):
        assert changes[stage]["executed"] == PER_STAGE[stage]
    assert_same_as_reference(lam, summary, "crash-429")


def test_error_inside_a_worker_and_a_worker_killed_before_its_receipt(lam: Lambda) -> None:
    # Error inside run_worker: the first read of the processed training table answers 404
    # (a read-after-write anomaly); parampreds raises inside its work function, writes an
    # error receipt, and the orchestrator sees it at once (no timeout) and retries it.
    lam.proxy.add("GetObject", 404, key="runs/cut/stocks/TCS/processed/training/", times=1)
    # Killed between outputs and receipt: the store refuses minmse's receipt once (403, not
    # retried by botocore), so the worker dies with best_params.csv written and no receipt:
    # the store state of a worker killed right before its last write. The receipt timeout
    # re-invokes it.
    lam.proxy.add("PutObject", 403, key=r"runs/cut/receipts/minmse/.*\.json$", times=1)
    before = lam.counters()
    with prefect_logs() as logs:
        summary = forecast_pipeline(lossy(lam, run_id="cut"))
    changes = delta(before, lam.counters())
    retries = [line for line in logs if "Retry 1/2" in line]
    assert len(retries) == 2, logs

    assert changes["parampreds"]["failed"] == 1
    assert changes["parampreds"]["executed"] == PER_STAGE["parampreds"] + 1
    bodies: dict[str, list[dict]] = {}
    for entry in lam.proxy.entries("PutObject", r"runs/cut/receipts/parampreds/.*\.json$"):
        bodies.setdefault(entry.key, []).append(json.loads(entry.body or b""))
    history = sorted([(r["status"], r["attempt"]) for r in rs] for rs in bodies.values())
    assert history == [[("error", 1), ("ok", 2)], [("ok", 1)]]  # one grove failed, once
    [failed] = [k for k, rs in bodies.items() if len(rs) == 2]
    assert bodies[failed][0]["error_type"] == "ObjectNotFoundError"
    unit = failed.rsplit("/", 1)[1].removesuffix(".json")
    assert f"parampreds/TCS/{unit}: ObjectNotFoundError: object not found" in retries[0]
    assert "processed/training/TCS.parquet" in retries[0]

    assert changes["minmse"]["executed"] == 2
    assert changes["minmse"]["failed"] == 1
    receipt_puts = lam.proxy.entries("PutObject", r"runs/cut/receipts/minmse/.*\.json$")
    assert [(e.status, e.injected) for e in receipt_puts] == [(403, True), (200, False)]
    # It had written its start marker, so the timeout counted from its start.
    assert "minmse/TCS/minmse: no receipt 4 s after it started" in retries[1]
    # Both executions wrote the same bytes (the reference run's, checked below), the
    # first one completely before its receipt was attempted.
    best = lam.proxy.entries("PutObject", "runs/cut/stocks/TCS/models/optimized/best_params")
    assert len(best) == 2 and best[0].sha256 == best[1].sha256
    assert best[0].at < receipt_puts[0].at
    assert_same_as_reference(lam, summary, "cut")


def test_lost_events_time_out_and_are_sent_again(lam: Lambda) -> None:
    # Seed 227 drops exactly the 4th event (the first predmses) and the 11th: the
    # timingmetrics event, sent after the predmses retry. Both are recovered.
    lam.faults(Faults(drop_event_fraction=0.1, drop_seed=227))
    before = lam.counters()
    # The receipt timeout counts from the start: nothing here is slow, only lost (a 4 s
    # budget for timingmetrics' own work was too tight on a loaded machine).
    summary = forecast_pipeline(lossy(lam, run_id="dropped", timeout_s=60))
    changes = delta(before, lam.counters())
    assert changes["predmses"]["dropped"] == 1
    assert changes["timingmetrics"]["dropped"] == 1
    for stage in GRID.names:
        assert changes[stage]["executed"] == PER_STAGE[stage]
    assert changes["timingmetrics"]["executed"] == 1
    assert_same_as_reference(lam, summary, "dropped")


def test_duplicate_delivery_and_transient_s3_errors(lam: Lambda) -> None:
    # Every Event runs twice, concurrently; and the 1st, 21st, 41st, ... request of each
    # kind, from the orchestrator and the workers alike, answers 503 SlowDown, which
    # botocore's standard retry mode absorbs.
    lam.faults(Faults(duplicate_events=True))
    for op in ("GetObject", "PutObject", "HeadObject", "ListObjectsV2"):
        lam.proxy.add(op, 503, every=20)
    before = lam.counters()
    summary = forecast_pipeline(small(run_id="twice"))
    lam.endpoint.wait_idle(60)  # the second copies may still be writing
    changes = delta(before, lam.counters())
    for stage in GRID.names:
        assert changes[stage]["executed"] == 2 * PER_STAGE[stage]
    puts: dict[str, set[str | None]] = {}
    for entry in lam.proxy.entries("PutObject", "runs/twice/stocks/"):
        if not entry.injected:
            puts.setdefault(entry.key, set()).add(entry.sha256)
    assert puts and all(len(digests) == 1 for digests in puts.values())
    injected = {e.op for e in lam.proxy.entries() if e.injected}
    assert injected == {"GetObject", "PutObject", "HeadObject", "ListObjectsV2"}
    assert_same_as_reference(lam, summary, "twice")


def test_worker_past_its_timeout_fails_naming_it(lam: Lambda) -> None:
    # Each processing invocation is stuck before its handler past the maximum event age,
    # then killed: no start marker and no receipt, ever. After the retries the run fails,
    # naming the invocation.
    lam.faults(
        Faults(delay_seconds={"processing": 2 * TIMEOUT_S + 1}, fail_first={"processing": 2})
    )
    config = lossy(lam, run_id="slow", retries=1)
    before = lam.counters()
    with pytest.raises(GrovesError) as info:
        forecast_pipeline(config)
    message = str(info.value)
    assert message.startswith("1 stock(s) failed: TCS (processing: ")
    assert "processing/TCS/processing: no receipt 8 s after invoking, and it never" in message
    assert "(a lost event, or it outwaited its maximum event age in Lambda's queue)" in message
    lam.endpoint.wait_idle(30)
    changes = delta(before, lam.counters())
    assert changes["processing"]["received"] == 2  # the first try and one retry
    assert changes["processing"]["failed"] == 2
    # Nothing downstream ran, and the failure is on record for `groves report`.
    store = open_storage(lam.url)
    assert store.keys("runs/slow/receipts/processing/") == []
    assert store.keys("runs/slow/stocks/") == []
    assert store.get_json("runs/slow/summary.json")["failed"][STOCK].startswith("processing:")


def test_no_run_touched_another_runs_keys_or_the_raw_input(lam: Lambda) -> None:
    store = open_storage(lam.url)
    assert {k: store.get_bytes(k) for k in store.keys("runs/clean/")} == (lam.reference.run_objects)
    assert {k: store.get_bytes(k) for k in store.keys("raw/")} == lam.reference.raw
    prefixes = {key.split("/")[0] for key in store.keys("")}
    assert prefixes == {"raw", "runs"}
