"""Reading and writing tables (Parquet or CSV) through a store, deterministically."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lambda_functions.storage import Storage


def table_bytes(frame: pd.DataFrame, fmt: str, compression: str | None = "zstd") -> bytes:
    """Serialise a frame; the same frame always gives the same bytes.

    ``compression`` is the Parquet codec (None: uncompressed); CSV ignores it."""
    if fmt == "csv":
        return frame.to_csv(index=True, lineterminator="\n").encode("utf-8")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=True, compression=compression)
    return buffer.getvalue()


def write_table(store: Storage, key: str, frame: pd.DataFrame) -> int:
    """Write ``frame`` at ``key`` in the format its extension names (Parquet with the
    store's codec); return the bytes written."""
    data = table_bytes(frame, _fmt(key), store.table_compression)
    store.put_bytes(key, data)
    return len(data)


def read_table(store: Storage, key: str) -> pd.DataFrame:
    """Read a table written by `write_table` (the ``date`` index restored, tz-aware)."""
    data = store.get_bytes(key)
    if _fmt(key) == "csv":
        frame = pd.read_csv(io.BytesIO(data), index_col=0)
        if frame.index.name == "date":
            frame.index = pd.to_datetime(frame.index, format="ISO8601")
        return frame
    return pq.read_table(pa.BufferReader(data)).to_pandas()


def _fmt(key: str) -> str:
    if key.endswith(".csv"):
        return "csv"
    if key.endswith(".parquet"):
        return "parquet"
    raise ValueError(f"cannot tell the table format of {key!r}")
