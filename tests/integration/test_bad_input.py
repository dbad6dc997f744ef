"""Bad input fails clearly and writes nothing; odd but usable input is handled.

Every rejected case checks the error type, that its message says what is wrong, and that
the store is unchanged (same keys, same bytes, same etags). A processing failure after its
event was validated may leave only its error receipt under ``runs/{run}/receipts/``; an
invalid event leaves nothing at all.

The module shares one store per backend (``store_url`` is overridden here with module
scope: a fresh moto per test costs more than all of these checks); each test compares the
store before and after itself, so earlier tests' keys do not matter.
"""

from __future__ import annotations

import gzip
import io
import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lambda_functions import parampreds, processing, trainfull
from lambda_functions.errors import InputDataError, InvalidEventError, ObjectNotFoundError
from lambda_functions.storage import open_storage
from lambda_functions.tables import read_table

STOCK = "INFY"  # no raw file of this stock exists until a test writes one
RAW_KEY = f"raw/{STOCK}_minute_data_with_indicators.csv"
RUN = "bad"
SOURCE = "RELIANCE_minute_data_with_indicators.csv"


@pytest.fixture(scope="module")
def bad_input_stores(
    make_store: Callable[[str, Path], Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """One store per backend for the module (moto stays on for the module)."""
    with ExitStack() as stack:
        yield {
            kind: stack.enter_context(make_store(kind, tmp_path_factory.mktemp(kind)))
            for kind in ("local", "s3")
        }


@pytest.fixture(params=["local", "s3"])
def store_url(request: pytest.FixtureRequest, bad_input_stores: dict[str, str]) -> str:
    """The module's store of each backend, raw files under ``raw/`` (overrides conftest's)."""
    return bad_input_stores[request.param]


@pytest.fixture(scope="module")
def clean_csv(raw_dir: Path) -> bytes:
    """A valid Kaggle-schema file (4 trading days)."""
    return (raw_dir / SOURCE).read_bytes()


@pytest.fixture(scope="module")
def clean_frame(clean_csv: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(clean_csv), dtype={"date": str})


def to_csv(frame: pd.DataFrame, **kwargs: Any) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n", **kwargs).encode()


def snapshot(url: str) -> dict[str, tuple[int, str, bytes]]:
    """Every object of the store: key -> (size, etag, content)."""
    store = open_storage(url)
    return {i.key: (i.size, i.etag, store.get_bytes(i.key)) for i in store.list()}


def process(url: str, **extra: Any) -> dict[str, Any]:
    return processing.lambda_handler({"store": url, "run_id": RUN, "stock": STOCK, **extra})


def expect_failure(
    url: str,
    raw: bytes | None,
    error: type[Exception],
    *needles: str,
    call: Callable[[], Any] | None = None,
    receipt_allowed: bool = True,
) -> str:
    """Place ``raw`` (None: no raw file), run processing (or ``call``) and check the failure.

    Returns:
        The error message.
    """
    store = open_storage(url)
    if raw is not None:
        store.put_bytes(RAW_KEY, raw)
    before = snapshot(url)
    with pytest.raises(error) as info:
        (call or (lambda: process(url)))()
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    after = snapshot(url)
    receipts = f"runs/{RUN}/receipts/"
    new = {k for k, v in after.items() if k.startswith(receipts) and before.get(k) != v}
    if receipt_allowed:
        assert new <= {f"{receipts}processing/{s}/processing.json" for s in (STOCK, "WIPRO")}
        for key in new:
            receipt = store.get_json(key)
            assert receipt["status"] == "error"
            assert receipt["error"] == message
            assert receipt["error_type"] == error.__name__
    else:
        assert new == set()
    unchanged = {k: v for k, v in after.items() if not k.startswith(receipts)}
    assert unchanged == {k: v for k, v in before.items() if not k.startswith(receipts)}
    assert not [k for k in after if k.startswith(f"runs/{RUN}/stocks/")]
    return message


# --------------------------------------------------------------------------- rejected input


def test_missing_raw_file(store_url: str) -> None:
    missing = "raw/WIPRO_minute_data_with_indicators.csv"
    assert not open_storage(store_url).exists(missing)
    expect_failure(
        store_url,
        None,
        ObjectNotFoundError,
        "object not found",
        missing,
        call=lambda: process(store_url, stock="WIPRO"),
    )


def test_empty_file(store_url: str) -> None:
    expect_failure(store_url, b"", InputDataError, RAW_KEY, "the file is empty")


def test_header_only(clean_csv: bytes, store_url: str) -> None:
    header = clean_csv.split(b"\n", 1)[0] + b"\n"
    expect_failure(store_url, header, InputDataError, "header but no data rows")


def test_no_date_column(clean_frame: pd.DataFrame, store_url: str) -> None:
    raw = to_csv(clean_frame.drop(columns="date"))
    expect_failure(store_url, raw, InputDataError, "missing column(s) ['date']")


def test_no_typprice_column(clean_frame: pd.DataFrame, store_url: str) -> None:
    raw = to_csv(clean_frame.drop(columns="TYPPRICE"))
    expect_failure(store_url, raw, InputDataError, "missing column(s) ['TYPPRICE']")


def test_non_numeric_typprice(clean_frame: pd.DataFrame, store_url: str) -> None:
    frame = clean_frame.astype({"TYPPRICE": object})
    frame.loc[700, "TYPPRICE"] = "12,5O"  # quoted in the CSV; a letter O, not a zero
    expect_failure(store_url, to_csv(frame), InputDataError, "not a number", "12,5O")


def test_too_few_rows(clean_csv: bytes, store_url: str) -> None:
    lines = clean_csv.split(b"\n")
    raw = b"\n".join(lines[:501]) + b"\n"  # header + 500 rows -> 489 usable
    expect_failure(store_url, raw, InputDataError, "only 489 usable rows", "at least 1000")


def test_dates_mixing_offsets_and_none(clean_csv: bytes, store_url: str) -> None:
    # Times without an offset are fine (issue 16), but one series uses one kind or the other.
    raw = clean_csv.replace(b"2015-02-03 10:00:00+05:30", b"2015-02-03 10:00:00")
    expect_failure(
        store_url,
        raw,
        InputDataError,
        "'date'",
        "mixes times with a UTC offset",
        "'2015-02-03 10:00:00'",
    )


def test_unparseable_date(clean_csv: bytes, store_url: str) -> None:
    raw = clean_csv.replace(b"2015-02-03 10:00:00+05:30", b"2015-02-31 10:00:00+05:30")
    expect_failure(store_url, raw, InputDataError, "'date'", "not a time", "2015-02-31")


def test_gzip_file_named_csv(clean_csv: bytes, store_url: str) -> None:
    raw = gzip.compress(clean_csv, mtime=0)
    expect_failure(store_url, raw, InputDataError, "gzip-compressed", "gunzip")


def test_semicolon_delimiter(clean_frame: pd.DataFrame, store_url: str) -> None:
    raw = to_csv(clean_frame, sep=";")
    expect_failure(store_url, raw, InputDataError, "separated by semicolons", "comma")


def test_binary_garbage(store_url: str) -> None:
    raw = random.Random(7).randbytes(20_000)
    assert b"\x00" in raw
    expect_failure(store_url, raw, InputDataError, "binary, not a text CSV")


def test_inf_values(clean_frame: pd.DataFrame, store_url: str) -> None:
    frame = clean_frame.copy()
    frame.loc[900, "TYPPRICE"] = np.inf
    raw = to_csv(frame)
    assert b",inf," in raw
    expect_failure(store_url, raw, InputDataError, "infinite values", "['TYPPRICE']")


def test_duplicated_columns(clean_csv: bytes, store_url: str) -> None:
    header, body = clean_csv.split(b"\n", 1)
    raw = header.replace(b"close,", b"TYPPRICE,", 1) + b"\n" + body
    expect_failure(store_url, raw, InputDataError, "duplicated column name(s) ['TYPPRICE']")


def test_ragged_rows(clean_csv: bytes, store_url: str) -> None:
    lines = clean_csv.split(b"\n")
    lines[600] = lines[600].rsplit(b",", 3)[0]  # three fields short
    expect_failure(store_url, b"\n".join(lines), InputDataError, "different numbers of fields")


# --------------------------------------------------------------------------- rejected events


def test_unsafe_stock_name_in_event(clean_csv: bytes, store_url: str) -> None:
    expect_failure(
        store_url,
        clean_csv,
        InvalidEventError,
        "unsafe stock name",
        "'../x'",
        call=lambda: process(store_url, stock="../x"),
        receipt_allowed=False,
    )


def test_unsafe_file_name_in_event(clean_csv: bytes, store_url: str) -> None:
    event = {
        "store": store_url,
        "run_id": RUN,
        "file": f"../{STOCK}_minute_data_with_indicators.csv",
    }
    expect_failure(
        store_url,
        clean_csv,
        InvalidEventError,
        "'..'",
        call=lambda: processing.lambda_handler(event),
        receipt_allowed=False,
    )


def test_unknown_event_field(clean_csv: bytes, store_url: str) -> None:
    expect_failure(
        store_url,
        clean_csv,
        InvalidEventError,
        "splitt: unknown field",
        call=lambda: process(store_url, splitt="random"),
        receipt_allowed=False,
    )


def grove_event(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "store": url,
        "run_id": RUN,
        "stock": STOCK,
        "feat": 5,
        "samp": 5,
        "n_estimators": 3,
        "pred_num": 0,
        **changes,
    }


def test_feat_larger_than_feature_count(clean_csv: bytes, store_url: str) -> None:
    event = grove_event(store_url, feat=11)
    expect_failure(
        store_url,
        clean_csv,
        InvalidEventError,
        "feat (max_features) 11",
        "larger than the 10 features",
        call=lambda: parampreds.lambda_handler(event),
        receipt_allowed=False,
    )


@pytest.mark.parametrize("trees", [0, -3])
def test_n_estimators_not_positive(clean_csv: bytes, store_url: str, trees: int) -> None:
    expect_failure(
        store_url,
        clean_csv,
        InvalidEventError,
        "n_estimators:",
        "greater than or equal to 1",
        call=lambda: parampreds.lambda_handler(grove_event(store_url, n_estimators=trees)),
        receipt_allowed=False,
    )
    event = {
        "store": store_url,
        "run_id": RUN,
        "stock": STOCK,
        "n_estimators": trees,
        "pred_num": 0,
    }
    expect_failure(
        store_url,
        None,
        InvalidEventError,
        "n_estimators:",
        call=lambda: trainfull.lambda_handler(event),
        receipt_allowed=False,
    )


def test_unsupported_store_url(clean_csv: bytes, store_url: str) -> None:
    from lambda_functions.errors import StorageError

    expect_failure(
        store_url,
        clean_csv,
        StorageError,
        "unsupported store URL",
        call=lambda: processing.lambda_handler({"store": "ftp://host/x", "stock": STOCK}),
        receipt_allowed=False,
    )


# --------------------------------------------------------------------------- handled input


def processed(url: str, run: str) -> dict[str, pd.DataFrame]:
    store = open_storage(url)
    return {
        s: read_table(store, f"runs/{run}/stocks/{STOCK}/processed/{s}/{STOCK}.parquet")
        for s in ("training", "validation", "testing")
    }


def process_as(url: str, raw: bytes, run: str) -> dict[str, pd.DataFrame]:
    open_storage(url).put_bytes(RAW_KEY, raw)
    receipt = processing.lambda_handler({"store": url, "run_id": run, "stock": STOCK})
    assert receipt["status"] == "ok"
    return processed(url, run)


def assert_strictly_increasing(parts: dict[str, pd.DataFrame]) -> None:
    index = pd.concat(parts.values()).index
    assert (np.diff(index.asi8) > 0).all()


def assert_same_tables(one: dict[str, pd.DataFrame], two: dict[str, pd.DataFrame]) -> None:
    for split in one:
        pd.testing.assert_frame_equal(one[split], two[split], check_exact=True)


_REFERENCES: dict[str, dict[str, pd.DataFrame]] = {}


@pytest.fixture
def reference(clean_csv: bytes, store_url: str) -> dict[str, pd.DataFrame]:
    """The clean file's processed tables (computed once per store)."""
    if store_url not in _REFERENCES:
        parts = process_as(store_url, clean_csv, "clean")
        assert_strictly_increasing(parts)
        _REFERENCES[store_url] = parts
    return _REFERENCES[store_url]


def test_unsorted_rows_are_sorted(
    clean_csv: bytes, store_url: str, reference: dict[str, pd.DataFrame]
) -> None:
    header, *rows = clean_csv.rstrip(b"\n").split(b"\n")
    random.Random(3).shuffle(rows)
    parts = process_as(store_url, b"\n".join([header, *rows]) + b"\n", "unsorted")
    assert_strictly_increasing(parts)
    assert_same_tables(parts, reference)


def test_duplicate_timestamps_are_dropped(
    clean_csv: bytes, store_url: str, reference: dict[str, pd.DataFrame]
) -> None:
    header, *rows = clean_csv.rstrip(b"\n").split(b"\n")
    doubled = []
    for i, row in enumerate(rows):
        doubled.append(row)
        if i % 7 == 0:
            doubled.append(row)  # an exact repeat (a re-sent bar)
    parts = process_as(store_url, b"\n".join([header, *doubled]) + b"\n", "dupes")
    assert_strictly_increasing(parts)
    assert_same_tables(parts, reference)


def test_utf8_bom_is_accepted(
    clean_csv: bytes, store_url: str, reference: dict[str, pd.DataFrame]
) -> None:
    parts = process_as(store_url, b"\xef\xbb\xbf" + clean_csv, "bom")
    assert_same_tables(parts, reference)


def test_shuffled_columns_work(
    clean_frame: pd.DataFrame, store_url: str, reference: dict[str, pd.DataFrame]
) -> None:
    columns = list(clean_frame.columns)
    random.Random(11).shuffle(columns)
    assert columns[0] != "date"
    parts = process_as(store_url, to_csv(clean_frame[columns]), "shuffled")
    assert_same_tables(parts, reference)


def test_crlf_line_endings_work(
    clean_csv: bytes, store_url: str, reference: dict[str, pd.DataFrame]
) -> None:
    parts = process_as(store_url, clean_csv.replace(b"\n", b"\r\n"), "crlf")
    assert_same_tables(parts, reference)


def test_dates_without_offset_are_naive_times(
    clean_csv: bytes, store_url: str, reference: dict[str, pd.DataFrame]
) -> None:
    parts = process_as(store_url, clean_csv.replace(b"+05:30", b""), "naive")
    assert all(p.index.tz is None for p in parts.values())
    for split, part in parts.items():  # the same wall-clock times and values
        expected = reference[split]
        assert (part.index == expected.index.tz_localize(None)).all()
        pd.testing.assert_frame_equal(
            part.reset_index(drop=True), expected.reset_index(drop=True), check_exact=True
        )


def test_empty_warm_up_values_are_dropped(
    clean_frame: pd.DataFrame, store_url: str, reference: dict[str, pd.DataFrame]
) -> None:
    frame = clean_frame.copy()
    frame.loc[:4, "TYPPRICE"] = np.nan  # like an indicator's warm-up rows
    parts = process_as(store_url, to_csv(frame), "warmup")
    whole = pd.concat(parts.values())
    assert whole.index.min() > pd.Timestamp("2015-02-02 09:19:00+05:30")
    assert len(whole) == len(pd.concat(reference.values())) - 5
    assert_strictly_increasing(parts)


# --------------------------------------------------------------------------- tolerated


@pytest.mark.parametrize("padding", [b", ", b" ,"])
def test_header_names_padded_with_spaces(
    clean_csv: bytes, store_url: str, padding: bytes, reference: dict[str, pd.DataFrame]
) -> None:
    header, body = clean_csv.split(b"\n", 1)
    raw = header.replace(b",", padding) + b"\n" + body
    open_storage(store_url).put_bytes(RAW_KEY, raw)
    # Padded names are read by their own spelling: the file is accepted as if clean.
    receipt = processing.lambda_handler({"store": store_url, "run_id": "padded", "stock": STOCK})
    assert receipt["status"] == "ok"
    assert_same_tables(processed(store_url, "padded"), reference)
