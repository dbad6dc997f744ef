"""Result plots: the forecast, grid-search and overview figures, inspected as matplotlib
objects; their data read back from a store (local and S3) through the layout's keys."""

from __future__ import annotations

import io

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from groves.reporting.gallery import run_plots, write_result_plots
from groves.reporting.outputs import Forecast, GridScores, load_forecast, load_grid
from groves.reporting.plots import figure_png, figure_svg
from groves.reporting.result_plots import envelope, plot_forecast, plot_grid, plot_overview
from lambda_functions.features import LAGS, PRICE, TARGET
from lambda_functions.layout import RunLayout, StockSpace
from lambda_functions.storage import open_storage
from lambda_functions.tables import write_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def forecast(n: int = 600, stock: str = "NIFTY 50") -> Forecast:
    """Two trading days of minutes; the model is persistence plus a tenth of the change."""
    days = [pd.date_range(f"2024-01-0{d} 09:15", periods=n // 2, freq="min", tz="Asia/Kolkata")
            for d in (2, 3)]  # fmt: skip
    index = days[0].append(days[1])
    rng = np.random.default_rng(0)
    price = 100 + np.cumsum(rng.normal(size=n + 1))
    actual, persistence = price[1:], price[:-1]
    predicted = persistence + 0.1 * (actual - persistence)
    return Forecast(stock, index, actual, predicted, persistence, groves=3)


def test_forecast_plot_shows_whole_period_window_and_residuals() -> None:
    data = forecast()
    fig = plot_forecast(data, window=120)
    whole, zoom, residuals, spread = fig.axes
    labels = [line.get_label() for line in whole.get_lines()]
    assert labels == ["actual", "persistence (last price)", "predicted"]
    assert np.array_equal(whole.get_lines()[0].get_ydata(), data.actual)
    window = zoom.get_lines()[0]
    assert list(window.get_xdata()) == list(range(480, 600))
    assert np.array_equal(window.get_ydata(), data.actual[480:])
    assert [t.get_text() for t in whole.get_xticklabels()] == ["02 Jan", "03 Jan"]
    model_residuals = residuals.get_lines()[1].get_ydata()
    assert np.allclose(model_residuals, data.actual - data.predicted)
    assert any(f"MSE {data.mse:.4g}" in t.get_text() for t in spread.get_legend().get_texts())
    assert "NIFTY 50" in fig._suptitle.get_text()
    assert data.ratio == pytest.approx(0.81)  # (0.9 d)^2 / d^2
    pixels = matplotlib.image.imread(io.BytesIO(figure_png(fig)), format="png")
    assert pixels.shape[:2] == (1000, 1200)


def test_long_lines_are_drawn_as_their_envelope() -> None:
    y = np.sin(np.arange(100_000) / 500) + np.random.default_rng(1).normal(size=100_000)
    x, thin = envelope(np.arange(100_000), y, points=2000)
    assert len(thin) == 2000
    assert (thin.max(), thin.min()) == (y.max(), y.min())
    assert np.all(np.diff(x) >= 0)
    assert np.array_equal(thin, y[x])


def grid_scores() -> GridScores:
    table = pd.DataFrame(
        {"feat": [5, 5, 9, 9, 7], "samp": [5, 25, 5, 25, 5], "mse": [2.0, 1.5, 1.8, 2.2, 1.6]}
    )
    return GridScores("M&M", table)


def test_grid_heatmap_holds_each_cells_mse_and_outlines_the_chosen() -> None:
    grid = grid_scores()
    assert grid.best == (5, 25)
    fig = plot_grid(grid, persistence_mse=2.0)
    ax = fig.axes[0]
    image = ax.get_images()[0].get_array()
    # rows: min_samples_split 5, 25; columns: max_features 5, 7, 9
    assert image.data[0].tolist() == [2.0, 1.6, 1.8]
    assert image.mask[1].tolist() == [False, True, False]  # (7, 25) was not scored
    texts = sorted(t.get_text() for t in ax.texts)
    assert "1.5\n0.750 x pers." in texts and "not scored" in texts
    (chosen,) = [p for p in ax.patches if p.get_label() == "chosen"]
    assert chosen.get_xy() == (-0.5, 0.5)  # column 0 (feat 5), row 1 (samp 25)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["5", "7", "9"]
    assert figure_svg(fig).startswith(b"<?xml")
    assert figure_svg(plot_grid(grid)) == figure_svg(plot_grid(grid))  # no date stamp


def test_overview_sorts_stocks_and_draws_bars_from_one() -> None:
    fig = plot_overview([("TCS", 1.10), ("NIFTY 50", 0.95), ("A$B", 0.99)])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["NIFTY 50", "A\\$B", "TCS"]
    bars = ax.patches
    assert [round(b.get_x(), 6) for b in bars] == [1.0, 1.0, 1.0]
    assert [round(b.get_width(), 6) for b in bars] == [-0.05, -0.01, 0.1]
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [1.0]
    assert ax.get_title() == "2 of 3 stock(s) beat the persistence forecast on test"


def test_overview_of_many_stocks_shows_the_best_and_worst_and_counts_all() -> None:
    ratios = [(f"S{n:03d}", 0.5 + n / 100) for n in range(200)]  # S000 best ... S199 worst
    fig = plot_overview(ratios[::-1])
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    shown = [f"S{n:03d}" for n in range(25)] + [f"S{n:03d}" for n in range(175, 200)]
    assert labels == [*shown[:25], "(150 more)", *shown[25:]]
    bars = ax.patches
    assert len(bars) == 50
    assert [round(b.get_width(), 6) for b in bars][:2] == [-0.5, -0.49]
    assert round(bars[-1].get_width(), 6) == round(0.5 + 199 / 100 - 1, 6)
    assert [b.get_y() + b.get_height() / 2 for b in bars][24:26] == [24, 26]  # row 25: the gap
    assert ax.get_title() == (
        "50 of 200 stock(s) beat the persistence forecast on test\n(the 25 best and 25 worst shown)"
    )
    assert fig.get_size_inches()[1] < 20  # not ~65 inches tall
    assert figure_png(fig).startswith(PNG_SIGNATURE)


def place_outputs(url: str, stock: str, fmt: str = "parquet") -> Forecast:
    """A stock's processed test split, two final groves' predictions and two grid cells."""
    store = open_storage(url)
    data = forecast(200, stock)
    space = StockSpace(stock, fmt, prefix=RunLayout("r").stock_prefix(stock))  # type: ignore[arg-type]
    test = pd.DataFrame({PRICE: data.persistence, TARGET: data.actual}, index=data.index)
    for lag in LAGS:
        test[lag] = data.persistence
    test.index.name = "date"
    write_table(store, space.processed("testing"), test)
    for n, shift in enumerate((-0.5, 0.5)):
        preds = pd.DataFrame({TARGET: data.predicted + shift}, index=data.index)
        write_table(store, space.final_preds(n), preds)
    for feat, mse in ((5, 1.25), (9, 1.5)):
        store.put_text(space.cell_mse(feat, 5), f"feat,samp,mse\n{feat},5,{mse}\n")
    return data


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_outputs_are_read_back_through_the_layout(store_url: str, fmt: str) -> None:
    expected = place_outputs(store_url, "RELIANCE", fmt)
    store, layout = open_storage(store_url), RunLayout("r")
    got = load_forecast(store, layout, "RELIANCE")
    assert got is not None and got.groves == 2
    assert np.allclose(got.predicted, expected.predicted)  # the mean of +-0.5
    assert np.allclose(got.actual, expected.actual)
    grid = load_grid(store, layout, "RELIANCE")
    assert grid is not None and grid.table.to_dict("list") == {
        "feat": [5, 9], "samp": [5, 5], "mse": [1.25, 1.5]
    }  # fmt: skip
    assert load_forecast(store, layout, "TCS") is None  # nothing stored: no plot
    assert load_grid(store, layout, "TCS") is None


def test_run_plots_are_saved_and_listed_in_order(tmp_path) -> None:
    url = str(tmp_path / "store")
    place_outputs(url, "RELIANCE")
    summary = {
        "run_id": "r",
        "stocks": [
            {"stock": "RELIANCE", "status": "ok", "test_ratio": 0.9, "best_feat": 5,
             "best_samp": 5, "validation_persistence_mse": 2.5},
            # a pipeline with no grid search and no stored predictions: no plots, no error
            {"stock": "TCS", "status": "ok", "test_ratio": 1.1},
            {"stock": "INFY", "status": "failed", "error": "boom"},
        ],
    }  # fmt: skip
    store = open_storage(url)
    made = write_result_plots(store, RunLayout("r"), summary)
    assert [(p["name"], p["stock"]) for p in made] == [
        ("overview", None),
        ("forecast", "RELIANCE"),
        ("grid", "RELIANCE"),
    ]
    assert made[1]["png"] == "runs/r/plots/RELIANCE/forecast.png" and made[1]["svg"] is None
    assert made[2]["svg"] == "runs/r/plots/RELIANCE/grid.svg"
    for entry in made:
        assert store.get_bytes(entry["png"]).startswith(PNG_SIGNATURE)
    report = {"files": {"timeline": "t.png", "distributions": "d.png"}, "total": {}}
    names = [p["name"] for p in run_plots(made, report)]
    assert names == ["overview", "forecast", "grid", "timeline", "distributions"]


def test_a_settled_layout_renders_the_same_pixels_in_one_pass() -> None:
    """`figure_png` lays a constrained figure out once and keeps it: the PNG is byte for
    byte what a plain ``savefig`` (layout pass + render) gives, and an SVG after it
    needs no second layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    plain = plot_forecast(forecast())
    FigureCanvasAgg(plain)
    buffer = io.BytesIO()
    plain.savefig(buffer, format="png", dpi=100)
    settled = plot_forecast(forecast())
    assert figure_png(settled) == buffer.getvalue()
    assert settled.get_layout_engine().__class__.__name__ == "PlaceHolderLayoutEngine"
    assert figure_svg(settled).startswith(b"<?xml")
