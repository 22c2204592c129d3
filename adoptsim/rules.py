"""Adoption rules: arrays in, monthly hazards out, behind one small interface.

A rule turns the firms' state and this month's signals
([`StepContext`][adoptsim.rules.StepContext]) into two hazards per firm: of starting to use AI
(non-user → user) and of scaling up (user → at scale). The model only draws against them, so a
new rule needs no change to the model. Register your own with
[`register_rule`][adoptsim.rules.register_rule], or name it in a scenario as
``kind = "package.module:ClassName"``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from adoptsim import schema as S
from adoptsim._blocks import for_blocks
from adoptsim._memo import memo
from adoptsim.errors import AdoptsimError, ScenarioError
from adoptsim.population import Firms
from adoptsim.taxonomy import BARRIERS, SECTORS, SIZE_LABELS


@dataclass
class StepContext:
    """What a rule may read in month ``month`` (all per-firm arrays have length n).

    Attributes:
        month: calendar month index (see `adoptsim.months`).
        t: months since the scenario start.
        firms: the population (sector, size, region, maturity, barriers, weight, ...).
        state: 0 non-user, 1 user, 2 at scale (int8).
        peer_share: share of the firm's peers using AI (state >= 1), 0..1.
        peer_scale_share: share of the firm's peers using AI at scale, 0..1.
        subsidy: the firm's subsidised-project treatment: share of an AI project's cost covered
            while the project runs, fading after it ends; 0 for firms without one (0..1).
        clarity: legal clarity/trust from the AI Act, 0 before entry into force, ramps to 1.
        burden: compliance burden for the firm's sector from high-risk obligations, 0..1.
        genai: generative-AI capability, 0 before release, rising to 1 (the long-run level).
    """

    month: int
    t: int
    firms: Firms
    state: np.ndarray
    peer_share: np.ndarray
    peer_scale_share: np.ndarray
    subsidy: np.ndarray
    clarity: float
    burden: np.ndarray
    genai: float


class AdoptionRule:
    """Base class: subclasses declare ``PARAMS`` (scenario fields) and implement ``hazards``."""

    kind: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, S.Field]] = {}
    uses_barriers: ClassVar[bool] = False  # draw barrier dynamics only when a rule reads them
    # Whether the model applies the levers' treatments (subsidised projects, programmes, legal
    # clarity) and the exit hazards to this rule's firms; the Bass validation rule does not.
    uses_subsidy: ClassVar[bool] = True
    needs_peer_scale: bool = True  # compute the peers' at-scale share (a second sparse product)

    def __init__(self, **params: object) -> None:
        table = S.validate_table(
            {k: v for k, v in params.items() if k != "kind"}, self.PARAMS, "rule"
        )
        self.params = table
        for key, value in table.items():
            setattr(self, key, value)

    def prepare(self, firms: Firms) -> None:
        """Precompute per-firm constants once, before the first step."""

    def hazards(self, ctx: StepContext) -> tuple[np.ndarray, np.ndarray]:
        """Monthly hazards (start, scale), each an array in [0, 1] of length n."""
        raise NotImplementedError


RULES: dict[str, type[AdoptionRule]] = {}
BUILTIN_RULES: frozenset[str] = frozenset()  # filled at the end of this module
TRUST_ENV = "ADOPTSIM_TRUSTED_RULES"
_KIND_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


def register_rule(cls: type[AdoptionRule]) -> type[AdoptionRule]:
    """Class decorator: make ``cls`` available as ``[rule] kind = cls.kind``.

    A built-in kind (``bass``, ``logit``, ...) cannot be taken over: worker processes of a sweep
    import only adoptsim, so a replaced built-in would run differently with 1 and 2 workers.
    """
    if not (isinstance(cls, type) and issubclass(cls, AdoptionRule)):
        raise ScenarioError("rule class", cls, "must be a subclass of adoptsim.AdoptionRule")
    if not isinstance(cls.kind, str) or not cls.kind:
        raise ScenarioError("rule.kind", cls.kind, "a rule class needs a non-empty text `kind`")
    if cls.kind in BUILTIN_RULES and RULES.get(cls.kind) is not cls:
        raise ScenarioError(
            "rule.kind", cls.kind, "is a built-in rule; register your rule under another kind"
        )
    RULES[cls.kind] = cls
    return cls


def imports_allowed() -> bool:
    """Whether ``rule.kind = "module:Class"`` may import code (``ADOPTSIM_TRUSTED_RULES``)."""
    return os.environ.get(TRUST_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _imported_rule(kind: str) -> type[AdoptionRule]:
    """The class a ``"package.module:ClassName"`` kind names, importing the module if allowed.

    Importing runs the module's code: a scenario file that names a module runs that code. With
    ``ADOPTSIM_TRUSTED_RULES=0`` (CLI ``--no-import``) only modules already imported are used.
    """
    if not _KIND_PATH.match(kind):
        raise ScenarioError(
            "rule.kind", kind, "must be a rule name or 'package.module:ClassName' (absolute)"
        )
    module, _, name = kind.partition(":")
    if module in sys.modules:
        mod = sys.modules[module]
    elif not imports_allowed():
        raise ScenarioError(
            "rule.kind",
            kind,
            f"would import and run module {module!r}, and imports from scenario files are off "
            f"({TRUST_ENV}=0 / --no-import); use a registered rule: {', '.join(RULES)}",
        )
    else:
        try:
            mod = importlib.import_module(module)
        except AdoptsimError:
            raise
        except Exception as exc:  # importing runs arbitrary code: any error is possible
            raise ScenarioError(
                "rule.kind", kind, f"cannot import it ({type(exc).__name__}: {exc})"
            ) from None
    cls = getattr(mod, name, None)
    if cls is None:
        raise ScenarioError("rule.kind", kind, f"module {module!r} has no {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, AdoptionRule)):
        raise ScenarioError("rule.kind", kind, "must name an AdoptionRule subclass")
    if cls is AdoptionRule or cls.hazards is AdoptionRule.hazards or inspect.isabstract(cls):
        raise ScenarioError(
            "rule.kind", kind, "is an abstract rule; name a class that implements hazards()"
        )
    return cls


def rule_class(kind: object) -> type[AdoptionRule]:
    """The rule class for a scenario's ``rule.kind`` (registered name or ``module:Class``)."""
    if isinstance(kind, str) and kind in RULES:
        return RULES[kind]
    if isinstance(kind, str) and ":" in kind:
        return _imported_rule(kind.strip())
    raise ScenarioError(
        "rule.kind", kind, f"must be one of {', '.join(RULES)} or 'package.module:ClassName'"
    )


