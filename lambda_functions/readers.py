"""Reading raw series: CSV (plain or gzip) and Parquet files, one per series or long format.

Only the needed columns are read (by name, in any order). CSV is streamed through
pyarrow's reader, so a 650 MB file never sits in memory whole, and a long-format CSV keeps
only the requested series' rows. Parquet is read through ranged reads
(`lambda_functions.storage.Storage.open_random`): the footer, then the needed columns of
the row groups whose statistics admit the series.

The result of `read_series` is a frame indexed by ``date`` (whatever the time column is
called), sorted, without duplicate times, holding the value column and any extra columns
as float64.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lambda_functions.errors import InputDataError
from lambda_functions.inputs import InputSpec
from lambda_functions.storage import ObjectInfo, Storage

INDEX = "date"  # the processed tables' time index, whatever the raw column is called
KAGGLE_TIMEZONE = "Asia/Kolkata"
PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
EPOCH_UNITS = ("s", "ms", "us", "ns")
# Epoch magnitude limits for `time_format="auto"`: below 1e11 seconds (to year 5138), below
# 1e14 milliseconds, below 1e17 microseconds, else nanoseconds. Millisecond times before
# March 1973 would read as seconds: say ``ms`` explicitly for those.
_EPOCH_LIMITS = ((1e11, "s"), (1e14, "ms"), (1e17, "us"))
_NS_PER = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}
_PEEK = 1 << 16
_EPOCH_RE = re.compile(r"^[+-]?\d+(\.\d*)?$")
# A time (HH:MM[:SS[.f]]) followed by Z or a UTC offset (+HH[[:]MM]).
_OFFSET_PATTERN = r"\d\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d(:?\d\d)?)$"
_ISO_EXAMPLE = "e.g. 2015-02-02 09:15:00+05:30, 2015-02-02T09:15:00Z or 2015-02-02 09:15"
FileFormat = Literal["csv", "csv.gz", "parquet"]
TimeKind = Literal["offset", "naive", "epoch", "zoned"]


@dataclass(frozen=True)
class RawSeries:
    """One series as read: the frame, and what reading it cost."""

    frame: pd.DataFrame
    keys: tuple[str, ...]
    bytes_read: int


def read_series(
    store: Storage,
    spec: InputSpec,
    series: str,
    sources: Sequence[ObjectInfo],
    extra: Sequence[str] = (),
) -> RawSeries:
    """Read one series from its raw files (`lambda_functions.inputs.series_sources`).

    Args:
        extra: more numeric columns to keep (indicators).

    Raises:
        InputDataError: a file is unreadable, lacks a column, or holds a value that is not a
            number or not a time; the series has no rows; every value is missing.
    """
    parts: list[pd.DataFrame] = []
    kinds: set[str] = set()
    bytes_read = 0
    for info in sources:
        table, read = _read_file(store, info, spec, series, extra)
        bytes_read += read
        if table.num_rows == 0:
            continue
        part = to_frame(table, info.key, spec, extra)
        parts.append(part)
        kinds.add("naive" if part[INDEX].dt.tz is None else "aware")
    where = sources[0].key if len(sources) == 1 else f"raw/{spec.files}"
    if not parts:
        if spec.long:
            raise InputDataError(
                f"{where}: no rows of series {series!r} in column {spec.series_column!r}; "
                "check the name (it must match the column's value exactly)"
            )
        raise InputDataError(f"{where}: the file has a header but no data rows")
    if len(kinds) > 1:
        raise InputDataError(
            f"{where}: some files give times with a UTC offset and some without; "
            "times of one series must all have one or all have none"
        )
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    name = f"{where} [{series}]" if spec.long else where
    return RawSeries(finish(frame, name, spec, extra), tuple(i.key for i in sources), bytes_read)


def finish(
    frame: pd.DataFrame, name: str, spec: InputSpec, extra: Sequence[str] = ()
) -> pd.DataFrame:
    """Check a series' rows, sort them by time, drop repeated times (keeping the first)."""
    value_columns = [spec.value_column, *extra]
    empty = [c for c in value_columns if frame[c].isna().all()]
    if empty:
        raise InputDataError(
            f"{name}: column(s) {empty} have no values (every row is empty or NaN); "
            "export the file again with those columns filled in"
        )
    missing_times = int(frame[INDEX].isna().sum())
    if missing_times:
        raise InputDataError(
            f"{name}: {missing_times} row(s) have no time in column {spec.time_column!r}; "
            "fill them in or drop those rows"
        )
    values = frame[value_columns].to_numpy()
    if np.isinf(values).any():
        bad = [c for c, b in zip(value_columns, np.isinf(values).any(axis=0), strict=True) if b]
        raise InputDataError(
            f"{name}: infinite values in column(s) {bad}; replace them with a number or "
            "leave the field empty"
        )
    frame = frame.sort_values(INDEX, kind="stable").drop_duplicates(INDEX, keep="first")
    return frame.set_index(INDEX)


