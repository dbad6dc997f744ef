"""The original's buckets for a whole run (``groves run --layout seed``).

A main bucket (default ``ds5110s3``) holds the raw files (``raw/``), the original's
``runtimes/invoke_{type}.txt`` and ``timingmetrics/``; each stock has a bucket of its own,
named by a pattern (default ``{stock}-ds5110s3bucket``, the stock in lower case: real
bucket names are global, so the pattern is configurable). The workers get the original's
literal events (plus the run's options) and write exactly the original's tree.

groves keeps what it needs besides (receipts, the run's configuration and summary, the
timing report) in the main bucket under ``groves/``, a prefix the original's code never
reads, laid out as a run store (`lambda_functions.layout.RunLayout`): the orchestrator
awaits, caches and reports from it as in the run layout.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from lambda_functions.errors import InvalidEventError
from lambda_functions.layout import SEED_BUCKET_SUFFIX, SEED_MAIN_BUCKET
from lambda_functions.names import safe_stock
from lambda_functions.storage import BUCKET_ROOT_ENV, S3Storage, Storage, open_storage

GROVES_PREFIX = "groves"  # in the main bucket: groves' own files (the original never reads it)
DEFAULT_PATTERN = "{stock}" + SEED_BUCKET_SUFFIX
INVOKE_FOLDER = "runtimes/"
# The groves outputs of a stock bucket (its whole original tree); clearing removes these.
STOCK_OUTPUT_PREFIXES = ("processed/", "models/")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def check_bucket_name(name: str) -> str:
    """``name`` if it is a valid S3 bucket name (general purpose buckets), else raise.

    Raises:
        InvalidEventError: naming the rule it breaks.
    """
    problem = None
    if not _BUCKET.match(name):
        problem = (
            "3 to 63 characters of lower-case letters, digits, '.' and '-', starting and "
            "ending with a letter or digit"
        )
    elif ".." in name or ".-" in name or "-." in name:
        problem = "no '..', '.-' or '-.'"
    elif _IP.match(name):
        problem = "not formatted as an IP address"
    elif name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3")):
        problem = "no reserved prefix (xn--, sthree-) or suffix (-s3alias, --ol-s3)"
    if problem:
        raise InvalidEventError(f"{name!r} is not a valid S3 bucket name: {problem}")
    return name


@dataclass(frozen=True)
class SeedBuckets:
    """The main bucket and the stock buckets' name pattern of a seed-layout run."""

    main: str = SEED_MAIN_BUCKET
    pattern: str = DEFAULT_PATTERN

    def __post_init__(self) -> None:
        check_bucket_name(self.main)
        if self.pattern.count("{stock}") != 1 or re.search(r"{(?!stock})", self.pattern):
            raise InvalidEventError(
                f"bucket pattern {self.pattern!r} must hold {{stock}} exactly once "
                "(e.g. {stock}-ds5110s3bucket or myteam-{stock}-groves)"
            )
        example = self.pattern.replace("{stock}", "abc")
        try:
            check_bucket_name(example)
        except InvalidEventError as exc:
            raise InvalidEventError(
                f"bucket pattern {self.pattern!r} does not give valid S3 bucket names (e.g. {exc})"
            ) from None

    def stock_bucket(self, stock: str) -> str:
        """The stock's bucket: the pattern with the stock's key in lower case."""
        name = self.pattern.replace("{stock}", safe_stock(stock).lower())
        try:
            return check_bucket_name(name)
        except InvalidEventError as exc:
            raise InvalidEventError(
                f"stock {stock!r} has no valid bucket name under the pattern "
                f"{self.pattern!r}: {exc}"
            ) from None

    def groves_store(self) -> Storage:
        """groves' own files in the main bucket (``groves/``)."""
        return groves_store(self.main)

    def main_store(self) -> Storage:
        return bucket_store(self.main)

    def stock_fields(self, stage: str, stock: str, raw_file: str) -> dict[str, Any]:
        """The original's literal location fields of one stage's event for ``stock``
        (``raw_file`` relative to ``raw/``), and where groves keeps its receipts."""
        bucket = self.stock_bucket(stock)
        if stage == "processing":
            fields: dict[str, Any] = {"inbucket": self.main, "outbucket": bucket, "file": raw_file}
        else:
            fields = {"bucket": bucket}
        return {**fields, "stock": stock, "mainbucket": self.main}

    def run_fields(self) -> dict[str, Any]:
        """The location fields of a run-level event (timingmetrics)."""
        return {"inbucket": self.main, "mainbucket": self.main}


def bucket_store(bucket: str, prefix: str = "") -> Storage:
    """A bucket (or a prefix in it): S3, or a folder under ``$GROVES_BUCKET_ROOT``."""
    root = os.environ.get(BUCKET_ROOT_ENV)
    if root:
        path = f"{root.rstrip('/')}/{bucket}" + (f"/{prefix}" if prefix else "")
        return open_storage(path)
    return S3Storage(bucket, prefix)


def groves_store(main: str) -> Storage:
    """groves' own files of a seed-layout run: ``groves/`` in the main bucket."""
    return bucket_store(main, GROVES_PREFIX)


def invoke_key(stage: str) -> str:
    """The original parent's invoke time of a stage (ms), in the main bucket."""
    return f"{INVOKE_FOLDER}invoke_{stage}.txt"
