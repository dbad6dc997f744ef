"""A run's input: which series a store holds, each one's identity, and whether it is usable.

`check_series` runs before anything is invoked (``flows.pipeline.check_inputs``, which the
CLI calls before Prefect starts). It finds the series (as requested, else every one the
input description finds) and checks each one cheaply, without reading big files whole:

* the file exists, is CSV, gzip'd CSV or Parquet, and has the time, value (and series)
  columns;
* a sample parses: the first `SAMPLE_BYTES` of a CSV (a ``.gz``: of its decompressed
  text), the first `SAMPLE_ROWS` of a Parquet file. Values must be finite numbers and
  times must parse into one sortable kind (ISO text with an offset on every row or on
  none, epoch numbers, typed timestamps);
* there are enough rows for the lags, the horizon and the split
  (`FeatureSpec.raw_rows_needed`): exact for Parquet (row and null counts from the
  footer) and for long format (the series column is read whole: that is also how its
  series are found); otherwise estimated from the file size and the sample's row length,
  and flagged only when clearly short.

A file the sample holds whole (a CSV up to `SAMPLE_BYTES`, a Parquet file up to
`SAMPLE_ROWS` rows) gets the worker's own checks on every row, usable-row count included.

Each problem is reported under the series' name with what to fix. The processing worker
checks every row in full (every value and time, NaN rows, repeated times, the exact count
of usable rows).
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lambda_functions.errors import GrovesError, InputDataError, UnsafeNameError
from lambda_functions.features import FeatureSpec, build_features
from lambda_functions.inputs import (
    RAW_PREFIX,
    InputSpec,
    identity,
    long_sources,
    series_sources,
)
from lambda_functions.readers import (
    PARQUET_SUFFIXES,
    check_columns,
    csv_table,
    detect_format,
    finish,
    numbers,
    open_parquet,
    parse_times,
    to_frame,
    wanted_columns,
)
from lambda_functions.storage import ObjectInfo, Storage

SAMPLE_BYTES = 1 << 20  # the head of a CSV that is parsed up front
SAMPLE_ROWS = 2000  # rows of a Parquet file parsed up front
ESTIMATE_MARGIN = 0.9  # an estimated row count is flagged below this share of the need
DEFAULT_INPUT = InputSpec()


class UnusableSeriesError(GrovesError):
    """More series cannot be used than a run tolerates; ``problems`` names each."""

    def __init__(self, headline: str, problems: dict[str, str]) -> None:
        self.headline = headline
        self.problems = problems
        lines = [f"- {name}: {problem}" for name, problem in problems.items()]
        super().__init__("\n".join([headline, *lines]))


@dataclass
class InputCheck:
    """The outcome of checking a run's input.

    Attributes:
        series: Each usable series and its input identity, in run order.
        problems: Each unusable series (or raw file) and what is wrong with it.
        rows: Each series' row count as far as known up front, and how it is known
            (``usable``: rows left after lags and horizon, every row checked; ``exact``:
            rows with a value; ``sample``: at least that many; ``estimate``).
    """

    series: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    rows: dict[str, tuple[int, str]] = field(default_factory=dict)


def check_series(
    store: Storage,
    spec: InputSpec,
    requested: Sequence[str] | None,
    features: FeatureSpec,
    indicators: Sequence[str] = (),
) -> InputCheck:
    """Find and check a run's series (see the module docstring).

    Raises:
        GrovesError: the store holds no input at all, or a long-format file cannot be
            split into series (its series column is missing).
    """
    features = replace(features, value=spec.value_column)
    next(iter(store.list(RAW_PREFIX)), None)  # a missing bucket or unusable store fails here
    if spec.long:
        return _check_long(store, spec, requested, features, indicators)
    return _check_wide(store, spec, requested, features, indicators)


# --------------------------------------------------------------------------- one file each


def discover_stocks(store: Storage, spec: InputSpec = DEFAULT_INPUT) -> list[str]:
    """Every series with a file under ``raw/`` that matches the template (hidden files
    and files whose name is no usable series name are skipped)."""
    return list(_discover_wide(store, spec)[0])


def _discover_wide(store: Storage, spec: InputSpec) -> tuple[dict[str, ObjectInfo], dict[str, str]]:
    found: dict[str, ObjectInfo] = {}
    problems: dict[str, str] = {}
    for info in store.list(spec.listing_prefix()):
        if info.key.rsplit("/", 1)[-1].startswith("."):
            continue
        try:
            series = spec.series_of(info.key)
        except UnsafeNameError as exc:
            problems[info.key] = f"{exc}; rename the file"
            continue
        if series is not None:
            found[series] = info
    return found, problems


def _check_wide(
    store: Storage,
    spec: InputSpec,
    requested: Sequence[str] | None,
    features: FeatureSpec,
    indicators: Sequence[str],
) -> InputCheck:
    check = InputCheck()
    if requested:
        files: dict[str, ObjectInfo] = {}
        for series in requested:
            try:
                files[series] = series_sources(store, spec, series)[0]
            except InputDataError as exc:
                check.problems[series] = str(exc)
    else:
        files, check.problems = _discover_wide(store, spec)
        if not files and not check.problems:
            raise GrovesError(
                f"no raw files in {store.url}/{spec.listing_prefix()} matching "
                f"raw/{spec.files}: add one file per series (e.g. "
                f"raw/{spec.files.replace('{series}', 'RELIANCE')}), describe your files with "
                "--files (and --series-column for one long-format file), or run "
                "`groves data generate`"
            )
    for series, info in files.items():
        try:
            sample = sample_file(store, info, spec, indicators)
            if sample.complete:  # a small file: the worker's own checks, every row
                count, how = check_whole(sample.table, info.key, spec, features, indicators)
            else:
                check_sample(sample.table, info.key, spec, indicators)
                count, how = sample.value_rows(spec.value_column)
                _check_count(info.key, count, how, features)
        except InputDataError as exc:
            check.problems[series] = str(exc)
            continue
        check.series[series] = identity([info])
        check.rows[series] = (count, how)
    return check


# --------------------------------------------------------------------------- long format


def _check_long(
    store: Storage,
    spec: InputSpec,
    requested: Sequence[str] | None,
    features: FeatureSpec,
    indicators: Sequence[str],
) -> InputCheck:
    check = InputCheck()
    try:
        sources = long_sources(store, spec)
    except InputDataError as exc:
        raise GrovesError(str(exc)) from None
    counts: dict[str, int] = {}
    file_problems: dict[str, str] = {}  # apply to every series
    series_problems: dict[str, str] = {}
    for info in sources:
        try:
            for name, n in series_counts(store, info, spec).items():
                counts[name] = counts.get(name, 0) + n
        except NoSeriesColumnError as exc:
            raise GrovesError(str(exc)) from None
        except InputDataError as exc:
            file_problems[info.key] = str(exc)
            continue
        try:
            sample = sample_file(store, info, spec, indicators)
        except InputDataError as exc:
            file_problems[info.key] = str(exc)
            continue
        whole = sample.complete and len(sources) == 1
        checked = _check_long_sample(sample.table, info.key, spec, features, indicators, whole)
        for name, problem in checked:
            series_problems.setdefault(name, problem)
    names = list(requested) if requested else sorted(counts)
    if not names:
        raise GrovesError(
            f"no series in raw/{spec.files} of {store.url}: column {spec.series_column!r} "
            "has no values" + (f" ({'; '.join(file_problems.values())})" if file_problems else "")
        )
    input_id = identity(sources)
    for name in names:
        try:
            name = _usable_name(name)
        except UnsafeNameError as exc:
            check.problems[name] = f"{exc}; rename it in column {spec.series_column!r}"
            continue
        if file_problems:
            check.problems[name] = "; ".join(file_problems.values())
        elif name in series_problems:
            check.problems[name] = series_problems[name]
        elif name not in counts:
            check.problems[name] = (
                f"unknown stock {name!r}: no rows with {spec.series_column!r} = {name!r} in "
                f"raw/{spec.files}; check the name (series found: {_some(counts)})"
            )
        else:
            try:
                _check_count(f"raw/{spec.files} [{name}]", counts[name], "exact", features)
            except InputDataError as exc:
                check.problems[name] = str(exc)
                continue
            check.series[name] = input_id
            check.rows[name] = (counts[name], "exact")
    return check


def _usable_name(name: str) -> str:
    from lambda_functions.names import safe_series, series_key

    series_key(safe_series(name))
    return name


def _some(counts: dict[str, int]) -> str:
    names = sorted(counts)
    shown = ", ".join(repr(n) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "") if names else "none"


_COUNTS: dict[tuple[str, str, int, str, str], dict[str, int]] = {}


def series_counts(store: Storage, info: ObjectInfo, spec: InputSpec) -> dict[str, int]:
    """Rows per series of a long-format file: its series column, read whole (remembered
    per file version, so the CLI's check and the flow's do not read it twice)."""
    column = spec.series_column
    assert column is not None
    memo = (store.url, info.key, info.size, info.etag, column)
    if memo in _COUNTS:
        return _COUNTS[memo]
    if info.size == 0:
        raise InputDataError(f"{info.key}: the file is empty; upload it again")
    if _is_parquet(store, info):
        parquet = open_parquet(store.open_random(info.key, info.size), info.key)
        _check_series_column(parquet.schema_arrow.names, column, info.key)
        values = parquet.read(columns=[column]).column(column)
    else:
        with _text_stream(store, info) as stream:
            try:
                table = csv_table(stream, info.key, {column: pa.string()})
            except InputDataError as exc:
                if "missing column" in str(exc):
                    raise NoSeriesColumnError(info.key, column) from None
                raise
        values = table.column(column)
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    values = pc.cast(values, pa.string())
    counted = pc.value_counts(values.drop_null()) if len(values) else []
    result = {item["values"].as_py(): item["counts"].as_py() for item in counted}
    if len(_COUNTS) > 64:
        _COUNTS.clear()
    _COUNTS[memo] = result
    return result


class NoSeriesColumnError(InputDataError):
    """A long-format file lacks its series column: none of its series can be named."""

    def __init__(self, name: str, column: str, present: Sequence[str] = ()) -> None:
        has = f" (its columns: {list(present)[:8]})" if present else ""
        super().__init__(
            f"{name}: no series column {column!r}{has}; give --series-column the column "
            "that names each row's series"
        )


def _check_series_column(present: Sequence[str], column: str, name: str) -> None:
    if column not in present:
        raise NoSeriesColumnError(name, column, present)


def _check_long_sample(
    table: pa.Table,
    name: str,
    spec: InputSpec,
    features: FeatureSpec,
    indicators: Sequence[str],
    whole: bool,
) -> Iterable[tuple[str, str]]:
    """Per series present in a sample: its first problem (``whole``: the sample is all
    of the series' data, so the worker's own checks run)."""
    column = spec.series_column
    assert column is not None
    ids = table.column(column)
    if pa.types.is_dictionary(ids.type):
        ids = ids.cast(ids.type.value_type)
    ids = pc.cast(ids, pa.string())
    for series in pc.unique(ids.drop_null()).to_pylist():
        rows = table.filter(pc.equal(ids, series))
        try:
            if whole:
                check_whole(rows, f"{name} [{series}]", spec, features, indicators)
            else:
                check_sample(rows, f"{name} [{series}]", spec, indicators)
        except InputDataError as exc:
            yield series, str(exc)


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class Sample:
    """The first rows of a raw file, and what is known of its length.

    Attributes:
        table: the sampled rows (CSV: every column as text; Parquet: as stored).
        complete: the sample is the whole file.
        total_rows: the file's rows, if known (Parquet, or a complete sample).
        value_nulls: empty values in the value column over the whole file, if known.
        estimated_rows: from the file size and the sample's bytes per row.
    """

    table: pa.Table
    complete: bool
    total_rows: int | None = None
    value_nulls: int | None = None
    estimated_rows: int | None = None

    def value_rows(self, value_column: str) -> tuple[int, str]:
        """Rows with a value: a count and how it is known (exact / sample / estimate)."""
        sampled = self.table.num_rows - _nulls(self.table.column(value_column))
        if self.total_rows is not None and self.value_nulls is not None:
            return self.total_rows - self.value_nulls, "exact"
        if self.complete:
            return sampled, "exact"
        if self.estimated_rows is not None and self.table.num_rows:
            share = sampled / self.table.num_rows
            return max(int(self.estimated_rows * share), sampled), "estimate"
        return sampled, "sample"


def sample_file(
    store: Storage, info: ObjectInfo, spec: InputSpec, indicators: Sequence[str] = ()
) -> Sample:
    """Read the head of a raw file: the wanted columns of its first rows."""
    if info.size == 0:
        raise InputDataError(f"{info.key}: the file is empty; upload it again")
    columns = wanted_columns(spec, indicators)
    lower = info.key.lower()
    head = b""
    if lower.endswith(PARQUET_SUFFIXES):
        fmt = "parquet"
    elif lower.endswith(".gz"):
        fmt = "csv.gz"
    else:  # one ranged read: the sample, and the first bytes that tell the format
        head = store.read_range(info.key, 0, SAMPLE_BYTES + 1)
        fmt = detect_format(info.key, head[:8])
    if fmt == "parquet":
        file = store.open_random(info.key, info.size)
        parquet = open_parquet(file, info.key)
        check_columns(parquet.schema_arrow.names, columns, info.key)
        groups = [0] if parquet.num_row_groups else []  # else it prefetches every group
        batches = parquet.iter_batches(batch_size=SAMPLE_ROWS, columns=columns, row_groups=groups)
        first = next(batches, None)
        table = pa.Table.from_batches([first]) if first is not None else None
        if table is None:
            table = parquet.schema_arrow.empty_table().select(columns)
        meta = parquet.metadata
        return Sample(
            table=table.select(columns),
            complete=table.num_rows == meta.num_rows,
            total_rows=meta.num_rows,
            value_nulls=_parquet_nulls(parquet, spec.value_column),
        )
    if fmt == "csv.gz":
        with _text_stream(store, info, fmt) as stream:
            head = stream.read(SAMPLE_BYTES + 1)
            consumed = stream.count
    else:
        consumed = min(len(head), SAMPLE_BYTES)
    more = len(head) > SAMPLE_BYTES
    if more:
        head = head[:SAMPLE_BYTES]
        head = head[: head.rfind(b"\n") + 1]  # whole rows only
    types = {c: pa.string() for c in columns}
    table = csv_table(io.BytesIO(head), info.key, types)
    estimate = None
    if more and table.num_rows and consumed:
        estimate = int(info.size / consumed * table.num_rows)
    return Sample(table=table, complete=not more, estimated_rows=estimate)


def check_sample(
    table: pa.Table, name: str, spec: InputSpec, indicators: Sequence[str] = ()
) -> None:
    """Parse a sample's times and values as the worker will (raise `InputDataError`)."""
    parse_times(table.column(spec.time_column), name, spec)
    for column in (spec.value_column, *indicators):
        values = numbers(table.column(column), name, column)
        if pc.any(pc.is_inf(values)).as_py():
            raise InputDataError(
                f"{name}: infinite values in column(s) {[column]}; replace them with a "
                "number or leave the field empty"
            )


