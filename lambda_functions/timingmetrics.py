"""timingmetrics: the seed's five timing tables for a run, from its receipts alone."""

from __future__ import annotations

import json
from typing import Any

from lambda_functions.events import TimingmetricsEvent
from lambda_functions.layout import SEED_BUCKET_SUFFIX, RunLayout
from lambda_functions.storage import MeteredStorage, bucket_storage, list_buckets, open_storage
from lambda_functions.timing import STAGES, table_file_name, timing_tables
from lambda_functions.worker import WorkContext, run_worker


def resolve(function: str, event: TimingmetricsEvent) -> WorkContext:
    if event.seed_mode:
        store = MeteredStorage(bucket_storage(event.inbucket))
        return WorkContext(function, event, RunLayout(seed_mode=True), store)
    store = MeteredStorage(open_storage(event.store or ""))
    return WorkContext(function, event, RunLayout(False, store.inner, event.run_id), store)


def load_receipts(ctx: WorkContext) -> list[dict[str, Any]]:
    """Every worker receipt of the run (seed mode: of every stock bucket)."""
    if ctx.layout.seed_mode:
        stores = [MeteredStorage(bucket_storage(b)) for b in list_buckets(SEED_BUCKET_SUFFIX)]
    else:
        stores = [ctx.store]
    receipts = []
    for store in stores:
        for info in store.list(ctx.layout.receipts_prefix()):
            if info.key.endswith(".json"):
                receipt = json.loads(store.get_bytes(info.key))
                if receipt.get("function") in STAGES:
                    receipts.append(receipt)
        if store is not ctx.store:
            ctx.extra_read_s += store.read_s
            ctx.extra_bytes_read += store.bytes_read
    return receipts


def compute_timing(ctx: WorkContext) -> dict[str, Any]:
    receipts = load_receipts(ctx)
    tables = timing_tables(receipts)
    prefix = ctx.layout.timing_prefix()
    for name, table in tables.items():
        ctx.store.put_text(prefix + table_file_name(name), table.to_csv(lineterminator="\n"))
    return {
        "receipts": len(receipts),
        "tables": {name: t.round(3).to_dict(orient="index") for name, t in tables.items()},
    }


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker(
        "timingmetrics", TimingmetricsEvent, compute_timing, event, context, resolve=resolve
    )
