"""Bayesian optimization: a Gaussian-process surrogate (``_gp``) and log expected improvement, with
whole batches chosen by the kriging believer.

The GP sees each point through :class:`_Encoding`: continuous and integer parameters as their
unit-cube coordinate (so each range's scaling holds), integers snapped to the centre of the cell they
decode to, and categoricals one-hot with one shared length scale. The acquisition is therefore
evaluated exactly where a candidate will be evaluated, and two points that decode to the same
parameters are recognized as the same point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.stats import qmc, yeojohnson
from threadpoolctl import threadpool_limits

from byohpo.errors import SearchExhausted
from byohpo.space import Categorical, Continuous, Integer, SearchSpace
from byohpo.strategies._gp import GaussianProcess, log_ei
from byohpo.strategies.base import Strategy, check_int, generation_size
from byohpo.trials import Candidate, Objective, ParamValue, Trial

_POOL_SOBOL = 10  # 2**10 quasi-random candidates for the acquisition's global search
_LOCAL_PER_POINT = 128  # perturbations around each of the best observed points
_N_LOCAL_STARTS = 5  # L-BFGS-B refinements of the acquisition per batch member
#: Largest ``n_initial``: a design longer than any budget is Sobol search, under another name.
MAX_INITIAL = 10_000
_MAX_ENUMERATED = 4096  # a fully discrete space up to this size is searched exhaustively
# The GP costs O(n^3) per likelihood step: past this many completed trials it sees the best half of
# them and an even spread of the rest (0.4 s per propose at 200 trials, one core).
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


class _Encoding:
    """Unit-cube points (one coordinate per parameter) <-> GP features, snapping and identity keys."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.params = space.params
        self.continuous = np.array([isinstance(p, Continuous) for p in self.params])
        self.categorical = np.array([isinstance(p, Categorical) for p in self.params])
        self.groups: list[int] = []
        self.columns: list[int] = []  # first feature column of each parameter
        for i, p in enumerate(self.params):
            self.columns.append(len(self.groups))
            self.groups += [i] * (p.size if isinstance(p, Categorical) else 1)

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Move every discrete coordinate to the centre of the cell it decodes to."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        out = u.copy()
        for i, p in enumerate(self.params):
            if isinstance(p, Categorical):
                out[:, i] = (np.minimum(np.floor(u[:, i] * p.size), p.size - 1) + 0.5) / p.size
            elif isinstance(p, Integer) and p.scaling == "Logarithmic":
                lo, hi = math.log(p.low), math.log(p.high + 1)
                v = np.clip(np.floor(np.exp(lo + u[:, i] * (hi - lo))), p.low, p.high)
                out[:, i] = (np.log(v + 0.5) - lo) / (hi - lo)
            elif isinstance(p, Integer):
                v = np.clip(np.floor(p.low + u[:, i] * p.size), p.low, p.high)
                out[:, i] = (v - p.low + 0.5) / p.size
        return out

    def features(self, u: np.ndarray) -> np.ndarray:
        f = np.zeros((len(u), len(self.groups)))
        for i, p in enumerate(self.params):
            c = self.columns[i]
            if isinstance(p, Categorical):
                index = np.minimum(np.floor(u[:, i] * p.size), p.size - 1).astype(int)
                f[np.arange(len(u)), c + index] = 1.0
            else:
                f[:, c] = u[:, i]
        return f

    def key(self, params: dict[str, ParamValue]) -> tuple:
        """Identity of a parameter set, stable across a JSON round trip (3 and 3.0 are one value)."""
        return tuple(str(params[p.name]) if isinstance(p, Categorical)
                     else int(params[p.name]) if isinstance(p, Integer) else float(params[p.name])
                     for p in self.params)

    def enumerate(self) -> np.ndarray | None:
        """Every point of a small, fully discrete space (cell centres), else None."""
        if self.continuous.any() or math.prod(p.size for p in self.params) > _MAX_ENUMERATED:
            return None
        axes = [(np.arange(p.size) + 0.5) / p.size if isinstance(p, Categorical)
                else np.array([p.to_unit(v) for v in range(p.low, p.high + 1)]) for p in self.params]
        return np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)


