"""Memory guard: estimate what a run needs before building it, refuse what cannot fit.

A run's memory grows linearly with its firms and with their peer ties. The two costs below were
measured with ``benchmarks/memory_per_firm.py`` (peak resident size of one replication minus the
peak after imports, least squares over 250k and 1M firms at mean degree 5 and 20; numbers in
``benchmarks/results_memory.json`` and docs/performance.md). The guard compares the estimate with
the memory the operating system says is available (``MemAvailable``, or a smaller cgroup limit)
and refuses in one line, e.g.
``n_firms = 50000000 — needs about 31 GB, 22 GB available; use fewer firms``.

Set ``ADOPTSIM_MEMORY_CHECK=0`` (CLI ``--no-memory-check``) to run anyway.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adoptsim.errors import AdoptsimError

#: Peak bytes per firm of one replication, without its peer ties (measured, see module doc).
BYTES_PER_FIRM = 100
#: Peak bytes per peer tie (a firm with mean degree k holds about k ties).
BYTES_PER_TIE = 55
#: Peak bytes per firm with the ``complete`` network (mean field: no ties are stored).
COMPLETE_BYTES_PER_FIRM = 208
#: Bytes a sweep's plan holds per task (task object, point, validation; tracemalloc peak).
BYTES_PER_TASK = 389
#: Peak bytes per row of a run's result table (replication × month × segment): the per-cell
#: records, the tidy table and its CSV text together; tracemalloc peak of 10 to 80 replications
#: of 500 firms, 470-680 bytes a row (fewer replications: the run's fixed part weighs more),
#: rounded up.
BYTES_PER_RESULT_ROW = 700
#: Bytes a design point of `calibrate` holds per simulation (parameters, simulated targets and
#: its evals.jsonl line, about 250 numbers), rounded up.
BYTES_PER_EVALUATION = 4096
#: Head room kept free for the interpreter, libraries and the operating system.
HEADROOM_BYTES = 300 * 2**20
ENV = "ADOPTSIM_MEMORY_CHECK"
# Set while a job that was checked as a whole runs its parts: the parts do not check again.
_JOB_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("job_checked", default=False)


class MemoryGuardError(AdoptsimError):
    """A run or sweep would need more memory than is available."""


def enabled() -> bool:
    """Whether the guard is on (``ADOPTSIM_MEMORY_CHECK`` not set to 0/false/no/off)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


@contextlib.contextmanager
def checked() -> Iterator[None]:
    """Mark the enclosed work as part of a job whose memory check has already passed.

    The check runs once per job (a CLI command, a `simulate` call, a sweep), at its start,
    where it knows how many runs share the memory; the replications inside do not repeat it.
    """
    token = _JOB_CHECKED.set(True)
    try:
        yield
    finally:
        _JOB_CHECKED.reset(token)


def run_bytes(n_firms: int, mean_degree: float = 10.0, network: str = "sector_region") -> int:
    """Estimated peak bytes of one replication with ``n_firms`` firms.

    Args:
        n_firms: agents in the run.
        mean_degree: mean number of peers per firm (``network.mean_degree``).
        network: ``network.kind``; the ``complete`` network is never materialised (no ties).

    Returns:
        Bytes (an int; Python ints do not overflow for absurd firm counts).
    """
    if network == "complete":
        return int(n_firms) * COMPLETE_BYTES_PER_FIRM
    ties = int(n_firms * max(float(mean_degree), 0.0))
    return int(n_firms) * BYTES_PER_FIRM + ties * BYTES_PER_TIE


def _cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (v2 or v1), if one is set."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            used = None
            for used_path in (
                "/sys/fs/cgroup/memory.current",
                "/sys/fs/cgroup/memory/memory.usage_in_bytes",
            ):
                try:
                    used = int(Path(used_path).read_text().strip())
                    break
                except (OSError, ValueError):
                    continue
            return int(text) - (used or 0)
    return None


def available_bytes() -> int | None:
    """Memory available to new allocations now, or None if the system does not say."""
    found: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        found = None
    if found is None:
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            found = None
    limit = _cgroup_limit()
    if limit is not None:
        found = limit if found is None else min(found, limit)
    return found


def _gb(n: int) -> str:
    gb = n / 1e9
    return f"{gb:.0f} GB" if gb >= 10 else f"{gb:.1f} GB"


