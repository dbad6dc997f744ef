"""Tests for the Kaggle-schema demo data generator (flows/demo_data.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from groves import demo_data
from groves.demo_data import (
    DEFAULT_SYMBOLS,
    KAGGLE_COLUMNS,
    NIFTY_SYMBOLS,
    derive_seed,
    generate_dataset,
    generate_frame,
    symbol_names,
    write_stock_csv,
)

_COLUMN_TEXT = (
    "date close high low open volume sma5 sma10 sma15 sma20 ema5 ema10 ema15 ema20 "
    "upperband middleband lowerband HT_TRENDLINE KAMA10 KAMA20 KAMA30 SAR TRIMA5 TRIMA10 "
    "TRIMA20 ADX5 ADX10 ADX20 APO CCI5 CCI10 CCI15 macd510 macd520 macd1020 macd1520 "
    "macd1226 MFI MOM10 MOM15 MOM20 ROC5 ROC10 ROC20 PPO RSI14 RSI8 slowk slowd fastk "
    "fastd fastksr fastdsr ULTOSC WILLR ATR Trange TYPPRICE HT_DCPERIOD BETA"
)
EXPECTED_COLUMNS = _COLUMN_TEXT.split(" ")

SUFFIX = "_minute_data_with_indicators.csv"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Ten trading days from a Thursday, so the calendar crosses a weekend."""
    return generate_frame("RELIANCE", 10, seed=3, start="2015-02-05")


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("raw")
    return write_stock_csv(raw, "RELIANCE", 10, seed=3, start="2015-02-05")


# ----------------------------------------------------------------------------- schema


def test_kaggle_columns_exact_names_and_order() -> None:
    assert isinstance(KAGGLE_COLUMNS, tuple)
    assert len(KAGGLE_COLUMNS) == 60
    assert list(KAGGLE_COLUMNS) == EXPECTED_COLUMNS


def test_frame_and_file_have_the_60_columns_in_order(frame: pd.DataFrame, csv_path: Path) -> None:
    assert list(frame.columns) == EXPECTED_COLUMNS
    assert csv_path.name == "RELIANCE" + SUFFIX
    header = csv_path.read_text().split("\n", 1)[0]
    assert header == ",".join(EXPECTED_COLUMNS)
    assert list(pd.read_csv(csv_path, nrows=5).columns) == EXPECTED_COLUMNS


# ----------------------------------------------------------------------------- calendar


