"""What the timing report reads of a receipt, as a slim record.

A `Receipt` in memory is ~5 KB (its event and result dicts, every key a string of its
own); the report reads a dozen numbers of it. A run of 990 stocks has 68,310 receipts:
held whole they would be ~450 MB of the orchestrator's memory at the end of the run, as
`InvocationTiming` records ~20 MB. `groves.reporting.stored.load_timings` reduces each
receipt as it is read.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from groves.reporting.cost import s3_requests
from lambda_functions.receipts import Receipt, Timed


@dataclass(frozen=True, slots=True)
class InvocationTiming(Timed):
    """One invocation's timings, sizes and estimated S3 requests (see `Receipt`)."""

    function: str
    ok: bool
    invoked_at: float  # epoch seconds: sent (its start if unknown or later)
    start: float
    end: float
    compute_ms: float
    read_ms: float
    write_ms: float
    cold_start: bool
    bytes_read: int
    bytes_written: int
    memory_limit_mb: int | None
    s3_puts: int
    s3_gets: int

    @classmethod
    def of(cls, receipt: Receipt | InvocationTiming) -> InvocationTiming:
        if isinstance(receipt, InvocationTiming):
            return receipt
        puts, gets = s3_requests(receipt)
        copied = {name: getattr(receipt, name) for name in _COPIED}
        return cls(function=sys.intern(receipt.function), s3_puts=puts, s3_gets=gets, **copied)


_COPIED = tuple(
    name
    for name in InvocationTiming.__dataclass_fields__
    if name not in ("function", "s3_puts", "s3_gets")
)
