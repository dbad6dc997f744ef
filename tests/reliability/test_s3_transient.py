"""Transient S3 errors: every store operation succeeds through botocore's standard retries
when the first requests of each kind answer 503 SlowDown or 500 InternalError.

(The fault matrix repeats this end to end: test_faults.py runs a whole pipeline with every
20th S3 request of each kind answering 503.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from lambda_functions.storage import open_storage
from tests.reliability.conftest import BUCKET
from tests.reliability.s3proxy import S3FaultProxy

KINDS = ("PutObject", "GetObject", "HeadObject", "ListObjectsV2", "DeleteObjects")


@pytest.mark.parametrize("status", [503, 500])
def test_every_store_operation_survives_transient_errors(
    bucket: str,
    moto_server: str,
    s3_proxy: S3FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
) -> None:
    prefix = f"data/transient{status}/"
    direct = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    direct.put_object(Bucket=BUCKET, Key=f"{prefix}existing.txt", Body=b"kept")
    direct.put_object(Bucket=BUCKET, Key=f"{prefix}doomed/a.txt", Body=b"a")
    direct.put_object(Bucket=BUCKET, Key=f"{prefix}doomed/b.txt", Body=b"b")

    s3_proxy.reset()
    for kind in KINDS:
        s3_proxy.add(kind, status, key="", times=2)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_proxy.url)
    store = open_storage(f"s3://{BUCKET}/data/transient{status}")
    results: dict[str, Any] = {}
    errors: list[BaseException] = []
    operations: dict[str, Callable[[], Any]] = {
        "put": lambda: store.put_bytes("new.txt", b"new"),
        "get": lambda: store.get_bytes("existing.txt"),
        "head": lambda: (store.head("existing.txt"), store.head("missing.txt")),
        "list": lambda: store.keys(""),
        "delete": lambda: store.delete_prefix("doomed/"),
    }

    def run(name: str) -> None:
        try:
            results[name] = operations[name]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in operations]
    for thread in threads:  # in parallel, so the backoff waits overlap
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results["get"] == b"kept"
    existing, missing = results["head"]
    assert existing is not None and existing.size == 4 and missing is None
    assert "existing.txt" in results["list"]
    assert results["delete"] == 2
    assert direct.get_object(Bucket=BUCKET, Key=f"{prefix}new.txt")["Body"].read() == b"new"
    for kind in KINDS:  # each kind failed twice before it succeeded
        statuses = [e.status for e in s3_proxy.entries(kind)]
        assert statuses[:2] == [status, status], (kind, statuses)
        assert statuses[2] == 200, (kind, statuses)
    s3_proxy.reset()
    open_storage(f"s3://{BUCKET}/data").delete_prefix(f"transient{status}/")
