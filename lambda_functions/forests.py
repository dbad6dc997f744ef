"""Groves: small random forests, their features, seeds and scores.

The default target is the change from the current value to the value ``horizon`` rows
later (the next minute's TYPPRICE by default), with the lags expressed relative to the
current value too (`lambda_functions.features.FeatureSpec` names the columns). Trees
cannot extrapolate, so a forest fit on price levels fails whenever test prices leave the
training range (as they do in a chronological split); the relative form does not.
Predictions are always returned as price levels, so aggregation and MSE are the same for
both formulations.
``target="level"`` reproduces the seed's formulation (TYPPRICE and its 10 lags).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import pandas as pd
from joblib import parallel_config
from joblib.parallel import ParallelBackendBase
from sklearn.ensemble import RandomForestRegressor

from lambda_functions.errors import MissingOutputError
from lambda_functions.features import DEFAULT_FEATURES, TARGET, FeatureSpec

N_JOBS_ENV = "GROVES_N_JOBS"


def grove_seed(run_seed: int, stock: str, stage: str, feat: int, samp: int, pred_num: int) -> int:
    """A grove's random_state, derived from what identifies it (stable across processes)."""
    text = f"{run_seed}:{stock}:{stage}:{feat}:{samp}:{pred_num}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def resolve_n_jobs(requested: int | None) -> int:
    """Event value, else $GROVES_N_JOBS, else -1; negative counts back from the usable CPUs."""
    if requested is None:
        env = os.environ.get(N_JOBS_ENV)
        requested = int(env) if env else -1
    if requested < 0:
        return max(usable_cpus() + 1 + requested, 1)
    return requested


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, e.g. a container's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


class _Threads(ParallelBackendBase):
    """A joblib backend on `concurrent.futures` threads, sized without multiprocessing.

    Where multiprocessing has no semaphores (AWS Lambda has no /dev/shm) joblib runs every
    loop serially, its thread backend included (it builds on multiprocessing's ThreadPool),
    so a forest would fit on one of the function's vCPUs. Plain threads need no
    semaphores; submit/retrieve follow joblib's executor-based (loky) backend."""

    supports_retrieve_callback = True
    supports_sharedmem = True  # forests predict with require="sharedmem"
    uses_threads = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pool: ThreadPoolExecutor | None = None

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        return resolve_n_jobs(n_jobs) if n_jobs else 1

    def configure(self, n_jobs: int = 1, parallel: Any = None, **kwargs: Any) -> int:
        n_jobs = self.effective_n_jobs(n_jobs)
        self.parallel = parallel
        self._pool = ThreadPoolExecutor(n_jobs, thread_name_prefix="groves-grove")
        return n_jobs

    def submit(self, func: Any, callback: Any = None) -> Future[Any]:
        assert self._pool is not None
        future = self._pool.submit(func)
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def retrieve_result_callback(self, future: Future[Any]) -> Any:
        return future.result()

    def terminate(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def abort_everything(self, ensure_ready: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if ensure_ready:
            self.configure(n_jobs=self.parallel.n_jobs, parallel=self.parallel)


def _threads(n_jobs: int | None) -> AbstractContextManager[Any]:
    """Run a forest's fit or predict on ``n_jobs`` threads (see `_Threads`)."""
    if n_jobs is None or n_jobs == 1:
        return contextlib.nullcontext()
    return parallel_config(backend=_Threads(), n_jobs=n_jobs)


def feature_matrix(
    frame: pd.DataFrame,
    target: str,
    indicators: Sequence[str] = (),
    spec: FeatureSpec = DEFAULT_FEATURES,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (X as float32, base price as float64) for a processed table."""
    price = frame[spec.price].to_numpy(dtype=np.float64)
    lags = frame[list(spec.lag_columns)].to_numpy(dtype=np.float64)
    extra = frame[list(indicators)].to_numpy(dtype=np.float64)
    if target == "level":
        x = np.column_stack([price, lags, extra])
    else:
        x = np.column_stack([lags - price[:, None], extra])
    return np.ascontiguousarray(x, dtype=np.float32), price


def target_vector(
    frame: pd.DataFrame, target: str, spec: FeatureSpec = DEFAULT_FEATURES
) -> np.ndarray:
    """What a grove is fit on: the level ``horizon`` rows ahead, or the change until then."""
    y = frame[spec.target].to_numpy(dtype=np.float64)
    return y if target == "level" else y - frame[spec.price].to_numpy(dtype=np.float64)


def fit_grove(
    train: pd.DataFrame,
    *,
    target: str,
    indicators: Sequence[str],
    feat: int,
    samp: int,
    n_estimators: int,
    random_state: int,
    n_jobs: int,
    spec: FeatureSpec = DEFAULT_FEATURES,
) -> RandomForestRegressor:
    """Fit one grove (a RandomForestRegressor) on a processed training table."""
    x, _ = feature_matrix(train, target, indicators, spec)
    model = RandomForestRegressor(
        n_estimators=n_estimators,
        max_features=feat,
        min_samples_split=samp,
        random_state=random_state,
        n_jobs=n_jobs,
    )
    with _threads(n_jobs):
        model.fit(x, target_vector(train, target, spec))
    return model


def predict_levels(
    model: RandomForestRegressor,
    frame: pd.DataFrame,
    *,
    target: str,
    indicators: Sequence[str],
    spec: FeatureSpec = DEFAULT_FEATURES,
) -> pd.DataFrame:
    """Predict the levels ``horizon`` rows ahead, in the target column (the seed's
    ``TYPPRICE_TARGET`` by default)."""
    x, price = feature_matrix(frame, target, indicators, spec)
    with _threads(model.n_jobs):
        yhat = model.predict(x).astype(np.float64)
    levels = yhat if target == "level" else price + yhat
    return pd.DataFrame({spec.target: levels}, index=frame.index)


def mse(actual: np.ndarray, predicted: np.ndarray) -> float:
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    return float(np.mean((actual - predicted) ** 2))


def mean_prediction(
    preds: Sequence[pd.DataFrame], index: pd.Index, column: str = TARGET
) -> np.ndarray:
    """The mean of several groves' predictions (their ``column``), aligned to ``index``."""
    stacked = np.column_stack([p[column].reindex(index).to_numpy() for p in preds])
    if np.isnan(stacked).any():
        raise MissingOutputError(
            "grove predictions do not cover the evaluation rows: the processed data changed "
            "after the groves ran; rerun the run with --refresh"
        )
    return stacked.mean(axis=1)
