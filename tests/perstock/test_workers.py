"""The per-stock pipeline's workers (the original's Checkpoint-2 system).

Seed mode: the literal events (``{"bucket", "file"}``, ``{"bucket", "stock"}``, ``{}``)
against one bucket on a moto S3 server and on a local bucket root produce exactly the
original's tree, and each MSE file equals the MSE recomputed from the stored test split
and the stored model. Run mode: both stores, Parquet, the refit on training + validation
(the original read training twice), bad events rejected before anything is stored, a
changed model refused.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from lambda_functions import metrics, modeling, predict, processing
from lambda_functions.errors import (
    InputDataError,
    IntegrityError,
    InvalidEventError,
    MissingOutputError,
    ObjectNotFoundError,
)
from lambda_functions.forests import mse, predict_levels
from lambda_functions.layout import RunLayout, StockSpace
from lambda_functions.storage import BUCKET_ROOT_ENV, Storage, bucket_storage, open_storage
from lambda_functions.tables import read_table
from tests.conftest import STOCKS, raw_file_name

BUCKET = "ds5110s3"
SPLITS = ("training", "validation", "testing")


def expected_tree(stocks: tuple[str, ...]) -> set[str]:
    """SEED.md's Checkpoint-2 tree (runtimes split into pres3/posts3 as its code wrote)."""
    keys = {f"raw/{raw_file_name(s)}" for s in stocks}
    for s in stocks:
        keys |= {f"processed/{split}/{s}.csv" for split in SPLITS}
        keys |= {f"processed/runtimes/{w}/{s}.txt" for w in ("pres3", "posts3")}
        keys |= {f"models/runtimes/{w}/{s}.txt" for w in ("pres3", "posts3")}
        keys |= {f"models/models/{s}.sav", f"models/mses/{s}.txt"}
    return keys


def run_seed(raw_dir: Path, stocks: tuple[str, ...]) -> dict[str, Any]:
    """The literal events, in the original's order, against bucket ``BUCKET``."""
    store = bucket_storage(BUCKET)
    for stock in stocks:
        store.put_bytes(
            f"raw/{raw_file_name(stock)}", (raw_dir / raw_file_name(stock)).read_bytes()
        )
    receipts: dict[str, Any] = {}
    for stock in stocks:
        processing.lambda_handler({"bucket": BUCKET, "file": raw_file_name(stock)})
    for stock in stocks:
        receipts[stock] = modeling.lambda_handler({"bucket": BUCKET, "stock": stock})
    for stock in stocks:
        predict.lambda_handler({"bucket": BUCKET, "stock": stock})
    receipts["metrics"] = metrics.lambda_handler({})
    return receipts


def check_seed_tree(store: Storage, stocks: tuple[str, ...], receipts: dict[str, Any]) -> None:
    keys = set(store.keys())
    assert {k for k in keys if not k.startswith("receipts/")} == expected_tree(stocks)
    for stock in stocks:
        test = pd.read_csv(io.BytesIO(store.get_bytes(f"processed/testing/{stock}.csv")))
        assert "date" not in test.columns and test.columns[0] == "TYPPRICE"  # no index column
        model = joblib.load(io.BytesIO(store.get_bytes(f"models/models/{stock}.sav")))
        assert receipts[stock]["result"]["trees"] == 20 and model.n_estimators == 20
        assert (model.max_features, model.min_samples_split) == (7, 10)  # the original's
        preds = predict_levels(model, test, target="change", indicators=())
        recomputed = mse(test["TYPPRICE_TARGET"].to_numpy(), preds["TYPPRICE_TARGET"].to_numpy())
        assert float(store.get_text(f"models/mses/{stock}.txt")) == recomputed
        for folder in ("processed", "models"):
            pre = float(store.get_text(f"{folder}/runtimes/pres3/{stock}.txt"))
            post = float(store.get_text(f"{folder}/runtimes/posts3/{stock}.txt"))
            assert 0 < pre <= post < 600_000  # milliseconds
    result = receipts["metrics"]["result"]
    assert result["stocks"] == len(stocks)
    mses = [float(store.get_text(f"models/mses/{s}.txt")) for s in stocks]
    assert result["average_mse"] == pytest.approx(np.mean(mses))
    for stage in ("processing", "modeling"):
        assert result[stage]["posts3_sum_ms"] >= result[stage]["pres3_sum_ms"] > 0
        assert result[stage]["s3_max_ms"] >= 0


