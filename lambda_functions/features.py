"""Raw Kaggle minute data -> clean, lagged, split tables.

Only the needed columns are read (by name, in any order), streamed through pyarrow's CSV
reader so a 650 MB file never sits in memory whole.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from lambda_functions import defaults
from lambda_functions.errors import InputDataError

DATE = "date"
PRICE = "TYPPRICE"
TARGET = "TYPPRICE_TARGET"
N_LAGS = defaults.N_LAGS
LAGS = tuple(f"TYPPRICE_LAG_{k}" for k in range(1, N_LAGS + 1))
MIN_ROWS = 1000  # usable rows (about 3 trading days): fewer cannot feed a 64/16/20 split
TIMEZONE = "Asia/Kolkata"
SEED_RANDOM_STATE = 2019  # the seed's train_test_split random_state
_PEEK = 1 << 16


def read_raw(stream: BinaryIO, name: str, indicators: Sequence[str] = ()) -> pd.DataFrame:
    """Read ``date``, ``TYPPRICE`` and the named indicator columns from a raw CSV stream.

    Args:
        stream: the raw file, opened for binary reading.
        name: the file's name, for error messages.
        indicators: extra columns to keep.

    Returns:
        A frame indexed by tz-aware ``date`` (IST), sorted, without duplicate timestamps.

    Raises:
        InputDataError: the file is empty, compressed, binary, not comma-separated, lacks a
            column, or holds a value that is not a number or not a timestamp with offset.
    """
    reader = io.BufferedReader(_Raw(stream), buffer_size=_PEEK * 2)
    head = reader.peek(_PEEK)[:_PEEK]
    header = _check_header(head, name)
    columns = [c.strip() for c in header]
    wanted = [DATE, PRICE, *indicators]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise InputDataError(
            f"{name}: missing column(s) {missing}; the file has {len(columns)} columns "
            f"(first: {columns[:5]}). Expected the Kaggle schema with 'date' and 'TYPPRICE'"
        )
    # Read by the header's own spelling (it may pad names with spaces), then rename.
    as_written = {c.strip(): c for c in header}
    types = {as_written[DATE]: pa.timestamp("s", tz="UTC")}
    types.update({as_written[c]: pa.float64() for c in wanted[1:]})
    try:
        table = pacsv.read_csv(
            reader,
            read_options=pacsv.ReadOptions(block_size=1 << 22, use_threads=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=[as_written[c] for c in wanted],
                column_types=types,
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
        raise InputDataError(_explain_arrow_error(name, str(exc), columns)) from None
    frame = table.to_pandas()
    frame.columns = [c.strip() for c in frame.columns]
    if frame.empty:
        raise InputDataError(f"{name}: the file has a header but no data rows")
    empty = [c for c in wanted[1:] if frame[c].isna().all()]
    if empty:
        raise InputDataError(
            f"{name}: column(s) {empty} have no values (every row is empty or NaN); "
            "export the file again with those columns filled in"
        )
    if frame[DATE].isna().any():
        raise InputDataError(f"{name}: {int(frame[DATE].isna().sum())} row(s) have no date")
    values = frame[wanted[1:]].to_numpy()
    if np.isinf(values).any():
        bad = frame.columns[1:][np.isinf(values).any(axis=0)].tolist()
        raise InputDataError(
            f"{name}: infinite values in column(s) {bad}; replace them with a number or "
            "leave the field empty"
        )
    frame[DATE] = frame[DATE].dt.tz_convert(TIMEZONE)
    frame = frame.sort_values(DATE, kind="stable").drop_duplicates(DATE, keep="first")
    return frame.set_index(DATE)


def build_features(raw: pd.DataFrame, name: str, indicators: Sequence[str] = ()) -> pd.DataFrame:
    """Add TYPPRICE lags 1..10 and the next-minute target; drop rows with any NaN."""
    frame = raw[[PRICE, *indicators]].copy()
    lags = {lag: frame[PRICE].shift(k) for k, lag in enumerate(LAGS, start=1)}
    frame = pd.concat([frame[[PRICE]], pd.DataFrame(lags), frame[list(indicators)]], axis=1)
    frame[TARGET] = frame[PRICE].shift(-1)
    frame = frame.dropna()
    if len(frame) < MIN_ROWS:
        raise InputDataError(
            f"{name}: only {len(frame)} usable rows after dropping empty values and building "
            f"{N_LAGS} lags; at least {MIN_ROWS} (about 3 trading days) are needed"
        )
    return frame


def split_frame(frame: pd.DataFrame, how: str = "chronological") -> dict[str, pd.DataFrame]:
    """Split 64/16/20 into training, validation and testing.

    ``chronological`` keeps time order (train is the oldest 64%); ``random`` reproduces the
    seed's ``train_test_split(..., random_state=2019)`` twice, which leaks the future.
    """
    n = len(frame)
    if how == "chronological":
        n_test = int(np.ceil(n * 0.2))
        n_rest = n - n_test
        n_val = int(np.ceil(n_rest * 0.2))
        n_train = n_rest - n_val
        return {
            "training": frame.iloc[:n_train],
            "validation": frame.iloc[n_train:n_rest],
            "testing": frame.iloc[n_rest:],
        }
    if how == "random":
        from sklearn.model_selection import train_test_split

        rest, test = train_test_split(frame, test_size=0.2, random_state=SEED_RANDOM_STATE)
        train, val = train_test_split(rest, test_size=0.2, random_state=SEED_RANDOM_STATE)
        return {"training": train, "validation": val, "testing": test}
    raise ValueError(f"unknown split {how!r}; use 'chronological' or 'random'")


def _check_header(head: bytes, name: str) -> list[str]:
    if not head:
        raise InputDataError(f"{name}: the file is empty; upload the Kaggle CSV again")
    if head[:2] == b"\x1f\x8b":
        raise InputDataError(f"{name}: the file is gzip-compressed; decompress it (gunzip) first")
    if head[:4] == b"PK\x03\x04":
        raise InputDataError(f"{name}: the file is a zip archive; extract the CSV first")
    if b"\x00" in head:
        raise InputDataError(f"{name}: the file is binary, not a text CSV")
    head = head.removeprefix(b"\xef\xbb\xbf")
    try:
        first = head.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise InputDataError(
            f"{name}: the header is not UTF-8 text; save it as UTF-8 CSV"
        ) from None
    columns = [c.strip('"') for c in first.split(",")]
    if len(columns) == 1:
        for sep, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if sep in first:
                raise InputDataError(
                    f"{name}: columns are separated by {label}, not commas; "
                    "save the file as comma-separated CSV"
                )
    stripped = [c.strip() for c in columns]
    duplicated = sorted({c for c in stripped if stripped.count(c) > 1})
    if duplicated:
        raise InputDataError(f"{name}: duplicated column name(s) {duplicated}; keep one of each")
    return columns


def _explain_arrow_error(name: str, message: str, columns: list[str]) -> str:
    detail = message.splitlines()[0]
    if "timestamp" in message:
        return (
            f"{name}: a 'date' value is not a timestamp with a UTC offset ({detail}); "
            "expected e.g. 2015-02-02 09:15:00+05:30"
        )
    if "double" in message:
        return f"{name}: a numeric column holds a value that is not a number ({detail})"
    if "Expected" in message and "columns" in message:
        return f"{name}: rows have different numbers of fields ({detail}); fix the malformed rows"
    return f"{name}: cannot parse the CSV ({detail})"


class _Raw(io.RawIOBase):
    """Lets any readable binary stream sit under an `io.BufferedReader` (for ``peek``)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()
