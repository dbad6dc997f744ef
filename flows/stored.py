"""Read a finished run's summary back from its store (for ``groves report``)."""

from __future__ import annotations

import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd

from lambda_functions.errors import GrovesError
from lambda_functions.storage import Storage, open_storage
from lambda_functions.timing import TABLES, table_file_name

SUMMARY_FILE = "summary.json"
READ_THREADS = 16  # receipts are many small objects: read them concurrently (S3)


def load_receipts(store: Storage, run_id: str) -> list[dict[str, Any]]:
    """Every receipt of a run (``runs/{run_id}/receipts/**.json``), in key order."""
    keys = [
        info.key for info in store.list(f"runs/{run_id}/receipts/") if info.key.endswith(".json")
    ]
    if len(keys) < 64 or not store.url.startswith("s3://"):
        return [json.loads(store.get_bytes(key)) for key in keys]
    with ThreadPoolExecutor(READ_THREADS) as pool:
        return [json.loads(data) for data in pool.map(store.get_bytes, keys)]


def load_report(store: Storage, run_id: str) -> dict[str, Any]:
    """The run's timing report: its saved ``report.json``, else built from its receipts."""
    from flows import analysis

    key = f"runs/{run_id}/timingmetrics/{analysis.REPORT_FILE}"
    if store.exists(key):
        return store.get_json(key)
    config_key = f"runs/{run_id}/config.json"
    config = store.get_json(config_key) if store.exists(config_key) else {}
    workers = config.get("max_in_flight") if config.get("executor") == "lambda" else None
    workers = workers or config.get("workers") or (os.cpu_count() if config else None)
    return analysis.build_report(load_receipts(store, run_id), workers=workers)


def latest_run(store_url: str) -> str:
    store = open_storage(store_url)
    configs = [i for i in store.list("runs/") if i.key.endswith("/config.json")]
    if not configs:
        raise GrovesError(f"no runs in {store.url}: run `groves run` first")
    return max(configs, key=lambda i: i.last_modified).key.split("/")[1]


def load_summary(store_url: str, run_id: str | None = None) -> dict[str, Any]:
    """The summary the run saved, with timing tables re-read from ``timingmetrics/``."""
    store = open_storage(store_url)
    run_id = run_id or latest_run(store_url)
    key = f"runs/{run_id}/{SUMMARY_FILE}"
    if not store.exists(key):
        raise GrovesError(
            f"run {run_id!r} has no {SUMMARY_FILE} in {store.url}: "
            "it never finished; rerun it with `groves run --run-id " + run_id + "`"
        )
    summary = store.get_json(key)
    tables = {}
    for name in TABLES:
        tkey = f"runs/{run_id}/timingmetrics/{table_file_name(name)}"
        if store.exists(tkey):
            frame = pd.read_csv(io.BytesIO(store.get_bytes(tkey)), index_col=0)
            tables[name] = frame.to_dict(orient="index")
    if tables:
        summary["timing"]["tables"] = tables
    from flows.analysis import compact

    summary["timing"]["report"] = compact(load_report(store, run_id))
    return summary
