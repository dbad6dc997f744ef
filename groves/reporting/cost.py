"""What a run costs on AWS Lambda, and what the same work costs on one VM.

Prices are named constants (AWS us-east-1, 2024 price list). Lambda bills GB-seconds
(memory x duration, the duration rounded up to 1 ms) and requests; S3 requests are
estimated per invocation from its stage's `Stage.s3_requests` (plus its receipt: one PUT,
and one GET when the orchestrator reads it; the seed layout adds three runtime ``.txt``
files per runtime folder; LISTs made while awaiting receipts depend on polling, not on
the work, and are not counted). The VM comparison runs the same sequential work on one
`VM_NAME` with all its vCPUs busy, billed per second (60 s minimum).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lambda_functions.receipts import Receipt
from lambda_functions.stages import STAGES

if TYPE_CHECKING:
    from groves.reporting.timings import InvocationTiming

PRICES_AS_OF = "AWS us-east-1, as of 2024 price list"
LAMBDA_GB_SECOND_USD = 0.0000166667  # x86_64
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
LAMBDA_BILLING_MS = 1  # billed duration is rounded up to this granularity
S3_PUT_USD = 0.005 / 1000  # PUT, COPY, POST, LIST
S3_GET_USD = 0.0004 / 1000  # GET, SELECT and HEAD
VM_NAME = "c5.xlarge"
VM_VCPUS = 4
VM_HOURLY_USD = 0.17  # on demand, Linux
VM_MIN_BILLED_S = 60  # per-second billing with a one-minute minimum
DEFAULT_MEMORY_MB = 3008  # the seed's Lambda memory (FACTS.md)
MB_PER_GB = 1024
SEED_RUNTIME_FILES = 3  # compute, reads3, startwrites3 per runtime folder


def s3_requests(receipt: Receipt) -> tuple[int, int]:
    """Estimated S3 (PUT-class, GET-class) requests of one invocation (see module doc)."""
    stage = STAGES.get(receipt.function)
    puts, gets, runtime_dirs = stage.s3_requests(receipt.event) if stage else (0, 0, 0)
    if receipt.event.get("bucket") or receipt.event.get("inbucket"):  # the seed's layout
        puts += SEED_RUNTIME_FILES * runtime_dirs
    return puts + 1, gets + 1  # the receipt


def billed_ms(receipt: InvocationTiming) -> int:
    """Lambda's billed duration: ``end - start`` rounded up to `LAMBDA_BILLING_MS`."""
    ms = receipt.duration_s * 1000
    return math.ceil(round(ms, 6) / LAMBDA_BILLING_MS) * LAMBDA_BILLING_MS


def memory_to_bill(receipt: InvocationTiming, memory_mb: int | None) -> int:
    """The memory to bill: ``memory_mb`` if given, else the receipt's, else the seed's."""
    return int(memory_mb or receipt.memory_limit_mb or DEFAULT_MEMORY_MB)


def lambda_cost(
    receipts: Sequence[InvocationTiming], memory_mb: int | None = None
) -> dict[str, Any]:
    """Lambda compute, request and S3 request charges of some successful invocations."""
    billed = [billed_ms(r) for r in receipts]
    gb_s = sum(
        memory_to_bill(r, memory_mb) / MB_PER_GB * ms / 1000
        for r, ms in zip(receipts, billed, strict=True)
    )
    puts = sum(r.s3_puts for r in receipts)
    gets = sum(r.s3_gets for r in receipts)
    compute_usd = gb_s * LAMBDA_GB_SECOND_USD
    request_usd = len(receipts) * LAMBDA_REQUEST_USD
    s3_usd = puts * S3_PUT_USD + gets * S3_GET_USD
    return {
        "invocations": len(receipts),
        "billed_s": sum(billed) / 1000,
        "gb_s": gb_s,
        "compute_usd": compute_usd,
        "request_usd": request_usd,
        "s3_put": puts,
        "s3_get": gets,
        "s3_usd": s3_usd,
        "total_usd": compute_usd + request_usd + s3_usd,
    }


def vm_cost(sequential_s: float, vcpus: int = VM_VCPUS, hourly_usd: float = VM_HOURLY_USD) -> dict:
    """The same work on one VM: sequential seconds spread over its vCPUs, billed per second."""
    wall = sequential_s / vcpus
    billed = max(math.ceil(round(wall, 6)), VM_MIN_BILLED_S) if sequential_s > 0 else 0
    return {
        "name": VM_NAME,
        "vcpus": vcpus,
        "hourly_usd": hourly_usd,
        "sequential_s": sequential_s,
        "wall_s": wall,
        "billed_s": billed,
        "total_usd": billed * hourly_usd / 3600,
    }


def cost_estimate(
    receipts: Sequence[InvocationTiming], stages: Sequence[str], memory_mb: int | None = None
) -> dict[str, Any]:
    """Per-stage and total Lambda cost, the one-VM cost of the same work, and the prices.

    Args:
        receipts: Successful invocations of ``stages``.
        stages: The pipeline's stage names.
        memory_mb: Lambda memory to bill at (default: each receipt's, else 3008 MB).
    """
    per_stage = {s: lambda_cost([r for r in receipts if r.function == s], memory_mb)
                 for s in stages}  # fmt: skip
    total = lambda_cost(receipts, memory_mb)
    vm = vm_cost(sum(r.duration_s for r in receipts))
    return {
        "prices": {
            "as_of": PRICES_AS_OF,
            "lambda_gb_second_usd": LAMBDA_GB_SECOND_USD,
            "lambda_request_usd": LAMBDA_REQUEST_USD,
            "lambda_billing_ms": LAMBDA_BILLING_MS,
            "s3_put_usd": S3_PUT_USD,
            "s3_get_usd": S3_GET_USD,
            "vm": f"{VM_NAME} ({VM_VCPUS} vCPU) ${VM_HOURLY_USD}/h",
        },
        "memory_mb": memory_mb,
        "lambda": {"stages": per_stage, "total": total},
        "vm": vm,
        "lambda_over_vm": total["total_usd"] / vm["total_usd"] if vm["total_usd"] else None,
    }
