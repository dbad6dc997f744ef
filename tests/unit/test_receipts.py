"""Receipts: parsing (the one way in, with clear errors) and reading a run's receipts back
whole or as the timing report's slim records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from groves.reporting import stored
from groves.reporting.report import build_report
from groves.reporting.timings import InvocationTiming
from lambda_functions.errors import ReceiptError
from lambda_functions.layout import RunLayout
from lambda_functions.receipts import Receipt, parse_receipt
from lambda_functions.stages import GRID
from lambda_functions.storage import LocalStorage, S3Storage, Storage
from tests.receipts import make_receipt

BUCKET = "groves-test"  # created by the ``s3`` fixture
WHERE = "s3://b/runs/r/receipts/parampreds/TCS/feat5_samp5_g0.json"


def a_receipt(**fields: Any) -> Receipt:
    event = {"stock": "TCS", "feat": 5, "samp": 5, "pred_num": 0, "invoked_at": 99.5}
    values: dict[str, Any] = {
        "function": "parampreds",
        "event": event,
        "start": 100.0,
        "end": 102.25,
        "read_ms": 12.5,
        "compute_ms": 2000.0,
        "write_ms": 7.5,
        "bytes_read": 1234,
        "bytes_written": 567,
        "memory_limit_mb": 3008,
        "result": {"mse": 1.5},
        "outputs": {"runs/r/x.joblib": "ab" * 32},
    }
    return make_receipt(**{**values, **fields})


def test_a_stored_receipt_reads_back_equal() -> None:
    receipt = a_receipt()
    assert parse_receipt(receipt.to_json(), WHERE) == receipt
    assert parse_receipt(receipt.to_json().decode(), WHERE) == receipt
    assert parse_receipt(json.loads(receipt.to_json()), WHERE) == receipt


def _stored(**changes: Any) -> bytes:
    raw = json.loads(a_receipt().to_json())
    raw.update(changes)
    return json.dumps({k: v for k, v in raw.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "is not JSON"),
        (b"[1, 2]", "is not a JSON object"),
        (_stored(schema_version=2, new_field=1), "has receipt schema version 2; this groves "
         "reads version 1: run the orchestrator and the workers from the same groves release"),
        (_stored(schema_version=2), "receipt schema version 2"),
        (_stored(fingerprint=...), r"is malformed \(fingerprint: Field required\)"),
        (_stored(compute_ms=-1), r"is malformed \(compute_ms: Input should be greater"),
        (_stored(status="maybe"), r"is malformed \(status: Input should be 'ok' or 'error'"),
        (_stored(surprise=1), r"is malformed \(surprise: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_a_bad_receipt_is_a_clear_error_naming_it(data: bytes, message: str) -> None:
    with pytest.raises(ReceiptError, match=message) as info:
        parse_receipt(data, WHERE)
    assert str(info.value).startswith(WHERE)
    assert "delete it" in str(info.value) or "--refresh" in str(info.value)


def test_the_slim_record_keeps_what_the_report_reads() -> None:
    receipt = a_receipt(cold_start=True)
    timing = InvocationTiming.of(receipt)
    for name in ("function", "ok", "invoked_at", "start", "end", "cold_start", "bytes_read",
                 "bytes_written", "memory_limit_mb", "latency_s", "duration_s", "compute_s",
                 "io_s"):  # fmt: skip
        assert getattr(timing, name) == getattr(receipt, name), name
    assert (timing.invoked_at, timing.latency_s, timing.duration_s) == (99.5, 0.5, 2.25)
    assert timing.io_s == pytest.approx(0.02)
    # PUTs: predictions, receipt; GETs: training and validation splits, receipt
    assert (timing.s3_puts, timing.s3_gets) == (2, 3)
    assert InvocationTiming.of(timing) is timing


def _write_run(store: Storage, count: int) -> list[Receipt]:
    layout = RunLayout("r")
    receipts = []
    for n in range(count):
        stage = GRID.names[n % len(GRID.names)]
        receipt = a_receipt(
            start=100.0 + n, end=101.5 + n * 1.01, cold_start=n % 7 == 0, status="ok"
        ).model_copy(update={"function": stage, "unit": f"u{n:03d}"})
        store.put_bytes(f"{layout.receipts_prefix()}{stage}/TCS/u{n:03d}.json", receipt.to_json())
        receipts.append(receipt)
    store.put_text(f"{layout.receipts_prefix()}notes.txt", "not a receipt")
    return receipts


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_a_run_reads_back_whole_and_slim_with_the_same_report(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if kind == "local":
        store: Storage = LocalStorage(tmp_path / "store")
    else:  # past 64 receipts S3 reads run concurrently, here in batches of 50
        request.getfixturevalue("s3")
        store = S3Storage(BUCKET, "data")
        monkeypatch.setattr(stored, "READ_BATCH", 50)
    written = _write_run(store, 130)
    layout = RunLayout("r")
    whole = stored.load_receipts(store, layout)
    slim = stored.load_timings(store, layout)
    assert sorted(whole, key=lambda r: (r.function, r.unit)) == sorted(
        written, key=lambda r: (r.function, r.unit)
    )
    assert slim == [InvocationTiming.of(r) for r in whole]
    report = build_report(slim, GRID.names, workers=3)
    assert report == build_report(whole, GRID.names, workers=3)
    assert report["receipts"] == 130
