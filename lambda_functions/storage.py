"""One small storage contract with two backends: a local folder and S3.

Keys are ``/``-separated and relative to the store's root. Every backend raises the
project's `ObjectNotFoundError` for a missing key, and every write is atomic: a local
write goes to a temporary file that is renamed into place, an S3 write is one PUT.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

from lambda_functions.errors import ObjectNotFoundError, StorageError

_UMASK = os.umask(0)
os.umask(_UMASK)

BUCKET_ROOT_ENV = "GROVES_BUCKET_ROOT"
"""Where seed-mode bucket names resolve: unset -> S3; a folder or URL -> ``{root}/{bucket}``."""


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object without reading it."""

    key: str
    size: int
    etag: str
    last_modified: float  # epoch seconds


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"invalid storage key {key!r}: keys are relative, with no '..'")
    return key


class Storage(ABC):
    """Get, put, head, list and delete-prefix over a root; helpers built on top."""

    url: str
    table_compression: str | None = "zstd"
    """Parquet codec for tables written here: zstd makes the fewest bytes, which is what
    counts when every read is a network transfer (S3: ~90 MB/s per connection)."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Return the object's content; raise `ObjectNotFoundError` if absent."""

    @abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """Return a readable binary stream (for large inputs read incrementally)."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key`` atomically (readers see all of it or none)."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """Return the object's info, or None if it does not exist."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix``, in key order."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (a folder-like prefix); return the count."""

    # Helpers shared by every backend.
    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def get_text(self, key: str) -> str:
        return self.get_bytes(key).decode("utf-8")

    def put_text(self, key: str, text: str) -> None:
        self.put_bytes(key, text.encode("utf-8"))

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def put_json(self, key: str, value: Any) -> None:
        self.put_bytes(key, json.dumps(value, indent=1, sort_keys=True, default=str).encode())

    def keys(self, prefix: str = "") -> list[str]:
        return [info.key for info in self.list(prefix)]

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """Up to ``length`` bytes of the object from ``start`` (backends read only those)."""
        with self.open_read(key) as stream:
            skipped = 0
            while skipped < start:
                chunk = stream.read(min(start - skipped, 1 << 20))
                if not chunk:
                    return b""
                skipped += len(chunk)
            return stream.read(length)

    def open_random(self, key: str, size: int) -> RangeFile:
        """A seekable reader of an object of ``size`` bytes that fetches only what is read
        (e.g. a Parquet file's footer and the column chunks a reader asks for)."""
        return RangeFile(self, key, size)


def _local_etag(stat: os.stat_result) -> str:
    """A local file's stand-in for an ETag: it changes when the content is replaced."""
    return f"{stat.st_size:x}-{stat.st_mtime_ns:x}"


