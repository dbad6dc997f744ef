"""Every storage key groves reads or writes is built here, and only here.

Two layouts share one relative tree per stock (the seed's "S3 Bucket File Structure"):

* `RunLayout` (default): one root (a bucket+prefix or a folder); raw files under ``raw/``,
  everything of a run under ``runs/{run_id}/``: its configuration and summary, a space per
  stock (``stocks/{STOCK}/``), the receipts and the timing report. Tables are Parquet.
* `SeedLayout`: the original's buckets. Raw files in the main bucket ``ds5110s3/raw/``,
  each stock's tree at the root of its own bucket ``{stock}-ds5110s3bucket``, the timing
  tables in ``ds5110s3/timingmetrics/``. Tables are CSV, and each worker also writes the
  original's runtime ``.txt`` files (`StockSpace.runtimes_dir`).

Stocks (series) are named as given everywhere except in keys, which spell them with
`lambda_functions.names.series_key` (``NIFTY 50`` -> ``stocks/NIFTY~2050/``); Kaggle
symbols are their own keys. Raw file names hold the name as given (the Kaggle files are
called ``NIFTY 50_minute_data_with_indicators.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lambda_functions.names import RAW_SUFFIX, safe_part, safe_series, safe_stock, series_key

TableFormat = Literal["parquet", "csv"]
SPLITS = ("training", "validation", "testing")
SEED_MAIN_BUCKET = "ds5110s3"
SEED_BUCKET_SUFFIX = "-ds5110s3bucket"
RUN_LEVEL_OWNER = "_run"  # the receipt folder of run-level invocations
TIMING_FOLDER = "timingmetrics/"
PLOTS_FOLDER = "plots/"


def seed_bucket(stock: str) -> str:
    """The seed's bucket name for a stock."""
    return f"{safe_stock(stock).lower()}{SEED_BUCKET_SUFFIX}"


def raw_key(stock: str) -> str:
    """A stock's raw Kaggle file, relative to the store root (or the seed's main bucket).

    Other file-name templates: `lambda_functions.inputs.InputSpec.file_key`."""
    return f"raw/{safe_series(stock)}{RAW_SUFFIX}"


def cell_name(feat: int, samp: int) -> str:
    return f"feat{int(feat)}_samp{int(samp)}"


def timing_table_file(name: str) -> str:
    """The seed's file name of a timing table, e.g. ``actualtimingmetrics.csv``."""
    return f"{name}timingmetrics.csv"


@dataclass(frozen=True)
class StockSpace:
    """The keys of one stock's outputs (relative to its bucket, or the run's root)."""

    stock: str  # the name as given; keys spell it with `series_key`
    table_format: TableFormat
    prefix: str = ""  # run layout: runs/{run}/stocks/{STOCK}/

    def key(self, relative: str) -> str:
        return self.prefix + relative

    @property
    def ext(self) -> str:
        return "csv" if self.table_format == "csv" else "parquet"

    def processed(self, split: str) -> str:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return self.key(f"processed/{split}/{series_key(self.stock)}.{self.ext}")

    def params_dir(self) -> str:
        """The grid search: a folder per cell."""
        return self.key("models/params/")

    def cell_dir(self, feat: int, samp: int) -> str:
        return f"{self.params_dir()}{cell_name(feat, samp)}/"

    def cell_preds(self, feat: int, samp: int, pred_num: int) -> str:
        return f"{self.cell_dir(feat, samp)}preds/preds_{int(pred_num)}.{self.ext}"

    def cell_mse(self, feat: int, samp: int) -> str:
        return f"{self.cell_dir(feat, samp)}mse.csv"

    def optimized_dir(self) -> str:
        return self.key("models/optimized/")

    def best_params(self) -> str:
        return f"{self.optimized_dir()}best_params.csv"

    def final_dir(self) -> str:
        return f"{self.optimized_dir()}models/"

    def final_model(self, pred_num: int) -> str:
        return f"{self.final_dir()}models/model_{int(pred_num)}.sav"

    def final_preds_dir(self) -> str:
        """The final groves' test predictions."""
        return f"{self.final_dir()}preds/"

    def final_preds(self, pred_num: int) -> str:
        return f"{self.final_preds_dir()}preds_{int(pred_num)}.{self.ext}"

    def final_mse(self) -> str:
        return f"{self.final_dir()}mse.csv"

    def processed_runtimes_dir(self) -> str:
        return self.key("processed/runtimes/")

    def cell_runtimes_dir(self, feat: int, samp: int) -> str:
        return f"{self.cell_dir(feat, samp)}runtimes/"

    def optimized_runtimes_dir(self) -> str:
        return f"{self.optimized_dir()}runtimes/"

    def final_runtimes_dir(self) -> str:
        return f"{self.final_dir()}runtimes/"

    # The per-stock pipeline (the original's Checkpoint 2): one model file per stock.

    def stock_model(self) -> str:
        return self.key(f"models/models/{series_key(self.stock)}.sav")

    def stock_mse(self) -> str:
        """The test MSE as text (the original's ``models/mses/{STOCK}.txt``)."""
        return self.key(f"models/mses/{series_key(self.stock)}.txt")

    def stock_runtime(self, stage: str, when: Literal["pres3", "posts3"]) -> str:
        """``processed/`` or ``models/`` ``runtimes/{pres3|posts3}/{STOCK}.txt``: ms from an
        invocation's start to before its writes, and to after them."""
        folder = {"processing": "processed", "modeling": "models"}[stage]
        return self.key(f"{folder}/runtimes/{when}/{series_key(self.stock)}.txt")


