"""Benchmark problems with known optima, each a SageMaker ``ParameterRanges`` dict and a loss to minimize.

Analytic functions (2 to 8 dimensions, optima from the literature or by construction), mixed
integer/categorical problems built from them so that the optimum stays known, and two scikit-learn
tuning tasks on bundled datasets. For those the loss is ``1 - cross-validated accuracy`` (3 folds,
deterministic) and the "optimum" is in ``REFERENCE``: a dense Sobol search for the 2-d SVC
(``python -m tests.benchmarks.problems --reference NAME``), the best value ever observed across the
suite's runs for the 6-d forest. The benchmark uses the lower of it and the best value any run of the
invocation observed, and says so.

Boxes: Ackley's is shifted from the usual symmetric one so that its optimum is not the cube's centre.
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Problem:
    name: str
    ranges: dict[str, Any]
    loss: Callable[[dict[str, Any]], float]
    optimum: float
    note: str = "analytic"


def _cont(name: str, low: float, high: float, scaling: str = "Linear") -> dict[str, str]:
    return {"Name": name, "MinValue": repr(low), "MaxValue": repr(high), "ScalingType": scaling}


def _int(name: str, low: int, high: int, scaling: str = "Linear") -> dict[str, str]:
    return {"Name": name, "MinValue": str(low), "MaxValue": str(high), "ScalingType": scaling}


def _ranges(cont=(), ints=(), cats=()) -> dict[str, Any]:
    return {"ContinuousParameterRanges": list(cont), "IntegerParameterRanges": list(ints),
            "CategoricalParameterRanges": [{"Name": n, "Values": list(v)} for n, v in cats]}


def _x(params: dict[str, Any], names: list[str]) -> np.ndarray:
    return np.array([float(params[n]) for n in names])


# -- analytic functions ---------------------------------------------------------------------------

def branin(x: np.ndarray) -> float:
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
    return float(a * (x[1] - b * x[0] ** 2 + c * x[0] - 6) ** 2
                 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x[0]) + 10)


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
                  [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def hartmann(x: np.ndarray) -> float:
    a, p = (_H3_A, _H3_P) if len(x) == 3 else (_H6_A, _H6_P)
    return float(-(_H_ALPHA * np.exp(-(a * (x - p) ** 2).sum(1))).sum())


def rosenbrock(x: np.ndarray) -> float:
    return float((100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())


def ackley(x: np.ndarray) -> float:
    return float(-20 * math.exp(-0.2 * math.sqrt((x**2).mean())) - math.exp(np.cos(2 * math.pi * x).mean())
                 + 20 + math.e)


def levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    return float(math.sin(math.pi * w[0]) ** 2
                 + ((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2)).sum()
                 + (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2))


def _box(fn: Callable[[np.ndarray], float], names: list[str]) -> Callable[[dict[str, Any]], float]:
    return lambda params: fn(_x(params, names))


def _names(prefix: str, d: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(1, d + 1)]


def _hartmann3_mixed(params: dict[str, Any]) -> float:
    """Hartmann-3 whose categorical ``variant`` mirrors or scales it and whose log-scaled integer
    ``k`` scales it: the optimum is Hartmann-3's, at variant a and k = 8."""
    x = _x(params, ["x1", "x2", "x3"])
    variant = params["variant"]
    if variant == "mirrored":
        x = 1 - x
    scale = {"a": 1.0, "mirrored": 0.9, "damped": 0.75}[variant]
    return hartmann(x) * scale / (1 + 0.15 * abs(math.log2(params["k"] / 8)))


# -- scikit-learn tasks ---------------------------------------------------------------------------

@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


def _cv_error(model: Any) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x, y = _digits()
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    return 1.0 - float(cross_val_score(model, x, y, cv=folds).mean())


def cached(fn: Callable[[dict[str, Any]], float]) -> Callable[[dict[str, Any]], float]:
    """Memoize on the exact parameter values (an integer/categorical search revisits points)."""
    memo: dict[tuple, float] = {}

    def wrapper(params: dict[str, Any]) -> float:
        key = tuple(sorted((k, repr(v)) for k, v in params.items()))
        if key not in memo:
            memo[key] = fn(params)
        return memo[key]

    return wrapper


@cached
def svc_digits(params: dict[str, Any]) -> float:
    from sklearn.svm import SVC

    return _cv_error(SVC(C=params["C"], gamma=params["gamma"]))


@cached
def forest_digits(params: dict[str, Any]) -> float:
    from sklearn.ensemble import RandomForestClassifier

    return _cv_error(RandomForestClassifier(
        n_estimators=params["n_estimators"], max_depth=params["max_depth"],
        min_samples_leaf=params["min_samples_leaf"], max_features=params["max_features"],
        criterion=params["criterion"], bootstrap=params["bootstrap"] == "true", random_state=0, n_jobs=1))


