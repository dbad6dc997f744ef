"""trainfull: train one final grove with the best parameters, predict the test set."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import joblib
import pandas as pd

from lambda_functions.errors import MissingOutputError
from lambda_functions.events import TrainfullEvent
from lambda_functions.forests import fit_grove, grove_seed, predict_levels, resolve_n_jobs
from lambda_functions.tables import read_table, write_table
from lambda_functions.worker import WorkContext, run_worker

# How a final grove is saved (joblib's ``compress``). lz4 at level 1: a 25-tree grove
# dumps ~3x faster than zlib level 3 for ~20% more bytes (measured: 7.4 vs 24.1 ms,
# 481 vs 400 kB of 1,068 kB); loading is codec-blind.
MODEL_CODECS: dict[str, Any] = {"lz4": ("lz4", 1), "zlib": ("zlib", 3), "none": 0}


def best_params(ctx: WorkContext) -> tuple[int, int]:
    """The event's feat/samp, else the ones minmse wrote to ``best_params.csv``."""
    event: TrainfullEvent = ctx.event
    if event.feat is not None and event.samp is not None:
        return event.feat, event.samp
    assert ctx.space is not None
    key = ctx.space.best_params()
    if not ctx.store.exists(key):
        raise MissingOutputError(f"{event.stock}: no {key}; run minmse first")
    row = pd.read_csv(io.BytesIO(ctx.store.get_bytes(key))).iloc[0]
    return int(row["feat"]), int(row["samp"])


def train_final_grove(ctx: WorkContext) -> dict[str, Any]:
    """Fit final grove ``pred_num`` on training + validation; save it and its test predictions."""
    event: TrainfullEvent = ctx.event
    space = ctx.space
    assert space is not None
    feat, samp = best_params(ctx)
    train = pd.concat(
        [read_table(ctx.store, space.processed(s)) for s in ("training", "validation")]
    )
    test = read_table(ctx.store, space.processed("testing"))
    seed = grove_seed(event.seed, event.stock, "final", feat, samp, event.pred_num)
    model = fit_grove(
        train,
        target=event.target,
        indicators=event.indicator_columns,
        feat=feat,
        samp=samp,
        n_estimators=event.n_estimators,
        random_state=seed,
        n_jobs=resolve_n_jobs(event.n_jobs),
        spec=event.feature_spec,
    )
    preds = predict_levels(
        model,
        test,
        target=event.target,
        indicators=event.indicator_columns,
        spec=event.feature_spec,
    )
    model.n_jobs = None  # do not pin the loader to this machine's cores
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=MODEL_CODECS[event.model_codec])
    blob = buffer.getvalue()
    model_key = space.final_model(event.pred_num)
    ctx.store.put_bytes(model_key, blob)
    write_table(ctx.store, space.final_preds(event.pred_num), preds)
    digest = hashlib.sha256(blob).hexdigest()
    ctx.outputs[model_key] = digest
    return {
        "feat": feat,
        "samp": samp,
        "random_state": seed,
        "train_rows": len(train),
        "test_rows": len(test),
        "model_bytes": len(blob),
        "model_sha256": digest,
    }


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("trainfull", train_final_grove, event, context)
