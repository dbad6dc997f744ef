"""run_invocations under invocation errors, without Prefect: an invoke that fails outright
(throttled past botocore's retries) is named, the others are still awaited, and only
failures a retry might cure are marked retryable."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_functions.errors import WorkerFailedError
from lambda_functions.storage import open_storage
from tasks.awaiting import AwaitOptions, run_invocations
from tasks.invocations import plan
from tests.receipts import make_receipt


class FakeExecutor:
    """Writes the receipt each event's function would write, or fails as told."""

    kind = "lambda"

    def __init__(self, url: str, behaviour: dict[str, str]) -> None:
        self.store = open_storage(url)
        self.behaviour = behaviour  # function -> "ok" | "throttled" | error type
        self.sent: list[str] = []

    def submit(self, function: str, event: dict[str, Any]) -> Future[Any] | None:
        how = self.behaviour[function]
        if how == "throttled":
            raise ClientError(
                {"Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}},
                "Invoke",
            )
        self.sent.append(function)
        inv = plan(function, event)
        outcome: dict[str, Any] = {"status": "ok"}
        if how != "ok":
            outcome = {"status": "error", "error_type": how, "error": "bad"}
        receipt = make_receipt(
            function=function,
            unit=inv.unit,
            stock=inv.stock,
            event=event,
            fingerprint=inv.fingerprint,
            attempt=event["attempt"],
            **outcome,
        )
        self.store.put_bytes(inv.receipt_key, receipt.to_json())
        return None

    def close(self) -> None:
        pass


def invocations(url: str) -> list[Any]:
    base = {"store": url, "run_id": "inv", "stock": "TCS"}
    return [
        plan("minmse", {**base, "grid": {"max_features": [5], "min_samples_split": [5]}}),
        plan("testfull", {**base, "groves": 2}),
    ]


@pytest.mark.parametrize(
    ("behaviour", "named", "permanent"),
    [
        (
            {"minmse": "throttled", "testfull": "ok"},
            "minmse/TCS/minmse: could not invoke: ClientError: An error occurred "
            "(TooManyRequestsException) when calling the Invoke operation: Rate Exceeded.",
            False,
        ),
        (
            {"minmse": "InputDataError", "testfull": "InvalidEventError"},
            "minmse/TCS/minmse: InputDataError: bad",
            True,
        ),
        (
            {"minmse": "InputDataError", "testfull": "StorageError"},
            "testfull/TCS/testfull: StorageError: bad",
            False,
        ),
    ],
    ids=["throttled-past-retries", "bad-input-only", "bad-input-and-storage"],
)
def test_failures_are_named_and_classified(
    local_store: str, behaviour: dict[str, str], named: str, permanent: bool
) -> None:
    executor = FakeExecutor(local_store, behaviour)
    invs = invocations(local_store)
    with pytest.raises(WorkerFailedError) as info:
        run_invocations(executor, executor.store, invs, options=AwaitOptions(timeout_s=5))
    assert named in str(info.value)
    assert info.value.permanent is permanent
    # Whatever could be sent was sent and awaited; a retry sends only what is missing.
    assert executor.sent == [f for f, how in behaviour.items() if how != "throttled"]
    if behaviour["testfull"] == "ok":
        executor.behaviour["minmse"] = "ok"
        outcome = run_invocations(executor, executor.store, invs, attempt=2)
        assert (outcome.executed, outcome.reused) == (1, 1)