def to_frame(
    table: pa.Table, name: str, spec: InputSpec, extra: Sequence[str] = ()
) -> pd.DataFrame:
    """A read table as a frame: ``date`` (parsed, in the display zone) and float64 values."""
    times, kind = parse_times(table.column(spec.time_column), name, spec)
    columns: dict[str, Any] = {INDEX: display_times(times, kind, spec)}
    for column in (spec.value_column, *extra):
        columns[column] = numbers(table.column(column), name, column).to_pandas()
    return pd.DataFrame(columns)


# --------------------------------------------------------------------------- times


def parse_times(
    values: pa.ChunkedArray | pa.Array, name: str, spec: InputSpec
) -> tuple[Any, TimeKind]:
    """Parse a time column into an Arrow timestamp array, and say what it held.

    ``auto`` reads typed timestamps and dates as they are, numbers as epoch times (unit by
    magnitude, see `_EPOCH_LIMITS`), text of digits as epoch times too, and other text as
    ISO 8601, with a UTC offset (or ``Z``) on every row or on none.
    """
    column = spec.time_column
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    kind = array.type
    if pa.types.is_timestamp(kind):
        return array, "zoned" if kind.tz else "naive"
    if pa.types.is_date(kind):
        return array.cast(pa.timestamp("s")), "naive"
    if pa.types.is_null(kind):
        return pa.nulls(len(array), pa.timestamp("s")), "naive"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        if spec.time_format == "iso":
            raise InputDataError(
                f"{name}: column {column!r} holds numbers, not ISO 8601 text; use "
                "--time-format auto, or s / ms / us / ns for epoch times"
            )
        return _epoch(array, name, spec), "epoch"
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise InputDataError(
            f"{name}: column {column!r} has type {kind}, not a time; give --time-column "
            "the column of timestamps (ISO 8601 text, epoch numbers or a timestamp type)"
        )
    text = pc.utf8_trim_whitespace(array)
    present = text.drop_null()
    if len(present) == 0:
        return pa.nulls(len(array), pa.timestamp("s")), "naive"
    first = present[0].as_py()
    epoch = spec.time_format in EPOCH_UNITS or (
        spec.time_format == "auto" and _EPOCH_RE.match(first) is not None
    )
    if epoch:
        return _epoch(_text_numbers(text, name, column), name, spec), "epoch"
    return _iso(text, name, column), ("offset" if _has_offset(first) else "naive")


def display_times(times: Any, kind: TimeKind, spec: InputSpec) -> pd.Series:
    """Times as pandas values in the zone tables show them in (`InputSpec.timezone`)."""
    series = times.to_pandas()
    if not isinstance(series, pd.Series):
        series = pd.Series(series)
    if series.dt.tz is None:
        return series
    zone = spec.timezone or {"offset": KAGGLE_TIMEZONE, "epoch": "UTC"}.get(kind)
    return series.dt.tz_convert(zone) if zone else series


