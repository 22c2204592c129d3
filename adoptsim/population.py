"""Synthetic firms: one array per attribute, drawn from the fitted joint table.

By default (``population.allocation = "sqrt"``) agents are allocated to size classes in
proportion to the square root of the firm count (stratified sampling), so the few large firms —
where adoption differs most — are represented by enough agents; ``"proportional"`` allocates
them in proportion to the firm count. Every agent carries a ``weight`` (firms it stands for) and
every share is weighted, peer shares included (`adoptsim.network`), so the allocation changes
the Monte-Carlo precision by segment, not the expected result.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from adoptsim._blocks import BLOCK, for_blocks
from adoptsim.population_tables import assumptions, ipf, joint_table, region_codes
from adoptsim.taxonomy import BARRIERS, SIZE_CLASSES, SIZE_LABELS


@dataclass
class Firms:
    """Columnar firm state shared by the model, the rules and the recorder.

    Attributes:
        sector: index into `adoptsim.taxonomy.SECTORS` (int8).
        employees: persons employed, integer inside the size class (int32).
        size: index into `adoptsim.taxonomy.SIZE_CLASSES` (int8), derived from employees.
        region: index into `adoptsim.taxonomy.REGIONS` (int8).
        maturity: latent digital maturity, standard normal (float64).
        barriers: one boolean column per `adoptsim.taxonomy.BARRIERS` entry, shape (n, 9).
        weight: number of real firms this agent stands for (float64).
        cell: sector × size × population-region cell of the joint table (int32).
    """

    sector: np.ndarray
    employees: np.ndarray
    size: np.ndarray
    region: np.ndarray
    maturity: np.ndarray
    barriers: np.ndarray
    weight: np.ndarray
    cell: np.ndarray
    regions: tuple[str, ...]

    @property
    def n(self) -> int:
        """Number of agents."""
        return int(self.sector.shape[0])


def largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    """Integer allocation of ``total`` units proportional to ``shares`` (Hamilton's method)."""
    raw = total * shares / shares.sum()
    out = np.floor(raw).astype(np.int64)
    remainder = total - out.sum()
    if remainder > 0:
        out[np.argsort(-(raw - out), kind="stable")[:remainder]] += 1
    return out


ALLOCATIONS = ("sqrt", "proportional")


def allocate_agents(counts: np.ndarray, n_firms: int, allocation: str = "sqrt") -> np.ndarray:
    """Agents per joint-table cell.

    Size classes get agents ∝ sqrt(firms) (``"sqrt"``) or ∝ firms (``"proportional"``), cells
    within a class ∝ firms.

    Under ``"proportional"`` every size class that has firms keeps at least one agent (taken from
    the largest class), so that no size class loses its firms.
    """
    from adoptsim.errors import ScenarioError

    if allocation not in ALLOCATIONS:
        raise ScenarioError(
            "population.allocation", allocation, f"must be one of {', '.join(ALLOCATIONS)}"
        )
    by_size = counts.sum(axis=(0, 2))
    present = by_size > 0
    if n_firms < 10 * present.sum():
        raise ScenarioError("population.n_firms", n_firms, f"must be >= {10 * present.sum()}")
    if allocation == "sqrt":
        per_size = largest_remainder(n_firms, np.sqrt(by_size))
    else:
        per_size = largest_remainder(n_firms, by_size)
        short = present & (per_size == 0)
        per_size[short] = 1
        per_size[int(np.argmax(per_size))] -= int(short.sum())
    agents = np.zeros(counts.shape, dtype=np.int64)
    for s in np.flatnonzero(present):
        agents[:, s, :] = largest_remainder(int(per_size[s]), counts[:, s, :].ravel()).reshape(
            counts[:, s, :].shape
        )
    return agents


def draw_employees(size: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integer employees inside each firm's size class, p(e) ∝ e^-a (a from assumptions.csv)."""
    a = assumptions()["within_band_exponent"]
    cap = int(assumptions()["top_class_cap"])
    out = np.empty(size.shape[0], dtype=np.int32)
    u = rng.random(size.shape[0])
    for k, (_, lo, hi) in enumerate(SIZE_CLASSES):
        grid, cdf = _employee_cdf(lo, min(hi, cap), a)
        mask = size == k
        out[mask] = grid[np.searchsorted(cdf, u[mask], side="left")]
    return out


@lru_cache(maxsize=64)
def _employee_cdf(lo: int, hi: int, a: float) -> tuple[np.ndarray, np.ndarray]:
    """Employees lo..hi and their cumulative probability ∝ e^-a (made once per process)."""
    grid = np.arange(lo, hi + 1)
    cdf = np.cumsum(grid.astype(float) ** -a)
    cdf = cdf / cdf[-1]
    grid.flags.writeable = cdf.flags.writeable = False
    return grid, cdf


def _logit_offsets(target: np.ndarray, loading: float, z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Intercepts c_k so that the weighted mean of σ(c_k − loading·z) equals target_k.

    Newton steps, the mean being monotone in c: from the logit of the target they converge
    quadratically (4–5 steps to 1e-15), then only jitter in the last bits. So the loop stops once
    no intercept moves by more than `_NEWTON_TOL` (at most fifty steps).
    """
    c = np.log(target / (1 - target))
    lz = loading * z
    p = np.empty((c.shape[0], z.shape[0]))
    q = np.empty_like(p)
    for _ in range(50):

        def block(sl: slice, c: np.ndarray = c) -> None:
            b, d = p[:, sl], q[:, sl]
            np.subtract(lz[None, sl], c[:, None], out=b)  # −(c − loading·z), exactly
            np.exp(b, out=b)
            b += 1.0
            np.divide(1.0, b, out=b)
            np.subtract(1.0, b, out=d)
            d *= b

        for_blocks(block, z.shape[0], block=max(1, BLOCK // max(1, c.shape[0])))
        mean = p @ w / w.sum()
        slope = q @ w / w.sum()
        move = (mean - target) / slope
        c = c - move
        if np.max(np.abs(move), initial=0.0) <= _NEWTON_TOL:
            break
    return c


# An intercept step this small is rounding (the offsets are logits of order 1): stop there.
_NEWTON_TOL = 1e-12


@lru_cache(maxsize=16)
def _layout(
    population: str, n_firms: int, include_micro: bool, allocation: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each agent's cell, weight, sector, size class and region (read-only).

    No randomness goes into these, so every replication of a run has the same: they are made
    once per process (raking the weights was a good part of building a small population).
    """
    table = joint_table(population, include_micro)
    agents = allocate_agents(table.counts, n_firms, allocation)
    cells = np.flatnonzero(agents.ravel())
    per_cell = agents.ravel()[cells]
    cell = np.repeat(cells, per_cell).astype(np.int32)
    # Cells too small to get an agent would lose their firms: rake the covered cells back onto the
    # table's sector and size × region margins (IPF with the uncovered cells fixed at zero).
    covered = np.where(agents > 0, table.counts, 0.0)
    raked = ipf(
        covered, [((1, 2), table.counts.sum(axis=0)), ((0,), table.counts.sum(axis=(1, 2)))]
    )
    weight = np.repeat(raked.ravel()[cells] / per_cell, per_cell)
    n_size, n_reg = len(SIZE_LABELS), len(table.regions)
    sector = (cell // (n_size * n_reg)).astype(np.int8)
    size = ((cell // n_reg) % n_size).astype(np.int8)
    region = region_codes(table.regions)[cell % n_reg]
    out = (cell, weight, sector, size, region)
    for a in out:
        a.flags.writeable = False
    return out


def build_population(
    population: str,
    n_firms: int,
    rng: np.random.Generator,
    *,
    include_micro: bool = True,
    allocation: str = "sqrt",
    maturity_size_loading: float = 0.3,
    barrier_prevalence: dict[str, float] | None = None,
    barrier_maturity_loading: float = 0.5,
) -> Firms:
    """Draw ``n_firms`` agents standing for the firms of ``population``.

    Args:
        population: ``flanders``, ``belgium`` or ``netherlands``.
        n_firms: number of agents (not real firms; weights carry the real count).
        rng: the population's own random stream.
        include_micro: keep firms with 1–9 employees.
        allocation: ``"sqrt"`` or ``"proportional"`` agents per size class (see
            `allocate_agents`).
        maturity_size_loading: correlation of latent maturity with log employees.
        barrier_prevalence: initial share of firms holding each barrier.
        barrier_maturity_loading: how much lower maturity raises every barrier's odds (logit).
    """
    table = joint_table(population, include_micro)
    cell, weight, sector, size, region = (
        a.copy() for a in _layout(population, n_firms, include_micro, allocation)
    )
    employees = draw_employees(size, rng)
    log_e = np.log(employees)
    mu = np.average(log_e, weights=weight)
    sd = np.sqrt(np.average((log_e - mu) ** 2, weights=weight)) or 1.0
    rho = maturity_size_loading
    maturity = rho * (log_e - mu) / sd + np.sqrt(1 - rho**2) * rng.standard_normal(cell.shape[0])

    prevalence = barrier_prevalence or {}
    target = np.array([prevalence.get(b, 0.0) for b in BARRIERS])
    inner = (target > 0) & (target < 1)
    offsets = np.where(target >= 1, np.inf, -np.inf)
    if inner.any():
        offsets[inner] = _logit_offsets(target[inner], barrier_maturity_loading, maturity, weight)
    p = 1.0 / (1.0 + np.exp(-(offsets[None, :] - barrier_maturity_loading * maturity[:, None])))
    barriers = rng.random(p.shape) < p
    return Firms(sector, employees, size, region, maturity, barriers, weight, cell, table.regions)
