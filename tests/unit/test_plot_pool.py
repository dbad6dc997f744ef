"""The plot pool: a stock's result plots drawn by another process as soon as it is told
the stock is done, byte for byte what drawing them in process gives; a pool that breaks
loses no plot (what it did not draw is drawn at the end)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from groves.reporting.gallery import write_result_plots, write_stock_plots
from groves.reporting.plot_pool import MAX_PROCESSES, StockPlotPool, pool_size
from lambda_functions.layout import RunLayout
from lambda_functions.storage import open_storage
from tests.unit.test_result_plots import PNG_SIGNATURE, place_outputs

ROW = {"stock": "RELIANCE", "status": "ok", "test_ratio": 0.9, "best_feat": 5, "best_samp": 5,
       "validation_persistence_mse": 2.5}  # fmt: skip


def test_pool_size_is_a_process_per_core_within_a_cap() -> None:
    assert pool_size(cpus=1) == 1
    assert pool_size(cpus=2) == 2
    assert pool_size(cpus=64) == MAX_PROCESSES


def test_a_stock_is_drawn_by_the_pool_while_the_caller_goes_on(tmp_path: Path) -> None:
    url = str(tmp_path / "store")
    place_outputs(url, "RELIANCE")
    store, layout = open_storage(url), RunLayout("r")
    pool = StockPlotPool(url, "r", processes=1)
    try:
        pool.stock_done(ROW)
        # Not waited for: the files appear while this process does nothing.
        key = layout.plot_key("grid.svg", "RELIANCE")
        deadline = time.monotonic() + 60
        while not store.exists(key) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.exists(key)
        drawn = pool.drawn()
    finally:
        pool.close()
    ahead = {entry["png"]: store.get_bytes(entry["png"]) for entry in drawn["RELIANCE"]}
    assert [e["name"] for e in drawn["RELIANCE"]] == ["forecast", "grid"]
    assert all(png.startswith(PNG_SIGNATURE) for png in ahead.values())
    # The same entries and the same bytes as drawing them here.
    assert write_stock_plots(store, layout, ROW) == drawn["RELIANCE"]
    assert {key: store.get_bytes(key) for key in ahead} == ahead
    # The run's plot list takes the pool's entries and draws only the overview.
    summary = {"run_id": "r", "stocks": [ROW]}
    for entry in drawn["RELIANCE"]:
        store.delete_prefix(entry["png"])
    made = write_result_plots(store, layout, summary, drawn)
    assert [(p["name"], p["stock"]) for p in made] == [
        ("overview", None), ("forecast", "RELIANCE"), ("grid", "RELIANCE")
    ]  # fmt: skip
    assert not store.exists(drawn["RELIANCE"][0]["png"])  # not drawn again


def _die() -> None:
    os._exit(3)


def test_a_broken_pool_loses_no_plot(tmp_path: Path) -> None:
    """A pool process that dies: the stocks it had are left out of `drawn`, and the run's
    plot list draws them in process."""
    url = str(tmp_path / "store")
    place_outputs(url, "RELIANCE")
    pool = StockPlotPool(url, "r", processes=1)
    try:
        pool._pool.submit(_die)  # the pool's one process exits: the pool is broken
        time.sleep(0.5)
        pool.stock_done(ROW)
        drawn = pool.drawn()
    finally:
        pool.close()
    assert drawn == {}
    store = open_storage(url)
    made = write_result_plots(store, RunLayout("r"), {"run_id": "r", "stocks": [ROW]}, drawn)
    assert [p["name"] for p in made] == ["overview", "forecast", "grid"]
    assert all(store.get_bytes(p["png"]).startswith(PNG_SIGNATURE) for p in made)


@pytest.mark.parametrize("bad", [{"stock": "../x", "status": "ok"}])
def test_a_plot_that_fails_is_an_entry_with_its_error(tmp_path: Path, bad: dict) -> None:
    url = str(tmp_path / "store")
    pool = StockPlotPool(url, "r", processes=1)
    try:
        pool.stock_done(bad)
        drawn = pool.drawn()
    finally:
        pool.close()
    assert [(e["name"], "error" in e) for e in drawn["../x"]] == [
        ("forecast", True), ("grid", True)
    ]  # fmt: skip
