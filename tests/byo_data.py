"""Bring-your-own-series test data in three real shapes (issue 16), from the demo price model.

* `write_candles`: an exchange's 1-minute candle exports, one CSV per symbol (Binance's
  kline columns: ``open_time`` in epoch milliseconds, ``open``/``high``/``low``/``close``
  as text-free numbers, ``close_time``, volumes, trade counts).
* `write_long_parquet`: one long-format Parquet file (``unique_id``, ``ds``, ``y``, the
  M4/M5 layout), the series interleaved and written in several row groups.
* `write_kaggle`: Kaggle Nifty files, the index ``NIFTY 50`` among them, with the columns
  in a shuffled order and indicator warm-up rows empty.

Every price path comes from `groves.demo_data.generate_frame`, so the series are as
realistic as the demo data and deterministic.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd

from groves.demo_data import generate_frame

CANDLE_SYMBOLS = ("BTCUSDT", "ETHUSDT")
LONG_SERIES = ("AAPL", "Zürich Börse", "sensor #7")
KAGGLE_FILES = {"NIFTY 50": "NIFTY-50", "RELIANCE": "RELIANCE"}  # file name -> demo symbol
MINUTE_MS = 60_000


def _prices(symbol: str, rows: int, seed: int = 0) -> pd.DataFrame:
    days = -(-rows // 375)
    return generate_frame(symbol, days, seed=seed).iloc[:rows].reset_index(drop=True)


def candle_frame(symbol: str, rows: int, start_ms: int = 1_704_067_200_000) -> pd.DataFrame:
    """One symbol's candles: 24/7 minutes from ``start_ms`` (2024-01-01 00:00 UTC)."""
    bars = _prices(symbol.replace("USDT", ""), rows)
    open_time = start_ms + MINUTE_MS * np.arange(rows, dtype=np.int64)
    return pd.DataFrame(
        {
            "open_time": open_time,
            "open": bars["open"],
            "high": bars["high"],
            "low": bars["low"],
            "close": bars["close"],
            "volume": bars["volume"].astype(float) / 1000,
            "close_time": open_time + MINUTE_MS - 1,
            "quote_volume": bars["volume"] * bars["close"] / 1000,
            "trades": bars["volume"] // 7,
        }
    )


def write_candles(raw: Path, rows: int = 1500) -> dict[str, pd.DataFrame]:
    """``raw/{SYMBOL}.csv`` per candle symbol; returns the frames written."""
    raw.mkdir(parents=True, exist_ok=True)
    frames = {}
    for symbol in CANDLE_SYMBOLS:
        frame = candle_frame(symbol, rows)
        frame.to_csv(raw / f"{symbol}.csv", index=False, lineterminator="\n")
        frames[symbol] = frame
    return frames


def long_frame(rows: int) -> pd.DataFrame:
    """`LONG_SERIES` in long format, rows interleaved across series (as exports are)."""
    parts = []
    for i, name in enumerate(LONG_SERIES):
        bars = _prices(f"LONG{i}", rows)
        ds = pd.date_range("2023-03-01 09:00", periods=rows, freq="min")
        parts.append(pd.DataFrame({"unique_id": name, "ds": ds, "y": bars["close"].to_numpy()}))
    frame = pd.concat(parts, ignore_index=True)
    order = np.argsort(np.tile(np.arange(rows), len(LONG_SERIES)), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def write_long_parquet(raw: Path, rows: int = 1500, name: str = "prices.parquet") -> pd.DataFrame:
    """One long-format Parquet file ``raw/{name}`` (row groups of 1000 rows)."""
    raw.mkdir(parents=True, exist_ok=True)
    frame = long_frame(rows)
    frame.to_parquet(raw / name, index=False, row_group_size=1000)
    return frame


def write_kaggle(raw: Path, trading_days: int = 4) -> dict[str, pd.DataFrame]:
    """Kaggle-format files, ``NIFTY 50`` included, columns shuffled; returns the frames."""
    raw.mkdir(parents=True, exist_ok=True)
    frames = {}
    for name, symbol in KAGGLE_FILES.items():
        frame = generate_frame(symbol, trading_days, seed=0)
        columns = list(frame.columns)
        random.Random(name).shuffle(columns)
        frame = frame[columns]
        frame.to_csv(
            raw / f"{name}_minute_data_with_indicators.csv",
            index=False,
            lineterminator="\n",
            na_rep="",
        )
        frames[name] = frame
    return frames
