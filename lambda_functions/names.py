"""Validation of names that become parts of storage keys (stocks, runs, files).

A series (stock) keeps its name as given wherever people read it (events, tables, plots,
the run summary); where the name becomes part of a storage key, `series_key` spells it in
key-safe characters. The mapping is deterministic and reversible (`series_from_key`):

* letters, digits and ``& _ . -`` stand for themselves (every Kaggle symbol, so their
  keys are their names, as before), except that a key starts with a letter, a digit or
  ``~``;
* every other character, ``~`` included, becomes ``~XX`` per UTF-8 byte (upper-case hex):
  ``NIFTY 50`` -> ``NIFTY~2050``, ``.hidden`` -> ``~2Ehidden``, ``Zürich`` ->
  ``Z~C3~BCrich``.

``~`` never stands for itself, so decoding is unambiguous and two names never share a key.
Names that look like paths (``/``, ``\\``, ``..``), control characters and leading or
trailing spaces are refused rather than encoded: they are almost always a mistake.
"""

from __future__ import annotations

import re
import string

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
    """Return ``value`` if it is a Kaggle-style symbol, else raise `UnsafeNameError`.

    The seed's bucket names are built from these; any other series name: `safe_series`."""
    name = _check_common(value, "stock name")
    if not _STOCK_RE.match(name):
        raise UnsafeNameError(
            f"invalid stock name {name!r}: use letters, digits, '&', '-', '_' or '.' "
            "(e.g. RELIANCE, M&M, BAJAJ-AUTO); indices with spaces are not supported"
        )
    return name


MAX_SERIES_NAME = 100  # characters of a series' name
MAX_SERIES_KEY = 200  # characters of its key (a file-name part: filesystems allow 255 bytes)
KEY_ESCAPE = "~"
_KEY_ALNUM = frozenset(string.ascii_letters + string.digits)
_KEY_LITERAL = _KEY_ALNUM | frozenset("&_.-")
_KEY_RE = re.compile(r"^(?:[A-Za-z0-9]|~[0-9A-F]{2})(?:[A-Za-z0-9&_.-]|~[0-9A-F]{2})*$")


def safe_series(value: object, what: str = "stock name") -> str:
    """Return ``value`` if it can name a series (any printable text that is not a path),
    else raise `UnsafeNameError`."""
    name = _check_common(value, what)
    if not name.isprintable():
        raise UnsafeNameError(f"unsafe {what} {name!r}: invisible or control characters")
    if name != name.strip():
        raise UnsafeNameError(f"invalid {what} {name!r}: leading or trailing spaces; remove them")
    if len(name) > MAX_SERIES_NAME:
        raise UnsafeNameError(
            f"invalid {what} {name[:40]!r}...: {len(name)} characters, at most "
            f"{MAX_SERIES_NAME} are allowed"
        )
    return name


def series_key(name: str) -> str:
    """The key-safe spelling of a series name (see the module docstring); reversible."""
    name = safe_series(name)
    parts = []
    for i, char in enumerate(name):
        literal = _KEY_ALNUM if i == 0 else _KEY_LITERAL
        if char in literal:
            parts.append(char)
        else:
            parts.extend(f"{KEY_ESCAPE}{byte:02X}" for byte in char.encode("utf-8"))
    key = "".join(parts)
    if len(key) > MAX_SERIES_KEY:
        raise UnsafeNameError(
            f"invalid stock name {name!r}: its key {key[:40]}... has {len(key)} characters, "
            f"at most {MAX_SERIES_KEY} are allowed; use a shorter name"
        )
    return key


def series_from_key(key: str) -> str:
    """The series name a `series_key` stands for; raise `UnsafeNameError` if it is none."""
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise UnsafeNameError(f"{key!r} is not a series key (see lambda_functions.names)")
    raw = bytearray()
    i = 0
    while i < len(key):
        if key[i] == KEY_ESCAPE:
            raw.append(int(key[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(key[i].encode())
            i += 1
    try:
        name = raw.decode("utf-8")
        canonical = series_key(name) == key
    except (UnicodeDecodeError, UnsafeNameError):
        canonical = False
    if not canonical:
        raise UnsafeNameError(f"{key!r} is not a series key (see lambda_functions.names)")
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
    """The stock of a Kaggle file name (``RELIANCE_minute_data_with_indicators.csv``,
    ``NIFTY 50_minute_data_with_indicators.csv``)."""
    _check_common(file_name, "file name")
    if not file_name.endswith(RAW_SUFFIX):
        raise InvalidRawName(file_name)
    return safe_series(file_name[: -len(RAW_SUFFIX)])


class InvalidRawName(UnsafeNameError):
    """A raw file name does not follow ``{STOCK}_minute_data_with_indicators.csv``."""

    def __init__(self, file_name: str) -> None:
        super().__init__(
            f"raw file {file_name!r} does not follow the Kaggle naming "
            f"'{{STOCK}}{RAW_SUFFIX}': rename it, e.g. RELIANCE{RAW_SUFFIX}"
        )
