"""The per-stock pipeline's shared parts (the original's Checkpoint-2 system).

One invocation per stock and stage: ``processing`` (the shared stage), ``modeling`` (an
in-process grid search on validation, then the best cell refit on training + validation),
``predict`` (the test MSE) and, once per run, ``metrics``.

Two layouts:

* run mode (``{"store", "run_id", "stock"}``): the run's stock space, Parquet tables, as
  the grid pipeline (`lambda_functions.layout.RunLayout`);
* seed mode (the literal ``{"bucket", "stock"}``): the original's single bucket
  (`lambda_functions.layout.SingleBucketLayout`): CSV tables without an index column and
  the original's ``runtimes/pres3|posts3/{STOCK}.txt`` files (milliseconds).
"""

from __future__ import annotations

import io
import time
from typing import Any, Literal

import pandas as pd

from lambda_functions.errors import MissingOutputError
from lambda_functions.layout import SingleBucketLayout
from lambda_functions.receipts import parse_receipt
from lambda_functions.stages import Stage
from lambda_functions.tables import read_table, write_table
from lambda_functions.worker import WorkContext, stock_context

MODELING_UNIT = "modeling"  # the modeling receipt's unit (one invocation per stock)


def perstock_context(stage: Stage, event: Any) -> WorkContext:
    """Seed form: the one bucket (`SingleBucketLayout`); ours: the run's stock space."""
    return stock_context(stage, event, seed_layout=SingleBucketLayout)


def single_bucket(ctx: WorkContext) -> bool:
    return bool(getattr(ctx.layout, "single_bucket", False))


def write_split(ctx: WorkContext, key: str, frame: pd.DataFrame) -> None:
    """A processed split: single bucket as the original (CSV, no index column), else as
    every other table (`lambda_functions.tables`)."""
    if single_bucket(ctx):
        ctx.store.put_bytes(key, frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    else:
        write_table(ctx.store, key, frame)


def read_split(ctx: WorkContext, split: str) -> pd.DataFrame:
    """A processed split written by `write_split` (or the grid pipeline's processing)."""
    assert ctx.space is not None
    key = ctx.space.processed(split)
    if not ctx.store.exists(key):
        raise MissingOutputError(
            f"{ctx.space.stock}: no processed {split} split ({key}); run processing first"
        )
    if single_bucket(ctx):
        return pd.read_csv(io.BytesIO(ctx.store.get_bytes(key)))
    return read_table(ctx.store, key)


class Stopwatch:
    """Milliseconds since a work function started (the original's runtime files)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.before_writes_ms: float | None = None

    def mark_writes(self) -> None:
        self.before_writes_ms = self.ms()

    def ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


def write_runtimes(
    ctx: WorkContext, stage: Literal["processing", "modeling"], watch: Stopwatch
) -> None:
    """``{processed|models}/runtimes/pres3|posts3/{STOCK}.txt`` (single bucket only): ms from
    the start to before the outputs' writes, and to after them."""
    if not single_bucket(ctx):
        return
    assert ctx.space is not None and watch.before_writes_ms is not None
    after = watch.ms()
    ctx.store.put_text(ctx.space.stock_runtime(stage, "pres3"), f"{watch.before_writes_ms}")
    ctx.store.put_text(ctx.space.stock_runtime(stage, "posts3"), f"{after}")


def model_digest(ctx: WorkContext, key: str) -> str:
    """The SHA-256 the stock's modeling receipt recorded for its model at ``key``."""
    stock = ctx.event.stock_name
    receipt_key = ctx.layout.receipt_key("modeling", stock, MODELING_UNIT)
    if not ctx.store.exists(receipt_key):
        raise MissingOutputError(
            f"{stock}: no modeling receipt ({receipt_key}); run modeling first"
        )
    receipt = parse_receipt(ctx.store.get_bytes(receipt_key), f"{ctx.store.url}/{receipt_key}")
    digest = receipt.outputs.get(key)
    if not receipt.ok or digest is None:
        raise MissingOutputError(
            f"{stock}: the modeling receipt ({receipt_key}) records no finished model at "
            f"{key}; rerun modeling"
        )
    return digest
