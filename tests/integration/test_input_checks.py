"""Series are checked before anything is invoked (issue 16), on a local folder and on S3.

Each bad series is reported under its name with what to fix, the rest stay usable, and the
check reads little of a big file: a CSV's head, a Parquet file's footer and first rows.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from typing import Any, BinaryIO

import pandas as pd
import pytest

from flows.pipeline import check_inputs
from groves.config import RunConfig
from groves.inputs import SAMPLE_BYTES, UnusableSeriesError, check_series
from lambda_functions.errors import GrovesError
from lambda_functions.features import FeatureSpec
from lambda_functions.inputs import InputSpec
from lambda_functions.storage import ObjectInfo, Storage, open_storage
from tests.byo_data import LONG_SERIES, candle_frame, long_frame

CANDLES = InputSpec(files="{series}.csv", time_column="open_time", value_column="close")
LONG = InputSpec(
    files="prices.parquet", series_column="unique_id", time_column="ds", value_column="y"
)
DEFAULT_FEATURES = FeatureSpec()


class CountingStore(Storage):
    """A store that counts the bytes read through it (every way of reading)."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.url = inner.url
        self.read = 0

    def get_bytes(self, key: str) -> bytes:
        data = self.inner.get_bytes(key)
        self.read += len(data)
        return data

    def open_read(self, key: str) -> BinaryIO:
        stream = self.inner.open_read(key)
        store = self

        class Counted(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def readinto(self, buffer: Any) -> int:
                data = stream.read(len(buffer))
                buffer[: len(data)] = data
                store.read += len(data)
                return len(data)

            def close(self) -> None:
                stream.close()
                super().close()

        return io.BufferedReader(Counted())  # type: ignore[return-value]

    def read_range(self, key: str, start: int, length: int) -> bytes:
        data = self.inner.read_range(key, start, length)
        self.read += len(data)
        return data

    def put_bytes(self, key: str, data: bytes) -> None:
        self.inner.put_bytes(key, data)

    def head(self, key: str) -> ObjectInfo | None:
        return self.inner.head(key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.inner.list(prefix)

    def delete_prefix(self, prefix: str) -> int:
        return self.inner.delete_prefix(prefix)


def parquet_bytes(frame: pd.DataFrame, **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, **kwargs)
    return buffer.getvalue()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


# --------------------------------------------------------------------------- good input


def test_the_kaggle_default_is_found_and_counted(store_url: str) -> None:
    check = check_series(open_storage(store_url), InputSpec(), None, DEFAULT_FEATURES)
    assert list(check.series) == ["RELIANCE", "TCS"]
    assert check.problems == {}
    info = open_storage(store_url).head("raw/TCS_minute_data_with_indicators.csv")
    assert info is not None and check.series["TCS"] == f"{info.size}-{info.etag}"
    assert check.rows["TCS"] == (1500 - 11, "usable")  # a small file: every row checked


def test_candle_folder_and_long_parquet(store_url: str) -> None:
    store = open_storage(store_url)
    for symbol in ("BTCUSDT", "ETH USDT"):
        store.put_bytes(f"raw/{symbol}.csv", csv_bytes(candle_frame("BTCUSDT", 1100)))
    store.put_bytes("raw/notes.txt", b"not a series")
    check = check_series(store, CANDLES, None, DEFAULT_FEATURES)
    assert sorted(check.series) == ["BTCUSDT", "ETH USDT"]
    # The store's Kaggle files match {series}.csv too, but hold no candles: named as such.
    assert sorted(check.problems) == [
        "RELIANCE_minute_data_with_indicators",
        "TCS_minute_data_with_indicators",
    ]
    assert all("missing column(s) ['open_time']" in p for p in check.problems.values())
    store.put_bytes("raw/prices.parquet", parquet_bytes(long_frame(1200)))
    features = FeatureSpec(value="y", lags=5, horizon=5, min_rows=500)
    check = check_series(store, LONG, None, features)
    assert sorted(check.series) == sorted(LONG_SERIES)
    assert set(check.rows.values()) == {(1200, "exact")}
    assert len(set(check.series.values())) == 1  # one file: one identity for all


# --------------------------------------------------------------------------- bad input


def test_each_bad_series_is_named_with_what_to_fix(store_url: str) -> None:
    store = open_storage(store_url)
    good = candle_frame("BTCUSDT", 1100)
    text = good.astype({"close": object})
    text.loc[5, "close"] = "1,5O"
    files = {
        "GOOD": csv_bytes(good),
        "NOCLOSE": csv_bytes(good.drop(columns="close")),
        "TEXT": csv_bytes(text),
        "SHORT": csv_bytes(good.iloc[:400]),
        "BADTIME": csv_bytes(good.assign(open_time="soon")),
        "GZIPPED": gzip.compress(csv_bytes(good)),  # named .csv
    }
    for name, data in files.items():
        store.put_bytes(f"raw/candles/{name}.csv", data)
    spec = CANDLES.model_copy(update={"files": "candles/{series}.csv"})
    check = check_series(store, spec, None, DEFAULT_FEATURES)
    assert list(check.series) == ["GOOD"]
    problems = check.problems
    assert set(problems) == set(files) - {"GOOD"}
    assert "raw/candles/NOCLOSE.csv: missing column(s) ['close']" in problems["NOCLOSE"]
    assert "not a number: '1,5O' (data row 6)" in problems["TEXT"]
    assert "only 389 usable rows" in problems["SHORT"]
    assert "--min-rows" in problems["SHORT"]
    assert "'open_time' value is not a time: 'soon'" in problems["BADTIME"]
    assert "gzip-compressed" in problems["GZIPPED"] and "GZIPPED.csv.gz" in problems["GZIPPED"]


def test_long_format_problems(store_url: str) -> None:
    # A file the sample holds whole (up to SAMPLE_ROWS rows) gets every check up front; of
    # a bigger one, the rows per series are counted and a sample is parsed.
    store = open_storage(store_url)
    frame = long_frame(600)
    frame.loc[frame["unique_id"] == "AAPL", "y"] = float("nan")
    store.put_bytes("raw/prices.parquet", parquet_bytes(frame))
    features = FeatureSpec(value="y", lags=5, horizon=5, min_rows=500)
    check = check_series(store, LONG, ["AAPL", "sensor #7", "MSFT"], features)
    assert list(check.series) == ["sensor #7"]
    assert "column(s) ['y'] have no values" in check.problems["AAPL"]
    assert "unknown stock 'MSFT'" in check.problems["MSFT"]
    assert "'AAPL'" in check.problems["MSFT"]  # what there is instead
    wrong_column = LONG.model_copy(update={"series_column": "symbol"})
    with pytest.raises(GrovesError, match="no series column 'symbol'"):
        check_series(store, wrong_column, None, features)
    nothing = LONG.model_copy(update={"files": "missing.parquet"})
    with pytest.raises(GrovesError, match=r"no long-format input at raw/missing\.parquet"):
        check_series(store, nothing, None, features)


def test_tolerate_runs_the_rest_and_otherwise_nothing_runs(store_url: str) -> None:
    store = open_storage(store_url)
    store.put_bytes("raw/BROKEN_minute_data_with_indicators.csv", b"date,close\n1,2\n")
    config = RunConfig(store=store_url)
    with pytest.raises(UnusableSeriesError) as info:
        check_inputs(config)
    assert list(info.value.problems) == ["BROKEN"]
    assert "1 series cannot be used" in str(info.value) and "--tolerate 1" in str(info.value)
    assert "missing column(s) ['TYPPRICE']" in str(info.value)
    _, usable = check_inputs(config.model_copy(update={"tolerate": 1}))
    assert list(usable) == ["BROKEN", "RELIANCE", "TCS"][1:]


# --------------------------------------------------------------------------- cost


def test_the_check_reads_little_of_big_files(store_url: str) -> None:
    store = open_storage(store_url)
    big = candle_frame("BTCUSDT", 60_000)  # ~4.7 MB as CSV
    csv = csv_bytes(big)
    store.put_bytes("raw/BIG.csv", csv)
    counting = CountingStore(store)
    check = check_series(counting, CANDLES, ["BIG"], DEFAULT_FEATURES)
    assert check.problems == {}
    count, how = check.rows["BIG"]
    assert how == "estimate" and abs(count - 60_000) < 0.05 * 60_000
    assert counting.read == SAMPLE_BYTES + 1, (counting.read, len(csv))  # one ranged read
    assert counting.read < 0.25 * len(csv)

    data = parquet_bytes(big, row_group_size=20_000)
    store.put_bytes("raw/BIG.parquet", data)
    counting = CountingStore(store)
    spec = CANDLES.model_copy(update={"files": "{series}.parquet"})
    check = check_series(counting, spec, ["BIG"], DEFAULT_FEATURES)
    assert check.rows["BIG"] == (60_000, "exact")
    assert counting.read < 0.5 * len(data), (counting.read, len(data))
