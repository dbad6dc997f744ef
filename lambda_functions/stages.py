"""The stage registry: what groves knows about each worker function, in one place.

A `Stage` names a worker function and says what its event is (`Stage.event_model`), how a
run fans it out per stock (`Stage.fan_out`), how one invocation is named (`Stage.unit`,
used in receipt keys and task names), whether it runs per stock or once per run, where the
seed layout writes its runtime ``.txt`` files, and what the orchestrator, the cost model
and the planner need to know (`Stage.bulk`, `Stage.parallel_fit`, `Stage.work`,
`Stage.s3_requests`). A `Pipeline` is an ordered list of stages and the scores to read
off their results.

The worker (`lambda_functions.worker`), the orchestrator (`tasks`, `flows`), the timing
tables, the timing report, the planner and the CLI all read this module; none of them
switches on a stage's name. Adding a stage: "Adding a stage" in docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lambda_functions import defaults
from lambda_functions.events import (
    BaseEvent,
    ClearbucketsEvent,
    Grid,
    MetricsEvent,
    MinmseEvent,
    ModelingEvent,
    ParampredsEvent,
    PredictEvent,
    PredmsesEvent,
    ProcessingEvent,
    TestfullEvent,
    TimingmetricsEvent,
    TrainfullEvent,
)
from lambda_functions.layout import StockSpace, cell_name


@dataclass(frozen=True)
class Shape:
    """How big a run is: everything the stages' fan-out depends on."""

    grid: Grid = field(default_factory=Grid)
    groves: int = defaults.GROVES_PER_CELL
    trees: int = defaults.TREES_PER_GROVE
    final_groves: int = defaults.FINAL_GROVES
    final_trees: int = defaults.FINAL_TREES
    model_codec: str = defaults.MODEL_CODEC

    @property
    def cells(self) -> int:
        return len(self.grid.cells)


Fields = dict[str, Any]
SeedRuntimes = tuple[list[str], str]  # folders, file-name suffix (e.g. "_3")


@dataclass(frozen=True)
class Stage:
    """One worker function and everything the rest of groves needs to know about it.

    Attributes:
        name: The function's name: its handler module ``lambda_functions.<name>`` and, with
            a prefix, its AWS Lambda function name.
        event_model: The pydantic model its events validate into.
        fan_out: Per stock (or once per run for run-level stages), the stage-specific
            fields of each invocation's event; the run's shared fields are added to each.
        unit: The name of one invocation among its stock's (receipt file, task names).
        scope: ``stock`` (invoked per stock, as the pipeline reaches it) or ``run``.
        bulk: Many invocations whose results nobody reads: stage summaries omit them.
        parallel_fit: Its fits use every vCPU of the worker (Lambda scales them with memory).
        seed_runtimes: In the seed layout: the folders for the original's runtime files
            and the suffix of their names.
        seed_writes3: In the seed layout it writes ``writes3.txt`` (the write duration,
            ms) instead of ``startwrites3.txt`` (the write start, epoch ms), as the
            original predmses did.
        work: Relative (compute, read) size of one invocation at a `Shape`: the planner
            scales measured times by the ratio between two shapes.
        s3_requests: Estimated (PUT-class, GET-class, runtime folders) requests of one
            invocation, from its event (the receipt's copy).
        deletes_run: It deletes its run's outputs, so its receipt is kept outside the run.
    """

    name: str
    event_model: type[BaseEvent]
    fan_out: Callable[[Shape], list[Fields]]
    unit: Callable[[Any], str] | None = None
    scope: Literal["stock", "run"] = "stock"
    bulk: bool = False
    parallel_fit: bool = False
    seed_runtimes: Callable[[StockSpace, Any], SeedRuntimes] | None = None
    seed_writes3: bool = False
    work: Callable[[Shape], tuple[float, float]] = lambda shape: (1.0, 1.0)
    s3_requests: Callable[[Mapping[str, Any]], tuple[int, int, int]] = lambda event: (0, 0, 0)
    deletes_run: bool = False

    @property
    def handler(self) -> str:
        """``module:function`` of the Lambda handler."""
        return f"lambda_functions.{self.name}:lambda_handler"

    def unit_of(self, event: BaseEvent) -> str:
        return self.unit(event) if self.unit is not None else self.name

    def count(self, shape: Shape) -> int:
        """Invocations per stock (or per run) at ``shape``."""
        return len(self.fan_out(shape))


def _default(model: type[BaseEvent], name: str, event: Mapping[str, Any]) -> Any:
    """An event field as sent, else the model's default (defaults are stated once)."""
    value = event.get(name)
    return value if value is not None else model.model_fields[name].default


