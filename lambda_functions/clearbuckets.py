"""clearbuckets: delete one run's outputs (seed layout: empty the stock buckets).

Raw input is never deleted: in the run layout only ``runs/{run_id}/`` is removed; in the
seed layout only buckets named ``*-ds5110s3bucket`` are emptied, never the input bucket.
"""

from __future__ import annotations

from typing import Any

from lambda_functions.errors import InvalidEventError
from lambda_functions.events import ClearbucketsEvent
from lambda_functions.layout import (
    SEED_BUCKET_SUFFIX,
    SEED_MAIN_BUCKET,
    TIMING_FOLDER,
    RunLayout,
    SeedLayout,
)
from lambda_functions.seed_buckets import INVOKE_FOLDER, STOCK_OUTPUT_PREFIXES, groves_store
from lambda_functions.stages import Stage
from lambda_functions.storage import MeteredStorage, bucket_storage, list_buckets, open_storage
from lambda_functions.worker import WorkContext, run_worker


def resolve(stage: Stage, event: ClearbucketsEvent) -> WorkContext:
    """Seed form: the main bucket (its receipt goes there); ours: the run's root."""
    if event.seed_mode:
        store = MeteredStorage(bucket_storage(event.mainbucket or SEED_MAIN_BUCKET))
        return WorkContext(stage, event, SeedLayout(), store)
    store = MeteredStorage(open_storage(event.store or ""))
    return WorkContext(stage, event, RunLayout(event.run_id), store)


def clear(ctx: WorkContext) -> dict[str, Any]:
    event: ClearbucketsEvent = ctx.event
    if isinstance(ctx.layout, RunLayout):
        prefix = ctx.layout.run_prefix()
        return {"deleted": ctx.store.delete_prefix(prefix), "prefix": prefix}
    if event.mainbucket:
        return clear_seed_run(ctx)
    buckets = list(event.buckets) if event.buckets else list_buckets(SEED_BUCKET_SUFFIX)
    for name in buckets:
        if not name.endswith(SEED_BUCKET_SUFFIX):
            raise InvalidEventError(
                f"refusing to empty bucket {name!r}: only stock buckets "
                f"(*{SEED_BUCKET_SUFFIX}) are cleared, never the raw input"
            )
    deleted = {name: MeteredStorage(bucket_storage(name)).delete_prefix("") for name in buckets}
    return {"deleted": deleted}


def clear_seed_run(ctx: WorkContext) -> dict[str, Any]:
    """A seed-layout run driven by groves: its stock buckets' outputs (``processed/``,
    ``models/``), the main bucket's ``timingmetrics/`` and ``runtimes/invoke_*.txt``, and
    the run's files under ``groves/``. Never ``raw/``, never anything else."""
    event: ClearbucketsEvent = ctx.event
    main = event.mainbucket or SEED_MAIN_BUCKET
    if not event.buckets:
        raise InvalidEventError("name the run's stock buckets to clear ('buckets')")
    deleted: dict[str, int] = {}
    for name in event.buckets:
        if name == main:
            raise InvalidEventError(
                f"refusing to empty the main bucket {name!r}: it holds the raw input"
            )
        bucket = bucket_storage(name)
        deleted[name] = sum(bucket.delete_prefix(p) for p in STOCK_OUTPUT_PREFIXES)
    count = ctx.store.delete_prefix(TIMING_FOLDER)
    for info in list(ctx.store.list(INVOKE_FOLDER)):
        if info.key.rsplit("/", 1)[-1].startswith("invoke_"):
            count += ctx.store.delete_prefix(info.key)
    count += groves_store(main).delete_prefix(RunLayout(event.run_id).run_prefix())
    deleted[main] = count
    return {"deleted": deleted}


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("clearbuckets", clear, event, context, resolve=resolve)
