"""Receipts: the one record every invocation writes last, and everyone else reads.

A worker writes its `Receipt` after all its outputs, so a receipt's presence means the
outputs are complete. The orchestrator awaits receipts, resumes from them and caches on
them; timing tables, the timing report, the cost model and the planner are computed from
them alone. `parse_receipt` is the only way in: a receipt of an unknown schema version or
a malformed one raises `ReceiptError` with what to do, never a ``KeyError`` later.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lambda_functions.errors import ReceiptError

SCHEMA_VERSION = 1
STARTED_SUFFIX = ".started"
"""A start marker is ``<receipt key>.started``: written first by a worker that runs under a
Lambda runtime (an invocation context), so the orchestrator can tell an event still
waiting in Lambda's queue from one that is running."""
"""The receipt schema this code writes and reads. Receipts written before the field
existed (groves 0.1) have the same fields and count as version 1."""


class Timed:
    """Durations from an invocation's times: of a `Receipt`, and of the report's slim copy
    (`groves.reporting.timings.InvocationTiming`)."""

    __slots__ = ()
    if TYPE_CHECKING:  # what the properties read (not fields of the pydantic model)
        start: float
        end: float
        invoked_at: float
        compute_ms: float
        read_ms: float
        write_ms: float

    @property
    def latency_s(self) -> float:
        """From invoke to start (0 when the invoke time is unknown)."""
        return self.start - self.invoked_at

    @property
    def duration_s(self) -> float:
        """``end - start``, what Lambda bills (never negative)."""
        return max(self.end - self.start, 0.0)

    @property
    def compute_s(self) -> float:
        return self.compute_ms / 1000

    @property
    def io_s(self) -> float:
        """Read plus write time, in seconds."""
        return (self.read_ms + self.write_ms) / 1000


class Receipt(Timed, BaseModel):
    """What one invocation did: its event, timings, sizes, outcome and result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = SCHEMA_VERSION
    function: str
    unit: str
    stock: str | None = None
    run_id: str | None = None
    event: dict[str, Any]
    fingerprint: str
    code_version: str
    attempt: int = Field(ge=1)
    request_id: str
    cold_start: bool
    memory_limit_mb: int | None = None
    start: float  # epoch seconds
    end: float
    read_ms: float = Field(ge=0)
    compute_ms: float = Field(ge=0)
    write_ms: float = Field(ge=0)
    bytes_read: int = Field(ge=0)
    bytes_written: int = Field(ge=0)
    peak_rss_mb: float | None = None
    status: Literal["ok", "error"]
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    outputs: dict[str, str] = Field(default_factory=dict)  # key -> SHA-256 (saved models)
    result: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def invoked_at(self) -> float:
        """When the orchestrator sent the invocation (its ``start`` if unknown or later)."""
        sent = self.event.get("invoked_at")
        return min(float(sent), self.start) if sent is not None else self.start

    def to_json(self) -> bytes:
        return json.dumps(self.model_dump(), indent=1, sort_keys=True, default=_plain).encode()


def _plain(value: Any) -> Any:
    """JSON for what ``json`` does not know (numpy scalars in results, say)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def parse_receipt(data: bytes | str | dict[str, Any], where: str = "receipt") -> Receipt:
    """Validate stored receipt bytes (or a decoded dict) into a `Receipt`.

    Raises:
        ReceiptError: not JSON, an unknown schema version, or a missing or bad field;
            the message names ``where`` and the field.
    """
    if isinstance(data, dict):
        raw = data
    else:
        try:  # the common case, parsed and validated in one pass (pydantic-core)
            receipt = Receipt.model_validate_json(data)
        except ValidationError:
            pass  # not JSON, another schema, a bad field: below, for the message
        else:
            if receipt.schema_version == SCHEMA_VERSION:
                return receipt
        try:
            raw = json.loads(data)
        except ValueError as exc:
            raise ReceiptError(
                f"{where} is not JSON ({exc}); delete it (the invocation then runs again)"
            ) from None
    if not isinstance(raw, dict):
        raise ReceiptError(f"{where} is not a JSON object; delete it and rerun")
    version = raw.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ReceiptError(
            f"{where} has receipt schema version {version!r}; this groves reads version "
            f"{SCHEMA_VERSION}: run the orchestrator and the workers from the same groves "
            "release, or rerun the run with --refresh"
        )
    try:
        return Receipt.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'receipt'}: {e['msg']}" for e in exc.errors()
        )
        raise ReceiptError(f"{where} is malformed ({problems}); delete it and rerun") from None
