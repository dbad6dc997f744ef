"""What every handler shares: resolve the event's stores, time the work, write the receipt.

A handler validates its event, then calls `run_worker` with a plain work function. The
receipt is written last, so a receipt's presence means the outputs are complete. A failing
work function leaves an error receipt, then the exception propagates (Lambda reports it).
"""

from __future__ import annotations

import hashlib
import resource
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_functions.events import BaseEvent, parse_event
from lambda_functions.layout import RunLayout, StockSpace, invocation_unit
from lambda_functions.storage import MeteredStorage, bucket_storage, open_storage

_COLD = True
RUN_LEVEL_FUNCTIONS = ("timingmetrics", "clearbuckets")


def _code_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


CODE_VERSION = _code_version()
"""A hash of the worker code: part of every receipt, and of the orchestrator's cache keys."""


@dataclass
class WorkContext:
    """What a work function gets: its event, its stores and where its outputs go."""

    function: str
    event: BaseEvent
    layout: RunLayout
    store: MeteredStorage  # the stock's space (seed: its bucket) or the run's root
    space: StockSpace | None = None
    raw_store: MeteredStorage | None = None
    runtime_dirs: list[str] = field(default_factory=list)  # seed mode: runtimes/*.txt
    runtime_suffix: str = ""
    extra_read_s: float = 0.0
    extra_bytes_read: int = 0
    outputs: dict[str, str] = field(default_factory=dict)  # key -> sha256 (models)

    def metered(self) -> list[MeteredStorage]:
        stores = [self.store]
        if self.raw_store is not None and self.raw_store is not self.store:
            stores.append(self.raw_store)
        return stores


def stock_context(function: str, event: Any, *, stock: str) -> WorkContext:
    """Resolve a stock-level event into its stores and key layout."""
    if event.seed_mode:
        store = MeteredStorage(bucket_storage(event.bucket))
        layout = RunLayout(seed_mode=True)
    else:
        store = MeteredStorage(open_storage(event.store))
        layout = RunLayout(seed_mode=False, root=store.inner, run_id=event.run_id)
    space = StockSpace(store, stock, event.fmt, prefix=layout.stock_prefix(stock))
    return WorkContext(function, event, layout, store, space=space)


def run_worker(
    function: str,
    model: type[BaseEvent],
    work: Callable[[WorkContext], dict[str, Any]],
    raw_event: Any,
    context: Any = None,
    *,
    resolve: Callable[[str, Any], WorkContext] | None = None,
) -> dict[str, Any]:
    """Validate, resolve, run ``work`` and write the invocation's receipt.

    Returns:
        The receipt (also written to the store).
    """
    global _COLD
    event = parse_event(model, raw_event)  # nothing is read or written before this passes
    cold, _COLD = _COLD, False
    _reset_peak_rss()
    start = time.time()
    clock = time.perf_counter()
    if resolve is not None:
        ctx = resolve(function, event)
    else:
        ctx = stock_context(function, event, stock=event.stock)  # type: ignore[attr-defined]
    unit = invocation_unit(
        function,
        getattr(event, "feat", None),
        getattr(event, "samp", None),
        getattr(event, "pred_num", None),
    )
    stock = getattr(event, "stock", None) or getattr(event, "stock_name", None)
    receipt: dict[str, Any] = {
        "function": function,
        "unit": unit,
        "stock": stock,
        "run_id": None if ctx.layout.seed_mode else event.run_id,
        "event": event.model_dump(mode="json", exclude_none=True),
        "fingerprint": event.fingerprint(),
        "code_version": CODE_VERSION,
        "attempt": event.attempt,
        "request_id": getattr(context, "aws_request_id", None) or str(uuid.uuid4()),
        "cold_start": cold,
        "memory_limit_mb": _memory_limit(context),
        "start": start,
    }
    status, error, error_type, result = "ok", None, None, {}
    try:
        result = work(ctx)
    except Exception as exc:
        status, error, error_type = "error", str(exc) or type(exc).__name__, type(exc).__name__
        receipt["traceback"] = traceback.format_exc(limit=8)[-4000:]
        raise_after: Exception | None = exc
    else:
        raise_after = None
    elapsed = time.perf_counter() - clock
    read_s = sum(s.read_s for s in ctx.metered()) + ctx.extra_read_s
    write_s = sum(s.write_s for s in ctx.metered())
    first_write = start + (elapsed - write_s)  # approximate for error receipts
    if status == "ok" and ctx.layout.seed_mode:
        _write_seed_runtimes(ctx, elapsed - read_s - write_s, read_s, first_write)
    receipt.update(
        end=time.time(),
        read_ms=round(read_s * 1000, 3),
        write_ms=round(write_s * 1000, 3),
        compute_ms=round(max(elapsed - read_s - write_s, 0.0) * 1000, 3),
        bytes_read=sum(s.bytes_read for s in ctx.metered()) + ctx.extra_bytes_read,
        bytes_written=sum(s.bytes_written for s in ctx.metered()),
        peak_rss_mb=_peak_rss_mb(),
        status=status,
        error=error,
        error_type=error_type,
        outputs=ctx.outputs,
        result=result,
    )
    run_level = function in RUN_LEVEL_FUNCTIONS
    owner = None if run_level or ctx.layout.seed_mode else stock
    receipt_key = ctx.layout.receipt_key(function, owner, function if run_level else unit)
    try:
        ctx.store.inner.put_json(receipt_key, receipt)
    except Exception:
        if raise_after is None:
            raise
    if raise_after is not None:
        raise raise_after
    return receipt


def _write_seed_runtimes(ctx: WorkContext, compute_s: float, read_s: float, start_w: float) -> None:
    for directory in ctx.runtime_dirs:
        sfx = ctx.runtime_suffix
        ctx.store.inner.put_text(f"{directory}compute{sfx}.txt", f"{compute_s}")
        ctx.store.inner.put_text(f"{directory}reads3{sfx}.txt", f"{read_s}")
        ctx.store.inner.put_text(f"{directory}startwrites3{sfx}.txt", f"{start_w}")


def _memory_limit(context: Any) -> int | None:
    value = getattr(context, "memory_limit_in_mb", None)
    return int(value) if value is not None else None


def _reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS mark so a warm process reports this invocation's peak."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