def check(
    field: str,
    value: object,
    needed: int,
    advice: str = "use fewer firms",
    available: int | None = None,
) -> None:
    """Refuse (MemoryGuardError naming ``field``) if ``needed`` bytes do not fit.

    Does nothing when the guard is off, inside `checked` (the job was checked as a whole), or
    when the available memory is unknown.
    """
    if not enabled() or _JOB_CHECKED.get():
        return
    free = available_bytes() if available is None else available
    if free is None:
        return
    if needed + HEADROOM_BYTES > free:
        raise MemoryGuardError(
            f"{field} = {value} — needs about {_gb(needed)}, {_gb(max(free, 0))} available; "
            f"{advice} (or turn the check off with --no-memory-check / {ENV}=0)"
        )


def check_run(
    n_firms: int,
    mean_degree: float = 10.0,
    network: str = "sector_region",
    *,
    concurrent: int = 1,
    field: str = "n_firms",
) -> None:
    """Refuse a run (or ``concurrent`` runs at once) of ``n_firms`` that cannot fit in memory."""
    needed = concurrent * run_bytes(n_firms, mean_degree, network)
    advice = "use fewer firms" if concurrent == 1 else "use fewer firms or fewer workers"
    check(field, n_firms, needed, advice)


def check_scenario(
    scenario: Any,
    n_firms: int | None = None,
    concurrent: int = 1,
    replications: int | None = None,
    copies: int = 1,
) -> None:
    """Refuse a run that cannot fit in memory, before anything is built or shown.

    Args:
        scenario: the validated scenario to run.
        n_firms: agents per run (default: the scenario's ``population.n_firms``).
        concurrent: runs in memory at once (worker processes).
        replications: if given, the result table of that many replications is checked too.
        copies: scenarios whose result tables are held at once (`compare`).
    """
    net = scenario.data["network"]
    n = scenario.n_agents(n_firms)
    check_run(n, net["mean_degree"], net["kind"], concurrent=concurrent)
    if replications is not None:
        check_results(scenario, replications, copies=copies)


def result_rows(scenario: Any) -> int:
    """Rows per replication of the scenario's result table: months × segments."""
    from adoptsim.months import parse_month
    from adoptsim.taxonomy import POPULATIONS, SECTORS, SIZE_LABELS

    sc = scenario.data["scenario"]
    months = parse_month(sc["end"]) - parse_month(sc["start"]) + 1
    regions = len(POPULATIONS.get(scenario.data["population"]["name"], ())) or 8
    return months * (1 + len(SECTORS) + len(SIZE_LABELS) + regions)


def check_results(
    scenario: Any, replications: int, *, copies: int = 1, field: str = "replications"
) -> None:
    """Refuse ``replications`` whose result table (× ``copies`` scenarios) cannot fit in memory.

    The memory of a run grows with its firms (`check_run`) *and* with its result table: one row
    per replication × month × segment, held as per-cell records, a table and its CSV text.
    """
    rows = int(replications) * int(copies) * result_rows(scenario)
    check(field, replications, rows * BYTES_PER_RESULT_ROW, f"use fewer {field}")


def check_tasks(count: int, field: str = "sweep") -> None:
    """Refuse a sweep plan of ``count`` tasks whose bookkeeping alone cannot fit in memory."""
    check(field, f"{count} tasks", count * BYTES_PER_TASK, "use a smaller grid or sample")


def check_firms(firms: int | None, scenario: str, concurrent: int = 1) -> None:
    """Refuse a ``--firms`` that cannot fit in memory, before any work starts.

    Args:
        firms: the ``--firms`` given; None (not given) passes without a check.
        scenario: the scenario's name or path; its network sets the ties per firm.
        concurrent: how many runs of that size are in memory at once (e.g. sweep workers).
    """
    if firms is None:
        return
    from adoptsim.bounds import MAX_FIRMS, MIN_FIRMS, whole_number
    from adoptsim.scenario import load_scenario

    net = load_scenario(scenario).data["network"]
    check_run(firms, net["mean_degree"], net["kind"], concurrent=concurrent)
    # the bounds of population.n_firms, also where memory is ample
    whole_number(firms, "--firms", MIN_FIRMS, MAX_FIRMS)
