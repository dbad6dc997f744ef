"""Tables through a store: each backend's Parquet codec, exact round trips, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lambda_functions.storage import LocalStorage, MeteredStorage, S3Storage, Storage
from lambda_functions.tables import read_table, write_table

BUCKET = "groves-test"  # created by the ``s3`` fixture


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    request.getfixturevalue("s3")
    return S3Storage(BUCKET, "tables")


def _frame(rows: int = 5000) -> pd.DataFrame:
    """Prices on a 0.05 tick with lags (like a processed table), a tz-aware date index."""
    rng = np.random.default_rng(7)
    price = np.round((1000 + rng.normal(0, 0.3, rows).cumsum()) / 0.05) * 0.05
    index = pd.date_range("2024-01-01 09:15", periods=rows, freq="min", tz="Asia/Kolkata")
    frame = pd.DataFrame({"TYPPRICE": price}, index=pd.Index(index, name="date"))
    for lag in (1, 2, 3):
        frame[f"TYPPRICE_LAG_{lag}"] = frame["TYPPRICE"].shift(lag)
    frame["RSI"] = rng.uniform(0, 100, rows)
    return frame.dropna()


def _codecs(data: bytes) -> set[str]:
    meta = pq.ParquetFile(pa.BufferReader(data)).metadata
    return {
        meta.row_group(g).column(c).compression
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
    }


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_round_trip_is_exact(store: Storage, fmt: str) -> None:
    frame = _frame()
    write_table(store, f"t/table.{fmt}", frame)
    back = read_table(store, f"t/table.{fmt}")
    if fmt == "parquet":
        pd.testing.assert_frame_equal(back, frame, check_freq=False)
    else:  # CSV keeps the instants and the UTC offset, not the zone's name
        assert (back.index == frame.index).all() and str(back.index.tz) == "UTC+05:30"
        pd.testing.assert_frame_equal(back.reset_index(drop=True), frame.reset_index(drop=True))


def test_each_backend_writes_its_codec(store: Storage) -> None:
    """Local disk: uncompressed (decode speed wins); S3: zstd (transfer bytes win)."""
    write_table(store, "t/table.parquet", _frame())
    expected = {"UNCOMPRESSED"} if isinstance(store, LocalStorage) else {"ZSTD"}
    assert _codecs(store.get_bytes("t/table.parquet")) == expected


def test_metered_store_writes_like_the_store_it_wraps(tmp_path: Path, s3: object) -> None:
    frame = _frame()
    local, remote = LocalStorage(tmp_path / "store"), S3Storage(BUCKET, "metered")
    for inner in (local, remote):
        write_table(MeteredStorage(inner), "t/table.parquet", frame)
    assert local.get_bytes("t/table.parquet") != remote.get_bytes("t/table.parquet")
    assert _codecs(local.get_bytes("t/table.parquet")) == {"UNCOMPRESSED"}
    assert _codecs(remote.get_bytes("t/table.parquet")) == {"ZSTD"}
    # Same values whichever store holds them: the local and Lambda runs fit the same data.
    pd.testing.assert_frame_equal(
        read_table(local, "t/table.parquet"), read_table(remote, "t/table.parquet")
    )


def test_same_frame_same_bytes(store: Storage) -> None:
    frame = _frame()
    write_table(store, "a.parquet", frame)
    write_table(store, "b.parquet", frame.copy())
    assert store.get_bytes("a.parquet") == store.get_bytes("b.parquet")


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="table format"):
        write_table(LocalStorage(tmp_path), "t/table.txt", _frame())