def test_seed_events_on_a_moto_server(
    raw_dir: Path, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    boto3.client("s3", endpoint_url=moto_server).create_bucket(Bucket=BUCKET)
    try:
        receipts = run_seed(raw_dir, STOCKS[:1])
        check_seed_tree(bucket_storage(BUCKET), STOCKS[:1], receipts)
    finally:
        bucket_storage(BUCKET).delete_prefix("")
        boto3.client("s3", endpoint_url=moto_server).delete_bucket(Bucket=BUCKET)


def test_seed_events_on_a_local_bucket_root(
    raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BUCKET_ROOT_ENV, str(tmp_path))
    receipts = run_seed(raw_dir, STOCKS)
    check_seed_tree(bucket_storage(BUCKET), STOCKS, receipts)


# --------------------------------------------------------------------------- run mode


def run_stock(url: str, stock: str = "RELIANCE", **options: Any) -> dict[str, Any]:
    base = {"store": url, "run_id": "ps", "stock": stock, **options}
    processing.lambda_handler(base)
    small = {"grid": {"max_features": [3, 5], "min_samples_split": [5]}, "n_estimators": 4}
    model = modeling.lambda_handler({**base, **small, "final_estimators": 6})
    scored = predict.lambda_handler(base)
    return {"modeling": model, "predict": scored}


def test_run_mode_on_both_stores(store_url: str) -> None:
    done = run_stock(store_url)
    store = open_storage(store_url)
    space = StockSpace("RELIANCE", "parquet", prefix=RunLayout("ps").stock_prefix("RELIANCE"))
    assert store.exists(space.processed("testing"))
    model_key = space.stock_model()
    assert done["modeling"]["outputs"][model_key] == done["modeling"]["result"]["model_sha256"]
    result = done["modeling"]["result"]
    assert set(result["cells"]) == {"feat3_samp5", "feat5_samp5"}
    assert result["mse"] == min(result["cells"].values())
    assert result["trees"] == 6
    test = read_table(store, space.processed("testing"))
    model = joblib.load(io.BytesIO(store.get_bytes(model_key)))
    preds = predict_levels(model, test, target="change", indicators=())
    recomputed = mse(test["TYPPRICE_TARGET"].to_numpy(), preds["TYPPRICE_TARGET"].to_numpy())
    scored = done["predict"]["result"]
    assert scored["mse"] == recomputed == float(store.get_text(space.stock_mse()))
    persistence = mse(test["TYPPRICE_TARGET"].to_numpy(), test["TYPPRICE"].to_numpy())
    assert scored["persistence_mse"] == persistence
    assert scored["ratio"] == pytest.approx(recomputed / persistence)
    # The grid search and the forecast as the grid pipeline stores them (plots, reports).
    assert store.exists(space.cell_mse(3, 5)) and store.exists(space.best_params())
    assert store.exists(space.final_preds(0)) and store.exists(space.final_mse())
    summary = metrics.lambda_handler({"store": store_url, "run_id": "ps"})["result"]
    assert summary["stocks"] == 1 and summary["average_mse"] == recomputed
    assert summary["average_ratio"] == pytest.approx(recomputed / persistence)


def test_refit_uses_training_and_validation(local_store: str) -> None:
    """The original refit on training + training (a bug); ours on training + validation."""
    done = run_stock(local_store)
    store = open_storage(local_store)
    space = StockSpace("RELIANCE", "parquet", prefix=RunLayout("ps").stock_prefix("RELIANCE"))
    train = read_table(store, space.processed("training"))
    valid = read_table(store, space.processed("validation"))
    result = done["modeling"]["result"]
    assert result["train_rows"] == len(train)
    assert result["refit_rows"] == len(train) + len(valid) != 2 * len(train)
    refit = modeling.refit_rows(train, valid)
    pd.testing.assert_frame_equal(refit, pd.concat([train, valid]))
    assert refit.index.is_unique  # no row twice, as training + training had


def test_same_event_same_model(local_store: str, tmp_path: Path, raw_dir: Path) -> None:
    first = run_stock(local_store)
    other = str(tmp_path / "other")
    store = open_storage(other)
    name = raw_file_name("RELIANCE")
    store.put_bytes(f"raw/{name}", (raw_dir / name).read_bytes())
    second = run_stock(other)
    assert (
        first["modeling"]["result"]["model_sha256"] == second["modeling"]["result"]["model_sha256"]
    )
    assert first["predict"]["result"]["mse"] == second["predict"]["result"]["mse"]


# --------------------------------------------------------------------------- bad events


RAW = raw_file_name("A")
MODEL, PREDICT, PROCESS = modeling.lambda_handler, predict.lambda_handler, processing.lambda_handler
BAD_EVENTS = [
    (MODEL, {"bucket": BUCKET}, "stock: Field required"),
    (MODEL, {"bucket": BUCKET, "stock": "A", "n_estimator": 3}, "n_estimator: unknown field"),
    (MODEL, {"bucket": BUCKET, "stock": "A", "store": "/x"}, "not both"),
    (MODEL, {"bucket": BUCKET, "stock": "../A"}, "stock"),
    (MODEL, {"store": "/x", "stock": "A", "grid": {"max_features": [99]}}, "larger than"),
    (PREDICT, {"stock": "A"}, "missing location"),
    (PROCESS, {"bucket": BUCKET}, "needs 'bucket' and 'file'"),
    (PROCESS, {"bucket": BUCKET, "inbucket": "a", "outbucket": "b", "file": RAW}, "not both"),
    (metrics.lambda_handler, {"bucket": "bad/bucket"}, "bucket"),
]


@pytest.mark.parametrize(("handler", "event", "message"), BAD_EVENTS)
def test_bad_events_are_rejected_before_any_io(
    handler: Any,
    event: dict[str, Any],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BUCKET_ROOT_ENV, str(tmp_path))
    with pytest.raises(InvalidEventError, match=message):
        handler(event)
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere


def test_out_of_order_and_changed_model(local_store: str) -> None:
    base = {"store": local_store, "run_id": "ps", "stock": "RELIANCE"}
    with pytest.raises(MissingOutputError, match="run processing first"):
        modeling.lambda_handler(base)
    processing.lambda_handler(base)
    with pytest.raises(MissingOutputError, match="modeling"):  # its failed receipt: no model
        predict.lambda_handler(base)
    modeling.lambda_handler({**base, "n_estimators": 3})
    store = open_storage(local_store)
    space = StockSpace("RELIANCE", "parquet", prefix=RunLayout("ps").stock_prefix("RELIANCE"))
    before = store.get_bytes(space.processed("testing"))
    store.put_bytes(space.stock_model(), store.get_bytes(space.stock_model()) + b"x")
    with pytest.raises(IntegrityError, match="does not match"):
        predict.lambda_handler(base)
    assert not store.exists(space.stock_mse())  # nothing scored from a changed model
    assert store.get_bytes(space.processed("testing")) == before


def test_bad_files_fail_clearly_and_store_nothing(
    raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BUCKET_ROOT_ENV, str(tmp_path))
    store = bucket_storage(BUCKET)
    with pytest.raises(ObjectNotFoundError, match=re.escape(f"raw/{raw_file_name('TCS')}")):
        processing.lambda_handler({"bucket": BUCKET, "file": raw_file_name("TCS")})
    store.put_bytes(f"raw/{raw_file_name('TCS')}", b"date,TYPPRICE\n")  # a header, no rows
    with pytest.raises(InputDataError, match="no data rows"):
        processing.lambda_handler({"bucket": BUCKET, "file": raw_file_name("TCS")})
    with pytest.raises(InvalidEventError, match="file"):
        processing.lambda_handler({"bucket": BUCKET, "file": "TCS.csv"})
    # Only error receipts were written: no table, no runtime file.
    stored = store.keys()
    assert {k for k in stored if not k.startswith("receipts/")} == {f"raw/{raw_file_name('TCS')}"}
