"""Ranged reads (issue 16): `Storage.read_range` and `RangeFile` on a folder and on S3."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow.parquet as pq
import pytest

from lambda_functions.errors import ObjectNotFoundError
from lambda_functions.storage import MeteredStorage, open_storage

DATA = bytes(range(256)) * 40  # 10,240 bytes


@pytest.mark.parametrize(
    ("start", "length", "expected"),
    [
        (0, 10, DATA[:10]),
        (100, 1000, DATA[100:1100]),
        (10_000, 1000, DATA[10_000:]),  # past the end: what there is
        (20_000, 10, b""),  # wholly past the end
        (5, 0, b""),
    ],
)
def test_read_range(store_url: str, start: int, length: int, expected: bytes) -> None:
    store = open_storage(store_url)
    store.put_bytes("raw/blob.bin", DATA)
    assert store.read_range("raw/blob.bin", start, length) == expected
    assert MeteredStorage(store).read_range("raw/blob.bin", start, length) == expected


def test_read_range_of_a_missing_object(store_url: str) -> None:
    with pytest.raises(ObjectNotFoundError):
        open_storage(store_url).read_range("raw/none.bin", 0, 10)


def test_range_file_seeks_and_counts(store_url: str) -> None:
    store = open_storage(store_url)
    store.put_bytes("raw/blob.bin", DATA)
    file = store.open_random("raw/blob.bin", len(DATA))
    assert file.seekable() and file.read(4) == DATA[:4]
    assert file.seek(-6, io.SEEK_END) == len(DATA) - 6
    assert file.read() == DATA[-6:]
    assert file.read(10) == b""
    file.seek(1000)
    assert file.tell() == 1000 and file.read(24) == DATA[1000:1024]
    assert file.bytes_read == 4 + 6 + 24
    with pytest.raises(ValueError, match="negative seek"):
        file.seek(-1)


def test_parquet_through_a_range_file_reads_only_what_it_needs(store_url: str) -> None:
    store = open_storage(store_url)
    frame = pd.DataFrame({f"c{i}": range(i, 50_000 + i) for i in range(20)})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    data = buffer.getvalue()
    store.put_bytes("raw/wide.parquet", data)
    file = store.open_random("raw/wide.parquet", len(data))
    table = pq.ParquetFile(file).read(columns=["c3"])
    assert table.column("c3").to_pylist() == list(range(3, 50_003))
    assert file.bytes_read < 0.3 * len(data), (file.bytes_read, len(data))