def check_whole(
    table: pa.Table,
    name: str,
    spec: InputSpec,
    features: FeatureSpec,
    indicators: Sequence[str] = (),
) -> tuple[int, str]:
    """All of a series' rows: the worker's own checks; returns its usable rows."""
    if table.num_rows == 0:
        raise InputDataError(f"{name}: the file has a header but no data rows")
    frame = finish(to_frame(table, name, spec, indicators), name, spec, indicators)
    return len(build_features(frame, name, indicators, features)), "usable"


def _check_count(name: str, count: int, how: str, features: FeatureSpec) -> None:
    needed = features.raw_rows_needed
    short = count < needed if how != "estimate" else count < needed * ESTIMATE_MARGIN
    if how == "sample" or not short:
        return
    about = "about " if how == "estimate" else ""
    raise InputDataError(
        f"{name}: {about}{count} rows with a value; {needed} are needed ({features.lags} "
        f"lags, a target {features.horizon} row(s) ahead and {features.min_rows} rows to "
        "split 64/16/20); add data, or lower --lags, --horizon or --min-rows"
    )


def _nulls(values: Any) -> int:
    return int(values.null_count)


def _parquet_nulls(parquet: Any, column: str) -> int | None:
    """Empty values of a column over the whole file, from the footer (None: unknown)."""
    meta = parquet.metadata
    total = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for i in range(group.num_columns):
            chunk = group.column(i)
            if chunk.path_in_schema == column:
                stats = chunk.statistics
                if stats is None or not stats.has_null_count:
                    return None
                total += stats.null_count
    return total


