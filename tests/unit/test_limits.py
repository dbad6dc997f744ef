"""`groves.limits`: does one per-stock modeling invocation fit AWS Lambda?"""

from __future__ import annotations

import json

import pytest

from groves.limits import (
    LAMBDA_MAX_MB,
    LAMBDA_TIMEOUT_S,
    PerStockFit,
    lambda_vcpus,
    nodes_per_row,
    rate_from_receipts,
)
from lambda_functions.receipts import Receipt


def test_seed_scale_does_not_fit_and_recommends_the_grid_pipeline() -> None:
    check = PerStockFit(memory_mb=3008).check()  # 650,250 rows, 9 cells x 300 trees + 750
    assert not check["fits"]
    assert check["seconds"] > LAMBDA_TIMEOUT_S and check["peak_mb"] > LAMBDA_MAX_MB
    assert "use the grid pipeline" in check["advice"]
    assert len(check["problems"]) == 2
    # Even the largest function does not save it.
    assert not PerStockFit(memory_mb=LAMBDA_MAX_MB).check()["fits"]


def test_demo_scale_fits() -> None:
    check = PerStockFit(rows=5_000, memory_mb=3008).check()
    assert check["fits"] and check["problems"] == []
    assert "per-stock pipeline is an option" in check["advice"]


def test_largest_rows_is_the_boundary() -> None:
    fit = PerStockFit(memory_mb=3008)
    largest = fit.largest_rows()
    assert 1_000 < largest < fit.rows
    below = PerStockFit(rows=largest, memory_mb=3008).check()
    above = PerStockFit(rows=largest * 2, memory_mb=3008).check()
    assert below["fits"] and not above["fits"]


def test_estimates_scale_with_work() -> None:
    base = PerStockFit(rows=100_000)
    assert PerStockFit(rows=200_000).vcpu_seconds() == pytest.approx(2 * base.vcpu_seconds())
    more_memory = PerStockFit(rows=100_000, memory_mb=2 * base.memory_mb)
    assert more_memory.seconds() == pytest.approx(base.seconds() / 2)
    assert lambda_vcpus(1769) == 1.0 and lambda_vcpus(20_000) == lambda_vcpus(LAMBDA_MAX_MB)
    # Smaller min_samples_split: bigger trees (measured 0.52 nodes per row at 5, 0.12 at 25).
    assert nodes_per_row(5) == pytest.approx(0.52, abs=0.01)
    assert nodes_per_row(25) == pytest.approx(0.12, abs=0.01)
    one = PerStockFit.of_grid((7,), (10,), rows=1000, cell_trees=20, final_trees=20)
    assert (one.cells, one.mean_features, one.largest_features, one.smallest_split) == (
        1,
        7,
        7,
        10,
    )


def receipt(compute_ms: float, **event: object) -> Receipt:
    return Receipt(
        function="modeling",
        unit="modeling",
        stock="A",
        event={
            "grid": {"max_features": [5], "min_samples_split": [5]},
            "n_estimators": 10,
            **event,
        },
        fingerprint="f",
        code_version="c",
        attempt=1,
        request_id="r",
        cold_start=False,
        start=0.0,
        end=1.0,
        read_ms=0.0,
        compute_ms=compute_ms,
        write_ms=0.0,
        bytes_read=0,
        bytes_written=0,
        status="ok",
        result={"feat": 5, "train_rows": 1000, "refit_rows": 1250, "trees": 20},
    )


def test_rate_from_receipts() -> None:
    # work: 5 features x 10 trees x 1000 rows + 5 x 20 x 1250 = 175,000 tree-row-features
    assert rate_from_receipts([receipt(350.0, n_jobs=1)]) == pytest.approx(2.0)
    assert rate_from_receipts([receipt(175.0, n_jobs=2)]) == pytest.approx(2.0)
    assert rate_from_receipts([]) is None


def test_plan_says_whether_a_per_stock_invocation_fits() -> None:
    from typer.testing import CliRunner

    from groves.cli.app import app

    runner = CliRunner(env={"COLUMNS": "200"})
    seed = runner.invoke(app, ["plan", "--pipeline", "per-stock", "--json"])
    assert seed.exit_code == 0, seed.output
    result = json.loads(seed.output)
    assert result["receipts"] == 99 * 3  # processing, modeling, predict per stock
    assert result["limits"]["rows"] == 650_250 and not result["limits"]["fits"]
    shown = runner.invoke(app, ["plan", "--pipeline", "per-stock"])
    assert "use the grid pipeline" in shown.output
    small = runner.invoke(app, ["plan", "--pipeline", "per-stock", "--rows", "5000", "--json"])
    assert json.loads(small.output)["limits"]["fits"]
    wrong = runner.invoke(app, ["plan", "--pipeline", "per-stock", "--grove-seconds", "3"])
    assert wrong.exit_code == 1 and "--stage-seconds modeling=S" in wrong.output
