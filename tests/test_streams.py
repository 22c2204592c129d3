"""The registry of named random streams: one key per name, and the package draws only from it."""

import ast
import pathlib

import numpy as np

from adoptsim import streams

PACKAGE = pathlib.Path(streams.__file__).parent


def test_no_two_named_streams_share_a_key():
    by_key: dict[int, list[str]] = {}
    for name, key in streams.KEYS.items():
        by_key.setdefault(key, []).append(name)
    assert {k: names for k, names in by_key.items() if len(names) > 1} == {}


def test_every_integer_constant_of_the_module_is_in_the_registry():
    consts = {n: v for n, v in vars(streams).items() if n.isupper() and isinstance(v, int)}
    assert consts == streams.KEYS


def test_streams_keep_the_historic_seeds():
    # bit-identical results: the named streams are the literal keys the package used before
    assert streams.replication_seed(3, 7).spawn_key == (7,)
    assert streams.prior_seed(3, 7).spawn_key == (7, 1_000)
    # the scenario runs' streams are unchanged, so their results are bit-identical
    a = streams.stream(5, streams.VALIDATION_NOISE).random(3)
    b = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(streams.ANALYSIS, 4242))).random(
        3
    )
    assert np.array_equal(a, b)


def test_analysis_streams_never_coincide_with_a_replication():
    # e.g. the MCMC starts (key 5) and replication 5 of the same seed draw different numbers
    for name in ("MCMC_STARTS", "MCMC_ENSEMBLE", "PRIOR_DESIGN", "SYNTHETIC_NOISE"):
        key = streams.KEYS[name]
        a = streams.stream(7, key).random(4)
        b = np.random.default_rng(streams.replication_seed(7, key)).random(4)
        assert not np.array_equal(a, b), name
    assert streams.ANALYSIS > streams.NOISE_FIRST_REPLICATION


def test_no_module_but_the_registry_writes_a_spawn_key():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "streams.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "spawn_key":
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.value.lineno}")
    assert offenders == []
