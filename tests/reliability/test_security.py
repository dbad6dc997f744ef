"""Security: no credential in any receipt, object or log; models verified before loading;
`clear` never deletes raw input; unsafe names stop at the edge.

The SAM template's IAM scope (S3 rights on the project bucket only) is checked in
tests/deployments/test_template.py (test_iam_is_least_privilege and
test_worker_role_grants_exactly_the_store_queue_and_logs).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
from typer.testing import CliRunner

from lambda_functions import clearbuckets
from lambda_functions.errors import IntegrityError, InvalidEventError, StorageError
from lambda_functions.models import load_model
from lambda_functions.storage import open_storage
from lambda_functions.tables import read_table
from tests.reliability.conftest import (
    FAKE_KEY_ID,
    FAKE_SECRET,
    LOGS,
    STORE,
    Reference,
    prefect_api_records,
    run_chain,
)

SECRETS = (FAKE_KEY_ID, FAKE_SECRET)


def leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        return [s for s in SECRETS if s.encode() in text]
    return [s for s in SECRETS if s in text]


@pytest.mark.slow
def test_no_credential_reaches_a_receipt_an_object_or_a_log(
    reference: Reference, monkeypatch: pytest.MonkeyPatch, moto_server: str
) -> None:
    # The clean reference run ran with these fake keys in the orchestrator and in every
    # worker. Nothing stored in the bucket (receipts, tables, reports, config, summary)...
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    store = open_storage(STORE)
    keys = store.keys("")
    assert any("/receipts/" in k for k in keys)
    assert [k for k in keys if leaks(store.get_bytes(k))] == []
    # ... nor the logs written here at INFO (Prefect's at DEBUG) by it and by every other
    # flow run of these tests so far (the fault runs log errors and stack traces) ...
    assert len(reference.logs) > 10
    assert [line for line in [*reference.logs, *LOGS] if leaks(line)] == []
    # ... nor what the Prefect API recorded: flow-run parameters and every log line, in the
    # process that made the reference (maybe another xdist worker) and in this one.
    assert any("'run_id': 'clean'" in record for record in reference.api_records)
    assert len(reference.api_records) > 10
    here = prefect_api_records()
    assert [record for record in [*reference.api_records, *here] if leaks(record)] == []


# --------------------------------------------------------------------------- models


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, raw_dir: Path) -> dict[str, Any]:
    """A local store after the small run's workers ran (in this process)."""
    root = tmp_path_factory.mktemp("models") / "store"
    (root / "raw").mkdir(parents=True)
    for path in raw_dir.glob("*.csv"):
        (root / "raw" / path.name).write_bytes(path.read_bytes())
    receipts = run_chain(str(root), "sec")
    trainfull = [r for r in receipts if r["function"] == "trainfull"]
    return {"url": str(root), "receipts": trainfull}


