"""The seed's five timing tables, computed from receipts alone.

Each receipt gives an invocation's ``invoked_at`` (when the orchestrator sent it, if
known), ``start`` and ``end`` (epoch seconds) and its read / compute / write durations.
Within an invocation the phases run in the order read, compute, write.

Tables (rows: the six stages and ``total``; columns Invocation, Computation, I/O; ms):

* ``actual``: measured. Each stage's wall-clock window, from its first invoke to its last
  end, is partitioned instant by instant: Computation while any of its invocations
  computes, else I/O while any reads or writes, else Invocation (sent, not yet running, or
  between invocations). The row sums to the stage's makespan; ``total`` is the same
  partition over the whole run's window (stages overlap when stocks advance independently).
* ``fullparallel``: every invocation at once, unthrottled: per stage the dispatch span
  (first to last invoke), the longest computation and the longest I/O; ``total`` sums the
  stages (they depend on each other).
* ``sequential``: one worker running everything in turn: the dispatch span, and the sums
  of computation and of I/O over all invocations; ``total`` sums the stages.
* ``instancecompute``: per stage, the invocation with the longest computation: its
  invocation latency (start - invoked_at), computation and I/O; ``total`` sums the rows.
* ``instanceio``: the same for the invocation with the longest I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

STAGES = ("processing", "parampreds", "predmses", "minmse", "trainfull", "testfull")
COLUMNS = ("Invocation", "Computation", "I/O")
TABLES = ("actual", "fullparallel", "sequential", "instancecompute", "instanceio")


def _intervals(r: dict[str, Any]) -> tuple[float, float, float, float, float]:
    """(invoked, start, read_end, compute_end, end) in epoch seconds."""
    start, end = float(r["start"]), float(r["end"])
    invoked = float(r.get("event", {}).get("invoked_at") or start)
    read_end = min(start + r["read_ms"] / 1000, end)
    compute_end = min(read_end + r["compute_ms"] / 1000, end)
    return min(invoked, start), start, read_end, compute_end, end


def partition_window(receipts: Sequence[dict[str, Any]]) -> tuple[float, float, float]:
    """Split the receipts' joint window into (invocation, computation, io) seconds."""
    if not receipts:
        return 0.0, 0.0, 0.0
    spans = [_intervals(r) for r in receipts]
    points = sorted({t for s in spans for t in s})
    compute = np.zeros(len(points) - 1, dtype=bool)
    io = np.zeros(len(points) - 1, dtype=bool)
    edges = np.asarray(points)
    lefts = edges[:-1]
    for _invoked, start, read_end, compute_end, end in spans:
        compute |= (lefts >= read_end) & (lefts < compute_end)
        io |= ((lefts >= start) & (lefts < read_end)) | ((lefts >= compute_end) & (lefts < end))
    widths = np.diff(edges)
    c = float(widths[compute].sum())
    i = float(widths[io & ~compute].sum())
    return float(widths.sum()) - c - i, c, i


def _latency(r: dict[str, Any]) -> float:
    invoked = r.get("event", {}).get("invoked_at")
    return max(float(r["start"]) - float(invoked), 0.0) if invoked else 0.0


def _io(r: dict[str, Any]) -> float:
    return (r["read_ms"] + r["write_ms"]) / 1000


def _dispatch_span(rs: Sequence[dict[str, Any]]) -> float:
    sent = [float(r["event"]["invoked_at"]) for r in rs if r.get("event", {}).get("invoked_at")]
    return max(sent) - min(sent) if sent else 0.0


def by_stage(receipts: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Successful receipts grouped by stage (failed attempts do not count as work done)."""
    groups: dict[str, list[dict[str, Any]]] = {s: [] for s in STAGES}
    for r in receipts:
        if r.get("status") == "ok" and r.get("function") in groups:
            groups[r["function"]].append(r)
    return groups


def timing_tables(receipts: Iterable[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """The five tables (in milliseconds), keyed by name (``actual``, ``sequential``, ...)."""
    receipts = list(receipts)
    groups = by_stage(receipts)
    rows: dict[str, dict[str, tuple[float, float, float]]] = {t: {} for t in TABLES}
    for stage, rs in groups.items():
        if not rs:
            for t in TABLES:
                rows[t][stage] = (0.0, 0.0, 0.0)
            continue
        span = _dispatch_span(rs)
        rows["actual"][stage] = partition_window(rs)
        rows["fullparallel"][stage] = (
            span,
            max(r["compute_ms"] for r in rs) / 1000,
            max(_io(r) for r in rs),
        )
        rows["sequential"][stage] = (
            span,
            sum(r["compute_ms"] for r in rs) / 1000,
            sum(_io(r) for r in rs),
        )
        top_c = max(rs, key=lambda r: r["compute_ms"])
        top_io = max(rs, key=_io)
        rows["instancecompute"][stage] = (_latency(top_c), top_c["compute_ms"] / 1000, _io(top_c))
        rows["instanceio"][stage] = (_latency(top_io), top_io["compute_ms"] / 1000, _io(top_io))
    tables = {}
    everything = [r for rs in groups.values() for r in rs]
    for name, stage_rows in rows.items():
        frame = pd.DataFrame.from_dict(stage_rows, orient="index", columns=list(COLUMNS)) * 1000
        if name == "actual":
            frame.loc["total"] = np.asarray(partition_window(everything)) * 1000
        else:
            frame.loc["total"] = frame.sum(axis=0)
        tables[name] = frame
    return tables


def table_file_name(name: str) -> str:
    """The seed's file name of a table, e.g. ``actualtimingmetrics.csv``."""
    return f"{name}timingmetrics.csv"
