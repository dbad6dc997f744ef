"""Capacity planning: project a run's makespan and cost at another scale by simulation.

A `Profile` holds what one measured run (or a user's per-grove times) says about each
stage: per-invocation work (read, compute, write and other seconds), the overhead an
invocation spends on its slot before its own clock starts (process start, imports, a
cold container), and the orchestration's pacing: how far apart stocks start
(``stagger``), how far apart a stage's invocations are sent (``dispatch``) and how long
after a stock's previous stage ends its next stage's first invoke goes out (``gap``).

`simulate` replays the pipeline at a target `Scale`: every stock runs its six stages in
order, a stage's invocations are sent when the stock's previous stage has finished, and
invocations take slots under the concurrency limit first come, first served (greedy list
scheduling: each takes the earliest-free slot; FIFO, so waves form when the limit
binds). It returns synthetic receipts, so `groves.reporting.analysis.build_report` gives the
projected makespan, per-stage statistics and cost with the very same definitions as a
measured run.

Per-invocation times (deterministic):

* ``own``: the target is the measured configuration: each invocation keeps its own
  measured work and overhead (matched by stage, stock order and dispatch order), and
  each stock its measured pacing (its first invoke, each stage's gap and invoke
  offsets), so the replay gives the measured makespan.
* ``sampled``: invocation ``m`` of the ``M`` target invocations of a stage takes the
  measured work at rank ``floor((perm[m] + 0.5) * K / M)`` of the ``K`` measured ones
  sorted by duration (``perm`` a seeded permutation), so the projected distribution is
  the measured one; compute is scaled by the trees (and, given memory, by Lambda's vCPU
  share: 1 vCPU per 1769 MB), I/O by how many groves or cells a stage reads. Overheads
  come from the measured cold (first use of a function on a slot) or warm pool, as the
  simulation finds the slot. Target stock ``i`` is paced like measured stock ``i mod K``
  (its start, repeated a stagger apart per round, and its gaps between stages; invokes a
  median dispatch apart): the gaps of one stock are correlated (a slow poll, a busy
  orchestrator), and medians for every stock would make all stocks collide at once.

Not modelled: the Prefect task-runner's thread cap (64 stage tasks at once) and the
Lambda executor holding its in-flight slots per stage task rather than per invocation.
"""

from __future__ import annotations

import heapq
import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from groves.limits import PerStockFit
from groves.reporting.report import build_report
from groves.reporting.stats import ok_receipts, peak_concurrency
from groves.reporting.stored import load_config, load_receipts
from lambda_functions import defaults
from lambda_functions.errors import GrovesError
from lambda_functions.events import Grid
from lambda_functions.layout import RunLayout
from lambda_functions.receipts import Receipt
from lambda_functions.stages import GRID, Pipeline, Shape, Stage, pipeline
from lambda_functions.storage import Storage

MB_PER_VCPU = 1769  # Lambda: one full vCPU at 1,769 MB, proportionally below and above
MAX_LAMBDA_MB = 10240
SEED_STAGE_SECONDS = {  # per invocation at the seed's scale on Lambda 3008 MB (FACTS.md)
    "processing": 55.0,
    "parampreds": 300.0,
    "predmses": 9.0,
    "minmse": 0.5,
    "trainfull": 110.0,
    "testfull": 12.0,
    # The per-stock pipeline: its modeling estimated by `groves.limits` (no seed run of it
    # at full scale exists: it would not fit Lambda), predict like testfull.
    "modeling": round(PerStockFit(memory_mb=3008).seconds(), 1),
    "predict": 12.0,
}
SEED_DISPATCH_S = 0.031  # the seed's serial invoke loop: ~31 ms per invocation
PLANNED = "planned"  # code version and request id of the planner's receipts
Assign = Literal["auto", "own", "sampled"]


