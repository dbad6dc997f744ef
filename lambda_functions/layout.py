"""Every storage key groves reads or writes is built here, and only here.

Two modes share one relative tree per stock (the seed's "S3 Bucket File Structure"):

* seed mode: the stock's own bucket ``{stock}-ds5110s3bucket`` is the stock's space and
  raw files live in ``ds5110s3/raw/``; tables are CSV.
* default mode: one root (a bucket+prefix or a folder); raw files under ``raw/``, a stock's
  space under ``runs/{run_id}/stocks/{STOCK}/``; tables are Parquet.

Receipts are written under ``receipts/`` (seed mode: in the stock bucket) or
``runs/{run_id}/receipts/`` (default mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lambda_functions.names import RAW_SUFFIX, safe_part, safe_stock
from lambda_functions.storage import Storage

TableFormat = Literal["parquet", "csv"]
SPLITS = ("training", "validation", "testing")
SEED_MAIN_BUCKET = "ds5110s3"
SEED_BUCKET_SUFFIX = "-ds5110s3bucket"


def seed_bucket(stock: str) -> str:
    """The seed's bucket name for a stock."""
    return f"{safe_stock(stock).lower()}{SEED_BUCKET_SUFFIX}"


def raw_key(stock: str) -> str:
    return f"raw/{safe_stock(stock)}{RAW_SUFFIX}"


def cell_name(feat: int, samp: int) -> str:
    return f"feat{int(feat)}_samp{int(samp)}"


@dataclass(frozen=True)
class StockSpace:
    """The keys of one stock's outputs, relative to ``store`` (its bucket or run folder)."""

    store: Storage
    stock: str
    table_format: TableFormat
    prefix: str = ""  # default mode: runs/{run}/stocks/{STOCK}/

    def key(self, relative: str) -> str:
        return self.prefix + relative

    @property
    def ext(self) -> str:
        return "csv" if self.table_format == "csv" else "parquet"

    def processed(self, split: str) -> str:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return self.key(f"processed/{split}/{self.stock}.{self.ext}")

    def cell_dir(self, feat: int, samp: int) -> str:
        return self.key(f"models/params/{cell_name(feat, samp)}/")

    def cell_preds(self, feat: int, samp: int, pred_num: int) -> str:
        return f"{self.cell_dir(feat, samp)}preds/preds_{int(pred_num)}.{self.ext}"

    def cell_mse(self, feat: int, samp: int) -> str:
        return f"{self.cell_dir(feat, samp)}mse.csv"

    def best_params(self) -> str:
        return self.key("models/optimized/best_params.csv")

    def final_dir(self) -> str:
        return self.key("models/optimized/models/")

    def final_model(self, pred_num: int) -> str:
        return f"{self.final_dir()}models/model_{int(pred_num)}.sav"

    def final_preds(self, pred_num: int) -> str:
        return f"{self.final_dir()}preds/preds_{int(pred_num)}.{self.ext}"

    def final_mse(self) -> str:
        return f"{self.final_dir()}mse.csv"

    def runtimes_dir(self, function: str, feat: int = 0, samp: int = 0) -> str:
        """Where the seed's runtime ``.txt`` files of a function go."""
        return {
            "processing": self.key("processed/runtimes/"),
            "parampreds": f"{self.cell_dir(feat, samp)}runtimes/",
            "predmses": f"{self.cell_dir(feat, samp)}runtimes/",
            "minmse": self.key("models/optimized/runtimes/"),
            "trainfull": f"{self.final_dir()}runtimes/",
            "testfull": f"{self.final_dir()}runtimes/",
        }[function]


@dataclass(frozen=True)
class RunLayout:
    """Where a run's raw input, stock spaces, receipts and reports live."""

    seed_mode: bool
    root: Storage | None = None  # default mode
    run_id: str = "default"

    def run_prefix(self) -> str:
        return f"runs/{safe_part(self.run_id, 'run id')}/"

    def receipts_prefix(self) -> str:
        return "receipts/" if self.seed_mode else self.run_prefix() + "receipts/"

    def receipt_key(self, function: str, stock: str | None, unit: str) -> str:
        """Key of one invocation's receipt, relative to the receipt store."""
        safe_part(function, "function")
        safe_part(unit, "invocation unit")
        if self.seed_mode:
            return f"receipts/{function}/{unit}.json"
        owner = safe_stock(stock) if stock else "_run"
        return f"{self.receipts_prefix()}{function}/{owner}/{unit}.json"

    def timing_prefix(self) -> str:
        return "timingmetrics/" if self.seed_mode else self.run_prefix() + "timingmetrics/"

    def stock_prefix(self, stock: str) -> str:
        return "" if self.seed_mode else f"{self.run_prefix()}stocks/{safe_stock(stock)}/"

    def config_key(self) -> str:
        return self.run_prefix() + "config.json"


def invocation_unit(
    function: str, feat: int | None = None, samp: int | None = None, pred_num: int | None = None
) -> str:
    """The per-stock name of one invocation (used in receipt keys and task names)."""
    if function == "parampreds":
        return f"{cell_name(feat or 0, samp or 0)}_g{int(pred_num or 0)}"
    if function == "trainfull":
        return f"g{int(pred_num or 0)}"
    if function == "predmses":
        return cell_name(feat, samp) if feat is not None and samp is not None else "all"
    return function
