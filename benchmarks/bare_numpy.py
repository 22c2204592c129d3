"""The reference for adoptsim's speed: the Bass rule on an Erdős–Rényi network as a bare loop.

No model, no population, no recording beyond the adopter count: build a G(n, m) graph as a
``scipy.sparse`` CSR matrix the fast way (one sort of packed edge keys), then per month

    peer share = A @ x / degree;  hazard = clip(p + q · peer share, 0, 1);
    u ~ U(0, 1);  x = x or (u < hazard)

with float32 throughout (float32 sparse × float32 vector is about twice as fast as mixed
types) and preallocated buffers. ``incremental=True`` is the same loop with the neighbour
counts updated from the firms that adopted last month instead of a full product — the trick
adoptsim uses — so the comparison can be made both ways.

    python3 benchmarks/bare_numpy.py 1000000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp


def erdos_renyi_csr(n: int, mean_degree: float, rng: np.random.Generator) -> sp.csr_array:
    """Symmetric 0/1 CSR adjacency of G(n, m), m = n·k/2 uniform pairs (loops, repeats dropped)."""
    m = round(n * mean_degree / 2)
    i = rng.integers(0, n, size=m, dtype=np.int64)
    j = rng.integers(0, n, size=m, dtype=np.int64)
    keep = i != j
    i, j = i[keep], j[keep]
    key = np.concatenate([i * n + j, j * n + i])
    key.sort()
    key = key[np.r_[True, key[1:] != key[:-1]]]
    rows = key // n
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    cols = (key - rows * n).astype(np.int32)
    return sp.csr_array((np.ones(key.size, dtype=np.float32), cols, indptr), shape=(n, n))


def run(
    n: int,
    steps: int = 84,
    p: float = 0.004,
    q: float = 0.06,
    mean_degree: float = 10.0,
    seed: int = 0,
    incremental: bool = False,
) -> dict:
    """Build the graph and run ``steps`` months; returns timings and the final adopter share."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    a = erdos_renyi_csr(n, mean_degree, rng)
    degree = np.diff(a.indptr)
    inv_degree = np.divide(
        1.0, degree, out=np.zeros(n, dtype=np.float32), where=degree > 0, dtype=np.float32
    )
    t1 = time.perf_counter()

    adopted = np.zeros(n, dtype=bool)
    x = np.zeros(n, dtype=np.float32)
    count = np.zeros(n, dtype=np.float32)
    hazard = np.empty(n, dtype=np.float32)
    u = np.empty(n, dtype=np.float32)
    new = np.empty(n, dtype=bool)
    shares = []
    for _ in range(steps):
        if not incremental:
            count = a @ x  # active neighbours
        np.multiply(count, inv_degree, out=hazard)  # peer share
        hazard *= q
        hazard += p
        np.clip(hazard, 0.0, 1.0, out=hazard)
        rng.random(out=u, dtype=np.float32)
        np.less(u, hazard, out=new)
        new &= ~adopted
        adopted |= new
        if incremental:
            idx = np.flatnonzero(new)
            starts, ends = a.indptr[idx], a.indptr[idx + 1]
            lens = ends - starts
            pos = np.arange(lens.sum()) + np.repeat(starts - (np.cumsum(lens) - lens), lens)
            np.add.at(count, a.indices[pos], 1.0)
        else:
            x[new] = 1.0
        shares.append(adopted.mean())
    t2 = time.perf_counter()
    return {
        "n": n,
        "steps": steps,
        "build_s": t1 - t0,
        "steps_s": t2 - t1,
        "total_s": t2 - t0,
        "final_share": float(shares[-1]) if shares else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--steps", type=int, default=84)
    parser.add_argument("--incremental", action="store_true")
    args = parser.parse_args()
    print(run(args.n, args.steps, incremental=args.incremental))


if __name__ == "__main__":
    main()