@dataclass(frozen=True)
class Scale:
    """A run's size: what `simulate` projects to, or what a profile was measured at."""

    stocks: int
    cells: int = len(defaults.GRID_MAX_FEATURES) * len(defaults.GRID_MIN_SAMPLES_SPLIT)
    groves: int = defaults.GROVES_PER_CELL
    trees: int = defaults.TREES_PER_GROVE
    final_groves: int = defaults.FINAL_GROVES
    final_trees: int = defaults.FINAL_TREES
    concurrency: int = 1000
    memory_mb: int | None = None  # None: as measured
    pipeline: str = GRID.name

    @property
    def stages(self) -> Pipeline:
        return pipeline(self.pipeline)

    @property
    def shape(self) -> Shape:
        """The run shape: a grid of ``cells`` cells (the planner needs its size only)."""
        grid = Grid(max_features=tuple(range(1, self.cells + 1)), min_samples_split=(2,))
        return Shape(
            grid=grid,
            groves=self.groves,
            trees=self.trees,
            final_groves=self.final_groves,
            final_trees=self.final_trees,
        )

    def per_stock(self) -> dict[str, int]:
        """Invocations of each stage for one stock."""
        return self.stages.invocations_per_stock(self.shape)

    def invocations(self) -> int:
        """Invocations of the whole run."""
        return self.stocks * sum(self.per_stock().values())

    @classmethod
    def from_config(cls, config: Mapping[str, Any], concurrency: int) -> Scale:
        """The scale of a run from its saved ``config.json`` (defaults where absent)."""
        grid = Grid.model_validate(config.get("grid") or {})
        fields = ("groves", "trees", "final_groves", "final_trees", "pipeline")
        return cls(
            stocks=len(config.get("stocks") or ()),
            cells=len(grid.cells),
            concurrency=concurrency,
            **{k: config[k] for k in fields if k in config},
        )


@dataclass(frozen=True)
class Work:
    """One invocation's measured times, in seconds."""

    overhead: float  # on its slot before its clock starts (start - max(invoke, slot free))
    read: float
    compute: float
    write: float
    other: float  # duration not in read / compute / write

    @property
    def duration(self) -> float:
        return self.read + self.compute + self.write + self.other


@dataclass
class Profile:
    """What a measured run (or given per-grove times) says about each stage."""

    scale: Scale
    work: dict[str, list[Work]]  # per stage, by duration
    own: dict[tuple[str, int, int], Work] = field(default_factory=dict)  # (stage, stock, j)
    cold: dict[str, list[float]] = field(default_factory=dict)  # overheads, per stage
    warm: dict[str, list[float]] = field(default_factory=dict)
    stagger_s: float = 0.0
    dispatch_s: dict[str, float] = field(default_factory=dict)
    gap_s: dict[str, float] = field(default_factory=dict)  # medians
    # Each measured stock's pacing: its first invoke (from the run's first), each stage's
    # gap and invoke offsets (from the stage's first invoke). ``own`` replays all of it;
    # ``sampled`` paces target stock i like measured stock i mod K (starts and gaps).
    own_start: list[float] = field(default_factory=list)
    own_gap: dict[tuple[str, int], float] = field(default_factory=dict)
    own_offsets: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    vcpus: float = 1.0  # of the measuring workers (local processes fit single-threaded)
    measured_makespan_s: float | None = None


# ---------------------------------------------------------------------------- profiles


def _median(values: Sequence[float], default: float = 0.0) -> float:
    return float(statistics.median(values)) if values else default


def replay_overheads(receipts: Sequence[Receipt], concurrency: int) -> list[tuple[float, bool]]:
    """Per receipt (in the given order): its slot overhead and whether it was a cold use.

    Replays the receipts first come, first served on ``concurrency`` slots, each taking
    the earliest-free slot (the rule `simulate` uses): the overhead is the time from
    getting a slot (``max(invoked, slot free)``) to the receipt's ``start``; a use is cold
    when that slot had not run the function before.
    """
    order = sorted(range(len(receipts)), key=lambda i: (receipts[i].invoked_at, i))
    free: list[tuple[float, int]] = [(-math.inf, k) for k in range(max(concurrency, 1))]
    seen: list[set[str]] = [set() for _ in free]
    out: list[tuple[float, bool]] = [(0.0, False)] * len(receipts)
    for i in order:
        r = receipts[i]
        slot_free, k = heapq.heappop(free)
        got = max(r.invoked_at, slot_free)
        cold = r.function not in seen[k]
        seen[k].add(r.function)
        out[i] = (max(r.start - got, 0.0), cold)
        heapq.heappush(free, (max(r.end, got), k))
    return out


