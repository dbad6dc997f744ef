"""(f) the up-front input check vs reading the input (issue 16).

Three inputs, each checked the way a run checks it before anything is invoked
(`groves.inputs.check_series`) and read the way the processing worker reads it
(`lambda_functions.readers.read_series`), alternately, several times:

* a Kaggle-schema CSV (60 columns; `groves.demo_data`, pyarrow writer);
* the same rows as Parquet (row groups of 100,000 rows);
* one long-format Parquet file of three series (``unique_id, ds, y``), sorted by series;
  the read is one series' (what one processing worker reads).

Ratios = median check / median read, in time and in bytes read (counted at the store).
``python -m bench.input_check [--quick]`` writes ``bench/results/input_check.json``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import machine, write_result

FULL_DAYS = 1734  # x 375 bars = 650,250 rows: one Kaggle file
QUICK_DAYS = 200


class Counting:
    """Counts the bytes a store serves (ranges and streams)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.read = 0

    def wrap(self) -> Any:
        from lambda_functions.storage import Storage

        counter = self
        inner = self.store

        class Counted(Storage):
            url = inner.url

            def get_bytes(self, key: str) -> bytes:
                data = inner.get_bytes(key)
                counter.read += len(data)
                return data

            def open_read(self, key: str) -> Any:
                stream = inner.open_read(key)

                class Stream(io.RawIOBase):
                    def readable(self) -> bool:
                        return True

                    def readinto(self, buffer: Any) -> int:
                        data = stream.read(len(buffer))
                        buffer[: len(data)] = data
                        counter.read += len(data)
                        return len(data)

                    def close(self) -> None:
                        stream.close()
                        super().close()

                return Stream()

            def read_range(self, key: str, start: int, length: int) -> bytes:
                data = inner.read_range(key, start, length)
                counter.read += len(data)
                return data

            def put_bytes(self, key: str, data: bytes) -> None:
                inner.put_bytes(key, data)

            def head(self, key: str) -> Any:
                return inner.head(key)

            def list(self, prefix: str = "") -> Any:
                return inner.list(prefix)

            def delete_prefix(self, prefix: str) -> int:
                return inner.delete_prefix(prefix)

        return Counted()


def measure(
    check: Callable[[Any], Any], read: Callable[[Any], Any], store: Any, repeats: int
) -> dict[str, float]:
    times: dict[str, list[float]] = {"check": [], "read": []}
    bytes_read: dict[str, int] = {}
    for _ in range(repeats):
        for name, fn in (("check", check), ("read", read)):
            counting = Counting(store)
            started = time.perf_counter()
            fn(counting.wrap())
            times[name].append(time.perf_counter() - started)
            bytes_read[name] = counting.read
    check_s, read_s = statistics.median(times["check"]), statistics.median(times["read"])
    return {
        "check_s": check_s,
        "read_s": read_s,
        "time_ratio": check_s / read_s,
        "check_bytes": bytes_read["check"],
        "read_bytes": bytes_read["read"],
        "bytes_ratio": bytes_read["check"] / bytes_read["read"],
    }


def run(days: int, repeats: int, workdir: Path) -> dict[str, Any]:
    import pandas as pd

    from groves.demo_data import generate_dataset
    from groves.inputs import _COUNTS, check_series
    from lambda_functions.features import FeatureSpec
    from lambda_functions.inputs import InputSpec, series_sources
    from lambda_functions.readers import read_series
    from lambda_functions.storage import open_storage

    store = open_storage(str(workdir))
    (path,) = generate_dataset(workdir / "raw", ["RELIANCE"], trading_days=days, engine="pyarrow")
    frame = pd.read_csv(path)
    frame.to_parquet(workdir / "raw" / "RELIANCE.parquet", index=False, row_group_size=100_000)
    rows = len(frame)
    long = pd.concat(
        [
            pd.DataFrame({"unique_id": name, "ds": pd.to_datetime(frame["date"]), "y": frame[col]})
            for name, col in (("AAPL", "close"), ("MSFT", "open"), ("NVDA", "TYPPRICE"))
        ],
        ignore_index=True,
    )
    long.to_parquet(workdir / "raw" / "long.parquet", index=False, row_group_size=100_000)
    cases = {
        "kaggle_csv": (InputSpec(), "RELIANCE"),
        "parquet": (InputSpec(files="{series}.parquet"), "RELIANCE"),
        "long_parquet": (
            InputSpec(
                files="long.parquet", series_column="unique_id", time_column="ds", value_column="y"
            ),
            "MSFT",
        ),
    }
    results: dict[str, Any] = {"rows_per_series": rows}
    for name, (spec, series) in cases.items():
        features = FeatureSpec(value=spec.value_column)

        def check(
            s: Any, spec: InputSpec = spec, series: str = series, features: Any = features
        ) -> Any:
            _COUNTS.clear()  # a run checks once per process: no memo across repeats
            outcome = check_series(s, spec, [series], features)
            assert not outcome.problems, outcome.problems

        def read(s: Any, spec: InputSpec = spec, series: str = series) -> Any:
            return read_series(s, spec, series, series_sources(s, spec, series))

        results[name] = measure(check, read, store, repeats)
        results[name]["file_bytes"] = sum(i.size for i in series_sources(store, spec, series))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DAYS} days, 3 repeats")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    days, repeats = (QUICK_DAYS, 3) if args.quick else (FULL_DAYS, 5)
    with tempfile.TemporaryDirectory() as tmp:
        result = {"machine": machine(), "days": days, **run(days, repeats, Path(tmp))}
    kwargs = {"out": args.out} if args.out else {}
    print(write_result("input_check", result, **kwargs))
    for name in ("kaggle_csv", "parquet", "long_parquet"):
        r = result[name]
        print(
            f"{name}: check/read time {r['time_ratio']:.4f} ({r['check_s']:.3f} s / "
            f"{r['read_s']:.3f} s), bytes {r['bytes_ratio']:.4f} "
            f"({r['check_bytes']:,} / {r['read_bytes']:,} of {r['file_bytes']:,})"
        )


if __name__ == "__main__":
    main()
