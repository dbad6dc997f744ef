"""A stock's model outputs read back from a run's store, for plots: the test-period forecast
(actual, predicted, persistence) and the grid search's validation MSE per cell.

Everything is found through the layout's keys and by listing (how many final groves, which
cells), so nothing depends on one pipeline's stage names: where a pipeline stored no such
outputs, the readers return None and the plots are left out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lambda_functions.features import PRICE, TARGET
from lambda_functions.forests import mean_prediction
from lambda_functions.layout import RunLayout, StockSpace
from lambda_functions.storage import Storage
from lambda_functions.tables import read_table

TABLE_FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class Forecast:
    """A stock's test period: what happened, what the model said, what persistence said."""

    stock: str
    index: pd.Index  # the test rows' timestamps, in time order
    actual: np.ndarray  # the next minute's price
    predicted: np.ndarray  # the final groves' mean prediction
    persistence: np.ndarray  # this minute's price (the naive forecast of the next)
    groves: int

    @property
    def mse(self) -> float:
        return float(np.mean((self.actual - self.predicted) ** 2))

    @property
    def persistence_mse(self) -> float:
        return float(np.mean((self.actual - self.persistence) ** 2))

    @property
    def ratio(self) -> float | None:
        baseline = self.persistence_mse
        return self.mse / baseline if baseline > 0 else None


@dataclass(frozen=True)
class GridScores:
    """A stock's grid search: validation MSE per (max_features, min_samples_split) cell."""

    stock: str
    table: pd.DataFrame  # columns feat, samp, mse; one row per scored cell

    @property
    def best(self) -> tuple[int, int]:
        """The lowest-MSE cell; ties: smallest feat, then samp (as minmse picks)."""
        row = self.table.sort_values(["mse", "feat", "samp"], kind="stable").iloc[0]
        return int(row["feat"]), int(row["samp"])

    def matrix(self) -> pd.DataFrame:
        """MSE with min_samples_split as rows and max_features as columns (NaN: not scored)."""
        return (
            self.table.pivot_table(index="samp", columns="feat", values="mse")
            .sort_index(axis=0)
            .sort_index(axis=1)
        )


def stock_space(store: Storage, layout: RunLayout, stock: str) -> StockSpace | None:
    """The stock's key space, its table format read off its stored test split; None when
    the run holds no processed test split for it."""
    prefix = layout.stock_prefix(stock)
    for fmt in TABLE_FORMATS:
        space = StockSpace(stock, fmt, prefix=prefix)  # type: ignore[arg-type]
        if store.exists(space.processed("testing")):
            return space
    return None


def load_forecast(store: Storage, layout: RunLayout, stock: str) -> Forecast | None:
    """The stock's test-period forecast, or None if the run stored no test predictions."""
    space = stock_space(store, layout, stock)
    if space is None:
        return None
    keys = [
        info.key
        for info in store.list(space.final_preds_dir())
        if info.key.endswith(f".{space.ext}")
    ]
    if not keys:
        return None
    test = read_table(store, space.processed("testing")).sort_index()
    predicted = mean_prediction([read_table(store, key) for key in keys], test.index)
    return Forecast(
        stock=stock,
        index=test.index,
        actual=test[TARGET].to_numpy(dtype=np.float64),
        predicted=predicted,
        persistence=test[PRICE].to_numpy(dtype=np.float64),
        groves=len(keys),
    )


def load_grid(store: Storage, layout: RunLayout, stock: str) -> GridScores | None:
    """The stock's scored grid cells, or None if the run stored none."""
    space = StockSpace(stock, "parquet", prefix=layout.stock_prefix(stock))
    frames = [
        pd.read_csv(io.BytesIO(store.get_bytes(info.key)))
        for info in store.list(space.params_dir())
        if info.key.endswith("/mse.csv")
    ]
    frames = [f for f in frames if {"feat", "samp", "mse"} <= set(f.columns) and len(f)]
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)[["feat", "samp", "mse"]]
    table = table.astype({"feat": int, "samp": int, "mse": float})
    return GridScores(stock=stock, table=table.sort_values(["feat", "samp"], ignore_index=True))
