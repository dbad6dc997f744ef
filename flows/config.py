"""The pipeline's configuration: one validated model shared by the flow, the CLI and tests."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lambda_functions.events import MAX_GROVES, MAX_TREES, Grid
from lambda_functions.names import safe_part, safe_stock

DEFAULT_DATA_DIR = "groves-data"


class RunConfig(BaseModel):
    """Everything that defines a pipeline run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    store: str = DEFAULT_DATA_DIR
    stocks: tuple[str, ...] | None = None
    grid: Grid = Grid()
    groves: int = Field(3, ge=1, le=MAX_GROVES)
    trees: int = Field(100, ge=1, le=MAX_TREES)
    final_groves: int = Field(30, ge=1, le=MAX_GROVES)
    final_trees: int = Field(25, ge=1, le=MAX_TREES)
    split: Literal["chronological", "random"] = "chronological"
    table_format: Literal["parquet", "csv"] = "parquet"
    features: Literal["lags", "indicators"] = "lags"
    target: Literal["change", "level"] = "change"
    seed: int = Field(0, ge=0, le=2**31 - 1)
    model_codec: Literal["lz4", "zlib", "none"] = "lz4"
    executor: Literal["local", "lambda"] = "local"
    run_id: str | None = None
    function_prefix: str = "groves-"
    credentials_block: str | None = None
    max_in_flight: int = Field(900, ge=1, le=10000)
    timeout_s: float = Field(960.0, gt=0)
    workers: int | None = Field(None, ge=1, le=256)
    retries: int = Field(2, ge=0, le=10)
    retry_delay_s: float = Field(2.0, ge=0)
    tolerate: int = Field(0, ge=0)
    refresh: bool = False

    @field_validator("stocks")
    @classmethod
    def _stocks(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("stocks is empty: name at least one, or omit it to use every file")
        if len(set(value)) != len(value):
            raise ValueError("stocks lists a stock more than once")
        return tuple(safe_stock(s) for s in value)

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value: str | None) -> str | None:
        return None if value is None else safe_part(value, "run id")

    def model_options(self) -> dict[str, Any]:
        """The options that determine the models' outputs (and so the default run id)."""
        return self.model_dump(
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

    @property
    def resolved_run_id(self) -> str:
        """The run id: given, or derived from the model options so a rerun resumes."""
        if self.run_id:
            return self.run_id
        text = json.dumps(self.model_options(), sort_keys=True)
        return "run-" + hashlib.sha256(text.encode()).hexdigest()[:10]

    def event_base(self) -> dict[str, Any]:
        """Fields shared by every worker event of this run."""
        base: dict[str, Any] = {
            "store": self.store if "://" in self.store else os.path.abspath(self.store),
            "run_id": self.resolved_run_id,
            "seed": self.seed,
            "split": self.split,
            "table_format": self.table_format,
            "features": self.features,
            "target": self.target,
        }
        if self.executor == "local":
            base["n_jobs"] = 1
        return base
