"""testfull: average the final groves' test predictions; score against persistence."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lambda_functions.errors import MissingOutputError
from lambda_functions.events import TestfullEvent
from lambda_functions.forests import mean_prediction, mse
from lambda_functions.tables import read_table
from lambda_functions.worker import WorkContext, run_worker


def score_final(ctx: WorkContext) -> dict[str, Any]:
    """Write ``models/optimized/models/mse.csv``: test MSE, persistence MSE and their ratio."""
    event: TestfullEvent = ctx.event
    space = ctx.space
    assert space is not None
    spec = event.feature_spec
    test = read_table(ctx.store, space.processed("testing"))
    preds = []
    for n in range(event.groves):
        key = space.final_preds(n)
        if not ctx.store.exists(key):
            raise MissingOutputError(
                f"{event.stock}: final grove {n} has no test predictions ({key}); "
                f"rerun trainfull for pred_num={n} first"
            )
        preds.append(read_table(ctx.store, key))
    actual = test[spec.target].to_numpy()
    model_mse = mse(actual, mean_prediction(preds, test.index, spec.target))
    # Persistence: the value ``horizon`` rows ahead equals the last known one (by default:
    # the next minute's TYPPRICE equals this minute's).
    baseline = mse(actual, test[spec.price].to_numpy())
    ratio = model_mse / baseline if baseline > 0 else float("nan")
    table = pd.DataFrame(
        {
            "mse": [model_mse],
            "persistence_mse": [baseline],
            "ratio": [ratio],
            "groves": [event.groves],
            "test_rows": [len(test)],
        }
    )
    ctx.store.put_text(space.final_mse(), table.to_csv(index=False))
    return {
        "mse": model_mse,
        "persistence_mse": baseline,
        "ratio": ratio,
        "horizon": spec.horizon,
        "test_rows": len(test),
    }


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("testfull", score_final, event, context)
