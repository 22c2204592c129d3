"""The fused monthly step: compiled loops over the firms of a block of replications.

One month of [`AdoptionModel.step`][adoptsim.model.AdoptionModel.step] (the plain NumPy
reference, which stays the fallback when Numba is missing or a model is outside what the kernel
covers) is done here in one pass over the firms of every model of a block
(`adoptsim.block`): peer shares from the kept neighbour counts, the logit terms, the draws
against the lifted start hazard, scale-up, the three exits, barrier removal by peer learning,
the applications for subsidised projects and the programmes' reach, the count of neighbours kept
up to date, and the month's record.

Every floating-point operation is the one the reference does, in the same order, on the same
operands, so the results are the same bits. The only exceptions are the transcendental
functions: NumPy evaluates ``tanh`` and ``**`` with its own vectorised routines, whose last bits
differ from the C library's that compiled code calls. So the kernel stops where one is needed and
NumPy applies it to a whole array (`hazard_terms` → ``np.tanh`` → `decide`; `decide` →
``** 12`` → `gross_chance` → ``** (1 / months)`` → `store_rates`); NumPy's results do not
depend on an element's position or the array's length, so the block's arrays give the bits each
model's own arrays would.

Compiled with ``cache=True``: the machine code is kept beside this module (or in Numba's user
cache if that folder is read-only), so only a process's first use on a new installation pays
the compilation.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from adoptsim import uniforms

try:  # the compiled path is optional: without Numba every model steps with the reference
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; this is the documented fallback
    numba = None

AVAILABLE = numba is not None
ENV = "ADOPTSIM_KERNEL"  # 0 turns the compiled paths off: the NumPy references run instead


def enabled() -> bool:
    """Whether the compiled paths are used (Numba importable, ``ADOPTSIM_KERNEL`` not 0)."""
    off = os.environ.get(ENV, "1").strip().lower() in ("0", "false", "no", "off")
    return AVAILABLE and not off


def _compiled(fn):
    """``numba.njit(cache=True)``, or without the cache where Numba cannot keep one."""
    if numba is None:
        return fn
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # no writable cache folder: compile in each process instead
        return numba.njit(cache=False, nogil=True)(fn)


_mix64 = _compiled(uniforms.mix64)
_GAMMA, _ONE, _UNIT = uniforms.GAMMA, uniforms.ONE, uniforms.UNIT
_S32, _LOW, _NWORDS = uniforms.S32, uniforms.LOW, np.uint64(uniforms.WORDS)


@_compiled
def _stream_key(key, t, w):
    """`adoptsim.uniforms.stream_keys`'s key of word ``w`` in month ``t``."""
    return _mix64(key ^ _mix64((np.uint64(t) * _NWORDS + np.uint64(w) + _ONE) * _GAMMA))


@_compiled
def _words(stream, words, z, row):
    """Every firm's word of one stream into ``z[row]``."""
    for j in range(words.shape[0]):
        z[row, j] = _mix64(stream ^ words[j])


@_compiled
def _low(z):
    """The uniform of a word's low 32 bits."""
    return np.float64(z & _LOW) * _UNIT


@_compiled
def _high(z):
    """The uniform of a word's high 32 bits."""
    return np.float64(z >> _S32) * _UNIT


@_compiled
def _logit(share, theta, static, barrier_sum, burden, shock):
    """One logit, its terms added in the order of `adoptsim.rules.LogitRule.hazards`.

    A zero shock is not added at all, as in the reference (not even a signed zero's rounding).
    """
    eta = share * theta
    eta += static
    eta -= barrier_sum
    eta -= burden
    if shock != 0.0:
        eta += shock
    return eta


@_compiled
def hazard_terms(
    m, n, state_count, cu, cs, inv, static, scale_static, code, tables, bidx, burden_tab,
    theta_peer, scale_theta_peer, theta_burden, genai, scale_genai, h, peer,
):  # fmt: skip
    """Half the start and scale-up logits (σ's first operation) and the peer share, per firm.

    Writes ``h[0]``, ``h[1]`` (the arguments of σ's ``tanh``) and ``peer``; the terms are added
    in the order of `adoptsim.rules.LogitRule.hazards`.
    """
    for r in range(state_count):
        tp, stp, tb_r = theta_peer[r], scale_theta_peer[r], theta_burden[r]
        g1, g2 = genai[r, m], scale_genai[r, m]
        for i in range(r * n, (r + 1) * n):
            p = cu[i] * inv[i]
            q = cs[i] * inv[i]
            tb = burden_tab[r, m, bidx[i]] * tb_r
            h[0, i] = _logit(p, tp, static[i], tables[r, 0, code[i]], tb, g1) * 0.5
            h[1, i] = _logit(q, stp, scale_static[i], tables[r, 1, code[i]], tb, g2) * 0.5
            peer[i] = p


