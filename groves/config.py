"""The pipeline's configuration: one validated model shared by the flow, the CLI and tests.

Model defaults come from `lambda_functions.defaults`; orchestration defaults are stated
here, once. The CLI's options default to these fields.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lambda_functions import defaults
from lambda_functions.events import (
    ADDED_FIELDS,
    LEAST_ROWS,
    MAX_GROVES,
    MAX_HORIZON,
    MAX_LAGS,
    MAX_TREES,
    SCALE_FREE_INDICATORS,
    Grid,
    ModelCodec,
)
from lambda_functions.features import MIN_ROWS, FeatureSpec
from lambda_functions.inputs import InputSpec
from lambda_functions.layout import SEED_MAIN_BUCKET
from lambda_functions.names import safe_part, safe_series
from lambda_functions.seed_buckets import DEFAULT_PATTERN, SeedBuckets, check_bucket_name
from lambda_functions.stages import DEFAULT_PIPELINE, PIPELINES, Pipeline, Shape

DEFAULT_DATA_DIR = "groves-data"
LAMBDA_TIMEOUT_S = 900.0  # AWS Lambda's maximum function timeout
RECEIPT_TIMEOUT_S = LAMBDA_TIMEOUT_S + 60  # awaiting one receipt: the timeout plus a margin
SEED_RUN_ID = "seed"  # the seed layout's run id (groves/runs/seed/ in the main bucket)
MAX_IN_FLIGHT = 900  # in-flight Lambda invocations (below the default account limit of 1000)
# How long an event may wait in Lambda's queue before Lambda drops it: the SAM template's
# MaxEventAgeSeconds default. The run waits this long for an event to start before it
# calls it lost; it must not be shorter than the functions' setting (AWS's own default,
# without an EventInvokeConfig, is 21600 s).
MAX_EVENT_AGE_S = 3600.0
# Awaiting receipts without a live future (Lambda) LISTs the receipt folders, first
# 50 ms after sending, then backing off by 1.5x up to this many seconds between LISTs.
MAX_POLL_S = 2.0
MAX_POLL_ENV = "GROVES_MAX_POLL_S"


def _default_max_poll() -> float:
    return float(os.environ.get(MAX_POLL_ENV) or MAX_POLL_S)


class RunConfig(BaseModel):
    """Everything that defines a pipeline run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    store: str = DEFAULT_DATA_DIR
    stocks: tuple[str, ...] | None = None
    pipeline: str = DEFAULT_PIPELINE
    grid: Grid = Grid()
    groves: int = Field(defaults.GROVES_PER_CELL, ge=1, le=MAX_GROVES)
    trees: int = Field(defaults.TREES_PER_GROVE, ge=1, le=MAX_TREES)
    final_groves: int = Field(defaults.FINAL_GROVES, ge=1, le=MAX_GROVES)
    final_trees: int = Field(defaults.FINAL_TREES, ge=1, le=MAX_TREES)
    split: Literal["chronological", "random"] = "chronological"
    table_format: Literal["parquet", "csv"] = "parquet"
    features: Literal["lags", "indicators"] = "lags"
    target: Literal["change", "level"] = "change"
    seed: int = Field(defaults.RUN_SEED, ge=0, le=2**31 - 1)
    model_codec: ModelCodec = defaults.MODEL_CODEC
    # The input description (a section of its own: `lambda_functions.inputs.InputSpec`)
    # and the feature options; the defaults are the Kaggle data's and the original's.
    input: InputSpec = InputSpec()
    lags: int = Field(defaults.N_LAGS, ge=1, le=MAX_LAGS)
    horizon: int = Field(1, ge=1, le=MAX_HORIZON)
    min_rows: int = Field(MIN_ROWS, ge=LEAST_ROWS)
    executor: Literal["local", "lambda", "dask"] = "local"
    # The Dask scheduler (``tcp://HOST:8786``); None: $DASK_SCHEDULER_ADDRESS.
    dask_address: str | None = None
    run_id: str | None = None
    function_prefix: str = "groves-"
    credentials_block: str | None = None
    max_in_flight: int = Field(MAX_IN_FLIGHT, ge=1, le=10000)
    timeout_s: float = Field(RECEIPT_TIMEOUT_S, gt=0)
    max_event_age_s: float = Field(MAX_EVENT_AGE_S, gt=0, le=21600)
    max_poll_s: float = Field(default_factory=_default_max_poll, gt=0, le=60)
    workers: int | None = Field(None, ge=1, le=256)
    retries: int = Field(2, ge=0, le=10)
    retry_delay_s: float = Field(2.0, ge=0)
    tolerate: int = Field(0, ge=0)
    refresh: bool = False
    # Render the result and timing plots at the end (off: tables, report and summary only).
    plots: bool = True
    # Where the run's files go: ``run`` (``runs/{run_id}/`` in the store) or ``seed`` (the
    # original's buckets: `lambda_functions.seed_buckets`; the store is then ignored).
    layout: Literal["run", "seed"] = "run"
    seed_bucket: str = SEED_MAIN_BUCKET
    seed_bucket_pattern: str = DEFAULT_PATTERN

    @field_validator("stocks")
    @classmethod
    def _stocks(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("stocks is empty: name at least one, or omit it to use every file")
        if len(set(value)) != len(value):
            raise ValueError("stocks lists a stock more than once")
        return tuple(safe_series(s) for s in value)

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value: str | None) -> str | None:
        return None if value is None else safe_part(value, "run id")

    @field_validator("pipeline")
    @classmethod
    def _pipeline(cls, value: str) -> str:
        if value not in PIPELINES:
            raise ValueError(f"unknown pipeline {value!r}; choose one of {list(PIPELINES)}")
        return value

    @field_validator("seed_bucket")
    @classmethod
    def _seed_bucket(cls, value: str) -> str:
        return check_bucket_name(value)  # an InvalidEventError is a ValueError

    @field_validator("seed_bucket_pattern")
    @classmethod
    def _seed_pattern(cls, value: str) -> str:
        SeedBuckets(pattern=value)
        return value

    @model_validator(mode="after")
    def _seed_layout(self) -> RunConfig:
        if self.layout == "seed" and self.input.long:
            raise ValueError(
                "the seed layout reads one raw file per stock (the original's); a "
                "long-format input (--series-column) cannot be used with it"
            )
        return self

    @property
    def seed_buckets(self) -> SeedBuckets | None:
        """The original's buckets of a seed-layout run (None in the run layout)."""
        if self.layout != "seed":
            return None
        return SeedBuckets(self.seed_bucket, self.seed_bucket_pattern)

    @property
    def stages(self) -> Pipeline:
        """The pipeline this run drives (`lambda_functions.stages`)."""
        return PIPELINES[self.pipeline]

    @property
    def shape(self) -> Shape:
        """What the stages' fan-out depends on."""
        return Shape(
            grid=self.grid,
            groves=self.groves,
            trees=self.trees,
            final_groves=self.final_groves,
            final_trees=self.final_trees,
            model_codec=self.model_codec,
        )

    def model_options(self) -> dict[str, Any]:
        """The options that determine the models' outputs (and so the default run id)."""
        options = self.model_dump(
            mode="json",
            include={
                "grid",
                "groves",
                "trees",
                "final_groves",
                "final_trees",
                "split",
                "table_format",
                "features",
                "target",
                "seed",
                "model_codec",
            },
        )
        if self.pipeline != DEFAULT_PIPELINE:  # default runs keep their earlier run ids
            options["pipeline"] = self.pipeline
        options.update(self._added_options())
        return options

    def _added_options(self) -> dict[str, Any]:
        """The input and feature options that differ from their defaults (at the defaults,
        run ids and events are what they were before these options existed)."""
        changed: dict[str, Any] = {}
        for name in ADDED_FIELDS:
            value = getattr(self, name)
            if value != type(self).model_fields[name].default:
                changed[name] = value
        if "input" in changed:
            changed["input"] = self.input.model_dump(mode="json", exclude_defaults=True)
        return changed

    @property
    def indicator_columns(self) -> tuple[str, ...]:
        """The raw columns read besides time and value (``--features indicators``)."""
        return SCALE_FREE_INDICATORS if self.features == "indicators" else ()

    @property
    def feature_spec(self) -> FeatureSpec:
        """The processed tables' columns and the rows a series needs."""
        return FeatureSpec(
            value=self.input.value_column,
            lags=self.lags,
            horizon=self.horizon,
            min_rows=self.min_rows,
        )

    @property
    def resolved_run_id(self) -> str:
        """The run id: given, or derived from the model options so a rerun resumes."""
        if self.run_id:
            return self.run_id
        if self.layout == "seed":  # one set of buckets holds one run's outputs
            return SEED_RUN_ID
        text = json.dumps(self.model_options(), sort_keys=True)
        return "run-" + hashlib.sha256(text.encode()).hexdigest()[:10]

    @property
    def store_url(self) -> str:
        """The store as workers get it: an S3 URL, or an absolute folder. In the seed
        layout: groves' own files in the main bucket (``groves/``)."""
        if self.seed_buckets is not None:
            return self.seed_buckets.groves_store().url
        return self.store if "://" in self.store else os.path.abspath(self.store)

    def stock_event_base(self, stage: str, stock: str) -> dict[str, Any]:
        """`event_base` plus where the stock is: its name (run layout), or the original's
        bucket fields (seed layout)."""
        buckets = self.seed_buckets
        if buckets is None:
            return {**self.event_base(), "stock": stock}
        raw_file = self.input.file_key(stock).removeprefix("raw/")
        return {**self.event_base(), **buckets.stock_fields(stage, stock, raw_file)}

    def report_event(self, run_id: str) -> dict[str, Any]:
        """The report stage's (timingmetrics') event."""
        if self.seed_buckets is not None:
            return {**self.seed_buckets.run_fields(), "run_id": run_id, "pipeline": self.pipeline}
        return {"store": self.store_url, "run_id": run_id, "pipeline": self.pipeline}

    def event_base(self) -> dict[str, Any]:
        """Fields shared by every worker event of this run."""
        base: dict[str, Any] = {
            "store": self.store_url,
            "run_id": self.resolved_run_id,
            "seed": self.seed,
            "split": self.split,
            "table_format": self.table_format,
            "features": self.features,
            "target": self.target,
            **self._added_options(),
        }
        if self.executor == "local":
            base["n_jobs"] = 1
        if self.layout == "seed":  # the buckets come with each event; tables are CSV
            del base["store"], base["table_format"]
        return base
