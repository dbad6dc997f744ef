"""Per-stage statistics of a run, from its receipts.

Definitions (per stage; ``total`` is the same over every stage at once; only successful
receipts of the pipeline's stages count, as in `lambda_functions.timing`):

* makespan: wall clock from the stage's first invoke (`Receipt.invoked_at`) to its last
  ``end``;
* busy: the sum of the invocations' durations (``end - start``, what Lambda bills);
* peak concurrency: the most invocations running at one instant (intervals
  ``[start, end)``, so one ending as another starts do not overlap);
* efficiency: ``busy / (makespan x peak)`` and ``busy / (makespan x workers)``, where
  ``workers`` is the parallelism the run was given (local processes or the Lambda
  in-flight cap);
* invocation rate: invocations / dispatch span (first to last invoke); None with a
  single invoke;
* straggler ratio: the longest duration / the median duration.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from groves.reporting.timings import InvocationTiming
from lambda_functions.receipts import Receipt

R = TypeVar("R", Receipt, InvocationTiming)


def ok_receipts(receipts: Iterable[R], stages: Sequence[str]) -> list[R]:
    """The successful receipts of ``stages``, in pipeline then start order."""
    order = {s: i for i, s in enumerate(stages)}
    kept = [r for r in receipts if r.ok and r.function in order]
    return sorted(kept, key=lambda r: (order[r.function], r.start))


def concurrency_steps(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, int]]:
    """The number running over time: ``(t, n)`` means n run from t to the next step.

    Intervals are half-open ``[start, end)``: at equal times ends count before starts.
    """
    spans = [(float(s), float(e)) for s, e in intervals if e > s]
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    steps: list[tuple[float, int]] = []
    running = 0
    for t, change in events:
        running += change
        if steps and steps[-1][0] == t:
            steps[-1] = (t, running)
        else:
            steps.append((t, running))
    return steps


def mean_concurrency(
    intervals: Iterable[tuple[float, float]], edges: Sequence[float]
) -> list[float]:
    """The mean number running over each bin ``[edges[i], edges[i+1])``: the time the
    intervals overlap the bin, over its width (a smooth, exact-on-average curve where the
    step function flickers between neighbouring counts)."""
    import numpy as np

    spans = np.asarray([(s, e) for s, e in intervals if e > s], dtype=float).reshape(-1, 2)
    bins = np.asarray(edges, dtype=float)
    left, right = bins[:-1], bins[1:]
    overlap = np.minimum(spans[:, 1:2], right) - np.maximum(spans[:, 0:1], left)
    widths = np.where(right > left, right - left, 1.0)
    return (np.clip(overlap, 0, None).sum(axis=0) / widths).tolist()


def peak_concurrency(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals ``[start, end)`` open at one instant."""
    return max((n for _, n in concurrency_steps(intervals)), default=0)


@dataclass(frozen=True)
class StageStats:
    """Measured figures of one stage (or of the whole run, as ``total``)."""

    invocations: int = 0
    makespan_s: float = 0.0
    busy_s: float = 0.0
    compute_s: float = 0.0
    io_s: float = 0.0
    dispatch_span_s: float = 0.0
    peak_concurrency: int = 0
    efficiency_peak: float | None = None
    efficiency_workers: float | None = None
    invocation_rate: float | None = None
    cold_starts: int = 0
    straggler_ratio: float | None = None
    median_s: float = 0.0
    max_s: float = 0.0
    mean_latency_s: float = 0.0
    bytes_read: int = 0
    bytes_written: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict (floats rounded to microseconds)."""
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}


def stage_stats(receipts: Sequence[InvocationTiming], workers: int | None = None) -> StageStats:
    """Makespan, busy time, efficiency, rate, cold starts and stragglers of some receipts.

    Args:
        receipts: Successful receipts (one stage's, or all of a run's).
        workers: The parallelism the run was given, for ``efficiency_workers``.
    """
    if not receipts:
        return StageStats()
    sent = [r.invoked_at for r in receipts]
    durations = [r.duration_s for r in receipts]
    makespan = max(r.end for r in receipts) - min(sent)
    busy = sum(durations)
    peak = peak_concurrency((r.start, r.end) for r in receipts)
    span = max(sent) - min(sent)
    median = statistics.median(durations)
    return StageStats(
        invocations=len(receipts),
        makespan_s=makespan,
        busy_s=busy,
        compute_s=sum(r.compute_s for r in receipts),
        io_s=sum(r.io_s for r in receipts),
        dispatch_span_s=span,
        peak_concurrency=peak,
        efficiency_peak=busy / (makespan * peak) if makespan > 0 and peak else None,
        efficiency_workers=busy / (makespan * workers) if makespan > 0 and workers else None,
        invocation_rate=len(receipts) / span if span > 0 else None,
        cold_starts=sum(1 for r in receipts if r.cold_start),
        straggler_ratio=max(durations) / median if median > 0 else None,
        median_s=median,
        max_s=max(durations),
        mean_latency_s=statistics.fmean(r.latency_s for r in receipts),
        bytes_read=sum(r.bytes_read for r in receipts),
        bytes_written=sum(r.bytes_written for r in receipts),
    )
