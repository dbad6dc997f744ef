"""Synthetic minute bars in the Kaggle "Nifty 100 stocks (1 min)" schema, for demos and tests.

Each file is ``{SYMBOL}_minute_data_with_indicators.csv`` with the 60 columns of
`KAGGLE_COLUMNS`: ``date`` (e.g. ``2015-02-02 09:15:00+05:30``), the OHLCV bar and 54
TA-Lib indicators computed from it. Bars cover 09:15..15:29 IST (375 a day) on weekdays.

The price model, per symbol (parameters drawn from the symbol's seed):

* an *efficient* log price follows a random walk with a small drift, simulated on
  `TRADES_PER_MINUTE` trades a minute; its volatility has an intraday U shape (high at
  the open and the close), a persistent day-to-day level (volatility clustering) and
  overnight gaps between days;
* microstructure noise: a transitory price-pressure deviation shared by the trades of a
  minute (it reverts the next minute) and a bid-ask bounce (every trade is the
  efficient price plus or minus half the spread, random sign). Both make observed
  1-minute changes negatively autocorrelated, close and TYPPRICE alike;
* trades are rounded to the NSE tick of 0.05; a bar's open/close are its first/last
  trade, high/low its extremes, so ``low <= min(open, close)`` and
  ``high >= max(open, close)`` by construction;
* volume has an intraday U shape, lognormal noise and grows with the size of the move.

Everything is vectorised numpy plus TA-Lib: one symbol of 650,000 rows (~1733 trading
days) takes a couple of seconds to generate; writing it as CSV dominates (see
`write_stock_csv`). Output is deterministic: the same arguments give byte-identical files.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import talib

__all__ = [
    "BARS_PER_DAY",
    "DEFAULT_SYMBOLS",
    "KAGGLE_COLUMNS",
    "NIFTY_SYMBOLS",
    "RAW_SUFFIX",
    "TICK",
    "derive_seed",
    "generate_dataset",
    "generate_frame",
    "raw_file_name",
    "symbol_names",
    "write_stock_csv",
]

#: The Kaggle file columns, in the order this module writes them (``date`` first).
KAGGLE_COLUMNS: tuple[str, ...] = (
    "date",
    "close", "high", "low", "open", "volume",
    "sma5", "sma10", "sma15", "sma20",
    "ema5", "ema10", "ema15", "ema20",
    "upperband", "middleband", "lowerband",
    "HT_TRENDLINE", "KAMA10", "KAMA20", "KAMA30", "SAR",
    "TRIMA5", "TRIMA10", "TRIMA20",
    "ADX5", "ADX10", "ADX20", "APO", "CCI5", "CCI10", "CCI15",
    "macd510", "macd520", "macd1020", "macd1520", "macd1226",
    "MFI", "MOM10", "MOM15", "MOM20", "ROC5", "ROC10", "ROC20", "PPO",
    "RSI14", "RSI8", "slowk", "slowd", "fastk", "fastd", "fastksr", "fastdsr",
    "ULTOSC", "WILLR", "ATR", "Trange", "TYPPRICE", "HT_DCPERIOD", "BETA",
)  # fmt: skip

#: Suffix of every raw Kaggle file name.
RAW_SUFFIX = "_minute_data_with_indicators.csv"

#: The default demo symbols.
DEFAULT_SYMBOLS: tuple[str, ...] = ("RELIANCE", "TCS", "INFY")

#: 99 plausible NSE (Nifty 100 era) symbols for scale tests; starts with `DEFAULT_SYMBOLS`.
NIFTY_SYMBOLS: tuple[str, ...] = (
    *DEFAULT_SYMBOLS,
    "HDFCBANK", "ICICIBANK", "HDFC", "KOTAKBANK", "HINDUNILVR", "ITC", "SBIN",
    "BHARTIARTL", "BAJFINANCE", "ASIANPAINT", "LT", "AXISBANK", "MARUTI", "HCLTECH",
    "WIPRO", "ULTRACEMCO", "TITAN", "SUNPHARMA", "NESTLEIND", "TECHM", "POWERGRID",
    "NTPC", "BAJAJFINSV", "ONGC", "M&M", "TATASTEEL", "INDUSINDBK", "COALINDIA",
    "JSWSTEEL", "GRASIM", "DRREDDY", "HINDALCO", "ADANIPORTS", "DIVISLAB", "BPCL",
    "CIPLA", "BRITANNIA", "EICHERMOT", "SHREECEM", "HEROMOTOCO", "TATAMOTORS",
    "BAJAJ-AUTO", "UPL", "IOC", "SBILIFE", "HDFCLIFE", "TATACONSUM", "GAIL",
    "DABUR", "PIDILITIND", "GODREJCP", "HAVELLS", "AMBUJACEM", "ACC", "SIEMENS",
    "BERGEPAINT", "COLPAL", "MARICO", "LUPIN", "BIOCON", "AUROPHARMA", "DLF",
    "VEDL", "HINDPETRO", "ICICIPRULI", "ICICIGI", "HDFCAMC", "MCDOWELL-N",
    "BOSCHLTD", "PGHH", "PETRONET", "NMDC", "TORNTPHARM", "CADILAHC", "INDIGO",
    "BANKBARODA", "PNB", "SAIL", "TATAPOWER", "MOTHERSUMI", "ADANIENT",
    "ADANIGREEN", "ADANITRANS", "APOLLOHOSP", "BANDHANBNK", "BAJAJHLDNG",
    "CHOLAFIN", "DMART", "GLAND", "IGL", "INDUSTOWER", "JUBLFOOD", "MUTHOOTFIN",
    "NAUKRI", "PEL", "PIIND", "SBICARD", "SRF", "YESBANK",
)  # fmt: skip

#: One-minute bars per trading day (09:15..15:29 IST).
BARS_PER_DAY = 375
#: NSE price tick.
TICK = 0.05
#: Simulated trades per one-minute bar (open = first, close = last).
TRADES_PER_MINUTE = 6

_TICKS_PER_UNIT = 20  # 1 / TICK, exact: prices are written as ticks / 20
_SESSION_START_MINUTE = 9 * 60 + 15
_MINUTES_PER_YEAR = 252 * BARS_PER_DAY
_SYMBOL_RE = re.compile(r"^[A-Z0-9&-]{1,32}$")

# Decimal places written per column (prices are exact multiples of TICK, volume an int).
_PRICE_COLUMNS = ("close", "high", "low", "open")
_CSV_DECIMALS: dict[str, int] = {
    name: 4
    for name in (
        "sma5", "sma10", "sma15", "sma20", "ema5", "ema10", "ema15", "ema20",
        "upperband", "middleband", "lowerband", "HT_TRENDLINE", "KAMA10", "KAMA20",
        "KAMA30", "SAR", "TRIMA5", "TRIMA10", "TRIMA20",
        "ADX5", "ADX10", "ADX20", "CCI5", "CCI10", "CCI15", "MFI", "RSI14", "RSI8",
        "slowk", "slowd", "fastk", "fastd", "fastksr", "fastdsr", "ULTOSC", "WILLR",
        "HT_DCPERIOD",
    )
}  # fmt: skip
_CSV_DECIMALS.update(
    {
        name: 6
        for name in (
            "APO", "macd510", "macd520", "macd1020", "macd1520", "macd1226",
            "MOM10", "MOM15", "MOM20", "ROC5", "ROC10", "ROC20", "PPO",
            "ATR", "Trange", "TYPPRICE", "BETA",
        )
    }
)  # fmt: skip

CsvEngine = Literal["pandas", "pyarrow"]


# --------------------------------------------------------------------------- validation


def _check_symbol(symbol: object) -> str:
    if not isinstance(symbol, str):
        raise ValueError(f"symbol must be a string, got {type(symbol).__name__}")
    if ".." in symbol or "/" in symbol or "\\" in symbol:
        raise ValueError(f"unsafe symbol {symbol!r}: '..', '/' and '\\' are not allowed")
    if not _SYMBOL_RE.match(symbol):
        raise ValueError(
            f"invalid symbol {symbol!r}: use 1-32 characters from A-Z, 0-9, '&' and '-' "
            "(e.g. RELIANCE, M&M, BAJAJ-AUTO)"
        )
    return symbol


def _check_int(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{what} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return int(value)


def _check_start(start: object) -> pd.Timestamp:
    if not isinstance(start, str):
        raise ValueError(f"start must be a 'YYYY-MM-DD' string, got {type(start).__name__}")
    try:
        day = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid start date {start!r}: use 'YYYY-MM-DD'") from exc
    if pd.isna(day) or day.tzinfo is not None or day != day.normalize():
        raise ValueError(f"invalid start date {start!r}: use a plain date 'YYYY-MM-DD'")
    return day


# --------------------------------------------------------------------------- public helpers


def raw_file_name(symbol: str) -> str:
    """The Kaggle file name of a symbol.

    Args:
        symbol: A stock symbol such as ``"RELIANCE"``.

    Returns:
        ``"{symbol}_minute_data_with_indicators.csv"``.

    Raises:
        ValueError: If the symbol is not safe (see `generate_frame`).
    """
    return f"{_check_symbol(symbol)}{RAW_SUFFIX}"


def derive_seed(seed: int, symbol: str) -> int:
    """A stable per-symbol seed (SHA-256 of ``(seed, symbol)``; not Python's salted hash).

    Args:
        seed: The dataset seed (any integer).
        symbol: The stock symbol.

    Returns:
        A 64-bit non-negative integer for `numpy.random.default_rng`.
    """
    digest = hashlib.sha256(f"groves-demo-data:{int(seed)}:{symbol}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def symbol_names(n: int) -> list[str]:
    """``n`` distinct, plausible, file-name-safe stock symbols.

    The first names are `NIFTY_SYMBOLS` in order (so ``symbol_names(3)`` equals
    `DEFAULT_SYMBOLS`); beyond its length the list cycles with suffixes ``-2``, ``-3``...
    (``RELIANCE-2``, ``TCS-2``, ...).

    Args:
        n: How many names (>= 0).

    Returns:
        A list of ``n`` distinct symbols.

    Raises:
        ValueError: If ``n`` is negative or not an integer.
    """
    n = _check_int(n, "n", 0)
    base = len(NIFTY_SYMBOLS)
    names = []
    for i in range(n):
        cycle, pos = divmod(i, base)
        name = NIFTY_SYMBOLS[pos]
        names.append(name if cycle == 0 else f"{name}-{cycle + 1}")
    return names


# --------------------------------------------------------------------------- simulation


def _trading_days(start: pd.Timestamp, trading_days: int) -> np.ndarray:
    """The first ``trading_days`` weekdays on or after ``start`` as ``datetime64[D]``."""
    first = np.busday_offset(start.to_datetime64().astype("datetime64[D]"), 0, roll="forward")
    return np.busday_offset(first, np.arange(trading_days), roll="forward")


def _date_strings(days: np.ndarray) -> np.ndarray:
    """Kaggle ``date`` strings (``2015-02-02 09:15:00+05:30``) for every bar of ``days``."""
    day_text = np.datetime_as_string(days, unit="D").tolist()
    minutes = _SESSION_START_MINUTE + np.arange(BARS_PER_DAY)
    times = [f" {m // 60:02d}:{m % 60:02d}:00+05:30" for m in minutes.tolist()]
    return np.array([d + t for d in day_text for t in times], dtype=object)


def _intraday_shape(open_boost: float, close_boost: float) -> np.ndarray:
    """A U-shaped intraday profile over the 375 bars with mean 1."""
    minute = np.arange(BARS_PER_DAY, dtype=np.float64)
    x = (minute + 0.5) / BARS_PER_DAY
    shape = (
        0.7
        + 1.2 * (2.0 * x - 1.0) ** 2
        + open_boost * np.exp(-minute / 10.0)
        + close_boost * np.exp(-(BARS_PER_DAY - 1 - minute) / 15.0)
    )
    return shape / shape.mean()


def _simulate_bars(
    rng: np.random.Generator, n_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Simulate OHLC (in ticks, int64) and volume (int64) for ``n_days`` trading days."""
    n = n_days * BARS_PER_DAY
    k = TRADES_PER_MINUTE

    # Per-symbol parameters.
    start_price = float(np.exp(rng.uniform(np.log(150.0), np.log(4000.0))))
    annual_vol = rng.uniform(0.15, 0.35)  # intraday part of the volatility
    annual_drift = rng.uniform(-0.05, 0.15)
    gap_sd = rng.uniform(0.003, 0.010)  # overnight log gap
    half_spread = rng.uniform(1.0e-4, 3.0e-4)  # relative, at least one tick below
    pressure_ratio = rng.uniform(0.6, 0.85)  # transitory noise / efficient minute vol
    base_volume = float(np.exp(rng.uniform(np.log(500.0), np.log(20000.0))))
    vol_shape = np.sqrt(_intraday_shape(rng.uniform(0.5, 1.5), rng.uniform(0.2, 0.8)))
    volume_shape = _intraday_shape(rng.uniform(1.0, 2.5), rng.uniform(0.5, 1.5))

    # Day-level volatility (persistent AR(1) in logs) and activity multipliers.
    shocks = rng.standard_normal(n_days) * 0.2
    day_log_vol = np.empty(n_days)
    day_log_vol[0] = shocks[0] / np.sqrt(1.0 - 0.8**2)  # stationary start
    for d in range(1, n_days):
        day_log_vol[d] = 0.8 * day_log_vol[d - 1] + shocks[d]
    day_vol = np.exp(day_log_vol - day_log_vol.mean())

    sigma_minute = annual_vol / np.sqrt(_MINUTES_PER_YEAR)
    local_sigma = (day_vol[:, None] * vol_shape[None, :]).ravel() * sigma_minute  # (n,)

    # Efficient log price on k trades a minute, with drift and overnight gaps.
    steps = rng.standard_normal((n, k))
    steps *= (local_sigma / np.sqrt(k))[:, None]
    steps += annual_drift / _MINUTES_PER_YEAR / k
    gaps = rng.standard_normal(n_days) * gap_sd
    gaps[0] = 0.0
    steps[::BARS_PER_DAY, 0] += gaps
    log_eff = np.cumsum(steps.ravel()).reshape(n, k)
    log_eff += np.log(start_price)

    # Transitory price pressure shared by a minute's trades, then bid-ask bounce.
    log_eff += (rng.standard_normal(n) * (pressure_ratio * local_sigma))[:, None]
    price = np.exp(log_eff)
    del log_eff
    bounce = np.maximum(price * half_spread, TICK)
    bounce *= rng.integers(0, 2, size=(n, k), dtype=np.int8) * 2 - 1
    price += bounce
    del bounce
    ticks = np.maximum(np.rint(price * _TICKS_PER_UNIT), 1).astype(np.int64)
    del price

    open_t = ticks[:, 0].copy()
    close_t = ticks[:, -1].copy()
    high_t = ticks.max(axis=1)
    low_t = ticks.min(axis=1)
    del ticks

    # Volume: U shape x day activity x lognormal noise x size of the move.
    move = np.abs(np.diff(close_t, prepend=open_t[0])) / _TICKS_PER_UNIT
    move_z = move / (local_sigma * close_t / _TICKS_PER_UNIT)
    day_activity = np.exp(0.5 * (day_log_vol - day_log_vol.mean()))
    noise = np.exp(rng.standard_normal(n) * 0.5 - 0.125)
    volume = (
        base_volume
        * (day_activity[:, None] * volume_shape[None, :]).ravel()
        * noise
        * (0.6 + 0.4 * np.minimum(move_z, 10.0))
    )
    volume_i = np.maximum(np.rint(volume), 1).astype(np.int64)
    return open_t, high_t, low_t, close_t, volume_i


def _indicators(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
) -> dict[str, np.ndarray]:
    """The 54 TA-Lib indicator columns (float64 inputs, C-contiguous)."""
    out: dict[str, np.ndarray] = {}
    for p in (5, 10, 15, 20):
        out[f"sma{p}"] = talib.SMA(close, timeperiod=p)
    for p in (5, 10, 15, 20):
        out[f"ema{p}"] = talib.EMA(close, timeperiod=p)
    upper, middle, lower = talib.BBANDS(close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0)
    out.update(upperband=upper, middleband=middle, lowerband=lower)
    out["HT_TRENDLINE"] = talib.HT_TRENDLINE(close)
    for p in (10, 20, 30):
        out[f"KAMA{p}"] = talib.KAMA(close, timeperiod=p)
    out["SAR"] = talib.SAR(high, low, acceleration=0.02, maximum=0.2)
    for p in (5, 10, 20):
        out[f"TRIMA{p}"] = talib.TRIMA(close, timeperiod=p)
    for p in (5, 10, 20):
        out[f"ADX{p}"] = talib.ADX(high, low, close, timeperiod=p)
    out["APO"] = talib.APO(close, fastperiod=12, slowperiod=26, matype=1)
    for p in (5, 10, 15):
        out[f"CCI{p}"] = talib.CCI(high, low, close, timeperiod=p)
    for fast, slow in ((5, 10), (5, 20), (10, 20), (15, 20), (12, 26)):
        macd, _signal, _hist = talib.MACD(close, fastperiod=fast, slowperiod=slow, signalperiod=9)
        out[f"macd{fast}{slow}"] = macd
    out["MFI"] = talib.MFI(high, low, close, volume, timeperiod=14)
    for p in (10, 15, 20):
        out[f"MOM{p}"] = talib.MOM(close, timeperiod=p)
    for p in (5, 10, 20):
        out[f"ROC{p}"] = talib.ROC(close, timeperiod=p)
    out["PPO"] = talib.PPO(close, fastperiod=12, slowperiod=26, matype=1)
    out["RSI14"] = talib.RSI(close, timeperiod=14)
    out["RSI8"] = talib.RSI(close, timeperiod=8)
    out["slowk"], out["slowd"] = talib.STOCH(
        high, low, close, fastk_period=5, slowk_period=3, slowk_matype=0, slowd_period=3,
        slowd_matype=0,
    )  # fmt: skip
    out["fastk"], out["fastd"] = talib.STOCHF(
        high, low, close, fastk_period=5, fastd_period=3, fastd_matype=0
    )
    out["fastksr"], out["fastdsr"] = talib.STOCHRSI(
        close, timeperiod=14, fastk_period=5, fastd_period=3, fastd_matype=0
    )
    out["ULTOSC"] = talib.ULTOSC(high, low, close, timeperiod1=7, timeperiod2=14, timeperiod3=28)
    out["WILLR"] = talib.WILLR(high, low, close, timeperiod=14)
    out["ATR"] = talib.ATR(high, low, close, timeperiod=14)
    out["Trange"] = talib.TRANGE(high, low, close)
    out["TYPPRICE"] = talib.TYPPRICE(high, low, close)
    out["HT_DCPERIOD"] = talib.HT_DCPERIOD(close)
    out["BETA"] = talib.BETA(high, low, timeperiod=5)
    return out


def generate_frame(
    symbol: str, trading_days: int, seed: int = 0, start: str = "2015-02-02"
) -> pd.DataFrame:
    """Simulate one stock's minute bars and TA-Lib indicators in the Kaggle schema.

    The random stream is seeded with `derive_seed` ``(seed, symbol)``, so different
    symbols get different data for the same ``seed`` and the result does not depend on
    which other symbols are generated. ``start`` only places the bars on the calendar.

    Args:
        symbol: Stock symbol: 1-32 characters from ``A-Z0-9&-`` (e.g. ``"M&M"``).
        trading_days: Number of trading days (weekdays) to simulate, >= 1; the frame has
            ``375 * trading_days`` rows.
        seed: Dataset seed (any integer).
        start: First calendar day, ``"YYYY-MM-DD"``; a weekend rolls forward to Monday.

    Returns:
        A frame with exactly the columns `KAGGLE_COLUMNS` in that order and a
        RangeIndex. ``date`` holds the Kaggle text (``"2015-02-02 09:15:00+05:30"``,
        pandas' default string dtype, exactly what is written to CSV; parse it with
        ``pd.to_datetime(frame["date"])`` if needed); ``volume`` is int64; every other
        column is float64 at full precision (OHLC are exact multiples of 0.05 up to float
        representation). Indicator warm-up rows are NaN.

    Raises:
        ValueError: If an argument is invalid.
    """
    symbol = _check_symbol(symbol)
    trading_days = _check_int(trading_days, "trading_days", 1)
    seed = _check_int(seed, "seed", -(2**63))
    day0 = _check_start(start)

    rng = np.random.default_rng(derive_seed(seed, symbol))
    open_t, high_t, low_t, close_t, volume = _simulate_bars(rng, trading_days)
    # ticks / 20 is the float nearest the decimal price, so it prints short and exact.
    close = close_t / _TICKS_PER_UNIT
    high = high_t / _TICKS_PER_UNIT
    low = low_t / _TICKS_PER_UNIT
    open_ = open_t / _TICKS_PER_UNIT

    columns: dict[str, np.ndarray] = {
        "date": _date_strings(_trading_days(day0, trading_days)),
        "close": close,
        "high": high,
        "low": low,
        "open": open_,
        "volume": volume,
    }
    columns.update(_indicators(high, low, close, volume.astype(np.float64)))
    return pd.DataFrame({name: columns[name] for name in KAGGLE_COLUMNS})


# --------------------------------------------------------------------------- writing


def _round_for_csv(frame: pd.DataFrame) -> None:
    """Round indicator columns in place to the decimals of `_CSV_DECIMALS`.

    ``numpy.round`` gives the float nearest the rounded decimal, which both writers
    print in its shortest form: files stay compact while prices stay exact and TYPPRICE
    keeps 6 decimals (its exact value is a multiple of 1/60).
    """
    for name, decimals in _CSV_DECIMALS.items():
        frame[name] = np.round(frame[name].to_numpy(), decimals) + 0.0  # -0.0 -> 0.0
    for name in _PRICE_COLUMNS:  # already exact ticks; re-derive to be safe
        frame[name] = np.rint(frame[name].to_numpy() * _TICKS_PER_UNIT) / _TICKS_PER_UNIT


def _write_csv(frame: pd.DataFrame, path: Path, engine: CsvEngine) -> None:
    """Write ``frame`` to a new file ``path`` (fails if it exists)."""
    if engine == "pandas":
        with open(path, "x", encoding="utf-8", newline="") as out:
            frame.to_csv(out, index=False, na_rep="", lineterminator="\n")
        return
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    table = pa.Table.from_pandas(frame, preserve_index=False)  # NaN -> null -> empty field
    with open(path, "xb") as out:
        out.write((",".join(frame.columns) + "\n").encode())  # arrow would quote the header
        pa_csv.write_csv(
            table, out, pa_csv.WriteOptions(include_header=False, quoting_style="none")
        )


def write_stock_csv(
    directory: Path,
    symbol: str,
    trading_days: int,
    seed: int = 0,
    start: str = "2015-02-02",
    *,
    engine: CsvEngine = "pandas",
) -> Path:
    """Generate one stock and write ``{directory}/{SYMBOL}_minute_data_with_indicators.csv``.

    The file is written to a temporary file in ``directory`` and moved into place with
    `os.replace`, so readers never see a partial file. Missing values (indicator
    warm-up) are empty fields; prices are written exactly (0.05 tick), TYPPRICE and the
    small-valued indicators with 6 decimals, the others with 4 (shortest form, so
    ``1234.5`` rather than ``1234.5000``).

    Args:
        directory: Output directory (created if missing).
        symbol: Stock symbol (see `generate_frame`).
        trading_days: Trading days to simulate, >= 1.
        seed: Dataset seed.
        start: First calendar day, ``"YYYY-MM-DD"``.
        engine: ``"pandas"`` (`pandas.DataFrame.to_csv`, the default) or ``"pyarrow"``
            (same values and layout, ~8x faster for full-size files; integral floats
            are printed as ``1000`` instead of ``1000.0``, so bytes differ between engines).

    Returns:
        The path of the written file.

    Raises:
        ValueError: If an argument is invalid.
    """
    if engine not in ("pandas", "pyarrow"):
        raise ValueError(f"engine must be 'pandas' or 'pyarrow', got {engine!r}")
    directory = Path(directory)
    target = directory / raw_file_name(symbol)
    frame = generate_frame(symbol, trading_days, seed=seed, start=start)
    _round_for_csv(frame)
    directory.mkdir(parents=True, exist_ok=True)
    # A unique hidden name in the same directory (so os.replace is atomic), created with
    # the usual umask permissions (unlike tempfile.mkstemp's 0600).
    tmp = directory / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    try:
        _write_csv(frame, tmp, engine)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def generate_dataset(
    raw_dir: Path,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    trading_days: int = 20,
    seed: int = 0,
    *,
    start: str = "2015-02-02",
    engine: CsvEngine = "pandas",
) -> list[Path]:
    """Write one Kaggle-schema CSV per symbol into ``raw_dir``.

    Each symbol's data comes from its own derived seed (`derive_seed` of ``(seed,
    symbol)``), so a symbol's file is the same whatever the other symbols are.

    Args:
        raw_dir: Output directory (created if missing).
        symbols: Distinct stock symbols (see `generate_frame`); a single string is
            rejected (pass ``["TCS"]``, not ``"TCS"``).
        trading_days: Trading days per symbol, >= 1.
        seed: Dataset seed.
        start: First calendar day, ``"YYYY-MM-DD"``.
        engine: CSV writer, see `write_stock_csv`.

    Returns:
        The written paths, in the order of ``symbols``.

    Raises:
        ValueError: If an argument is invalid (checked before anything is written).
    """
    if isinstance(symbols, str):
        raise ValueError(f"symbols must be a sequence of symbols, not the string {symbols!r}")
    symbols = [_check_symbol(s) for s in symbols]
    if not symbols:
        raise ValueError("symbols is empty: give at least one symbol")
    duplicates = sorted(s for s, count in Counter(symbols).items() if count > 1)
    if duplicates:
        raise ValueError(f"duplicate symbols: {', '.join(duplicates)}")
    trading_days = _check_int(trading_days, "trading_days", 1)
    _check_int(seed, "seed", -(2**63))
    _check_start(start)
    if engine not in ("pandas", "pyarrow"):
        raise ValueError(f"engine must be 'pandas' or 'pyarrow', got {engine!r}")
    return [
        write_stock_csv(Path(raw_dir), s, trading_days, seed=seed, start=start, engine=engine)
        for s in symbols
    ]