# Dense reference searches (python -m tests.benchmarks.problems --reference NAME), scikit-learn 1.9.
REFERENCE = {
    # 1024 Sobol points over the whole box gave 0.00779; 2048 more in C 0.5..1000, gamma 1e-4..3e-3:
    "svc_digits": (0.0072342793544796224, "reference: dense Sobol search (C 2.374, gamma 5.14e-4)"),
    # 2048 Sobol points gave 0.02170, 2048 more in the best region 0.02115: a 6-d dense search cannot
    # compete with 600 guided evaluations, so this is the best value ever observed in the suite
    # (bayesian, seed 1: max_features 0.1033, n_estimators 50, max_depth 18, min_samples_leaf 1, gini,
    # no bootstrap).
    "forest_digits": (0.02003338898163609, "best ever observed across all runs"),
}


PROBLEMS: dict[str, Problem] = {p.name: p for p in [
    Problem("branin", _ranges([_cont("x1", -5.0, 10.0), _cont("x2", 0.0, 15.0)]),
            _box(branin, ["x1", "x2"]), 0.39788735772973816),
    Problem("hartmann3", _ranges([_cont(n, 0.0, 1.0) for n in _names("x", 3)]),
            _box(hartmann, _names("x", 3)), -3.862779787332663),
    Problem("hartmann6", _ranges([_cont(n, 0.0, 1.0) for n in _names("x", 6)]),
            _box(hartmann, _names("x", 6)), -3.3223680114155147),
    Problem("rosenbrock4", _ranges([_cont(n, -5.0, 10.0) for n in _names("x", 4)]),
            _box(rosenbrock, _names("x", 4)), 0.0),
    Problem("ackley5", _ranges([_cont(n, -15.0, 30.0) for n in _names("x", 5)]),
            _box(ackley, _names("x", 5)), 0.0),
    Problem("levy8", _ranges([_cont(n, -10.0, 10.0) for n in _names("x", 8)]),
            _box(levy, _names("x", 8)), 0.0),
    Problem("rosenbrock4_int", _ranges([_cont(n, -5.0, 10.0) for n in ("x1", "x2")],
                                       [_int(n, -5, 10) for n in ("x3", "x4")]),
            _box(rosenbrock, _names("x", 4)), 0.0, "analytic: optimum (1, 1, 1, 1) is on the integer grid"),
    Problem("levy6_int", _ranges([_cont(n, -10.0, 10.0) for n in _names("x", 3)],
                                 [_int(n, -10, 10) for n in ("x4", "x5", "x6")]),
            _box(levy, _names("x", 6)), 0.0, "analytic: optimum (1, ..., 1) is on the integer grid"),
    Problem("hartmann3_mixed", _ranges([_cont(n, 0.0, 1.0) for n in _names("x", 3)],
                                       [_int("k", 1, 64, "Logarithmic")],
                                       [("variant", ["damped", "mirrored", "a"])]),
            _hartmann3_mixed, -3.862779787332663, "by construction: Hartmann-3's optimum at variant a, k=8"),
    Problem("svc_digits", _ranges([_cont("C", 1e-3, 1e3, "Logarithmic"),
                                   _cont("gamma", 1e-5, 1.0, "Logarithmic")]),
            svc_digits, *REFERENCE["svc_digits"]),
    Problem("forest_digits", _ranges(
        [_cont("max_features", 0.02, 1.0, "Logarithmic")],
        [_int("n_estimators", 5, 50, "Logarithmic"), _int("max_depth", 2, 24),
         _int("min_samples_leaf", 1, 16, "Logarithmic")],
        [("criterion", ["gini", "entropy", "log_loss"]), ("bootstrap", ["true", "false"])]),
            forest_digits, *REFERENCE["forest_digits"]),
]}


def reference(name: str, points: int, narrow: dict[str, tuple[str, str]] | None = None
              ) -> tuple[float, dict[str, Any]]:
    """The best of ``points`` scrambled-Sobol points of the problem's space (a dense search),
    optionally in a box narrowed to where earlier searches found the best values."""
    from scipy.stats import qmc

    import byohpo

    problem = PROBLEMS[name]
    ranges = {kind: [dict(r) for r in rs] for kind, rs in problem.ranges.items()}
    for r in ranges["ContinuousParameterRanges"] + ranges["IntegerParameterRanges"]:
        if r["Name"] in (narrow or {}):
            r["MinValue"], r["MaxValue"] = narrow[r["Name"]]
    space = byohpo.SearchSpace.from_sagemaker(ranges)
    block = qmc.Sobol(space.dims, seed=0).random_base2(math.ceil(math.log2(points)))
    best: tuple[float, dict[str, Any]] = (math.inf, {})
    for u in block:
        params = space.decode(u)
        value = problem.loss(params)
        if value < best[0]:
            best = (value, params)
    return best


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Dense reference search of a benchmark problem.")
    parser.add_argument("--reference", required=True, choices=sorted(PROBLEMS))
    parser.add_argument("--points", type=int, default=2048)
    parser.add_argument("--narrow", action="append", default=[], metavar="NAME=LOW:HIGH",
                        help="search a numeric parameter in a narrower range")
    args = parser.parse_args()
    boxes = {n: tuple(r.split(":")) for n, r in (item.split("=") for item in args.narrow)}
    print(reference(args.reference, args.points, boxes))
