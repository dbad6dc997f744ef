"""End to end through Prefect with the local executor: real fits on small generated data."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flows.pipeline import forecast_pipeline
from groves.inputs import SAMPLE_BYTES, UnusableSeriesError
from groves.reporting.gallery import TIMING_PLOTS
from groves.reporting.html import render_html
from groves.reporting.stored import load_report, load_summary
from lambda_functions.errors import GrovesError
from lambda_functions.stages import GRID
from lambda_functions.storage import open_storage
from lambda_functions.tables import read_table
from tests.flows.conftest import small_config

pytestmark = pytest.mark.slow

EXPECTED_INVOCATIONS = {  # per stock, for the small config: 2x2 grid, 2 groves, 3 final
    "processing": 1,
    "parampreds": 8,
    "predmses": 4,
    "minmse": 1,
    "trainfull": 3,
    "testfull": 1,
}


def test_full_pipeline_then_resume(local_store: str) -> None:
    config = small_config(store=local_store, run_id="e2e")
    summary = forecast_pipeline(config)
    store = open_storage(local_store)
    stocks = [s["stock"] for s in summary["stocks"]]
    assert stocks == ["RELIANCE", "TCS"]
    assert summary["failed"] == {}
    assert summary["executed"] == {k: 2 * v for k, v in EXPECTED_INVOCATIONS.items()}

    for row in summary["stocks"]:
        stock = row["stock"]
        base = f"runs/e2e/stocks/{stock}/"
        # Every stage's outputs exist.
        for split in ("training", "validation", "testing"):
            assert store.exists(f"{base}processed/{split}/{stock}.parquet")
        for f in (5, 9):
            for s in (5, 25):
                assert store.exists(f"{base}models/params/feat{f}_samp{s}/mse.csv")
                for g in range(2):
                    assert store.exists(
                        f"{base}models/params/feat{f}_samp{s}/preds/preds_{g}.parquet"
                    )
        for g in range(3):
            assert store.exists(f"{base}models/optimized/models/models/model_{g}.sav")
        best = store.get_text(f"{base}models/optimized/best_params.csv").splitlines()
        assert best[0] == "feat,samp,mse"
        assert best[1].startswith(f"{row['best_feat']},{row['best_samp']},")
        # The reported test MSE is the stored one, and it is recomputable from predictions.
        test = read_table(store, f"{base}processed/testing/{stock}.parquet")
        preds = [
            read_table(store, f"{base}models/optimized/models/preds/preds_{g}.parquet")
            for g in range(3)
        ]
        mean = np.mean([p["TYPPRICE_TARGET"].to_numpy() for p in preds], axis=0)
        recomputed = float(np.mean((test["TYPPRICE_TARGET"].to_numpy() - mean) ** 2))
        assert row["test_mse"] == pytest.approx(recomputed, rel=1e-12)
        assert np.isfinite(row["test_persistence_mse"])
        assert row["test_ratio"] == pytest.approx(row["test_mse"] / row["test_persistence_mse"])

    # The report: the seed's five tables, with every stage and a total.
    for name in ("actual", "fullparallel", "sequential", "instancecompute", "instanceio"):
        text = store.get_text(f"runs/e2e/timingmetrics/{name}timingmetrics.csv")
        assert text.splitlines()[0] == ",Invocation,Computation,I/O"
        assert [line.split(",")[0] for line in text.splitlines()[1:]] == [*GRID.names, "total"]
    saved = json.loads(store.get_text("runs/e2e/summary.json"))
    assert saved["stocks"] == json.loads(json.dumps(summary["stocks"]))
    # Without plots (small_config): none rendered, the report written all the same.
    assert summary["plots"] == [] and store.keys("runs/e2e/plots/") == []
    assert sorted(summary["timing"]["report"]["files"]) == ["cost", "report"]
    assert not [k for k in store.keys("runs/e2e/timingmetrics/") if k.endswith(".png")]
    # ... and `groves report --html` renders every plot from the stored outputs.
    page = render_html(store, load_summary(local_store, "e2e"), load_report(store, "e2e"))
    alts = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', page)
    assert alts == [
        "Test MSE / persistence per stock",
        *(f"{stock} {kind}" for stock in ("RELIANCE", "TCS") for kind in ("forecast", "grid")),
        *(title for title in TIMING_PLOTS.values()),
    ]

    # A rerun of the same configuration executes nothing.
    again = forecast_pipeline(config)
    assert sum(again["executed"].values()) == 0
    assert again["stocks"] == summary["stocks"]

    # Delete some receipts: a rerun executes exactly those invocations.
    receipts = store.keys("runs/e2e/receipts/parampreds/TCS/")
    removed = receipts[:3]
    for key in removed:
        store.delete_prefix(key)
    store.delete_prefix("runs/e2e/receipts/trainfull/RELIANCE/g1.json")
    resumed = forecast_pipeline(config)
    assert resumed["executed"]["parampreds"] == 3
    assert resumed["executed"]["trainfull"] == 1
    assert sum(resumed["executed"].values()) == 4
    assert resumed["stocks"] == summary["stocks"]  # identical results, bit for bit


def _task_states(flow_run_id: Any, suffix: str, settle_s: float = 30.0) -> dict[str, str]:
    """Task run name -> state name, for the flow run's tasks whose name ends in ``suffix``,
    once the server holds every stage's task run and every one's final state: task runs
    reach it as events, which it writes in batches, so a read just after the flow returns
    may find one missing or not yet final."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=settle_s)
    give_up = time.monotonic() + settle_s
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            names = {run.name for run in runs}
            settled = all(run.state is not None and run.state.is_final() for run in runs)
            settled = settled and {f"{stage}{suffix}" for stage in GRID.names} <= names
            if settled or time.monotonic() > give_up:
                return {run.name: run.state.name for run in runs if run.name.endswith(suffix)}
            time.sleep(0.1)


