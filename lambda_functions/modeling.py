"""modeling: a stock's whole model in one invocation (the per-stock pipeline).

An in-process grid search (each cell one forest fit on training, scored on validation),
then the best cell refit on training + validation and saved (joblib) with its SHA-256 in
the receipt. The original read the training split twice for the refit (training +
training); this refits on training + validation, as its own description says.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import joblib
import pandas as pd

from lambda_functions.events import ModelingEvent
from lambda_functions.forests import fit_grove, grove_seed, mse, predict_levels, resolve_n_jobs
from lambda_functions.perstock import (
    Stopwatch,
    perstock_context,
    read_split,
    single_bucket,
    write_runtimes,
)
from lambda_functions.trainfull import MODEL_CODECS
from lambda_functions.worker import WorkContext, run_worker


def refit_rows(train: pd.DataFrame, valid: pd.DataFrame) -> pd.DataFrame:
    """What the best cell is refit on: training + validation (not training twice)."""
    return pd.concat([train, valid])


def fit_stock_model(ctx: WorkContext) -> dict[str, Any]:
    """Grid-search on validation, refit the best on training + validation, save it."""
    watch = Stopwatch()
    event: ModelingEvent = ctx.event
    space = ctx.space
    assert space is not None
    spec = event.feature_spec
    options = {"target": event.target, "indicators": event.indicator_columns, "spec": spec}
    n_jobs = resolve_n_jobs(event.n_jobs)
    train = read_split(ctx, "training")
    valid = read_split(ctx, "validation")
    actual = valid[spec.target].to_numpy()
    rows = []
    for feat, samp in event.grid.cells:
        seed = grove_seed(event.seed, event.stock, "perstock-grid", feat, samp, 0)
        model = fit_grove(
            train, feat=feat, samp=samp, n_estimators=event.n_estimators,
            random_state=seed, n_jobs=n_jobs, **options,
        )  # fmt: skip
        preds = predict_levels(model, valid, **options)
        rows.append({"feat": feat, "samp": samp, "mse": mse(actual, preds[spec.target])})
    table = pd.DataFrame(rows)
    best = table.sort_values(["mse", "feat", "samp"], kind="stable").iloc[0]
    feat, samp = int(best["feat"]), int(best["samp"])
    full = refit_rows(train, valid)
    seed = grove_seed(event.seed, event.stock, "perstock-final", feat, samp, 0)
    model = fit_grove(
        full, feat=feat, samp=samp, n_estimators=event.refit_trees,
        random_state=seed, n_jobs=n_jobs, **options,
    )  # fmt: skip
    model.n_jobs = None  # do not pin the loader to this machine's cores
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=MODEL_CODECS[event.model_codec])
    blob = buffer.getvalue()
    watch.mark_writes()
    key = space.stock_model()
    ctx.store.put_bytes(key, blob)
    digest = hashlib.sha256(blob).hexdigest()
    ctx.outputs[key] = digest
    if not single_bucket(ctx):  # the grid search as the grid pipeline stores it (plots)
        for row in rows:
            cell = pd.DataFrame([row])
            ctx.store.put_text(space.cell_mse(row["feat"], row["samp"]), cell.to_csv(index=False))
        chosen = pd.DataFrame([{"feat": feat, "samp": samp, "mse": float(best["mse"])}])
        ctx.store.put_text(space.best_params(), chosen.to_csv(index=False))
    write_runtimes(ctx, "modeling", watch)
    return {
        "feat": feat,
        "samp": samp,
        "mse": float(best["mse"]),
        "persistence_mse": mse(actual, valid[spec.price].to_numpy()),
        "cells": {f"feat{r['feat']}_samp{r['samp']}": r["mse"] for r in rows},
        "random_state": seed,
        "train_rows": len(train),
        "refit_rows": len(full),
        "trees": event.refit_trees,
        "model_bytes": len(blob),
        "model_sha256": digest,
    }


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("modeling", fit_stock_model, event, context, resolve=perstock_context)