class LocalStorage(Storage):
    """A folder on disk standing in for a bucket."""

    # Local disk and page cache deliver bytes far faster than zstd decodes them (~600
    # MB/s per core): uncompressed (still dictionary-encoded) tables read ~2x faster.
    table_compression = None

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def get_bytes(self, key: str) -> bytes:
        try:  # os.path, not pathlib: receipts are read by the ten thousand
            with open(os.path.join(self.url, _check_key(key)), "rb") as handle:
                return handle.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(key, self.url) from None

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFoundError(key, self.url)
        return path.open("rb")

    def read_range(self, key: str, start: int, length: int) -> bytes:
        with self.open_read(key) as handle:
            handle.seek(start)
            return handle.read(length)

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as exc:
            raise StorageError(f"cannot write {key!r} under {self.url}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual mode
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def head(self, key: str) -> ObjectInfo | None:
        try:
            stat = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not self._path(key).is_file():
            return None
        return ObjectInfo(key, stat.st_size, _local_etag(stat), stat.st_mtime)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # Walk only the folder the prefix points into, then filter by the full prefix.
        base = os.path.join(self.url, prefix.rsplit("/", 1)[0]) if "/" in prefix else self.url
        if not os.path.isdir(base):
            return
        skip = len(os.path.join(self.url, ""))  # the root and its separator
        found: list[tuple[str, os.stat_result]] = []
        folders = [base]
        while folders:  # os.scandir: each file's stat comes with the listing
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                        continue
                    if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                        continue  # an in-flight atomic write
                    key = entry.path[skip:].replace(os.sep, "/")
                    if not key.startswith(prefix):
                        continue
                    with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                        if entry.is_file():
                            found.append((key, entry.stat()))
        for key, stat in sorted(found, key=lambda item: item[0]):
            yield ObjectInfo(key, stat.st_size, _local_etag(stat), stat.st_mtime)

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        for info in list(self.list(prefix)):
            with contextlib.suppress(FileNotFoundError):
                self._path(info.key).unlink()
                count += 1
        return count


class S3Storage(Storage):
    """An S3 bucket (optionally under a prefix) through boto3.

    The endpoint comes from boto3's own configuration (``AWS_ENDPOINT_URL`` /
    ``AWS_ENDPOINT_URL_S3``), so AWS, MinIO and moto all work without extra plumbing.
    Transient errors are retried by botocore's ``standard`` retry mode.
    """

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client()
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def _not_found(self, exc: Exception, key: str) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            raise StorageError(
                f"bucket {self.bucket!r} does not exist: create it or fix the store URL"
            ) from exc
        return code in ("NoSuchKey", "404", "NotFound")

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as body:
            return body.read()

    def open_read(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if self._not_found(exc, key):
                raise ObjectNotFoundError(key, self.url) from None
            raise StorageError(f"cannot read {key!r} from {self.url}: {exc}") from exc
        return _StreamingReader(response["Body"])

    def read_range(self, key: str, start: int, length: int) -> bytes:
        from botocore.exceptions import ClientError

        if length <= 0:
            return b""
        byte_range = f"bytes={start}-{start + length - 1}"
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=self._key(key), Range=byte_range
            )
        except ClientError as exc:
            if self._not_found(exc, key):
                raise ObjectNotFoundError(key, self.url) from None
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""  # start is past the end
            raise StorageError(f"cannot read {key!r} from {self.url}: {exc}") from exc
        with contextlib.closing(response["Body"]) as body:
            return body.read()

    def put_bytes(self, key: str, data: bytes) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except ClientError as exc:
            self._not_found(exc, key)
            raise StorageError(f"cannot write {key!r} to {self.url}: {exc}") from exc

    def head(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            response = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if self._not_found(exc, key):
                return None
            raise StorageError(f"cannot head {key!r} in {self.url}: {exc}") from exc
        return ObjectInfo(
            key,
            int(response["ContentLength"]),
            response.get("ETag", "").strip('"'),
            response["LastModified"].timestamp(),
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        from botocore.exceptions import ClientError

        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        item["Key"][len(self.prefix) :],
                        int(item["Size"]),
                        item.get("ETag", "").strip('"'),
                        item["LastModified"].timestamp(),
                    )
        except ClientError as exc:
            self._not_found(exc, prefix)
            raise StorageError(f"cannot list {prefix!r} in {self.url}: {exc}") from exc

    def delete_prefix(self, prefix: str) -> int:
        keys = [self.prefix + info.key for info in self.list(prefix)]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            response = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                raise StorageError(
                    f"could not delete {len(errors)} object(s) under {prefix!r} in {self.url}, "
                    f"e.g. {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )
        return len(keys)


class RangeFile(io.RawIOBase):
    """A seekable, read-only view of one stored object, fetched range by range.

    ``bytes_read`` counts what was fetched; ``reads`` the ranged requests."""

    def __init__(self, store: Storage, key: str, size: int) -> None:
        self._store = store
        self._key = key
        self._size = size
        self._pos = 0
        self.bytes_read = 0
        self.reads = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = self._store.read_range(self._key, self._pos, want)
        buffer[: len(data)] = data
        self._pos += len(data)
        self.bytes_read += len(data)
        self.reads += 1
        return len(data)


class _StreamingReader(io.RawIOBase):
    """Adapts botocore's StreamingBody to a raw stream (so it can be buffered and peeked)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        super().close()


def s3_client() -> Any:
    """A boto3 S3 client with adaptive retries; endpoint and region from the environment."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 8, "mode": "standard"}, max_pool_connections=32)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("s3", region_name=region, config=config)


def open_storage(url: str | os.PathLike[str]) -> Storage:
    """Open a store from ``s3://bucket/prefix``, ``file:///path`` or a plain path."""
    text = os.fspath(url)
    if not text:
        raise StorageError("empty store URL: give s3://bucket/prefix or a folder path")
    parsed = urlparse(text)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise StorageError(f"store URL {text!r} has no bucket: use s3://bucket/prefix")
        return S3Storage(parsed.netloc, parsed.path.lstrip("/"))
    if parsed.scheme == "file":
        return LocalStorage(parsed.path)
    if parsed.scheme and len(parsed.scheme) > 1:
        raise StorageError(f"unsupported store URL {text!r}: use s3://bucket/prefix or a path")
    return LocalStorage(text)


def bucket_storage(bucket: str) -> Storage:
    """The store for a seed-mode bucket name (S3, or a folder under $GROVES_BUCKET_ROOT)."""
    root = os.environ.get(BUCKET_ROOT_ENV)
    if root:
        return open_storage(root.rstrip("/") + "/" + bucket)
    return S3Storage(bucket)


def list_buckets(suffix: str) -> list[str]:
    """Names of the seed-mode buckets ending in ``suffix`` (S3 or $GROVES_BUCKET_ROOT)."""
    root = os.environ.get(BUCKET_ROOT_ENV)
    if root and root.startswith("s3://"):
        parsed = urlparse(root)
        prefix = parsed.path.strip("/") + "/" if parsed.path.strip("/") else ""
        paginator = s3_client().get_paginator("list_objects_v2")
        names = []
        for page in paginator.paginate(Bucket=parsed.netloc, Prefix=prefix, Delimiter="/"):
            for item in page.get("CommonPrefixes", []):
                name = item["Prefix"][len(prefix) :].rstrip("/")
                if name.endswith(suffix):
                    names.append(name)
        return sorted(names)
    if root:
        base = Path(root.removeprefix("file://"))
        if not base.is_dir():
            raise StorageError(f"{BUCKET_ROOT_ENV}={root!r} is not a folder: create it or unset it")
        return sorted(p.name for p in base.iterdir() if p.is_dir() and p.name.endswith(suffix))
    response = s3_client().list_buckets()
    return sorted(b["Name"] for b in response.get("Buckets", []) if b["Name"].endswith(suffix))


class MeteredStorage(Storage):
    """Wraps a store and measures the time and bytes of every read and write."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.url = inner.url
        self.table_compression = inner.table_compression
        self.read_s = 0.0
        self.write_s = 0.0
        self.bytes_read = 0
        self.bytes_written = 0
        self.written: list[str] = []

    def get_bytes(self, key: str) -> bytes:
        start = time.perf_counter()
        try:
            data = self.inner.get_bytes(key)
        finally:
            self.read_s += time.perf_counter() - start
        self.bytes_read += len(data)
        return data

    def open_read(self, key: str) -> BinaryIO:
        return self.inner.open_read(key)  # callers time streamed reads themselves

    def read_range(self, key: str, start: int, length: int) -> bytes:
        return self.inner.read_range(key, start, length)  # as open_read: callers time it

    def put_bytes(self, key: str, data: bytes) -> None:
        start = time.perf_counter()
        try:
            self.inner.put_bytes(key, data)
        finally:
            self.write_s += time.perf_counter() - start
        self.bytes_written += len(data)
        self.written.append(key)

    def head(self, key: str) -> ObjectInfo | None:
        start = time.perf_counter()
        try:
            return self.inner.head(key)
        finally:
            self.read_s += time.perf_counter() - start

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        start = time.perf_counter()
        items = list(self.inner.list(prefix))
        self.read_s += time.perf_counter() - start
        return iter(items)

    def delete_prefix(self, prefix: str) -> int:
        start = time.perf_counter()
        try:
            return self.inner.delete_prefix(prefix)
        finally:
            self.write_s += time.perf_counter() - start