@register_rule
class BassRule(AdoptionRule):
    """Bass diffusion: hazard = p + q · peer share, clipped to [0, 1] (monthly rates)."""

    kind = "bass"
    uses_subsidy = False
    PARAMS = {
        "p": S.share(0.004, "innovation coefficient", "per month"),
        "q": S.share(0.06, "imitation coefficient", "per month"),
        "p_scale": S.share(0.0, "user → at-scale innovation coefficient", "per month"),
        "q_scale": S.share(
            0.0, "user → at-scale imitation coefficient (peer at-scale share)", "per month"
        ),
    }

    @property
    def needs_peer_scale(self) -> bool:  # type: ignore[override]
        """Whether scale-up depends on peers (only with ``q_scale`` > 0)."""
        return self.q_scale > 0

    def hazards(self, ctx: StepContext) -> tuple[np.ndarray, np.ndarray]:
        """Bass hazards: start p + q·peer share, scale p_scale + q_scale·at-scale share."""
        start = np.multiply(ctx.peer_share, self.q)
        start += self.p
        np.clip(start, 0.0, 1.0, out=start)
        if self.q_scale == 0:  # q_scale · (finite peer share) is 0: the same hazard for all
            scale = np.full(start.shape, np.clip(self.p_scale + 0.0, 0.0, 1.0), dtype=start.dtype)
        else:
            scale = np.multiply(ctx.peer_scale_share, self.q_scale)
            scale += self.p_scale
            np.clip(scale, 0.0, 1.0, out=scale)
        return start, scale


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def _sigmoid_inplace(x: np.ndarray) -> None:
    """``x = _sigmoid(x)`` without temporaries (the same operations, so the same bits)."""
    x *= 0.5
    np.tanh(x, out=x)
    x += 1.0
    x *= 0.5


