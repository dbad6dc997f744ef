"""Addresses a browser can load for a run's stored files (plots in the Prefect UI).

An S3 store gives presigned GET URLs (the object stays private; the link expires: at most
seven days, S3's limit for SigV4 links, or sooner with temporary credentials). A local store
has no address a browser on another page may load (``file://`` is blocked from an
``http://`` page), so its files are embedded as ``data:`` URIs, which need no server and
never expire.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import time
from dataclasses import dataclass
from typing import Any

from lambda_functions.storage import S3Storage, Storage

PRESIGN_SECONDS = 7 * 24 * 3600  # S3's longest SigV4 presigned URL


@dataclass(frozen=True)
class Link:
    """A URL for a stored file; ``expires`` (epoch seconds) None when it never does."""

    url: str
    expires: float | None = None

    @property
    def embedded(self) -> bool:
        return self.url.startswith("data:")


def media_type(key: str) -> str:
    """The file's media type from its name (``image/png``, ``image/svg+xml``, ...)."""
    guessed, _ = mimetypes.guess_type(key)
    return guessed or "application/octet-stream"


def data_uri(data: bytes, mime: str) -> str:
    """``data:<mime>;base64,...``."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def browser_link(store: Storage, key: str, expires_in: int = PRESIGN_SECONDS) -> Link:
    """A URL a browser can load for ``key``: presigned on S3, else the file embedded."""
    if isinstance(store, S3Storage):
        url = _presigner().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": store.bucket,
                "Key": store.prefix + key,
                "ResponseContentType": media_type(key),
            },
            ExpiresIn=expires_in,
        )
        return Link(url, time.time() + expires_in)
    return Link(data_uri(store.get_bytes(key), media_type(key)))


def _presigner() -> Any:
    """An S3 client that signs links with SigV4 (endpoint and region from the environment,
    as the store's); made per call, so a changed environment is followed."""
    import boto3
    from botocore.config import Config

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("s3", region_name=region, config=Config(signature_version="s3v4"))


def location(store: Storage, key: str) -> str:
    """Where the file is, for people: a path in a local store, an ``s3://`` URL on S3."""
    return f"{store.url.rstrip('/')}/{key}"
