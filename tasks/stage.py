"""The Prefect task that runs one stage for one stock: invoke its workers, await receipts.

Caching: receipts are the source of truth, and a stage whose receipts are all in place is
also a Prefect cache hit keyed on exactly those receipts (`stage_cache_key`). The key is
only known once the receipts exist, so a stage that ran writes its own cache record at the
end (`_remember`): the next run of the same configuration is a cache hit, not only the one
after it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from typing import Any

from prefect import task
from prefect.context import TaskRunContext
from prefect.runtime import task_run

from lambda_functions.names import series_key
from lambda_functions.stages import stage as registered
from lambda_functions.worker import CODE_VERSION
from tasks import runtime as runtimes
from tasks.awaiting import run_invocations
from tasks.invocations import Invocation, plan, plan_stage, stage_events
from tasks.runtime import Runtime

logger = logging.getLogger(__name__)
LAMBDA_LIMIT_NAME = "groves-lambda-inflight"


def receipts_key(
    runtime: Runtime,
    stage: str,
    stock: str,
    input_id: str,
    invocations: Iterable[Invocation] | None = None,
) -> str | None:
    """The cache key of a stage whose receipts are all in place, else None.

    It covers the events (so the configuration and the raw input's identity), the code
    version and every receipt's ETag: if any receipt is missing (deleted, or a run was
    killed) there is no key and the stage resumes invocation by invocation; if any
    changed, the key changes. ``invocations``: the stage's, if already planned; else
    they are planned one at a time, so a first run stops at its first missing receipt."""
    if runtime.config.refresh:
        return None
    if invocations is None:
        events = stage_events(stage, stock, runtime.config, input_id)
        invocations = (plan(stage, event) for event in events)
    digest = hashlib.sha256(CODE_VERSION.encode())
    for inv in invocations:
        info = runtime.store.head(inv.receipt_key)
        if info is None:
            return None
        digest.update(f"|{inv.fingerprint}:{info.etag}".encode())
    return f"groves-{stage}-{series_key(stock)}-{digest.hexdigest()[:32]}"


def stage_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
    """Prefect's ``cache_key_fn`` for `run_stage` (see `receipts_key`)."""
    runtime = runtimes.find()
    if runtime is None:
        return None
    return receipts_key(runtime, parameters["stage"], parameters["stock"], parameters["input_id"])


@task(
    name="run-stage",
    task_run_name="{stage}-{stock}",
    retries=2,
    retry_delay_seconds=[2, 8, 30],
    retry_jitter_factor=0.5,
    cache_key_fn=stage_cache_key,
    persist_result=True,
)
def run_stage(stage: str, stock: str, input_id: str) -> dict[str, Any]:
    """Invoke one stage's workers for one stock and await their receipts."""
    runtime = runtimes.current()
    invocations = plan_stage(stage, stock, runtime.config, input_id)
    attempt = max(int(task_run.run_count or 1), 1)
    if attempt == 1:
        runtime.progress.add_total(stage, len(invocations))
    with _inflight_slots(runtime, len(invocations)):
        outcome = run_invocations(
            runtime.executor,
            runtime.store,
            invocations,
            attempt=attempt,
            reuse=not runtime.config.refresh,
            options=runtime.await_options,
            progress=runtime.progress,
        )
    spec = registered(stage)
    result = {
        "stage": stage,
        "stock": stock,
        "invocations": len(outcome.receipts),
        "executed": outcome.executed,
        "reused": outcome.reused,
        "compute_ms": sum(r.compute_ms for r in outcome.receipts),
        "results": [] if spec.bulk else [r.result for r in outcome.receipts],
    }
    if outcome.executed:
        _remember(runtime, invocations, result, input_id)
    return result


def _remember(
    runtime: Runtime, invocations: list[Invocation], result: dict[str, Any], input_id: str
) -> None:
    """Cache what a rerun would return (everything reused) under the receipts' key."""
    from prefect.results import get_result_store

    stage, stock = result["stage"], result["stock"]
    key = receipts_key(runtime, stage, stock, input_id, invocations)
    if key is None:
        return
    rerun = {**result, "executed": 0, "reused": result["invocations"]}
    try:
        get_result_store().write(obj=rerun, key=key)
    except Exception as exc:  # a cache write must not fail a finished stage
        logger.warning("could not cache %s-%s: %s", stage, stock, exc)


class _inflight_slots:
    """Hold Prefect global-concurrency slots for in-flight Lambda invocations."""

    def __init__(self, runtime: Runtime, count: int) -> None:
        self.active = runtime.executor.kind == "lambda"
        self.count = min(count, runtime.inflight_cap or runtime.config.max_in_flight)
        self._cm: Any = None

    def __enter__(self) -> None:
        if self.active:
            from prefect.concurrency.sync import concurrency

            self._cm = concurrency(LAMBDA_LIMIT_NAME, occupy=self.count)
            self._cm.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self._cm is not None:
            self._cm.__exit__(*exc)


def ensure_concurrency_limit(limit: int) -> None:
    """Create or update the global concurrency limit that caps in-flight Lambda invocations."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(LAMBDA_LIMIT_NAME)
            client.update_global_concurrency_limit(
                LAMBDA_LIMIT_NAME, GlobalConcurrencyLimitUpdate(limit=limit, active=True)
            )
        except ObjectNotFound:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=LAMBDA_LIMIT_NAME, limit=limit, active=True)
            )
