"""The default run and seed mode, digested: what "unchanged" means for issue 16.

`compute_digest` runs one stock of the demo data through every worker of the grid
pipeline twice, in-process: once with the events the flow plans for a default run
configuration (`tasks.invocations.stage_events`), once with the seed's literal events in
the seed's buckets. It returns the planned events (with the per-run store and input id
masked), the default run ids, the MSEs (as float hex, exact) and a digest of every output:
CSV bytes, Parquet bytes and content, model bytes. ``tests/data/default_golden.json`` holds
the digest computed by the code before issue 16 (``python -m tests.golden --write``, run at
that commit); `tests/integration/test_default_unchanged.py` compares against it.

Parquet and model bytes embed the writing library's version, so their byte digests are
compared only under the library versions recorded with the golden; their content digests
(the table as exact CSV text: dtypes, index and every float's shortest repr) always are.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

GOLDEN = Path(__file__).parent / "data" / "default_golden.json"
STOCK = "RELIANCE"
TRADING_DAYS = 4
SMALL = {
    "max_features": (5, 9),
    "min_samples_split": (5, 25),
    "groves": 2,
    "trees": 5,
    "final_groves": 3,
    "final_trees": 5,
}
MASKED_STORE = "/golden/store"
MASKED_INPUT = "golden-input"
SEED_MAIN = "ds5110s3"


def versions() -> dict[str, str]:
    import joblib
    import numpy
    import pyarrow
    import sklearn

    return {
        "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__,
        "sklearn": sklearn.__version__,
        "numpy": numpy.__version__,
        "joblib": joblib.__version__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def frame_text(frame: pd.DataFrame) -> bytes:
    """A table as exact text: its dtypes, then every row (floats in shortest repr)."""
    dtypes = {str(c): str(t) for c, t in frame.dtypes.items()}
    head = json.dumps({"index": str(frame.index.dtype), "dtypes": dtypes}, sort_keys=True)
    return head.encode() + b"\n" + frame.to_csv().encode()


def digest_outputs(root: Path, prefix: str = "") -> dict[str, dict[str, str]]:
    """Every output file under ``root`` (receipts and runtime .txt files excluded)."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        key = prefix + path.relative_to(root).as_posix()
        if "/receipts/" in f"/{key}" or key.endswith(".txt"):
            continue
        data = path.read_bytes()
        entry = {"bytes": sha(data)}
        if key.endswith(".parquet"):
            entry["content"] = sha(frame_text(pd.read_parquet(io.BytesIO(data))))
        out[key] = entry
    return out


def masked(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "store": MASKED_STORE, "input_id": MASKED_INPUT}


def _handler(stage: str) -> Any:
    import importlib

    return importlib.import_module(f"lambda_functions.{stage}").lambda_handler


def default_run(workdir: Path, raw_dir: Path) -> dict[str, Any]:
    """One stock through the default grid pipeline with the flow's own planned events."""
    from groves.config import RunConfig
    from lambda_functions.events import Grid, parse_event
    from lambda_functions.stages import GRID, stage
    from lambda_functions.storage import open_storage
    from tasks.invocations import stage_events

    store_dir = workdir / "store"
    store = open_storage(str(store_dir))
    name = f"{STOCK}_minute_data_with_indicators.csv"
    store.put_bytes(f"raw/{name}", (raw_dir / name).read_bytes())
    config = RunConfig(
        store=str(store_dir),
        run_id="golden",
        grid=Grid(max_features=SMALL["max_features"], min_samples_split=SMALL["min_samples_split"]),
        groves=SMALL["groves"],
        trees=SMALL["trees"],
        final_groves=SMALL["final_groves"],
        final_trees=SMALL["final_trees"],
    )
    events: dict[str, list[dict[str, Any]]] = {}
    fingerprints: dict[str, list[str]] = {}
    results: dict[str, list[dict[str, Any]]] = {}
    for name_ in GRID.names:
        planned = stage_events(name_, STOCK, config, MASKED_INPUT)
        events[name_] = [masked(e) for e in planned]
        model = stage(name_).event_model
        fingerprints[name_] = [parse_event(model, masked(e)).fingerprint() for e in planned]
        for event in planned:
            receipt = _handler(name_)(event, None)
            assert receipt["status"] == "ok", receipt
            results.setdefault(name_, []).append(receipt["result"])
    test = results["testfull"][0]
    return {
        "run_ids": {
            "default": RunConfig().resolved_run_id,
            "small": config.model_copy(update={"run_id": None}).resolved_run_id,
        },
        "events": events,
        "fingerprints": fingerprints,
        "mse": {
            "test": float(test["mse"]).hex(),
            "test_persistence": float(test["persistence_mse"]).hex(),
            "validation": {k: float(v).hex() for k, v in results["predmses"][0]["mse"].items()}
            | {k: float(v).hex() for r in results["predmses"][1:] for k, v in r["mse"].items()},
            "validation_persistence": float(results["predmses"][0]["persistence_mse"]).hex(),
            "best": [results["minmse"][0]["feat"], results["minmse"][0]["samp"]],
        },
        "outputs": digest_outputs(store_dir / "runs" / "golden", "runs/golden/"),
    }