# Barrier-sum tables by penalty vectors: a process runs many replications (and calibration many
# parameter sets) with the same penalties, so the tables and their self-check are made once per
# distinct set, in a bounded cache (adoptsim._memo) like the month tables of adoptsim.levers.
_SUM_TABLES: dict[tuple, tuple[list[np.ndarray], bool]] = {}
_SUM_TABLES_MAX = 1 << 10


def _sum_tables(deltas: list[np.ndarray]) -> tuple[list[np.ndarray], bool]:
    """Tables of Σ_k δ_k·b_k over all 2^K barrier combinations, and whether they are exact.

    Each table entry is computed by the same float32 product as ``b @ δ``. They are exact if
    the product does not depend on a row's position in it, checked on shifted copies.
    """
    key = tuple((d.shape, d.tobytes()) for d in deltas)
    return memo(_SUM_TABLES, key, lambda: _make_sum_tables(deltas), _SUM_TABLES_MAX)


def _make_sum_tables(deltas: list[np.ndarray]) -> tuple[list[np.ndarray], bool]:
    k = deltas[0].shape[0]
    patterns = ((np.arange(1 << k)[:, None] >> np.arange(k)) & 1).astype(np.float32)
    tables = [(patterns @ d).astype(np.float64) for d in deltas]
    exact = True
    for shift in (1, 2, 3, 5, 7):
        rows = np.concatenate([patterns[:shift], patterns, patterns])
        codes = np.concatenate([np.arange(shift), np.arange(1 << k), np.arange(1 << k)])
        pairs = zip(deltas, tables, strict=True)
        if not all(np.array_equal(rows @ d, t[codes]) for d, t in pairs):
            exact = False
            break
    for t in tables:
        t.flags.writeable = False  # shared by every BarrierSums with these penalties
    return tables, exact