def _grid_cells(model: type[BaseEvent], event: Mapping[str, Any]) -> int:
    grid = event.get("grid") or {}
    default = model.model_fields["grid"].default
    feats = grid.get("max_features") or default.max_features
    samps = grid.get("min_samples_split") or default.min_samples_split
    return len(feats) * len(samps)


def _cell_fields(shape: Shape) -> Fields:
    return {"grid": shape.grid.model_dump(mode="json"), "groves": shape.groves}


# ----------------------------------------------------------------------- the grid pipeline

PROCESSING = Stage(
    name="processing",
    event_model=ProcessingEvent,
    fan_out=lambda shape: [{}],
    seed_runtimes=lambda space, event: ([space.processed_runtimes_dir()], ""),
    s3_requests=lambda event: (3, 2, 1),  # HEAD + GET raw; three splits
)

PARAMPREDS = Stage(
    name="parampreds",
    event_model=ParampredsEvent,
    fan_out=lambda shape: [
        {"feat": f, "samp": s, "n_estimators": shape.trees, "pred_num": n}
        for f, s in shape.grid.cells
        for n in range(shape.groves)
    ],
    unit=lambda event: f"{cell_name(event.feat, event.samp)}_g{event.pred_num}",
    bulk=True,
    parallel_fit=True,
    seed_runtimes=lambda space, event: (
        [space.cell_runtimes_dir(event.feat, event.samp)],
        f"_{event.pred_num}",
    ),
    work=lambda shape: (float(shape.trees), 1.0),
    s3_requests=lambda event: (1, 2, 1),  # training + validation; predictions
)


def _predmses_requests(event: Mapping[str, Any]) -> tuple[int, int, int]:
    one_cell = event.get("feat") is not None and event.get("samp") is not None
    cells = 1 if one_cell else _grid_cells(PredmsesEvent, event)
    groves = int(_default(PredmsesEvent, "groves", event))
    return cells, 1 + 2 * cells * groves, cells  # validation; HEAD + GET per grove


PREDMSES = Stage(
    name="predmses",
    event_model=PredmsesEvent,
    fan_out=lambda shape: [
        {"feat": f, "samp": s, **_cell_fields(shape)} for f, s in shape.grid.cells
    ],
    unit=lambda event: cell_name(event.feat, event.samp) if event.feat is not None else "all",
    seed_runtimes=lambda space, event: (
        [space.cell_runtimes_dir(f, s) for f, s in event.cells],
        "",
    ),
    seed_writes3=True,
    work=lambda shape: (1.0, float(shape.groves)),
    s3_requests=_predmses_requests,
)

MINMSE = Stage(
    name="minmse",
    event_model=MinmseEvent,
    fan_out=lambda shape: [_cell_fields(shape)],
    seed_runtimes=lambda space, event: ([space.optimized_runtimes_dir()], ""),
    work=lambda shape: (1.0, float(shape.cells)),
    s3_requests=lambda event: (1, 2 * _grid_cells(MinmseEvent, event), 1),
)


def _trainfull_requests(event: Mapping[str, Any]) -> tuple[int, int, int]:
    given = event.get("feat") is not None and event.get("samp") is not None
    return 2, 3 + (0 if given else 2), 1  # model + predictions; 3 splits (+ best_params)


TRAINFULL = Stage(
    name="trainfull",
    event_model=TrainfullEvent,
    fan_out=lambda shape: [
        {"n_estimators": shape.final_trees, "pred_num": n, "model_codec": shape.model_codec}
        for n in range(shape.final_groves)
    ],
    unit=lambda event: f"g{event.pred_num}",
    bulk=True,
    parallel_fit=True,
    seed_runtimes=lambda space, event: ([space.final_runtimes_dir()], f"_{event.pred_num}"),
    work=lambda shape: (float(shape.final_trees), 1.0),
    s3_requests=_trainfull_requests,
)

TESTFULL = Stage(
    name="testfull",
    event_model=TestfullEvent,
    fan_out=lambda shape: [{"groves": shape.final_groves}],
    seed_runtimes=lambda space, event: ([space.final_runtimes_dir()], ""),
    work=lambda shape: (1.0, float(shape.final_groves)),
    s3_requests=lambda event: (1, 1 + 2 * int(_default(TestfullEvent, "groves", event)), 1),
)

TIMINGMETRICS = Stage(
    name="timingmetrics",
    event_model=TimingmetricsEvent,
    fan_out=lambda shape: [{}],
    scope="run",
)

CLEARBUCKETS = Stage(
    name="clearbuckets",
    event_model=ClearbucketsEvent,
    fan_out=lambda shape: [{"confirm": True}],
    scope="run",
    deletes_run=True,
)


