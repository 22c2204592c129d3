"""What every command does around its work: checks before it starts, one commit when it ends.

Before any work: the output folder (writable, and none of the files the command writes there a
folder already), the resource budgets a command's own options imply (a calibration's
``--budget``, ``validate``'s ``--replications``), the worker count (at most the CPUs). After
the work: the command's files are written as temporary files and swapped in together
([`FolderCommit`][adoptsim.atomic.FolderCommit]), so an earlier result stays whole if this one
cannot be written. A SIGTERM unwinds like Ctrl-C, so pools are stopped and temporary files
removed.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adoptsim import memory
from adoptsim.errors import AdoptsimError

if TYPE_CHECKING:
    import pandas as pd

#: The files each command writes into its ``--out`` (checked up front: none may be a folder).
OUT_FILES = {
    "run": ("adoption.csv", "scenario.toml", "adoption.png", "run.json"),
    "calibrate": ("evals.jsonl", "posterior.csv", "fit.json", "fit.csv", ".lock"),
    "backtest": ("forecast.csv", "score.csv", "skill.csv", "summary.txt", "backtest.png"),
    "validate": ("fit.csv", "fit.png", "skill.csv"),
    "compare": ("comparison.csv", "comparison.png", "adoption.csv"),
    "sensitivity": ("indices.csv", "indices.png", "convergence.csv", "design.json"),
    "evidence": ("evidence.csv", "evidence_draws.csv", "evidence.png"),
}


def out_folder(command: str, given: str | None, *default: str) -> Path:
    """The output folder: ``--out`` if given (even ``""``, which is refused), else the default.

    It is checked writable before any work starts, so a long run never ends in "cannot write".
    """
    from adoptsim.paths import default_out, writable_folder

    folder = given if given is not None else default_out(*default)
    return writable_folder(folder, files=OUT_FILES.get(command, ()))


def check_design(budget: int, replications: int, countries: int) -> None:
    """Refuse a calibration ``--budget`` whose evaluations cannot fit in memory, up front."""
    needed = budget * replications * countries * memory.BYTES_PER_EVALUATION
    memory.check("--budget", budget, needed, "use a smaller budget")


def check_validate(targets: pd.DataFrame, replications: int) -> None:
    """Refuse ``validate`` replications that cannot fit for the ``targets`` table, up front."""
    from adoptsim.fit.validation import NOISE_DRAWS

    rows = len(targets)
    # per country: the simulated targets and their noise draws, one row per replication
    needed = 2 * replications * rows * (1 + NOISE_DRAWS) * 8
    memory.check("--replications", replications, needed, "use fewer replications")


def targets_and_cutoff(
    targets: str | None, cutoff: str | None, origin: str | None
) -> tuple[pd.DataFrame, str]:
    """``--targets`` read and checked once (None: the shipped table) and ``--cutoff`` "YYYY-MM".

    Malformed target rows are refused in one line naming row and column (`load_targets`).

    A cutoff before ``--origin`` is refused in one line; so is a cutoff after the last row of
    the targets (and after 2024-12), which would promise waves the file does not hold.
    """
    from adoptsim.fit.targets import check_cutoff
    from adoptsim.months import format_month, parse_month
    from adoptsim.observe import TARGET_CUTOFF, load_targets

    table = load_targets(targets)
    cut = check_cutoff(cutoff)
    given = cutoff is not None  # without --cutoff, an origin past 2024-12 is the origin's error
    if given and origin is not None and parse_month(str(origin), "origin") > parse_month(cut):
        raise AdoptsimError(f"--cutoff = {cut} — must be at or after --origin ({origin})")
    last = int(table.date.map(parse_month).max())
    if parse_month(cut) > max(last, parse_month(TARGET_CUTOFF)):
        raise AdoptsimError(
            f"--cutoff = {cut} — must be at most the last target month in the file "
            f"({format_month(last)}); add the later waves with --targets FILE"
        )
    return table, cut


def parse_params(text: str | None) -> list[str] | None:
    """``--params a,b`` as a list; None when not given; an empty list is refused."""
    if text is None:
        return None
    params = [p.strip() for p in text.split(",") if p.strip()]
    if not params:
        raise AdoptsimError(
            f"--params = {text!r} — name one or more factors (comma-separated), or leave "
            "--params out for all"
        )
    return params


def png_of(draw: Callable[[Any], Any]) -> bytes:
    """The PNG that ``draw(file)`` saves, the figure closed afterwards."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    plt.close(draw(buf))
    return buf.getvalue()


def commit(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (name → bytes) into ``out`` together: all of them, or none."""
    from adoptsim.atomic import FolderCommit

    with FolderCommit(out) as folder:
        for name, data in files.items():
            folder.add(name, data)
        folder.commit()


def cap_workers(args: argparse.Namespace) -> None:
    """Clamp ``--workers`` to the CPUs available, with a line, before any process starts."""
    from adoptsim.arguments import cap_workers as capped

    if getattr(args, "workers", None) is not None:
        args.workers, note = capped(args.workers)
        if note:
            print(f"adoptsim: {note}", file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interruption: pools are stopped and temporary files removed."""


def _on_sigterm(signum: int, frame: object) -> None:
    import signal

    # once: a second SIGTERM (timeout(1) and a process group both send one) ends the process at
    # once instead of raising again inside the clean-up of the first
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Terminated


def unwind_on_sigterm() -> None:
    """From now on a SIGTERM raises `Terminated` in the main thread (no bare exit -15)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