@_compiled
def _add_peer(g, sign, e_start, e_len, watcher, step, count):
    """Add (``sign`` 1) or take away (−1) firm ``g``'s weight at each firm that watches it."""
    for e in range(e_start[g], e_start[g] + e_len[g]):
        if sign > 0:
            count[watcher[e]] += step[e]
        else:
            count[watcher[e]] -= step[e]


@_compiled
def _leaf(a, lo, n):
    """NumPy's pairwise sum of at most 128 terms: a running sum below 8, else 8 lanes."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        b = lo + i
        r0 += a[b]
        r1 += a[b + 1]
        r2 += a[b + 2]
        r3 += a[b + 3]
        r4 += a[b + 4]
        r5 += a[b + 5]
        r6 += a[b + 6]
        r7 += a[b + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@_compiled
def _pairwise(a, lo, n):
    """NumPy's pairwise sum of ``a[lo : lo + n]`` (its float64 ``add.reduce``), bit for bit.

    Halves (rounded to multiples of 8) are summed separately above 128 terms; the recursion is
    walked with an explicit stack (Numba cannot cache a recursive function).
    """
    seg_lo = np.empty(64, dtype=np.int64)
    seg_n = np.empty(64, dtype=np.int64)
    seg_state = np.empty(64, dtype=np.int64)
    vals = np.empty(64)
    top, nv = 0, 0
    seg_lo[0], seg_n[0], seg_state[0] = lo, n, 0
    while top >= 0:
        s_lo, s_n = seg_lo[top], seg_n[top]
        if s_n <= 128:
            vals[nv] = _leaf(a, s_lo, s_n)
            nv += 1
            top -= 1
            continue
        half = s_n // 2
        half -= half % 8
        if seg_state[top] == 0:
            seg_state[top] = 1
            top += 1
            seg_lo[top], seg_n[top], seg_state[top] = s_lo, half, 0
        elif seg_state[top] == 1:
            seg_state[top] = 2
            top += 1
            seg_lo[top], seg_n[top], seg_state[top] = s_lo + half, s_n - half, 0
        else:
            vals[nv - 2] = vals[nv - 2] + vals[nv - 1]
            nv -= 1
            top -= 1
    return vals[0]


@_compiled
def weighted_sum(a):
    """``0.0 + np.sum(a)`` for a float64 array: what the start logs add (tested against it)."""
    return 0.0 + _pairwise(a, 0, a.shape[0])


@_compiled
def _tilted(effect, held, tilt, share):
    """`adoptsim.programmes.tilted` for one firm: the same operations in the same order."""
    return effect * ((1.0 + tilt * (1.0 if held else 0.0)) / (1.0 + tilt * share))


@_compiled
def _benefit_shares(r, n, state, barriers, weight, cols, bshare, scratch):
    """`adoptsim.programmes.benefit_shares` of model ``r`` into ``bshare[r]``, bit for bit."""
    got = 0
    for i in range(r * n, (r + 1) * n):
        if state[i] == 0:
            scratch[got] = weight[i]
            got += 1
    total = _pairwise(scratch, 0, got) if got else 0.0
    for c in range(bshare.shape[1]):
        bshare[r, c] = 0.0
    if total > 0.0:
        for q in range(cols.shape[0]):
            col = cols[q]
            got = 0
            for i in range(r * n, (r + 1) * n):
                if state[i] == 0:
                    scratch[got] = weight[i] * (1.0 if barriers[i, col] else 0.0)
                    got += 1
            bshare[r, col] = _pairwise(scratch, 0, got) / total


@_compiled
def decide(
    m, month, t, n, n_models, h, peer, keys, words, z,
    state, month_started, month_scaled, induced, barriers, code,
    unsure, clarity_c, project_rate, ps, pe, programme_rate, qs, qe,
    keep, learn, learn_col,
    group, any_project, p_total, p_cum, p_share, dw_u, dw_keep, ref_cover, proj_effect, proj_months,
    proj_survive, proj_expo,
    segment, any_programme, q_total, q_cum, prog_months, prog_effect, prog_survive, prog_expo,
    weight, cell3, acc, users, at_scale,
    e_start, e_len, watcher, step, cu, cs,
    c_firm, c_kind, c_effect, c_b, c_survive, c_expo, c_cover, sums, hits, scratch,
    tilt, benefit_col, benefit_cols, bshare,
):  # fmt: skip
    """One month's draws and updates for every firm of the block; returns the new treatments.

    ``h`` holds tanh of half the logits (see `hazard_terms`); ``keys`` each model's uniform key
    (``words``: `adoptsim.uniforms.firm_words`, ``z``: room for a model's words):
    a firm's uniforms (`adoptsim.uniforms`: the state change, three barrier removals, programme
    reach, project application) are computed only where a mechanism reads them. Treated firms
    are listed in ``c_*`` (their own chance is finished by `gross_chance` and `store_rates`);
    ``sums``/``hits`` get the weighted starts by instrument
    (three, in `adoptsim.levers.APPLY_ORDER`) and programme (four). With a ``tilt`` (per
    model) a new effect is tilted towards the firms holding the barrier of its kind
    (``benefit_col``, one of ``benefit_cols``), against the non-users' shares in ``bshare``,
    renewed at the start of each January (`adoptsim.programmes.tilted`, `benefit_shares`). Records
    month ``t + 1``.
    """
    k = 0
    n_cells = acc.shape[0] // 3
    for r in range(n_models):
        c = clarity_c[r, m]
        omc = 1.0 - c
        clear = c > 0.0
        k_light, k_induced, k_scale = keep[r, 0], keep[r, 1], keep[r, 2]
        l0, l1, l2 = learn[r, 0], learn[r, 1], learn[r, 2]
        b0, b1, b2 = learn_col[0], learn_col[1], learn_col[2]
        projects, programmes = any_project[r, m], any_programme[r, m]
        acc[:] = 0.0
        k_first = k
        tl = tilt[r]
        if tl > 0.0 and month % 12 == 0:  # each January, as the reference
            _benefit_shares(r, n, state, barriers, weight, benefit_cols, bshare, scratch)
        # a firm's three words (`adoptsim.uniforms.WORD_OF`): state change and the first
        # barrier; the other two barriers (only if they can be learnt); reach and application
        # (only in months with a programme or a project)
        k0, k1, k2 = (
            _stream_key(keys[r], t, 0),
            _stream_key(keys[r], t, 1),
            _stream_key(keys[r], t, 2),
        )
        learns = l1 > 0.0 or l2 > 0.0
        treats = projects or programmes
        # the words first, in a loop of their own: independent multiplies the CPU overlaps (in
        # the firm loop each would wait on the one before)
        _words(k0, words, z, 0)
        if learns:
            _words(k1, words, z, 1)
        if treats:
            _words(k2, words, z, 2)
        for i in range(r * n, (r + 1) * n):
            j = i - r * n
            z0, z1, z2 = z[0, j], z[1, j], z[2, j]
            s = state[i]
            start = (h[0, i] + 1.0) * 0.5
            scale = (h[1, i] + 1.0) * 0.5
            base = 1.0 - (1.0 - start) * omc if clear & unsure[i] else start
            a1 = project_rate[i] if ps[i] <= month and month <= pe[i] else 0.0
            a2 = programme_rate[i] if qs[i] <= month and month <= qe[i] else 0.0
            lift = 1.0 - (1.0 - a1) * (1.0 - a2)
            lifted = 1.0 - (1.0 - base) * (1.0 - lift) if lift > 0.0 else base
            u0 = _low(z0)
            # barrier removal by peer learning (the hazards above used last month's barriers);
            # the uniform first: computing it costs less than a mispredicted test of the barrier
            p = peer[i]
            if _high(z0) < p * l0 and barriers[i, b0]:
                barriers[i, b0] = False
                code[i] -= 1 << b0
            if _low(z1) < p * l1 and barriers[i, b1]:
                barriers[i, b1] = False
                code[i] -= 1 << b1
            if _high(z1) < p * l2 and barriers[i, b2]:
                barriers[i, b2] = False
                code[i] -= 1 << b2
            # treatments begun this month (from this month's state and start hazard)
            hb = 1.0 - min(max(base, 0.0), 1.0)
            if projects and pe[i] < month:
                ua = _high(z2)
                gi = group[i]
                if ua < p_total[r, m, gi]:
                    inst = 0
                    for q in range(3):
                        if ua >= p_cum[r, m, gi, q]:
                            inst += 1
                    cover = p_share[r, m, gi, inst]
                    add = min(dw_keep[r] * cover / ref_cover, 1.0)
                    eff = proj_effect[r] if dw_u[i] < add else 0.0
                    if tl > 0.0:
                        col = benefit_col[0]  # the three instruments share one barrier
                        eff = _tilted(eff, barriers[i, col], tl, bshare[r, col])
                    ps[i] = month + 1
                    pe[i] = month + proj_months[r]
                    c_firm[k], c_kind[k], c_effect[k], c_b[k] = i, inst, eff, hb
                    c_survive[k], c_expo[k], c_cover[k] = proj_survive[r], proj_expo[r], cover
                    k += 1
            if programmes and qe[i] < month:
                ur = _low(z2)
                cell = segment[i] + (1 if s > 0 else 0)
                if ur < q_total[r, m, cell]:
                    kind = 0
                    for q in range(4):
                        if ur >= q_cum[r, m, cell, q]:
                            kind += 1
                    qs[i] = month + 1
                    qe[i] = month + prog_months[r, kind]
                    c_firm[k], c_kind[k], c_b[k] = i, 3 + kind, hb
                    c_effect[k] = prog_effect[r, kind]
                    if tl > 0.0:
                        col = benefit_col[3 + kind]
                        c_effect[k] = _tilted(c_effect[k], barriers[i, col], tl, bshare[r, col])
                    c_survive[k], c_expo[k] = prog_survive[r, kind], prog_expo[r, kind]
                    k += 1
            # the state change: start, scale up, stop (light or induced), fall back. Tested
            # without branching on the state (a coin toss across firms); the rare changes, a
            # few per cent of firms a month, are then made one by one.
            top = k_induced if induced[i] else k_light
            if induced[i] and u0 < base:
                # would be a user by now without the levers: an ordinary light user from here
                # (`AdoptionModel.step` says why)
                induced[i] = False
            go = (s == 0) & (u0 < lifted)
            up = (s == 1) & (u0 < scale)
            stop = (s == 1) & (u0 >= top)
            fall = (s == 2) & (u0 >= k_scale)
            new = s
            if go | up | stop | fall:
                if go:
                    new = 1
                    month_started[i] = t
                    if lift > 0.0 and u0 >= base:
                        induced[i] = True
                if up:
                    new = 2
                    induced[i] = False
                if stop:
                    new = 0
                    induced[i] = False
                    month_started[i] = -1
                if up:
                    month_scaled[i] = t
                if fall:
                    new = 1
                    month_scaled[i] = -1
                if new != s:
                    state[i] = new
                    if (new > 0) != (s > 0):
                        _add_peer(i, 1 if new > 0 else -1, e_start, e_len, watcher, step, cu)
                    if (new == 2) != (s == 2):
                        _add_peer(i, 1 if new == 2 else -1, e_start, e_len, watcher, step, cs)
            acc[cell3[i] + new] += weight[i]
        for cell in range(n_cells):
            users[r, t + 1, cell] = acc[3 * cell + 1] + acc[3 * cell + 2]
            at_scale[r, t + 1, cell] = acc[3 * cell + 2]
        # weighted starts by instrument and programme: NumPy's sum of the weights in firm order
        for q in range(7):
            got = 0
            for c_i in range(k_first, k):
                if c_kind[c_i] == q:
                    scratch[got] = weight[c_firm[c_i]]
                    got += 1
            if got:
                sums[r, m, q] = _pairwise(scratch, 0, got)
                hits[r, m, q] = True
    return k


@_compiled
def gross_chance(k, pw, c_effect, c_survive, out):
    """1 − the gross chance of each new treatment, from ``pw`` = (1 − hazard)^12.

    `adoptsim.programmes.own_chance` between its two powers.
    """
    for q in range(k):
        p0 = 1.0 - pw[q]
        keep = max((1.0 - p0) * c_survive[q], 1e-9)
        gross = min(max(c_effect[q] / keep, 0.0), 1.0)
        out[q] = 1.0 - gross


@_compiled
def store_rates(
    k, powered, c_firm, c_kind, c_cover, project_rate, project_cover, programme_rate, kind
):
    """Write each new treatment's monthly chance, 1 − (1 − gross)^(1/months), and its kind."""
    for q in range(k):
        i = c_firm[q]
        chance = 1.0 - powered[q]
        if c_kind[q] < 3:  # a project (its instrument's slot)
            project_cover[i] = c_cover[q]
            project_rate[i] = chance
        else:  # a programme
            programme_rate[i] = chance
            kind[i] = c_kind[q] - 3


