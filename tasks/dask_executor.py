"""The Dask executor: each invocation a task on a Dask cluster running the same handler.

Any Dask cluster serves (``dask scheduler`` + ``dask worker`` on a few machines,
dask-kubernetes, dask-jobqueue, dask-cloudprovider: each gives a scheduler address).
Each invocation is ``client.submit(run_on_worker, stage, event, pure=False, key=...)``
(sent in batches: what is submitted within 2 ms goes to the scheduler as one message)
under a readable, unique key (``parampreds-TCS-a1-1f2e3d4c5b6a``: the
dashboard groups tasks by stage). As for the other executors the outcome is the receipt
the worker writes to the store, never the task's return value; the Dask future is only
bridged to a `concurrent.futures.Future`, so the awaiter wakes up when a task ends and
fails fast when one crashes. Retries, resume, failure isolation and the timing report are
the other executors'.

* **The store** must be reachable from every worker: s3:// (any S3 API) or a folder that
  every worker sees at the same path. On start, a probe object is written to the store
  and every connected worker must read it back; a worker that cannot is named, with the
  likely cause (a local folder with a remote cluster).
* **Threads**: a fit runs single-threaded unless the worker's host has cores to spare:
  ``n_jobs = cores // (Dask threads of every worker on that host)``, at least 1, so the
  cluster's own task slots are never oversubscribed.
* **A worker lost mid-task** (killed, out of memory, its machine gone): the scheduler runs
  the task again elsewhere (Dask's ``allowed-failures``); only the lost invocations run
  again, because finished tasks hold no result anyone waits for (released at once).
* **The scheduler lost**: every pending invocation fails naming the scheduler's address,
  and so does every later submit; a rerun after it is back resumes from the receipts.

Dask is an optional extra (``pip install 'groves[dask]'``), imported only here, and this
module only when the dask executor is chosen.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any
from urllib.parse import urlsplit

from lambda_functions.errors import GrovesError
from lambda_functions.names import series_key
from lambda_functions.stages import FUNCTIONS
from lambda_functions.stages import stage as registered
from lambda_functions.storage import open_storage

logger = logging.getLogger(__name__)

ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT_S = 10.0
BATCH_WINDOW_S = 0.002  # submissions gathered into one scheduler message
PROBE_PREFIX = ".groves-probe/"
INSTALL_HINT = "the dask executor needs Dask on this machine: pip install 'groves[dask]'"


class DaskExecutorError(GrovesError):
    """The Dask cluster cannot be used (no address, unreachable, or cannot see the store)."""


def scheduler_address(address: str | None) -> str:
    """The scheduler address given, else ``$DASK_SCHEDULER_ADDRESS``; an error if neither."""
    address = (address or os.environ.get(ADDRESS_ENV) or "").strip()
    if not address:
        raise DaskExecutorError(
            "the dask executor needs a scheduler address: --dask-address tcp://HOST:8786 "
            f"(or {ADDRESS_ENV}); start one with `dask scheduler`"
        )
    if "://" not in address:
        address = f"tcp://{address}"
    return address


def is_loopback(address: str) -> bool:
    """Whether a scheduler address is on this machine's loopback interface."""
    parts = urlsplit(address)
    if parts.scheme == "inproc":
        return True
    host = (parts.hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def run_on_worker(function: str, event: dict[str, Any], threads: dict[str, int]) -> None:
    """What a Dask task runs: the stage's handler on ``event`` (its receipt is the outcome).

    ``threads`` maps a worker host to the fit threads it can spare per task; a host not in
    it (a worker that joined later) fits single-threaded. Returns nothing: the result is
    the receipt in the store, and a task result would only occupy the worker's memory."""
    from tasks.executors import _run_handler

    fields = registered(function).event_model.model_fields
    if "n_jobs" in fields and event.get("n_jobs") is None:
        event = {**event, "n_jobs": threads.get(_worker_host(), 1)}
    _run_handler(function, event)


def _worker_host() -> str:
    try:
        from distributed import get_worker

        return urlsplit(get_worker().address).hostname or ""
    except (ImportError, ValueError):
        return ""


def _probe(store_url: str, key: str) -> str | None:
    """On a worker: None if it reads the probe at ``key``, else what went wrong."""
    try:
        if open_storage(store_url).exists(key):
            return None
        return "the probe object is not there"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def fit_threads(workers: dict[str, dict[str, Any]], cpus: dict[str, int]) -> dict[str, int]:
    """Fit threads per host: its cores over the Dask threads of every worker on it (>= 1).

    Args:
        workers: the scheduler's worker table (address -> info with ``nthreads``).
        cpus: address -> cores the worker's process may use.
    """
    slots: dict[str, int] = {}
    cores: dict[str, int] = {}
    for address, info in workers.items():
        host = urlsplit(address).hostname or ""
        slots[host] = slots.get(host, 0) + int(info.get("nthreads") or 1)
        cores[host] = max(cores.get(host, 0), int(cpus.get(address) or 1))
    return {host: max(1, cores[host] // slots[host]) for host in slots}


class DaskExecutor:
    """Runs each invocation as a task on a Dask cluster; see the module docstring."""

    kind = "dask"
    #: What each task runs: ``(stage, event, threads)`` (benchmarks swap in a no-op).
    runner: Callable[[str, dict[str, Any], dict[str, int]], None] = staticmethod(run_on_worker)

    def __init__(
        self,
        address: str | None,
        store_url: str,
        *,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        client: Any = None,
    ) -> None:
        self.address = scheduler_address(address)
        self.store_url = store_url
        self._live: dict[str, Any] = {}  # key -> Dask future, until it ends
        self._lock = threading.Lock()
        self._gone: str | None = None
        self._queue: list[tuple[str, str, dict[str, Any], Future[Any]]] = []
        self._wake = threading.Event()
        self._closing = False
        self.client = client if client is not None else self._connect(connect_timeout_s)
        try:
            workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        except TypeError:  # older distributed: no n_workers argument
            workers = self.client.scheduler_info().get("workers", {})
        self.check_store(workers)
        cpus = self.client.run(_cpus) if workers else {}
        self.threads = fit_threads(workers, cpus)
        #: Dask threads in the cluster now (what the cost estimate's "workers" means).
        self.workers = sum(int(w.get("nthreads") or 1) for w in workers.values()) or None
        self.about = (
            f"Dask scheduler {self.address}: {len(workers)} worker(s), {self.workers or 0} "
            f"thread(s); fit threads per task by host {self.threads or '{}'}; "
            f"dashboard {self.dashboard_link or 'not served'}"
        )
        self._sender = threading.Thread(target=self._send_loop, name="groves-dask", daemon=True)
        self._sender.start()

    def _connect(self, timeout_s: float) -> Any:
        try:
            from distributed import Client
        except ImportError:
            raise DaskExecutorError(INSTALL_HINT) from None
        try:
            return Client(
                self.address,
                timeout=timeout_s,
                set_as_default=False,
                name="groves",
            )
        except (OSError, TimeoutError) as exc:
            raise DaskExecutorError(
                f"cannot reach the Dask scheduler at {self.address} ({exc}): is "
                "`dask scheduler` running there? (--dask-address / DASK_SCHEDULER_ADDRESS)"
            ) from None
        except ValueError as exc:  # e.g. an unknown protocol
            raise DaskExecutorError(f"bad Dask scheduler address {self.address!r}: {exc}") from None

    @property
    def dashboard_link(self) -> str | None:
        try:
            return self.client.dashboard_link
        except Exception:  # no dashboard (bokeh not installed, or --no-dashboard)
            return None

    def check_store(self, workers: dict[str, Any]) -> None:
        """Every connected worker reads a probe object from the store, or an error names
        those that cannot. With no worker yet, a local folder and a scheduler on another
        machine are refused (its workers cannot be on this one)."""
        local_folder = "://" not in self.store_url
        if not workers:
            if local_folder and not is_loopback(self.address):
                raise DaskExecutorError(self._folder_hint("the cluster's workers"))
            logger.warning("no Dask worker connected to %s yet: tasks wait for one", self.address)
            return
        store = open_storage(self.store_url)
        key = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
        store.put_bytes(key, b"groves")
        try:
            answers = self.client.run(_probe, self.store_url, key)
        finally:
            store.delete_prefix(key)
        blind = {worker: problem for worker, problem in answers.items() if problem}
        if not blind:
            return
        shown = "; ".join(f"{w}: {p}" for w, p in sorted(blind.items())[:3])
        if local_folder:
            raise DaskExecutorError(self._folder_hint(f"{len(blind)} Dask worker(s) ({shown})"))
        raise DaskExecutorError(
            f"{len(blind)} Dask worker(s) cannot read the store {self.store_url} ({shown}): "
            "give the workers S3 credentials and the endpoint (AWS_ENDPOINT_URL_S3) if any"
        )

    def _folder_hint(self, who: str) -> str:
        return (
            f"the store {self.store_url} is a folder {who} cannot see (a folder on this "
            f"machine, with the Dask cluster at {self.address} on others?): use an s3:// "
            "store (any S3 API) or a folder every worker mounts at the same path"
        )

    def submit(self, function: str, event: dict[str, Any]) -> Future[Any]:
        if function not in FUNCTIONS:
            raise GrovesError(f"unknown worker function {function!r}; expected one of {FUNCTIONS}")
        status = getattr(self.client, "status", "running")
        if self._gone or status != "running":
            raise DaskExecutorError(self._gone or self._lost(f"client {status}"))
        mine: Future[Any] = Future()
        mine.set_running_or_notify_cancel()
        with self._lock:
            self._queue.append((task_key(function, event), function, event, mine))
        self._wake.set()
        return mine

    def _send_loop(self) -> None:
        """Send what was submitted in batches: one scheduler message per batch, not per
        task (a stage's invocations are submitted together, so they share a batch)."""
        while True:
            self._wake.wait()
            if not self._closing:
                time.sleep(BATCH_WINDOW_S)  # let the rest of a stage's invocations join
            with self._lock:
                batch, self._queue = self._queue, []
                self._wake.clear()
            if batch:
                self._send(batch)
            if self._closing:
                return

    def _send(self, batch: list[tuple[str, str, dict[str, Any], Future[Any]]]) -> None:
        try:
            futures = self.client.map(
                self.runner,
                [function for _, function, _, _ in batch],
                [event for _, _, event, _ in batch],
                threads=self.threads,
                key=[key for key, _, _, _ in batch],
                pure=False,
            )
        except Exception as exc:  # e.g. the connection lost between submit and send
            status = getattr(self.client, "status", "running")
            error = exc if status == "running" else DaskExecutorError(self._lost(str(exc)))
            for *_, mine in batch:
                mine.set_exception(error)
            return
        with self._lock:  # a dropped Dask future would cancel its task
            self._live.update((future.key, future) for future in futures)
        for future, (*_, mine) in zip(futures, batch, strict=True):
            future.add_done_callback(lambda f, mine=mine: self._settle(f, mine))

    def _settle(self, dask_future: Any, mine: Future[Any]) -> None:
        """Pass a Dask task's end to the awaiter's future; release the task at once."""
        with self._lock:
            self._live.pop(dask_future.key, None)
        try:
            status = dask_future.status
            if status == "finished":
                mine.set_result(None)
            elif status == "error":
                mine.set_exception(dask_future.exception())
            else:  # cancelled: the scheduler connection lost, or the run ending
                self._gone = self._gone or self._lost(f"task {status}")
                mine.set_exception(DaskExecutorError(self._gone))
        except Exception as exc:  # the awaiter must hear of the end, whatever it was
            if not mine.done():
                mine.set_exception(exc)
        finally:
            dask_future.release()

    def _lost(self, what: str) -> str:
        return (
            f"lost the Dask scheduler at {self.address} ({what}): start it again and rerun; "
            "finished invocations are kept"
        )

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._sender.join(timeout=30)
        with self._lock:
            live = list(self._live.values())
            self._live.clear()
        try:
            if live and self.client.status == "running":
                self.client.cancel(live)
        finally:
            self.client.close()


def task_key(function: str, event: dict[str, Any]) -> str:
    """A readable, unique Dask key: ``{stage}-{stock}-a{attempt}-{random}`` (the dashboard
    groups tasks by the part before the first dash, so by stage)."""
    stock = event.get("stock")
    where = series_key(stock) if isinstance(stock, str) and stock else "_run"
    return f"{function}-{where}-a{event.get('attempt', 1)}-{uuid.uuid4().hex[:12]}"
