"""timingmetrics: the seed's five timing tables for a run, from its receipts alone."""

from __future__ import annotations

from typing import Any

from lambda_functions.events import TimingmetricsEvent
from lambda_functions.layout import SEED_BUCKET_SUFFIX, RunLayout, SeedLayout
from lambda_functions.receipts import Receipt, parse_receipt
from lambda_functions.stages import Stage, pipeline
from lambda_functions.storage import MeteredStorage, bucket_storage, list_buckets, open_storage
from lambda_functions.timing import timing_tables
from lambda_functions.worker import WorkContext, run_worker


def resolve(stage: Stage, event: TimingmetricsEvent) -> WorkContext:
    """Seed form: the main bucket; ours: the run's root."""
    if event.seed_mode:
        store = MeteredStorage(bucket_storage(event.inbucket))
        return WorkContext(stage, event, SeedLayout(), store)
    store = MeteredStorage(open_storage(event.store or ""))
    return WorkContext(stage, event, RunLayout(event.run_id), store)


def load_receipts(ctx: WorkContext, functions: tuple[str, ...]) -> list[Receipt]:
    """Every receipt of ``functions`` in the run (seed layout: in every stock bucket)."""
    if ctx.layout.seed_mode:
        stores = [MeteredStorage(bucket_storage(b)) for b in list_buckets(SEED_BUCKET_SUFFIX)]
    else:
        stores = [ctx.store]
    receipts = []
    for store in stores:
        for function in functions:
            for info in store.list(ctx.layout.receipts_prefix(function)):
                if info.key.endswith(".json"):
                    data = store.get_bytes(info.key)
                    receipts.append(parse_receipt(data, f"{store.url}/{info.key}"))
        if store is not ctx.store:
            ctx.extra_read_s += store.read_s
            ctx.extra_bytes_read += store.bytes_read
    return receipts


def compute_timing(ctx: WorkContext) -> dict[str, Any]:
    """Write the five tables; return them (rounded) and how many receipts they cover."""
    event: TimingmetricsEvent = ctx.event
    stages = pipeline(event.pipeline).names
    receipts = load_receipts(ctx, stages)
    tables = timing_tables(receipts, stages)
    for name, table in tables.items():
        ctx.store.put_text(ctx.layout.timing_table_key(name), table.to_csv(lineterminator="\n"))
    return {
        "receipts": len(receipts),
        "tables": {name: t.round(3).to_dict(orient="index") for name, t in tables.items()},
    }


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("timingmetrics", compute_timing, event, context, resolve=resolve)
