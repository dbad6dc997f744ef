"""predict: load a stock's model (integrity-checked), predict its test split, write the
test MSE (and, in run mode, the predictions and the persistence baseline beside it)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lambda_functions.events import PredictEvent
from lambda_functions.forests import mse, predict_levels, resolve_n_jobs
from lambda_functions.models import load_model
from lambda_functions.perstock import model_digest, perstock_context, read_split, single_bucket
from lambda_functions.tables import write_table
from lambda_functions.worker import WorkContext, run_worker


def predict_stock(ctx: WorkContext) -> dict[str, Any]:
    """Write ``models/mses/{STOCK}.txt``: the test MSE as text."""
    event: PredictEvent = ctx.event
    space = ctx.space
    assert space is not None
    spec = event.feature_spec
    test = read_split(ctx, "testing")
    key = space.stock_model()
    model = load_model(ctx.store, key, model_digest(ctx, key))
    model.n_jobs = resolve_n_jobs(event.n_jobs)
    options = {"target": event.target, "indicators": event.indicator_columns, "spec": spec}
    preds = predict_levels(model, test, **options)
    actual = test[spec.target].to_numpy()
    model_mse = mse(actual, preds[spec.target].to_numpy())
    baseline = mse(actual, test[spec.price].to_numpy())
    ratio = model_mse / baseline if baseline > 0 else float("nan")
    ctx.store.put_text(space.stock_mse(), repr(model_mse))
    if not single_bucket(ctx):  # as the grid pipeline's final model (plots, reports)
        write_table(ctx.store, space.final_preds(0), preds)
        table = pd.DataFrame(
            {"mse": [model_mse], "persistence_mse": [baseline], "ratio": [ratio],
             "groves": [1], "test_rows": [len(test)]}
        )  # fmt: skip
        ctx.store.put_text(space.final_mse(), table.to_csv(index=False))
    return {
        "mse": model_mse,
        "persistence_mse": baseline,
        "ratio": ratio,
        "horizon": spec.horizon,
        "test_rows": len(test),
    }


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("predict", predict_stock, event, context, resolve=perstock_context)
