"""The per-stock pipeline end to end through Prefect: real fits on small generated data,
the local executor, then the Lambda executor over the project's own Invoke endpoint (S3 on
a moto server) with MSEs identical to the local executor's; kill-and-rerun reuse."""

from __future__ import annotations

import io
from collections.abc import Iterator

import joblib
import pytest

from flows.pipeline import forecast_pipeline
from groves.lambda_endpoint import LocalLambdaEndpoint
from lambda_functions.forests import mse, predict_levels
from lambda_functions.stages import PER_STOCK
from lambda_functions.storage import open_storage
from lambda_functions.tables import read_table
from tests.flows.conftest import endpoint_env, small_config

pytestmark = pytest.mark.slow


def per_stock(**changes: object) -> object:
    return small_config(pipeline="per-stock", **changes)


def test_per_stock_pipeline_local_then_resume(local_store: str) -> None:
    config = per_stock(store=local_store, run_id="ps", plots=True)
    summary = forecast_pipeline(config)
    assert summary["pipeline"] == "per-stock"
    assert summary["failed"] == {}
    store = open_storage(local_store)
    names = [(p["name"], p["stock"]) for p in summary["plots"]]  # each one made
    assert names == [
        ("overview", None),
        *((kind, stock) for stock in ("RELIANCE", "TCS") for kind in ("forecast", "grid")),
        ("timeline", None),
        ("distributions", None),
    ]
    assert all(store.get_bytes(p["png"]).startswith(b"\x89PNG") for p in summary["plots"])
    assert summary["executed"] == {"processing": 2, "modeling": 2, "predict": 2}
    for row in summary["stocks"]:
        stock = row["stock"]
        base = f"runs/ps/stocks/{stock}/"
        test = read_table(store, f"{base}processed/testing/{stock}.parquet")
        model = joblib.load(io.BytesIO(store.get_bytes(f"{base}models/models/{stock}.sav")))
        assert model.n_estimators == 3 * 5  # final_groves x final_trees, in one forest
        preds = predict_levels(model, test, target="change", indicators=())
        actual = test["TYPPRICE_TARGET"].to_numpy()
        assert row["test_mse"] == mse(actual, preds["TYPPRICE_TARGET"].to_numpy())
        assert row["test_ratio"] == pytest.approx(row["test_mse"] / row["test_persistence_mse"])
        assert (row["best_feat"], row["best_samp"]) in {(5, 5), (5, 25), (9, 5), (9, 25)}
    # The timing tables' rows are the per-stock stages; the metrics stage summarised.
    text = store.get_text("runs/ps/timingmetrics/actualtimingmetrics.csv")
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == [*PER_STOCK.names, "total"]
    metrics = summary["summaries"]["metrics"]
    assert metrics["stocks"] == 2
    assert metrics["average_mse"] == pytest.approx(
        sum(r["test_mse"] for r in summary["stocks"]) / 2
    )
    assert metrics["modeling"]["posts3_max_ms"] > 0
    # Kill-and-rerun: lose one stock's predict receipt; only that one invocation reruns.
    store.delete_prefix("runs/ps/receipts/predict/TCS/")
    again = forecast_pipeline(config)
    assert again["executed"] == {"processing": 0, "modeling": 0, "predict": 1}
    assert again["stocks"] == summary["stocks"]


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalLambdaEndpoint]:
    server = LocalLambdaEndpoint(concurrency=4, env=endpoint_env(moto_server))
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", server.url)
    try:
        yield server
    finally:
        server.stop()


def test_lambda_executor_matches_local(
    endpoint: LocalLambdaEndpoint, s3_store: str, local_store: str
) -> None:
    remote = forecast_pipeline(per_stock(store=s3_store, executor="lambda", run_id="same"))
    local = forecast_pipeline(per_stock(store=local_store, executor="local", run_id="same"))
    assert remote["failed"] == {}
    assert remote["stocks"] == local["stocks"]  # MSEs equal exactly
    functions = endpoint.stats()["functions"]
    for function in ("processing", "modeling", "predict", "metrics"):
        assert functions[function]["executed"] == (1 if function == "metrics" else 2)
    assert functions["parampreds"]["received"] == 0  # no grid fan-out
    store = open_storage(s3_store)
    assert store.exists("runs/same/stocks/TCS/models/mses/TCS.txt")
