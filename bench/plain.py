"""(b)'s baseline: the pipeline's fits as a straightforward joblib script.

No Prefect, no store, no receipts: read each raw CSV, build the same features and
splits, fit every grid grove with ``joblib.Parallel`` (one process per core, each fit
single-threaded, the same seeds), score the cells, refit the best cell's final groves
and score them on the test split. Run as ``python -m bench.plain SPEC_JSON``; prints a
JSON result (wall seconds after imports, and the per-stock test MSEs).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def _prepare(path: str) -> dict[str, Any]:
    from lambda_functions.features import build_features, read_raw, split_frame

    with open(path, "rb") as stream:
        raw = read_raw(stream, path)
    return split_frame(build_features(raw, path), "chronological")


def _fit_predict(train: Any, evaluate: Any, feat: int, samp: int, trees: int, seed: int) -> Any:
    from lambda_functions.forests import fit_grove, predict_levels

    model = fit_grove(train, target="change", indicators=(), feat=feat, samp=samp,
                      n_estimators=trees, random_state=seed, n_jobs=1)  # fmt: skip
    return predict_levels(model, evaluate, target="change", indicators=())


def plain_run(spec: dict[str, Any]) -> dict[str, Any]:
    """Grid search and final model for every stock of ``spec`` (see `bench.pipeline`)."""
    import pandas as pd
    from joblib import Parallel, delayed

    from lambda_functions.features import PRICE, TARGET
    from lambda_functions.forests import grove_seed, mean_prediction, mse

    stocks, cells = spec["stocks"], [tuple(c) for c in spec["cells"]]
    raw = Path(spec["raw_dir"])
    seed, groves, final_groves = spec["seed"], spec["groves"], spec["final_groves"]
    start = time.perf_counter()
    with Parallel(n_jobs=spec["workers"]) as parallel:
        paths = [str(raw / f"{s}_minute_data_with_indicators.csv") for s in stocks]
        parts = dict(zip(stocks, parallel(delayed(_prepare)(p) for p in paths), strict=True))
        jobs = [(s, f, m, g) for s in stocks for f, m in cells for g in range(groves)]
        preds = parallel(
            delayed(_fit_predict)(parts[s]["training"], parts[s]["validation"], f, m,
                                  spec["trees"], grove_seed(seed, s, "grid", f, m, g))
            for s, f, m, g in jobs
        )  # fmt: skip
        by_cell: dict[tuple[str, int, int], list[Any]] = {}
        for (s, f, m, _), p in zip(jobs, preds, strict=True):
            by_cell.setdefault((s, f, m), []).append(p)
        best = {}
        for s in stocks:
            valid = parts[s]["validation"]
            scores = sorted(
                (mse(valid[TARGET].to_numpy(), mean_prediction(by_cell[(s, f, m)], valid.index)),
                 f, m)
                for f, m in cells
            )  # fmt: skip
            best[s] = scores[0]
        finals = [(s, g) for s in stocks for g in range(final_groves)]
        test_preds = parallel(
            delayed(_fit_predict)(
                pd.concat([parts[s]["training"], parts[s]["validation"]]), parts[s]["testing"],
                best[s][1], best[s][2], spec["final_trees"],
                grove_seed(seed, s, "final", best[s][1], best[s][2], g))
            for s, g in finals
        )  # fmt: skip
    results = {}
    for s in stocks:
        test = parts[s]["testing"]
        mine = [p for (t, _), p in zip(finals, test_preds, strict=True) if t == s]
        actual = test[TARGET].to_numpy()
        results[s] = {
            "best_feat": best[s][1],
            "best_samp": best[s][2],
            "test_mse": mse(actual, mean_prediction(mine, test.index)),
            "test_persistence_mse": mse(actual, test[PRICE].to_numpy()),
        }
    return {"wall_s": time.perf_counter() - start, "stocks": results}


if __name__ == "__main__":
    print(json.dumps(plain_run(json.loads(sys.argv[1]))))
