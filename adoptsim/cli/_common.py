"""What the ``adoptsim`` commands share: argument types, output folders, figures, worker pools."""

from __future__ import annotations

from adoptsim.bounds import whole_number_arg

_positive_int = whole_number_arg(1)


_seed = whole_number_arg(0, 2**63 - 1)


_port = whole_number_arg(1, 65535)


def _figures() -> None:
    r"""Draw figures off-screen and show text as written.

    A scenario name such as ``$\frac{$`` must not be parsed as math: it would fail after the
    tables were written, leaving a half-written output folder.
    """
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False


def _prestarted(workers: int, runs: int):
    """Start the workers of a run on several processes now; stopped on leaving if unused.

    They import the model while this process loads and checks the scenario.
    """
    from adoptsim.sweeps import pool as worker_pool

    worker_pool.prestart(min(workers, runs))
    return worker_pool.stopping_unused()


WORKERS_HELP = (
    "processes for the replications (default 1; the result is the same for any number; a pool "
    "costs about a second to start)"
)
