"""Validated invocation events, one model per worker function.

Every model accepts the seed's literal event (e.g. parampreds
``{"bucket", "stock", "feat", "samp", "n_estimators", "pred_num"}``) and our extended
form, which names a store URL and run id instead of a bucket and adds the run's options
(grid, groves, seed, split, table format, feature set, target). Unknown fields, missing
fields and bad values are rejected before anything is read or written.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lambda_functions import defaults
from lambda_functions.errors import InvalidEventError, UnsafeNameError
from lambda_functions.features import MIN_ROWS, FeatureSpec
from lambda_functions.inputs import DEFAULT_FILES, RAW_PREFIX, InputSpec
from lambda_functions.names import safe_part, safe_series, stock_from_raw_file

# Indicators usable as extra features. All are scale-free (bounded oscillators, ratios or
# changes), so they mean the same at any price level and suit the relative target.
SCALE_FREE_INDICATORS = (
    "RSI14",
    "RSI8",
    "CCI10",
    "ADX10",
    "ROC5",
    "ROC10",
    "WILLR",
    "ULTOSC",
    "MFI",
    "slowk",
    "slowd",
    "fastk",
    "PPO",
)
ModelCodec = Literal["lz4", "zlib", "none"]
MAX_CELLS = 100
MAX_GROVES = 1000
MAX_TREES = 5000
N_LAGS = defaults.N_LAGS
MAX_LAGS = 1000
MAX_HORIZON = 100_000
LEAST_ROWS = 20  # the smallest min_rows: a 64/16/20 split of 20 rows is 12/4/4
# Fields added after the first event schema: left out of fingerprints at their defaults, so
# receipts written before them still stand for the same invocations.
ADDED_FIELDS = ("input", "lags", "horizon", "min_rows")


class Grid(BaseModel):
    """The hyperparameter grid: every (max_features, min_samples_split) pair is a cell."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_features: tuple[int, ...] = defaults.GRID_MAX_FEATURES
    min_samples_split: tuple[int, ...] = defaults.GRID_MIN_SAMPLES_SPLIT

    @field_validator("max_features")
    @classmethod
    def _feat(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(v < 1 for v in value) or len(set(value)) != len(value):
            raise ValueError("max_features must be distinct integers >= 1")
        return tuple(sorted(value))

    @field_validator("min_samples_split")
    @classmethod
    def _samp(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(v < 2 for v in value) or len(set(value)) != len(value):
            raise ValueError("min_samples_split must be distinct integers >= 2")
        return tuple(sorted(value))

    @model_validator(mode="after")
    def _size(self) -> Grid:
        cells = len(self.max_features) * len(self.min_samples_split)
        if cells > MAX_CELLS:
            raise ValueError(f"grid has {cells} cells; at most {MAX_CELLS} are allowed")
        return self

    @property
    def cells(self) -> list[tuple[int, int]]:
        return [(f, s) for f in self.max_features for s in self.min_samples_split]


class BaseEvent(BaseModel):
    """Fields every worker understands: where data lives and the run's options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Our form: one store (s3://bucket/prefix or a folder) and a run id.
    store: str | None = None
    run_id: str = "default"
    # Run options.
    seed: int = Field(defaults.RUN_SEED, ge=0, le=2**31 - 1)
    split: Literal["chronological", "random"] = "chronological"
    table_format: Literal["parquet", "csv"] | None = None
    features: Literal["lags", "indicators"] = "lags"
    indicators: tuple[str, ...] | None = None
    target: Literal["change", "level"] = "change"
    # The input description and the feature options (every stage builds or reads the same
    # feature columns): `lambda_functions.inputs`, `lambda_functions.features.FeatureSpec`.
    input: InputSpec = InputSpec()
    lags: int = Field(N_LAGS, ge=1, le=MAX_LAGS)
    horizon: int = Field(1, ge=1, le=MAX_HORIZON)
    min_rows: int = Field(MIN_ROWS, ge=LEAST_ROWS)
    n_jobs: int | None = Field(None, ge=-1)
    attempt: int = Field(1, ge=1, le=100)
    input_id: str | None = Field(None, max_length=200)
    invoked_at: float | None = Field(None, ge=0)  # epoch seconds, set by the orchestrator
    # Seed layout driven by groves (`lambda_functions.seed_buckets`): the main bucket, where
    # the receipt goes (under groves/, which the original never reads). The original's
    # literal events have none: their receipts stay in their own bucket.
    mainbucket: str | None = None

    @field_validator("n_jobs")
    @classmethod
    def _n_jobs(cls, value: int | None) -> int | None:
        if value == 0:
            raise ValueError("n_jobs is a thread count: -1 (every CPU) or 1 and up, not 0")
        return value

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value: str) -> str:
        return safe_part(value, "run id")

    @field_validator("indicators")
    @classmethod
    def _indicators(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        unknown = [v for v in value if v not in SCALE_FREE_INDICATORS]
        if unknown or not value or len(set(value)) != len(value):
            raise ValueError(
                f"unknown or repeated indicators {unknown or list(value)}; "
                f"choose distinct names from {list(SCALE_FREE_INDICATORS)}"
            )
        return value

    @property
    def seed_mode(self) -> bool:
        return False

    @property
    def stock_name(self) -> str | None:
        """The stock this invocation is about (None for run-level events)."""
        return None

    @property
    def fmt(self) -> Literal["parquet", "csv"]:
        return self.table_format or ("csv" if self.seed_mode else "parquet")

    @property
    def indicator_columns(self) -> tuple[str, ...]:
        if self.features == "lags":
            return ()
        return self.indicators or SCALE_FREE_INDICATORS

    @property
    def feature_spec(self) -> FeatureSpec:
        """The processed tables' columns and the rows they need."""
        return FeatureSpec(
            value=self.input.value_column,
            lags=self.lags,
            horizon=self.horizon,
            min_rows=self.min_rows,
        )

    @property
    def n_features(self) -> int:
        """How many model features this configuration builds."""
        lags = self.lags + (1 if self.target == "level" else 0)
        return lags + len(self.indicator_columns)

    @model_validator(mode="after")
    def _location(self) -> BaseEvent:
        if getattr(self, "bucket", None) is not None and self.store is not None:
            raise ValueError("give either 'bucket' (the seed's form) or 'store', not both")
        if not self.location_optional and not self.seed_mode and self.store is None:
            raise ValueError(
                "missing location: give 'store' (s3://bucket/prefix or a folder) "
                "or the seed's 'bucket'"
            )
        if self.indicators is not None and self.features != "indicators":
            raise ValueError('\'indicators\' needs "features": "indicators"')
        if self.mainbucket is not None:
            safe_part(self.mainbucket, "mainbucket")
            if not self.seed_mode:
                raise ValueError("'mainbucket' belongs to the seed's form (with its buckets)")
        return self

    location_optional: ClassVar[bool] = False
    late_fields: ClassVar[tuple[str, ...]] = ("mainbucket",)

    def fingerprint(self) -> str:
        """A hash of everything that determines this invocation's outputs."""
        data = self.model_dump(mode="json", exclude={"attempt", "n_jobs", "invoked_at"})
        for name in ADDED_FIELDS:
            if getattr(self, name) == type(self).model_fields[name].default:
                del data[name]
        for name in self.late_fields:  # added to this model later: left out when unset
            if data.get(name) is None:
                data.pop(name, None)
        data["__function__"] = type(self).__name__
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


class StockEvent(BaseEvent):
    """An event about one stock: in the seed's form, in the stock's own bucket."""

    bucket: str | None = None
    stock: str

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        return None if value is None else safe_part(value, "bucket")

    @property
    def seed_mode(self) -> bool:
        return self.bucket is not None

    @property
    def stock_name(self) -> str:
        return self.stock

    @field_validator("stock")
    @classmethod
    def _stock(cls, value: str) -> str:
        return safe_series(value)


class ProcessingEvent(BaseEvent):
    """processing: clean one raw file into train / validation / test tables."""

    # Seed form: {"inbucket", "outbucket", "file"}; the per-stock pipeline's original
    # (Checkpoint 2): {"bucket", "file"}, one bucket for every stock (`SingleBucketLayout`).
    inbucket: str | None = None
    outbucket: str | None = None
    bucket: str | None = None
    file: str | None = None
    stock: str | None = None

    location_optional: ClassVar[bool] = True
    late_fields: ClassVar[tuple[str, ...]] = (*BaseEvent.late_fields, "bucket")

    @model_validator(mode="after")
    def _resolve(self) -> ProcessingEvent:
        seedish = [self.inbucket, self.outbucket]
        if self.bucket is not None:
            if any(v is not None for v in seedish):
                raise ValueError("give either 'bucket' or 'inbucket'/'outbucket', not both")
            if self.file is None:
                raise ValueError("the single-bucket form needs 'bucket' and 'file'")
            safe_part(self.bucket, "bucket")
        elif any(v is not None for v in seedish):
            if None in seedish or self.file is None:
                raise ValueError("the seed's form needs 'inbucket', 'outbucket' and 'file'")
            if self.store is not None:
                raise ValueError("give either 'inbucket'/'outbucket' or 'store', not both")
            safe_part(self.inbucket, "inbucket")
            safe_part(self.outbucket, "outbucket")
        elif self.store is None:
            raise ValueError(
                "missing location: give 'store' and 'stock', or the seed's "
                "'inbucket', 'outbucket' and 'file'"
            )
        if self.file is not None:
            derived = self._stock_of_file()
            if self.stock is not None and self.stock != derived:
                raise ValueError(f"'stock' {self.stock!r} does not match 'file' {self.file!r}")
        elif self.stock is None:
            raise ValueError("missing 'stock' (or the seed's 'file')")
        else:
            safe_series(self.stock)
        return self

    def _stock_of_file(self) -> str:
        """The stock a ``file`` (relative to ``raw/``) holds under the input's template."""
        file = self.file or ""
        if self.input.files == DEFAULT_FILES:
            return stock_from_raw_file(file)
        if self.input.long:
            raise ValueError("'file' names one series' file; a long-format input has none")
        derived = self.input.series_of(RAW_PREFIX + file)
        if derived is None:
            raise ValueError(
                f"'file' {file!r} does not follow the input's template {self.input.files!r}"
            )
        return derived

    @property
    def seed_mode(self) -> bool:
        return self.outbucket is not None or self.bucket is not None

    @property
    def single_bucket(self) -> bool:
        """The Checkpoint-2 form: raw input and outputs in one bucket."""
        return self.bucket is not None

    @property
    def stock_name(self) -> str:
        return self.stock or self._stock_of_file()


class ParampredsEvent(StockEvent):
    """parampreds: train one grid grove, predict the validation set."""

    feat: int = Field(ge=1)
    samp: int = Field(ge=2)
    n_estimators: int = Field(defaults.TREES_PER_GROVE, ge=1, le=MAX_TREES)
    pred_num: int = Field(ge=0, lt=MAX_GROVES)

    @model_validator(mode="after")
    def _feat_fits(self) -> ParampredsEvent:
        _check_feat(self.feat, self.n_features)
        return self


class CellsEvent(StockEvent):
    """Shared by predmses and minmse: the grid and the number of groves per cell."""

    grid: Grid = Grid()
    groves: int = Field(defaults.GROVES_PER_CELL, ge=1, le=MAX_GROVES)

    @model_validator(mode="after")
    def _grid_fits(self) -> CellsEvent:
        _check_feat(max(self.grid.max_features), self.n_features)
        return self


class PredmsesEvent(CellsEvent):
    """predmses: one cell's MSE (with feat/samp) or every cell's (the seed's form)."""

    feat: int | None = Field(None, ge=1)
    samp: int | None = Field(None, ge=2)

    @model_validator(mode="after")
    def _one_cell(self) -> PredmsesEvent:
        if (self.feat is None) != (self.samp is None):
            raise ValueError("give both 'feat' and 'samp' (one cell) or neither (every cell)")
        return self

    @property
    def cells(self) -> list[tuple[int, int]]:
        if self.feat is not None and self.samp is not None:
            return [(self.feat, self.samp)]
        return self.grid.cells


class MinmseEvent(CellsEvent):
    """minmse: pick the grid cell with the lowest validation MSE."""


class TrainfullEvent(StockEvent):
    """trainfull: train one final grove on train+validation, predict the test set."""

    n_estimators: int = Field(defaults.FINAL_TREES, ge=1, le=MAX_TREES)
    pred_num: int = Field(ge=0, lt=MAX_GROVES)
    feat: int | None = Field(None, ge=1)
    samp: int | None = Field(None, ge=2)
    model_codec: ModelCodec = defaults.MODEL_CODEC

    @model_validator(mode="after")
    def _params(self) -> TrainfullEvent:
        if (self.feat is None) != (self.samp is None):
            raise ValueError("give both 'feat' and 'samp' or neither (read best_params.csv)")
        if self.feat is not None:
            _check_feat(self.feat, self.n_features)
        return self


class TestfullEvent(StockEvent):
    """testfull: average the final groves' test predictions, score against persistence."""

    __test__ = False  # not a pytest class
    groves: int = Field(defaults.FINAL_GROVES, ge=1, le=MAX_GROVES)


# ------------------------------------------------ the per-stock pipeline (Checkpoint 2)


class ModelingEvent(StockEvent):
    """modeling: a stock's whole model in one invocation: an in-process grid search on
    validation, then the best cell refit on training + validation.

    The seed's literal ``{"bucket", "stock"}`` gets the original's last settings: one cell
    (max_features 7, min_samples_split 10) and 20 trees. The flow sends the run's grid and
    tree counts (`lambda_functions.stages.MODELING`)."""

    grid: Grid = Grid(
        max_features=defaults.PERSTOCK_MAX_FEATURES,
        min_samples_split=defaults.PERSTOCK_MIN_SAMPLES_SPLIT,
    )
    n_estimators: int = Field(defaults.PERSTOCK_TREES, ge=1, le=MAX_TREES * MAX_GROVES)
    final_estimators: int | None = Field(None, ge=1, le=MAX_TREES * MAX_GROVES)
    model_codec: ModelCodec = defaults.MODEL_CODEC

    @model_validator(mode="after")
    def _grid_fits(self) -> ModelingEvent:
        _check_feat(max(self.grid.max_features), self.n_features)
        return self

    @property
    def refit_trees(self) -> int:
        """Trees of the refit model (default: as many as a grid cell's)."""
        return self.final_estimators or self.n_estimators


class PredictEvent(StockEvent):
    """predict: load a stock's model, predict its test split, write the test MSE."""


class MetricsEvent(BaseEvent):
    """metrics: processing and modeling runtimes (sum, max, pre/post-S3 difference) and the
    average test MSE across stocks. The seed's literal ``{}`` reads its one bucket
    (``bucket``, default ``ds5110s3``); ours reads a run's receipts and MSE files."""

    bucket: str | None = None
    stocks: tuple[str, ...] | None = None  # default: every stock with an MSE file
    location_optional: ClassVar[bool] = True

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        return None if value is None else safe_part(value, "bucket")

    @field_validator("stocks")
    @classmethod
    def _stocks(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else tuple(safe_series(s) for s in value)

    @property
    def seed_mode(self) -> bool:
        return self.store is None


class TimingmetricsEvent(BaseEvent):
    """timingmetrics: the seed's five timing tables from a run's receipts."""

    inbucket: str = "ds5110s3"
    pipeline: str = "grid"  # whose stages are the tables' rows (lambda_functions.stages)
    location_optional: ClassVar[bool] = True

    @property
    def seed_mode(self) -> bool:
        return self.store is None


class ClearbucketsEvent(BaseEvent):
    """clearbuckets: delete a run's outputs (or the seed's stock buckets), never raw input."""

    confirm: bool = False
    buckets: tuple[str, ...] | None = None
    location_optional: ClassVar[bool] = True

    @model_validator(mode="after")
    def _confirmed(self) -> ClearbucketsEvent:
        if not self.confirm:
            raise ValueError(
                'refusing to delete without confirmation: add "confirm": true to the event'
            )
        for name in self.buckets or ():
            safe_part(name, "bucket")
        return self

    @property
    def seed_mode(self) -> bool:
        return self.store is None


def _check_feat(feat: int, n_features: int) -> None:
    if feat > n_features:
        raise ValueError(
            f"feat (max_features) {feat} is larger than the {n_features} features this "
            'configuration builds; lower it or add features ("lags", or "features": '
            '"indicators")'
        )


E = TypeVar("E", bound=BaseEvent)


def parse_event(model: type[E], event: Any) -> E:
    """Validate ``event`` into ``model``; raise `InvalidEventError` naming each bad field."""
    if not isinstance(event, dict):
        raise InvalidEventError(
            f"{model.__name__}: the event must be a JSON object, got {type(event).__name__}"
        )
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "event"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field (check the spelling; see the event model's fields)"
            problems.append(f"{field}: {message}")
        raise InvalidEventError(f"invalid {model.__name__} event: " + "; ".join(problems)) from None
    except UnsafeNameError as exc:
        raise InvalidEventError(f"invalid {model.__name__} event: {exc}") from None
