"""(e) processed-data read, Parquet vs CSV: one stock's training split, 650,000-row source.

A 650,250-row raw file (1,734 trading days, `groves.demo_data` with the pyarrow writer) goes
through the real processing worker (Parquet tables); its training split is also written
as CSV with the same serialiser the CSV table format uses (`lambda_functions.tables`).
Then `lambda_functions.tables.read_table` (what every worker reads with) loads each,
alternately, several times. Ratio = median CSV read / median Parquet read.

The processing worker writes to a local store, so its table is uncompressed Parquet
(`LocalStorage.table_compression`); also measured: the same table as an S3 store writes
it (zstd: fewer bytes to transfer, slower to decode), read by the same `read_table`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import machine, write_result

SOURCE_DAYS = 1734  # x 375 bars = 650,250 rows
STOCK = "RELIANCE"


def run(repeats: int, workdir: Path) -> dict[str, Any]:
    """Generate, process, then time the two reads; returns the figures."""
    import os

    os.environ.setdefault("GROVES_N_JOBS", "1")
    from groves.demo_data import generate_dataset
    from lambda_functions import processing
    from lambda_functions.storage import S3Storage, open_storage
    from lambda_functions.tables import read_table, table_bytes

    store_url = str(workdir / "store")
    started = time.perf_counter()
    (path,) = generate_dataset(Path(store_url) / "raw", [STOCK], trading_days=SOURCE_DAYS,
                               seed=0, engine="pyarrow")  # fmt: skip
    generate_s = time.perf_counter() - started
    receipt = processing.lambda_handler(
        {"store": store_url, "run_id": "formats", "stock": STOCK, "table_format": "parquet"}
    )
    store = open_storage(store_url)
    parquet_key = f"runs/formats/stocks/{STOCK}/processed/training/{STOCK}.parquet"
    csv_key = parquet_key.removesuffix(".parquet") + ".csv"
    s3_key = parquet_key.removesuffix(".parquet") + "-s3.parquet"
    frame = read_table(store, parquet_key)
    store.put_bytes(csv_key, table_bytes(frame, "csv"))
    store.put_bytes(s3_key, table_bytes(frame, "parquet", S3Storage.table_compression))
    same = all(
        bool((other.index == frame.index).all()) and (other.to_numpy() == frame.to_numpy()).all()
        for other in (read_table(store, csv_key), read_table(store, s3_key))
    )
    keys = {"parquet": parquet_key, "csv": csv_key, "s3_parquet": s3_key}
    times: dict[str, list[float]] = {name: [] for name in keys}
    for _ in range(repeats):
        for name, key in keys.items():
            t = time.perf_counter()
            read_table(store, key)
            times[name].append(time.perf_counter() - t)
    parquet_s = statistics.median(times["parquet"])
    csv_s = statistics.median(times["csv"])
    s3_s = statistics.median(times["s3_parquet"])
    return {
        "parquet_codec": store.table_compression or "none",
        "s3_parquet_codec": S3Storage.table_compression,
        "s3_parquet_bytes": store.head(s3_key).size,
        "s3_parquet_read_s": s3_s,
        "ratio_csv_over_s3_parquet": csv_s / s3_s,
        "source_rows": sum(1 for _ in open(path, "rb")) - 1,
        "source_bytes": path.stat().st_size,
        "training_rows": len(frame),
        "training_columns": len(frame.columns) + 1,
        "parquet_bytes": store.head(parquet_key).size,
        "csv_bytes": store.head(csv_key).size,
        "same_table": bool(same),
        "repeats": repeats,
        "parquet_read_s": parquet_s,
        "csv_read_s": csv_s,
        "ratio_csv_over_parquet": csv_s / parquet_s,
        "goal_ratio": 10.0,
        "generate_s": generate_s,
        "processing_ms": receipt["compute_ms"] + receipt["read_ms"] + receipt["write_ms"],
        "reads_s": {k: [round(v, 5) for v in vs] for k, vs in times.items()},
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 reads of each, not 9.")
    parser.add_argument("--out", type=Path, default=None, help="Results folder.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="groves-bench-") as tmp:
        result = run(3 if args.quick else 9, Path(tmp))
    kwargs = {"out": args.out} if args.out else {}
    print(write_result("read_formats", result, **kwargs))
    print(json.dumps({"ratio_csv_over_parquet": result["ratio_csv_over_parquet"]}))


if __name__ == "__main__":
    main()
