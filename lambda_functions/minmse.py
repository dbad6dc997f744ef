"""minmse: find the grid cell with the lowest validation MSE."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from lambda_functions.errors import MissingOutputError
from lambda_functions.events import MinmseEvent
from lambda_functions.worker import WorkContext, run_worker


def pick_best_cell(ctx: WorkContext) -> dict[str, Any]:
    """Write ``best_params.csv``; ties go to the smallest feat, then the smallest samp."""
    event: MinmseEvent = ctx.event
    space = ctx.space
    assert space is not None
    rows = []
    for feat, samp in event.grid.cells:
        key = space.cell_mse(feat, samp)
        if not ctx.store.exists(key):
            raise MissingOutputError(
                f"{event.stock}: no MSE for feat={feat}, samp={samp} ({key}); run predmses first"
            )
        rows.append(pd.read_csv(io.BytesIO(ctx.store.get_bytes(key))))
    table = pd.concat(rows, ignore_index=True)
    best = table.sort_values(["mse", "feat", "samp"], kind="stable").iloc[[0]]
    best = best.astype({"feat": int, "samp": int})
    ctx.store.put_text(space.best_params(), best.to_csv(index=False))
    row = best.iloc[0]
    return {"feat": int(row["feat"]), "samp": int(row["samp"]), "mse": float(row["mse"])}


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("minmse", pick_best_cell, event, context)
