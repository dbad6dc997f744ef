"""Imported by the forkserver (`groves.worker_processes`): the parent's main script, once.

A worker forked from the server then finds ``__main__`` loaded from the same path and
skips importing it (`multiprocessing.spawn`'s own check). Whatever goes wrong here only
costs that saving: each worker imports the script itself, as without a forkserver.
"""

import contextlib
import multiprocessing.process
import os
from multiprocessing import spawn

from groves.worker_processes import MAIN_ENV

_path = os.environ.get(MAIN_ENV)
if _path:
    process = multiprocessing.process.current_process()
    process._inheriting = True  # type: ignore[attr-defined]  # as the forkserver does
    with contextlib.suppress(Exception):
        spawn.import_main_path(_path)
    del process._inheriting  # type: ignore[attr-defined]
