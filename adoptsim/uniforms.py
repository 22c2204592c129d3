"""Counter-based uniforms: a firm's draw in a month is a pure function of (key, month, row, firm).

A step needs, per firm and month, one uniform for its state change, one per dynamic barrier it
holds (removal by peer learning), one for a programme's reach and one for a project application
(`ROWS`). Drawn from a sequential generator, all six rows of every firm must be drawn every
month, in one order, so that the compiled kernel and the NumPy reference step see the same
numbers; most of them are never looked at (a firm without a barrier cannot lose it, a firm in a
project cannot apply for another). Computed from a counter instead, each is made only where a
mechanism reads it, and the kernel and the reference compute the same bits by construction.

The construction is SplitMix64's output function (Steele, Lea & Flood 2014, "Fast splittable
pseudorandom number generators", OOPSLA; the finaliser of Java's ``SplittableRandom``, which
passes TestU01's BigCrush), applied twice:

- a stream key per (model, month, word): ``mix(key ^ mix((WORDS·t + w + 1)·γ))``, with ``key``
  a 64-bit word of the model's own ``SeedSequence`` child (`adoptsim.model`);
- the firm's 64-bit word ``mix(stream ^ mix((j + 1)·γ))`` for firm ``j`` of the model; its low
  and high 32 bits are two uniforms on [0, 1) (resolution 2⁻³², far below any monthly hazard the
  model compares them with), so the six rows take three words (`WORD_OF`).

Mixing the key with a hash of the counter, not adding a Weyl sequence to it, is what keeps two
models' streams from overlapping: with ``key + c·γ``, two random keys whose difference is a small
multiple of γ give shifted copies of one sequence; with the XOR of hashes a repeat is a single
chance coincidence of 64-bit words, not a run. `mix64` is written once, for NumPy arrays, and
compiled by Numba from the same source (`adoptsim.kernels`); every operation is an unsigned
64-bit integer operation (wrapping), so both give the same bits.
"""

from __future__ import annotations

import numpy as np

# Rows of a month's uniforms: the state change (start, scale-up, exit), removal of the three
# dynamic barriers by peer learning, a programme's reach and a project application.
ROW_STATE, ROW_LEARN, ROW_REACH, ROW_APPLY = 0, 1, 4, 5
ROWS = 6
WORDS = 3  # 64-bit words per firm and month: two rows each
WORD_OF = tuple(divmod(row, 2) for row in range(ROWS))  # row -> (word, half: 0 low, 1 high)

GAMMA = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, odd: SplitMix64's increment
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
S32 = np.uint64(32)
LOW = np.uint64(0xFFFFFFFF)
ONE = np.uint64(1)
UNIT = 2.0**-32  # a 32-bit half as a float64 in [0, 1): exact in NumPy and compiled code


def mix64(z):
    """SplitMix64's finaliser: a bijection of 64-bit words, every output bit hashed from all.

    Works on a ``uint64`` array and, compiled, on one ``uint64``.
    """
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def model_key(seed: np.random.SeedSequence) -> np.uint64:
    """The 64-bit key of a model's uniforms, from its own ``SeedSequence`` child."""
    return np.uint64(seed.generate_state(1, np.uint64)[0])


def stream_keys(key: np.uint64, t: int) -> np.ndarray:
    """The stream key of each word in month ``t`` (months since the start): ``(WORDS,)`` uint64."""
    w = np.arange(WORDS, dtype=np.uint64)
    counter = (np.uint64(t) * np.uint64(WORDS) + w + ONE) * GAMMA
    return mix64(np.uint64(key) ^ mix64(counter))


def firm_words(n: int) -> np.ndarray:
    """``mix((j + 1)·γ)`` for firms ``j = 0 … n − 1``: the firm's half of every uniform."""
    return mix64((np.arange(n, dtype=np.uint64) + ONE) * GAMMA)


def month_uniforms(
    key: np.uint64,
    t: int,
    rows: tuple[int, ...],
    words: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Month ``t``'s uniforms of every firm in the given rows (the reference step's).

    Args:
        key: the model's key (`model_key`).
        t: months since the scenario start.
        rows: which rows (of `ROWS`) to compute.
        words: `firm_words` of the model's firm count.
        out: a ``(ROWS, n)`` float64 array to write into (a step reuses one), else a new one.

    Returns:
        ``(ROWS, n)`` float64 uniforms on [0, 1); rows not asked for are left as they were.
    """
    keys = stream_keys(key, t)
    n = words.shape[0]
    if out is None:
        out = np.empty((ROWS, n))
    for lo in range(0, n, _CHUNK):  # in chunks: the hash's temporaries stay small
        w = words[lo : lo + _CHUNK]
        made: dict[int, np.ndarray] = {}
        for row in rows:
            word, half = WORD_OF[row]
            if word not in made:
                made[word] = mix64(keys[word] ^ w)
            bits = made[word] >> S32 if half else made[word] & LOW
            np.multiply(bits, UNIT, out=out[row, lo : lo + _CHUNK])
    return out


_CHUNK = 1 << 16  # firms per chunk of the NumPy hash (a few hundred kB of temporaries)
