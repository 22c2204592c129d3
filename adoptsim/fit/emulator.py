"""Gaussian-process emulator of many simulated outputs, with its predictive uncertainty.

The calibration needs, at any parameter vector, the simulated latent shares of every target (a
few dozen numbers) and how sure the emulator is about them. Following Higdon et al. (2008,
JASA 103:570) the outputs are standardised, reduced to their leading principal components, and
each component gets its own Gaussian process (scikit-learn's `GaussianProcessRegressor`,
anisotropic RBF kernel plus a white-noise term for the simulation noise). The predictive
covariance of the outputs is the components' predictive variances mapped back through the
loadings, plus the variance the dropped components leave (measured on the design).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel


@dataclass
class Emulator:
    """Emulated outputs y(x) for inputs x in a box; `fit` builds it, `predict` evaluates it.

    Attributes:
        lo: lower bounds of the inputs (the box the inputs are scaled by).
        hi: upper bounds of the inputs.
        centre: mean of each output on the design.
        scale: scale each output is divided by before the principal components.
        loadings: (components × outputs) principal directions, in standardised units.
        comp_sd: sd of each component's scores on the design (the GPs see unit-sd scores).
        gps: one fitted GP per component.
        resid_var: per output, variance left by the dropped components (standardised units).
    """

    lo: np.ndarray
    hi: np.ndarray
    centre: np.ndarray
    scale: np.ndarray
    loadings: np.ndarray
    comp_sd: np.ndarray
    gps: list
    resid_var: np.ndarray

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        scale: np.ndarray | None = None,
        *,
        max_components: int = 10,
        explained: float = 0.999,
        seed: int = 0,
    ) -> Emulator:
        """Fit on design inputs `x` (n × d) and outputs `y` (n × k).

        Args:
            x: design inputs, one row per simulated parameter vector (n × d).
            y: simulated outputs at those inputs (n × k), e.g. shares at each target.
            lo: lower input bounds (d,); inputs are scaled to [0, 1] with `lo`, `hi`.
            hi: upper input bounds (d,).
            scale: per-output scale (e.g. each target's standard error), so that the components
                are chosen by what matters for the likelihood; default: the outputs' sd.
            max_components: at most this many principal components.
            explained: keep components until this share of the standardised variance.
            seed: seed of the GP optimiser's restarts.
        """
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        centre = y.mean(axis=0)
        if scale is None:
            scale = y.std(axis=0)
        scale = np.where(np.asarray(scale) > 0, scale, 1.0)
        z = (y - centre) / scale
        _u, s, vt = np.linalg.svd(z, full_matrices=False)
        share = np.cumsum(s**2) / max(np.sum(s**2), 1e-300)
        q = int(min(max_components, np.searchsorted(share, explained) + 1, len(s)))
        loadings = vt[:q]
        scores = z @ loadings.T
        comp_sd = scores.std(axis=0)
        comp_sd = np.where(comp_sd > 0, comp_sd, 1.0)
        resid = z - scores @ loadings
        resid_var = (resid**2).mean(axis=0)
        u = (x - lo) / (hi - lo)
        d = x.shape[1]
        gps = []
        for j in range(q):
            kernel = ConstantKernel(1.0, (1e-2, 1e2)) * RBF(
                np.full(d, 0.5), (1e-2, 1e2)
            ) + WhiteKernel(1e-2, (1e-6, 1.0))
            gp = GaussianProcessRegressor(
                kernel, normalize_y=False, n_restarts_optimizer=0, random_state=seed + j
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                gp.fit(u, scores[:, j] / comp_sd[j])
            gps.append(_FastGP.of(gp))
        return cls(lo, hi, centre, scale, loadings, comp_sd, gps, resid_var)

    @property
    def components(self) -> int:
        """Number of principal components kept."""
        return len(self.gps)

    def noise_var(self) -> np.ndarray:
        """Per component, the fitted white-noise variance (simulation noise, unit-sd scores)."""
        return np.array([gp.noise for gp in self.gps])

    def predict(
        self, x: np.ndarray, *, cov: bool = True, include_noise: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Emulated outputs at inputs `x` (m × d).

        Args:
            x: inputs to emulate at (m × d, or one vector of length d).
            cov: also return the predictive covariance of the outputs (m × k × k).
            include_noise: add the simulation noise of one design evaluation (for checking the
                emulator against new simulations); without it the covariance is the
                emulator's uncertainty about the mean output only.

        Returns:
            (mean (m × k), covariance (m × k × k) or None).
        """
        x = np.atleast_2d(np.asarray(x, float))
        u = (x - self.lo) / (self.hi - self.lo)
        m = x.shape[0]
        q = self.components
        means = np.empty((m, q))
        vars_ = np.empty((m, q))
        for j, gp in enumerate(self.gps):
            mu, v = gp.predict(u, cov)
            if cov:
                vars_[:, j] = (v + gp.noise if include_noise else v) * self.comp_sd[j] ** 2
            means[:, j] = mu * self.comp_sd[j]
        mean = self.centre + (means @ self.loadings) * self.scale
        if not cov:
            return mean, None
        # Σ = S Lᵀ diag(v) L S + S diag(resid) S, with S the output scales.
        scaled = self.loadings * self.scale  # q × k
        c = (scaled.T[None, :, :] * vars_[:, None, :]) @ scaled
        c += np.diag(self.resid_var * self.scale**2)
        return mean, c


@dataclass
class _FastGP:
    """A fitted scikit-learn GP (constant × anisotropic RBF + white noise) reduced to arrays.

    The MCMC calls the emulator hundreds of thousands of times on small batches, where
    scikit-learn's input validation and per-call triangular solve dominate; with the inverse
    Cholesky factor precomputed, prediction is two matrix products. Tested against
    `GaussianProcessRegressor.predict` (tests/test_calibrate.py).
    """

    x: np.ndarray  # training inputs divided by the length scales
    ls: np.ndarray
    amplitude: float
    noise: float
    alpha: np.ndarray
    l_inv: np.ndarray

    @classmethod
    def of(cls, gp: GaussianProcessRegressor) -> _FastGP:
        k = gp.kernel_
        amp, rbf, white = k.k1.k1.constant_value, k.k1.k2, k.k2
        ls = np.broadcast_to(np.asarray(rbf.length_scale, float), (gp.X_train_.shape[1],))
        l_inv = np.linalg.inv(gp.L_)
        return cls(
            gp.X_train_ / ls,
            ls.copy(),
            float(amp),
            float(white.noise_level),
            gp.alpha_.ravel(),
            l_inv,
        )

    def predict(self, u: np.ndarray, var: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """(mean, latent variance without the white noise) at inputs `u` (m × d)."""
        z = u / self.ls
        d2 = (z**2).sum(1)[:, None] + (self.x**2).sum(1)[None, :] - 2 * z @ self.x.T
        k = self.amplitude * np.exp(-0.5 * np.maximum(d2, 0.0))
        mean = k @ self.alpha
        if not var:
            return mean, None
        v = self.l_inv @ k.T
        return mean, np.maximum(self.amplitude - (v**2).sum(0), 1e-10)