class BarrierSums:
    """Per-firm Σ_k δ_k·b_k for fixed penalty vectors δ, the same bits as ``b @ δ`` in float32.

    A firm's sum depends only on which barriers it holds, so it is read from a table of all 2^K
    combinations, computed by the same float32 product, at a per-firm combination code. The codes
    are kept in step with the barrier array by re-encoding only rows that differ from a copy of it
    (found eight bytes at a time); between two months few firms lose a barrier. Should the
    table ever disagree with the direct product (checked when the table is made and on the first
    call), the direct product is used.
    """

    def __init__(self, deltas: list[np.ndarray]) -> None:
        self.deltas = [np.asarray(d, dtype=np.float32) for d in deltas]
        k = self.deltas[0].shape[0]
        self.k = k
        self._seen: np.ndarray | None = None
        self._code: np.ndarray | None = None
        self.exact: bool | None = None if k <= 12 else False
        self.tables: list[np.ndarray] = []
        if self.exact is None:
            self.tables, exact = _sum_tables(self.deltas)
            if not exact:
                self.exact = False
            # A barrier row (bytes 0/1) times these bit values is its combination code.
            self._bits = (1 << np.arange(k)).astype(np.intp)

    def direct(self, barriers: np.ndarray) -> list[np.ndarray]:
        """The sums by the float32 matrix–vector products themselves."""
        b = barriers.view(np.uint8).astype(np.float32)
        return [b @ d for d in self.deltas]

    def _encode(self, rows: np.ndarray) -> np.ndarray:
        return rows @ self._bits  # uint8 rows · intp bit values: exact integer codes

    def codes(self, barriers: np.ndarray) -> np.ndarray | None:
        """Each firm's barrier combination code (index into ``tables``).

        None if the tables cannot be used (then use `direct`).
        """
        usable = (
            barriers.ndim == 2
            and barriers.shape[1] == self.k
            and barriers.dtype == np.bool_
            and barriers.flags.c_contiguous
        )
        if self.exact is False or not usable:
            return None
        flat = barriers.reshape(-1).view(np.uint8)
        n = barriers.shape[0]
        if self._seen is None or self._seen.shape != flat.shape:
            self._code = self._encode(barriers.view(np.uint8))
            self._seen = flat.copy()
        else:
            m = flat.size // 8 * 8
            words = (flat[:m].view(np.uint64) != self._seen[:m].view(np.uint64)).nonzero()[0]
            if words.size or m < flat.size:
                # The bytes that differ (a word can hold a whole row with unchanged ends), then
                # their rows, in ascending order, each once.
                pos = (8 * words[:, None] + np.arange(8)).ravel()
                if m < flat.size:
                    pos = np.concatenate([pos, np.arange(m, flat.size)])
                pos = pos[flat[pos] != self._seen[pos]]
                if pos.size:
                    rows = pos // self.k
                    first = np.empty(rows.shape[0], dtype=bool)
                    first[0] = True
                    np.not_equal(rows[1:], rows[:-1], out=first[1:])
                    rows = rows[first]
                    now = barriers.view(np.uint8)[rows]
                    self._code[rows] = self._encode(now)
                    self._seen.reshape(n, self.k)[rows] = now
        if self.exact is None:
            direct = self.direct(barriers)
            pairs = zip(direct, self.tables, strict=True)
            self.exact = all(np.array_equal(d, t[self._code]) for d, t in pairs)
            if not self.exact:
                return None
        return self._code

    def __call__(self, barriers: np.ndarray) -> list[np.ndarray]:
        """The sums for each δ (arrays of length n)."""
        code = self.codes(barriers)
        if code is None:
            return self.direct(barriers)
        return [t[code] for t in self.tables]