def _is_parquet(store: Storage, info: ObjectInfo) -> bool:
    if info.key.lower().endswith(PARQUET_SUFFIXES):
        return True
    return detect_format(info.key, store.read_range(info.key, 0, 4)) == "parquet"


class _Counting(io.RawIOBase):
    """Counts the bytes read from a stream (a gzip file's compressed bytes)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


def _text_stream(store: Storage, info: ObjectInfo, fmt: str | None = None) -> Any:
    """A CSV's text as a stream (gzip decompressed); format problems raise here."""
    if fmt is None:
        fmt = detect_format(info.key, store.read_range(info.key, 0, 4))
    raw = store.open_read(info.key)
    if fmt == "csv.gz":
        counting = _Counting(raw)
        stream = gzip.GzipFile(fileobj=counting, mode="rb")
        return _GzipWithCount(stream, counting, info.key)
    return raw


class _GzipWithCount(io.RawIOBase):
    """Decompressed text whose ``count`` is the compressed bytes consumed so far."""

    def __init__(self, stream: gzip.GzipFile, counting: _Counting, name: str) -> None:
        self._stream = stream
        self._counting = counting
        self._name = name

    @property
    def count(self) -> int:
        return self._counting.count

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._stream.read(len(buffer))
        except (OSError, EOFError) as exc:
            raise InputDataError(f"{self._name}: cannot decompress ({exc})") from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        self._counting.close()
        super().close()


# --------------------------------------------------------------------------- compatibility


def input_identity(store: Storage, stock: str, spec: InputSpec = DEFAULT_INPUT) -> str:
    """The raw input's identity (size and ETag / mtime): a changed file gets new results."""
    return identity(series_sources(store, spec, stock))


def resolve_stocks(
    store: Storage, requested: tuple[str, ...] | None, spec: InputSpec = DEFAULT_INPUT
) -> dict[str, str]:
    """The run's series (as requested, else every one found) with their input identities,
    without checking their content (see `check_series`).

    Raises:
        GrovesError: the store holds no raw file; InputDataError: a requested one has none.
    """
    next(iter(store.list(RAW_PREFIX)), None)
    if spec.long:
        sources = long_sources(store, spec)
        names = list(requested or [])
        if not names:
            for info in sources:
                names += [n for n in series_counts(store, info, spec) if n not in names]
        return {name: identity(sources) for name in names}
    stocks = list(requested or discover_stocks(store, spec))
    if not stocks:
        raise GrovesError(
            f"no raw files in {store.url}/raw/ matching raw/{spec.files}: add one file per "
            "series (or run `groves data generate`)"
        )
    return {stock: input_identity(store, stock, spec) for stock in stocks}
