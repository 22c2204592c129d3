"""Sweep worker processes die with the process that started them, from their first moment.

A spawned worker imports adoptsim (seconds: mesa, pandas, scipy) before the pool runs its
initializer; a ``kill -9`` of the sweep in that window would leave the worker importing on, then
idle. So ``adoptsim/__init__.py`` imports this module first, and importing it calls
``die_with_parent``: in a process started by a sweep's pool (the parent puts its pid in
``ADOPTSIM_SWEEP_PARENT``), it asks the Linux kernel to SIGKILL it when the parent dies
(``prctl(PR_SET_PDEATHSIG)``), or exits at once if the parent is already gone. It imports
nothing heavy.
"""

from __future__ import annotations

import os
import signal
import sys

ENV = "ADOPTSIM_SWEEP_PARENT"


def die_with_parent() -> None:
    """In a sweep's pool worker, tie this process's life to its parent's; elsewhere, nothing."""
    parent = os.environ.get(ENV, "")
    if not parent.isdigit():  # set only while a sweep starts its pool, and popped below
        return
    os.environ.pop(ENV, None)  # processes this worker starts are not the sweep's workers
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != int(parent):  # the parent died before prctl took effect
        os._exit(1)


die_with_parent()
