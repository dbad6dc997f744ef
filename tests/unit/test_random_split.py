"""The random split reproduces the original's rows exactly: two ``DataFrame.sample(frac=0.8,
random_state=2019)`` draws, each part sorted by date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lambda_functions.features import split_frame


def frame(n: int) -> pd.DataFrame:
    index = pd.date_range("2015-02-02 09:15", periods=n, freq="min", tz="Asia/Kolkata")
    rng = np.random.default_rng(7)
    return pd.DataFrame({"TYPPRICE": rng.normal(100, 1, n), "x": np.arange(n)}, index=index)


def original_split(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The original's construction, written out directly."""
    rest = df.sample(frac=0.8, random_state=2019)
    test = df.drop(rest.index)
    train = rest.sample(frac=0.8, random_state=2019)
    valid = rest.drop(train.index)
    return {
        "training": train.sort_index(),
        "validation": valid.sort_index(),
        "testing": test.sort_index(),
    }


@pytest.mark.parametrize("n", [20, 101, 1000, 1489])
def test_random_split_equals_dataframe_sample(n: int) -> None:
    df = frame(n)
    ours = split_frame(df, "random")
    expected = original_split(df)
    for name in ("training", "validation", "testing"):
        pd.testing.assert_frame_equal(ours[name], expected[name], check_freq=False)
        assert ours[name].index.is_monotonic_increasing
    sizes = tuple(len(ours[s]) for s in ("training", "validation", "testing"))
    assert sum(sizes) == n


def test_random_split_sizes_on_the_test_frame() -> None:
    # 1489 usable rows (the tests' demo stock): 0.8 * 1489 rounds to 1191, then 953.
    parts = split_frame(frame(1489), "random")
    assert tuple(len(parts[s]) for s in ("training", "validation", "testing")) == (953, 238, 298)


def test_chronological_stays_the_default_and_ordered() -> None:
    parts = split_frame(frame(1000))
    assert parts["training"].index.max() < parts["validation"].index.min()
    assert parts["validation"].index.max() < parts["testing"].index.min()
