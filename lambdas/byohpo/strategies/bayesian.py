"""Bayesian optimization: a Gaussian-process surrogate (``_gp``), log expected improvement maximized
over the mixed space (``_acquisition``), whole batches chosen by the kriging believer.

The GP sees each point through :class:`~byohpo.strategies._encoding.Encoding` (categories one-hot,
so that every two values of a categorical are equally far apart); the acquisition's search moves
discrete parameters between their values, never rounds a continuous optimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import qmc, yeojohnson
from threadpoolctl import threadpool_limits

from byohpo.errors import SearchExhausted
from byohpo.space import SearchSpace
from byohpo.strategies._acquisition import AcquisitionOptimizer
from byohpo.strategies._encoding import Encoding
from byohpo.strategies._gp import GaussianProcess
from byohpo.strategies.base import Strategy, check_int, generation_size
from byohpo.trials import Candidate, Objective, Trial

#: Largest ``n_initial``: a design longer than any budget is Sobol search, under another name.
MAX_INITIAL = 10_000
# The GP costs O(n^3) per likelihood step: past this many completed trials it sees the best half of
# them and an even spread of the rest. Measured with tests/benchmarks/propose_latency.py --clock cpu
# (11 parameters, 10 per propose, one BLAS thread, a loaded 2-core machine): 0.87 s at 100 trials,
# 0.96 s at 200, 0.99 s at 1,000 (240 GP points).
_MAX_GP_POINTS = 240


def _warp(y: np.ndarray) -> np.ndarray:
    """Standardized scores after a fitted Yeo-Johnson power transform (as HEBO does): a loss spanning
    orders of magnitude (Rosenbrock's, a diverged training run's) would otherwise flatten the GP
    everywhere but at its worst points. Measured: mean normalized regret 0.16 -> 0.11 on the suite."""
    z = y - y.mean()
    z /= np.abs(z).max()  # first, so that the variance of tiny scores cannot underflow
    z /= z.std()
    with np.errstate(all="ignore"):
        w = yeojohnson(z)[0]
    if not np.isfinite(w).all() or np.ptp(w) <= 1e-12 * np.abs(w).max():
        w = z
    return (w - w.mean()) / w.std()


class BayesianOptimization(Strategy):
    """Gaussian-process Bayesian optimization with log expected improvement.

    Args:
        n_initial: trials of the quasi-random (scrambled Sobol) design before the GP takes over;
            default ``dims + 1``, at least 10 (Optuna's GPSampler's and TPE's default), at most
            10,000. A propose may mix the design's last points with GP points.

    The GP is a Matérn 5/2 kernel with one length scale per parameter, fitted by maximizing the
    marginal likelihood; its inputs are the unit cube (a categorical one-hot) and its targets the
    scores, power-transformed (Yeo-Johnson) and standardized. A trial without a score (failed,
    stopped, metric missing) enters the fit with the worst score seen, so the GP learns where training
    fails (left out, 9 in 10 proposals after the design fell in a failure region); no point is
    proposed twice. Log EI is maximized by a local search that moves categories and integers between
    their values and continuous parameters by L-BFGS-B (``_acquisition``).
    A batch of ``n`` is chosen one point at a time, each chosen point entering the GP at its
    predicted value (kriging believer). All randomness comes from ``(seed, len(history))``.
    A small, fully discrete space is searched exhaustively; once every point has been tried,
    ``propose`` returns fewer candidates and then raises :class:`~byohpo.errors.SearchExhausted`.
    """

    description = "Gaussian-process Bayesian optimization (Matérn 5/2, log EI, kriging-believer batches)."
    max_objectives = 1

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 n_initial: int | None = None) -> None:
        super().__init__(space, objectives, seed=seed)
        # At least 10: with 5, the design saw each value of a categorical once or twice, and the GP
        # settled in the first good category (hartmann3_mixed: in a worse variant than the optimum's
        # in 6 of 10 seeds); categorical5 0.103 -> 0.000, hartmann3_mixed 0.299 -> 0.033 (seeds 0-9).
        self.n_initial = (max(space.dims + 1, 10) if n_initial is None
                          else check_int("n_initial", n_initial, 1, MAX_INITIAL))
        self.encoding = Encoding(space)

    def propose(self, history: Sequence[Trial], n: int) -> list[Candidate]:
        # The GP's matrices are small: BLAS threads only contend for the cores (a 200x200 Cholesky
        # ran 100x slower on a busy 2-core machine), and one fixed thread count keeps the floating-point
        # results, hence the proposals, identical in every process.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._propose(history, n)

    def _propose(self, history: Sequence[Trial], n: int) -> list[Candidate]:
        enc = self.encoding
        rng = np.random.default_rng([self.seed % 2**64, len(history)])
        taken: set[tuple] = set()
        xs: list[list[float]] = []
        ys: list[float | None] = []
        for trial in history:
            try:
                key = enc.key(trial.params)
                u = self.space.encode(trial.params)
            except (KeyError, ValueError, TypeError):
                continue  # a trial from another space: nothing to learn from it
            taken.add(key)
            xs.append(u)
            ys.append(self.score(trial))
        scored = [y for y in ys if y is not None]
        if scored:  # a trial without a value (failed, stopped) counts as the worst one seen
            ys = [min(scored) if y is None else y for y in ys]
        else:
            xs, ys = [], []
        pool = enc.enumerate()
        if pool is not None:
            pool = np.array([u for u in pool if self._key(u) not in taken]).reshape(-1, self.space.dims)
            if not len(pool):
                raise SearchExhausted(f"all {math.prod(p.size for p in self.space.params)} points of the "
                                      "search space have been tried")
        size = generation_size(n) if pool is None else min(generation_size(n), len(pool))
        n_design = min(size, max(0, self.n_initial - len(history)))
        modelable = len(ys) >= 2 and np.ptp(ys) > 0
        if not modelable:
            n_design = size  # nothing to model yet (or every trial failed): keep exploring
        chosen = self._design(len(history), n_design, taken, pool, rng)
        sources = ["design"] * len(chosen)
        if len(chosen) < size and modelable:
            picked = self._bayes(np.array(xs), np.array(ys), chosen, size - len(chosen), taken, pool, rng)
            chosen += picked
            sources += ["gp"] * len(picked)
        if not chosen:  # a large discrete space so nearly full that no sampled point was free
            raise SearchExhausted("no untried point found in the search space")
        return [Candidate(self.space.decode(u), {"index": len(history) + i, "source": s})
                for i, (u, s) in enumerate(zip(chosen, sources, strict=True))]

    def _key(self, u: np.ndarray) -> tuple:
        return self.encoding.key(self.space.decode(u))

    def _take(self, u: np.ndarray, taken: set[tuple]) -> bool:
        key = self._key(u)
        if key in taken:
            return False
        taken.add(key)
        return True

    def _design(self, start: int, count: int, taken: set[tuple], pool: np.ndarray | None,
                rng: np.random.Generator) -> list[np.ndarray]:
        """The next ``count`` untried points of the seed's scrambled Sobol sequence."""
        if count == 0:
            return []
        sobol = qmc.Sobol(self.space.dims, seed=np.random.default_rng(
            np.random.SeedSequence(self.seed % 2**64, spawn_key=(1,))))
        # Whole power-of-two blocks keep Sobol's balance (and scipy quiet); slicing keeps its order.
        block = sobol.random_base2(max(1, math.ceil(math.log2(start + 4 * count))))
        points = list(self.encoding.snap(block[start:]))
        if pool is not None:  # a tiny space may have fewer free Sobol cells than needed
            points += list(pool[rng.permutation(len(pool))])
        out: list[np.ndarray] = []
        for u in points:
            if len(out) == count:
                break
            if self._take(u, taken):
                out.append(u)
        return out

    def _bayes(self, x: np.ndarray, y: np.ndarray, pending: list[np.ndarray], count: int,
               taken: set[tuple], pool: np.ndarray | None, rng: np.random.Generator) -> list[np.ndarray]:
        enc = self.encoding
        if len(y) > _MAX_GP_POINTS:
            order = np.argsort(-y, kind="stable")
            rest = np.sort(order[_MAX_GP_POINTS // 2:])
            keep = np.concatenate([order[: _MAX_GP_POINTS // 2],
                                   rest[np.linspace(0, len(rest) - 1, _MAX_GP_POINTS // 2).astype(int)]])
            x, y = x[keep], y[keep]
        y = _warp(y)
        gp = GaussianProcess(enc.features(x), y, enc.groups, categorical=enc.categorical)
        best = float(y.max())
        if pending:
            f = enc.features(np.array(pending))
            gp = gp.conditioned(f, gp.predict(f)[0])
        optimizer = AcquisitionOptimizer(enc, x[np.argsort(-y, kind="stable")[:5]], rng, pool)
        out: list[np.ndarray] = []
        for _ in range(count):
            u = optimizer.maximize(gp, best, lambda u: self._take(u, taken))
            if u is None:
                break
            out.append(u)
            f = enc.features(u[None, :])
            mean = gp.predict(f)[0]
            gp = gp.conditioned(f, mean)
            best = max(best, float(mean[0]))
        return out
