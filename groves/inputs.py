"""A run's input: which stocks a store holds, and each raw file's identity."""

from __future__ import annotations

from lambda_functions.errors import GrovesError, InputDataError
from lambda_functions.layout import raw_key
from lambda_functions.names import RAW_SUFFIX, stock_from_raw_file
from lambda_functions.storage import Storage


def discover_stocks(store: Storage) -> list[str]:
    """Every stock with a raw file directly under ``raw/``."""
    stocks = []
    for info in store.list("raw/"):
        name = info.key.removeprefix("raw/")
        if "/" not in name and name.endswith(RAW_SUFFIX):
            stocks.append(stock_from_raw_file(name))
    return stocks


def input_identity(store: Storage, stock: str) -> str:
    """The raw file's identity (size and ETag / mtime): a changed file gets new results."""
    info = store.head(raw_key(stock))
    if info is None:
        raise InputDataError(
            f"unknown stock {stock!r}: no {raw_key(stock)} in {store.url}; "
            "check the name or add its Kaggle CSV under raw/"
        )
    return f"{info.size}-{info.etag}"


def resolve_stocks(store: Storage, requested: tuple[str, ...] | None) -> dict[str, str]:
    """The run's stocks (as requested, else every raw file) with their input identities.

    Raises:
        GrovesError: the store holds no raw file; InputDataError: a requested stock has none.
    """
    next(iter(store.list("raw/")), None)  # a missing bucket or unusable store fails here
    stocks = list(requested or discover_stocks(store))
    if not stocks:
        raise GrovesError(
            f"no raw files in {store.url}/raw/: add {{STOCK}}{RAW_SUFFIX} files "
            "(or run `groves data generate`)"
        )
    return {stock: input_identity(store, stock) for stock in stocks}
