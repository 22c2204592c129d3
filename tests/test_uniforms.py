"""The counter-based uniforms (adoptsim.uniforms): NumPy and compiled code give the same bits,
the numbers are uniform and independent across firms, rows, months and models, and the step uses
them where it says."""

import numpy as np
import pytest
from scipy import stats

from adoptsim import kernels, uniforms
from adoptsim.model import AdoptionModel


def _scalar_uniform(key, t, row, j):
    """The uniform of one (key, month, row, firm) by the construction the module documents."""
    w, half = uniforms.WORD_OF[row]
    stream = uniforms.stream_keys(np.uint64(key), t)[w]
    word = uniforms.mix64(np.array([stream]) ^ uniforms.firm_words(j + 1)[j : j + 1])[0]
    bits = (word >> np.uint64(32)) if half else (word & uniforms.LOW)
    return float(bits) * 2.0**-32


def _splitmix64(state: int) -> tuple[int, int]:
    """Vigna's splitmix64.c next() in Python integers: (new state, output)."""
    mask = (1 << 64) - 1
    state = (state + 0x9E3779B97F4A7C15) & mask
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return state, z ^ (z >> 31)


def test_mix64_is_splitmix64s_output_function():
    # SplitMix64 from state 0: output k is mix(k·γ); its first two outputs, as published
    # (0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4), then many more against Python integers
    out = uniforms.mix64(np.arange(1, 1001, dtype=np.uint64) * uniforms.GAMMA)
    state, want = 0, []
    for _ in range(1000):
        state, z = _splitmix64(state)
        want.append(z)
    assert [int(x) for x in out] == want
    assert hex(want[0]) == "0xe220a8397b1dcdaf" and hex(want[1]) == "0x6e789e6aa1b965f4"


def test_month_uniforms_are_the_documented_function_of_key_month_row_and_firm():
    key, n = np.uint64(0xDEADBEEF12345678), 9
    u = uniforms.month_uniforms(key, 17, tuple(range(uniforms.ROWS)), uniforms.firm_words(n))
    for row in range(uniforms.ROWS):
        for j in (0, 4, 8):
            assert u[row, j] == _scalar_uniform(key, 17, row, j)
    assert np.all((u >= 0) & (u < 1))


@pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
def test_compiled_words_equal_numpys():
    key, n = np.uint64(12345), 1000
    words = uniforms.firm_words(n)
    z = np.zeros((uniforms.WORDS, n), dtype=np.uint64)
    for t in (0, 1, 118):
        streams = uniforms.stream_keys(key, t)
        u = uniforms.month_uniforms(key, t, tuple(range(uniforms.ROWS)), words)
        for w in range(uniforms.WORDS):
            assert kernels._stream_key(key, t, w) == streams[w]
            kernels._words(streams[w], words, z, w)
            np.testing.assert_array_equal(z[w], uniforms.mix64(streams[w] ^ words))
        for row, (w, half) in enumerate(uniforms.WORD_OF):
            got = np.array([(kernels._high if half else kernels._low)(x) for x in z[w]])
            np.testing.assert_array_equal(got, u[row])


def test_uniform_and_independent():
    """Uniform marginals (KS), no correlation between neighbouring firms, rows, months or models,
    and a 2-D chi-square on pairs of rows (each at a size where a defect of 1 % would show)."""
    n = 200_000
    words = uniforms.firm_words(n)
    rows = tuple(range(uniforms.ROWS))
    a = uniforms.month_uniforms(np.uint64(1), 0, rows, words)
    b = uniforms.month_uniforms(np.uint64(1), 1, rows, words)
    c = uniforms.month_uniforms(np.uint64(2), 0, rows, words)
    for row in rows:
        assert stats.kstest(a[row], "uniform").pvalue > 1e-4
    pairs = [
        (a[0, :-1], a[0, 1:]),  # neighbouring firms
        (a[0], a[1]),  # two halves of one word
        (a[1], a[2]),  # two words of a month
        (a[0], b[0]),  # consecutive months
        (a[0], c[0]),  # two models (keys 1 and 2)
    ]
    se = 1 / np.sqrt(n)
    for x, y in pairs:
        assert abs(np.corrcoef(x, y)[0, 1]) < 5 * se
        counts = np.histogram2d(x, y, bins=10, range=[[0, 1], [0, 1]])[0].ravel()
        assert stats.chisquare(counts).pvalue > 1e-4


def test_models_get_their_own_keys_and_the_same_seed_the_same_key():
    keys = {int(AdoptionModel("baseline", n_firms=200, seed=s)._key) for s in range(6)}
    assert len(keys) == 6
    a = AdoptionModel("baseline", n_firms=200, seed=3)
    b = AdoptionModel("baseline", n_firms=200, seed=3)
    assert a._key == b._key


def test_month_uniforms_are_the_same_across_the_hash_chunks():
    key, n = np.uint64(99), uniforms._CHUNK + 1000
    words = uniforms.firm_words(n)
    buf = np.full((uniforms.ROWS, n), -1.0)
    u = uniforms.month_uniforms(key, 5, (0, 5), words, out=buf)
    assert u is buf and np.all(buf[1:5] == -1.0)  # rows not asked for are left alone
    for j in (0, uniforms._CHUNK - 1, uniforms._CHUNK, n - 1):
        assert u[0, j] == _scalar_uniform(key, 5, 0, j)
        assert u[5, j] == _scalar_uniform(key, 5, 5, j)