@dataclass(frozen=True)
class RunLayout:
    """The default layout: one root, a run under ``runs/{run_id}/``."""

    run_id: str = "default"
    seed_mode = False

    def run_prefix(self) -> str:
        return f"runs/{safe_part(self.run_id, 'run id')}/"

    def stock_prefix(self, stock: str) -> str:
        return f"{self.run_prefix()}stocks/{series_key(stock)}/"

    def receipts_prefix(self, function: str | None = None) -> str:
        """The run's receipts, or one function's."""
        base = self.run_prefix() + "receipts/"
        return base + f"{safe_part(function, 'function')}/" if function else base

    def receipt_key(
        self, function: str, stock: str | None, unit: str, *, outlives_run: bool = False
    ) -> str:
        """One invocation's receipt; run-level invocations (no stock) share one folder.

        ``outlives_run``: the invocation deletes the run (clearbuckets), so its receipt
        goes beside the runs, ``receipts/{function}/{run_id}.json``, not inside the run."""
        if outlives_run:
            run = safe_part(self.run_id, "run id")
            return f"receipts/{safe_part(function, 'function')}/{run}.json"
        owner = series_key(stock) if stock else RUN_LEVEL_OWNER
        return f"{self.receipts_prefix(function)}{owner}/{safe_part(unit, 'invocation unit')}.json"

    def config_key(self) -> str:
        return self.run_prefix() + "config.json"

    def summary_key(self) -> str:
        return self.run_prefix() + "summary.json"

    def timing_prefix(self) -> str:
        return self.run_prefix() + TIMING_FOLDER

    def timing_table_key(self, name: str) -> str:
        return self.timing_prefix() + timing_table_file(name)

    def report_key(self, file_name: str) -> str:
        """A file of the run's timing report (``report.json``, ``cost.csv``, plots)."""
        return self.timing_prefix() + safe_part(file_name, "report file")

    def plots_prefix(self) -> str:
        """The run's result plots (the timing plots are in the timing report)."""
        return self.run_prefix() + PLOTS_FOLDER

    def plot_key(self, file_name: str, stock: str | None = None) -> str:
        """A result plot: run-level (``plots/overview.png``) or a stock's
        (``plots/{STOCK}/forecast.png``)."""
        folder = f"{self.plots_prefix()}{safe_stock(stock)}/" if stock else self.plots_prefix()
        return folder + safe_part(file_name, "plot file")


@dataclass(frozen=True)
class SeedLayout:
    """The original's layout: keys relative to a stock's bucket or the main bucket."""

    run_id = None
    seed_mode = True

    def stock_prefix(self, stock: str) -> str:
        safe_series(stock)
        return ""

    def receipts_prefix(self, function: str | None = None) -> str:
        """Receipts in a bucket, or one function's."""
        return f"receipts/{safe_part(function, 'function')}/" if function else "receipts/"

    def receipt_key(
        self, function: str, stock: str | None, unit: str, *, outlives_run: bool = False
    ) -> str:
        """In the stock's bucket (run-level ones: in the main bucket)."""
        return f"{self.receipts_prefix(function)}{safe_part(unit, 'invocation unit')}.json"

    def timing_prefix(self) -> str:
        return TIMING_FOLDER

    def timing_table_key(self, name: str) -> str:
        return self.timing_prefix() + timing_table_file(name)


@dataclass(frozen=True)
class SingleBucketLayout:
    """The per-stock pipeline's original layout (Checkpoint 2): ONE bucket for every stock,
    raw files under ``raw/``, each stock's outputs named by the stock
    (``processed/training/{STOCK}.csv``, ``models/models/{STOCK}.sav``, ...).

    The per-stock workers write the original's ``pres3``/``posts3`` runtime files
    themselves, so ``seed_mode`` (the final system's per-stage runtime files) is off."""

    run_id = None
    seed_mode = False
    single_bucket = True

    def stock_prefix(self, stock: str) -> str:
        safe_series(stock)
        return ""

    def receipts_prefix(self, function: str | None = None) -> str:
        return f"receipts/{safe_part(function, 'function')}/" if function else "receipts/"

    def receipt_key(
        self, function: str, stock: str | None, unit: str, *, outlives_run: bool = False
    ) -> str:
        owner = series_key(stock) if stock else RUN_LEVEL_OWNER
        return f"{self.receipts_prefix(function)}{owner}/{safe_part(unit, 'invocation unit')}.json"


Layout = RunLayout | SeedLayout | SingleBucketLayout