# ------------------------------------------------------------------ the per-stock pipeline
# The original's Checkpoint-2 system: one invocation per stock does the whole model
# (`lambda_functions.perstock`). At a run's shape it does the grid pipeline's work in one
# process: per cell a forest of groves x trees trees, the refit final_groves x final_trees.


def _modeling_fields(shape: Shape) -> Fields:
    return {
        "grid": shape.grid.model_dump(mode="json"),
        "n_estimators": shape.groves * shape.trees,
        "final_estimators": shape.final_groves * shape.final_trees,
        "model_codec": shape.model_codec,
    }


MODELING = Stage(
    name="modeling",
    event_model=ModelingEvent,
    fan_out=lambda shape: [_modeling_fields(shape)],
    parallel_fit=True,
    work=lambda shape: (
        float(shape.cells * shape.groves * shape.trees + shape.final_groves * shape.final_trees),
        1.0,
    ),
    s3_requests=lambda event: (2, 4, 1),  # model (+ runtimes); training, validation (HEADs)
)

PREDICT = Stage(
    name="predict",
    event_model=PredictEvent,
    fan_out=lambda shape: [{}],
    work=lambda shape: (float(shape.final_groves * shape.final_trees), 1.0),
    s3_requests=lambda event: (1, 4, 0),  # MSE; testing, receipt, model (HEADs)
)

METRICS = Stage(
    name="metrics",
    event_model=MetricsEvent,
    fan_out=lambda shape: [{}],
    scope="run",
)


@dataclass(frozen=True)
class Pipeline:
    """An ordered list of per-stock stages, the run-level report stage after them, and
    how to read a stock's scores off its stage results.

    Attributes:
        name: What users select it by (``groves run --pipeline NAME``).
        stages: Per-stock stages in order: a stock's stage starts when its previous ends.
        report: The run-level stage that turns the receipts into timing tables.
        scores: Per stock, from its stages' non-bulk results (stage -> list of result
            dicts, in fan-out order), the summary row: best parameters, validation and
            test MSE, persistence MSE and their ratio.
        summaries: Run-level stages invoked after the report (their results go into the
            run summary and a table artifact: `tasks.reports.report_summaries`).
    """

    name: str
    stages: tuple[Stage, ...]
    report: Stage
    scores: Callable[[Mapping[str, Sequence[Mapping[str, Any]]]], dict[str, Any]]
    summaries: tuple[Stage, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self.stages)

    def invocations_per_stock(self, shape: Shape) -> dict[str, int]:
        return {stage.name: stage.count(shape) for stage in self.stages}


def _grid_scores(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    best = results["minmse"][0]
    validation = results["predmses"][0]
    test = results["testfull"][0]
    return {
        "best_feat": best["feat"],
        "best_samp": best["samp"],
        "validation_mse": best["mse"],
        "validation_persistence_mse": validation.get("persistence_mse"),
        "test_mse": test["mse"],
        "test_persistence_mse": test["persistence_mse"],
        "test_ratio": test["ratio"],
    }


GRID = Pipeline(
    name="grid",
    stages=(PROCESSING, PARAMPREDS, PREDMSES, MINMSE, TRAINFULL, TESTFULL),
    report=TIMINGMETRICS,
    scores=_grid_scores,
)


def _perstock_scores(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    model = results["modeling"][0]
    test = results["predict"][0]
    return {
        "best_feat": model["feat"],
        "best_samp": model["samp"],
        "validation_mse": model["mse"],
        "validation_persistence_mse": model.get("persistence_mse"),
        "test_mse": test["mse"],
        "test_persistence_mse": test["persistence_mse"],
        "test_ratio": test["ratio"],
    }


PER_STOCK = Pipeline(
    name="per-stock",
    stages=(PROCESSING, MODELING, PREDICT),
    report=TIMINGMETRICS,
    scores=_perstock_scores,
    summaries=(METRICS,),
)

PIPELINES: dict[str, Pipeline] = {GRID.name: GRID, PER_STOCK.name: PER_STOCK}
DEFAULT_PIPELINE = GRID.name

STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (*GRID.stages, TIMINGMETRICS, CLEARBUCKETS, MODELING, PREDICT, METRICS)
}
"""Every worker function by name, in pipeline order."""


def stage(name: str) -> Stage:
    """The registered stage called ``name``."""
    try:
        return STAGES[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; expected one of {list(STAGES)}") from None


def pipeline(name: str) -> Pipeline:
    """The registered pipeline called ``name``."""
    try:
        return PIPELINES[name]
    except KeyError:
        raise ValueError(f"unknown pipeline {name!r}; expected one of {list(PIPELINES)}") from None


FUNCTIONS = tuple(STAGES)
"""The worker function names (module names here; on Lambda, after a name prefix)."""
