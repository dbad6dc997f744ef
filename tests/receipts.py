"""Building receipts by hand for tests: only the fields a test cares about."""

from __future__ import annotations

from typing import Any

from lambda_functions.receipts import Receipt

_FILLER: dict[str, Any] = {
    "unit": "u0",
    "stock": "AAA",
    "run_id": "test",
    "event": {},
    "fingerprint": "test",
    "code_version": "test",
    "attempt": 1,
    "request_id": "test",
    "cold_start": False,
    "start": 0.0,
    "end": 0.0,
    "read_ms": 0.0,
    "compute_ms": 0.0,
    "write_ms": 0.0,
    "bytes_read": 0,
    "bytes_written": 0,
    "status": "ok",
}


def make_receipt(**fields: Any) -> Receipt:
    """A valid `Receipt` with ``fields`` set and harmless values everywhere else."""
    return Receipt.model_validate({**_FILLER, **fields})