def profile_from_receipts(
    receipts: Iterable[Receipt],
    scale: Scale,
    *,
    vcpus: float | None = None,
) -> Profile:
    """Measure a profile from a finished run's receipts.

    Args:
        receipts: The run's receipts (only successful pipeline ones count).
        scale: The run's configuration; ``concurrency`` is the limit it ran under.
        vcpus: vCPUs of each measuring worker (default: from the receipts' memory, else 1
            for local single-threaded workers).
    """
    stages = scale.stages.names
    kept = ok_receipts(receipts, stages)
    if not kept:
        raise ValueError("no successful receipts to measure")
    overheads = replay_overheads(kept, scale.concurrency)
    first_invoke: dict[str, float] = {}
    for r in kept:
        stock = r.stock or ""
        first_invoke[stock] = min(first_invoke.get(stock, math.inf), r.invoked_at)
    stocks = sorted(first_invoke, key=lambda s: (first_invoke[s], s))
    stock_index = {s: i for i, s in enumerate(stocks)}
    batches: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(kept):
        batches[(r.function, r.stock or "")].append(i)

    work: dict[str, list[Work]] = {s: [] for s in stages}
    own: dict[tuple[str, int, int], Work] = {}
    cold: dict[str, list[float]] = {s: [] for s in stages}
    warm: dict[str, list[float]] = {s: [] for s in stages}
    dispatch: dict[str, list[float]] = {s: [] for s in stages}
    own_offsets: dict[tuple[str, int], list[float]] = {}
    for (stage, stock), members in batches.items():
        members.sort(key=lambda i: (kept[i].invoked_at, i))
        sent = [kept[i].invoked_at for i in members]
        dispatch[stage] += [b - a for a, b in itertools.pairwise(sent)]
        own_offsets[(stage, stock_index[stock])] = [t - sent[0] for t in sent]
        for j, i in enumerate(members):
            r = kept[i]
            overhead, is_cold = overheads[i]
            read, compute, write = r.read_ms / 1000, r.compute_ms / 1000, r.write_ms / 1000
            w = Work(overhead, read, compute, write, max(r.duration_s - read - compute - write, 0))
            work[stage].append(w)
            own[(stage, stock_index[stock], j)] = w
            (cold if is_cold else warm)[stage].append(overhead)
    gaps: dict[str, list[float]] = {s: [] for s in stages}
    own_gap: dict[tuple[str, int], float] = {}
    for stock in stocks:
        for prev, stage in itertools.pairwise(stages):
            before, after = batches.get((prev, stock)), batches.get((stage, stock))
            if before and after:
                last_end = max(kept[i].end for i in before)
                gap = max(min(kept[i].invoked_at for i in after) - last_end, 0)
                gaps[stage].append(gap)
                own_gap[(stage, stock_index[stock])] = gap
    starts = [first_invoke[s] for s in stocks]
    memory = next((r.memory_limit_mb for r in kept if r.memory_limit_mb), None)
    measured_vcpus = vcpus or (lambda_vcpus(int(memory)) if memory else 1.0)
    return Profile(
        scale=replace(scale, stocks=len(stocks), memory_mb=scale.memory_mb or memory),
        work={s: sorted(ws, key=lambda w: w.duration) for s, ws in work.items()},
        own=own,
        cold=cold,
        warm=warm,
        stagger_s=_median([b - a for a, b in itertools.pairwise(starts)]),
        dispatch_s={s: _median(v) for s, v in dispatch.items()},
        gap_s={s: _median(v) for s, v in gaps.items()},
        own_start=[t - starts[0] for t in starts],
        own_gap=own_gap,
        own_offsets=own_offsets,
        vcpus=measured_vcpus,
        measured_makespan_s=_makespan(kept),
    )


