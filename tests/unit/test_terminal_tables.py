"""Every terminal table at 80 columns: nothing cut, every number whole; --wide shows all;
money in dollars. Rendered by rich exactly as `groves run` / `report` / `plan` print them."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from groves.cli import render
from groves.reporting.formatting import significant, usd
from groves.reporting.report import build_report, compact
from lambda_functions.stages import GRID
from lambda_functions.timing import timing_tables
from tests.receipts import make_receipt

T0 = 1_700_000_000.0
WIDTH = 80


def receipts() -> list[Any]:
    """A run of every grid stage, long durations (wide numbers) and a big invocation count."""
    out = []
    for i, stage in enumerate(GRID.names):
        count = 1200 if stage == "parampreds" else 3
        for n in range(count):
            start = T0 + 1000.0 * i + n * 0.37
            out.append(
                make_receipt(
                    function=stage, unit=f"u{n}", event={"invoked_at": start - 0.8},
                    start=start, end=start + 123.456789 + n % 7, read_ms=1234.5,
                    compute_ms=120_000.25, write_ms=2_000.75, memory_limit_mb=3008,
                )
            )  # fmt: skip
    return out


def summary() -> dict[str, Any]:
    done = receipts()
    report = build_report(done, GRID.names, workers=900)
    tables = {
        name: frame.to_dict(orient="index")
        for name, frame in timing_tables(done, GRID.names).items()
    }
    stocks = [
        {"stock": name, "status": "ok", "best_feat": 9, "best_samp": 25,
         "validation_mse": 1234.56789, "validation_persistence_mse": 1300.1234,
         "test_mse": 0.000123456789, "test_persistence_mse": 0.00013, "test_ratio": 0.9496}
        for name in ("RELIANCE", "BAJAJ-AUTO", "NIFTY BANK")
    ] + [{"stock": "TCS", "status": "failed", "error": "processing: bad CSV"}]  # fmt: skip
    return {
        "run_id": "r1",
        "store": "/tmp/store",
        "stocks": stocks,
        "failed": {"TCS": "processing: bad CSV"},
        "executed": {"processing": 3},
        "reused": {"processing": 0},
        "timing": {"wall_s": 12345.6, "tables": tables, "report": compact(report)},
    }


def rendered(table: Table, width: int = WIDTH) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def every_table(wide: bool) -> list[Table]:
    s = summary()
    return [
        *render.summary_tables(s, wide),
        *render.report_tables(s["timing"]["report"], wide=wide),
    ]


def cells(table: Table) -> list[str]:
    return [str(cell) for column in table.columns for cell in column._cells]


def test_every_table_fits_80_columns_without_cutting_anything() -> None:
    tables = every_table(wide=False)
    assert [t.title.split(":")[0].split(" (")[0] for t in tables] == [
        "run r1", "timing", "per stage", "cost estimate"
    ]  # fmt: skip
    for table in tables:
        text = rendered(table)
        assert "…" not in text, text
        assert max(len(line) for line in text.splitlines()) <= WIDTH, text
        lines = text.splitlines()
        for value in cells(table):
            if value and not value[0].isalpha():  # numbers and money: whole, on one line
                assert any(value in line for line in lines), (value, text)


def test_default_tables_keep_the_main_columns_and_wide_shows_all() -> None:
    narrow = {t.title: [c.header for c in t.columns] for t in every_table(wide=False)}
    wide = {t.title: [c.header for c in t.columns] for t in every_table(wide=True)}
    scores = next(k for k in narrow if k.startswith("run r1"))
    assert narrow[scores] == ["stock", "best (feat, samp)", "test MSE", "persistence",
                              "test / persistence"]  # fmt: skip
    assert "validation MSE" in wide[scores]
    cost = next(k for k in narrow if k.startswith("cost"))
    assert narrow[cost] == ["item", "invocations", "billed s", "GB-s", "total"]
    assert wide[cost][-6:] == ["compute", "requests", "S3 PUT", "S3 GET", "S3", "total"]
    stages = next(k for k in narrow if k.startswith("per stage"))
    assert len(wide[stages]) == 10 and len(narrow[stages]) == 6
    for table in every_table(wide=True):  # wide tables cut nothing on a wide terminal
        assert "…" not in rendered(table, width=200)


def test_money_and_numbers_are_written_out() -> None:
    table = next(t for t in every_table(wide=True) if t.title.startswith("cost"))
    money = [c for c in cells(table) if c.startswith("$")]
    assert money and all("e-" not in m and "e+" not in m for m in money)
    assert usd(1.674e-05) == "$0.0000167"
    assert usd(0.5) == "$0.500"
    assert usd(1234.567) == "$1,234.57"
    assert usd(0) == "$0"
    assert significant(0.000123456789) == "0.0001235"
    assert significant(1234.56789) == "1235"
    assert significant(123456.789) == "123,457"


def stored_run(tmp_path: Any) -> str:
    """A store holding the summary and the timing report of run r1 (as a run saves them)."""
    import json

    from lambda_functions.layout import RunLayout
    from lambda_functions.storage import open_storage

    url = str(tmp_path / "store")
    store, layout = open_storage(url), RunLayout("r1")
    s = summary()
    store.put_json(layout.summary_key(), s)
    full = build_report(receipts(), GRID.names, workers=900)
    store.put_bytes(layout.report_key("report.json"), json.dumps(full).encode())
    return url


def test_cli_report_fits_80_columns_and_json_has_the_exact_numbers(tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    from groves.cli import app

    url = stored_run(tmp_path)
    printed = CliRunner().invoke(app, ["report", "r1", "--data", url], env={"COLUMNS": "80"})
    assert printed.exit_code == 0, printed.output
    assert "…" not in printed.output
    assert max(len(line) for line in printed.output.splitlines()) <= WIDTH
    assert "0.0001235" in printed.output and "$" in printed.output
    wide = CliRunner().invoke(app, ["report", "r1", "--data", url, "--wide"],
                              env={"COLUMNS": "200"})  # fmt: skip
    assert "validation MSE" in wide.output and "S3 PUT" in wide.output
    assert "…" not in wide.output
    raw = CliRunner().invoke(app, ["report", "r1", "--data", url, "--json"])
    data = json.loads(raw.output)
    assert data["stocks"][0]["test_mse"] == 0.000123456789
    total = data["timing"]["report"]["cost"]["lambda"]["total"]["total_usd"]
    assert usd(total) in printed.output  # the printed dollars are the JSON's, rounded
