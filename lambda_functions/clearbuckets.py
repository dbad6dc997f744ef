"""clearbuckets: delete one run's outputs (seed mode: empty the stock buckets).

Raw input is never deleted: in default mode only ``runs/{run_id}/`` is removed; in seed
mode only buckets named ``*-ds5110s3bucket`` are emptied, never the input bucket.
"""

from __future__ import annotations

from typing import Any

from lambda_functions.errors import InvalidEventError
from lambda_functions.events import ClearbucketsEvent
from lambda_functions.layout import SEED_BUCKET_SUFFIX, RunLayout
from lambda_functions.storage import MeteredStorage, bucket_storage, list_buckets, open_storage
from lambda_functions.worker import WorkContext, run_worker


def resolve(function: str, event: ClearbucketsEvent) -> WorkContext:
    if event.seed_mode:
        store = MeteredStorage(bucket_storage("ds5110s3"))
        return WorkContext(function, event, RunLayout(seed_mode=True), store)
    store = MeteredStorage(open_storage(event.store or ""))
    return WorkContext(function, event, RunLayout(False, store.inner, event.run_id), store)


def clear(ctx: WorkContext) -> dict[str, Any]:
    event: ClearbucketsEvent = ctx.event  # type: ignore[assignment]
    if not ctx.layout.seed_mode:
        deleted = ctx.store.delete_prefix(ctx.layout.run_prefix())
        return {"deleted": deleted, "prefix": ctx.layout.run_prefix()}
    buckets = list(event.buckets) if event.buckets else list_buckets(SEED_BUCKET_SUFFIX)
    for name in buckets:
        if not name.endswith(SEED_BUCKET_SUFFIX):
            raise InvalidEventError(
                f"refusing to empty bucket {name!r}: only stock buckets "
                f"(*{SEED_BUCKET_SUFFIX}) are cleared, never the raw input"
            )
    deleted = {name: MeteredStorage(bucket_storage(name)).delete_prefix("") for name in buckets}
    return {"deleted": deleted}


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("clearbuckets", ClearbucketsEvent, clear, event, context, resolve=resolve)
