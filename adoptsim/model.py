"""The agent-based model: a real ``mesa.Model`` whose firms live in numpy arrays.

``step()`` is a handful of vectorised operations and an update of each firm's count of active
peers from the firms that changed state; there is no Python loop over firms.
[`FirmAgent`][adoptsim.model.FirmAgent] objects are Mesa agents that *view* one firm's row, made
only when asked for (``model.firm(i)``), never needed to step.
"""

from __future__ import annotations

import mesa
import numpy as np

from adoptsim import arguments, block, memory, uniforms
from adoptsim._blocks import for_blocks, run_parallel
from adoptsim.levers import Levers
from adoptsim.months import format_month
from adoptsim.network import Network, PeerCounter, build_network
from adoptsim.population import Firms, build_population
from adoptsim.programmes import benefit_shares
from adoptsim.results import CellRecord, Recorder
from adoptsim.rules import AdoptionRule, StepContext, rule_class
from adoptsim.scenario import Scenario, load_scenario
from adoptsim.taxonomy import AT_SCALE, BARRIERS, NON_USER, REGIONS, SECTORS, SIZE_LABELS, USER


class FirmAgent(mesa.Agent):
    """A read/write view of one firm in an [`AdoptionModel`][adoptsim.model.AdoptionModel].

    For inspection and extension: stepping never needs these objects.
    """

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

    The weighted mean of min(k·propensity, 1) is piecewise linear in the scale k, with a kink
    where each firm reaches 1; with the firms sorted by propensity (largest first) and m of them
    clipped, k = (share·W − W_m) / S_m (W_m the clipped firms' weight, S_m the others' weighted
    propensity). The m that is consistent (the m-th firm clipped at that k, the next not) is
    found among the prefix sums at once: exact, where a bisection needs some fifty passes.
    """
    p = np.asarray(propensity, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    if p.shape[0] == 0:
        return np.zeros(0)
    total = w.sum()
    target = min(max(share, 0.0), 1.0) * total
    order = np.argsort(-p, kind="stable")
    ps, ws = p[order], w[order]
    clipped_w = np.concatenate(([0.0], np.cumsum(ws)))  # W_m, m = 0 … n
    mass = ws * ps
    rest = np.concatenate((np.cumsum(mass[::-1])[::-1], [0.0]))  # S_m: firms m … n − 1
    m_idx = np.arange(ps.shape[0] + 1)
    with np.errstate(divide="ignore", invalid="ignore"):  # S_m = 0 or k = 0: not consistent
        k = (target - clipped_w) / rest
        # m clipped firms is consistent if the m-th largest is at 1 (k·p ≥ 1) and the next not
        top_ok = (m_idx == 0) | (k * np.concatenate(([np.inf], ps)) >= 1.0)
        next_ok = (m_idx == ps.shape[0]) | (k * np.concatenate((ps, [0.0])) < 1.0)
    ok = np.flatnonzero(top_ok & next_ok & np.isfinite(k) & (k >= 0))
    if ok.size == 0:  # no finite scale: share 1 (every firm that can is at 1) or no propensity
        return (p > 0).astype(np.float64) if target >= total else np.zeros_like(p)
    return np.minimum(k[ok[0]] * p, 1.0)


class _FullProduct:
    """Peer shares of a network object without a `counter` method: one ``peer_share`` per call."""

    def __init__(self, network) -> None:
        self.network = network

    def share(self, on: np.ndarray) -> np.ndarray:
        return self.network.peer_share(on.astype(np.float32))


class AdoptionModel(mesa.Model):
    """AI adoption by firms, one step per month, from the scenario's start to its end.

    Args:
        scenario: a [`Scenario`][adoptsim.scenario.Scenario], a built-in name or a TOML path.
        n_firms: number of agents (default: ``population.n_firms`` of the scenario).
        seed: an int or a ``numpy.random.SeedSequence``; population, network, dynamics and Mesa's
            own generator get spawned children, so results depend on nothing else.
        rule: an [`AdoptionRule`][adoptsim.rules.AdoptionRule] instance to use instead of the
            scenario's ``[rule]``.
        barrier_months: months at which barrier prevalence by adoption state is recorded.

    Attributes:
        spec: the adoptsim [`Scenario`][adoptsim.scenario.Scenario] being run (not named
            ``scenario``: Mesa >= 3.5 reserves ``Model.scenario`` for its own scenario objects).
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
        if not isinstance(seed, np.random.SeedSequence):
            seed = arguments.seed(seed)
        n_firms = arguments.n_firms(n_firms)
        ss = _seed_sequence(seed)
        # A fifth child for the levers' own draws, a sixth for the step's counter-based uniforms
        # (`adoptsim.uniforms`): the first children are those of spawn(4) and spawn(5).
        pop_ss, net_ss, dyn_ss, mesa_ss, lever_ss, step_ss = ss.spawn(6)
        super().__init__(rng=np.random.default_rng(mesa_ss))
        self.spec = load_scenario(scenario)
        d = self.spec.data
        pop, net = d["population"], d["network"]
        # refuse, in one line, a run that cannot fit in memory before allocating any of it
        n_firms = self.spec.n_agents(n_firms)
        memory.check_run(n_firms, net["mean_degree"], net["kind"])
        self.firms: Firms = build_population(
            pop["name"],
            n_firms,
            np.random.default_rng(pop_ss),
            include_micro=pop["include_micro"],
            allocation=pop["allocation"],
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
        # Rows: high-risk use, deadweight of a project, unsure of the AI Act classification.
        lever_u = np.random.default_rng(lever_ss).random((3, self.firms.n))
        self.levers = Levers(
            d["levers"],
            d["regulation"],
            d["shocks"],
            self.firms,
            high_risk_u=lever_u[0],
            deadweight_u=lever_u[1],
            months=range(self.spec.start, self.spec.end + 1),
            unsure_u=lever_u[2],
        )
        # Monthly exit hazards (light, policy-induced light, at scale → light) from yearly rates.
        ex = d["exit"]
        yearly = (ex["light"], ex["light"] + ex["induced_extra"], ex["at_scale"])
        self.exit_rates = tuple(1.0 - (1.0 - min(y, 1.0)) ** (1.0 / 12.0) for y in yearly)
        if getattr(self.rule, "uses_subsidy", True):
            self.levers.induced_exit = self.exit_rates[1]
        self._draws = np.random.default_rng(dyn_ss)  # the start state's draws (`_initialise`)
        self._key = uniforms.model_key(step_ss)  # the steps' uniforms (`adoptsim.uniforms`)
        n = self.firms.n
        self.state = np.zeros(n, dtype=np.int8)
        self.month_started = np.full(n, -1, dtype=np.int16)
        self.month_scaled = np.full(n, -1, dtype=np.int16)
        # Users whose start a lever caused (their hazard without the lever would not have
        # started them): they stop at the higher `exit.induced_extra` rate while light users.
        self.induced = np.zeros(n, dtype=bool)
        # Added to every firm's peer share when set (the evidence experiments' peer treatment).
        self.peer_offset: np.ndarray | None = None
        # Month indices read once: ``spec.start`` parses its text on every access.
        self._start, self._end = self.spec.start, self.spec.end
        self.month = self._start
        self.recorder = Recorder(self.firms, range(self._start, self._end + 1), barrier_months)
        self._views: dict[int, FirmAgent] = {}
        self._counters: tuple[Network, PeerCounter, PeerCounter] | None = None
        self._words: np.ndarray | None = None  # the firms' halves of their uniforms, when needed
        self._u: np.ndarray | None = None  # the reference step's uniforms of a month
        self._initialise(pop["initial_adopters"], pop["initial_at_scale"])
        # the non-users' barrier profile the benefit tilt refers to, until the first January
        self.levers.programmes.benefit_share = benefit_shares(
            self.state, self.firms.barriers, self.firms.weight
        )
        self.recorder.record(0, self.state, self.firms.barriers)

    # --- state -------------------------------------------------------------------------------
    @property
    def t(self) -> int:
        """Months since the scenario start."""
        return self.month - self._start

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

    def _peer_counters(self) -> tuple[PeerCounter, PeerCounter]:
        """Counters of active and at-scale peers (made again if ``network`` was replaced)."""
        net = self.network
        if self._counters is None or self._counters[0] is not net:
            make = getattr(net, "counter", None)
            pair = (make(), make()) if make else (_FullProduct(net), _FullProduct(net))
            self._counters = (net, *pair)
        return self._counters[1], self._counters[2]

    def _context(self) -> StepContext:
        users, at_scale = self._peer_counters()
        state = self.state
        if getattr(self.rule, "needs_peer_scale", True):
            peer, scale_peer = run_parallel(
                lambda: users.share(state > NON_USER),
                lambda: at_scale.share(state == AT_SCALE),
                size=state.shape[0],
            )
        else:
            peer = users.share(state > NON_USER)
            scale_peer = np.zeros_like(peer)
        if self.peer_offset is not None:
            peer = np.minimum(peer + self.peer_offset, 1.0)
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
        """Advance one month: levers, peers, hazards, draws, exits, barrier dynamics, record."""
        if self.month >= self._end:
            self.running = False
            return
        n = self.firms.n
        uses_barriers = self.rule.uses_barriers
        treats = getattr(self.rule, "uses_subsidy", True)
        # One uniform per firm decides its state change (a firm is a non-user, a user or at
        # scale, never two, so starting, scaling up and stopping can share it: a start or a
        # scale-up below the hazard, an exit at the top, 1 − exit hazard and above), one per
        # dynamic barrier its removal by peer learning, one its reach by a programme and one its
        # application for a subsidised project (independent of the others). Each is a function
        # of (key, month, row, firm) (`adoptsim.uniforms`): the compiled kernel computes only
        # those a mechanism reads, this reference every one of the rows the rule uses.
        rows = (uniforms.ROW_STATE,)
        if uses_barriers:
            rows += tuple(range(uniforms.ROW_LEARN, uniforms.ROW_LEARN + 3))
        if treats:
            rows += (uniforms.ROW_REACH, uniforms.ROW_APPLY)
        if self._words is None or self._words.shape[0] != n:
            self._words = uniforms.firm_words(n)
            self._u = np.empty((uniforms.ROWS, n))  # rows a rule does not use are never touched
        u = uniforms.month_uniforms(self._key, self.t, rows, self._words, out=self._u)
        ctx = self._context()
        start, scale = self.rule.hazards(ctx)
        if np.shape(start) != (n,):
            start = np.broadcast_to(start, (n,))
        if np.shape(scale) != (n,):
            scale = np.broadcast_to(scale, (n,))
        lifted, base = start, start
        if treats:
            lifted, base, idx = self._lifted(start, ctx.clarity)
        new_users, new_scale = np.empty(n, dtype=bool), np.empty(n, dtype=bool)
        barriers, peer, state = self.firms.barriers, ctx.peer_share, self.state
        if treats and self.month % 12 == 0 and self.levers.cfg["benefit"]["barrier_tilt"] > 0.0:
            # who benefits more from a treatment is set against the non-users' barrier profile,
            # renewed each January (it moves slowly; monthly, its five weighted sums over every
            # firm cost a sixth of a run) and at the run's start (`__init__`)
            self.levers.programmes.benefit_share = benefit_shares(
                state, barriers, self.firms.weight
            )
        x_light, x_induced, x_scale = self.exit_rates if treats else (0.0, 0.0, 0.0)
        exits = x_light > 0 or x_induced > 0 or x_scale > 0
        if exits:
            stops, falls = np.empty(n, dtype=bool), np.empty(n, dtype=bool)
            # Per light user, 1 − its exit hazard: the uniform at or above it stops the firm.
            keep_light, keep_induced, keep_scale = 1.0 - x_light, 1.0 - x_induced, 1.0 - x_scale

        def block(sl: slice) -> None:
            # Draws against the hazards, then barrier removal (all with this month's state).
            np.equal(state[sl], NON_USER, out=new_users[sl])
            new_users[sl] &= u[0, sl] < lifted[sl]
            np.equal(state[sl], USER, out=new_scale[sl])
            new_scale[sl] &= u[0, sl] < scale[sl]
            if exits:
                top = np.where(self.induced[sl], keep_induced, keep_light)
                np.equal(state[sl], USER, out=stops[sl])
                stops[sl] &= u[0, sl] >= top
                np.equal(state[sl], AT_SCALE, out=falls[sl])
                falls[sl] &= u[0, sl] >= keep_scale
            if uses_barriers:
                removal = self.levers.barrier_removal(self.month, state[sl], peer[sl], part=sl)
                removed = np.empty(sl.stop - sl.start, dtype=bool)
                for row, (k, p) in enumerate(removal.items(), start=uniforms.ROW_LEARN):
                    np.less(u[row, sl], p, out=removed)
                    # Few firms lose a barrier in a month: clearing just those is cheaper than
                    # rewriting the whole column, which is strided (one byte per firm's row).
                    barriers[sl, k][removed] = False

        for_blocks(block, n)
        if treats:
            # Applications for subsidised AI projects and reach of programmes this month; they
            # treat from next month.
            self.levers.start_projects(self.month, u[uniforms.ROW_APPLY], base)
            self.levers.start_programmes(self.month, state, u[uniforms.ROW_REACH], base)
        # ``.nonzero()[0]`` rather than np.flatnonzero, here and in the other per-month code: the
        # same indices without two layers of Python wrappers, which at a few thousand firms cost
        # more than the search itself.
        started, scaled = new_users.nonzero()[0], new_scale.nonzero()[0]
        if treats:
            # An induced user whose own draw now clears the hazard without the levers would be a
            # user by now without them: from here on it is an ordinary light user (else a
            # stronger lever could turn a firm that would have adopted anyway into one that
            # lapses at the induced rate, and lower use).
            self.induced[self.induced & (u[0] < base)] = False
        if treats and idx.size:
            # A start is the lever's doing if the hazard without it was not enough: u ≥ base.
            caused = idx[new_users[idx] & (u[0, idx] >= base[idx])]
            self.induced[caused] = True
        self.state[started] = USER
        self.state[scaled] = AT_SCALE
        self.induced[scaled] = False
        if exits:
            stopped, fell = stops.nonzero()[0], falls.nonzero()[0]
            self.state[stopped] = NON_USER
            self.induced[stopped] = False
            self.state[fell] = USER
            self.month_started[stopped] = -1
            self.month_scaled[fell] = -1
        self.month_started[started] = self.t
        self.month_scaled[scaled] = self.t
        self.month += 1
        self.recorder.record(self.t, self.state, self.firms.barriers)
        if self.month >= self._end:
            self.running = False

    def start_hazard(self) -> np.ndarray:
        """This month's start hazard of every firm with legal clarity but no treatment.

        What a treatment's own chance is set against (`Levers.own_chance`); for experiments
        that treat firms by hand (`adoptsim.evidence`).
        """
        ctx = self._context()
        start, _ = self.rule.hazards(ctx)
        start = np.broadcast_to(start, (self.firms.n,))
        return self._lifted(start, ctx.clarity)[1]

    def _lifted(
        self, start: np.ndarray, clarity: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The start hazard with the levers' own chances added, as 1 − (1 − h)(1 − a).

        Legal clarity adds its chance for the unsure firms, then each treated firm's project
        and programme add theirs. Returns the lifted hazard, the hazard without the treatments
        (with clarity: an adoption that clarity alone explains is not policy-induced), and the
        treated firms.
        """
        levers = self.levers
        c = levers.clarity_lift(clarity)
        if c > 0.0 and levers.unsure.any():
            start = np.where(levers.unsure, 1.0 - (1.0 - start) * (1.0 - c), start)
        idx, lift = levers.lift(self.month)
        on = lift > 0.0  # deadweight projects and ended windows add nothing (not even a rounding)
        idx, lift = idx[on], lift[on]
        if idx.size == 0:
            return start, start, idx
        lifted = np.array(start, dtype=np.float64)
        lifted[idx] = 1.0 - (1.0 - start[idx]) * (1.0 - lift)
        return lifted, start, idx

    def run(self) -> CellRecord:
        """Step to the scenario's end and return the record.

        By the fused compiled step (`adoptsim.block`) where it covers the model, else by
        `step`; the two give the same results, bit for bit.
        """
        block.run_models([self])
        return self.recorder.result()
