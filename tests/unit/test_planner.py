"""The capacity planner: exact on synthetic runs, scaling rules, the ``groves plan`` CLI."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groves import planner
from groves.cli import app
from groves.reporting.report import build_report
from lambda_functions.receipts import Receipt
from lambda_functions.stages import GRID
from lambda_functions.storage import open_storage
from tests.receipts import make_receipt

T0 = 1000.0  # small: timestamps keep ~1e-13 s of float precision


def synthetic_run(
    scale: planner.Scale,
    durations: dict[tuple[str, int, int], float],
    *,
    stagger: float,
    dispatch: float,
    gap: float,
    latency: float,
    gaps: dict[tuple[int, int], float] | None = None,
) -> list[Receipt]:
    """Receipts of a run scheduled first come, first served on ``scale.concurrency`` slots.

    Written independently of the planner: invocations are taken in order of arrival; each
    takes the earliest-free slot and starts ``latency`` after getting it; when a stock's
    stage has all its invocations placed, its next stage is sent ``gap`` after the last of
    them ends, one invoke every ``dispatch`` seconds. ``gaps`` overrides ``gap`` per
    (stock, stage index): real runs' pacing is irregular.
    """
    per_stock = scale.per_stock()
    pending = [(i * stagger, 0, i, 0) for i in range(scale.stocks)]  # (arrive, stage, stock, j)
    slots = [0.0] * scale.concurrency
    left = {(i, s): per_stock[GRID.names[s]] for i in range(scale.stocks) for s in range(6)}
    last_end: dict[tuple[int, int], float] = {}
    receipts = []
    while pending:
        pending.sort()
        arrive, s, i, j = pending.pop(0)
        if j + 1 < per_stock[GRID.names[s]]:
            pending.append((arrive + dispatch, s, i, j + 1))
        k = min(range(len(slots)), key=lambda n: slots[n])
        start = max(arrive, slots[k]) + latency
        end = start + durations[(GRID.names[s], i, j)]
        slots[k] = end
        last_end[(i, s)] = max(last_end.get((i, s), 0.0), end)
        left[(i, s)] -= 1
        if left[(i, s)] == 0 and s < 5:
            pending.append((last_end[(i, s)] + (gaps or {}).get((i, s + 1), gap), s + 1, i, 0))
        d = durations[(GRID.names[s], i, j)]
        receipts.append(
            make_receipt(
                function=GRID.names[s],
                stock=f"STOCK{i}",
                unit=f"u{j}",
                event={"invoked_at": T0 + arrive},
                start=T0 + start,
                end=T0 + end,
                read_ms=100 * d,  # 10% read, 80% compute, 10% write
                compute_ms=800 * d,
                write_ms=100 * d,
            )
        )
    return receipts


def makespan(receipts: list[Receipt]) -> float:
    """First invoke to last end, unrounded."""
    return max(r.end for r in receipts) - min(r.invoked_at for r in receipts)


def random_durations(scale: planner.Scale, seed: int) -> dict[tuple[str, int, int], float]:
    rng = random.Random(seed)
    return {
        (stage, i, j): rng.uniform(0.5, 5.0)
        for stage, n in scale.per_stock().items()
        for i in range(scale.stocks)
        for j in range(n)
    }


def test_hand_computed_schedule() -> None:
    # One stock, 1 cell x 2 groves, 2 final groves; gap 0.5 s, dispatch 0.1 s.
    durations = {
        ("processing", 0, 0): 2.0,
        ("parampreds", 0, 0): 3.0,
        ("parampreds", 0, 1): 4.0,
        ("predmses", 0, 0): 1.0,
        ("minmse", 0, 0): 0.5,
        ("trainfull", 0, 0): 2.0,
        ("trainfull", 0, 1): 1.0,
        ("testfull", 0, 0): 1.0,
    }
    wide = planner.Scale(stocks=1, cells=1, groves=2, trees=5, final_groves=2, final_trees=5,
                         concurrency=2)  # fmt: skip
    # 0-2 processing; 2.5-5.5 and 2.6-6.6 groves; 7.1-8.1; 8.6-9.1; 9.6-11.6 and
    # 9.7-10.7; testfull 12.1-13.1.
    run = synthetic_run(wide, durations, stagger=0, dispatch=0.1, gap=0.5, latency=0)
    assert makespan(run) == pytest.approx(13.1)
    # One slot: the second grove waits (2.5-5.5, 5.5-9.5), ... testfull 16.0-17.0.
    narrow = replace(wide, concurrency=1)
    run1 = synthetic_run(narrow, durations, stagger=0, dispatch=0.1, gap=0.5, latency=0)
    assert makespan(run1) == pytest.approx(17.0)
    for scale, receipts, expected in ((wide, run, 13.1), (narrow, run1, 17.0)):
        profile = planner.profile_from_receipts(receipts, scale)
        assert planner.plan(profile, assign="own")["projected_makespan_s"] == pytest.approx(
            expected, abs=1e-9
        )


@pytest.mark.parametrize("concurrency", [1, 3, 7, 1000])
def test_plan_reproduces_a_synthetic_run_exactly(concurrency: int) -> None:
    scale = planner.Scale(stocks=4, cells=4, groves=3, trees=10, final_groves=5, final_trees=5,
                          concurrency=concurrency)  # fmt: skip
    run = synthetic_run(scale, random_durations(scale, concurrency), stagger=0.3,
                        dispatch=0.02, gap=0.7, latency=0.05)  # fmt: skip
    profile = planner.profile_from_receipts(run, scale)
    assert profile.stagger_s == pytest.approx(0.3)
    assert profile.gap_s["parampreds"] == pytest.approx(0.7)
    assert profile.dispatch_s["parampreds"] == pytest.approx(0.02)
    result = planner.plan(profile)  # same configuration: each invocation's own times
    assert result["assign"] == "own"
    assert result["projected_makespan_s"] == pytest.approx(makespan(run), abs=1e-9)
    assert result["measured_makespan_s"] == pytest.approx(makespan(run), abs=1e-9)
    measured = build_report(run, GRID.names)
    assert result["total"]["busy_s"] == pytest.approx(measured["total"]["busy_s"], rel=1e-6)
    # Every stage's makespan too, not just the total.
    for stage in GRID.names:
        assert result["stages"][stage]["makespan_s"] == pytest.approx(
            measured["stages"][stage]["makespan_s"],
            abs=2e-6,  # reports round to 1 us
        )


def test_own_replays_irregular_pacing_exactly() -> None:
    # Each stock's stages start after a different gap (as when receipts are polled):
    # the median gap would misplace them; replaying the measured gaps does not.
    scale = planner.Scale(stocks=3, cells=2, groves=2, trees=10, final_groves=3, final_trees=5,
                          concurrency=4)  # fmt: skip
    rng = random.Random(7)
    gaps = {(i, s): rng.uniform(0.0, 4.0) for i in range(3) for s in range(1, 6)}
    run = synthetic_run(scale, random_durations(scale, 2), stagger=0.4, dispatch=0.01, gap=0.0,
                        latency=0.05, gaps=gaps)  # fmt: skip
    profile = planner.profile_from_receipts(run, scale)
    result = planner.plan(profile, assign="own")
    assert result["projected_makespan_s"] == pytest.approx(makespan(run), abs=1e-9)


def test_sampled_times_keep_the_measured_distribution() -> None:
    scale = planner.Scale(stocks=3, cells=2, groves=2, trees=10, final_groves=3, final_trees=5,
                          concurrency=4)  # fmt: skip
    run = synthetic_run(scale, random_durations(scale, 1), stagger=0.1, dispatch=0.01, gap=0.2,
                        latency=0.0)  # fmt: skip
    profile = planner.profile_from_receipts(run, scale)
    measured = build_report(run, GRID.names)
    sampled = planner.plan(profile, assign="sampled", seed=3)
    for stage in GRID.names:  # the same multiset of durations, in another order
        assert sampled["stages"][stage]["busy_s"] == pytest.approx(
            measured["stages"][stage]["busy_s"], rel=1e-9
        )
    again = planner.plan(profile, assign="sampled", seed=3)
    assert again["projected_makespan_s"] == sampled["projected_makespan_s"]  # deterministic
    assert sampled["projected_makespan_s"] == pytest.approx(makespan(run), rel=0.15)


def test_scaling_rules() -> None:
    scale = planner.Scale(stocks=2, cells=2, groves=2, trees=10, final_groves=2, final_trees=5,
                          concurrency=2)  # fmt: skip
    run = synthetic_run(scale, random_durations(scale, 2), stagger=0, dispatch=0, gap=0,
                        latency=0)  # fmt: skip
    profile = planner.profile_from_receipts(run, scale)
    base = planner.plan(profile, assign="sampled")
    doubled = planner.plan(profile, replace(scale, trees=20), assign="sampled")
    grid = "parampreds"
    assert doubled["stages"][grid]["compute_s"] == pytest.approx(
        2 * base["stages"][grid]["compute_s"]
    )
    assert doubled["stages"]["trainfull"]["busy_s"] == pytest.approx(
        base["stages"]["trainfull"]["busy_s"]
    )
    bigger = planner.plan(profile, replace(scale, stocks=10, concurrency=50))
    assert bigger["receipts"] == 10 * sum(scale.per_stock().values())
    assert bigger["total"]["peak_concurrency"] <= 50
    # More memory, more vCPUs: fits speed up (local workers measured as 1 vCPU).
    fast = planner.plan(profile, replace(scale, memory_mb=2 * planner.MB_PER_VCPU))
    assert fast["stages"][grid]["compute_s"] == pytest.approx(base["stages"][grid]["compute_s"] / 2)
    assert fast["stages"]["processing"]["compute_s"] == pytest.approx(
        base["stages"]["processing"]["compute_s"]
    )
    with pytest.raises(ValueError, match="own times need the measured configuration"):
        planner.plan(profile, replace(scale, stocks=3), assign="own")


def test_given_per_grove_times() -> None:
    seconds = {"processing": 10, "parampreds": 100, "predmses": 1, "minmse": 1,
               "trainfull": 50, "testfull": 1}  # fmt: skip
    unlimited = planner.Scale(stocks=2, cells=9, groves=3, trees=100, final_groves=30,
                              final_trees=25, concurrency=10_000, memory_mb=3008)  # fmt: skip
    profile = planner.profile_from_times(seconds, unlimited, dispatch_s=0.0)
    result = planner.plan(profile)
    assert result["projected_makespan_s"] == pytest.approx(sum(seconds.values()))
    # One slot: everything in turn.
    serial = planner.plan(profile, replace(unlimited, concurrency=1))
    assert serial["projected_makespan_s"] == pytest.approx(result["total"]["busy_s"])
    # 54 grid groves on 27 slots: two waves.
    waves = planner.plan(profile, replace(unlimited, concurrency=27))
    assert waves["stages"]["parampreds"]["makespan_s"] == pytest.approx(200.0)
    gb_s = result["cost"]["lambda"]["total"]["gb_s"]
    assert gb_s == pytest.approx(3008 / 1024 * result["total"]["busy_s"])
    with pytest.raises(ValueError, match="unknown stage"):
        planner.profile_from_times({"nope": 1}, unlimited)


def _save_run(root: Path, run_id: str, receipts: list[Receipt], config: dict) -> str:
    store = open_storage(root)
    store.put_json(f"runs/{run_id}/config.json", config)
    for n, r in enumerate(receipts):
        store.put_bytes(f"runs/{run_id}/receipts/{r.function}/{r.stock}/{n}.json", r.to_json())
    return str(root)


def test_plan_command_on_a_stored_run(tmp_path: Path) -> None:
    scale = planner.Scale(stocks=2, cells=4, groves=2, trees=5, final_groves=3, final_trees=5,
                          concurrency=2)  # fmt: skip
    run = synthetic_run(scale, random_durations(scale, 5), stagger=0.01, dispatch=0.001,
                        gap=0.3, latency=0.01)  # fmt: skip
    config = {
        "stocks": ["STOCK0", "STOCK1"],
        "grid": {"max_features": [5, 9], "min_samples_split": [5, 25]},
        "groves": 2,
        "trees": 5,
        "final_groves": 3,
        "final_trees": 5,
        "executor": "local",
        "workers": 2,
    }
    store = _save_run(tmp_path / "store", "syn", run, config)
    runner = CliRunner()
    own = runner.invoke(app, ["plan", "syn", "--data", store, "--json"])
    assert own.exit_code == 0, own.output
    result = json.loads(own.output)
    assert result["projected_makespan_s"] == pytest.approx(makespan(run), rel=1e-6)
    assert result["target"]["concurrency"] == 2
    bigger = runner.invoke(
        app,
        ["plan", "syn", "--data", store, "--stocks", "99", "--cells", "9", "--groves", "3",
         "--trees", "100", "--final-groves", "30", "--final-trees", "25",
         "--concurrency", "1000", "--memory", "3008"],
    )  # fmt: skip
    assert bigger.exit_code == 0, bigger.output
    assert "6831 invocations" in bigger.output
    assert "projected makespan" in bigger.output
    given = runner.invoke(
        app, ["plan", "--grove-seconds", "300", "--final-grove-seconds", "110", "--json"]
    )
    assert given.exit_code == 0, given.output
    assert json.loads(given.output)["receipts"] == 6831
    missing = runner.invoke(app, ["plan", "nope", "--data", store])
    assert missing.exit_code == 1
    assert "no run 'nope'" in missing.output


def test_plan_takes_per_stage_seconds_and_names_a_malformed_pair() -> None:
    runner = CliRunner()
    base = ["plan", "--grove-seconds", "300", "--final-grove-seconds", "110", "--json"]
    slow = runner.invoke(app, [*base, "--stage-seconds", "processing=40,minmse=2"])
    fast = runner.invoke(app, [*base, "--stage-seconds", "processing=4,minmse=2"])
    assert slow.exit_code == 0 and fast.exit_code == 0, slow.output + fast.output
    # 36 s more per processing wave: the projection moves by at least that.
    gap = json.loads(slow.output)["projected_makespan_s"]
    gap -= json.loads(fast.output)["projected_makespan_s"]
    assert gap >= 36 - 1e-6
    for bad in ("processing", "processing=fast", "=4"):
        result = runner.invoke(app, [*base, "--stage-seconds", bad])
        assert result.exit_code == 1
        assert f"expected NAME=SECONDS, e.g. parampreds=2.0; got {bad!r}" in result.output


def test_lambda_endpoint_refuses_a_malformed_fault_before_serving() -> None:
    result = CliRunner().invoke(app, ["lambda-endpoint", "--fail-first", "parampreds=twice"])
    assert result.exit_code == 1
    assert "expected NAME=COUNT, e.g. parampreds=2; got 'parampreds=twice'" in result.output
    assert "Lambda Invoke API on" not in result.output
