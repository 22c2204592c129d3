"""The simulator the emulator learns, and the cache of its finished evaluations (`evals.jsonl`)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from adoptsim import streams
from adoptsim.atomic import output_error
from adoptsim.errors import AdoptsimError
from adoptsim.fit.targets import ADOPTION_SEGMENTS, SIM_INDEX
from adoptsim.months import parse_month
from adoptsim.observe import (
    Observation,
    latent,
)
from adoptsim.posterior import (
    EFFECTIVE,
    overrides_for,
    split_overrides,
)
from adoptsim.priors import PRIORS, prior_draw
from adoptsim.scenario import Scenario
from adoptsim.simulation import run_replication


# --- the simulator the emulator learns --------------------------------------------------------
@dataclass
class LatentModel:
    """Latent shares of one country's targets at effective simulation parameters.

    Picklable, so worker processes can evaluate it. Replication r always uses the seed
    `SeedSequence(seed, spawn_key=(r,))`: common random numbers across parameter vectors.
    """

    country: str
    scenario_raw: dict
    rows: list[dict]
    n_firms: int
    seed: int
    replications: int
    first_replication: int = 0
    marginalise: str = "all"

    def layout(self) -> list[tuple[int, str]]:
        """(row index, 'users' | 'at_scale') of each latent output."""
        out = []
        for i, r in enumerate(self.rows):
            out.append((i, "users"))
            if r["survey"] in ("ict_survey", "ict_survey_old") and r["segment_type"] in (
                ADOPTION_SEGMENTS
            ):
                out.append((i, "at_scale"))
        return out

    def scenario(self, sim_values: np.ndarray, replication: int | None = None) -> Scenario:
        """The calibration scenario with effective simulation parameters laid over it.

        With ``replication``, the prior-only parameters (`adoptsim.priors`, both groups) are
        drawn for this design point and replication (`prior_uniforms`) and laid under the fitted
        values: the fit marginalises them instead of holding them at the scenario's values.
        """
        params = [EFFECTIVE[i] for i in SIM_INDEX]
        over = split_overrides(overrides_for(params, sim_values))[0]
        base = Scenario.from_dict(self.scenario_raw)
        if replication is None or self.marginalise == "none":
            return base.with_overrides(over)
        drawn = prior_draw(
            self.seed, replication, self.marginalise, self.prior_uniforms(sim_values, replication)
        )
        return base.with_draw(drawn, over)

    def prior_uniforms(self, sim_values: np.ndarray, replication: int) -> np.ndarray:
        """Uniforms of the prior-only draws at one design point and replication.

        A function of (seed, design point, replication) only — so a resumed calibration makes
        the same draws — and different at every design point, so the emulator learns the
        parameters' mean effect and the replications' spread holds their variance (what
        marginalising them means here), instead of conditioning every point on one draw.
        """
        digest = hashlib.sha256(np.asarray(sim_values, dtype=float).tobytes()).digest()
        h0, h1 = (int.from_bytes(digest[i : i + 4], "little") for i in (0, 4))
        rng = streams.stream(self.seed, streams.CALIBRATION_PRIORS, h0, h1, replication)
        return rng.random(len(PRIORS))

    def barrier_months(self) -> set[int]:
        """Months at which barrier targets need the barriers recorded."""
        return {
            parse_month(r["date"]) for r in self.rows if r["segment_type"].startswith("barrier")
        }

    def latents(self, scenario: Scenario, replication: int) -> np.ndarray:
        """Latent outputs (in `layout` order) of one replication of ``scenario``.

        Args:
            scenario: a scenario with every parameter already laid in (`scenario`).
            replication: the replication index (its seed is this model's, its key this index).
        """
        record = run_replication(
            scenario,
            n_firms=self.n_firms,
            seed=self.seed,
            replication=replication,
            barrier_months=self.barrier_months(),
            use_posterior=False,
            use_priors=False,
        )
        obs = Observation()
        values = [latent(pd.Series(row), record, obs) for row in self.rows]
        return np.array([values[j][0 if kind == "users" else 1] for j, kind in self.layout()])

    def __call__(self, sim_values: np.ndarray) -> np.ndarray:
        """Latent outputs, shape (replications, latents)."""
        out = np.empty((self.replications, len(self.layout())))
        for i in range(self.replications):
            r = self.first_replication + i
            out[i] = self.latents(self.scenario(sim_values, r), r)
        return out


class EvaluationStore:
    """Append-only record of finished evaluations (parameters → outputs) for resuming."""

    def __init__(self, path: Path, tag: str) -> None:
        self.path, self.tag = path, tag
        self.cache: dict[str, np.ndarray] = {}
        if path.exists() or path.is_symlink():
            if path.is_symlink() or not path.is_file():
                raise AdoptsimError(
                    f"{path}: is not a plain file (a folder, device or symlink); the "
                    "evaluations log must be one — remove it or use another --out"
                )
            try:
                text = path.read_bytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise AdoptsimError(
                    f"{path}: not an evaluations log (not UTF-8 at byte {exc.start}); remove "
                    "it to start afresh, or use another --out"
                ) from None
            for line in text.splitlines():
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut off by an interruption
                if (
                    isinstance(item, dict)
                    and item.get("tag") == tag
                    and isinstance(item.get("key"), str)
                    and isinstance(item.get("outputs"), list)
                ):
                    self.cache[item["key"]] = np.array(item["outputs"])

    @staticmethod
    def key(country: str, x: np.ndarray) -> str:
        """Exact key of a country's parameter vector (hash of its float64 bytes)."""
        return hashlib.sha1(
            country.encode() + np.asarray(x, dtype=np.float64).tobytes()
        ).hexdigest()

    def put(self, key: str, x: np.ndarray, outputs: np.ndarray) -> None:
        """Record one finished evaluation at once (flushed and synced)."""
        self.cache[key] = outputs
        item = {"tag": self.tag, "key": key, "x": list(map(float, x))}
        text = json.dumps(item | {"outputs": outputs.tolist()}) + "\n"
        try:  # never through a symlink; a full disk is one line naming the file
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
            try:
                os.write(fd, text.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise output_error(self.path, exc) from None


def make_pool(workers: int) -> ProcessPoolExecutor:
    """The sweep's process pool (`adoptsim.sweeps.pool.new_pool`): workers behave the same.

    Spawn start method and the sweep's worker initializer: `ADOPTSIM_THREADS=1`, Ctrl-C left to
    the parent, workers die with their parent, the model imported before the first task.

    Args:
        workers: number of worker processes.
    """
    from adoptsim.sweeps.pool import new_pool

    return new_pool(workers)


@dataclass
class Evaluator:
    """Simulates many (country, parameters) tasks, taking finished ones from the store."""

    models: dict[str, LatentModel]
    store: EvaluationStore
    executor: Executor | None
    on_done: Callable[[int], None] = lambda n: None
    simulations: int = 0

    def outputs(self, country: str, xs: Sequence[np.ndarray]) -> np.ndarray:
        """Latent outputs (n × replications × latents) for effective simulation parameters."""
        keys = [self.store.key(country, x) for x in xs]
        todo = [i for i, k in enumerate(keys) if k not in self.store.cache]
        done_before = len(xs) - len(todo)
        if done_before:
            self.on_done(done_before)
        model = self.models[country]
        if self.executor is None:
            results = (model(xs[i]) for i in todo)
        else:
            results = self.executor.map(model, [xs[i] for i in todo])
        for i, out in zip(todo, results, strict=True):
            self.store.put(keys[i], xs[i], out)
            self.simulations += model.replications
            self.on_done(1)
        return np.stack([self.store.cache[k] for k in keys])
