"""Bad input at the command line: rejected with a message that says what is wrong and what
to do, a non-zero exit, and nothing stored changed.

The options, names and store cases are caught before Prefect starts (the flow is replaced
by a stub that fails the test if it is ever called). Bad file contents are checked up front on a
sample (one day of data, an all-NaN TYPPRICE column, a missing column); flaws past the
sample only the processing worker sees: one run through the Lambda endpoint covers a text
value in the last row, TYPPRICE gone after row 900 and a UTF-8 BOM (accepted). The
handler-level corpus of bad files and events is tests/integration/test_bad_input.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows import pipeline
from groves.cli import app
from groves.inputs import SAMPLE_BYTES
from lambda_functions.storage import open_storage
from tests.reliability.conftest import BUCKET, Lambda, delta

Invoke = Callable[..., tuple[int, str]]
SMALL_ARGS = [
    "--grid-feat", "5", "--grid-samp", "5,25", "--groves", "1", "--trees", "3",
    "--final-groves", "2", "--final-trees", "3",
]  # fmt: skip


def squash(text: str) -> str:
    """Text without whitespace: rich wraps long lines wherever it likes."""
    return "".join(text.split())


def snapshot(url: str) -> dict[str, bytes]:
    store = open_storage(url)
    return {k: store.get_bytes(k) for k in store.keys("")}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """``cli(*args, flow=False)``: run ``groves`` in-process; return exit code and output.

    Unless ``flow`` is true, starting the flow fails the test: the error must come first.
    """
    for name in (  # the CLI sets these defaults; restore them afterwards
        "PREFECT_LOGGING_LEVEL",
        "PREFECT_SERVER_ANALYTICS_ENABLED",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
    ):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)
    real = pipeline.forecast_pipeline

    def invoke(*args: str, flow: bool = False) -> tuple[int, str]:
        def stub(*_: object, **__: object) -> None:
            raise AssertionError("the flow started: this input should fail before Prefect")

        monkeypatch.setattr(pipeline, "forecast_pipeline", real if flow else stub)
        result = CliRunner().invoke(app, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    return invoke


# (case, extra arguments, exit code, what the message must say)
OPTION_CASES = [
    ("groves absurd", ["--groves", "100000"], 1, ["groves", "less than or equal to 1000"]),
    ("final groves absurd", ["--final-groves", "100000"], 1, ["less than or equal to 1000"]),
    ("trees absurd", ["--trees", "1000000"], 1, ["trees", "less than or equal to 5000"]),
    (
        "grid of 200 values",
        ["--grid-feat", ",".join(str(v) for v in range(1, 201))],
        1,
        ["grid has 400 cells; at most 100 are allowed"],
    ),
    ("grid not integers", ["--grid-feat", "5,seven"], 2, ["expected comma-separated integers"]),
    (
        "feat beyond features",
        ["--grid-feat", "50"],
        1,
        ["feat (max_features) 50 is larger than the 10 features", "lower it"],
    ),
    ("stock with ..", ["--stocks", "../x"], 1, ["unsafe stock name '../x'", "not allowed"]),
    ("stock with a tab", ["--stocks", "TC\tS"], 1, ["unsafe stock name", "control characters"]),
    (
        "stock with spaces, no file",  # any name is fine (issue 16); this one has no file
        ["--stocks", "NIFTY 50"],
        1,
        ["unknown stock 'NIFTY 50'", "raw/NIFTY 50_minute_data_with_indicators.csv"],
    ),
    ("stock twice", ["--stocks", "TCS,TCS"], 1, ["stocks lists a stock more than once"]),
    ("run id with space", ["--run-id", "a b"], 1, ["invalid run id 'a b'", "use letters"]),
    ("run id with ..", ["--run-id", "../x"], 1, ["unsafe run id '../x'"]),
    (
        "unknown stock",
        ["--stocks", "NOPE"],
        1,
        ["unknown stock 'NOPE'", "add its Kaggle CSV under raw/"],
    ),
    ("unknown split", ["--split", "sideways"], 1, ["'chronological' or 'random'"]),
    (
        "files without {series}",
        ["--files", "prices.csv"],
        1,
        ["invalid options: files 'prices.csv' has no {series}", "series_column"],
    ),
    ("files escaping raw/", ["--files", "../{series}.csv"], 1, ["invalid option files:", "'..'"]),
    (
        "one column for time and value",
        ["--time-column", "close", "--value-column", "close"],
        1,
        ["the time, value and series columns must differ"],
    ),
    ("unknown time format", ["--time-format", "minutes"], 1, ["invalid option time_format"]),
    ("unknown time zone", ["--timezone", "Mars/Base"], 1, ["unknown time zone 'Mars/Base'"]),
    ("no lags", ["--lags", "0"], 1, ["invalid option lags"]),
    (
        "fewer lags than max_features",
        ["--lags", "3"],
        1,
        ["feat (max_features) 5 is larger than the 3 features"],
    ),
    (
        "value column not in the files",
        ["--value-column", "vwap"],
        1,
        ["TCS: raw/TCS_minute_data_with_indicators.csv: missing column(s) ['vwap']"],
    ),
    ("zero timeout", ["--timeout", "0"], 1, ["timeout_s", "greater than 0"]),
]


@pytest.mark.parametrize(
    ("extra", "code", "needles"),
    [case[1:] for case in OPTION_CASES],
    ids=[case[0] for case in OPTION_CASES],
)
def test_bad_options_and_names(
    cli: Invoke, local_store: str, extra: list[str], code: int, needles: list[str]
) -> None:
    before = snapshot(local_store)
    exit_code, output = cli(
        "run", "--local", "--data", local_store, "--stocks", "TCS", *SMALL_ARGS, *extra
    )
    assert exit_code == code, output
    for needle in needles:
        assert squash(needle) in squash(output), output
    assert snapshot(local_store) == before


def test_unsafe_raw_file_name_in_the_store(cli: Invoke, local_store: str) -> None:
    store = open_storage(local_store)
    store.put_bytes("raw/A..B_minute_data_with_indicators.csv", b"date,TYPPRICE\n")
    before = snapshot(local_store)
    exit_code, output = cli("run", "--local", "--data", local_store, *SMALL_ARGS)
    assert exit_code == 1
    assert squash("unsafe stock name 'A..B'") in squash(output), output
    assert squash("rename the file") in squash(output)
    assert snapshot(local_store) == before


def test_unusable_files_are_named_before_anything_runs(cli: Invoke, local_store: str) -> None:
    # Issue 16: each series is checked up front; each bad one is named with what to fix.
    store = open_storage(local_store)
    clean = store.get_bytes("raw/TCS_minute_data_with_indicators.csv")
    header, *rows = clean.rstrip(b"\n").split(b"\n")
    store.put_bytes("raw/ONEDAY_minute_data_with_indicators.csv", b"\n".join([header, *rows[:375]]))
    store.put_bytes("raw/NOPRICE_minute_data_with_indicators.csv", b"date,close\n1,2\n")
    nans = clean.decode().splitlines()
    at = nans[0].split(",").index("TYPPRICE")
    nans = [nans[0]] + [
        ",".join(v if i != at else "" for i, v in enumerate(line.split(","))) for line in nans[1:]
    ]
    store.put_text("raw/NANS_minute_data_with_indicators.csv", "\n".join(nans) + "\n")
    before = snapshot(local_store)
    exit_code, output = cli("run", "--local", "--data", local_store, *SMALL_ARGS)
    assert exit_code == 1
    text = squash(output)
    assert squash("3 series cannot be used") in text, output
    assert squash("--tolerate 3") in text
    assert (
        squash(
            "NANS: raw/NANS_minute_data_with_indicators.csv: column(s) ['TYPPRICE'] have no values"
        )
        in text
    )
    assert (
        squash("ONEDAY: raw/ONEDAY_minute_data_with_indicators.csv: only 364 usable rows") in text
    )
    assert squash("at least 1000 are needed") in text
    assert (
        squash(
            "NOPRICE: raw/NOPRICE_minute_data_with_indicators.csv: missing column(s) ['TYPPRICE']"
        )
        in text
    )
    assert snapshot(local_store) == before


def test_store_folder_that_cannot_exist(cli: Invoke) -> None:
    exit_code, output = cli("run", "--local", "--data", "/proc/groves-store", *SMALL_ARGS)
    assert exit_code == 1
    assert squash("cannot use /proc/groves-store as a store") in squash(output), output
    assert squash("give a writable folder") in squash(output)
    assert not os.path.exists("/proc/groves-store")


def test_store_that_is_a_file(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "store.csv"
    path.write_bytes(b"not a folder")
    exit_code, output = cli("run", "--local", "--data", str(path), *SMALL_ARGS)
    assert exit_code == 1
    assert squash(f"cannot use {path} as a store: Not a directory") in squash(output), output
    assert path.read_bytes() == b"not a folder"


def test_store_url_of_unknown_scheme(cli: Invoke) -> None:
    exit_code, output = cli("run", "--data", "ftp://host/store", "--stocks", "TCS", *SMALL_ARGS)
    assert exit_code == 1
    assert squash("unsupported store URL 'ftp://host/store'") in squash(output), output


def test_bucket_that_does_not_exist(
    cli: Invoke, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    args = ["run", "--executor", "lambda", "--data", "s3://groves-no-such-bucket/data"]
    exit_code, output = cli(*args, "--stocks", "TCS", *SMALL_ARGS)
    assert exit_code == 1
    expected = "bucket 'groves-no-such-bucket' does not exist: create it or fix the store URL"
    assert squash(expected) in squash(output), output


# --------------------------------------------------------------------------- bad contents


@pytest.mark.slow
def test_bad_file_contents_fail_their_stock_only_and_are_not_retried(
    cli: Invoke, lam: Lambda, tmp_path: Path
) -> None:
    # Flaws past the sample the up-front check reads (groves.inputs.SAMPLE_BYTES) only the
    # processing worker sees; flaws within it are caught before anything is invoked.
    from groves.demo_data import generate_dataset

    path = generate_dataset(tmp_path, ["TCS"], trading_days=8, seed=0)[0]
    clean = path.read_bytes()
    assert len(clean) > SAMPLE_BYTES
    frame = pd.read_csv(path, dtype={"date": str})
    late_text = frame.astype({"TYPPRICE": object})
    late_text.loc[len(frame) - 1, "TYPPRICE"] = "12.5O"  # the last row; a letter O
    late_nans = frame.copy()
    late_nans.loc[900:, "TYPPRICE"] = float("nan")  # 889 usable rows left
    files = {
        "LATETEXT": late_text.to_csv(index=False, lineterminator="\n").encode(),
        "LATENANS": late_nans.to_csv(index=False, lineterminator="\n").encode(),
        "BOMS": b"\xef\xbb\xbf" + clean,  # a UTF-8 byte-order mark: accepted
    }
    url = f"s3://{BUCKET}/badin"
    store = open_storage(url)
    for stock, data in files.items():
        store.put_bytes(f"raw/{stock}_minute_data_with_indicators.csv", data)
    before = lam.counters()
    exit_code, output = cli(
        "run", "--executor", "lambda", "--data", url, "--stocks", "LATETEXT,LATENANS,BOMS",
        "--run-id", "badin", *SMALL_ARGS, flow=True,
    )  # fmt: skip
    assert exit_code == 1, output
    text = squash(output)
    assert squash("2 stock(s) failed: LATETEXT (processing:") in text, output
    assert squash("holds a value that is not a number") in text
    assert squash("LATENANS (processing:") in text
    assert squash("only 889 usable rows") in text
    assert squash("at least 1000 are needed") in text
    # Bad input fails the same way every time: it was not retried.
    assert delta(before, lam.counters())["processing"]["executed"] == 3
    summary = store.get_json("runs/badin/summary.json")
    assert {s["stock"]: s["status"] for s in summary["stocks"]} == {
        "LATETEXT": "failed",
        "LATENANS": "failed",
        "BOMS": "ok",
    }
    # Raw input untouched; outputs only for the good stock.
    for stock, data in files.items():
        assert store.get_bytes(f"raw/{stock}_minute_data_with_indicators.csv") == data
    outputs = {k.split("/")[3] for k in store.keys("runs/badin/stocks/")}
    assert outputs == {"BOMS"}


@pytest.mark.slow
def test_store_that_refuses_writes(cli: Invoke, lam: Lambda) -> None:
    # Readable but not writable (every PUT under the run answers 403 AccessDenied): the
    # run stops at its first write, before any worker is invoked, and says why.
    lam.proxy.add("PutObject", 403, key="runs/readonly/")
    before = lam.counters()
    args = ["run", "--executor", "lambda", "--data", lam.url, "--stocks", "TCS"]
    exit_code, output = cli(*args, "--run-id", "readonly", *SMALL_ARGS, flow=True)
    assert exit_code == 1, output
    expected = f"cannot write 'runs/readonly/config.json' to {lam.url}: An error occurred "
    assert squash(expected + "(AccessDenied)") in squash(output), output
    assert delta(before, lam.counters()) == {}
    assert open_storage(lam.url).keys("runs/readonly/") == []