# --- building a network (`adoptsim.network`) ---------------------------------------------------
@_compiled
def representative_targets(owner_group, group, n_groups, mass, u):
    """`adoptsim.network._representative_targets`, tie by tie: the same agents, bit for bit.

    Agents are ordered by group (stable), their masses summed in that order; a tie's target is
    the first agent whose cumulative mass exceeds the tie's point (``searchsorted(...,
    side="right")``), clipped to the group. The search starts from a guide table (the answer
    at evenly spaced points below the tie's point) and walks forward: exact whatever the
    rounding of the table's index, and a step or two instead of a dozen dependent loads.
    """
    n = group.shape[0]
    size = np.zeros(n_groups, dtype=np.int64)
    for j in range(n):
        size[group[j]] += 1
    end = np.cumsum(size)
    begin = end - size
    fill = begin.copy()
    order = np.empty(n, dtype=np.int64)
    for j in range(n):  # a stable counting sort: np.argsort(group, kind="stable")
        order[fill[group[j]]] = j
        fill[group[j]] += 1
    cum = np.empty(n)
    acc = 0.0
    for j in range(n):
        acc += mass[order[j]]
        cum[j] = acc
    out = np.empty(u.shape[0], dtype=np.int64)
    total = cum[n - 1] if n > 0 else 0.0
    n_guide = max(n, 1)
    edge = np.empty(n_guide)
    guide = np.empty(n_guide, dtype=np.int64)
    step = total / n_guide if total > 0.0 else 1.0
    p = 0
    for g in range(n_guide):
        edge[g] = g * step
        while p < n and cum[p] <= edge[g]:
            p += 1
        guide[g] = p
    inv = n_guide / total if total > 0.0 else 0.0
    for t in range(u.shape[0]):
        g = owner_group[t]
        b, e = begin[g], end[g]
        base = cum[max(b - 1, 0)] if b > 0 else 0.0
        top = cum[max(e - 1, 0)] if e > 0 else 0.0
        if not top > base:
            out[t] = -1
            continue
        x = base + u[t] * (top - base)
        q = min(int(x * inv), n_guide - 1)
        while q > 0 and edge[q] > x:
            q -= 1
        lo = guide[q]  # cum values <= edge[q] <= x: all counted, then the rest up to x
        while lo < n and cum[lo] <= x:
            lo += 1
        last = min(max(e - 1, b), n - 1)
        out[t] = order[min(max(lo, b), last)]
    return out


