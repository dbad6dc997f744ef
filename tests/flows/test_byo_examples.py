"""The README's three bring-your-own-series examples, end to end (issue 16).

Each test generates data of that shape, runs the README's own ``groves run`` command (plus
small-grid options and a run id) through the CLI, the Prefect flow and real fits, then
checks the stored results: every stored MSE equals the MSE recomputed from the stored
predictions, and for the horizon-5 example the test MSE and the horizon-5 persistence
baseline are recomputed from the raw file itself.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from groves.cli import app
from lambda_functions.names import series_key
from lambda_functions.storage import Storage, open_storage
from lambda_functions.tables import read_table
from tests.byo_data import (
    CANDLE_SYMBOLS,
    LONG_SERIES,
    write_candles,
    write_kaggle,
    write_long_parquet,
)

pytestmark = pytest.mark.slow

README = Path(__file__).parents[2] / "README.md"
SMALL = [
    "--grid-feat", "3,5", "--grid-samp", "5,25", "--groves", "2", "--trees", "5",
    "--final-groves", "3", "--final-trees", "5", "--workers", "2",
]  # fmt: skip
CELLS = [(f, s) for f in (3, 5) for s in (5, 25)]
FINAL_GROVES = 3

# The README's commands, after `groves run --local --data <folder>`.
CANDLE_ARGS = [
    "--files", "{series}.csv", "--time-column", "open_time", "--value-column", "close",
    "--timezone", "UTC",
]  # fmt: skip
LONG_ARGS = [
    "--files", "prices.parquet", "--series-column", "unique_id", "--time-column", "ds",
    "--value-column", "y", "--lags", "5", "--horizon", "5", "--min-rows", "500",
]  # fmt: skip
KAGGLE_ARGS: list[str] = []


def readme_command(folder: str, args: list[str]) -> str:
    quoted = [f"'{a}'" if re.search(r"[{} ]", a) else a for a in args]
    return " ".join(["groves run --local --data", folder, *quoted])


@pytest.fixture
def groves(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``groves(*args)``: the CLI in-process; returns the JSON summary it printed."""
    for name in (  # the CLI sets these defaults; restore them afterwards
        "PREFECT_LOGGING_LEVEL",
        "PREFECT_SERVER_ANALYTICS_ENABLED",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
    ):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(app, ["run", *args, *SMALL, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output[result.output.index("{") :])

    return run


def check_stored_mses(store: Storage, run: str, row: dict[str, Any], target: str) -> None:
    """Every stored MSE of a stock equals the MSE recomputed from its stored predictions."""
    base = f"runs/{run}/stocks/{row['key']}/"
    key = row["key"]
    valid = read_table(store, f"{base}processed/validation/{key}.parquet")
    for feat, samp in CELLS:
        cell = f"{base}models/params/feat{feat}_samp{samp}/"
        preds = [read_table(store, f"{cell}preds/preds_{g}.parquet")[target] for g in range(2)]
        recomputed = float(np.mean((valid[target] - np.mean(preds, axis=0)) ** 2))
        stored = pd.read_csv(store.open_read(f"{cell}mse.csv"))["mse"].iloc[0]
        assert stored == pytest.approx(recomputed, rel=1e-12)
    final = f"{base}models/optimized/models/"
    test = read_table(store, f"{base}processed/testing/{key}.parquet")
    preds = [
        read_table(store, f"{final}preds/preds_{g}.parquet")[target] for g in range(FINAL_GROVES)
    ]
    recomputed = float(np.mean((test[target] - np.mean(preds, axis=0)) ** 2))
    stored = pd.read_csv(store.open_read(f"{final}mse.csv")).iloc[0]
    assert stored["mse"] == pytest.approx(recomputed, rel=1e-12)
    assert row["test_mse"] == stored["mse"]
    assert row["test_persistence_mse"] == stored["persistence_mse"]


def test_readme_has_the_three_examples() -> None:
    text = README.read_text()
    for folder, args in (
        ("candles", CANDLE_ARGS),
        ("shop", LONG_ARGS),
        ("nifty", KAGGLE_ARGS),
    ):
        assert readme_command(folder, args) in text, readme_command(folder, args)


def test_exchange_candle_folder(groves: Any, tmp_path: Path) -> None:
    frames = write_candles(tmp_path / "raw")
    summary = groves("--local", "--data", str(tmp_path), *CANDLE_ARGS, "--run-id", "candles")
    rows = {r["stock"]: r for r in summary["stocks"]}
    assert sorted(rows) == sorted(CANDLE_SYMBOLS)
    assert summary["forecast"] == {"value": "close", "lags": 10, "horizon": 1}
    store = open_storage(tmp_path)
    for symbol, row in rows.items():
        assert row["status"] == "ok" and row["display_name"] == symbol
        check_stored_mses(store, "candles", row, "close_TARGET")
        test = read_table(store, f"runs/candles/stocks/{symbol}/processed/testing/{symbol}.parquet")
        assert str(test.index.tz) == "UTC"
        # The last test row is the raw file's 2nd-last candle (its target is the last close).
        last = frames[symbol].iloc[-2]
        assert test.index[-1] == pd.Timestamp(int(last["open_time"]), unit="ms", tz="UTC")
        assert test["close"].iloc[-1] == last["close"]


def raw_scores(raw: pd.DataFrame, series: str, lags: int, horizon: int) -> dict[str, Any]:
    """A series' test rows, straight from the raw long file: sorted by time, value,
    lags, the value ``horizon`` rows ahead; the chronological 64/16/20 split's last 20%."""
    rows = raw[raw["unique_id"] == series].sort_values("ds", kind="stable")
    y = rows["y"].reset_index(drop=True)
    frame = pd.DataFrame({"y": y, "ahead": y.shift(-horizon), "ds": rows["ds"].to_numpy()})
    for k in range(1, lags + 1):
        frame[f"lag{k}"] = y.shift(k)
    frame = frame.dropna()
    n = len(frame)
    n_test = math.ceil(0.2 * n)
    test = frame.iloc[n - n_test :]
    persistence = float(np.mean((test["ahead"] - test["y"]) ** 2))
    return {"test": test, "persistence": persistence}


def test_long_format_parquet_with_horizon_5(groves: Any, tmp_path: Path) -> None:
    raw = write_long_parquet(tmp_path / "raw", rows=1200)
    summary = groves("--local", "--data", str(tmp_path), *LONG_ARGS, "--run-id", "shop")
    rows = {r["stock"]: r for r in summary["stocks"]}
    assert sorted(rows) == sorted(LONG_SERIES)
    assert summary["forecast"] == {"value": "y", "lags": 5, "horizon": 5}
    assert summary["input"]["series_column"] == "unique_id"
    store = open_storage(tmp_path)
    for series, row in rows.items():
        assert row["status"] == "ok", row
        assert row["display_name"] == series and row["key"] == series_key(series)
        check_stored_mses(store, "shop", row, "y_TARGET")
        # Recomputed from the raw file: the horizon-5 persistence baseline (the last known
        # value, 5 steps before the target) and the test MSE of the stored predictions.
        expected = raw_scores(raw, series, lags=5, horizon=5)
        assert row["test_persistence_mse"] == pytest.approx(expected["persistence"], rel=1e-12)
        final = f"runs/shop/stocks/{row['key']}/models/optimized/models/preds/"
        preds = [read_table(store, f"{final}preds_{g}.parquet") for g in range(FINAL_GROVES)]
        assert all(list(p.index) == list(expected["test"]["ds"]) for p in preds)
        mean = np.mean([p["y_TARGET"].to_numpy() for p in preds], axis=0)
        test_mse = float(np.mean((expected["test"]["ahead"].to_numpy() - mean) ** 2))
        assert row["test_mse"] == pytest.approx(test_mse, rel=1e-12)
        assert row["test_ratio"] == pytest.approx(test_mse / expected["persistence"])
    assert sorted(k.split("/")[3] for k in store.keys("runs/shop/stocks/") if "testing" in k) == (
        sorted(series_key(s) for s in LONG_SERIES)
    )


def test_kaggle_files_with_nifty_50(groves: Any, tmp_path: Path) -> None:
    write_kaggle(tmp_path / "raw")
    # A third file too short to use: named up front; --tolerate 1 runs the rest.
    nifty = (tmp_path / "raw" / "NIFTY 50_minute_data_with_indicators.csv").read_text()
    (tmp_path / "raw" / "NIFTY BANK_minute_data_with_indicators.csv").write_text(
        "".join(nifty.splitlines(keepends=True)[:200])
    )
    summary = groves(
        "--local", "--data", str(tmp_path), *KAGGLE_ARGS, "--run-id", "nifty", "--tolerate", "1"
    )
    rows = {r["stock"]: r for r in summary["stocks"]}
    assert list(rows) == ["NIFTY 50", "RELIANCE", "NIFTY BANK"]
    assert rows["NIFTY BANK"]["status"] == "failed"
    assert "only 188 usable rows" in rows["NIFTY BANK"]["error"]
    assert summary["executed"]["processing"] == 2  # NIFTY BANK was never invoked
    store = open_storage(tmp_path)
    nifty_row = rows["NIFTY 50"]
    assert nifty_row["status"] == "ok"
    assert (nifty_row["display_name"], nifty_row["key"]) == ("NIFTY 50", "NIFTY~2050")
    assert store.exists("runs/nifty/stocks/NIFTY~2050/models/optimized/models/mse.csv")
    assert store.exists("runs/nifty/receipts/testfull/NIFTY~2050/testfull.json")
    for row in (nifty_row, rows["RELIANCE"]):
        check_stored_mses(store, "nifty", row, "TYPPRICE_TARGET")