def profile_from_times(
    stage_seconds: Mapping[str, float],
    scale: Scale,
    *,
    dispatch_s: float = SEED_DISPATCH_S,
    gap_s: float = 0.0,
    cold_start_s: float = 0.0,
) -> Profile:
    """A profile from given per-invocation seconds (e.g. per-grove fit times).

    Args:
        stage_seconds: Seconds per invocation of each stage, at ``scale`` (its trees,
            groves and memory); missing stages take `SEED_STAGE_SECONDS`.
        scale: What the times were measured at.
        dispatch_s: Seconds between consecutive invokes of a stage for one stock.
        gap_s: Seconds from a stock's stage end to its next stage's first invoke.
        cold_start_s: Overhead of a slot's first use of a function.
    """
    stages = scale.stages.names
    unknown = set(stage_seconds) - set(stages)
    if unknown:
        raise ValueError(f"unknown stage(s) {sorted(unknown)}; expected some of {list(stages)}")
    seconds = {**SEED_STAGE_SECONDS, **stage_seconds}
    missing = [s for s in stages if s not in seconds]
    if missing:
        raise ValueError(f"give the seconds of stage(s) {missing}: STAGE=SECONDS")
    return Profile(
        scale=scale,
        work={s: [Work(0.0, 0.0, float(seconds[s]), 0.0, 0.0)] for s in stages},
        cold={s: [cold_start_s] for s in stages},
        warm={s: [0.0] for s in stages},
        dispatch_s=dict.fromkeys(stages, dispatch_s),
        gap_s=dict.fromkeys(stages, gap_s),
        vcpus=lambda_vcpus(scale.memory_mb) if scale.memory_mb else 1.0,
    )


def _makespan(receipts: Sequence[Receipt]) -> float:
    """First invoke to last end, unrounded."""
    return max(r.end for r in receipts) - min(r.invoked_at for r in receipts)


def lambda_vcpus(memory_mb: int) -> float:
    """Lambda's vCPU share at a memory size (1 vCPU per 1,769 MB, at most 6)."""
    return min(memory_mb, MAX_LAMBDA_MB) / MB_PER_VCPU


# ---------------------------------------------------------------------------- simulation


def _speed(vcpus: float, stage: Stage) -> float:
    return vcpus if stage.parallel_fit else min(vcpus, 1.0)


def _scaled(work: Work, stage: Stage, profile: Profile, target: Scale) -> Work:
    """Measured work at the target: scaled by the stage's work size and Lambda's vCPUs."""
    (src_compute, src_read), (dst_compute, dst_read) = (
        stage.work(profile.scale.shape),
        stage.work(target.shape),
    )
    compute = work.compute * dst_compute / src_compute
    read = work.read * dst_read / src_read
    if target.memory_mb and target.memory_mb != profile.scale.memory_mb:
        compute *= _speed(profile.vcpus, stage) / _speed(lambda_vcpus(target.memory_mb), stage)
    return replace(work, read=read, compute=compute)


@dataclass(order=True)
class _Event:
    time: float
    seq: int
    stage_index: int = field(compare=False)
    stock: int = field(compare=False)
    unit: int = field(compare=False)


