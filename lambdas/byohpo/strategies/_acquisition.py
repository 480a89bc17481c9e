"""Maximizing log expected improvement over a mixed space, for the Bayesian strategy.

A global, quasi-random pool (scrambled Sobol points) and perturbations of the best observed points
give the starts; each of the best starts is then improved by a local search that alternates
L-BFGS-B along the continuous coordinates (discrete ones held on their cell centres) with an
exhaustive search of each discrete parameter's choices (every category, every value of a small
integer range; see :meth:`Encoding.choices`), one parameter at a time, until a round gains less than
``MIN_GAIN``. A batch's later members start from the earlier members' local optima.
Rounding a continuous optimum would miss the categorical and integer optima, which are where EI
is highest between cells (as Optuna's GPSampler argues for its own mixed local search).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize
from scipy.stats import qmc

from byohpo.strategies._encoding import Encoding
from byohpo.strategies._gp import GaussianProcess, log_ei

POOL_SOBOL = 10  # 2**10 quasi-random points for the global search
LOCAL_PER_POINT = 128  # perturbations around each incumbent
N_STARTS = 8  # local searches per batch member
MAX_ROUNDS = 8  # continuous / discrete alternations of one local search
MIN_GAIN = 1e-3  # a round that raised log EI less (EI by 0.1%) ends a local search
FTOL = 1e-7  # L-BFGS-B's relative tolerance (default 2.2e-9): its last steps gained ~1e-6 in log EI


class AcquisitionOptimizer:
    """The untried point of highest log EI, for a GP and an incumbent value (see the module docstring).

    Args:
        encoding: the space's encoding.
        incumbents: the best observed points (unit cube), around which the pool is densest.
        rng: the propose's generator (the pool is drawn once per propose).
        pool: a small discrete space's every untried point, searched exhaustively instead.
    """

    def __init__(self, encoding: Encoding, incumbents: np.ndarray, rng: np.random.Generator,
                 pool: np.ndarray | None = None) -> None:
        self.encoding = encoding
        self.exhaustive = pool is not None
        self.pool = pool if pool is not None else self._pool(incumbents, rng)
        self.continuous = np.flatnonzero(encoding.continuous)
        self.discrete = np.flatnonzero(~encoding.continuous)
        self._found = np.empty((0, encoding.space.dims))  # the last call's local optima
        self._started = np.zeros(len(self.pool), dtype=bool)  # pool points a local search began from

    def _pool(self, incumbents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        d = self.encoding.space.dims
        glob = qmc.Sobol(d, seed=rng).random_base2(POOL_SOBOL)
        local = np.repeat(incumbents, LOCAL_PER_POINT, axis=0)
        scale = np.exp(rng.uniform(math.log(0.005), math.log(0.3), size=(len(local), 1)))
        local = local + rng.normal(size=local.shape) * scale
        flip = (rng.random(local.shape) < 1.0 / d) & self.encoding.categorical
        local[flip] = rng.random(int(flip.sum()))
        return self.encoding.snap(np.vstack([glob, local]))

    def value(self, gp: GaussianProcess, best: float, u: np.ndarray) -> np.ndarray:
        return log_ei(*gp.predict(self.encoding.features(u)), best)[0]

    def maximize(self, gp: GaussianProcess, best: float, is_new: callable) -> np.ndarray | None:
        """The point of highest log EI for which ``is_new(u)`` holds (it marks the point taken).

        Called once per batch member: the previous call's local optima stand for the pool points they
        started from. The kriging believer changes the acquisition near the point it chose and little
        elsewhere, so the same starts would climb again to the same optima (8 full local searches per
        member were 2/3 of a propose at 200 trials); from their optima the search takes a few steps.
        """
        values = self.value(gp, best, self.pool)
        candidates, scores = self.pool, values
        if not self.exhaustive:
            fresh = np.flatnonzero(~self._started)
            previous = self.value(gp, best, self._found) if len(self._found) else np.empty(0)
            start_x = np.vstack([self._found, self.pool[fresh]])
            start_f = np.concatenate([previous, values[fresh]])
            pick = np.argsort(-start_f, kind="stable")[:N_STARTS]
            self._started[fresh[pick[pick >= len(self._found)] - len(self._found)]] = True
            found, found_values = self._local_search(gp, best, start_x[pick], start_f[pick])
            # Starts that climbed to one optimum are one start next time.
            self._found = found[np.sort(np.unique(found.round(9), axis=0, return_index=True)[1])]
            candidates = np.vstack([found, self.pool])
            scores = np.concatenate([found_values, values])
        order = np.argsort(-scores, kind="stable")
        for i in order:
            if is_new(candidates[i]):
                return candidates[i]
        return None

    # -- local search ---------------------------------------------------------------------------
    def _local_search(self, gp: GaussianProcess, best: float, x: np.ndarray, f: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        x, f = x.copy(), f.copy()
        # A start that a round improved by less than MIN_GAIN is at a fixed point of the search: later
        # rounds work on the others only (half the acquisition's time at 100 trials went to fixed
        # points, and at 200 trials most rounds after the first gained less than 1e-4 in log EI).
        active = np.arange(len(x))
        for _ in range(MAX_ROUNDS):
            xa, fa = x[active], f[active]
            before = fa.copy()
            if len(self.continuous):
                refined = self._continuous(gp, best, xa)
                values = self.value(gp, best, refined)
                better = values > fa
                xa[better], fa[better] = refined[better], values[better]
            for i in self.discrete:
                xa, fa = self._discrete(gp, best, xa, fa, i)
            x[active], f[active] = xa, fa
            active = active[fa - before > MIN_GAIN]
            if not len(active):
                break
        return x, f

    def _discrete(self, gp: GaussianProcess, best: float, x: np.ndarray, f: np.ndarray, i: int
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Each row moved to its best choice of parameter ``i``, when that improves it."""
        choices = [self.encoding.choices(i, row[i]) for row in x]
        variants = np.repeat(x, [len(c) for c in choices], axis=0)
        variants[:, i] = np.concatenate(choices)
        values = self.value(gp, best, variants)
        start = 0
        for row, c in enumerate(choices):
            k = start + int(np.argmax(values[start:start + len(c)]))
            if values[k] > f[row]:
                x[row], f[row] = variants[k], values[k]
            start += len(c)
        return x, f

    def _continuous(self, gp: GaussianProcess, best: float, starts: np.ndarray) -> np.ndarray:
        """L-BFGS-B along the continuous coordinates of every start at once (their sum is separable)."""
        enc, cont = self.encoding, self.continuous
        columns = np.array(enc.columns)[cont]

        def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
            u = starts.copy()
            u[:, cont] = z.reshape(len(starts), len(cont))
            mean, var, dmean, dvar = gp.predict_grad(enc.features(u))
            value, d_mean, d_var = log_ei(mean, var, best)
            grad = d_mean[:, None] * dmean + d_var[:, None] * dvar
            return -float(value.sum()), -grad[:, columns].ravel()

        res = minimize(objective, starts[:, cont].ravel(), jac=True, method="L-BFGS-B",
                       bounds=[(0.0, 1.0)] * (len(starts) * len(cont)),
                       options={"maxiter": 100, "ftol": FTOL})
        out = starts.copy()
        out[:, cont] = np.clip(res.x.reshape(len(starts), len(cont)), 0.0, 1.0)
        return out
