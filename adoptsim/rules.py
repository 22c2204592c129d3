"""Adoption rules: arrays in, monthly hazards out, behind one small interface.

A rule turns the firms' state and this month's signals (:class:`StepContext`) into two hazards per
firm: of starting to use AI (non-user → user) and of scaling up (user → at scale). The model only
draws against them, so a new rule needs no change to the model. Register your own with
:func:`register_rule`, or name it in a scenario as ``kind = "package.module:ClassName"``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from adoptsim import schema as S
from adoptsim.errors import ScenarioError
from adoptsim.population import Firms
from adoptsim.taxonomy import BARRIERS, SECTORS, SIZE_LABELS


@dataclass
class StepContext:
    """What a rule may read in month ``month`` (all per-firm arrays have length n).

    Attributes:
        month: calendar month index (see :mod:`adoptsim.months`).
        t: months since the scenario start.
        firms: the population (sector, size, region, maturity, barriers, weight, ...).
        state: 0 non-user, 1 user, 2 at scale (int8).
        peer_share: share of the firm's peers using AI (state >= 1), 0..1.
        peer_scale_share: share of the firm's peers using AI at scale, 0..1.
        subsidy: expected share of an AI project's cost covered by subsidies, 0..1.
        clarity: legal clarity/trust from the AI Act, 0 before entry into force, ramps to 1.
        burden: compliance burden for the firm's sector from high-risk obligations, 0..1.
        genai: generative-AI technology shock, 0 before its start, ramps to 1.
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


def register_rule(cls: type[AdoptionRule]) -> type[AdoptionRule]:
    """Class decorator: make ``cls`` available as ``[rule] kind = cls.kind``."""
    if not cls.kind:
        raise ValueError("a rule class needs a non-empty `kind`")
    RULES[cls.kind] = cls
    return cls


def rule_class(kind: object) -> type[AdoptionRule]:
    """The rule class for a scenario's ``rule.kind`` (registered name or ``module:Class``)."""
    if isinstance(kind, str) and kind in RULES:
        return RULES[kind]
    if isinstance(kind, str) and ":" in kind:
        module, _, name = kind.partition(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ScenarioError("rule.kind", kind, f"cannot import it ({exc})") from None
        if not (isinstance(cls, type) and issubclass(cls, AdoptionRule)):
            raise ScenarioError("rule.kind", kind, "must name an AdoptionRule subclass")
        return cls
    raise ScenarioError(
        "rule.kind", kind, f"must be one of {', '.join(RULES)} or 'package.module:ClassName'"
    )


@register_rule
class BassRule(AdoptionRule):
    """Bass diffusion: hazard = p + q · peer share, clipped to [0, 1] (monthly rates)."""

    kind = "bass"
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
        return self.q_scale > 0

    def hazards(self, ctx: StepContext) -> tuple[np.ndarray, np.ndarray]:
        start = np.clip(self.p + self.q * ctx.peer_share, 0.0, 1.0)
        scale = np.clip(self.p_scale + self.q_scale * ctx.peer_scale_share, 0.0, 1.0)
        return start, scale


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


@register_rule
class LogitRule(AdoptionRule):
    """Logit hazards built from segment, maturity, peers, subsidy, barriers, regulation and shocks.

    start: σ(α + α_sector + α_size + θ_mat·maturity + θ_peer·peer + θ_sub·subsidy − Σ δ_k b_k
    + θ_clarity·clarity − θ_burden·burden + θ_genai·genai); scale: the same form with the
    ``scale_`` parameters (data quality and incompatibility weigh most there) and the peers'
    at-scale share.
    """

    kind = "logit"
    uses_barriers = True
    PARAMS = {
        "alpha": S.number(-6.2, -20, 5, "start intercept", "logit, per month"),
        "alpha_sector": S.mapping(SECTORS, 0.0, -10, 10, "start offset by NACE section", "logit"),
        "alpha_size": S.mapping(SIZE_LABELS, 0.0, -10, 10, "start offset by size class", "logit"),
        "theta_maturity": S.number(0.5, -10, 10, "start: per sd of latent maturity", "logit"),
        "theta_peer": S.number(2.0, -20, 20, "start: peer share of users", "logit per unit share"),
        "theta_subsidy": S.number(2.0, -20, 20, "start: subsidy share of cost", "logit per unit"),
        "delta": S.mapping(BARRIERS, 0.2, -10, 10, "start: barrier penalties", "logit"),
        "theta_clarity": S.number(0.2, -10, 10, "start: AI Act legal clarity", "logit"),
        "theta_burden": S.number(0.5, -10, 10, "start: high-risk compliance burden", "logit"),
        "theta_genai": S.number(1.0, -10, 10, "start: generative-AI shock", "logit"),
        "scale_alpha": S.number(-5.0, -20, 5, "scale intercept", "logit, per month"),
        "scale_alpha_size": S.mapping(SIZE_LABELS, 0.0, -10, 10, "scale offset by size", "logit"),
        "scale_theta_maturity": S.number(0.5, -10, 10, "scale: per sd of maturity", "logit"),
        "scale_theta_peer": S.number(2.0, -20, 20, "scale: peer at-scale share", "logit"),
        "scale_theta_subsidy": S.number(1.0, -20, 20, "scale: subsidy share of cost", "logit"),
        "scale_delta": S.mapping(BARRIERS, 0.1, -10, 10, "scale: barrier penalties", "logit"),
        "scale_theta_genai": S.number(0.5, -10, 10, "scale: generative-AI shock", "logit"),
    }

    def prepare(self, firms: Firms) -> None:
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

    def hazards(self, ctx: StepContext) -> tuple[np.ndarray, np.ndarray]:
        b = ctx.firms.barriers.view(np.uint8).astype(np.float32)
        regulation = self.theta_clarity * ctx.clarity - self.theta_burden * ctx.burden
        eta = (
            self._static
            + self.theta_peer * ctx.peer_share
            + self.theta_subsidy * ctx.subsidy
            - b @ self._delta
            + regulation
            + self.theta_genai * ctx.genai
        )
        eta2 = (
            self._scale_static
            + self.scale_theta_peer * ctx.peer_scale_share
            + self.scale_theta_subsidy * ctx.subsidy
            - b @ self._scale_delta
            - self.theta_burden * ctx.burden
            + self.scale_theta_genai * ctx.genai
        )
        return _sigmoid(eta), _sigmoid(eta2)