class BayesianOptimization(Strategy):
    """Gaussian-process Bayesian optimization with log expected improvement.

    Args:
        n_initial: trials of the quasi-random (scrambled Sobol) design before the GP takes over;
            default ``dims + 1`` (at least 5), at most 10,000. A propose may mix the design's last points
            with GP points.

    The GP is a Matérn 5/2 kernel with one length scale per parameter, fitted by maximizing the
    marginal likelihood; its inputs are the unit cube and its targets the scores of completed trials,
    power-transformed (Yeo-Johnson) and standardized. Failed and stopped trials stay out of the fit
    but are never proposed again.
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
        self.n_initial = (max(space.dims + 1, 5) if n_initial is None
                          else check_int("n_initial", n_initial, 1, MAX_INITIAL))
        self.encoding = _Encoding(space)

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
        ys: list[float] = []
        for trial in history:
            try:
                key = enc.key(trial.params)
                u = self.space.encode(trial.params)
            except (KeyError, ValueError, TypeError):
                continue  # a trial from another space: nothing to learn from it
            taken.add(key)
            score = self.score(trial)
            if score is not None:
                xs.append(u)
                ys.append(score)
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
        gp = GaussianProcess(enc.features(x), y, enc.groups)
        best = float(y.max())
        if pending:
            f = enc.features(np.array(pending))
            gp = gp.conditioned(f, gp.predict(f)[0])
        if pool is None:
            pool = self._candidates(x[np.argsort(-y, kind="stable")[:5]], rng)
        out: list[np.ndarray] = []
        for _ in range(count):
            u = self._maximize(gp, best, pool, taken)
            if u is None:
                break
            out.append(u)
            f = enc.features(u[None, :])
            mean = gp.predict(f)[0]
            gp = gp.conditioned(f, mean)
            best = max(best, float(mean[0]))
        return out

    def _candidates(self, incumbents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Quasi-random points everywhere plus perturbations of the best points, snapped."""
        d = self.space.dims
        glob = qmc.Sobol(d, seed=rng).random_base2(_POOL_SOBOL)
        local = np.repeat(incumbents, _LOCAL_PER_POINT, axis=0)
        scale = np.exp(rng.uniform(math.log(0.005), math.log(0.3), size=(len(local), 1)))
        local = local + rng.normal(size=local.shape) * scale
        cat = self.encoding.categorical
        flip = (rng.random(local.shape) < 1.0 / d) & cat
        local[flip] = rng.random(int(flip.sum()))
        return self.encoding.snap(np.vstack([glob, local]))

    def _maximize(self, gp: GaussianProcess, best: float, pool: np.ndarray, taken: set[tuple]
                  ) -> np.ndarray | None:
        """The untried point of highest log EI: the best of the pool, refined by L-BFGS-B along the
        continuous coordinates (discrete ones stay on their cell centres)."""
        enc = self.encoding
        values = log_ei(*gp.predict(enc.features(pool)), best)[0]
        order = np.argsort(-values, kind="stable")
        cont = np.flatnonzero(enc.continuous)
        if len(cont) and len(pool) > _N_LOCAL_STARTS:
            starts = pool[order[:_N_LOCAL_STARTS]]
            refined = self._refine(gp, best, starts, cont)
            pool = np.vstack([refined, pool])
            values = np.concatenate([log_ei(*gp.predict(enc.features(refined)), best)[0], values])
            order = np.argsort(-values, kind="stable")
        for i in order:
            if self._take(pool[i], taken):
                return pool[i]
        return None

    def _refine(self, gp: GaussianProcess, best: float, starts: np.ndarray, cont: np.ndarray
                ) -> np.ndarray:
        enc = self.encoding
        columns = np.array(enc.columns)[cont]

        def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
            u = starts.copy()
            u[:, cont] = z.reshape(len(starts), len(cont))
            mean, var, dmean, dvar = gp.predict_grad(enc.features(u))
            value, d_mean, d_var = log_ei(mean, var, best)
            grad = d_mean[:, None] * dmean + d_var[:, None] * dvar
            return -float(value.sum()), -grad[:, columns].ravel()

        res = minimize(objective, starts[:, cont].ravel(), jac=True, method="L-BFGS-B",
                       bounds=[(0.0, 1.0)] * (len(starts) * len(cont)), options={"maxiter": 100})
        out = starts.copy()
        out[:, cont] = np.clip(res.x.reshape(len(starts), len(cont)), 0.0, 1.0)
        return out
