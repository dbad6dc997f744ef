"""Local worker processes that start in milliseconds.

Worker pools (`tasks.executors.LocalExecutor`, `groves.lambda_endpoint`) fork their workers
from a server process ("forkserver") that imported the workers' modules once: a new worker
then costs a fork, not a fresh interpreter importing pandas, scikit-learn and the main
module again (about 3 to 8 s a worker on 2 cores). The server outlives any one pool, so a
later pool in the same process (the next run, a test) starts its workers at once.

The main module matters as much as the handlers: a new worker imports the script its
parent runs (the ``groves`` CLI imports Prefect), and CPython releases without the fix of
gh-126631 (3.11, 3.12) ignore ``"__main__"`` in the forkserver's preload list. So the
server imports the parent's main script itself (`groves._forkserver_main`), and each
worker finds it done. Spawn where there is no forkserver (Windows).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Mapping, Sequence
from multiprocessing import spawn
from multiprocessing.context import BaseContext

MAIN_ENV = "GROVES_FORKSERVER_MAIN"
"""The parent's main script, for the forkserver to import (set before it starts)."""


_PRELOAD: list[str] = ["groves._forkserver_main"]


def worker_context(preload: Sequence[str] = ()) -> BaseContext:
    """A multiprocessing context whose processes start with ``preload`` already imported.

    The forkserver is one per process and starts with the first pool's first process, so
    preloads add up: a pool made after another (the run's plot pool after its workers')
    keeps what the first asked for. Once the server runs, what it lacks, a new process
    imports itself."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    main_path = spawn.get_preparation_data("groves").get("init_main_from_path")
    if main_path:
        os.environ[MAIN_ENV] = main_path
    _PRELOAD.extend(name for name in preload if name not in _PRELOAD)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(_PRELOAD))
    return context


def adopt_parent(environ: Mapping[str, str], sys_path: Sequence[str] = ()) -> None:
    """Pool initializer: a worker forked from the server has the environment and import
    path of when the server started; take the parent's of when the pool was made."""
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:0] = [entry for entry in sys_path if entry not in sys.path]


def start_server(preload: Sequence[str] = ()) -> None:
    """Start the forkserver now, if it is not running, with ``preload`` (it imports them in
    its own process: for the workers, pandas, scikit-learn and the handlers, about 1.5 s).
    Called as soon as a run is known to need local processes, so that its first ones do
    not wait for those imports; returns at once."""
    context = worker_context(preload)
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