def _has_offset(text: str) -> bool:
    return re.search(_OFFSET_PATTERN, text) is not None


def _iso(text: pa.Array, name: str, column: str) -> pa.Array:
    offsets = pc.match_substring_regex(text, _OFFSET_PATTERN)
    with_offset = pc.sum(offsets).as_py() or 0
    present = len(text) - text.null_count
    if 0 < with_offset < present:
        first_with = text.filter(offsets)[0].as_py()
        first_without = text.filter(pc.invert(offsets))[0].as_py()
        raise InputDataError(
            f"{name}: column {column!r} mixes times with a UTC offset ({first_with!r}) and "
            f"without one ({first_without!r}); give every row an offset or none"
        )
    zone = "UTC" if with_offset else None
    for unit in ("s", "ns"):  # whole seconds as before; fractions need a finer unit
        try:
            return pc.cast(text, pa.timestamp(unit, tz=zone))
        except pa.ArrowInvalid:
            continue
    # Arrow's ISO parser is strict (e.g. about a space before the offset); pandas' is not.
    strings = text.to_pandas()
    parsed = pd.to_datetime(strings, format="ISO8601", errors="coerce", utc=zone is not None)
    bad = parsed.isna() & strings.notna()
    if not bad.any():
        return pa.array(parsed)
    row = int(np.flatnonzero(bad.to_numpy())[0])
    raise InputDataError(
        f"{name}: a {column!r} value is not a time: {strings.iloc[row]!r} (data row "
        f"{row + 1}); expected ISO 8601 ({_ISO_EXAMPLE}) or epoch seconds / milliseconds"
    )


def _text_numbers(text: pa.Array, name: str, column: str) -> pa.Array:
    for kind in (pa.int64(), pa.float64()):
        try:
            return pc.cast(text, kind)
        except pa.ArrowInvalid:
            continue
    strings = text.to_pandas()
    bad = pd.to_numeric(strings, errors="coerce").isna() & strings.notna()
    row = int(np.flatnonzero(bad.to_numpy())[0])
    raise InputDataError(
        f"{name}: a {column!r} value is not an epoch number: {strings.iloc[row]!r} (data "
        f"row {row + 1}); with --time-format s / ms / us / ns every time is a number"
    )