def test_changed_input_is_recomputed_even_with_a_warm_cache(local_store: str) -> None:
    config = small_config(store=local_store, run_id="changed", stocks=("TCS",))
    first = forecast_pipeline(config)
    warm = forecast_pipeline(config, return_state=True)  # every stage now a cache hit
    assert set(_task_states(warm.state_details.flow_run_id, "-TCS").values()) == {"Cached"}
    path = f"{local_store}/raw/TCS_minute_data_with_indicators.csv"
    lines = Path(path).read_text().splitlines(keepends=True)
    with open(path, "w") as handle:  # drop the last 200 minutes: a different input
        handle.writelines(lines[:-200])
    state = forecast_pipeline(config, return_state=True)
    second = state.result()
    assert second["executed"] == {k: v for k, v in EXPECTED_INVOCATIONS.items()}
    assert second["stocks"][0]["test_mse"] != first["stocks"][0]["test_mse"]
    states = _task_states(state.state_details.flow_run_id, "-TCS")
    assert "Cached" not in states.values(), states
    # The new results are the ones a fresh run on the changed file computes.
    fresh = forecast_pipeline(config.model_copy(update={"run_id": "changed-fresh"}))
    assert second["stocks"] == fresh["stocks"]


def test_refresh_recomputes_everything_with_identical_results(local_store: str) -> None:
    config = small_config(store=local_store, run_id="refresh", stocks=("TCS",))
    first = forecast_pipeline(config)
    before = {
        key: open_storage(local_store).get_json(key)["start"]
        for key in open_storage(local_store).keys("runs/refresh/receipts/parampreds/")
    }
    state = forecast_pipeline(config.model_copy(update={"refresh": True}), return_state=True)
    again = state.result()
    assert again["executed"] == EXPECTED_INVOCATIONS
    assert sum(again["reused"].values()) == 0
    assert again["stocks"] == first["stocks"]  # deterministic: bit for bit
    states = _task_states(state.state_details.flow_run_id, "-TCS")
    assert set(states.values()) == {"Completed"}
    after = open_storage(local_store)
    assert all(after.get_json(k)["start"] > started for k, started in before.items())