@_compiled
def ties_to_csr(owner, target, n):
    """CSR arrays of the directed ties owner → target (`adoptsim.network._from_ties`'s).

    A tie drawn k times has entry k; self-ties and misses (target −1) are dropped. Two stable
    counting sorts (by target, then by owner) put every row's columns in order without
    comparing them.
    """
    by_col = np.zeros(n + 1, dtype=np.int64)
    by_row = np.zeros(n + 1, dtype=np.int64)
    for t in range(owner.shape[0]):
        if target[t] >= 0 and target[t] != owner[t]:
            by_col[target[t] + 1] += 1
            by_row[owner[t] + 1] += 1
    col_ptr = np.cumsum(by_col)
    row_ptr = np.cumsum(by_row)
    kept = row_ptr[n]
    order = np.empty(kept, dtype=np.int64)
    for t in range(owner.shape[0]):
        if target[t] >= 0 and target[t] != owner[t]:
            order[col_ptr[target[t]]] = t
            col_ptr[target[t]] += 1
    cols = np.empty(kept, dtype=np.int64)
    fill = row_ptr[:n].copy()
    for q in range(kept):
        t = order[q]
        cols[fill[owner[t]]] = target[t]
        fill[owner[t]] += 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    indices = np.empty(kept, dtype=np.int32)
    data = np.empty(kept, dtype=np.float32)
    k = 0
    for i in range(n):
        q, hi = row_ptr[i], row_ptr[i + 1]
        while q < hi:
            c = cols[q]
            reps = 1
            while q + reps < hi and cols[q + reps] == c:
                reps += 1
            indices[k] = c
            data[k] = reps
            k += 1
            q += reps
        indptr[i + 1] = k
    return indptr, indices[:k].copy(), data[:k].copy()


@_compiled
def transpose(indptr, indices, data, n):
    """The columns of a CSR matrix as rows (``A.T.tocsr()``'s arrays; rows ascending)."""
    counts = np.zeros(n + 1, dtype=np.int64)
    for e in range(indices.shape[0]):
        counts[indices[e] + 1] += 1
    ptr = np.cumsum(counts)
    fill = ptr[:n].copy()
    rows = np.empty(indices.shape[0], dtype=indices.dtype)
    vals = np.empty(indices.shape[0], dtype=data.dtype)
    for i in range(n):
        for e in range(indptr[i], indptr[i + 1]):
            c = indices[e]
            rows[fill[c]] = i
            vals[fill[c]] = data[e]
            fill[c] += 1
    return ptr, rows, vals