@register_rule
class LogitRule(AdoptionRule):
    """Logit hazards built from segment, maturity, peers, subsidy, barriers, regulation and shocks.

    start: σ(α + α_sector + α_size + θ_mat·maturity + θ_peer·peer − Σ δ_k b_k − θ_burden·burden
    + θ_genai·genai); scale: the same form with the ``scale_`` parameters (data quality and
    incompatibility weigh most there) and the peers' at-scale share. Levers (subsidised
    projects, training, coaching, information, legal clarity) are not terms of the logit: the
    model adds each treated firm's own start chance to this hazard (`adoptsim.levers.Levers`).
    """

    kind = "logit"
    uses_barriers = True
    PARAMS = {
        "alpha": S.number(-6.2, -20, 5, "start intercept", "logit, per month"),
        "alpha_sector": S.mapping(SECTORS, 0.0, -10, 10, "start offset by NACE section", "logit"),
        "alpha_size": S.mapping(SIZE_LABELS, 0.0, -10, 10, "start offset by size class", "logit"),
        "theta_maturity": S.number(0.5, -10, 10, "start: per sd of latent maturity", "logit"),
        "theta_peer": S.number(2.0, -20, 20, "start: peer share of users", "logit per unit share"),
        "delta": S.mapping(BARRIERS, 0.2, -10, 10, "start: barrier penalties", "logit"),
        "theta_burden": S.number(0.5, -10, 10, "start: high-risk compliance burden", "logit"),
        "theta_genai": S.number(
            1.0, -10, 10, "start: response to generative-AI capability (at capability 1)", "logit"
        ),
        "scale_alpha": S.number(-5.0, -20, 5, "scale intercept", "logit, per month"),
        "scale_alpha_size": S.mapping(SIZE_LABELS, 0.0, -10, 10, "scale offset by size", "logit"),
        "scale_theta_maturity": S.number(0.5, -10, 10, "scale: per sd of maturity", "logit"),
        "scale_theta_peer": S.number(2.0, -20, 20, "scale: peer at-scale share", "logit"),
        "scale_delta": S.mapping(BARRIERS, 0.1, -10, 10, "scale: barrier penalties", "logit"),
        "scale_theta_genai": S.number(
            0.5, -10, 10, "scale: response to generative-AI capability", "logit"
        ),
    }

    def prepare(self, firms: Firms) -> None:
        """Precompute each firm's static logit terms and the barrier-sum tables."""
        a_sec = np.array([self.alpha_sector[s] for s in SECTORS])
        a_size = np.array([self.alpha_size[s] for s in SIZE_LABELS])
        s_size = np.array([self.scale_alpha_size[s] for s in SIZE_LABELS])
        self._static = (
            self.alpha
            + a_sec[firms.sector]
            + a_size[firms.size]
            + self.theta_maturity * firms.maturity
        )
        self._scale_static = (
            self.scale_alpha + s_size[firms.size] + self.scale_theta_maturity * firms.maturity
        )
        self._delta = np.array([self.delta[b] for b in BARRIERS], dtype=np.float32)
        self._scale_delta = np.array([self.scale_delta[b] for b in BARRIERS], dtype=np.float32)
        self._barrier_sums = BarrierSums([self._delta, self._scale_delta])

    def hazards(self, ctx: StepContext) -> tuple[np.ndarray, np.ndarray]:
        """Start and scale-up hazards of every firm this month (the formulas above)."""
        # Evaluated block by block (adoptsim._blocks), each term added in the order of the
        # formula above, so the result is the same as whole-array NumPy arithmetic, bit for bit:
        # η = static + θ_peer·peer − b·δ − θ_burden·burden + θ_genai·genai.
        sums = self._barrier_sums
        code = sums.codes(ctx.firms.barriers)
        direct = sums.direct(ctx.firms.barriers) if code is None else None
        n = ctx.firms.n
        start, scale = np.empty(n), np.empty(n)
        genai, scale_genai = self.theta_genai * ctx.genai, self.scale_theta_genai * ctx.genai
        burden = np.asarray(ctx.burden)
        # Before any high-risk deadline the burden is +0.0 for every firm: then the regulation
        # terms are the same scalars for all firms and are added as such (identical values).
        uniform = burden.ndim == 0 or (
            burden.dtype == np.float64
            and burden.flags.c_contiguous
            and not burden.view(np.uint64).any()
        )
        if uniform:
            burden_term = self.theta_burden * (float(burden) if burden.ndim == 0 else 0.0)

        def barrier_sum(i: int, sl: slice, out: np.ndarray) -> np.ndarray:
            if code is None:
                return direct[i][sl]
            return sums.tables[i].take(code[sl], out=out, mode="clip")  # codes < 2^K

        def block(sl: slice) -> None:
            eta, eta2 = start[sl], scale[sl]
            bd = np.empty_like(eta)
            if uniform:
                tb = burden_term
            else:
                tb = np.multiply(burden[sl], self.theta_burden)

            np.multiply(ctx.peer_share[sl], self.theta_peer, out=eta)
            eta += self._static[sl]
            eta -= barrier_sum(0, sl, bd)
            eta -= tb
            if genai != 0.0:  # adding ±0.0 changes at most the sign of a zero, which σ ignores
                eta += genai
            _sigmoid_inplace(eta)

            np.multiply(ctx.peer_scale_share[sl], self.scale_theta_peer, out=eta2)
            eta2 += self._scale_static[sl]
            eta2 -= barrier_sum(1, sl, bd)
            eta2 -= tb
            if scale_genai != 0.0:
                eta2 += scale_genai
            _sigmoid_inplace(eta2)

        for_blocks(block, n)
        return start, scale


BUILTIN_RULES = frozenset(RULES)  # the kinds adoptsim itself registers (never replaced)
