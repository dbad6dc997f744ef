"""Prefect server settings groves runs with, unless the environment already sets them.

A Prefect 3 server records task runs from the events clients send, and by default writes
each event in a transaction of its own (task run recorder batch size 1). Past a few
hundred stocks it falls behind the flow: measured at 330 stocks (22,770 no-op
invocations), it finished recording 99 s after the flow returned, and at 990 its
in-memory event queue (10,000 messages) overflowed and dropped events, i.e. task runs
that never reached the UI. Up to 500 events a transaction, flushed at least once a
second: 3 s behind at 330 stocks, server CPU per invocation 4.8 -> 2.2 ms (bench g).

The temporary server Prefect starts for a run inherits this process's environment, so
`apply_server_defaults` before the first API call is enough; a long-running
``prefect server start`` needs the same variables in its own environment
(deployments/README.md).
"""

from __future__ import annotations

import os

SERVER_DEFAULTS = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "500",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "500",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def apply_server_defaults() -> None:
    """Set `SERVER_DEFAULTS` where the environment does not set them already."""
    for name, value in SERVER_DEFAULTS.items():
        os.environ.setdefault(name, value)
