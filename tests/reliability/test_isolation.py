"""Isolation: the same run id started twice at once corrupts nothing.

(Runs with different ids on one store never touch each other's keys: the fault matrix in
test_faults.py runs six runs, failing ones included, beside the reference run on one
bucket and then checks the reference run's keys and bytes and the raw input unchanged.)
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from flows.pipeline import forecast_pipeline
from lambda_functions.errors import GrovesError
from lambda_functions.receipts import STARTED_SUFFIX
from lambda_functions.stages import GRID
from lambda_functions.storage import open_storage
from tests.reliability.conftest import PER_STAGE, Lambda, delta, mses, small, stock_outputs

pytestmark = pytest.mark.slow


def test_same_run_id_twice_at_once_converges_to_the_clean_outputs(lam: Lambda) -> None:
    outcomes: dict[int, Any] = {}

    def run(n: int) -> None:
        try:
            outcomes[n] = forecast_pipeline(small(run_id="together"))
        except GrovesError as exc:  # failing cleanly is allowed; corrupting is not
            outcomes[n] = exc

    before = lam.counters()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lam.endpoint.wait_idle(60)
    summaries = [o for o in outcomes.values() if isinstance(o, dict)]
    assert len(outcomes) == 2 and summaries, outcomes
    for summary in summaries:
        assert summary["failed"] == {}
        assert mses(summary) == mses(lam.reference.summary)
    assert stock_outputs(lam.url, "together") == lam.reference.outputs
    # Every receipt is whole and ok, one per invocation (none duplicated or torn).
    store = open_storage(lam.url)
    for stage in GRID.names:
        listed = store.keys(f"runs/together/receipts/{stage}/")
        keys = [k for k in listed if not k.endswith(STARTED_SUFFIX)]  # start markers beside
        assert len(keys) == PER_STAGE[stage]
        assert {store.get_json(k)["status"] for k in keys} == {"ok"}
    # Each invocation ran once or twice (both runs may send it), never more.
    changes = delta(before, lam.counters())
    for stage in GRID.names:
        assert PER_STAGE[stage] <= changes[stage]["executed"] <= 2 * PER_STAGE[stage]
