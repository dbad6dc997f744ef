"""What every handler shares: resolve the event's stores, time the work, write the receipt.

A handler calls `run_worker` with its stage's name and a plain work function. The event is
validated into the stage's model (`lambda_functions.stages`) before anything is read. The
receipt is written last, so a receipt's presence means the outputs are complete. A failing
work function leaves an error receipt, then the exception propagates (Lambda reports it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import resource
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_functions.events import BaseEvent, parse_event
from lambda_functions.layout import Layout, RunLayout, SeedLayout, StockSpace
from lambda_functions.receipts import STARTED_SUFFIX, Receipt
from lambda_functions.seed_buckets import groves_store
from lambda_functions.stages import Stage, stage
from lambda_functions.storage import MeteredStorage, Storage, bucket_storage, open_storage

_COLD = True
logger = logging.getLogger(__name__)


def _code_version() -> str:
    """A hash of every Python file of the worker package, subpackages included."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


CODE_VERSION = _code_version()
"""A hash of the worker code: part of every receipt, and of the orchestrator's cache keys."""


@dataclass
class WorkContext:
    """What a work function gets: its event, its stores and where its outputs go."""

    stage: Stage
    event: Any  # the stage's event model
    layout: Layout
    store: MeteredStorage  # the stock's space (seed: its bucket) or the run's root
    space: StockSpace | None = None
    raw_store: MeteredStorage | None = None
    extra_read_s: float = 0.0
    extra_bytes_read: int = 0
    outputs: dict[str, str] = field(default_factory=dict)  # key -> sha256 (models)

    def metered(self) -> list[MeteredStorage]:
        stores = [self.store]
        if self.raw_store is not None and self.raw_store is not self.store:
            stores.append(self.raw_store)
        return stores


Resolver = Callable[[Stage, Any], WorkContext]


def stock_context(
    stage: Stage, event: Any, seed_layout: Callable[[], Layout] = SeedLayout
) -> WorkContext:
    """Resolve a stock-level event into its stores and key layout (``seed_layout``: the
    original's key layout for its literal events)."""
    layout: Layout
    if event.seed_mode:
        store = MeteredStorage(bucket_storage(event.bucket))
        layout = seed_layout()
    else:
        store = MeteredStorage(open_storage(event.store))
        layout = RunLayout(event.run_id)
    stock = event.stock_name
    space = StockSpace(stock, event.fmt, prefix=layout.stock_prefix(stock))
    return WorkContext(stage, event, layout, store, space=space)


def run_worker(
    name: str,
    work: Callable[[WorkContext], dict[str, Any]],
    raw_event: Any,
    context: Any = None,
    *,
    resolve: Resolver = stock_context,
) -> dict[str, Any]:
    """Validate, resolve, run ``work`` and write the invocation's receipt.

    Returns:
        The receipt as a JSON-able dict (also written to the store).
    """
    global _COLD
    spec = stage(name)
    event: BaseEvent = parse_event(spec.event_model, raw_event)  # before any I/O
    cold, _COLD = _COLD, False
    _reset_peak_rss()
    start = time.time()
    clock = time.perf_counter()
    ctx = resolve(spec, event)
    stock = event.stock_name
    unit = spec.unit_of(event)
    owner = stock if spec.scope == "stock" else None
    main = event.mainbucket  # seed layout driven by groves: receipts in the main bucket
    layout = RunLayout(event.run_id) if main else ctx.layout
    key = layout.receipt_key(spec.name, owner, unit, outlives_run=spec.deletes_run)
    receipt_store = groves_store(main) if main else ctx.store.inner
    if context is not None:  # a Lambda runtime (or the local endpoint): say it started
        _mark_started(receipt_store, key, event, context, start)
    status, error, error_type, trace, result = "ok", None, None, None, {}
    raise_after: Exception | None = None
    try:
        result = work(ctx)
    except Exception as exc:
        status, error, error_type = "error", str(exc) or type(exc).__name__, type(exc).__name__
        trace = traceback.format_exc(limit=8)[-4000:]
        raise_after = exc
    elapsed = time.perf_counter() - clock
    read_s = sum(s.read_s for s in ctx.metered()) + ctx.extra_read_s
    write_s = sum(s.write_s for s in ctx.metered())
    compute_s = max(elapsed - read_s - write_s, 0.0)
    if status == "ok" and ctx.layout.seed_mode and spec.seed_runtimes and ctx.space:
        first_write = start + (elapsed - write_s)
        _write_seed_runtimes(ctx, compute_s, read_s, first_write)
    receipt = Receipt(
        function=spec.name,
        unit=unit,
        stock=stock,
        run_id=event.run_id if main else ctx.layout.run_id,
        event=event.model_dump(mode="json", exclude_none=True),
        fingerprint=event.fingerprint(),
        code_version=CODE_VERSION,
        attempt=event.attempt,
        request_id=getattr(context, "aws_request_id", None) or str(uuid.uuid4()),
        cold_start=cold,
        memory_limit_mb=_memory_limit(context),
        start=start,
        end=time.time(),
        read_ms=round(read_s * 1000, 3),
        write_ms=round(write_s * 1000, 3),
        compute_ms=round(compute_s * 1000, 3),
        bytes_read=sum(s.bytes_read for s in ctx.metered()) + ctx.extra_bytes_read,
        bytes_written=sum(s.bytes_written for s in ctx.metered()),
        peak_rss_mb=_peak_rss_mb(),
        status=status,
        error=error,
        error_type=error_type,
        traceback=trace,
        outputs=ctx.outputs,
        result=result,
    )
    try:
        receipt_store.put_bytes(key, receipt.to_json())
    except Exception:
        if raise_after is None:
            raise
    if raise_after is not None:
        raise raise_after
    return receipt.model_dump(mode="json")


def _mark_started(store: Storage, key: str, event: Any, context: Any, start: float) -> None:
    """Write the start marker beside the receipt (not metered; a failure is only logged:
    the receipt still tells the outcome, the marker only how long to wait for it)."""
    marker = {
        "attempt": event.attempt,
        "request_id": getattr(context, "aws_request_id", None),
        "start": start,
    }
    try:
        store.put_bytes(key + STARTED_SUFFIX, json.dumps(marker).encode())
    except Exception as exc:
        logger.warning("could not write the start marker %s: %s", key + STARTED_SUFFIX, exc)


def _write_seed_runtimes(ctx: WorkContext, compute_s: float, read_s: float, start_w: float) -> None:
    """The original's runtime files of this invocation (seed layout only), in its units:
    durations in milliseconds (``compute``, ``reads3``, ``writes3``), the write start
    (``startwrites3``) in epoch milliseconds. A stage with `Stage.seed_writes3` writes the
    write duration (``writes3``) instead of the write start, as the original predmses did."""
    assert ctx.stage.seed_runtimes is not None and ctx.space is not None
    folders, sfx = ctx.stage.seed_runtimes(ctx.space, ctx.event)
    for folder in folders:
        ctx.store.inner.put_text(f"{folder}compute{sfx}.txt", f"{compute_s * 1000}")
        ctx.store.inner.put_text(f"{folder}reads3{sfx}.txt", f"{read_s * 1000}")
        if ctx.stage.seed_writes3:
            # The runtime files are written after the outputs: time the first one's write.
            write_ms = ctx.store.write_s * 1000
            ctx.store.inner.put_text(f"{folder}writes3{sfx}.txt", f"{write_ms}")
        else:
            ctx.store.inner.put_text(f"{folder}startwrites3{sfx}.txt", f"{start_w * 1000}")


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
