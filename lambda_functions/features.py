"""A raw series -> clean, lagged, split tables (reading raw files: `lambda_functions.readers`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa

from lambda_functions import defaults
from lambda_functions.errors import InputDataError
from lambda_functions.inputs import InputSpec
from lambda_functions.readers import csv_table, finish, to_frame

DATE = "date"
PRICE = "TYPPRICE"
TARGET = "TYPPRICE_TARGET"
N_LAGS = defaults.N_LAGS
LAGS = tuple(f"TYPPRICE_LAG_{k}" for k in range(1, N_LAGS + 1))
MIN_ROWS = 1000  # usable rows (about 3 trading days of minutes) for a 64/16/20 split
TIMEZONE = "Asia/Kolkata"
SEED_RANDOM_STATE = 2019  # the original's DataFrame.sample random_state
SEED_FRACTION = 0.8  # the original kept 80% (train+validation, then training of that)


def read_raw(stream: BinaryIO, name: str, indicators: Sequence[str] = ()) -> pd.DataFrame:
    """Read ``date``, ``TYPPRICE`` and the named indicator columns from a Kaggle CSV stream.

    Other inputs: `lambda_functions.readers.read_series` with an `InputSpec`.

    Returns:
        A frame indexed by tz-aware ``date`` (IST), sorted, without duplicate timestamps.

    Raises:
        InputDataError: the file is empty, compressed, binary, not comma-separated, lacks a
            column, or holds a value that is not a number or not a timestamp.
    """
    spec = InputSpec()
    types = {c: pa.float64() for c in (PRICE, *indicators)}
    types[DATE] = pa.string()
    table = csv_table(stream, name, types)
    if table.num_rows == 0:
        raise InputDataError(f"{name}: the file has a header but no data rows")
    frame = to_frame(table, name, spec, indicators)
    return finish(frame, name, spec, indicators)


@dataclass(frozen=True)
class FeatureSpec:
    """What the model sees of a series: its value column, how many lags, how far ahead.

    Columns of a processed table: the value, its lags ``{value}_LAG_1..N`` and the target
    ``{value}_TARGET``, the value ``horizon`` rows later. The defaults are the original's
    (TYPPRICE, 10 lags, the next minute)."""

    value: str = PRICE
    lags: int = N_LAGS
    horizon: int = 1
    min_rows: int = MIN_ROWS

    @property
    def price(self) -> str:
        return self.value

    @property
    def lag_columns(self) -> tuple[str, ...]:
        return tuple(f"{self.value}_LAG_{k}" for k in range(1, self.lags + 1))

    @property
    def target(self) -> str:
        return f"{self.value}_TARGET"

    @property
    def raw_rows_needed(self) -> int:
        """Raw rows (with values) a series needs: lags before, horizon after, min_rows used."""
        return self.lags + self.horizon + self.min_rows


DEFAULT_FEATURES = FeatureSpec()


def build_features(
    raw: pd.DataFrame,
    name: str,
    indicators: Sequence[str] = (),
    spec: FeatureSpec = DEFAULT_FEATURES,
) -> pd.DataFrame:
    """Add the value's lags 1..N and its value ``horizon`` rows ahead (the target); drop
    rows with any NaN."""
    value = spec.value
    frame = raw[[value, *indicators]].copy()
    lags = {lag: frame[value].shift(k) for k, lag in enumerate(spec.lag_columns, start=1)}
    frame = pd.concat([frame[[value]], pd.DataFrame(lags), frame[list(indicators)]], axis=1)
    frame[spec.target] = frame[value].shift(-spec.horizon)
    frame = frame.dropna()
    if len(frame) < spec.min_rows:
        ahead = "" if spec.horizon == 1 else f" and a target {spec.horizon} rows ahead"
        raise InputDataError(
            f"{name}: only {len(frame)} usable rows after dropping empty values and building "
            f"{spec.lags} lags{ahead}; at least {spec.min_rows} are needed (--min-rows: "
            f"{spec.raw_rows_needed} rows with values in all; lower it for short series)"
        )
    return frame


def split_frame(frame: pd.DataFrame, how: str = "chronological") -> dict[str, pd.DataFrame]:
    """Split 64/16/20 into training, validation and testing.

    ``chronological`` keeps time order (train is the oldest 64%); ``random`` reproduces the
    original's rows exactly, which leaks the future: train+validation is
    ``frame.sample(frac=0.8, random_state=2019)`` (test: the other rows), training is
    ``sample(frac=0.8, random_state=2019)`` of train+validation (validation: the rest),
    each sorted by date. Rows are selected by position, so repeated index values are safe.
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
        rest_pos = _sample_positions(n)
        test_pos = np.setdiff1d(np.arange(n), rest_pos)
        train_sub = _sample_positions(len(rest_pos))
        val_sub = np.setdiff1d(np.arange(len(rest_pos)), train_sub)
        parts = {
            "training": rest_pos[train_sub],
            "validation": rest_pos[val_sub],
            "testing": test_pos,
        }
        # Sorted by date (the frame is in date order, so by position).
        return {name: frame.iloc[np.sort(pos)] for name, pos in parts.items()}
    raise ValueError(f"unknown split {how!r}; use 'chronological' or 'random'")


def _sample_positions(n: int) -> np.ndarray:
    """The row positions ``DataFrame.sample(frac=0.8, random_state=2019)`` draws from ``n``
    rows, in its order (pandas draws positions, then takes them)."""
    positions = pd.DataFrame({"p": np.arange(n)}).sample(
        frac=SEED_FRACTION, random_state=SEED_RANDOM_STATE
    )
    return positions["p"].to_numpy()
