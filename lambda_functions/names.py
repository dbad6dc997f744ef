"""Validation of names that become parts of storage keys (stocks, runs, files)."""

from __future__ import annotations

import re

from lambda_functions.errors import UnsafeNameError

# Stock symbols in the Kaggle data are upper-case letters, digits, '&' and '-'
# (e.g. "M&M", "BAJAJ-AUTO"). Lower case is accepted and kept as given.
_STOCK_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9&_.-]{0,63}$")
# Run ids and other key parts: letters, digits, '-', '_', '.'; never starting with '.'.
_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=-]{0,127}$")


def _check_common(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise UnsafeNameError(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise UnsafeNameError(f"{what} is empty: give a non-empty name")
    if ".." in value or "/" in value or "\\" in value:
        raise UnsafeNameError(
            f"unsafe {what} {value!r}: '..', '/' and '\\' are not allowed "
            "(a name must not escape its storage space)"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise UnsafeNameError(f"unsafe {what} {value!r}: control characters are not allowed")
    return value


def safe_stock(value: object) -> str:
    """Return ``value`` if it is a safe stock symbol, else raise `UnsafeNameError`."""
    name = _check_common(value, "stock name")
    if not _STOCK_RE.match(name):
        raise UnsafeNameError(
            f"invalid stock name {name!r}: use letters, digits, '&', '-', '_' or '.' "
            "(e.g. RELIANCE, M&M, BAJAJ-AUTO); indices with spaces are not supported"
        )
    return name


def safe_part(value: object, what: str = "name") -> str:
    """Return ``value`` if it is a safe key part (run id, file name), else raise."""
    name = _check_common(value, what)
    if not _PART_RE.match(name):
        raise UnsafeNameError(
            f"invalid {what} {name!r}: use letters, digits, '-', '_', '.' or '=' "
            "and start with a letter or digit"
        )
    return name


RAW_SUFFIX = "_minute_data_with_indicators.csv"


def stock_from_raw_file(file_name: str) -> str:
    """The stock symbol of a Kaggle file name (``RELIANCE_minute_data_with_indicators.csv``)."""
    _check_common(file_name, "file name")
    if not file_name.endswith(RAW_SUFFIX):
        raise InvalidRawName(file_name)
    return safe_stock(file_name[: -len(RAW_SUFFIX)])


class InvalidRawName(UnsafeNameError):
    """A raw file name does not follow ``{STOCK}_minute_data_with_indicators.csv``."""

    def __init__(self, file_name: str) -> None:
        super().__init__(
            f"raw file {file_name!r} does not follow the Kaggle naming "
            f"'{{STOCK}}{RAW_SUFFIX}': rename it, e.g. RELIANCE{RAW_SUFFIX}"
        )
