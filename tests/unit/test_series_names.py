"""Series names <-> storage keys (issue 16): any name runs, keys are safe, the mapping is
deterministic, reversible and one-to-one, and names that look like paths are refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lambda_functions.errors import UnsafeNameError
from lambda_functions.layout import RunLayout, SeedLayout, StockSpace, raw_key
from lambda_functions.names import (
    MAX_SERIES_KEY,
    safe_series,
    safe_stock,
    series_from_key,
    series_key,
)

KEY_RE = re.compile(r"^[A-Za-z0-9~][A-Za-z0-9&_.~-]*$")


def usable(name: str) -> bool:
    try:
        series_key(name)
    except UnsafeNameError:
        return False
    return True


names = st.text(min_size=1, max_size=40).filter(usable)
# Names the original accepted (Kaggle symbols and the like).
symbols = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9&_.-]{0,30}\Z").filter(lambda s: ".." not in s)


@settings(max_examples=400)
@given(names)
def test_keys_are_safe_and_decode_to_the_name(name: str) -> None:
    key = series_key(name)
    assert KEY_RE.match(key), key
    assert ".." not in key and "/" not in key and len(key) <= MAX_SERIES_KEY
    assert series_from_key(key) == name
    assert series_key(name) == key  # deterministic


@settings(max_examples=400)
@given(names, names)
def test_two_names_never_share_a_key(one: str, two: str) -> None:
    assume(one != two)
    assert series_key(one) != series_key(two)


@given(symbols)
def test_names_the_original_accepted_are_their_own_keys(name: str) -> None:
    assert safe_stock(name) == name
    assert series_key(name) == name


@given(st.text(max_size=30))
def test_only_canonical_keys_decode(text: str) -> None:
    try:
        name = series_from_key(text)
    except UnsafeNameError:
        return
    assert series_key(name) == text


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("NIFTY 50", "NIFTY~2050"),
        ("NIFTY BANK", "NIFTY~20BANK"),
        ("M&M", "M&M"),
        ("BAJAJ-AUTO", "BAJAJ-AUTO"),
        ("Zürich Börse", "Z~C3~BCrich~20B~C3~B6rse"),
        ("sensor #7", "sensor~20~237"),
        ("a~b", "a~7Eb"),
        ("100%", "100~25"),
        (".hidden", "~2Ehidden"),
        ("-x", "~2Dx"),
        ("_run", "~5Frun"),  # never the run-level receipts folder
    ],
)
def test_examples(name: str, key: str) -> None:
    assert series_key(name) == key
    assert series_from_key(key) == name


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("../x", "'..'"),
        ("a/b", "not allowed"),
        ("a\\b", "not allowed"),
        ("..", "'..'"),
        ("", "empty"),
        ("TC\x00S", "control characters"),
        ("a\u200bb", "invisible or control"),
        (" NIFTY", "leading or trailing spaces"),
        ("NIFTY ", "leading or trailing spaces"),
        ("x" * 101, "at most 100"),
        ("\U0001f600" * 20, "at most 200"),  # 20 characters, a 240-character key
        (5, "must be a string"),
    ],
)
def test_unsafe_names_are_refused(name: Any, needle: str) -> None:
    with pytest.raises(UnsafeNameError, match=re.escape(needle)):
        series_key(name)
    if isinstance(name, str) and len(name) <= 100 and "\U0001f600" not in name:
        with pytest.raises(UnsafeNameError):
            safe_series(name)


@pytest.mark.parametrize("key", ["~2e", "~41", "a~2E~2Eb", "~", "~G1", "a b", "~FF", "a/b", ""])
def test_non_keys_are_refused(key: str) -> None:
    with pytest.raises(UnsafeNameError, match="is not a series key"):
        series_from_key(key)


def test_every_key_spells_the_name_as_a_key() -> None:
    layout = RunLayout("r")
    assert layout.stock_prefix("NIFTY 50") == "runs/r/stocks/NIFTY~2050/"
    assert layout.receipt_key("processing", "NIFTY 50", "processing") == (
        "runs/r/receipts/processing/NIFTY~2050/processing.json"
    )
    space = StockSpace("NIFTY 50", "parquet", prefix=layout.stock_prefix("NIFTY 50"))
    assert (
        space.processed("testing")
        == "runs/r/stocks/NIFTY~2050/processed/testing/NIFTY~2050.parquet"
    )
    assert space.stock == "NIFTY 50"  # the display name stays
    assert SeedLayout().stock_prefix("NIFTY 50") == ""
    # Raw file names hold the name as written (the Kaggle file has a space).
    assert raw_key("NIFTY 50") == "raw/NIFTY 50_minute_data_with_indicators.csv"
    with pytest.raises(UnsafeNameError):
        raw_key("../x")
    with pytest.raises(UnsafeNameError):
        layout.stock_prefix("../x")
