"""The input description: where a run's series live under ``raw/`` and which columns hold
what. Workers get it in their events (`lambda_functions.events.BaseEvent.input`); the
readers are in `lambda_functions.readers`.

Two shapes of input:

* **one file per series** (the default): ``files`` is a file-name template with one
  ``{series}``, relative to ``raw/``: the Kaggle ``{series}_minute_data_with_indicators.csv``,
  ``{series}.csv``, ``candles/{series}-1m.csv.gz``, ``{series}.parquet``. The series name
  is the part of the file name ``{series}`` stands for, as written (``NIFTY 50``).
* **long format**: ``series_column`` names the column that says which series a row
  belongs to, and ``files`` is one file (``prices.parquet``) or a folder or prefix
  (``export/``: every file under it, except names starting with ``.`` or ``_``, like
  Spark's ``_SUCCESS``).

Each file is CSV (optionally gzip-compressed, then named ``.gz``) or Parquet, told apart
by its content. ``time_format`` says how to read the time column (see
`lambda_functions.readers.parse_times`): ``auto`` (the default) takes ISO 8601 text with or
without a UTC offset, epoch numbers (seconds, milliseconds, microseconds or nanoseconds,
told apart by magnitude) and typed Parquet timestamps or dates; ``iso``, ``s``, ``ms``,
``us`` or ``ns`` insist on one.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from lambda_functions.errors import InputDataError
from lambda_functions.names import RAW_SUFFIX, safe_series
from lambda_functions.storage import ObjectInfo, Storage

RAW_PREFIX = "raw/"
SERIES_FIELD = "{series}"
DEFAULT_FILES = SERIES_FIELD + RAW_SUFFIX
DEFAULT_TIME_COLUMN = "date"
DEFAULT_VALUE_COLUMN = "TYPPRICE"
TimeFormat = Literal["auto", "iso", "s", "ms", "us", "ns"]
MAX_COLUMN_NAME = 200


class InputSpec(BaseModel):
    """Where each series' raw data is (relative to ``raw/``) and which columns hold what.

    Attributes:
        files: One file per series: a template with ``{series}``. Long format: one file,
            or a folder / prefix (a trailing ``/`` means a folder).
        series_column: The column naming each row's series (long format), else None.
        time_column: The column with each row's time.
        time_format: ``auto``, ``iso``, ``s``, ``ms``, ``us`` or ``ns``.
        timezone: The IANA zone tables show times in (e.g. ``UTC``, ``Europe/Berlin``).
            None: ISO text with offsets in Asia/Kolkata (the Kaggle data's exchange, as
            before), epoch numbers in UTC, typed timestamps in their own zone. Times
            without a zone stay without one. Only presentation: no score depends on it.
        value_column: The column forecast (the target and its lags).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    files: str = DEFAULT_FILES
    series_column: str | None = None
    time_column: str = DEFAULT_TIME_COLUMN
    time_format: TimeFormat = "auto"
    timezone: str | None = None
    value_column: str = DEFAULT_VALUE_COLUMN

    @field_validator("files")
    @classmethod
    def _files(cls, value: str) -> str:
        if not value or value != value.strip():
            raise ValueError("files is empty or has leading/trailing spaces")
        if value.startswith("/") or "\\" in value or any(ord(c) < 32 for c in value):
            raise ValueError(f"files {value!r} must be relative to raw/, with '/' between folders")
        parts = value.rstrip("/").split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"files {value!r}: empty, '.' or '..' path segments are not allowed")
        rest = value.replace(SERIES_FIELD, "")
        if "{" in rest or "}" in rest:
            raise ValueError(
                f"files {value!r}: the only placeholder is {SERIES_FIELD} "
                "(e.g. {series}.csv or {series}_minute_data_with_indicators.csv)"
            )
        if value.count(SERIES_FIELD) > 1:
            raise ValueError(f"files {value!r}: use {SERIES_FIELD} once")
        if SERIES_FIELD in value and "/" in value[value.index(SERIES_FIELD) :]:
            raise ValueError(f"files {value!r}: {SERIES_FIELD} must be in the file name itself")
        return value

    @field_validator("series_column", "time_column", "value_column")
    @classmethod
    def _column(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip() or len(value) > MAX_COLUMN_NAME or not value.isprintable():
            raise ValueError(
                f"column name {value[:40]!r} must be 1-{MAX_COLUMN_NAME} printable characters"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as UTC, "
                "Europe/Berlin or Asia/Kolkata"
            ) from None
        return value

    @model_validator(mode="after")
    def _shape(self) -> InputSpec:
        columns = [self.time_column, self.value_column, self.series_column]
        named = [c for c in columns if c is not None]
        if len(set(named)) != len(named):
            raise ValueError(
                f"the time, value and series columns must differ (got {named}); "
                "each names its own column"
            )
        if self.long and SERIES_FIELD in self.files:
            raise ValueError(
                f"files {self.files!r} has {SERIES_FIELD}, but series_column "
                f"{self.series_column!r} says one file holds many series: give the file or "
                "folder holding them (e.g. prices.parquet), or drop series_column"
            )
        if not self.long and SERIES_FIELD not in self.files:
            raise ValueError(
                f"files {self.files!r} has no {SERIES_FIELD}: give a template such as "
                "{series}.csv, or name the column holding each row's series "
                "(series_column) for a long-format file"
            )
        return self

    @property
    def long(self) -> bool:
        """One file (or folder) holding many series, told apart by `series_column`."""
        return self.series_column is not None

    @property
    def is_default(self) -> bool:
        return self == InputSpec()

    def file_key(self, series: str) -> str:
        """One-file-per-series input: the raw key of ``series``."""
        if self.long:
            raise ValueError("a long-format input has no file per series")
        return RAW_PREFIX + self.files.replace(SERIES_FIELD, safe_series(series))

    def listing_prefix(self) -> str:
        """The prefix to list to find every raw file of this input."""
        if self.long:
            return RAW_PREFIX + self.files
        return RAW_PREFIX + self.files[: self.files.index(SERIES_FIELD)]

    def series_of(self, key: str) -> str | None:
        """The series a raw key holds under this template (None: not one of its files).

        Raises:
            UnsafeNameError: the key matches the template but names an unusable series.
        """
        head, tail = self.files.split(SERIES_FIELD)
        match = re.fullmatch(
            re.escape(RAW_PREFIX + head) + "(?P<series>[^/]+)" + re.escape(tail), key
        )
        if match is None:
            return None
        return safe_series(match["series"])

    def describe(self) -> str:
        """One line for messages: where series come from and which columns are read."""
        where = f"raw/{self.files}"
        if self.long:
            where += f" (long format, series in column {self.series_column!r})"
        return f"{where}, time {self.time_column!r}, value {self.value_column!r}"


def long_sources(store: Storage, spec: InputSpec) -> list[ObjectInfo]:
    """The files of a long-format input, in key order.

    Raises:
        InputDataError: nothing there.
    """
    path = RAW_PREFIX + spec.files
    if not path.endswith("/"):
        info = store.head(path)
        if info is not None:
            return [info]
    found = [
        info
        for info in store.list(path)
        if not info.key.endswith("/") and not info.key.rsplit("/", 1)[-1].startswith((".", "_"))
    ]
    if not found:
        raise InputDataError(
            f"no long-format input at {path} in {store.url}: upload the file there, or "
            "give --files the file or folder (relative to raw/) that holds the series"
        )
    return found


def series_sources(
    store: Storage, spec: InputSpec, series: str, file: str | None = None
) -> list[ObjectInfo]:
    """The raw files one series is read from (one, or a long-format input's files).

    Raises:
        InputDataError: no such file; the series is unknown.
    """
    if spec.long:
        return long_sources(store, spec)
    key = RAW_PREFIX + file if file else spec.file_key(series)
    info = store.head(key)
    if info is None:
        what = "its Kaggle CSV" if spec.files == DEFAULT_FILES else f"its file (raw/{spec.files})"
        raise InputDataError(
            f"unknown stock {series!r}: no {key} in {store.url}; check the name "
            f"or add {what} under raw/"
        )
    return [info]


def identity(sources: list[ObjectInfo]) -> str:
    """The input's identity: size and ETag (or mtime) of its files; a change gets new results.

    One file: ``{size}-{etag}`` (as before); several: a hash of every key, size and ETag."""
    if len(sources) == 1:
        return f"{sources[0].size}-{sources[0].etag}"
    digest = hashlib.sha256()
    for info in sources:
        digest.update(f"{info.key}\0{info.size}\0{info.etag}\n".encode())
    return f"{len(sources)}files-{digest.hexdigest()[:32]}"