def test_bars_375_per_weekday_from_0915_to_1529_ist(frame: pd.DataFrame) -> None:
    assert len(frame) == 10 * 375
    assert frame["date"].iloc[0] == "2015-02-05 09:15:00+05:30"
    assert frame["date"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:00\+05:30").all()
    stamps = pd.to_datetime(frame["date"])
    assert str(stamps.dt.tz) == "UTC+05:30"
    local = stamps.dt.tz_localize(None)
    days = local.dt.normalize()
    per_day = days.value_counts()
    assert len(per_day) == 10
    assert (per_day == 375).all()
    assert (days.dt.day_of_week < 5).all()  # weekdays only
    # Thu 5 Feb 2015 + 10 trading days skips two weekends: last day is Wed 18 Feb.
    assert days.iloc[-1] == pd.Timestamp("2015-02-18")
    for _, bars in local.groupby(days):
        times = bars.dt.strftime("%H:%M")
        assert times.iloc[0] == "09:15"
        assert times.iloc[-1] == "15:29"
        assert (bars.diff().dropna() == pd.Timedelta(minutes=1)).all()
    assert stamps.is_monotonic_increasing


def test_weekend_start_rolls_forward_to_monday() -> None:
    f = generate_frame("TCS", 1, start="2015-02-07")  # a Saturday
    assert f["date"].iloc[0] == "2015-02-09 09:15:00+05:30"
    assert f["date"].iloc[-1] == "2015-02-09 15:29:00+05:30"


# ----------------------------------------------------------------------------- determinism


def test_same_arguments_give_identical_bytes(tmp_path: Path, csv_path: Path) -> None:
    again = write_stock_csv(tmp_path, "RELIANCE", 10, seed=3, start="2015-02-05")
    assert again.read_bytes() == csv_path.read_bytes()
    pd.testing.assert_frame_equal(
        generate_frame("INFY", 2, seed=5), generate_frame("INFY", 2, seed=5)
    )


def test_different_seed_or_symbol_gives_different_data(frame: pd.DataFrame) -> None:
    other_seed = generate_frame("RELIANCE", 10, seed=4, start="2015-02-05")
    other_symbol = generate_frame("TCS", 10, seed=3, start="2015-02-05")
    assert not np.array_equal(frame["close"].to_numpy(), other_seed["close"].to_numpy())
    assert not np.array_equal(frame["close"].to_numpy(), other_symbol["close"].to_numpy())


def test_derive_seed_is_stable_across_processes() -> None:
    # Pinned values: Python's salted hash() would change these from run to run.
    assert derive_seed(0, "TCS") == 5981211760931059612
    assert derive_seed(7, "M&M") == 18293633320276006988
    assert derive_seed(0, "TCS") != derive_seed(1, "TCS")


def test_a_prefix_of_days_is_the_same_series() -> None:
    # The start date only shifts the calendar; prices depend on (seed, symbol, days).
    a = generate_frame("INFY", 3, seed=1, start="2015-02-02")
    b = generate_frame("INFY", 3, seed=1, start="2019-06-03")
    np.testing.assert_array_equal(a["close"].to_numpy(), b["close"].to_numpy())
    assert a["date"].iloc[0] != b["date"].iloc[0]


# ----------------------------------------------------------------------------- bars


def test_ohlc_consistent_on_tick_and_volume_positive(frame: pd.DataFrame) -> None:
    o, h, low, c = (frame[k].to_numpy() for k in ("open", "high", "low", "close"))
    assert (h >= np.maximum(o, c)).all()
    assert (low <= np.minimum(o, c)).all()
    assert (low > 0).all()
    assert (h > low).any()  # bars are not degenerate
    for values in (o, h, low, c):
        ticks = values / 0.05
        np.testing.assert_allclose(ticks, np.rint(ticks), rtol=0, atol=1e-6)
    assert frame["volume"].dtype == np.int64
    assert (frame["volume"] >= 1).all()


def test_file_prices_are_exact_ticks_and_match_frame(frame: pd.DataFrame, csv_path: Path) -> None:
    back = pd.read_csv(csv_path)
    for k in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(back[k].to_numpy(), frame[k].to_numpy())
    np.testing.assert_array_equal(back["date"].to_numpy(), frame["date"].to_numpy())
    numeric = [k for k in EXPECTED_COLUMNS if k != "date"]
    np.testing.assert_allclose(
        back[numeric].to_numpy(float), frame[numeric].to_numpy(float), rtol=1e-6, atol=1e-4
    )


def test_intraday_volatility_and_volume_are_u_shaped() -> None:
    f = generate_frame("HDFCBANK", 40, seed=2)
    minute = np.arange(len(f)) % 375
    abs_ret = np.abs(np.diff(np.log(f["close"].to_numpy()), prepend=np.nan))
    abs_ret[minute == 0] = np.nan  # skip overnight gaps
    volume = f["volume"].to_numpy(float)
    edges = (minute < 30) | (minute >= 345)
    middle = (minute >= 150) & (minute < 225)
    assert np.nanmean(abs_ret[edges]) > 1.2 * np.nanmean(abs_ret[middle])
    assert volume[edges].mean() > 1.2 * volume[middle].mean()


def test_bid_ask_bounce_gives_negative_lag1_autocorrelation() -> None:
    for symbol in DEFAULT_SYMBOLS:
        f = generate_frame(symbol, 10, seed=11)  # 3750 rows
        changes = f["TYPPRICE"].diff().dropna()
        assert changes.autocorr(lag=1) < -0.05, symbol
        assert f["close"].diff().dropna().autocorr(lag=1) < -0.05, symbol


# ----------------------------------------------------------------------------- indicators


def test_warm_up_nans_only_at_the_start(frame: pd.DataFrame, csv_path: Path) -> None:
    assert frame["sma20"].iloc[:19].isna().all()
    assert frame["sma20"].iloc[19:].notna().all()
    assert frame["HT_TRENDLINE"].iloc[:10].isna().all()
    assert frame["TYPPRICE"].notna().all()  # no warm-up
    later = frame.iloc[100:].drop(columns="date")
    assert later.notna().all().all()
    assert np.isfinite(later.to_numpy(float)).all()
    # NaN is written as an empty field.
    first_row = csv_path.read_text().split("\n")[1].split(",")
    assert first_row[EXPECTED_COLUMNS.index("sma20")] == ""
    assert first_row[EXPECTED_COLUMNS.index("TYPPRICE")] != ""
    assert "nan" not in csv_path.read_text().lower()


def test_typprice_is_mean_of_high_low_close(frame: pd.DataFrame, csv_path: Path) -> None:
    expected = (frame["high"] + frame["low"] + frame["close"]) / 3
    np.testing.assert_allclose(frame["TYPPRICE"], expected, rtol=1e-12)
    back = pd.read_csv(csv_path)
    np.testing.assert_allclose(
        back["TYPPRICE"], (back["high"] + back["low"] + back["close"]) / 3, rtol=0, atol=1e-6
    )


def test_moving_averages_and_simple_indicators_mean_what_they_say(frame: pd.DataFrame) -> None:
    close = frame["close"]
    np.testing.assert_allclose(frame["sma5"], close.rolling(5).mean(), rtol=1e-10)
    np.testing.assert_allclose(frame["sma20"], close.rolling(20).mean(), rtol=1e-10)
    np.testing.assert_allclose(frame["middleband"], frame["sma20"], rtol=1e-10)
    assert (frame["upperband"].dropna() >= frame["lowerband"].dropna()).all()
    np.testing.assert_allclose(frame["MOM10"], close.diff(10), atol=1e-8)
    np.testing.assert_allclose(frame["ROC5"], close.pct_change(5) * 100, rtol=1e-8)
    prev_close = close.shift(1)
    true_range = np.maximum(frame["high"], prev_close) - np.minimum(frame["low"], prev_close)
    np.testing.assert_allclose(frame["Trange"].iloc[1:], true_range.iloc[1:], atol=1e-8)
    for col in ("RSI14", "RSI8", "MFI", "slowk", "fastk", "fastksr", "ULTOSC"):
        values = frame[col].dropna()
        assert values.between(-1e-9, 100 + 1e-9).all(), col  # TA-Lib sums: float noise
    assert frame["WILLR"].dropna().between(-100 - 1e-9, 1e-9).all()
    ema12 = close.ewm(span=12, adjust=False).mean()
    ema26 = close.ewm(span=26, adjust=False).mean()
    # TA-Lib seeds its EMAs differently; far from the start they agree closely.
    np.testing.assert_allclose(frame["macd1226"].iloc[500:], (ema12 - ema26).iloc[500:], atol=1e-6)


# ----------------------------------------------------------------------------- datasets


def test_generate_dataset_writes_one_file_per_symbol(tmp_path: Path) -> None:
    raw = tmp_path / "raw" / "nested"
    paths = generate_dataset(raw, symbols=["TCS", "M&M", "BAJAJ-AUTO"], trading_days=2, seed=9)
    assert [p.name for p in paths] == [f"{s}{SUFFIX}" for s in ("TCS", "M&M", "BAJAJ-AUTO")]
    assert sorted(p.name for p in raw.iterdir()) == sorted(p.name for p in paths)  # no temps
    for p in paths:
        assert len(pd.read_csv(p)) == 2 * 375
    # Each symbol uses its own derived seed; a file does not depend on the other symbols.
    alone = write_stock_csv(tmp_path / "alone", "M&M", 2, seed=9)
    assert alone.read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[1].read_bytes()


def test_generate_dataset_defaults(tmp_path: Path) -> None:
    paths = generate_dataset(tmp_path, trading_days=1)
    assert [p.name for p in paths] == [f"{s}{SUFFIX}" for s in DEFAULT_SYMBOLS]


def test_pyarrow_engine_writes_the_same_values(tmp_path: Path, csv_path: Path) -> None:
    fast = write_stock_csv(tmp_path, "RELIANCE", 10, seed=3, start="2015-02-05", engine="pyarrow")
    assert fast.read_text().split("\n", 1)[0] == ",".join(EXPECTED_COLUMNS)
    pd.testing.assert_frame_equal(pd.read_csv(fast), pd.read_csv(csv_path))


def test_symbol_names() -> None:
    assert tuple(symbol_names(3)) == DEFAULT_SYMBOLS
    assert symbol_names(0) == []
    assert len(NIFTY_SYMBOLS) >= 95
    assert len(set(NIFTY_SYMBOLS)) == len(NIFTY_SYMBOLS)
    many = symbol_names(250)
    assert len(many) == 250
    assert len(set(many)) == 250
    assert many[len(NIFTY_SYMBOLS)] == f"{NIFTY_SYMBOLS[0]}-2"
    for name in many:
        assert demo_data.raw_file_name(name) == f"{name}{SUFFIX}"  # all valid symbols


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("days", [0, -1, 1.5, "3", True, None])
def test_bad_trading_days_raise(days: object, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="trading_days"):
        generate_frame("TCS", days)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trading_days"):
        generate_dataset(tmp_path, trading_days=days)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "symbol", ["", "..", "../TCS", "a/b", "TCS/..", "tcs", "NIFTY 50", "TCS.NS", "X" * 33, 5]
)
def test_unsafe_symbols_raise(symbol: object, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="symbol"):
        generate_frame(symbol, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="symbol"):
        write_stock_csv(tmp_path, symbol, 1)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_other_bad_arguments_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="start"):
        generate_frame("TCS", 1, start="not-a-date")
    with pytest.raises(ValueError, match="start"):
        generate_frame("TCS", 1, start="2015-02-02 10:00")
    with pytest.raises(ValueError, match="seed"):
        generate_frame("TCS", 1, seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        generate_dataset(tmp_path, symbols=[])
    with pytest.raises(ValueError, match="duplicate"):
        generate_dataset(tmp_path, symbols=["TCS", "INFY", "TCS"])
    with pytest.raises(ValueError, match="sequence"):
        generate_dataset(tmp_path, symbols="TCS")
    with pytest.raises(ValueError, match="symbol"):
        generate_dataset(tmp_path, symbols=["TCS", "../evil"])
    with pytest.raises(ValueError, match="engine"):
        write_stock_csv(tmp_path, "TCS", 1, engine="polars")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be"):
        symbol_names(-1)
    assert list(tmp_path.iterdir()) == []  # nothing written for invalid requests
