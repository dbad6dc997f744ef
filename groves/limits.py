"""Will one per-stock invocation fit AWS Lambda? (the per-stock pipeline's limits)

The per-stock pipeline's ``modeling`` stage fits a stock's whole grid search and its
refit in ONE invocation, so it must finish within Lambda's 900 s and fit in its
10,240 MB. This module estimates both from the data size and the grid, conservatively
(the refit is assumed to pick the largest max_features and the smallest
min_samples_split, the slowest and biggest forest of the grid):

* compute: a tree costs about ``US_PER_TREE_ROW_FEATURE`` vCPU-microseconds per training
  row and per feature tried at a split (max_features); the seed's 100-tree grid groves
  took 130-470 s on 416,152 rows at 3008 MB (FACTS.md), about 1.75; measured here on
  demo data: 1.4-1.8. Lambda gives one vCPU per 1,769 MB.
* memory: a tree grown to ``min_samples_split`` s has about 3 / (s + 0.8) nodes per
  training row (measured on minute-price lags: 0.52, 0.28 and 0.12 nodes per row at s = 5,
  10 and 25), 72 bytes each (scikit-learn's node record and its value); the fitted forest,
  its serialised copy, the tables and the interpreter with its libraries.

A measured run calibrates the compute rate (`rate_from_receipts`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from lambda_functions import defaults
from lambda_functions.receipts import Receipt

LAMBDA_TIMEOUT_S = 900.0
LAMBDA_MAX_MB = 10240
MB_PER_VCPU = 1769
US_PER_TREE_ROW_FEATURE = 1.75
BYTES_PER_NODE = 72
BASE_MB = 400.0  # Python, pandas, scikit-learn, pyarrow, boto3 imported
TABLE_BYTES_PER_ROW = 13 * 8 * 3  # value, lags, target as float64; ~3 copies while fitting
SEED_ROWS = 650_250  # rows of a full-size Kaggle stock (FACTS.md)
TRAIN_SHARE, REFIT_SHARE = 0.64, 0.80
SAFETY = 0.8  # a plan must fit in 80% of a limit to count as fitting


def nodes_per_row(min_samples_split: int) -> float:
    return 3.0 / (min_samples_split + 0.8)


def lambda_vcpus(memory_mb: int) -> float:
    return min(memory_mb, LAMBDA_MAX_MB) / MB_PER_VCPU


@dataclass(frozen=True)
class PerStockFit:
    """One ``modeling`` invocation: the stock's rows and what it fits."""

    rows: int = SEED_ROWS
    cells: int = len(defaults.GRID_MAX_FEATURES) * len(defaults.GRID_MIN_SAMPLES_SPLIT)
    mean_features: float = sum(defaults.GRID_MAX_FEATURES) / len(defaults.GRID_MAX_FEATURES)
    largest_features: int = max(defaults.GRID_MAX_FEATURES)
    smallest_split: int = min(defaults.GRID_MIN_SAMPLES_SPLIT)
    cell_trees: int = defaults.GROVES_PER_CELL * defaults.TREES_PER_GROVE
    final_trees: int = defaults.FINAL_GROVES * defaults.FINAL_TREES
    memory_mb: int = 3008
    us_per_tree_row_feature: float = US_PER_TREE_ROW_FEATURE

    @classmethod
    def of_grid(
        cls, max_features: Sequence[int], min_samples_split: Sequence[int], **fields: Any
    ) -> PerStockFit:
        """The fit of a given grid (the refit assumed at its slowest, biggest cell)."""
        return cls(
            cells=len(max_features) * len(min_samples_split),
            mean_features=sum(max_features) / len(max_features),
            largest_features=max(max_features),
            smallest_split=min(min_samples_split),
            **fields,
        )

    def vcpu_seconds(self) -> float:
        train = self.rows * TRAIN_SHARE
        refit = self.rows * REFIT_SHARE
        work = self.cells * self.mean_features * self.cell_trees * train
        work += self.largest_features * self.final_trees * refit
        return work * self.us_per_tree_row_feature / 1e6

    def seconds(self) -> float:
        return self.vcpu_seconds() / lambda_vcpus(self.memory_mb)

    def forest_mb(self, trees: int, rows: float) -> float:
        nodes = nodes_per_row(self.smallest_split) * rows
        return trees * nodes * BYTES_PER_NODE / 2**20

    def peak_mb(self) -> float:
        cell = self.forest_mb(self.cell_trees, self.rows * TRAIN_SHARE)
        final = self.forest_mb(self.final_trees, self.rows * REFIT_SHARE)
        # The refit forest and its serialised copy (lz4: about half) are held at once.
        return BASE_MB + self.rows * TABLE_BYTES_PER_ROW / 2**20 + max(cell, 1.5 * final)

    def check(self) -> dict[str, Any]:
        """Estimated seconds and MB against Lambda's limits; what to do if they do not fit."""
        seconds, peak = self.seconds(), self.peak_mb()
        problems = []
        if seconds > SAFETY * LAMBDA_TIMEOUT_S:
            problems.append(
                f"~{seconds:,.0f} s of fitting at {self.memory_mb} MB "
                f"({lambda_vcpus(self.memory_mb):.1f} vCPU) exceeds Lambda's "
                f"{LAMBDA_TIMEOUT_S:.0f} s timeout"
                if seconds > LAMBDA_TIMEOUT_S
                else f"~{seconds:,.0f} s is within 20% of Lambda's {LAMBDA_TIMEOUT_S:.0f} s"
            )
        if peak > SAFETY * LAMBDA_MAX_MB:
            problems.append(
                f"~{peak:,.0f} MB peak memory exceeds "
                + ("Lambda's" if peak > LAMBDA_MAX_MB else "80% of Lambda's")
                + f" {LAMBDA_MAX_MB:,} MB"
            )
        if peak > self.memory_mb and peak <= SAFETY * LAMBDA_MAX_MB:
            problems.append(f"~{peak:,.0f} MB peak memory needs more than {self.memory_mb} MB")
        fits = not problems
        largest = self.largest_rows()
        advice = (
            "fits: the per-stock pipeline is an option (one invocation per stock)"
            if fits
            else "does not fit one invocation: use the grid pipeline (it splits the fits "
            "into groves), or fewer trees / a smaller grid / more memory"
            + (
                f"; at this grid and memory up to ~{largest:,} rows per stock fit"
                if largest
                else ""
            )
        )
        return {
            **asdict(self),
            "seconds": seconds,
            "peak_mb": peak,
            "timeout_s": LAMBDA_TIMEOUT_S,
            "max_memory_mb": LAMBDA_MAX_MB,
            "fits": fits,
            "problems": problems,
            "largest_rows": largest,
            "advice": advice,
        }

    def largest_rows(self) -> int:
        """The most rows per stock that fit within the safety margin (0: none)."""
        per_row_s = PerStockFit(**{**asdict(self), "rows": 1}).seconds()
        limit_s = SAFETY * LAMBDA_TIMEOUT_S / per_row_s
        unit = PerStockFit(**{**asdict(self), "rows": 1})
        per_row_mb = unit.peak_mb() - BASE_MB
        budget_mb = min(self.memory_mb, SAFETY * LAMBDA_MAX_MB) - BASE_MB
        limit_mb = budget_mb / per_row_mb if budget_mb > 0 else 0
        return max(int(math.floor(min(limit_s, limit_mb) / 1000) * 1000), 0)