def simulate(
    profile: Profile,
    target: Scale | None = None,
    *,
    assign: Assign = "auto",
    seed: int = 0,
) -> list[Receipt]:
    """Replay the pipeline at ``target`` (default: the profile's own scale).

    Args:
        profile: From `profile_from_receipts` or `profile_from_times`.
        target: The scale to project to.
        assign: ``own`` (each invocation keeps its measured times; the target must be
            the measured configuration), ``sampled`` (see the module docstring) or
            ``auto`` (``own`` when possible).
        seed: Seeds the permutation of sampled times.

    Returns:
        Synthetic receipts (epoch 0 at the first invoke), one per invocation.
    """
    target = target or profile.scale
    stages = target.stages.stages
    names = target.stages.names
    per_stock = target.per_stock()
    assign = resolve_assign(profile, target, assign)
    rng = np.random.default_rng(seed)
    chosen: dict[tuple[str, int, int], Work] = {}
    for spec in stages:
        stage = spec.name
        n = per_stock[stage]
        if assign == "own":
            for i in range(target.stocks):
                for j in range(n):
                    chosen[(stage, i, j)] = profile.own[(stage, i, j)]
            continue
        measured = profile.work.get(stage) or []
        if not measured:
            raise ValueError(f"the profile has no {stage} invocations to sample from")
        total = target.stocks * n
        perm = rng.permutation(total)
        for m in range(total):
            sample = _scaled(measured[_rank(perm[m], total, len(measured))], spec, profile, target)
            chosen[(stage, m // n, m % n)] = sample
    # Pacing: stock i like measured stock i mod K (``own``: i itself), starts repeating a
    # stagger apart per round of K; the medians where no stock was measured.
    measured_stocks = len(profile.own_start)
    starts: list[float] = []
    gap: dict[tuple[str, int], float] = {}
    for i in range(target.stocks):
        like = i % measured_stocks if measured_stocks else None
        first = profile.own_start[like] - like * profile.stagger_s if like is not None else 0.0
        starts.append(first + i * profile.stagger_s)
        for name in names:
            gap[(name, i)] = profile.own_gap.get((name, like), profile.gap_s.get(name, 0.0))
    draws: dict[tuple[str, bool], int] = defaultdict(int)

    def overhead(stage: str, key: tuple[str, int, int], cold: bool) -> float:
        if assign == "own":
            return chosen[key].overhead
        pool = (profile.cold if cold else profile.warm).get(stage) or []
        if not pool:
            return 0.0
        k = draws[(stage, cold)]
        draws[(stage, cold)] += 1
        return pool[k % len(pool)]

    events: list[_Event] = []
    seq = 0

    def send(stage_index: int, stock: int, at: float) -> None:
        nonlocal seq
        stage = names[stage_index]
        pace = profile.dispatch_s.get(stage, 0.0)
        offsets = profile.own_offsets.get((stage, stock)) if assign == "own" else None
        for j in range(per_stock[stage]):
            sent = at + (offsets[j] if offsets else j * pace)
            heapq.heappush(events, _Event(sent, seq, stage_index, stock, j))
            seq += 1

    for i, start in enumerate(starts):
        send(0, i, start)
    free: list[tuple[float, int]] = [(-math.inf, k) for k in range(max(target.concurrency, 1))]
    seen: list[set[str]] = [set() for _ in free]
    remaining = {(i, s): per_stock[names[s]] for i in range(target.stocks)
                 for s in range(len(names))}  # fmt: skip
    batch_end: dict[tuple[int, int], float] = defaultdict(lambda: -math.inf)
    ends: list[tuple[float, int, int, int]] = []  # (end, seq, stock, stage_index)
    receipts: list[Receipt] = []
    memory = target.memory_mb or profile.scale.memory_mb
    planned = _PlannedReceipts(target, memory)
    while events or ends:
        # Completions first: they free nothing here (slots are tracked by free time) but
        # they send the stock's next stage, whose invokes may precede pending ones.
        if ends and (not events or ends[0][0] <= events[0].time):
            end, _, stock, s = heapq.heappop(ends)
            remaining[(stock, s)] -= 1
            batch_end[(stock, s)] = max(batch_end[(stock, s)], end)
            if remaining[(stock, s)] == 0 and s + 1 < len(names):
                nxt = names[s + 1]
                send(s + 1, stock, batch_end[(stock, s)] + gap[(nxt, stock)])
            continue
        ev = heapq.heappop(events)
        stage = names[ev.stage_index]
        key = (stage, ev.stock, ev.unit)
        slot_free, k = heapq.heappop(free)
        got = max(ev.time, slot_free)
        cold = stage not in seen[k]
        seen[k].add(stage)
        work = chosen[key]
        start = got + overhead(stage, key, cold)
        end = start + work.duration
        heapq.heappush(free, (end, k))
        heapq.heappush(ends, (end, ev.seq, ev.stock, ev.stage_index))
        receipts.append(planned.receipt(stages[ev.stage_index], ev, work, start, end, cold))
    return receipts


def _rank(position: int, of: int, measured: int) -> int:
    """The measured rank (of ``measured`` sorted values) that position ``position`` of
    ``of`` draws: the same quantile, so the draws have the measured distribution."""
    return min(int((position + 0.5) * measured / of), measured - 1)


def resolve_assign(profile: Profile, target: Scale, assign: Assign) -> Assign:
    """``own`` or ``sampled``: what ``auto`` means for this profile and target."""
    same = _same_work(profile.scale, target) and len(profile.own) == target.invocations()
    if assign == "own" and not same:
        raise ValueError("own times need the measured configuration; use assign='sampled'")
    if assign == "auto":
        return "own" if same else "sampled"
    return assign


def _same_work(a: Scale, b: Scale) -> bool:
    keys = ("stocks", "cells", "groves", "trees", "final_groves", "final_trees")
    same_memory = b.memory_mb is None or b.memory_mb == a.memory_mb
    return all(getattr(a, k) == getattr(b, k) for k in keys) and same_memory


class _PlannedReceipts:
    """Receipts of simulated invocations, with the events the stages really fan out."""

    def __init__(self, target: Scale, memory_mb: int | None) -> None:
        self.memory_mb = memory_mb
        shape = target.shape
        self.fields = {spec.name: spec.fan_out(shape) for spec in target.stages.stages}

    def receipt(
        self, stage: Stage, ev: _Event, work: Work, start: float, end: float, cold: bool
    ) -> Receipt:
        stock = f"S{ev.stock:04d}"
        event = {"stock": stock, "invoked_at": ev.time, **self.fields[stage.name][ev.unit]}
        return Receipt(
            function=stage.name,
            unit=f"u{ev.unit}",
            stock=stock,
            run_id=PLANNED,
            event=event,
            fingerprint=PLANNED,
            code_version=PLANNED,
            attempt=1,
            request_id=f"{PLANNED}-{ev.seq}",
            cold_start=cold,
            memory_limit_mb=self.memory_mb,
            start=start,
            end=end,
            read_ms=work.read * 1000,
            compute_ms=work.compute * 1000,
            write_ms=work.write * 1000,
            bytes_read=0,
            bytes_written=0,
            status="ok",
        )


# ---------------------------------------------------------------------------- plans


def plan(
    profile: Profile,
    target: Scale | None = None,
    *,
    assign: Assign = "auto",
    seed: int = 0,
) -> dict[str, Any]:
    """Project makespan, per-stage statistics and cost at ``target``.

    Returns:
        The `groves.reporting.analysis` report of the simulated run (without plot data) plus
        ``projected_makespan_s``, ``target`` and, for a measured profile,
        ``measured_makespan_s``.
    """
    target = target or profile.scale
    assign = resolve_assign(profile, target, assign)
    receipts = simulate(profile, target, assign=assign, seed=seed)
    report = build_report(
        receipts, target.stages.names, memory_mb=target.memory_mb, workers=target.concurrency
    )
    report.pop("series")
    return {
        **report,
        "target": target.__dict__,
        "assign": assign,
        "projected_makespan_s": _makespan(receipts),
        "measured_makespan_s": profile.measured_makespan_s,
        "measured": {
            "scale": profile.scale.__dict__,
            "stagger_s": profile.stagger_s,
            "dispatch_s": profile.dispatch_s,
            "gap_s": profile.gap_s,
            "vcpus": profile.vcpus,
        },
    }


def profile_for_run(store: Storage, run_id: str, concurrency: int | None = None) -> Profile:
    """Measure the profile of a finished run in a store.

    Args:
        store: The run's store.
        run_id: The run.
        concurrency: The limit it ran under (default: its local workers or Lambda
            in-flight cap, but no more than the peak concurrency its receipts show).
    """
    config = load_config(store, run_id)
    stages = pipeline(config.get("pipeline", GRID.name)).names
    receipts = ok_receipts(load_receipts(store, RunLayout(run_id)), stages)
    if not receipts:
        raise GrovesError(f"run {run_id!r} has no successful receipts to measure")
    if concurrency is None:
        observed = peak_concurrency((r.start, r.end) for r in receipts)
        cap = config.get("inflight_cap") or config.get("max_in_flight")  # the cap it found
        limit = cap if config.get("executor") == "lambda" else None
        limit = limit or config.get("workers")
        concurrency = min(limit, observed) if limit else observed
    scale = Scale.from_config(config, concurrency=max(int(concurrency), 1))
    return profile_from_receipts(receipts, scale)
