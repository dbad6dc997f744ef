"""processing: clean one series' raw data into train / validation / test tables.

The event's input description (`lambda_functions.inputs.InputSpec`) says where the raw
data is and which columns to read; `lambda_functions.readers` reads it."""

from __future__ import annotations

import time
from typing import Any

from lambda_functions.errors import InputDataError, ObjectNotFoundError
from lambda_functions.events import ProcessingEvent
from lambda_functions.features import build_features, split_frame
from lambda_functions.inputs import RAW_PREFIX, series_sources
from lambda_functions.layout import SPLITS, RunLayout, SeedLayout, SingleBucketLayout, StockSpace
from lambda_functions.perstock import Stopwatch, write_runtimes, write_split
from lambda_functions.readers import read_series
from lambda_functions.stages import Stage
from lambda_functions.storage import MeteredStorage, bucket_storage, open_storage
from lambda_functions.worker import WorkContext, run_worker


def resolve(stage: Stage, event: ProcessingEvent) -> WorkContext:
    """Raw input from the main bucket (seed) or the root; outputs to the stock's space."""
    stock = event.stock_name
    layout: RunLayout | SeedLayout | SingleBucketLayout
    if event.single_bucket:  # the per-stock pipeline's original: one bucket for everything
        store = raw = MeteredStorage(bucket_storage(event.bucket or ""))
        layout = SingleBucketLayout()
    elif event.seed_mode:
        raw = MeteredStorage(bucket_storage(event.inbucket or ""))
        store = MeteredStorage(bucket_storage(event.outbucket or ""))
        layout = SeedLayout()
    else:
        store = raw = MeteredStorage(open_storage(event.store or ""))
        layout = RunLayout(event.run_id)
    space = StockSpace(stock, event.fmt, prefix=layout.stock_prefix(stock))
    return WorkContext(stage, event, layout, store, space=space, raw_store=raw)


def process_stock(ctx: WorkContext) -> dict[str, Any]:
    """Read the raw series, build lags and target, split, write the three tables."""
    watch = Stopwatch()
    event: ProcessingEvent = ctx.event
    assert ctx.space is not None and ctx.raw_store is not None
    stock = event.stock_name
    if event.seed_mode:  # the seed's main bucket: raw/{file}, nothing to look up
        key = RAW_PREFIX + (event.file or "")
        info = ctx.raw_store.head(key)
        if info is None:
            raise ObjectNotFoundError(key, ctx.raw_store.url)
        sources = [info]
    else:
        try:
            sources = series_sources(ctx.raw_store, event.input, stock, event.file)
        except InputDataError:
            if event.input.long:
                raise
            key = RAW_PREFIX + event.file if event.file else event.input.file_key(stock)
            raise ObjectNotFoundError(key, ctx.raw_store.url) from None
    if len(sources) == 1 and sources[0].size == 0:
        raise InputDataError(f"{sources[0].key}: the file is empty; upload it again")
    started = time.perf_counter()
    raw = read_series(ctx.raw_store, event.input, stock, sources, event.indicator_columns)
    # Parsing is interleaved with the streamed download; count it all as read time.
    ctx.extra_read_s += time.perf_counter() - started
    ctx.extra_bytes_read += raw.bytes_read
    name = raw.keys[0] if len(raw.keys) == 1 else f"raw/{event.input.files}"
    if event.input.long:
        name += f" [{stock}]"
    frame = build_features(raw.frame, name, event.indicator_columns, event.feature_spec)
    parts = split_frame(frame, event.split)
    watch.mark_writes()
    for split in SPLITS:
        write_split(ctx, ctx.space.processed(split), parts[split])
    write_runtimes(ctx, "processing", watch)
    dates = {s: (str(p.index.min()), str(p.index.max())) for s, p in parts.items()}
    return {
        "raw_key": raw.keys[0] if len(raw.keys) == 1 else list(raw.keys),
        "raw_size": sum(info.size for info in sources),
        "raw_etag": sources[0].etag if len(sources) == 1 else None,
        "rows": {s: len(p) for s, p in parts.items()},
        "date_range": dates,
    }


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("processing", process_stock, event, context, resolve=resolve)