def rate_from_receipts(receipts: Iterable[Receipt]) -> float | None:
    """vCPU-microseconds per tree-row-feature measured by a run's ``modeling`` receipts
    (their events give the grid and trees, their results the rows); None without any."""
    rates = []
    for r in receipts:
        if r.function != "modeling" or not r.ok:
            continue
        grid = r.event.get("grid") or {}
        feats: Sequence[int] = grid.get("max_features") or defaults.PERSTOCK_MAX_FEATURES
        samps: Sequence[int] = grid.get("min_samples_split") or defaults.PERSTOCK_MIN_SAMPLES_SPLIT
        trees = int(r.event.get("n_estimators") or defaults.PERSTOCK_TREES)
        final = int(r.result.get("trees") or trees)
        work = sum(feats) * len(samps) * trees * r.result["train_rows"]
        work += int(r.result["feat"]) * final * r.result["refit_rows"]
        threads = float(r.event.get("n_jobs") or 0)
        if threads <= 0:  # every CPU: on Lambda, its memory's vCPU share
            threads = lambda_vcpus(r.memory_limit_mb) if r.memory_limit_mb else 1.0
        if work > 0:
            rates.append(r.compute_ms * 1000 * threads / work)
    return sorted(rates)[len(rates) // 2] if rates else None