class _Boom:
    """Unpickling this creates a file: proof that a pickle was (or was not) loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (open, (self.path, "w"))


def test_a_model_loads_when_its_sha256_matches_the_receipt(trained: dict[str, Any]) -> None:
    store = open_storage(trained["url"])
    receipt = trained["receipts"][0]
    [(key, digest)] = receipt["outputs"].items()
    assert digest == receipt["result"]["model_sha256"]
    model = load_model(store, key, digest)
    test = read_table(store, "runs/sec/stocks/TCS/processed/testing/TCS.parquet")
    features = [c for c in test.columns if c.startswith("TYPPRICE_LAG_")]
    assert len(model.predict(test[features].to_numpy())) == len(test)
    assert isinstance(test, pd.DataFrame)


@pytest.mark.parametrize("tamper", ["flip-a-byte", "other-model", "malicious-pickle"])
def test_a_tampered_model_is_refused_before_unpickling(
    trained: dict[str, Any], tmp_path: Path, tamper: str
) -> None:
    store = open_storage(trained["url"])
    [(key, digest)] = trained["receipts"][0]["outputs"].items()
    [(other_key, _)] = trained["receipts"][1]["outputs"].items()
    original = store.get_bytes(key)
    marker = tmp_path / "unpickled"
    if tamper == "flip-a-byte":
        blob = original[:-1] + bytes([original[-1] ^ 1])
    elif tamper == "other-model":
        blob = store.get_bytes(other_key)  # a valid model, but not this one
    else:
        blob = pickle.dumps(_Boom(str(marker)))
        joblib.load(io.BytesIO(pickle.dumps(_Boom(str(tmp_path / "control")))))
        assert (tmp_path / "control").exists()  # loading it unchecked would run code
    store.put_bytes(key, blob)
    try:
        with pytest.raises(IntegrityError, match="does not match the receipt's") as info:
            load_model(store, key, digest)
        assert hashlib.sha256(blob).hexdigest() in str(info.value)
        assert "rerun trainfull" in str(info.value)
        assert not marker.exists()
    finally:
        store.put_bytes(key, original)


def test_a_malformed_expected_digest_is_refused(trained: dict[str, Any]) -> None:
    store = open_storage(trained["url"])
    [(key, _)] = trained["receipts"][0]["outputs"].items()
    for bad in ("", "abc", "z" * 64, None):
        with pytest.raises(IntegrityError, match="not 64 hex digits"):
            load_model(store, key, bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- clear


def test_clear_deletes_one_run_and_never_raw_input(local_store: str) -> None:
    from groves.cli import app

    store = open_storage(local_store)
    raw = {k: store.get_bytes(k) for k in store.keys("raw/")}
    for run in ("a", "b", "raw"):
        store.put_text(f"runs/{run}/stocks/TCS/x.csv", run)
    runner = CliRunner()
    result = runner.invoke(app, ["clear", "a", "--data", local_store, "--yes"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["clear", "raw", "--data", local_store, "--yes"])
    assert result.exit_code == 0, result.output  # a run named "raw": runs/raw/ only
    for bad in ("..", "../raw", "runs/../raw", ""):
        result = runner.invoke(app, ["clear", bad, "--data", local_store, "--yes"])
        assert result.exit_code != 0
        assert "run id" in result.output or "run_id" in result.output, result.output
    result = runner.invoke(app, ["clear", "b", "--data", local_store])
    assert result.exit_code == 1 and "refusing to delete without --yes" in result.output
    assert {k: store.get_bytes(k) for k in store.keys("raw/")} == raw
    # Nothing is left of a cleared run; the receipts of the clearing are beside the runs.
    assert store.keys("runs/") == ["runs/b/stocks/TCS/x.csv"]
    assert store.keys("receipts/") == [
        "receipts/clearbuckets/a.json",
        "receipts/clearbuckets/raw.json",
    ]


def test_clear_in_seed_mode_refuses_the_raw_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROVES_BUCKET_ROOT", str(tmp_path))
    raw = open_storage(str(tmp_path / "ds5110s3"))
    raw.put_text("raw/TCS_minute_data_with_indicators.csv", "date,TYPPRICE\n")
    stock = open_storage(str(tmp_path / "tcs-ds5110s3bucket"))
    stock.put_text("processed/training/TCS.csv", "x")
    with pytest.raises(InvalidEventError, match="never the raw input"):
        clearbuckets.lambda_handler({"confirm": True, "buckets": ["ds5110s3"]})
    with pytest.raises(InvalidEventError, match="confirm"):
        clearbuckets.lambda_handler({"buckets": ["tcs-ds5110s3bucket"]})
    receipt = clearbuckets.lambda_handler({"confirm": True})  # every stock bucket, only
    assert receipt["result"]["deleted"] == {"tcs-ds5110s3bucket": 1}
    assert raw.keys("raw/") == ["raw/TCS_minute_data_with_indicators.csv"]


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "key", ["../raw/x.csv", "runs/../../etc/passwd", "/abs", "runs//x", "runs/./x", ""]
)
def test_the_store_refuses_keys_that_escape_it(local_store: str, key: str) -> None:
    store = open_storage(local_store)
    before = sorted(p for p in Path(local_store).parent.rglob("*"))
    with pytest.raises(StorageError, match="invalid storage key"):
        store.put_bytes(key, b"x")
    with pytest.raises(StorageError, match="invalid storage key"):
        store.get_bytes(key)
    assert sorted(p for p in Path(local_store).parent.rglob("*")) == before
    assert os.path.exists(local_store)
