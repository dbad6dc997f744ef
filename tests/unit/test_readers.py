"""Reading times and values (issue 16): ISO text with or without offsets, epoch numbers
by magnitude or as told, typed Parquet timestamps and dates; numbers from text; formats
told apart by content."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from lambda_functions.errors import InputDataError
from lambda_functions.inputs import InputSpec
from lambda_functions.readers import detect_format, display_times, numbers, parse_times

KOLKATA = "2015-02-02 09:15:00+05:30"
INSTANT = pd.Timestamp("2015-02-02 03:45:00", tz="UTC")


def times(values: Any, **fields: Any) -> pd.Series:
    spec = InputSpec(**fields)
    array = values if isinstance(values, pa.Array) else pa.array(values)
    parsed, kind = parse_times(array, "f.csv", spec)
    return display_times(parsed, kind, spec)


def test_iso_with_offsets_shows_in_kolkata_as_before() -> None:
    out = times([KOLKATA, "2015-02-02 09:16:00+05:30"])
    assert str(out.dt.tz) == "Asia/Kolkata" and out.dtype.unit == "s"
    assert out[0] == INSTANT
    assert times(["2015-02-02T03:45:00Z"])[0] == INSTANT
    assert times(["2015-02-02 09:15:00+0530"])[0] == INSTANT
    assert str(times([KOLKATA], timezone="UTC").dt.tz) == "UTC"


def test_iso_without_offsets_stays_naive() -> None:
    out = times(["2015-02-02 09:15:00", "2015-02-02T09:16:00", "2015-02-03"])
    assert out.dt.tz is None
    assert list(out) == [
        pd.Timestamp("2015-02-02 09:15"),
        pd.Timestamp("2015-02-02 09:16"),
        pd.Timestamp("2015-02-03"),
    ]
    assert times(["2015-02-02 09:15:00"], timezone="UTC").dt.tz is None  # not guessed


def test_fractional_seconds_and_lenient_forms() -> None:
    assert times(["2015-02-02 09:15:00.250+05:30"])[0] == INSTANT + pd.Timedelta("250ms")
    assert times(["2015-02-02 09:15:00 +05:30"])[0] == INSTANT  # a space before the offset


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (1422848700, "s"),
        (1422848700_000, "ms"),
        (1422848700_000_000, "us"),
        (1422848700_000_000_000, "ns"),
    ],
)
def test_epoch_unit_by_magnitude(value: int, unit: str) -> None:
    for given in (pa.array([value, value + 1]), pa.array([str(value), str(value + 1)])):
        out = times(given)
        assert out[0] == INSTANT and str(out.dt.tz) == "UTC"
        assert out.dtype.unit == unit


def test_epoch_unit_as_told_and_fractional_epochs() -> None:
    # 1e9 ms is 1970-01-12: only a stated unit reads it as milliseconds.
    assert times(pa.array([1_000_000_000]))[0] == pd.Timestamp("2001-09-09 01:46:40", tz="UTC")
    assert times(pa.array([1_000_000_000]), time_format="ms")[0] == pd.Timestamp(
        "1970-01-12 13:46:40", tz="UTC"
    )
    assert times(pa.array([1422848700.5]))[0] == INSTANT + pd.Timedelta("500ms")
    assert times(["1422848700.5"])[0] == INSTANT + pd.Timedelta("500ms")


def test_typed_timestamps_and_dates() -> None:
    zoned = pa.array([INSTANT.to_pydatetime()], pa.timestamp("ms", tz="Europe/Berlin"))
    assert str(times(zoned).dt.tz) == "Europe/Berlin"  # their own zone
    naive = pa.array([dt.datetime(2020, 1, 1, 9)], pa.timestamp("us"))
    assert times(naive)[0] == pd.Timestamp("2020-01-01 09:00")
    days = pa.array([dt.date(2020, 1, 1), dt.date(2020, 1, 2)], pa.date32())
    assert list(times(days)) == [pd.Timestamp("2020-01-01"), pd.Timestamp("2020-01-02")]
    categorical = pa.array([KOLKATA]).dictionary_encode()
    assert times(categorical)[0] == INSTANT


@pytest.mark.parametrize(
    ("values", "fields", "needles"),
    [
        ([KOLKATA, "2015-02-02 09:16:00"], {}, ["mixes times with a UTC offset"]),
        (["2015-02-02 09:15", "yesterday"], {}, ["not a time", "'yesterday'", "row 2"]),
        (["2015-02-31 09:15"], {}, ["not a time", "2015-02-31"]),
        (["1422848700", "12a"], {"time_format": "s"}, ["not an epoch number", "'12a'"]),
        ([KOLKATA], {"time_format": "ms"}, ["not an epoch number"]),
        (pa.array([1422848700]), {"time_format": "iso"}, ["holds numbers", "--time-format"]),
        (pa.array([True]), {}, ["type bool", "not a time"]),
    ],
)
def test_bad_times_say_what_is_wrong(
    values: Any, fields: dict[str, Any], needles: list[str]
) -> None:
    with pytest.raises(InputDataError) as info:
        times(values, **fields)
    message = str(info.value)
    assert message.startswith("f.csv: ")
    for needle in needles:
        assert needle in message, message


def test_numbers() -> None:
    assert numbers(pa.array([1, 2]), "f", "v").to_pylist() == [1.0, 2.0]
    assert numbers(pa.array([" 1.5", None, "2e3"]), "f", "v").to_pylist() == [1.5, None, 2000.0]
    from decimal import Decimal

    assert numbers(pa.array([Decimal("1.25")]), "f", "v").to_pylist() == [1.25]
    with pytest.raises(InputDataError, match=r"not a number: '12,5O' \(data row 2\)"):
        numbers(pa.array(["1", "12,5O"]), "f", "v")
    with pytest.raises(InputDataError, match="type bool, not numbers"):
        numbers(pa.array([True]), "f", "v")


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("a.csv", b"date,TYPPRICE\n", "csv"),
        ("a.parquet", b"PAR1\x15\x04", "parquet"),
        ("a.csv", b"PAR1\x15\x04", "parquet"),  # content decides
        ("a.csv.gz", b"\x1f\x8b\x08\x00", "csv.gz"),
        ("a.csv", b"", "csv"),  # empty: the CSV reader says so
    ],
)
def test_formats_from_content(name: str, head: bytes, expected: str) -> None:
    assert detect_format(name, head) == expected


@pytest.mark.parametrize(
    ("name", "head", "needle"),
    [
        ("a.csv", b"\x1f\x8b\x08\x00", "gzip-compressed; decompress it (gunzip) first, or name it"),
        ("a.parquet", b"date,x\n", "named like a Parquet file but it is not one"),
    ],
)
def test_format_mismatches_are_explained(name: str, head: bytes, needle: str) -> None:
    with pytest.raises(InputDataError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        detect_format(name, head)
