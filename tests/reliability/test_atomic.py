"""Atomic and idempotent outputs.

* No reader ever sees a half-written object: local writes go to a temporary file renamed
  into place; an S3 write is a single PUT (never multipart).
* Running an invocation again, or twice at once, writes byte-identical outputs.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from lambda_functions.errors import ObjectNotFoundError
from lambda_functions.storage import Storage, open_storage
from tests.reliability.conftest import (
    STORE,
    chain_events,
    outputs_except_receipts,
    run_chain,
)
from tests.reliability.s3proxy import S3FaultProxy


def hammer(store: Storage, key: str, versions: list[bytes], writes: int) -> Counter[str]:
    """Write ``versions`` in turn ``writes`` times while 3 threads read ``key`` and list its
    folder; return what the readers saw (each read must be one whole version)."""
    seen: Counter[str] = Counter()
    problems: list[str] = []
    done = threading.Event()
    folder = key.rsplit("/", 1)[0] + "/"

    def read() -> None:
        while not done.is_set():
            try:
                data = store.get_bytes(key)
            except ObjectNotFoundError:
                seen["absent"] += 1
                continue
            if data in versions:
                seen[f"v{versions.index(data)}"] += 1
            else:
                problems.append(f"partial read: {len(data)} bytes")
            listed = [i.key for i in store.list(folder)]
            if listed != [key]:
                problems.append(f"listing shows {listed}")

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for n in range(writes):
            store.put_bytes(key, versions[n % len(versions)])
            time.sleep(0.01)
    finally:
        done.set()
        for thread in readers:
            thread.join()
    assert problems == []
    return seen


def test_local_readers_never_see_a_partial_object(tmp_path: Path) -> None:
    store = open_storage(str(tmp_path / "store"))
    size = 24 << 20  # large enough that a write takes many reader rounds
    versions = [bytes([65 + i]) * size for i in range(3)]
    seen = hammer(store, "runs/r/stocks/X/big.bin", versions, writes=12)
    assert sum(v for k, v in seen.items() if k != "absent") >= 12  # readers really read
    assert not list((tmp_path / "store" / "runs/r/stocks/X").glob(".*.tmp"))


def test_s3_writes_are_one_put_and_readers_see_whole_objects(
    bucket: str, s3_proxy: S3FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_proxy.url)
    s3_proxy.reset()
    store = open_storage(STORE)
    size = 12 << 20  # above boto3's 8 MiB multipart threshold for upload_file
    versions = [bytes([97 + i]) * size for i in range(2)]
    seen = hammer(store, "runs/atomic/big.bin", versions, writes=4)
    assert seen["v0"] + seen["v1"] >= 4
    puts = s3_proxy.entries("PutObject", "runs/atomic/big.bin")
    assert [(p.status, p.size) for p in puts] == [(200, size)] * 4  # one PUT per write
    assert s3_proxy.entries("Multipart") == []
    open_storage(STORE).delete_prefix("runs/atomic/")


def test_rerunning_and_double_delivering_write_identical_bytes(local_store: str) -> None:
    url = local_store
    first = run_chain(url, "idem")
    assert all(r["status"] == "ok" for r in first)
    outputs = outputs_except_receipts(url, "idem")
    assert len(outputs) == 13  # 3 tables, 2 cells x (preds, mse), best, 2 x (model, preds), mse

    # Run every invocation again: same bytes, and the receipts are replaced, not added.
    receipts = open_storage(url).keys("runs/idem/receipts/")
    again = run_chain(url, "idem")
    assert outputs_except_receipts(url, "idem") == outputs
    assert open_storage(url).keys("runs/idem/receipts/") == receipts
    assert [r["fingerprint"] for r in again] == [r["fingerprint"] for r in first]

    # Deliver every event twice at once (two threads), stage by stage: same bytes again.
    events = chain_events(url, "idem")
    for stage in dict.fromkeys(stage for stage, _ in events):
        handler = importlib.import_module(f"lambda_functions.{stage}").lambda_handler
        threads = [
            threading.Thread(target=handler, args=(event,))
            for name, event in events
            if name == stage
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert outputs_except_receipts(url, "idem") == outputs
    ok = [open_storage(url).get_json(k)["status"] for k in receipts]
    assert ok == ["ok"] * len(receipts)
