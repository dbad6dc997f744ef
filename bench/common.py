"""Shared by the benchmarks: a private Prefect API, timing helpers, results on disk."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from groves.prefect_settings import apply_server_defaults

RESULTS = Path(__file__).parent / "results"
PYCACHE = Path(tempfile.gettempdir()) / "groves-bench-pycache"
WARM_IMPORTS = (  # what the benchmarks' processes import: compiled once, before timing
    "sklearn.ensemble, pandas, pyarrow.parquet, pyarrow.csv, talib, joblib, boto3, "
    "matplotlib.figure, matplotlib.backends.backend_agg, prefect, prefect.testing.utilities, "
    "prefect.server.api.server, flows.pipeline, groves.reporting.report, groves.demo_data, "
    "lambda_functions.processing, lambda_functions.parampreds, lambda_functions.trainfull, "
    "lambda_functions.timingmetrics, groves.lambda_endpoint"
)


def use_bytecode_cache() -> None:
    """Cache compiled bytecode under `PYCACHE`, in this process and its children.

    An installed environment normally holds compiled bytecode; this one may not (uv
    installs without it by default, and ``PYTHONDONTWRITEBYTECODE=1`` stops Python
    writing it), in which case every process compiles pandas, scikit-learn and Prefect
    from source: seconds per worker start, which would be charged to the pipeline.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(PYCACHE)


use_bytecode_cache()


def quiet_prefect(home: Path | None = None) -> None:
    """Prefect settings for a benchmark process (set before Prefect is imported)."""
    os.environ["PREFECT_HOME"] = str(home or Path(tempfile.mkdtemp(prefix="groves-bench-")))
    apply_server_defaults()  # what `groves run` gives its server (groves.prefect_settings)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("GROVES_N_JOBS", "1")


@contextmanager
def prefect_api() -> Iterator[None]:
    """A temporary Prefect server (its own process and SQLite database)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def peak_rss_mib() -> float:
    """This process's peak resident set size, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mib() -> float:
    """The largest peak RSS of this process's finished children, in MiB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(wall seconds, result) of ``fn()``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    """The median wall seconds of ``repeats`` calls of ``fn``."""
    return statistics.median(timed(fn)[0] for _ in range(repeats))


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": load,
    }


def write_result(name: str, result: dict[str, Any], out: Path = RESULTS) -> Path:
    """Write ``{out}/{name}.json``, dated (``measured_at``, UTC)."""
    result = {**result, "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=1, sort_keys=True, default=str) + "\n")
    return path


def process_cpu_s(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process so far (Linux ``/proc``), 0.0 if unknown."""
    return _stat_cpu_s(pid, 11)


def reaped_children_cpu_s(pid: int | str) -> float:
    """User + system CPU seconds of a process's children that it has waited for (Linux
    ``/proc``: cutime + cstime), 0.0 if unknown."""
    return _stat_cpu_s(pid, 13)


def _stat_cpu_s(pid: int | str, user_field: int) -> float:
    """Fields ``user_field`` and the next (user, system) of ``/proc/{pid}/stat`` after the
    command name, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        ticks = int(fields[user_field]) + int(fields[user_field + 1])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def prefect_server_pid() -> int | None:
    """The pid of the Prefect API server started by `prefect_api`, if known."""
    try:
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer._instances.get(None)
        process = getattr(server, "server_process", None)
        return int(process.pid) if process is not None else None
    except Exception:
        return None


def minimal_raw(rows: int = 1100) -> str:
    """A raw file the up-front input check accepts (enough rows for lags and the split)."""
    start = 1_422_848_700  # 2015-02-02 09:15 IST, as epoch seconds
    lines = ["date,TYPPRICE"]
    for n in range(rows):
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + 19_800 + 60 * n))
        lines.append(f"{stamp}+05:30,{100 + (n % 7) * 0.25:.2f}")
    return "\n".join(lines) + "\n"
