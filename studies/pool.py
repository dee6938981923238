"""A local process pool whose workers end when the process that started them dies.

``ProcessPoolExecutor`` workers outlive a parent killed by ``kill -9``: they keep computing
points nobody will read, and hold every file the parent had open. :func:`worker_pool` starts
each worker with an initializer that asks Linux to send it ``SIGKILL`` when its parent dies
(``prctl(PR_SET_PDEATHSIG)``); where that call is not available, a daemon thread in the worker
polls ``os.getppid()`` every :data:`WATCH_SECONDS` and exits when the parent is gone. Either
way the worker first checks that the parent it was started for is still its parent, so a
parent that died during the worker's start is caught too.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1      # <linux/prctl.h>
WATCH_SECONDS = 0.5


def _pdeathsig() -> bool:
    """Ask the kernel for SIGKILL on the parent's death; True if it accepted."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent_pid: int):
    while os.getppid() == parent_pid:
        time.sleep(WATCH_SECONDS)
    os._exit(1)


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker when ``parent_pid`` dies (see the module docstring)."""
    armed = _pdeathsig()
    if os.getppid() != parent_pid:
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch, args=(parent_pid,), daemon=True).start()


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` processes that end with this one."""
    return ProcessPoolExecutor(max_workers=jobs, initializer=die_with_parent, initargs=(os.getpid(),))
