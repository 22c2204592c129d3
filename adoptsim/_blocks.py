"""Element-wise array work in cache-sized blocks, on up to two threads.

Whole-array NumPy expressions over 10⁶ firms stream every temporary through main memory; doing
the same operations block by block keeps the temporaries in cache, and NumPy releases the GIL
inside each operation, so two threads can work on different blocks at once. Every element goes
through exactly the same operations as in the whole-array form, so results are identical, bit
for bit, whatever the block size or the number of threads.

``ADOPTSIM_THREADS`` (default: 2, or 1 on a single-CPU machine) sets the number of threads; set
it to 1 when running one simulation per core in parallel.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

BLOCK = 1 << 15  # elements per block: a few float64 temporaries of this size fit in L2
_MIN_PARALLEL = 1 << 17  # below this many elements a second thread does not pay for itself


_CPUS = os.cpu_count() or 1  # asked once: the call costs microseconds, made several times a step


def threads() -> int:
    """Number of threads used for block work."""
    env = os.environ.get("ADOPTSIM_THREADS", "")
    if env.strip().isdigit() and int(env) >= 1:
        return int(env)
    return max(1, min(2, _CPUS))


def for_blocks(fn: Callable[[slice], None], n: int, block: int = BLOCK) -> None:
    """Call ``fn(sl)`` for consecutive slices covering ``range(n)``.

    ``fn`` must only write to its own slice of shared outputs. With more than one thread the
    blocks are split into contiguous runs, one per thread; an exception in any is re-raised.
    """
    if n <= block:  # one block: the common case for the many small runs of a sweep
        if n > 0:
            fn(slice(0, n))
        return
    slices = [slice(lo, min(lo + block, n)) for lo in range(0, n, block)]
    k = min(threads(), len(slices)) if n >= _MIN_PARALLEL else 1
    if k <= 1:
        for sl in slices:
            fn(sl)
        return
    errors: list[BaseException] = []

    def work(part: list[slice]) -> None:
        try:
            for sl in part:
                fn(sl)
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    per = -(-len(slices) // k)
    helpers = [
        threading.Thread(target=work, args=(slices[i * per : (i + 1) * per],), daemon=True)
        for i in range(1, k)
    ]
    for t in helpers:
        t.start()
    work(slices[:per])
    for t in helpers:
        t.join()
    if errors:
        raise errors[0]


def run_parallel(*fns: Callable[[], object], size: int | None = None) -> list[object]:
    """Call independent ``fns`` and return their results in order.

    Each runs in its own thread unless `threads()` is 1 or the arrays are small (``size``
    elements).
    """
    if (size is not None and size < _MIN_PARALLEL) or len(fns) <= 1 or threads() <= 1:
        return [fn() for fn in fns]
    results: list[object] = [None] * len(fns)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = fns[i]()
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    helpers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(1, len(fns))]
    for t in helpers:
        t.start()
    work(0)
    for t in helpers:
        t.join()
    if errors:
        raise errors[0]
    return results