def test_failing_stock_is_isolated(local_store: str, tmp_path: Path) -> None:
    # TCS holds a text value in its last row, past the sample the up-front check reads
    # (groves.inputs.SAMPLE_BYTES): its processing worker fails; RELIANCE completes.
    from groves.demo_data import generate_dataset

    path = generate_dataset(tmp_path, ["TCS"], trading_days=8, seed=0)[0]
    assert path.stat().st_size > SAMPLE_BYTES
    lines = path.read_text().splitlines(keepends=True)
    column = lines[0].split(",").index("TYPPRICE")
    last = lines[-1].split(",")
    last[column] = "12.5O"  # a letter O
    lines[-1] = ",".join(last)
    Path(f"{local_store}/raw/TCS_minute_data_with_indicators.csv").write_text("".join(lines))
    config = small_config(store=local_store, run_id="isolated", retries=0)
    with pytest.raises(GrovesError, match=r"1 stock\(s\) failed: TCS \(processing: .*not a number"):
        forecast_pipeline(config)
    store = open_storage(local_store)
    assert store.exists("runs/isolated/stocks/RELIANCE/models/optimized/models/mse.csv")
    summary = forecast_pipeline(config.model_copy(update={"tolerate": 1}))
    statuses = {s["stock"]: s["status"] for s in summary["stocks"]}
    assert statuses == {"RELIANCE": "ok", "TCS": "failed"}
    assert sum(summary["executed"].values()) == 0  # RELIANCE reused, TCS not retried past 0


def test_unusable_stock_is_named_up_front_and_tolerated(local_store: str) -> None:
    # A file too short for the lags and the split is refused before anything is invoked;
    # with --tolerate the rest run and the summary says why it was left out.
    path = f"{local_store}/raw/TCS_minute_data_with_indicators.csv"
    lines = Path(path).read_text().splitlines(keepends=True)
    with open(path, "w") as handle:
        handle.writelines(lines[:300])
    config = small_config(store=local_store, run_id="unusable", retries=0)
    with pytest.raises(UnusableSeriesError, match=r"1 series cannot be used") as info:
        forecast_pipeline(config)
    assert list(info.value.problems) == ["TCS"]
    assert "only 288 usable rows" in info.value.problems["TCS"]
    store = open_storage(local_store)
    assert store.keys("runs/unusable/") == []
    summary = forecast_pipeline(config.model_copy(update={"tolerate": 1}))
    rows = {s["stock"]: s for s in summary["stocks"]}
    assert rows["RELIANCE"]["status"] == "ok"
    assert rows["TCS"]["status"] == "failed"
    assert rows["TCS"]["error"].startswith("input: raw/TCS_minute_data_with_indicators.csv")
    assert summary["executed"]["processing"] == 1  # TCS was never invoked
    assert not store.keys("runs/unusable/stocks/TCS/")


def test_unknown_stock_is_a_clear_error(local_store: str) -> None:
    config = small_config(store=local_store, stocks=("NOPE",))
    with pytest.raises(GrovesError, match="unknown stock 'NOPE'"):
        forecast_pipeline(config)


def test_the_first_rerun_is_a_prefect_cache_hit(local_store: str) -> None:
    config = small_config(store=local_store, run_id="cached", stocks=("TCS",))
    forecast_pipeline(config)  # computes everything; each stage caches under its receipts
    state = forecast_pipeline(config, return_state=True)
    assert state.is_completed()
    states = _task_states(state.state_details.flow_run_id, "-TCS")
    assert set(states) == {f"{stage}-TCS" for stage in GRID.names}
    assert set(states.values()) == {"Cached"}
    assert sum(state.result()["executed"].values()) == 0
    # A deleted receipt is never served from the cache: that stage runs (and resumes).
    open_storage(local_store).delete_prefix("runs/cached/receipts/trainfull/TCS/g0.json")
    state = forecast_pipeline(config, return_state=True)
    states = _task_states(state.state_details.flow_run_id, "-TCS")
    assert states["trainfull-TCS"] == "Completed"
    assert state.result()["executed"] == {**dict.fromkeys(GRID.names, 0), "trainfull": 1}
