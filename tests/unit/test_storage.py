"""The storage contract, run against both backends (a local folder and moto S3).

Also covers `open_storage`'s URL forms and the name checks of `lambda_functions.names`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_functions import storage as storage_module
from lambda_functions.errors import (
    GrovesError,
    ObjectNotFoundError,
    StorageError,
    UnsafeNameError,
)
from lambda_functions.names import safe_part, safe_stock
from lambda_functions.storage import LocalStorage, S3Storage, Storage, open_storage

BUCKET = "groves-test"  # created by the ``s3`` fixture


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """An empty store of each backend (S3 under a prefix, to check prefix handling)."""
    if request.param == "local":
        yield LocalStorage(tmp_path / "store")
    else:
        request.getfixturevalue("s3")
        yield S3Storage(BUCKET, "some/prefix")


# --------------------------------------------------------------------------- round trips


def test_bytes_round_trip(store: Storage) -> None:
    data = bytes(range(256)) * 10
    store.put_bytes("a/b/c.bin", data)
    assert store.get_bytes("a/b/c.bin") == data


def test_text_round_trip_is_utf8(store: Storage) -> None:
    store.put_text("t.txt", "M&M ₹ 1234.5\n")
    assert store.get_text("t.txt") == "M&M ₹ 1234.5\n"
    assert store.get_bytes("t.txt") == "M&M ₹ 1234.5\n".encode()


def test_json_round_trip(store: Storage) -> None:
    value = {"b": [1, 2.5, None], "a": {"nested": "x"}, "flag": True}
    store.put_json("j/v.json", value)
    assert store.get_json("j/v.json") == value
    assert json.loads(store.get_bytes("j/v.json")) == value


def test_put_overwrites(store: Storage) -> None:
    store.put_bytes("k", b"old content")
    store.put_bytes("k", b"new")
    assert store.get_bytes("k") == b"new"
    assert store.keys() == ["k"]


def test_empty_object(store: Storage) -> None:
    store.put_bytes("empty", b"")
    assert store.get_bytes("empty") == b""
    info = store.head("empty")
    assert info is not None and info.size == 0


# --------------------------------------------------------------------------- head / exists


def test_head_reports_size_and_etag(store: Storage) -> None:
    store.put_bytes("x/y.csv", b"12345")
    info = store.head("x/y.csv")
    assert info is not None
    assert info.key == "x/y.csv"
    assert info.size == 5
    assert isinstance(info.etag, str) and info.etag
    assert info.last_modified > 0
    store.put_bytes("x/y.csv", b"123456789")
    changed = store.head("x/y.csv")
    assert changed is not None and changed.size == 9 and changed.etag != info.etag


def test_s3_etag_is_content_md5(s3: Any) -> None:
    store = S3Storage(BUCKET)
    store.put_bytes("k", b"hello")
    info = store.head("k")
    assert info is not None and info.etag == hashlib.md5(b"hello").hexdigest()


def test_head_missing_is_none(store: Storage) -> None:
    assert store.head("nope.txt") is None
    assert store.exists("nope.txt") is False
    store.put_bytes("dir/file", b"1")
    assert store.head("dir") is None  # a "folder" is not an object
    assert store.exists("dir/file") is True


# --------------------------------------------------------------------------- list


def test_list_with_prefix_is_sorted(store: Storage) -> None:
    for key in ("b/2", "a/z", "a/b/c", "ab/x", "a/a", "c"):
        store.put_bytes(key, key.encode())
    assert store.keys() == sorted(["b/2", "a/z", "a/b/c", "ab/x", "a/a", "c"])
    assert store.keys("a/") == ["a/a", "a/b/c", "a/z"]
    # A prefix is a string prefix, not a folder: "a" also matches "ab/x" (S3 semantics).
    assert store.keys("a") == ["a/a", "a/b/c", "a/z", "ab/x"]
    assert store.keys("a/b/") == ["a/b/c"]
    assert store.keys("zzz/") == []
    infos = list(store.list("a/"))
    assert [i.key for i in infos] == ["a/a", "a/b/c", "a/z"]
    assert [i.size for i in infos] == [3, 5, 3]


def test_list_of_an_empty_store(store: Storage) -> None:
    assert store.keys() == []
    assert store.keys("raw/") == []


def test_s3_list_stays_inside_the_prefix(s3: Any) -> None:
    outside = S3Storage(BUCKET)
    outside.put_bytes("other/x", b"1")
    outside.put_bytes("some/prefixed", b"1")  # shares the string prefix, not the folder
    inside = S3Storage(BUCKET, "some/prefix")
    inside.put_bytes("k", b"2")
    assert inside.keys() == ["k"]
    assert sorted(outside.keys()) == ["other/x", "some/prefix/k", "some/prefixed"]


# --------------------------------------------------------------------------- delete_prefix


def test_delete_prefix_only_deletes_under_the_prefix(store: Storage) -> None:
    keys = ["runs/a/x", "runs/a/y/z", "runs/ab/x", "runs/b/x", "raw/R.csv"]
    for key in keys:
        store.put_bytes(key, b"1")
    assert store.delete_prefix("runs/a/") == 2
    assert store.keys() == ["raw/R.csv", "runs/ab/x", "runs/b/x"]
    assert store.delete_prefix("runs/nothing/") == 0
    assert store.keys() == ["raw/R.csv", "runs/ab/x", "runs/b/x"]


def test_s3_delete_prefix_does_not_touch_objects_outside_the_store_prefix(s3: Any) -> None:
    outside = S3Storage(BUCKET)
    outside.put_bytes("keep/me", b"1")
    inside = S3Storage(BUCKET, "p")
    inside.put_bytes("x", b"1")
    inside.put_bytes("y/z", b"1")
    assert inside.delete_prefix("") == 2
    assert outside.keys() == ["keep/me"]


def test_local_delete_prefix_never_leaves_the_root(tmp_path: Path) -> None:
    sibling = tmp_path / "sibling"
    sibling.mkdir()
    (sibling / "precious.txt").write_text("keep")
    store = LocalStorage(tmp_path / "store")
    store.put_bytes("a/b", b"1")
    for prefix in ("../sibling/", "../", "a/../../sibling/"):
        with contextlib.suppress(GrovesError):  # rejecting is fine; deleting outside is not
            store.delete_prefix(prefix)
    assert (sibling / "precious.txt").read_text() == "keep"
    assert store.keys() == ["a/b"]


# --------------------------------------------------------------------------- errors


def test_missing_key_raises_the_shared_error(store: Storage) -> None:
    with pytest.raises(ObjectNotFoundError) as info:
        store.get_bytes("missing/key.csv")
    error = info.value
    assert isinstance(error, StorageError) and isinstance(error, KeyError)
    assert error.key == "missing/key.csv"
    assert "missing/key.csv" in str(error) and "not found" in str(error)
    with pytest.raises(ObjectNotFoundError):
        store.get_text("missing/key.csv")
    with pytest.raises(ObjectNotFoundError):
        store.get_json("missing/key.csv")
    with pytest.raises(ObjectNotFoundError):
        store.open_read("missing/key.csv")


@pytest.mark.parametrize("key", ["../x", "/abs", "a//b", "a/../b", "", "a/./b", "a/"])
def test_unsafe_keys_are_rejected(store: Storage, key: str) -> None:
    for call in (
        lambda: store.get_bytes(key),
        lambda: store.put_bytes(key, b"1"),
        lambda: store.head(key),
        lambda: store.open_read(key),
    ):
        with pytest.raises(StorageError, match="invalid storage key"):
            call()
    assert store.keys() == []


def test_s3_missing_bucket_says_so(s3: Any) -> None:
    store = S3Storage("no-such-bucket-here")
    calls = {
        "get": lambda: store.get_bytes("k"),
        "put": lambda: store.put_bytes("k", b"1"),
        "list": lambda: store.keys(),
        "open_read": lambda: store.open_read("k"),
        "delete_prefix": lambda: store.delete_prefix("x/"),
    }
    for name, call in calls.items():
        with pytest.raises(StorageError, match="does not exist") as info:
            call()
        assert not isinstance(info.value, ObjectNotFoundError), name
        assert "no-such-bucket-here" in str(info.value), name


# --------------------------------------------------------------------------- streaming


def test_open_read_streams_in_chunks(store: Storage) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    store.put_bytes("big.bin", data)
    chunks = []
    with store.open_read("big.bin") as stream:
        assert stream.readable()
        while chunk := stream.read(64 * 1024):
            assert len(chunk) <= 64 * 1024
            chunks.append(chunk)
    assert len(chunks) > 1
    assert b"".join(chunks) == data


def test_open_read_partial_reads(store: Storage) -> None:
    store.put_bytes("s.txt", b"0123456789")
    with store.open_read("s.txt") as stream:
        assert stream.read(3) == b"012"
        assert stream.read(4) == b"3456"
        assert stream.read() == b"789"
        assert stream.read() == b""


# --------------------------------------------------------------------------- local atomicity


def _stray_files(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.is_file() and p.name.startswith(".")]


def test_local_put_leaves_no_temp_file(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "store")
    store.put_bytes("a/b.csv", b"x" * 10_000)
    store.put_bytes("a/b.csv", b"y" * 10)
    assert _stray_files(tmp_path) == []
    assert sorted(p.name for p in (tmp_path / "store" / "a").iterdir()) == ["b.csv"]


def test_local_failed_write_keeps_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStorage(tmp_path / "store")
    store.put_bytes("a/b.csv", b"old content")

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(storage_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        store.put_bytes("a/b.csv", b"new content that never lands")
    monkeypatch.undo()
    assert store.get_bytes("a/b.csv") == b"old content"
    assert _stray_files(tmp_path) == []
    assert store.keys() == ["a/b.csv"]


def test_local_failed_first_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStorage(tmp_path / "store")

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError("simulated crash")

    monkeypatch.setattr(storage_module.os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.put_bytes("new/key.bin", b"data")
    monkeypatch.undo()
    assert store.keys() == []
    assert store.head("new/key.bin") is None
    assert _stray_files(tmp_path) == []


def test_local_list_hides_in_flight_temp_files(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "store")
    store.put_bytes("a/b.csv", b"1")
    (tmp_path / "store" / "a" / ".b.csv.abc123.tmp").write_bytes(b"partial")
    assert store.keys() == ["a/b.csv"]


# --------------------------------------------------------------------------- open_storage


def test_open_storage_s3_url() -> None:
    store = open_storage("s3://my-bucket/some/prefix/")
    assert isinstance(store, S3Storage)
    assert store.bucket == "my-bucket"
    assert store.prefix == "some/prefix/"
    assert store.url == "s3://my-bucket/some/prefix"
    bare = open_storage("s3://my-bucket")
    assert isinstance(bare, S3Storage) and bare.bucket == "my-bucket" and bare.prefix == ""


def test_open_storage_file_url_and_plain_path(tmp_path: Path) -> None:
    by_url = open_storage(f"file://{tmp_path}/x")
    assert isinstance(by_url, LocalStorage) and by_url.root == (tmp_path / "x").resolve()
    by_path = open_storage(str(tmp_path / "y"))
    assert isinstance(by_path, LocalStorage) and by_path.root == (tmp_path / "y").resolve()
    by_pathlike = open_storage(tmp_path / "z")
    assert isinstance(by_pathlike, LocalStorage) and by_pathlike.root == tmp_path / "z"
    relative = open_storage("relative/folder")
    assert isinstance(relative, LocalStorage)
    assert relative.root == (Path.cwd() / "relative" / "folder").resolve()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://x", "unsupported store URL"),
        ("http://example.com/b", "unsupported store URL"),
        ("s3://", "has no bucket"),
        ("s3:///prefix", "has no bucket"),
        ("", "empty store URL"),
    ],
)
def test_open_storage_rejects_bad_urls(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        open_storage(url)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "../x",
        "a/b",
        "/abs",
        "",
        "a\\b",
        "TC\x00S",
        "TC\nS",
        "TCS\x7f",
        "T CS",
        " TCS",
        "NIFTY 50",
        "-TCS",
        ".hidden",
        5,
        None,
    ],
)
def test_safe_stock_rejects(name: Any) -> None:
    with pytest.raises(UnsafeNameError):
        safe_stock(name)


@pytest.mark.parametrize("name", ["RELIANCE", "M&M", "BAJAJ-AUTO", "MCDOWELL-N", "tcs", "A1"])
def test_safe_stock_accepts(name: str) -> None:
    assert safe_stock(name) == name


@pytest.mark.parametrize(
    "name", ["..", "a..b", "../x", "a/b", "", "a\tb", "x\x00", "a b", " x", ".x", "-x", "a&b", 1]
)
def test_safe_part_rejects(name: Any) -> None:
    with pytest.raises(UnsafeNameError):
        safe_part(name, "run id")


@pytest.mark.parametrize("name", ["default", "run-1", "run_2023.05", "a=b", "ds5110s3"])
def test_safe_part_accepts(name: str) -> None:
    assert safe_part(name) == name


def test_unsafe_name_errors_say_what_is_wrong() -> None:
    with pytest.raises(UnsafeNameError, match=re.escape("'..'")):
        safe_stock("../etc")
    with pytest.raises(UnsafeNameError, match="empty"):
        safe_part("", "run id")
    with pytest.raises(UnsafeNameError, match="control characters"):
        safe_stock("TCS\x01")
    with pytest.raises(UnsafeNameError, match="spaces are not supported"):
        safe_stock("NIFTY BANK")


# --------------------------------------------------------------------------- shared fixtures


def test_store_url_fixture_holds_the_raw_files(
    store_url: str, raw_dir: Path, store_keys: Any, store_snapshot: Any
) -> None:
    assert store_url.startswith("s3://groves-test/prefix") or Path(store_url).is_dir()
    names = sorted(p.name for p in raw_dir.glob("*_minute_data_with_indicators.csv"))
    assert names == [
        "RELIANCE_minute_data_with_indicators.csv",
        "TCS_minute_data_with_indicators.csv",
    ]
    assert store_keys(store_url) == [f"raw/{name}" for name in names]
    contents = store_snapshot(store_url, "raw/")
    assert contents == {f"raw/{name}": (raw_dir / name).read_bytes() for name in names}
    assert len(contents["raw/RELIANCE_minute_data_with_indicators.csv"].splitlines()) == 1 + 4 * 375
