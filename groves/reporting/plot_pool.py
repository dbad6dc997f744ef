"""Each stock's result plots drawn in other processes as soon as its stages are done.

A stock's forecast and grid-search plots cost about a second of one core (matplotlib's text
layout and Agg). Drawn one after another by the orchestrating process once every stage was
done, they were the end of every run: a few seconds for the demo, about a quarter of an
hour at 990 stocks. `StockPlotPool` draws them in processes of their own (no GIL shared
with the orchestration), as each stock's last stage completes: a stock that finishes
early is drawn while the run goes on, and the many that finish together at the end (the
stocks advance through the stages side by side) are drawn on every core at once, while
the orchestrating process builds the timing report.

The plots are the ones `groves.reporting.gallery.write_stock_plots` makes in process, byte
for byte; a stock the pool did not draw (the pool broke, or it was never told) is drawn at
the end as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from groves.reporting.gallery import Entry, write_stock_plots
from groves.worker_processes import adopt_parent, worker_context
from lambda_functions.layout import RunLayout
from lambda_functions.storage import open_storage

logger = logging.getLogger(__name__)

MAX_PROCESSES = 8


def pool_size(cpus: int | None = None) -> int:
    """Processes for a run's plots: one per core of this machine, up to `MAX_PROCESSES`.

    A process starts only when a stock's plots find the others busy: while stocks finish
    one at a time (beside local workers, or while Lambda runs the rest) one draws them;
    when many finish together, as at the end of a run, every core draws."""
    return max(1, min(MAX_PROCESSES, cpus or os.cpu_count() or 1))


def warm_up() -> None:
    """Import what drawing needs (in a pool process, while the run's first stages run)."""
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401


def draw_stock(store_url: str, run_id: str, row: Mapping[str, Any]) -> list[Entry]:
    """In a pool process: `write_stock_plots` for one stock of a run."""
    return write_stock_plots(open_storage(store_url), RunLayout(run_id), row)


class StockPlotPool:
    """Draws each stock's result plots in a pool of processes when `stock_done` is called;
    `drawn` waits for them. Safe to call from any thread."""

    def __init__(self, store_url: str, run_id: str, processes: int) -> None:
        self.store_url = store_url
        self.run_id = run_id
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=worker_context(),
            initializer=adopt_parent,
            initargs=(dict(os.environ), list(sys.path)),
        )
        self._lock = threading.Lock()
        self._futures: dict[str, Future[list[Entry]]] = {}
        # Its first process starts (and imports matplotlib) beside the run, not before it.
        threading.Thread(target=self._warm_up, name="groves-plot-pool", daemon=True).start()

    def _warm_up(self) -> None:
        with contextlib.suppress(RuntimeError):  # closed already
            self._pool.submit(warm_up)

    def stock_done(self, row: Mapping[str, Any]) -> None:
        """Start drawing a completed stock's plots (``row``: its summary entry)."""
        with self._lock:
            try:
                future = self._pool.submit(draw_stock, self.store_url, self.run_id, dict(row))
            except RuntimeError as exc:  # the pool is broken or shut down: drawn at the end
                logger.warning("plots of %s are drawn at the end: %s", row["stock"], exc)
                return
            self._futures[row["stock"]] = future

    def drawn(self) -> dict[str, list[Entry]]:
        """Wait for every stock given so far; return each drawn stock's plot entries (a
        stock whose drawing process failed is left out, to be drawn again in process)."""
        with self._lock:
            futures = dict(self._futures)
        entries: dict[str, list[Entry]] = {}
        for stock, future in futures.items():
            try:
                entries[stock] = future.result()
            except Exception as exc:  # e.g. the process died: BrokenProcessPool
                logger.warning("plots of %s not drawn ahead (%s): drawing them now", stock, exc)
        return entries

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
