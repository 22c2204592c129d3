"""The agent-based model: a real ``mesa.Model`` whose firms live in numpy arrays.

``step()`` is a handful of vectorised operations and one or two sparse matrix–vector products;
there is no Python loop over firms. :class:`FirmAgent` objects are Mesa agents that *view* one
firm's row, made only when asked for (``model.firm(i)``), never needed to step.
"""

from __future__ import annotations

import mesa
import numpy as np

from adoptsim.levers import Levers
from adoptsim.months import format_month
from adoptsim.network import Network, build_network
from adoptsim.population import Firms, build_population
from adoptsim.results import CellRecord, Recorder
from adoptsim.rules import AdoptionRule, StepContext, rule_class
from adoptsim.scenario import Scenario, load_scenario
from adoptsim.taxonomy import AT_SCALE, BARRIERS, NON_USER, REGIONS, SECTORS, SIZE_LABELS, USER


class FirmAgent(mesa.Agent):
    """A read/write view of one firm in an :class:`AdoptionModel` (for inspection and extension)."""

    def __init__(self, model: AdoptionModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def sector(self) -> str:
        """NACE section letter."""
        return SECTORS[self.model.firms.sector[self.index]]

    @property
    def employees(self) -> int:
        """Persons employed."""
        return int(self.model.firms.employees[self.index])

    @property
    def size_class(self) -> str:
        """Size class label derived from employees."""
        return SIZE_LABELS[self.model.firms.size[self.index]]

    @property
    def region(self) -> str:
        """Region code (BE-VAN, ..., NL)."""
        return REGIONS[self.model.firms.region[self.index]]

    @property
    def weight(self) -> float:
        """Real firms this agent stands for."""
        return float(self.model.firms.weight[self.index])

    @property
    def maturity(self) -> float:
        """Latent digital maturity (standard normal)."""
        return float(self.model.firms.maturity[self.index])

    @property
    def barriers(self) -> dict[str, bool]:
        """Barrier name → whether the firm currently faces it."""
        row = self.model.firms.barriers[self.index]
        return {b: bool(v) for b, v in zip(BARRIERS, row, strict=True)}

    @property
    def state(self) -> int:
        """0 non-user, 1 user, 2 at scale."""
        return int(self.model.state[self.index])

    @state.setter
    def state(self, value: int) -> None:
        if value not in (NON_USER, USER, AT_SCALE):
            raise ValueError(f"state = {value!r} — must be 0, 1 or 2")
        self.model.state[self.index] = value

    @property
    def neighbours(self) -> np.ndarray:
        """Indices of the firm's peers (empty for the complete network, where all are peers)."""
        net = self.model.network
        if not hasattr(net, "adjacency"):
            return np.array([], dtype=np.int64)
        a = net.adjacency
        return a.indices[a.indptr[self.index] : a.indptr[self.index + 1]]


def _seed_sequence(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


def _proportional(share: float, propensity: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Probabilities ∝ propensity, clipped to 1, whose weighted mean is ``share``.

    The scale factor is found by bisection because clipping the most likely firms at 1 would
    otherwise leave the mean below ``share``.
    """
    lo, hi = 0.0, 1.0 / max(float(propensity.min(initial=1.0)), 1e-12)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        mean = weight @ np.minimum(mid * propensity, 1.0) / weight.sum()
        lo, hi = (mid, hi) if mean < share else (lo, mid)
    return np.minimum(lo * propensity, 1.0)


class AdoptionModel(mesa.Model):
    """AI adoption by firms, one step per month, from the scenario's start to its end.

    Args:
        scenario: a :class:`Scenario`, a built-in name or a TOML path.
        n_firms: number of agents (default: ``population.n_firms`` of the scenario).
        seed: an int or a ``numpy.random.SeedSequence``; population, network, dynamics and Mesa's
            own generator get spawned children, so results depend on nothing else.
        rule: an :class:`AdoptionRule` instance to use instead of the scenario's ``[rule]``.
        barrier_months: months at which barrier prevalence by adoption state is recorded.

    Attributes:
        firms: columnar firm attributes; ``state`` (0/1/2), ``month_started`` and
            ``month_scaled`` (months since start, −1 if not yet) are the dynamic state.
    """

    def __init__(
        self,
        scenario: Scenario | str,
        *,
        n_firms: int | None = None,
        seed: int | np.random.SeedSequence = 0,
        rule: AdoptionRule | None = None,
        barrier_months: set[int] | None = None,
    ) -> None:
        ss = _seed_sequence(seed)
        pop_ss, net_ss, dyn_ss, mesa_ss = ss.spawn(4)
        super().__init__(rng=np.random.default_rng(mesa_ss))
        self.scenario = load_scenario(scenario)
        d = self.scenario.data
        pop, net = d["population"], d["network"]
        self.firms: Firms = build_population(
            pop["name"],
            n_firms or pop["n_firms"],
            np.random.default_rng(pop_ss),
            include_micro=pop["include_micro"],
            maturity_size_loading=pop["maturity_size_loading"],
            barrier_prevalence=d["barriers"]["prevalence"],
            barrier_maturity_loading=d["barriers"]["maturity_loading"],
        )
        self.network: Network = build_network(
            net["kind"],
            self.firms,
            np.random.default_rng(net_ss),
            mean_degree=net["mean_degree"],
            within_share=net["within_share"],
            size_exponent=net["size_exponent"],
        )
        if rule is None:
            params = {k: v for k, v in d["rule"].items() if k != "kind"}
            rule = rule_class(d["rule"]["kind"])(**params)
        self.rule = rule
        self.rule.prepare(self.firms)
        self.levers = Levers(d["levers"], d["regulation"], d["shocks"], self.firms)
        self._draws = np.random.default_rng(dyn_ss)
        n = self.firms.n
        self.state = np.zeros(n, dtype=np.int8)
        self.month_started = np.full(n, -1, dtype=np.int16)
        self.month_scaled = np.full(n, -1, dtype=np.int16)
        self.month = self.scenario.start
        self.recorder = Recorder(
            self.firms, range(self.scenario.start, self.scenario.end + 1), barrier_months
        )
        self._views: dict[int, FirmAgent] = {}
        self._initialise(pop["initial_adopters"], pop["initial_at_scale"])
        self.recorder.record(0, self.state, self.firms.barriers)

    # --- state -------------------------------------------------------------------------------
    @property
    def t(self) -> int:
        """Months since the scenario start."""
        return self.month - self.scenario.start

    @property
    def date(self) -> str:
        """Current month as ``YYYY-MM``."""
        return format_month(self.month)

    def share(self, at_scale: bool = False) -> float:
        """Weighted share of all firms using AI (or using it at scale) now."""
        on = self.state == AT_SCALE if at_scale else self.state > NON_USER
        return float(self.firms.weight @ on / self.firms.weight.sum())

    def firm(self, index: int) -> FirmAgent:
        """The Mesa agent viewing firm ``index`` (created on first request, then reused)."""
        if not 0 <= index < self.firms.n:
            raise IndexError(f"firm index {index} — must be within [0, {self.firms.n - 1}]")
        if index not in self._views:
            self._views[index] = FirmAgent(self, index)
        return self._views[index]

    def _context(self) -> StepContext:
        active = (self.state > NON_USER).astype(np.float32)
        peer = self.network.peer_share(active)
        scale_peer = (
            self.network.peer_share((self.state == AT_SCALE).astype(np.float32))
            if getattr(self.rule, "needs_peer_scale", True)
            else np.zeros_like(peer)
        )
        sig = self.levers.signals(self.month)
        return StepContext(
            self.month,
            self.t,
            self.firms,
            self.state,
            peer,
            scale_peer,
            sig.subsidy,
            sig.clarity,
            sig.burden,
            sig.genai,
        )

    def _initialise(self, adopters: float, at_scale: float) -> None:
        """Seed the start state: shares drawn in proportion to each firm's hazards.

        The hazards are taken with every lever, regulation and shock signal at zero and no peers,
        so the start state depends on the firms and the rule's parameters only: scenarios that
        differ in levers start from the same firms in the same states (common random numbers).
        """
        u = self._draws.random((2, self.firms.n))
        if adopters <= 0:
            return
        n = self.firms.n
        zeros = np.zeros(n)
        neutral = StepContext(
            self.month, 0, self.firms, self.state, zeros, zeros, zeros, 0.0, zeros, 0.0
        )
        start, scale = self.rule.hazards(neutral)
        w = self.firms.weight
        users = u[0] < _proportional(adopters, start, w)
        self.state[users] = USER
        if at_scale > 0 and users.any():
            q = _proportional(at_scale, scale[users], w[users])
            self.state[np.flatnonzero(users)[u[1][users] < q]] = AT_SCALE

    def step(self) -> None:
        """Advance one month: levers, peers, hazards, draws, barrier dynamics, record."""
        if self.month >= self.scenario.end:
            self.running = False
            return
        ctx = self._context()
        start, scale = self.rule.hazards(ctx)
        uses_barriers = self.rule.uses_barriers
        u = self._draws.random((6 if uses_barriers else 2, self.firms.n), dtype=np.float32)
        new_users = (self.state == NON_USER) & (u[0] < start)
        new_scale = (self.state == USER) & (u[1] < scale)
        if uses_barriers:
            removal = self.levers.barrier_removal(self.month, self.state, ctx.peer_share)
            for row, (k, p) in enumerate(removal.items(), start=2):
                self.firms.barriers[:, k] &= ~(u[row] < p)
        self.state[new_users] = USER
        self.state[new_scale] = AT_SCALE
        self.month_started[new_users] = self.t
        self.month_scaled[new_scale] = self.t
        self.month += 1
        self.recorder.record(self.t, self.state, self.firms.barriers)
        if self.month >= self.scenario.end:
            self.running = False

    def run(self) -> CellRecord:
        """Step to the scenario's end and return the record."""
        while self.running:
            self.step()
        return self.recorder.result()
