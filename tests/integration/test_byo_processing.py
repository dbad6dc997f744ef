"""Processing reads your own series (issue 16), on a local folder and on S3 (moto).

Each shape is written as a real file (CSV, gzip'd CSV, Parquet; one file per series or
long format, one file or a folder of parts), processed by the real handler, and its three
tables are compared with tables built here independently from the raw frame with pandas:
the value, its lags 1..N and the value ``horizon`` rows ahead, rows with any gap dropped,
split 64/16/20 in time order.
"""

from __future__ import annotations

import gzip
import io
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from lambda_functions import processing
from lambda_functions.errors import InputDataError
from lambda_functions.storage import Storage, open_storage
from lambda_functions.tables import read_table
from tests.byo_data import LONG_SERIES, candle_frame, long_frame

SPLITS = ("training", "validation", "testing")
CANDLES = {"files": "{series}.csv", "time_column": "open_time", "value_column": "close"}
LONG = {"files": "prices.parquet", "series_column": "unique_id", "time_column": "ds"}
LONG_OPTIONS = {"lags": 5, "horizon": 5, "min_rows": 500}


def expected_tables(
    times: pd.Series, values: pd.Series, value: str, lags: int = 10, horizon: int = 1
) -> dict[str, pd.DataFrame]:
    """The processed tables, built directly from a raw frame's times and values."""
    frame = pd.DataFrame({"date": times.to_numpy(), value: values.to_numpy(dtype=float)})
    frame = frame.sort_values("date", kind="stable").drop_duplicates("date").set_index("date")
    for k in range(1, lags + 1):
        frame[f"{value}_LAG_{k}"] = frame[value].shift(k)
    frame[f"{value}_TARGET"] = frame[value].shift(-horizon)
    frame = frame.dropna()
    n = len(frame)
    n_test = math.ceil(0.2 * n)
    n_val = math.ceil(0.2 * (n - n_test))
    n_train = n - n_test - n_val
    return {
        "training": frame.iloc[:n_train],
        "validation": frame.iloc[n_train : n_train + n_val],
        "testing": frame.iloc[n_train + n_val :],
    }


def process(url: str, run: str, stock: str, **fields: Any) -> dict[str, Any]:
    receipt = processing.lambda_handler({"store": url, "run_id": run, "stock": stock, **fields})
    assert receipt["status"] == "ok", receipt
    return receipt


def tables(url: str, run: str, key: str) -> dict[str, pd.DataFrame]:
    store = open_storage(url)
    return {
        s: read_table(store, f"runs/{run}/stocks/{key}/processed/{s}/{key}.parquet") for s in SPLITS
    }


