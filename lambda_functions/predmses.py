"""predmses: average a grid cell's grove predictions and score them on validation."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lambda_functions.errors import MissingOutputError
from lambda_functions.events import PredmsesEvent
from lambda_functions.forests import mean_prediction, mse
from lambda_functions.layout import cell_name
from lambda_functions.tables import read_table
from lambda_functions.worker import WorkContext, run_worker


def score_cells(ctx: WorkContext) -> dict[str, Any]:
    """Write ``mse.csv`` (feat, samp, mse) for each requested cell."""
    event: PredmsesEvent = ctx.event
    space = ctx.space
    assert space is not None
    spec = event.feature_spec
    valid = read_table(ctx.store, space.processed("validation"))
    actual = valid[spec.target].to_numpy()
    scores: dict[str, float] = {}
    for feat, samp in event.cells:
        preds = []
        for n in range(event.groves):
            key = space.cell_preds(feat, samp, n)
            if not ctx.store.exists(key):
                raise MissingOutputError(
                    f"{event.stock} {cell_name(feat, samp)}: grove {n} has no predictions "
                    f"({key}); rerun parampreds for pred_num={n} first"
                )
            preds.append(read_table(ctx.store, key))
        scores[cell_name(feat, samp)] = mse(
            actual, mean_prediction(preds, valid.index, spec.target)
        )
    # Write only once every cell is scored, so a failure leaves no partial results.
    for feat, samp in event.cells:
        table = pd.DataFrame(
            {"feat": [feat], "samp": [samp], "mse": [scores[cell_name(feat, samp)]]}
        )
        ctx.store.put_text(space.cell_mse(feat, samp), table.to_csv(index=False))
    # Persistence: the last known value, ``horizon`` rows before the target.
    persistence = mse(actual, valid[spec.price].to_numpy())
    return {"mse": scores, "persistence_mse": persistence}


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("predmses", score_cells, event, context)
