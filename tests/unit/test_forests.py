"""How many threads a grove fits on, and that the count never changes a grove."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lambda_functions.features import LAGS, PRICE, TARGET
from lambda_functions.forests import fit_grove, predict_levels, resolve_n_jobs, usable_cpus

REPO = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter where, as on AWS Lambda (no /dev/shm), creating a
# multiprocessing semaphore fails with ENOSYS before joblib is imported.
NO_SEMAPHORES = r"""
import errno, json, threading, warnings
import _multiprocessing

class NoSemLock:
    def __init__(self, *args, **kwargs):
        raise OSError(errno.ENOSYS, "Function not implemented")

_multiprocessing.SemLock = NoSemLock
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import joblib

import numpy as np, pandas as pd
from sklearn.ensemble import _forest
from lambda_functions.features import LAGS, PRICE, TARGET
from lambda_functions.forests import fit_grove, predict_levels, resolve_n_jobs

# Each tree build and each tree's prediction waits until another one runs beside it.
seen = {"build": set(), "predict": set()}
meet = {"build": threading.Barrier(2, timeout=30), "predict": threading.Barrier(2, timeout=30)}
build, accumulate = _forest._parallel_build_trees, _forest._accumulate_prediction

def build_in_company(*args, **kwargs):
    seen["build"].add(threading.get_ident()); meet["build"].wait()
    return build(*args, **kwargs)

def predict_in_company(*args, **kwargs):
    seen["predict"].add(threading.get_ident()); meet["predict"].wait()
    return accumulate(*args, **kwargs)

_forest._parallel_build_trees = build_in_company
_forest._accumulate_prediction = predict_in_company
rng = np.random.default_rng(3)
frame = pd.DataFrame({PRICE: 100 + rng.normal(0, 0.2, 300).cumsum()})
for k, lag in enumerate(LAGS, start=1):
    frame[lag] = frame[PRICE].shift(k)
frame[TARGET] = frame[PRICE].shift(-1)
frame = frame.dropna()
n_jobs = resolve_n_jobs(-1)
model = fit_grove(frame, target="change", indicators=(), feat=5, samp=5, n_estimators=2,
                  random_state=0, n_jobs=n_jobs)
predict_levels(model, frame, target="change", indicators=())
print(json.dumps({
    "serial_warning": any("serial mode" in str(w.message) for w in caught),
    "joblib_cpu_count": joblib.cpu_count(),
    "n_jobs": n_jobs,
    "build_threads": len(seen["build"]),
    "predict_threads": len(seen["predict"]),
}))
"""


def test_minus_one_means_every_usable_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROVES_N_JOBS", raising=False)
    assert resolve_n_jobs(None) == resolve_n_jobs(-1) == usable_cpus() >= 1
    assert resolve_n_jobs(3) == 3
    monkeypatch.setenv("GROVES_N_JOBS", "2")
    assert resolve_n_jobs(None) == 2
    assert resolve_n_jobs(1) == 1  # the event wins over the environment


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs two usable CPUs",
)
def test_without_semaphores_a_grove_still_fits_on_every_cpu() -> None:
    """joblib alone would count one CPU there (the seed's groves fit on one thread)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("GROVES_N_JOBS", None)
    out = subprocess.run(
        [sys.executable, "-c", NO_SEMAPHORES], capture_output=True, text=True, env=env,
        cwd=REPO, timeout=120, check=True,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["serial_warning"] and result["joblib_cpu_count"] == 1  # Lambda's situation
    assert result["n_jobs"] == len(os.sched_getaffinity(0))
    assert result["build_threads"] == 2 and result["predict_threads"] == 2


def test_thread_count_does_not_change_a_grove() -> None:
    rng = np.random.default_rng(3)
    price = 100 + rng.normal(0, 0.2, 600).cumsum()
    frame = pd.DataFrame({PRICE: price})
    for k, lag in enumerate(LAGS, start=1):
        frame[lag] = frame[PRICE].shift(k)
    frame[TARGET] = frame[PRICE].shift(-1)
    frame = frame.dropna()
    train, test = frame.iloc[:450], frame.iloc[450:]
    options = {"target": "change", "indicators": (), "feat": 5, "samp": 5, "n_estimators": 8,
               "random_state": 11}  # fmt: skip
    one = fit_grove(train, n_jobs=1, **options)
    two = fit_grove(train, n_jobs=2, **options)
    a = predict_levels(one, test, target="change", indicators=())
    b = predict_levels(two, test, target="change", indicators=())
    pd.testing.assert_frame_equal(a, b)