def assert_tables(actual: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    for split in SPLITS:
        pd.testing.assert_frame_equal(
            actual[split], expected[split], check_exact=True, check_freq=False
        )


def parquet_bytes(frame: pd.DataFrame, **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return candle_frame("BTCUSDT", 1500)


@pytest.fixture(scope="module")
def long() -> pd.DataFrame:
    return long_frame(1200)


def candle_expected(candles: pd.DataFrame) -> dict[str, pd.DataFrame]:
    times = pd.Series(pd.to_datetime(candles["open_time"], unit="ms", utc=True))
    return expected_tables(times.dt.as_unit("ms"), candles["close"], "close")


# --------------------------------------------------------------------------- one file each


def test_candle_csv_with_epoch_milliseconds(store_url: str, candles: pd.DataFrame) -> None:
    store = open_storage(store_url)
    store.put_bytes("raw/BTCUSDT.csv", candles.to_csv(index=False).encode())
    receipt = process(store_url, "candles", "BTCUSDT", input=CANDLES)
    assert receipt["result"]["raw_key"] == "raw/BTCUSDT.csv"
    got = tables(store_url, "candles", "BTCUSDT")
    assert str(got["testing"].index.tz) == "UTC"  # epoch times are UTC
    assert_tables(got, candle_expected(candles))


def test_gzip_csv_and_parquet_give_the_same_tables(store_url: str, candles: pd.DataFrame) -> None:
    store = open_storage(store_url)
    store.put_bytes("raw/ETHUSDT.csv.gz", gzip.compress(candles.to_csv(index=False).encode()))
    store.put_bytes("raw/SOLUSDT.parquet", parquet_bytes(candles))
    process(store_url, "gz", "ETHUSDT", input={**CANDLES, "files": "{series}.csv.gz"})
    process(store_url, "pq", "SOLUSDT", input={**CANDLES, "files": "{series}.parquet"})
    expected = candle_expected(candles)
    assert_tables(tables(store_url, "gz", "ETHUSDT"), expected)
    assert_tables(tables(store_url, "pq", "SOLUSDT"), expected)


def test_kaggle_index_with_a_space_in_its_name(store_url: str, raw_dir: Path) -> None:
    source = raw_dir / "RELIANCE_minute_data_with_indicators.csv"
    frame = pd.read_csv(source, dtype={"date": str})
    shuffled = frame[list(reversed(frame.columns))]  # the column order is not guaranteed
    store = open_storage(store_url)
    store.put_bytes(
        "raw/NIFTY 50_minute_data_with_indicators.csv", shuffled.to_csv(index=False).encode()
    )
    receipt = process(store_url, "nifty", "NIFTY 50")
    assert receipt["stock"] == "NIFTY 50"
    assert store.keys("runs/nifty/stocks/") == [
        f"runs/nifty/stocks/NIFTY~2050/processed/{s}/NIFTY~2050.parquet"
        for s in ("testing", "training", "validation")
    ]
    assert store.exists("runs/nifty/receipts/processing/NIFTY~2050/processing.json")
    # Whole seconds, stored as Parquet's coarsest unit: milliseconds.
    times = pd.to_datetime(frame["date"]).dt.tz_convert("Asia/Kolkata").dt.as_unit("ms")
    assert_tables(
        tables(store_url, "nifty", "NIFTY~2050"),
        expected_tables(times, frame["TYPPRICE"], "TYPPRICE"),
    )


# --------------------------------------------------------------------------- long format


def long_expected(long: pd.DataFrame, series: str) -> dict[str, pd.DataFrame]:
    rows = long[long["unique_id"] == series]
    return expected_tables(rows["ds"].dt.as_unit("us"), rows["y"], "y", lags=5, horizon=5)


def test_long_parquet_every_series(store_url: str, long: pd.DataFrame) -> None:
    store = open_storage(store_url)
    store.put_bytes("raw/prices.parquet", parquet_bytes(long, row_group_size=1000))
    for i, series in enumerate(LONG_SERIES):
        run = f"long{i}"
        process(store_url, run, series, input={**LONG, "value_column": "y"}, **LONG_OPTIONS)
        key = open_storage(store_url).keys(f"runs/{run}/stocks/")[0].split("/")[3]
        assert_tables(tables(store_url, run, key), long_expected(long, series))


def test_long_csv_and_folder_of_parts_agree_with_parquet(
    store_url: str, long: pd.DataFrame
) -> None:
    store = open_storage(store_url)
    text = long.assign(ds=long["ds"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    store.put_bytes("raw/prices.csv", text.to_csv(index=False).encode())
    half = len(long) // 2
    store.put_bytes("raw/export/part-0.parquet", parquet_bytes(long.iloc[:half]))
    store.put_bytes("raw/export/part-1.parquet", parquet_bytes(long.iloc[half:]))
    store.put_bytes("raw/export/_SUCCESS", b"")
    series = "Zürich Börse"
    long_csv = {**LONG, "files": "prices.csv", "value_column": "y"}
    parts = {**LONG, "files": "export/", "value_column": "y"}
    process(store_url, "lcsv", series, input=long_csv, **LONG_OPTIONS)
    receipt = process(store_url, "lparts", series, input=parts, **LONG_OPTIONS)
    assert receipt["result"]["raw_key"] == [
        "raw/export/part-0.parquet",
        "raw/export/part-1.parquet",
    ]
    expected = long_expected(long, series)
    csv = tables(store_url, "lcsv", "Z~C3~BCrich~20B~C3~B6rse")
    for split in SPLITS:  # text times parse to whole seconds, typed ones keep microseconds
        csv[split].index = csv[split].index.as_unit("us")
    assert_tables(csv, expected)
    assert_tables(tables(store_url, "lparts", "Z~C3~BCrich~20B~C3~B6rse"), expected)


def test_sorted_long_parquet_reads_only_its_row_groups(s3: Any) -> None:
    # On S3 a series of a file sorted by series costs the footer (pyarrow reads the last
    # 64 KiB) and its own row groups, not the other series'.
    long = long_frame(20_000)
    url = "s3://groves-test/sorted"
    store = open_storage(url)
    data = parquet_bytes(long.sort_values(["unique_id", "ds"], kind="stable"), row_group_size=5000)
    store.put_bytes("raw/prices.parquet", data)
    receipt = process(url, "sorted", "AAPL", input={**LONG, "value_column": "y"}, **LONG_OPTIONS)
    assert 0 < receipt["bytes_read"] < 0.5 * len(data), (receipt["bytes_read"], len(data))
    assert_tables(tables(url, "sorted", "AAPL"), long_expected(long, "AAPL"))


# --------------------------------------------------------------------------- bad input


def failure(url: str, run: str, stock: str, **fields: Any) -> str:
    with pytest.raises(InputDataError) as info:
        processing.lambda_handler({"store": url, "run_id": run, "stock": stock, **fields})
    assert open_storage(url).keys(f"runs/{run}/stocks/") == []  # nothing written
    return str(info.value)


def test_bad_input_is_explained_and_nothing_is_written(
    store_url: str, candles: pd.DataFrame, long: pd.DataFrame
) -> None:
    store: Storage = open_storage(store_url)
    store.put_bytes("raw/NOCLOSE.csv", candles.drop(columns="close").to_csv(index=False).encode())
    message = failure(store_url, "bad1", "NOCLOSE", input=CANDLES)
    assert "raw/NOCLOSE.csv: missing column(s) ['close']" in message
    assert "--value-column" in message

    text = candles.astype({"close": str})
    text.loc[700, "close"] = "abc"
    store.put_bytes("raw/TEXT.parquet", parquet_bytes(text))
    message = failure(store_url, "bad2", "TEXT", input={**CANDLES, "files": "{series}.parquet"})
    assert "column 'close' holds a value that is not a number: 'abc' (data row 701)" in message

    store.put_bytes("raw/CUT.parquet", parquet_bytes(candles)[:-100])
    message = failure(store_url, "bad3", "CUT", input={**CANDLES, "files": "{series}.parquet"})
    assert "raw/CUT.parquet: not a readable Parquet file" in message

    store.put_bytes("raw/prices.parquet", parquet_bytes(long))
    message = failure(
        store_url, "bad4", "MSFT", input={**LONG, "value_column": "y"}, **LONG_OPTIONS
    )
    assert "no rows of series 'MSFT' in column 'unique_id'" in message
    short = {**LONG_OPTIONS, "min_rows": 5000}
    message = failure(store_url, "bad5", "AAPL", input={**LONG, "value_column": "y"}, **short)
    assert "raw/prices.parquet [AAPL]: only 1190 usable rows" in message
    assert "a target 5 rows ahead; at least 5000 are needed" in message


def test_every_time_format_of_one_series_gives_the_same_tables(
    store_url: str, candles: pd.DataFrame
) -> None:
    store = open_storage(store_url)
    stamps = pd.to_datetime(candles["open_time"], unit="ms", utc=True)
    variants = {
        "SEC": candles.assign(open_time=candles["open_time"] // 1000),
        "ISOZ": candles.assign(open_time=stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ")),
        "ISOOFF": candles.assign(
            open_time=stamps.dt.tz_convert("Asia/Tokyo").dt.strftime("%Y-%m-%d %H:%M:%S%z")
        ),
    }
    expected = candle_expected(candles)
    for name, frame in variants.items():
        store.put_bytes(f"raw/{name}.csv", frame.to_csv(index=False).encode())
        process(store_url, f"fmt{name}", name, input={**CANDLES, "timezone": "UTC"})
        got = tables(store_url, f"fmt{name}", name)
        for split in SPLITS:
            assert str(got[split].index.tz) == "UTC"
            got[split].index = got[split].index.as_unit("ms")
        assert_tables(got, expected)
