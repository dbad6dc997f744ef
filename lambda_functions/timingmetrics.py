"""timingmetrics: the seed's five timing tables for a run, from its receipts alone."""

from __future__ import annotations

from typing import Any

from lambda_functions.events import TimingmetricsEvent
from lambda_functions.layout import SEED_BUCKET_SUFFIX, RunLayout, SeedLayout
from lambda_functions.receipts import Receipt, parse_receipt
from lambda_functions.seed_buckets import groves_store, invoke_key
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
    """Every receipt of ``functions`` in the run (seed layout: in every stock bucket; driven
    by groves: under ``groves/`` in the main bucket)."""
    event: TimingmetricsEvent = ctx.event
    layout: RunLayout | SeedLayout = ctx.layout
    if event.mainbucket:
        stores = [MeteredStorage(groves_store(event.mainbucket))]
        layout = RunLayout(event.run_id)
    elif ctx.layout.seed_mode:
        stores = [MeteredStorage(bucket_storage(b)) for b in list_buckets(SEED_BUCKET_SUFFIX)]
    else:
        stores = [ctx.store]
    receipts = []
    for store in stores:
        for function in functions:
            for info in store.list(layout.receipts_prefix(function)):
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
    invoke_ms = read_invoke_files(ctx, stages) if ctx.layout.seed_mode else {}
    for name in ("fullparallel", "sequential") if invoke_ms else ():
        # The original's parent measured each stage's invoke loop: its dispatch time.
        table = tables[name]
        for stage, ms in invoke_ms.items():
            table.loc[stage, "Invocation"] = ms
        table.loc["total", "Invocation"] = table.loc[list(stages), "Invocation"].sum()
    for name, table in tables.items():
        ctx.store.put_text(ctx.layout.timing_table_key(name), table.to_csv(lineterminator="\n"))
    return {
        "receipts": len(receipts),
        "invoke_ms": invoke_ms,
        "tables": {name: t.round(3).to_dict(orient="index") for name, t in tables.items()},
    }


def read_invoke_files(ctx: WorkContext, stages: tuple[str, ...]) -> dict[str, float]:
    """The main bucket's ``runtimes/invoke_{stage}.txt`` (ms; written by the original's
    parent, or by groves' flow in the seed layout), for the stages that have one."""
    found = {}
    for stage in stages:
        key = invoke_key(stage)
        if ctx.store.exists(key):
            found[stage] = float(ctx.store.get_text(key).strip())
    return found


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("timingmetrics", compute_timing, event, context, resolve=resolve)
