"""metrics: the per-stock pipeline's run summary (the original's Checkpoint-2 metrics).

Per stock, processing's and modeling's runtime before the S3 writes (``pres3``) and after
them (``posts3``), in milliseconds, and the test MSE; across stocks, the sum and the
maximum of each runtime, of their differences (the S3 writes), and the average MSE.

Seed form ``{}`` (or ``{"bucket": B}``): the original's runtime and MSE ``.txt`` files in
its one bucket (default ``ds5110s3``). Ours ``{"store", "run_id"}``: the run's receipts
(``pres3`` = end - start - write time, ``posts3`` = end - start) and MSE files, with the
persistence MSE beside each stock's.
"""

from __future__ import annotations

import io
import math
from typing import Any

import pandas as pd

from lambda_functions.errors import MissingOutputError
from lambda_functions.events import MetricsEvent
from lambda_functions.layout import SEED_MAIN_BUCKET, RunLayout, SingleBucketLayout, StockSpace
from lambda_functions.names import series_from_key
from lambda_functions.receipts import parse_receipt
from lambda_functions.stages import Stage
from lambda_functions.storage import MeteredStorage, bucket_storage, open_storage
from lambda_functions.worker import WorkContext, run_worker

TIMED = ("processing", "modeling")


def resolve(stage: Stage, event: MetricsEvent) -> WorkContext:
    if event.seed_mode:
        store = MeteredStorage(bucket_storage(event.bucket or SEED_MAIN_BUCKET))
        return WorkContext(stage, event, SingleBucketLayout(), store)
    store = MeteredStorage(open_storage(event.store or ""))
    return WorkContext(stage, event, RunLayout(event.run_id), store)


def _stocks(ctx: WorkContext) -> list[str]:
    """The event's stocks, else every stock with an MSE file (seed) or predict receipt."""
    event: MetricsEvent = ctx.event
    if event.stocks:
        return list(event.stocks)
    if isinstance(ctx.layout, SingleBucketLayout):
        prefix, suffix = "models/mses/", ".txt"
    else:
        prefix, suffix = ctx.layout.receipts_prefix("predict"), "/predict.json"
    names = []
    for info in ctx.store.list(prefix):
        rest = info.key[len(prefix) :]
        if rest.endswith(suffix) and "/" not in rest[: -len(suffix)]:
            names.append(series_from_key(rest[: -len(suffix)]))
    return sorted(names)


def _number(ctx: WorkContext, key: str) -> float:
    if not ctx.store.exists(key):
        raise MissingOutputError(f"no {key} in {ctx.store.url}: run that stock's stage first")
    return float(ctx.store.get_text(key).strip())


def _seed_row(ctx: WorkContext, stock: str) -> dict[str, float]:
    space = StockSpace(stock, "csv")
    row = {"mse": _number(ctx, space.stock_mse())}
    for stage in TIMED:
        for when in ("pres3", "posts3"):
            row[f"{stage}_{when}"] = _number(ctx, space.stock_runtime(stage, when))
    return row


def _run_row(ctx: WorkContext, stock: str) -> dict[str, float]:
    layout = ctx.layout
    assert isinstance(layout, RunLayout)
    space = StockSpace(stock, "parquet", prefix=layout.stock_prefix(stock))
    row = {"mse": _number(ctx, space.stock_mse())}
    if ctx.store.exists(space.final_mse()):
        scores = pd.read_csv(io.BytesIO(ctx.store.get_bytes(space.final_mse()))).iloc[0]
        row["persistence_mse"] = float(scores["persistence_mse"])
    for stage in TIMED:
        key = layout.receipt_key(stage, stock, stage)
        if not ctx.store.exists(key):
            raise MissingOutputError(f"{stock}: no {stage} receipt ({key}); run {stage} first")
        receipt = parse_receipt(ctx.store.get_bytes(key), key)
        total = (receipt.end - receipt.start) * 1000
        row[f"{stage}_pres3"] = max(total - receipt.write_ms, 0.0)
        row[f"{stage}_posts3"] = total
    return row


def summarize(per_stock: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Sums, maxima and pre/post-S3 differences of the runtimes; average MSE (and ratio)."""
    frame = pd.DataFrame.from_dict(per_stock, orient="index")
    result: dict[str, Any] = {"stocks": len(frame)}
    for stage in TIMED:
        pre, post = frame[f"{stage}_pres3"], frame[f"{stage}_posts3"]
        s3 = post - pre
        result[stage] = {
            "pres3_sum_ms": float(pre.sum()),
            "pres3_max_ms": float(pre.max()),
            "posts3_sum_ms": float(post.sum()),
            "posts3_max_ms": float(post.max()),
            "s3_sum_ms": float(s3.sum()),
            "s3_max_ms": float(s3.max()),
        }
    result["average_mse"] = float(frame["mse"].mean())
    if "persistence_mse" in frame:
        result["average_persistence_mse"] = float(frame["persistence_mse"].mean())
        ratios = frame["mse"] / frame["persistence_mse"]
        result["average_ratio"] = float(ratios.mean()) if ratios.notna().all() else math.nan
    result["per_stock"] = {s: dict(row) for s, row in per_stock.items()}
    return result


def compute_metrics(ctx: WorkContext) -> dict[str, Any]:
    stocks = _stocks(ctx)
    if not stocks:
        raise MissingOutputError(f"no stock has a test MSE in {ctx.store.url}: run predict first")
    row = _seed_row if isinstance(ctx.layout, SingleBucketLayout) else _run_row
    return summarize({stock: row(ctx, stock) for stock in stocks})


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("metrics", compute_metrics, event, context, resolve=resolve)
