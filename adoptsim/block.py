"""Replication blocks: the models of a run stepped together, month by month, by the fused kernel.

R replications of a scenario are R models (each with its own firms, network, parameters and
random streams). Their per-firm arrays are laid end to end in one block, and each model's
arrays become views of its part, so a month of all R models is one pass of the compiled kernel
(`adoptsim.kernels`) and a handful of NumPy calls, instead of R × dozens of small NumPy calls
(the fixed per-step cost that dominates runs of a few thousand firms). Each model's uniforms are
a function of its own key, month, row and firm (`adoptsim.uniforms`), computed by the kernel
where a mechanism reads them and by its reference step (`AdoptionModel.step`, kept as the
fallback) for every firm, so the results are those of R separate runs, bit for bit;
``tests/test_block.py`` holds the two paths to each other.

``ADOPTSIM_KERNEL=0`` turns the compiled path off (every model then steps with the reference).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from adoptsim import kernels, uniforms
from adoptsim.levers import APPLY_ORDER, INSTRUMENTS
from adoptsim.network import PeerCounter
from adoptsim.policy import REFERENCE_COVER
from adoptsim.programmes import (
    BENEFIT_COL,
    BENEFIT_COLUMNS,
    PROGRAMMES,
    programme_effects,
    programme_tables,
    survival,
)
from adoptsim.rules import LogitRule
from adoptsim.taxonomy import BARRIER_INDEX, BARRIERS

if TYPE_CHECKING:
    from adoptsim.model import AdoptionModel

# Agents stepped together at most: past a few hundred thousand the fixed per-month cost is
# already small next to the per-firm work, and a bigger block only holds more memory.
MAX_BLOCK_AGENTS = 1 << 16
_LEARNING = ("knowledge_skills", "hard_to_assess", "cost_benefit")  # rows 1-3, in this order
_LOGS = [INSTRUMENTS[k] for k in APPLY_ORDER] + list(PROGRAMMES)  # the kernel's start sums


def models_per_block(n_firms: int) -> int:
    """How many models of ``n_firms`` firms one block holds (at least one)."""
    return max(1, MAX_BLOCK_AGENTS // max(n_firms, 1))


def covered(model: AdoptionModel) -> bool:
    """Whether the kernel does exactly what ``model.step()`` would for this model.

    The built-in logit rule with treatments and barriers, a network whose neighbour counts are
    exact (`PeerCounter`), barrier sums read from exact tables, no peer offset, and a model
    that has not reached its end.
    """
    rule, net = model.rule, model.network
    if type(rule) is not LogitRule or model.peer_offset is not None or not model.running:
        return False
    if model.month >= model._end or not hasattr(net, "adjacency"):
        return False
    users, _ = model._peer_counters()
    if not (isinstance(users, PeerCounter) and users._exact):
        return False
    barriers = model.firms.barriers
    if barriers.shape != (model.firms.n, len(BARRIERS)) or not barriers.flags.c_contiguous:
        return False
    if model.levers._deadweight_u is None or model.levers.high_risk is None:
        return False
    return rule._barrier_sums.codes(barriers) is not None


def run_models(models: list[AdoptionModel], months: int | None = None) -> None:
    """Step every model to its end (or ``months`` months): in blocks by the kernel, else alone.

    Models run together only if they have the same number of firms, the same months and the
    same record cells; a block holds at most `MAX_BLOCK_AGENTS` agents. Each model ends as its
    own `step` calls would leave it.
    """
    fast = [m for m in models if kernels.enabled() and covered(m)]
    for m in models:
        if not any(m is f for f in fast):
            k = 0
            while m.running and (months is None or k < months):
                m.step()
                k += 1
    groups: dict[tuple, list[AdoptionModel]] = {}
    for m in fast:
        key = (m.firms.n, m.month, m._start, m._end, m.recorder.n_cells)
        groups.setdefault(key, []).append(m)
    for (n, *_), group in groups.items():
        per = models_per_block(n)
        for lo in range(0, len(group), per):
            _Block(group[lo : lo + per]).run(months)


def _stack(arrays: list[np.ndarray], dtype: type | None = None) -> np.ndarray:
    """The arrays end to end (as ``dtype``), in one new array."""
    return np.concatenate(arrays, dtype=dtype, casting="same_kind")


class _Block:
    """The models' arrays laid end to end, their month tables, and the month loop."""

    def __init__(self, models: list[AdoptionModel]) -> None:
        self.models = models
        first = models[0]
        self.n, self.r = n, r = first.firms.n, len(models)
        self.m0 = first.month - first._start
        self.n_months = n_months = first._end - first._start + 1
        months = range(first.month, first._end)
        lv = [m.levers for m in models]
        # per-firm arrays, laid end to end; each model's arrays become views of its part
        self.state = self._share(models, "state")
        self.month_started = self._share(models, "month_started")
        self.month_scaled = self._share(models, "month_scaled")
        self.induced = self._share(models, "induced")
        self.barriers = _stack([m.firms.barriers for m in models])
        self.ps = self._share(lv, "project_start")
        self.pe = self._share(lv, "project_end")
        self.p_rate = self._share(lv, "project_rate")
        self.p_cover = self._share(lv, "project_cover")
        progs = [x.programmes for x in lv]
        self.qs = self._share(progs, "start")
        self.qe = self._share(progs, "end")
        self.q_rate = self._share(progs, "rate")
        self.q_kind = self._share(progs, "kind")
        for k, m in enumerate(models):
            sl = slice(k * n, (k + 1) * n)
            m.firms.barriers = self.barriers[sl]
            x = m.levers
            x.programme_start, x.programme_end = x.programmes.start, x.programmes.end
            x.programme_rate = x.programmes.rate
        codes = [m.rule._barrier_sums.codes(m.firms.barriers) for m in models]
        self.code = _stack(codes, np.int32)
        self.static = _stack([m.rule._static for m in models])
        self.scale_static = _stack([m.rule._scale_static for m in models])
        self.tables = np.stack([np.stack(m.rule._barrier_sums.tables) for m in models])
        self.unsure = _stack([x.unsure for x in lv])
        self.group = _stack([x.group for x in lv])
        self.segment = _stack([x.programmes.segment for x in lv], np.int32)
        self.dw_u = _stack([x._deadweight_u for x in lv], np.float64)
        self.bidx = _stack([x._burden_index for x in lv], np.int8)
        self.weight = _stack([m.firms.weight for m in models], np.float64)
        self.cell3 = _stack([m.recorder._cell3 for m in models], np.int32)
        self._network(models)
        # per-model parameters
        rules = [m.rule for m in models]
        self.theta_peer = np.array([x.theta_peer for x in rules], dtype=np.float64)
        self.scale_theta_peer = np.array([x.scale_theta_peer for x in rules], dtype=np.float64)
        self.theta_burden = np.array([x.theta_burden for x in rules], dtype=np.float64)
        self.keep = np.array([[1.0 - x for x in m.exit_rates] for m in models])
        self.keys = np.array([m._key for m in models], dtype=np.uint64)
        self.words = uniforms.firm_words(n)  # the same for every model: firm j's own word
        self.z = np.ones((uniforms.WORDS, n), dtype=np.uint64)
        self.learn = np.array(
            [[x.cfg["peer_learning"][b] for b in _LEARNING] for x in lv], dtype=np.float64
        )
        self.learn_col = np.array([BARRIER_INDEX[b] for b in _LEARNING], dtype=np.intp)
        proj = [x.cfg["projects"] for x in lv]
        self.dw_keep = np.array([1.0 - c["deadweight"] for c in proj], dtype=np.float64)
        self.proj_effect = np.array([c["effect"] for c in proj], dtype=np.float64)
        self.proj_months = np.array([c["months"] for c in proj], dtype=np.int64)
        p_months = [np.asarray(c["months"], dtype=np.float64) for c in proj]
        self.proj_survive = np.array(
            [float(survival(mo, x.induced_exit)) for mo, x in zip(p_months, lv, strict=True)]
        )
        self.proj_expo = np.array([float(1.0 / np.maximum(mo, 1.0)) for mo in p_months])
        self.tilt = np.array([x.cfg["benefit"]["barrier_tilt"] for x in lv], dtype=np.float64)
        kinds = ["projects"] * 3 + list(PROGRAMMES)  # the kernel's seven treatment kinds
        self.benefit_col = np.array([BENEFIT_COL[x] for x in kinds], dtype=np.intp)
        self.benefit_cols = np.array(BENEFIT_COLUMNS, dtype=np.intp)
        self.bshare = np.stack([x.programmes.benefit_share for x in lv]).astype(np.float64)
        effects = [programme_effects(x.cfg) for x in lv]
        self.prog_effect = np.array([e for e, _ in effects], dtype=np.float64)
        self.prog_months = np.array([mo for _, mo in effects], dtype=np.int64)
        q_months = [np.asarray(mo, dtype=np.float64) for _, mo in effects]
        self.prog_survive = np.array(
            [survival(mo, x.induced_exit) for mo, x in zip(q_months, lv, strict=True)]
        )
        self.prog_expo = np.array([1.0 / np.maximum(mo, 1.0) for mo in q_months])
        # per-model month tables (index: months since the start)
        self.genai = np.zeros((r, n_months))
        self.scale_genai = np.zeros((r, n_months))
        self.clarity_c = np.zeros((r, n_months))
        width = lv[0]._tables_at(first.month)[0].burden.shape[1]
        self.burden = np.zeros((r, n_months, width))
        self.any_project = np.zeros((r, n_months), dtype=np.bool_)
        self.p_total = np.zeros((r, n_months, 4))
        self.p_cum = np.zeros((r, n_months, 4, 3))
        self.p_share = np.zeros((r, n_months, 4, 3))
        self.any_programme = np.zeros((r, n_months), dtype=np.bool_)
        self.q_total = np.zeros((r, n_months, 24))
        self.q_cum = np.zeros((r, n_months, 24, len(PROGRAMMES)))
        t0, t1 = first.month - first._start, first._end - first._start
        for k, (m, x) in enumerate(zip(models, lv, strict=True)):
            tabs = programme_tables(x.cfg, months, x.literacy_start)
            self.any_programme[k, t0:t1] = [total.any() for _, total in tabs]
            self.q_total[k, t0:t1] = np.stack([total for _, total in tabs])
            self.q_cum[k, t0:t1] = np.stack([cum for cum, _ in tabs])
            w, i0 = x._tables_at(first.month)
            if x._window_index(first._end - 1) is None or w is not x._tables_at(first._end - 1)[0]:
                self._month_by_month(k, m, months)
                continue
            i1 = i0 + len(months)
            genai = np.asarray(w.genai[i0:i1], dtype=np.float64)
            # the same products as the reference's, element by element (IEEE, one rounding)
            self.genai[k, t0:t1] = m.rule.theta_genai * genai
            self.scale_genai[k, t0:t1] = m.rule.scale_theta_genai * genai
            clarity = np.asarray(w.clarity[i0:i1], dtype=np.float64)
            lift = x.clarity_lift(1.0)  # monthly_rate(effect, 12) · 1, as clarity_lift has it
            self.clarity_c[k, t0:t1] = np.where(clarity <= 0.0, 0.0, lift * clarity)
            self.burden[k, t0:t1] = w.burden[i0:i1]
            self.any_project[k, t0:t1] = w.any_project[i0:i1]
            self.p_total[k, t0:t1] = w.project_total[i0:i1]
            self.p_cum[k, t0:t1] = w.project_cum[i0:i1]
            self.p_share[k, t0:t1] = w.project_share[i0:i1]
        # records: each model's tables become views of the block's
        self.users = np.zeros((r, *first.recorder.users.shape))
        self.at_scale = np.zeros((r, *first.recorder.at_scale.shape))
        for k, m in enumerate(models):  # the months recorded so far (later rows are still 0)
            self.users[k, : self.m0 + 1] = m.recorder.users[: self.m0 + 1]
            self.at_scale[k, : self.m0 + 1] = m.recorder.at_scale[: self.m0 + 1]
        for k, m in enumerate(models):
            m.recorder.users, m.recorder.at_scale = self.users[k], self.at_scale[k]
        self.acc = np.zeros(3 * first.recorder.n_cells)
        self.sums = np.zeros((r, n_months, len(_LOGS)))
        self.hits = np.zeros((r, n_months, len(_LOGS)), dtype=np.bool_)
        total = r * n
        self.h = np.empty((2, total))
        self.peer = np.empty(total)
        self.c_firm = np.empty(2 * total, dtype=np.intp)
        self.c_kind = np.empty(2 * total, dtype=np.intp)
        self.c_effect, self.c_b = np.empty(2 * total), np.empty(2 * total)
        self.c_survive, self.c_expo = np.empty(2 * total), np.empty(2 * total)
        self.c_cover, self.c_gross = np.empty(2 * total), np.empty(2 * total)
        self.scratch = np.empty(2 * n)

    def _month_by_month(self, k: int, m: AdoptionModel, months: range) -> None:
        """Model ``k``'s signal and project tables, month by month (no window holds them)."""
        x = m.levers
        for month in months:
            t = month - m._start
            w, i = x._tables_at(month)
            self.genai[k, t] = m.rule.theta_genai * w.genai[i]
            self.scale_genai[k, t] = m.rule.scale_theta_genai * w.genai[i]
            self.clarity_c[k, t] = x.clarity_lift(w.clarity[i])
            self.burden[k, t] = w.burden[i]
            self.any_project[k, t] = w.any_project[i]
            self.p_total[k, t] = w.project_total[i]
            self.p_cum[k, t] = w.project_cum[i]
            self.p_share[k, t] = w.project_share[i]

    def _share(self, owners: list, name: str) -> np.ndarray:
        """Concatenate attribute ``name`` of ``owners`` and make each a view of its part."""
        out = _stack([getattr(o, name) for o in owners])
        for k, o in enumerate(owners):
            setattr(o, name, out[k * self.n : (k + 1) * self.n])
        return out

    def _network(self, models: list[AdoptionModel]) -> None:
        """Neighbour counts (active, at scale) and the in-edges, with block-wide indices."""
        n = self.n
        cu, cs, inv, start, length, watcher, step = [], [], [], [], [], [], []
        offset = 0
        for k, m in enumerate(models):
            users, at_scale = m._peer_counters()
            users.share(m.state > 0)  # brings the counters' exact counts up to date
            at_scale.share(m.state == 2)
            cu.append(users._count)
            cs.append(at_scale._count)
            net = m.network
            inv.append(net._inv_degree)
            s, ln, w, st = net.in_edges()
            start.append(s + offset)
            length.append(ln)
            watcher.append(np.add(w, k * n, dtype=np.intp))
            step.append(st)
            offset += w.shape[0]
            m._counters = None  # made again (exact full product) if the model steps further
        self.cu, self.cs = _stack(cu, np.float64), _stack(cs, np.float64)
        self.inv = _stack(inv, np.float64)
        self.e_start = _stack(start, np.intp)
        self.e_len = _stack(length, np.intp)
        self.watcher = _stack(watcher, np.intp)
        self.step = _stack(step, np.float64)

    def run(self, months: int | None = None) -> None:
        """Step the block to the end (or ``months`` months).

        Each model is left as its own steps would have left it.
        """
        first = self.models[0]
        start, m_end = first._start, self.n_months - 1
        if months is not None:
            m_end = min(m_end, self.m0 + months)
        barrier_months = [m.recorder.barrier_months for m in self.models]
        for m in range(self.m0, m_end):
            month = start + m
            kernels.hazard_terms(
                m, self.n, self.r, self.cu, self.cs, self.inv, self.static, self.scale_static,
                self.code, self.tables, self.bidx, self.burden, self.theta_peer,
                self.scale_theta_peer, self.theta_burden, self.genai, self.scale_genai,
                self.h, self.peer,
            )  # fmt: skip
            np.tanh(self.h, out=self.h)
            k = kernels.decide(
                m, month, m, self.n, self.r, self.h, self.peer, self.keys, self.words, self.z,
                self.state, self.month_started, self.month_scaled, self.induced, self.barriers,
                self.code, self.unsure, self.clarity_c, self.p_rate, self.ps, self.pe,
                self.q_rate, self.qs, self.qe, self.keep, self.learn, self.learn_col,
                self.group, self.any_project, self.p_total, self.p_cum, self.p_share, self.dw_u,
                self.dw_keep, REFERENCE_COVER, self.proj_effect, self.proj_months,
                self.proj_survive, self.proj_expo,
                self.segment, self.any_programme, self.q_total, self.q_cum, self.prog_months,
                self.prog_effect, self.prog_survive, self.prog_expo,
                self.weight, self.cell3, self.acc, self.users, self.at_scale,
                self.e_start, self.e_len, self.watcher, self.step, self.cu, self.cs,
                self.c_firm, self.c_kind, self.c_effect, self.c_b, self.c_survive, self.c_expo,
                self.c_cover, self.sums, self.hits, self.scratch, self.tilt, self.benefit_col,
                self.benefit_cols, self.bshare,
            )  # fmt: skip
            if k:
                pw = self.c_b[:k] ** 12
                kernels.gross_chance(k, pw, self.c_effect, self.c_survive, self.c_gross)
                powered = self.c_gross[:k] ** self.c_expo[:k]
                kernels.store_rates(
                    k, powered, self.c_firm, self.c_kind, self.c_cover, self.p_rate,
                    self.p_cover, self.q_rate, self.q_kind,
                )  # fmt: skip
            for b, model in zip(barrier_months, self.models, strict=True):
                if month + 1 in b:
                    model.recorder.record(m + 1, model.state, model.firms.barriers)
        self._finish(m_end - self.m0)

    def _finish(self, steps: int) -> None:
        """Month, running flag, Mesa's step count, the start logs and the active set."""
        for k, model in enumerate(self.models):
            model.month += steps
            model.running = model.month < model._end
            model.steps += steps
            # Mesa >= 3.4's clock (model.time) is left alone: there step() is an event on Mesa's
            # event list, and a clock moved past pending events would run them all at the next
            # step(). So after a block run model.time lags model.steps; nothing here reads it.
            lv = model.levers
            lv.programmes.benefit_share = self.bshare[k].copy()
            for q, name in enumerate(_LOGS):
                log = lv.starts[name]
                for m in self.hits[k, self.m0 : self.m0 + steps, q].nonzero()[0] + self.m0:
                    month = model._start + int(m)
                    log[month] = log.get(month, 0.0) + float(self.sums[k, m, q])
            open_ = (lv.project_end >= model.month) | (lv.programme_end >= model.month)
            lv._active = open_.nonzero()[0].astype(np.intp)
