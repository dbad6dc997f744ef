"""The ``actual`` timing table's partition of a window into invocation, computation and
I/O time: by hand, and against the instant-by-instant definition on random runs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lambda_functions.receipts import Receipt
from lambda_functions.timing import partition_window
from tests.receipts import make_receipt


def invocation(sent: float, start: float, read: float, compute: float, write: float) -> Receipt:
    return make_receipt(
        function="parampreds",
        event={"invoked_at": sent},
        start=start,
        end=start + read + compute + write,
        read_ms=read * 1000,
        compute_ms=compute * 1000,
        write_ms=write * 1000,
    )


def test_two_overlapping_invocations_by_hand() -> None:
    a = invocation(0.0, 1.0, 1.0, 2.0, 1.0)  # I/O [1, 2) and [4, 5), computes [2, 4)
    b = invocation(0.0, 2.0, 0.5, 1.0, 0.5)  # inside a's computation: counts as computing
    assert partition_window([a, b]) == pytest.approx((1.0, 2.0, 2.0))  # waiting [0, 1)
    c = invocation(6.0, 7.0, 0.0, 0.0, 0.0)  # zero length: only its wait for it to start
    assert partition_window([a, b, c]) == pytest.approx((3.0, 2.0, 2.0))
    assert partition_window([]) == (0.0, 0.0, 0.0)


def by_definition(receipts: list[Receipt]) -> tuple[float, float, float]:
    """Every piece between two consecutive phase boundaries, tested against every phase."""
    phases = []
    for r in receipts:
        read_end = min(r.start + r.read_ms / 1000, r.end)
        compute_end = min(read_end + r.compute_ms / 1000, r.end)
        phases.append((r.invoked_at, r.start, read_end, compute_end, r.end))
    edges = sorted({t for p in phases for t in p})
    totals = [0.0, 0.0, 0.0]
    for left, right in itertools.pairwise(edges):
        computing = any(p[2] <= left < p[3] for p in phases)
        io = any(p[1] <= left < p[2] or p[3] <= left < p[4] for p in phases)
        totals[1 if computing else 2 if io else 0] += right - left
    return totals[0], totals[1], totals[2]


@pytest.mark.parametrize("seed", range(5))
def test_the_sweep_agrees_with_the_definition_on_random_runs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    receipts = []
    for _ in range(300):
        sent = float(rng.uniform(0, 50))
        start = sent + float(rng.choice([0.0, rng.exponential(1.0)]))
        read, compute, write = (float(rng.choice([0.0, rng.exponential(2.0)])) for _ in "rcw")
        receipts.append(invocation(round(sent, 2), round(start, 2), read, compute, write))
    # shared boundaries (rounded times) and a receipt whose end precedes its start
    receipts.append(
        make_receipt(
            function="parampreds", event={"invoked_at": 3.0}, start=4.0, end=3.5, read_ms=100
        )
    )
    assert partition_window(receipts) == pytest.approx(by_definition(receipts), abs=1e-9)
