"""Lambda concurrency as it really is: events queued by Lambda, the account's and functions'
limits, sustained throttling. Flow runs through the real boto3 clients against the
session's `LocalLambdaEndpoint` (which queues Event invocations over its cap, as Lambda
does) and moto's S3; each run must reproduce the clean reference run exactly.
"""

from __future__ import annotations

import pytest

from flows.pipeline import forecast_pipeline
from groves.lambda_endpoint import Faults
from lambda_functions.receipts import parse_receipt
from lambda_functions.stages import GRID
from lambda_functions.storage import open_storage
from tests.reliability.conftest import (
    PER_STAGE,
    Lambda,
    captured_logs,
    delta,
    mses,
    small,
    stock_outputs,
)

pytestmark = pytest.mark.slow
TIMEOUT_S = 4.0


def assert_same_as_reference(lam: Lambda, summary: dict, run_id: str) -> None:
    assert summary["failed"] == {}
    assert mses(summary) == mses(lam.reference.summary)
    assert stock_outputs(lam.url, run_id) == lam.reference.outputs


def retried(lines: list[str]) -> list[str]:
    return [line for line in lines if "Retry 1/" in line]


def test_a_queued_event_is_not_sent_again(lam: Lambda) -> None:
    # parampreds may run one at a time (reserved concurrency 1) and each waits 3 s before
    # its handler: the second grove's event waits in the endpoint's queue, then runs, and
    # its receipt comes later than the receipt timeout (4 s) would allow from the invoke.
    # The timeout counts from its start marker instead: it is sent exactly once.
    lam.endpoint.set_limits(reserved={"parampreds": 1}, max_event_age_s=60)
    lam.faults(Faults(delay_seconds={"parampreds": 3.0}))
    before = lam.counters()
    with captured_logs() as logs:
        summary = forecast_pipeline(small(run_id="queued", timeout_s=TIMEOUT_S, max_event_age_s=60))
    changes = delta(before, lam.counters())
    assert changes["parampreds"]["queued"] >= 1
    for stage in GRID.names:  # one invocation per unit, none sent twice
        assert changes[stage]["received"] == PER_STAGE[stage], stage
        assert changes[stage]["executed"] == PER_STAGE[stage], stage
    assert retried(logs) == []
    store = open_storage(lam.url)
    late = []
    for key in store.keys("runs/queued/receipts/parampreds/"):
        if key.endswith(".json"):
            receipt = parse_receipt(store.get_bytes(key))
            late.append(receipt.end - receipt.event["invoked_at"])
    assert max(late) > TIMEOUT_S  # the old rule would have called it lost and re-sent it
    # The cap came from the function's reservation, and the log says so.
    assert any("capped at 1 (reserved concurrency of groves-parampreds" in line for line in logs), (
        logs
    )
    assert_same_as_reference(lam, summary, "queued")


def test_a_dropped_event_is_sent_again_after_the_maximum_event_age(lam: Lambda) -> None:
    # The first parampreds event is dropped (accepted, never run). The run's maximum event
    # age equals the endpoint's (the rule: never shorter, or an event still queued would
    # be sent again and run twice), so the dropped one is re-sent once it could no longer
    # be waiting in the queue; the other runs once.
    age = 8.0
    lam.endpoint.set_limits(max_event_age_s=age)
    lam.faults(Faults(drop_first={"parampreds": 1}))
    before = lam.counters()
    with captured_logs() as logs:
        summary = forecast_pipeline(
            small(run_id="dropped-queued", timeout_s=TIMEOUT_S, max_event_age_s=age)
        )
    changes = delta(before, lam.counters())
    assert changes["parampreds"]["dropped"] == 1
    assert changes["parampreds"].get("expired", 0) == 0
    assert changes["parampreds"]["received"] == PER_STAGE["parampreds"] + 1
    assert changes["parampreds"]["executed"] == PER_STAGE["parampreds"]  # exactly once each
    [retry] = [line for line in retried(logs) if "parampreds" in line]
    assert "no receipt 16 s after invoking, and it never started" in retry
    assert "1 of 2 invocation(s) failed" in retry
    assert_same_as_reference(lam, summary, "dropped-queued")


def test_sustained_throttling_slows_the_run_down_and_it_completes(lam: Lambda) -> None:
    # Every 2nd Invoke call of the whole run answers 429, some with a Retry-After.
    lam.faults(Faults(throttle_every=2, retry_after_s=None))
    before = lam.counters()
    with captured_logs() as logs:
        summary = forecast_pipeline(small(run_id="throttled"))
    changes = delta(before, lam.counters())
    received = sum(c.get("received", 0) for c in changes.values())
    throttled = sum(c.get("throttled", 0) for c in changes.values())
    assert throttled == received // 2
    for stage in GRID.names:
        assert changes[stage]["executed"] == PER_STAGE[stage], stage  # none twice, none lost
    assert retried(logs) == []
    assert_same_as_reference(lam, summary, "throttled")


def test_the_cap_is_the_accounts_unreserved_concurrency(lam: Lambda) -> None:
    from tasks.lambda_limits import run_cap

    config = small(run_id="cap")
    cap = run_cap(config)
    assert (cap.value, cap.source) == (3, "account unreserved concurrency")
    assert cap.figures == {"--max-in-flight": 900, "account unreserved concurrency": 3}
    lam.endpoint.set_limits(reserved={"trainfull": 1})
    cap = run_cap(config)
    assert (cap.value, cap.source) == (1, "reserved concurrency of groves-trainfull")
    assert cap.figures["account unreserved concurrency"] == 2
    # --max-in-flight can only lower it.
    lower = run_cap(small(run_id="cap", max_in_flight=1))
    assert lower.value == 1
    lam.endpoint.set_limits(reserved={})
    assert run_cap(small(run_id="cap", max_in_flight=2)).source == "--max-in-flight"
