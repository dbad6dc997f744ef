"""parampreds: train one grid grove and store its validation predictions."""

from __future__ import annotations

from typing import Any

from lambda_functions.events import ParampredsEvent
from lambda_functions.forests import fit_grove, grove_seed, predict_levels, resolve_n_jobs
from lambda_functions.tables import read_table, write_table
from lambda_functions.worker import WorkContext, run_worker


def train_cell_grove(ctx: WorkContext) -> dict[str, Any]:
    """Fit grove ``pred_num`` of cell (feat, samp) on training, predict validation."""
    event: ParampredsEvent = ctx.event
    assert ctx.space is not None
    train = read_table(ctx.store, ctx.space.processed("training"))
    valid = read_table(ctx.store, ctx.space.processed("validation"))
    seed = grove_seed(event.seed, event.stock, "grid", event.feat, event.samp, event.pred_num)
    model = fit_grove(
        train,
        target=event.target,
        indicators=event.indicator_columns,
        feat=event.feat,
        samp=event.samp,
        n_estimators=event.n_estimators,
        random_state=seed,
        n_jobs=resolve_n_jobs(event.n_jobs),
        spec=event.feature_spec,
    )
    preds = predict_levels(
        model,
        valid,
        target=event.target,
        indicators=event.indicator_columns,
        spec=event.feature_spec,
    )
    write_table(ctx.store, ctx.space.cell_preds(event.feat, event.samp, event.pred_num), preds)
    return {"random_state": seed, "train_rows": len(train), "valid_rows": len(valid)}


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_worker("parampreds", train_cell_grove, event, context)
