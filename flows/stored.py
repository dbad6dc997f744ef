"""Read a finished run's summary back from its store (for ``groves report``)."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from lambda_functions.errors import GrovesError
from lambda_functions.storage import open_storage
from lambda_functions.timing import TABLES, table_file_name

SUMMARY_FILE = "summary.json"


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
    return summary
