"""MSEs checked against numbers worked out by hand, not against the code's own formula.

Tiny processed tables and grove predictions are written where the pipeline keeps them;
predmses, minmse and testfull then score them as they would in a run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lambda_functions import minmse, predmses, testfull
from lambda_functions.features import PRICE, TARGET
from lambda_functions.layout import RunLayout, StockSpace
from lambda_functions.storage import open_storage
from lambda_functions.tables import write_table

STOCK = "HAND"
RUN = "hand"
GRID = {"max_features": [5], "min_samples_split": [5, 25]}


def _table(prices: list[float], targets: list[float], start: str) -> pd.DataFrame:
    index = pd.date_range(start, periods=len(prices), freq="min", tz="Asia/Kolkata", name="date")
    return pd.DataFrame({PRICE: prices, TARGET: targets}, index=index)


def _preds(values: list[float], like: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({TARGET: values}, index=like.index)


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A run whose validation and test sets and grove predictions are known by hand."""
    url = str(tmp_path / "store")
    store = open_storage(url)
    space = StockSpace(STOCK, "parquet", RunLayout(RUN).stock_prefix(STOCK))
    validation = _table([10, 11, 12], [11, 12, 12], "2024-01-01 09:15")
    testing = _table([20, 21, 22, 23], [21, 22, 23, 23], "2024-01-02 09:15")
    write_table(store, space.processed("validation"), validation)
    write_table(store, space.processed("testing"), testing)
    cells = {  # (feat, samp): predictions of grove 0 and grove 1
        (5, 5): ([11, 13, 12], [13, 11, 12]),  # mean 12, 12, 12: errors 1, 0, 0
        (5, 25): ([11, 12, 12], [11, 12, 13]),  # mean 11, 12, 12.5: errors 0, 0, 0.5
    }
    for (feat, samp), groves in cells.items():
        for n, values in enumerate(groves):
            write_table(store, space.cell_preds(feat, samp, n), _preds(values, validation))
    # final groves: mean 22, 22, 23, 23 -> errors 1, 0, 0, 0
    for n, values in enumerate(([21, 23, 23, 22], [23, 21, 23, 24])):
        write_table(store, space.final_preds(n), _preds(values, testing))
    return url


def test_validation_test_and_persistence_mses_by_hand(store: str) -> None:
    base = {"store": store, "run_id": RUN, "stock": STOCK}
    for samp in (5, 25):
        receipt = predmses.lambda_handler(
            {**base, "feat": 5, "samp": samp, "grid": GRID, "groves": 2}
        )
        mse = receipt["result"]["mse"][f"feat5_samp{samp}"]
        assert mse == pytest.approx({5: 1 / 3, 25: 0.25 / 3}[samp], rel=1e-12)
        # persistence: 10, 11, 12 for 11, 12, 12 -> errors 1, 1, 0
        assert receipt["result"]["persistence_mse"] == pytest.approx(2 / 3, rel=1e-12)

    best = minmse.lambda_handler({**base, "grid": GRID, "groves": 2})["result"]
    assert (best["feat"], best["samp"]) == (5, 25)
    assert best["mse"] == pytest.approx(1 / 12, rel=1e-12)

    final = testfull.lambda_handler({**base, "groves": 2})["result"]
    assert final["mse"] == pytest.approx(0.25, rel=1e-12)
    # persistence: 20, 21, 22, 23 for 21, 22, 23, 23 -> errors 1, 1, 1, 0
    assert final["persistence_mse"] == pytest.approx(0.75, rel=1e-12)
    assert final["ratio"] == pytest.approx(1 / 3, rel=1e-12)
    stored = open_storage(store).get_text(
        StockSpace(STOCK, "parquet", RunLayout(RUN).stock_prefix(STOCK)).final_mse()
    )
    assert stored.splitlines()[1].startswith("0.25,0.75,0.333")
