"""Read a finished run back from its store: receipts, timing report, summary."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd

from groves.reporting.report import REPORT_FILE, build_report, compact
from groves.reporting.timings import InvocationTiming
from lambda_functions.errors import GrovesError
from lambda_functions.layout import RunLayout
from lambda_functions.receipts import Receipt, parse_receipt
from lambda_functions.stages import DEFAULT_PIPELINE, pipeline
from lambda_functions.storage import Storage, open_storage
from lambda_functions.timing import TABLES

READ_THREADS = 16  # receipts are many small objects: read them concurrently (S3)
READ_BATCH = 1024  # receipts read ahead at a time (their bytes are held until parsed)


def load_receipts(store: Storage, layout: RunLayout) -> list[Receipt]:
    """Every receipt of a run, in key order."""
    return list(iter_receipts(store, layout))


def load_timings(store: Storage, layout: RunLayout) -> list[InvocationTiming]:
    """What the timing report reads of every receipt of a run, in key order; each receipt
    is reduced as it is read (see `groves.reporting.timings`)."""
    return [InvocationTiming.of(receipt) for receipt in iter_receipts(store, layout)]


def iter_receipts(store: Storage, layout: RunLayout) -> Iterator[Receipt]:
    """A run's receipts one at a time, in key order (S3: read ahead concurrently)."""
    keys = [info.key for info in store.list(layout.receipts_prefix()) if info.key.endswith(".json")]
    if len(keys) < 64 or not store.url.startswith("s3://"):
        for key in keys:
            yield parse_receipt(store.get_bytes(key), f"{store.url}/{key}")
        return
    with ThreadPoolExecutor(READ_THREADS) as pool:
        for first in range(0, len(keys), READ_BATCH):
            batch = keys[first : first + READ_BATCH]
            for key, data in zip(batch, pool.map(store.get_bytes, batch), strict=True):
                yield parse_receipt(data, f"{store.url}/{key}")


def load_config(store: Storage, run_id: str) -> dict[str, Any]:
    """The run's saved ``config.json``.

    Raises:
        GrovesError: there is no such run in the store.
    """
    key = RunLayout(run_id).config_key()
    if not store.exists(key):
        raise GrovesError(f"no run {run_id!r} in {store.url} (no {key}): check the run id")
    return store.get_json(key)


def load_report(store: Storage, run_id: str) -> dict[str, Any]:
    """The run's timing report: its saved ``report.json``, else built from its receipts."""
    layout = RunLayout(run_id)
    key = layout.report_key(REPORT_FILE)
    if store.exists(key):
        return store.get_json(key)
    config = load_config(store, run_id)
    cap = config.get("inflight_cap") or config.get("max_in_flight")  # the cap the run found
    workers = cap if config.get("executor") == "lambda" else None
    workers = workers or config.get("workers") or os.cpu_count()
    stages = pipeline(config.get("pipeline", DEFAULT_PIPELINE)).names
    return build_report(load_timings(store, layout), stages, workers=workers)


def latest_run(store_url: str) -> str:
    """The run whose configuration was written last."""
    store = open_storage(store_url)
    configs = [i for i in store.list("runs/") if i.key.endswith("/config.json")]
    if not configs:
        raise GrovesError(f"no runs in {store.url}: run `groves run` first")
    return max(configs, key=lambda i: i.last_modified).key.split("/")[1]


def load_summary(store_url: str, run_id: str | None = None) -> dict[str, Any]:
    """The summary the run saved, with timing tables re-read from ``timingmetrics/``."""
    store = open_storage(store_url)
    run_id = run_id or latest_run(store_url)
    layout = RunLayout(run_id)
    key = layout.summary_key()
    if not store.exists(key):
        raise GrovesError(
            f"run {run_id!r} has no {key.rsplit('/', 1)[-1]} in {store.url}: "
            f"it never finished; rerun it with `groves run --run-id {run_id}`"
        )
    summary = store.get_json(key)
    tables = {}
    for name in TABLES:
        table_key = layout.timing_table_key(name)
        if store.exists(table_key):
            frame = pd.read_csv(io.BytesIO(store.get_bytes(table_key)), index_col=0)
            tables[name] = frame.to_dict(orient="index")
    if tables:
        summary["timing"]["tables"] = tables
    summary["timing"]["report"] = compact(load_report(store, run_id))
    return summary