def seed_run(workdir: Path, raw_dir: Path) -> dict[str, Any]:
    """One stock through the seed's literal events, in the seed's buckets (a local root)."""
    from lambda_functions.storage import BUCKET_ROOT_ENV

    root = workdir / "buckets"
    (root / SEED_MAIN / "raw").mkdir(parents=True)
    name = f"{STOCK}_minute_data_with_indicators.csv"
    (root / SEED_MAIN / "raw" / name).write_bytes((raw_dir / name).read_bytes())
    bucket = f"{STOCK.lower()}-ds5110s3bucket"
    previous = os.environ.get(BUCKET_ROOT_ENV)
    os.environ[BUCKET_ROOT_ENV] = str(root)
    try:
        calls: list[tuple[str, dict[str, Any]]] = [
            ("processing", {"inbucket": SEED_MAIN, "outbucket": bucket, "file": name})
        ]
        for feat in (5, 7, 9):
            for samp in (5, 15, 25):
                for n in range(2):
                    calls.append(
                        (
                            "parampreds",
                            {
                                "bucket": bucket,
                                "stock": STOCK,
                                "feat": feat,
                                "samp": samp,
                                "n_estimators": 4,
                                "pred_num": n,
                            },
                        )
                    )
        calls.append(("predmses", {"bucket": bucket, "stock": STOCK, "groves": 2}))
        calls.append(("minmse", {"bucket": bucket, "stock": STOCK, "groves": 2}))
        for n in range(3):
            calls.append(
                (
                    "trainfull",
                    {"bucket": bucket, "stock": STOCK, "n_estimators": 4, "pred_num": n},
                )
            )
        calls.append(("testfull", {"bucket": bucket, "stock": STOCK, "groves": 3}))
        results = {}
        for function, event in calls:
            receipt = _handler(function)(event, None)
            assert receipt["status"] == "ok", receipt
            results[function] = receipt["result"]
    finally:
        if previous is None:
            os.environ.pop(BUCKET_ROOT_ENV, None)
        else:
            os.environ[BUCKET_ROOT_ENV] = previous
    return {
        "mse": {
            "test": float(results["testfull"]["mse"]).hex(),
            "test_persistence": float(results["testfull"]["persistence_mse"]).hex(),
        },
        "outputs": digest_outputs(root / bucket, f"{bucket}/"),
    }


def compute_digest(workdir: Path) -> dict[str, Any]:
    """Generate the demo stock into ``workdir`` and digest both runs."""
    from groves.demo_data import generate_dataset

    raw_dir = workdir / "raw"
    generate_dataset(raw_dir, [STOCK], trading_days=TRADING_DAYS, seed=0)
    return {
        "versions": versions(),
        "raw": sha((raw_dir / f"{STOCK}_minute_data_with_indicators.csv").read_bytes()),
        "default": default_run(workdir, raw_dir),
        "seed": seed_run(workdir, raw_dir),
    }


if __name__ == "__main__":
    import tempfile

    os.environ.setdefault("GROVES_N_JOBS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        digest = compute_digest(Path(tmp))
    text = json.dumps(digest, indent=1, sort_keys=True) + "\n"
    if "--write" in sys.argv:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
        print(f"wrote {GOLDEN}")
    else:
        print(text)