def _epoch(array: pa.Array, name: str, spec: InputSpec) -> pa.Array:
    unit = spec.time_format if spec.time_format in EPOCH_UNITS else _epoch_unit(array)
    if pa.types.is_integer(array.type):
        try:
            return pc.cast(pc.cast(array, pa.int64()), pa.timestamp(unit, tz="UTC"))
        except (pa.ArrowInvalid, OverflowError) as exc:
            raise InputDataError(f"{name}: epoch times out of range ({exc})") from None
    values = pc.cast(array, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    missing = np.isnan(values)
    scaled = values * _NS_PER[unit]
    if np.any(np.abs(scaled[~missing]) > 9.2e18):
        raise InputDataError(
            f"{name}: epoch times in column {spec.time_column!r} are out of range for "
            f"unit {unit!r}; check --time-format"
        )
    nanos = np.where(missing, 0, np.round(scaled)).astype(np.int64)
    return pa.array(nanos, type=pa.timestamp("ns", tz="UTC"), mask=missing)


def _epoch_unit(array: pa.Array) -> str:
    largest = pc.max(pc.abs(pc.cast(array, pa.float64(), safe=False))).as_py()
    for limit, unit in _EPOCH_LIMITS:
        if largest is None or largest < limit:
            return unit
    return "ns"


# --------------------------------------------------------------------------- numbers


def numbers(values: pa.ChunkedArray | pa.Array, name: str, column: str) -> pa.Array:
    """A column as float64: numbers as they are, text parsed; anything else is an error."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    kind = array.type
    if pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        return pc.cast(array, pa.float64())
    if pa.types.is_null(kind):
        return pa.nulls(len(array), pa.float64())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = pc.utf8_trim_whitespace(array)
        try:
            return pc.cast(text, pa.float64())
        except pa.ArrowInvalid:
            strings = text.to_pandas()
            bad = pd.to_numeric(strings, errors="coerce").isna() & strings.notna()
            bad &= strings.str.len() > 0
            row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
            raise InputDataError(
                f"{name}: column {column!r} holds a value that is not a number: "
                f"{strings.iloc[row]!r} (data row {row + 1})"
            ) from None
    raise InputDataError(
        f"{name}: column {column!r} has type {kind}, not numbers; give --value-column a "
        "numeric column"
    )


# --------------------------------------------------------------------------- files


def detect_format(name: str, head: bytes) -> FileFormat:
    """CSV, gzip'd CSV or Parquet, from the file's first bytes (and, for gzip, its name)."""
    lower = name.lower()
    if head[:4] == PARQUET_MAGIC:
        return "parquet"
    if lower.endswith(PARQUET_SUFFIXES) and head:
        raise InputDataError(
            f"{name}: named like a Parquet file but it is not one (no PAR1 header); "
            "write it again as Parquet, or rename it if it is a CSV"
        )
    if head[:2] == GZIP_MAGIC:
        if lower.endswith(".gz"):
            return "csv.gz"
        raise InputDataError(
            f"{name}: the file is gzip-compressed; decompress it (gunzip) first, "
            f"or name it {name.rsplit('/', 1)[-1]}.gz"
        )
    return "csv"


def wanted_columns(spec: InputSpec, extra: Sequence[str] = ()) -> list[str]:
    """The columns read from a raw file, in this order."""
    series = [spec.series_column] if spec.series_column else []
    return [spec.time_column, spec.value_column, *extra, *series]


def _read_file(
    store: Storage, info: ObjectInfo, spec: InputSpec, series: str, extra: Sequence[str]
) -> tuple[pa.Table, int]:
    """The wanted columns of one raw file (long format: the series' rows only)."""
    if info.size == 0:
        raise InputDataError(f"{info.key}: the file is empty; upload it again")
    keep = (spec.series_column, series) if spec.series_column else None
    if info.key.lower().endswith(PARQUET_SUFFIXES):
        return _read_parquet(store, info, spec, keep, extra)
    stream = io.BufferedReader(_Raw(store.open_read(info.key)), buffer_size=_PEEK * 2)
    with stream:
        fmt = detect_format(info.key, stream.peek(_PEEK)[:8])
        if fmt == "parquet":
            stream.close()
            return _read_parquet(store, info, spec, keep, extra)
        types = {c: pa.float64() for c in (spec.value_column, *extra)}
        types[spec.time_column] = pa.string()
        if spec.series_column:
            types[spec.series_column] = pa.string()
        source: BinaryIO = stream
        if fmt == "csv.gz":
            source = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
        try:
            table = csv_table(source, info.key, types, keep)
        except (OSError, EOFError) as exc:  # a corrupt gzip stream
            raise InputDataError(f"{info.key}: cannot decompress ({exc})") from None
    return table, info.size


def csv_table(
    stream: BinaryIO,
    name: str,
    types: dict[str, pa.DataType],
    keep: tuple[str, str] | None = None,
) -> pa.Table:
    """Read the columns ``types`` names (with those types) from a CSV stream.

    Args:
        keep: ``(column, value)``: keep only the rows whose ``column`` equals ``value``.
    """
    reader = io.BufferedReader(_Raw(stream), buffer_size=_PEEK * 2)
    head = reader.peek(_PEEK)[:_PEEK]
    header = check_header(head, name)
    columns = [c.strip() for c in header]
    missing = [c for c in types if c not in columns]
    if missing:
        raise InputDataError(
            f"{name}: missing column(s) {missing}; the file has {len(columns)} columns "
            f"(first: {columns[:5]}). Name the columns to read with --time-column and "
            "--value-column (the Kaggle files have 'date' and 'TYPPRICE')"
        )
    # Read by the header's own spelling (it may pad names with spaces), then rename.
    as_written = {c.strip(): c for c in header}
    read_options = pacsv.ReadOptions(block_size=1 << 22, use_threads=False)
    convert = pacsv.ConvertOptions(
        include_columns=[as_written[c] for c in types],
        column_types={as_written[c]: t for c, t in types.items()},
        strings_can_be_null=True,
    )
    try:
        if keep is None:
            table = pacsv.read_csv(reader, read_options=read_options, convert_options=convert)
        else:
            column, value = as_written[keep[0]], keep[1]
            batches = []
            csv = pacsv.open_csv(reader, read_options=read_options, convert_options=convert)
            for batch in csv:
                batches.append(batch.filter(pc.equal(batch.column(column), value)))
            table = pa.Table.from_batches(batches, schema=csv.schema)
    except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
        raise InputDataError(_explain_arrow_error(name, str(exc))) from None
    return table.rename_columns([c.strip() for c in table.column_names])


def _read_parquet(
    store: Storage,
    info: ObjectInfo,
    spec: InputSpec,
    keep: tuple[str, str] | None,
    extra: Sequence[str],
) -> tuple[pa.Table, int]:
    file = store.open_random(info.key, info.size)
    parquet = open_parquet(file, info.key)
    columns = wanted_columns(spec, extra)
    check_columns(parquet.schema_arrow.names, columns, info.key)
    groups = list(range(parquet.num_row_groups))
    if keep is not None:
        groups = [g for g in groups if _group_may_hold(parquet, g, keep)]
    tables = [parquet.read_row_group(g, columns=columns) for g in groups]
    table = pa.concat_tables(tables) if tables else parquet.schema_arrow.empty_table()
    table = table.select(columns)
    if keep is not None and table.num_rows:
        values = table.column(keep[0])
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        table = table.filter(pc.equal(pc.cast(values, pa.string()), keep[1]))
    return table, file.bytes_read


def open_parquet(file: Any, name: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(file)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputDataError(
            f"{name}: not a readable Parquet file ({str(exc).splitlines()[0]}); write it "
            "again (e.g. pandas.DataFrame.to_parquet)"
        ) from None


def check_columns(present: Sequence[str], wanted: Sequence[str], name: str) -> None:
    missing = [c for c in wanted if c not in present]
    if missing:
        raise InputDataError(
            f"{name}: missing column(s) {missing}; the file has {len(present)} columns "
            f"(first: {list(present)[:5]}). Name the columns to read with --time-column, "
            "--value-column and --series-column"
        )


def _group_may_hold(parquet: pq.ParquetFile, group: int, keep: tuple[str, str]) -> bool:
    """Whether a row group's min/max statistics admit the series (no statistics: yes)."""
    meta = parquet.metadata.row_group(group)
    for i in range(meta.num_columns):
        chunk = meta.column(i)
        if chunk.path_in_schema != keep[0]:
            continue
        stats = chunk.statistics
        if stats is None or not stats.has_min_max:
            return True
        low, high = stats.min, stats.max
        if isinstance(low, bytes) or isinstance(high, bytes):
            return True
        if isinstance(low, str):
            return low <= keep[1] <= high
        try:
            return low <= type(low)(keep[1]) <= high
        except (TypeError, ValueError):
            return False  # a numeric series column cannot equal this name
    return True


def check_header(head: bytes, name: str) -> list[str]:
    """The CSV header's column names, or an error saying what the file is instead."""
    if not head:
        raise InputDataError(f"{name}: the file is empty; upload it again")
    if head[:2] == GZIP_MAGIC:
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


def _explain_arrow_error(name: str, message: str) -> str:
    detail = message.splitlines()[0]
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
