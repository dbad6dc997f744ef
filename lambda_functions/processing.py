"""processing: clean one stock's raw minute data into train / validation / test tables."""

from __future__ import annotations

import time
from typing import Any

from lambda_functions.errors import InputDataError, ObjectNotFoundError
from lambda_functions.events import ProcessingEvent
from lambda_functions.features import build_features, read_raw, split_frame
from lambda_functions.layout import SPLITS, RunLayout, SeedLayout, StockSpace, raw_key
from lambda_functions.stages import Stage
from lambda_functions.storage import MeteredStorage, bucket_storage, open_storage
from lambda_functions.tables import write_table
from lambda_functions.worker import WorkContext, run_worker


def resolve(stage: Stage, event: ProcessingEvent) -> WorkContext:
    """Raw input from the main bucket (seed) or the root; outputs to the stock's space."""
    stock = event.stock_name
    layout: RunLayout | SeedLayout
    if event.seed_mode:
        raw = MeteredStorage(bucket_storage(event.inbucket or ""))
        store = MeteredStorage(bucket_storage(event.outbucket or ""))
        layout = SeedLayout()
    else:
        store = raw = MeteredStorage(open_storage(event.store or ""))
        layout = RunLayout(event.run_id)
    space = StockSpace(stock, event.fmt, prefix=layout.stock_prefix(stock))
    return WorkContext(stage, event, layout, store, space=space, raw_store=raw)


def process_stock(ctx: WorkContext) -> dict[str, Any]:
    """Read the raw file, build lags and target, split, write the three tables."""
    event: ProcessingEvent = ctx.event
    assert ctx.space is not None and ctx.raw_store is not None
    key = f"raw/{event.file}" if event.file else raw_key(event.stock_name)
    info = ctx.raw_store.head(key)
    if info is None:
        raise ObjectNotFoundError(key, ctx.raw_store.url)
    if info.size == 0:
        raise InputDataError(f"{key}: the file is empty; upload the Kaggle CSV again")
    started = time.perf_counter()
    with ctx.raw_store.open_read(key) as stream:
        raw = read_raw(stream, key, event.indicator_columns)
    # Parsing is interleaved with the streamed download; count it all as read time.
    ctx.extra_read_s += time.perf_counter() - started
    ctx.extra_bytes_read += info.size
    frame = build_features(raw, key, event.indicator_columns)
    parts = split_frame(frame, event.split)
    for split in SPLITS:
        write_table(ctx.store, ctx.space.processed(split), parts[split])
    dates = {s: (str(p.index.min()), str(p.index.max())) for s, p in parts.items()}
    return {
        "raw_key": key,
        "raw_size": info.size,
        "raw_etag": info.etag,
        "rows": {s: len(p) for s, p in parts.items()},
        "date_range": dates,
    }


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("processing", process_stock, event, context, resolve=resolve)
