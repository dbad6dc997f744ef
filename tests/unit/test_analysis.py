"""The timing report's numbers, checked against receipts built by hand; its plots."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from groves.reporting import cost, plots, stats
from groves.reporting import report as timing_report
from lambda_functions.layout import RunLayout
from lambda_functions.receipts import Receipt
from lambda_functions.stages import GRID
from lambda_functions.storage import open_storage
from tests.receipts import make_receipt

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = 1_700_000_000.0


def receipt(
    function: str,
    invoked: float,
    start: float,
    end: float,
    *,
    read_ms: float = 0.0,
    compute_ms: float = 0.0,
    write_ms: float = 0.0,
    cold: bool = False,
    status: str = "ok",
    event: dict[str, Any] | None = None,
    memory: int | None = None,
) -> Receipt:
    """A receipt with times in seconds after `T0`."""
    return make_receipt(
        function=function,
        unit=function,
        status=status,
        event={"invoked_at": T0 + invoked, **(event or {})},
        start=T0 + start,
        end=T0 + end,
        read_ms=read_ms,
        compute_ms=compute_ms,
        write_ms=write_ms,
        cold_start=cold,
        memory_limit_mb=memory,
        bytes_read=10,
        bytes_written=5,
    )


def hand_run() -> list[Receipt]:
    """Two processing invocations and three grid groves, plus noise that must not count."""
    return [
        # processing: invoked at 0 and 0.5; run [1, 5) and [2, 4.0004)
        receipt("processing", 0.0, 1.0, 5.0, read_ms=1000, compute_ms=2500, write_ms=500,
                cold=True),
        receipt("processing", 0.5, 2.0, 4.0004, read_ms=400, compute_ms=1500, write_ms=100),
        # parampreds: invoked at 6, 6.5, 7; run [6, 9), [9, 10), [7, 9): peak 2 (the
        # first ends as the second starts: half-open intervals do not overlap)
        receipt("parampreds", 6.0, 6.0, 9.0, compute_ms=3000),
        receipt("parampreds", 6.5, 9.0, 10.0, compute_ms=1000),
        receipt("parampreds", 7.0, 7.0, 9.0, compute_ms=2000, cold=True),
        # ignored: a failed attempt and a run-level function
        receipt("parampreds", 6.0, 6.0, 50.0, status="error"),
        receipt("timingmetrics", 60.0, 60.0, 61.0),
    ]  # fmt: skip


def test_stage_statistics_from_known_timestamps() -> None:
    report = timing_report.build_report(hand_run(), GRID.names, memory_mb=2048, workers=4)
    assert report["receipts"] == 5
    assert report["failed_receipts"] == 1

    p = report["stages"]["processing"]
    assert p["invocations"] == 2
    assert p["makespan_s"] == pytest.approx(5.0)  # first invoke 0 -> last end 5
    assert p["busy_s"] == pytest.approx(4.0 + 2.0004)
    assert p["peak_concurrency"] == 2
    assert p["efficiency_peak"] == pytest.approx(6.0004 / (5.0 * 2))
    assert p["efficiency_workers"] == pytest.approx(6.0004 / (5.0 * 4))
    assert p["dispatch_span_s"] == pytest.approx(0.5)
    assert p["invocation_rate"] == pytest.approx(2 / 0.5)
    assert p["cold_starts"] == 1
    assert p["straggler_ratio"] == pytest.approx(4.0 / 3.0002)  # max / median of 2
    assert p["compute_s"] == pytest.approx(4.0)
    assert p["io_s"] == pytest.approx(2.0)
    assert p["mean_latency_s"] == pytest.approx((1.0 + 1.5) / 2)
    assert p["bytes_read"] == 20

    g = report["stages"]["parampreds"]
    assert g["makespan_s"] == pytest.approx(4.0)  # 6 -> 10
    assert g["busy_s"] == pytest.approx(6.0)
    assert g["peak_concurrency"] == 2
    assert g["efficiency_peak"] == pytest.approx(6.0 / (4.0 * 2))
    assert g["invocation_rate"] == pytest.approx(3 / 1.0)
    assert g["straggler_ratio"] == pytest.approx(3.0 / 2.0)
    assert g["cold_starts"] == 1

    assert report["stages"]["minmse"]["invocations"] == 0
    total = report["total"]
    assert total["makespan_s"] == pytest.approx(10.0)
    assert total["busy_s"] == pytest.approx(12.0004)
    assert total["peak_concurrency"] == 2
    assert total["efficiency_workers"] == pytest.approx(12.0004 / (10.0 * 4))
    assert total["straggler_ratio"] is None


def test_lambda_and_vm_cost_from_known_durations() -> None:
    cost = timing_report.build_report(hand_run(), GRID.names, memory_mb=2048)["cost"]
    proc = cost["lambda"]["stages"]["processing"]
    # billed duration rounds up to the ms: 4000 ms and 2000.4 -> 2001 ms
    assert proc["billed_s"] == pytest.approx(6.001)
    assert proc["gb_s"] == pytest.approx(2.0 * 6.001)
    assert proc["compute_usd"] == pytest.approx(2.0 * 6.001 * 0.0000166667)
    assert proc["request_usd"] == pytest.approx(2 * 0.20 / 1e6)
    # processing: HEAD + GET raw, three splits, plus the receipt's PUT and GET
    assert (proc["s3_put"], proc["s3_get"]) == (8, 6)
    assert proc["s3_usd"] == pytest.approx(8 * 0.005 / 1000 + 6 * 0.0004 / 1000)

    grid = cost["lambda"]["stages"]["parampreds"]
    assert grid["billed_s"] == pytest.approx(6.0)
    assert (grid["s3_put"], grid["s3_get"]) == (6, 9)

    total = cost["lambda"]["total"]
    assert total["invocations"] == 5
    assert total["gb_s"] == pytest.approx(2.0 * 12.001)
    expected = 2.0 * 12.001 * 0.0000166667 + 5 * 0.2e-6 + 14 * 0.005e-3 + 15 * 0.0004e-3
    assert total["total_usd"] == pytest.approx(expected)

    vm = cost["vm"]  # 12.0004 s of work on 4 vCPUs, billed per second, 60 s minimum
    assert vm["wall_s"] == pytest.approx(12.0004 / 4)
    assert vm["billed_s"] == 60
    assert vm["total_usd"] == pytest.approx(60 * 0.17 / 3600)
    assert cost["lambda_over_vm"] == pytest.approx(expected / (60 * 0.17 / 3600))
    assert cost["prices"]["as_of"] == "AWS us-east-1, as of 2024 price list"


def test_memory_defaults_to_the_receipts_then_the_seeds() -> None:
    one = [receipt("minmse", 0.0, 0.0, 1.0, memory=1024)]
    gb_s = timing_report.build_report(one, GRID.names)["cost"]["lambda"]["total"]["gb_s"]
    assert gb_s == pytest.approx(1.0)
    two = [receipt("minmse", 0.0, 0.0, 1.0)]
    gb_s = timing_report.build_report(two, GRID.names)["cost"]["lambda"]["total"]["gb_s"]
    assert gb_s == pytest.approx(3008 / 1024)


def test_vm_bills_whole_seconds_past_the_minimum() -> None:
    assert cost.vm_cost(4 * 100.2)["billed_s"] == 101
    assert cost.vm_cost(0.0)["total_usd"] == 0


def test_s3_request_estimates_follow_the_events() -> None:
    grid = {"max_features": [5, 7, 9], "min_samples_split": [5, 15, 25]}
    cell = {"feat": 5, "samp": 5, "groves": 3}
    assert cost.s3_requests(receipt("predmses", 0, 0, 1, event=cell)) == (2, 8)
    assert cost.s3_requests(receipt("minmse", 0, 0, 1, event={"grid": grid})) == (2, 19)
    assert cost.s3_requests(receipt("testfull", 0, 0, 1, event={"groves": 30})) == (2, 62)
    assert cost.s3_requests(receipt("trainfull", 0, 0, 1)) == (3, 6)
    seed = receipt("parampreds", 0, 0, 1, event={"bucket": "aaa-ds5110s3bucket"})
    assert cost.s3_requests(seed) == (5, 3)  # plus three runtime .txt files


def test_peak_concurrency_uses_half_open_intervals() -> None:
    assert stats.peak_concurrency([(0, 1), (1, 2), (2, 3)]) == 1
    assert stats.peak_concurrency([(0, 2), (1, 3), (1.5, 1.6)]) == 3
    assert stats.concurrency_steps([(0, 2), (1, 3)]) == [(0, 1), (1, 2), (2, 1), (3, 0)]


def test_tables_and_csv() -> None:
    report = timing_report.build_report(hand_run(), GRID.names, memory_mb=2048, workers=4)
    stages = [row["stage"] for row in timing_report.stage_rows(report)]
    assert stages == ["processing", "parampreds", "total"]
    rows = list(csv.reader(io.StringIO(timing_report.cost_csv(report))))
    assert rows[0][:3] == ["item", "invocations", "billed s"]
    assert [r[0] for r in rows[1:]] == [
        "processing",
        "parampreds",
        "lambda total",
        "VM c5.xlarge (4 vCPU)",
    ]
    assert rows[0][-1] == "prices"
    assert {r[-1] for r in rows[1:]} == {"AWS us-east-1, as of 2024 price list"}
    quartiles = timing_report.distribution_rows(report)
    assert {(r["stage"], r["time"]) for r in quartiles} == {
        ("processing", "compute"),
        ("parampreds", "compute"),
        ("processing", "I/O"),
        ("parampreds", "I/O"),
    }
    grid = next(r for r in quartiles if r["stage"] == "parampreds" and r["time"] == "compute")
    assert (grid["min s"], grid["median s"], grid["max s"]) == (1.0, 2.0, 3.0)


def test_plots_have_one_series_per_stage() -> None:
    report = timing_report.build_report(hand_run(), GRID.names)
    dist = plots.plot_distributions(report)
    assert len(dist.axes) == 2
    for ax in dist.axes:
        boxes = [p for p in ax.patches if type(p).__name__ == "PathPatch"]
        assert len(boxes) == 2  # processing and parampreds
        assert [t.get_text() for t in ax.get_xticklabels()] == ["processing", "parampreds"]

    timeline = plots.plot_timeline({**report, "workers": 4})
    ax, running = timeline.axes
    labels = [c.get_label() for c in ax.collections]
    assert labels == [
        "processing: waiting", "processing: running", "parampreds: waiting", "parampreds: running",
    ]  # fmt: skip
    assert [len(c.get_paths()) for c in ax.collections] == [2, 2, 3, 3]  # a bar per invocation
    bars = {c.get_label(): c for c in ax.collections}

    def widths(label: str) -> list[float]:
        return sorted(round(float(np.ptp(p.vertices[:, 0])), 6) for p in bars[label].get_paths())

    assert widths("parampreds: running") == [1.0, 2.0, 3.0]  # end - start
    assert widths("parampreds: waiting") == [0.0, 0.0, 2.5]  # start - invoked
    assert widths("processing: waiting") == [1.0, 1.5]
    # a bar's two parts share its stage's colour; waiting is the lighter shade
    wait, run = (bars[f"processing: {p}"].get_facecolor()[0] for p in ("waiting", "running"))
    assert tuple(wait[:3]) == tuple(run[:3]) and wait[3] < run[3]
    # the first invoked is the top row
    assert ax.get_ylim()[0] > ax.get_ylim()[1]
    step, limit = running.get_lines()
    assert max(step.get_ydata()) <= 2 and max(step.get_ydata()) > 1.5  # mean per bin, peak 2
    assert list(limit.get_ydata()) == [4, 4]  # the workers the run had
    legend = timeline.legends[0]
    assert "parampreds (3)" in [t.get_text() for t in legend.get_texts()]
    assert legend.axes is None  # the figure's legend: outside the data


def test_mean_concurrency_is_the_time_weighted_count_per_bin() -> None:
    spans = [(0.0, 2.0), (1.0, 3.0), (1.5, 1.6)]
    assert stats.mean_concurrency(spans, [0.0, 1.0, 2.0, 3.0]) == pytest.approx([1.0, 2.1, 1.0])


def test_write_report_saves_json_csv_and_valid_pngs(tmp_path: Path) -> None:
    store = open_storage(tmp_path / "store")
    report = timing_report.build_report(hand_run(), GRID.names, workers=2)
    files = timing_report.write_report(store, RunLayout("r"), report)
    assert files == {
        "report": "runs/r/timingmetrics/report.json",
        "cost": "runs/r/timingmetrics/cost.csv",
        "distributions": "runs/r/timingmetrics/distributions.png",
        "timeline": "runs/r/timingmetrics/timeline.png",
    }
    for key in ("distributions", "timeline"):
        data = store.get_bytes(files[key])
        assert data.startswith(PNG_SIGNATURE)
        import matplotlib.image

        pixels = matplotlib.image.imread(io.BytesIO(data), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    saved = json.loads(store.get_text(files["report"]))
    assert saved["total"] == report["total"]
    assert saved["files"] == files
    assert store.get_text(files["cost"]).startswith("item,invocations,")


def test_write_report_without_plots_saves_the_report_and_cost_only(tmp_path: Path) -> None:
    store = open_storage(tmp_path / "store")
    report = timing_report.build_report(hand_run(), GRID.names, workers=2)
    files = timing_report.write_report(store, RunLayout("r"), report, plots=False)
    assert files == {
        "report": "runs/r/timingmetrics/report.json",
        "cost": "runs/r/timingmetrics/cost.csv",
    }
    assert store.keys() == sorted(files.values())
    assert json.loads(store.get_text(files["report"]))["files"] == files


def test_empty_run_gives_an_empty_report() -> None:
    report = timing_report.build_report([], GRID.names)
    assert report["total"]["invocations"] == 0
    assert report["cost"]["lambda"]["total"]["total_usd"] == 0
    assert timing_report.stage_rows(report) == []
    assert plots.plot_timeline(report).axes
