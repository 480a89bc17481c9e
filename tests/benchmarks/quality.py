"""Search quality at equal batch budget: our strategies against Optuna's TPE on problems with known optima.

Every run gets 60 evaluations in 10 batches of 6: our strategies via ``propose(history, 6)``, Optuna's
TPE via ``TPESampler(constant_liar=True, seed=seed)`` asking a whole batch with ``study.ask()`` before
telling any of it. Per problem it prints the median over seeds of the normalized regret
``(best - optimum) / (random's median best - optimum)`` (losses are minimized, so random scores 1 by
construction and 0 is the optimum), then each strategy's mean over problems, the acceptance check
(bayesian at most TPE's and at most half of random's), the suite's wall time and the time bayesian's
``propose`` takes at 200 trials of history on one core.

    python tests/benchmarks/quality.py                      # the full suite: 10 seeds, ~10 min on 2 cores
    python tests/benchmarks/quality.py --seeds 3 --problems branin,hartmann6 --strategies sobol
    python tests/benchmarks/quality.py --first-seed 100     # other seeds than the usual ones
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import time
from typing import Any

import numpy as np

import byohpo

try:
    from tests.benchmarks.problems import PROBLEMS, Problem
except ImportError:  # run as a script: tests/benchmarks is on sys.path
    from problems import PROBLEMS, Problem

BUDGET, BATCH = 60, 6
BASELINES = ["bayesian", "tpe", "random"]


def _single_thread() -> None:
    """One BLAS thread per process: the GP's matrices are small, and OpenBLAS threads fighting over
    two busy cores made a 200x200 Cholesky 100 times slower. threadpoolctl only limits the libraries
    already loaded, so load scipy's OpenBLAS (a separate copy from numpy's) first."""
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def run_ours(problem: Problem, name: str, seed: int) -> tuple[float, dict[str, Any], float]:
    """Best loss after the budget, its parameters, and the seconds spent in ``propose``."""
    space = byohpo.SearchSpace.from_sagemaker(problem.ranges)
    strategy = byohpo.make_strategy(name, space, [byohpo.Objective("loss", "Minimize")], seed)
    history: list[byohpo.Trial] = []
    spent = 0.0
    while len(history) < BUDGET:
        start = time.perf_counter()
        try:
            batch = strategy.propose(history, BATCH)[: BUDGET - len(history)]
        except byohpo.SearchExhausted:
            break
        spent += time.perf_counter() - start
        for candidate in batch:
            space.validate_params(candidate.params)
            value = problem.loss(candidate.params)
            history.append(byohpo.Trial.from_candidate(candidate, "Completed", {"loss": value}))
    best = min(history, key=lambda t: t.values["loss"])
    return best.values["loss"], best.params, spent


def run_tpe(problem: Problem, seed: int) -> tuple[float, dict[str, Any], float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists: dict[str, Any] = {}
    for p in byohpo.SearchSpace.from_sagemaker(problem.ranges).params:
        log = getattr(p, "scaling", "") == "Logarithmic"  # ReverseLogarithmic has no Optuna equivalent
        if isinstance(p, byohpo.Categorical):
            dists[p.name] = optuna.distributions.CategoricalDistribution(list(p.values))
        elif isinstance(p, byohpo.Integer):
            dists[p.name] = optuna.distributions.IntDistribution(p.low, p.high, log=log)
        else:
            dists[p.name] = optuna.distributions.FloatDistribution(p.low, p.high, log=log)
    study = optuna.create_study(direction="minimize",
                                sampler=optuna.samplers.TPESampler(constant_liar=True, seed=seed))
    spent, best, best_params = 0.0, math.inf, {}
    for _ in range(BUDGET // BATCH):
        start = time.perf_counter()
        trials = [study.ask(dists) for _ in range(BATCH)]
        spent += time.perf_counter() - start
        for trial in trials:
            value = problem.loss(trial.params)
            if value < best:
                best, best_params = value, trial.params
            study.tell(trial, value)
    return best, best_params, spent


def _task(task: tuple[str, str, int]) -> tuple[str, str, int, float, dict[str, Any], float]:
    problem_name, strategy, seed = task
    problem = PROBLEMS[problem_name]
    try:
        out = run_tpe(problem, seed) if strategy == "tpe" else run_ours(problem, strategy, seed)
    except Exception as exc:  # one broken strategy must not lose the other runs: report it as inf
        out = (math.inf, {"error": f"{type(exc).__name__}: {exc}"}, 0.0)
    return (problem_name, strategy, seed, *out)


def propose_time(n_history: int = 200, repeats: int = 3) -> dict[str, float]:
    """CPU seconds per ``propose(history, 6)`` with ``n_history`` completed random trials, one thread."""
    out = {}
    for name in ("hartmann6", "forest_digits"):
        space = byohpo.SearchSpace.from_sagemaker(PROBLEMS[name].ranges)
        rng = np.random.default_rng(0)
        history = []
        for _ in range(n_history):
            u = rng.random(space.dims)
            # A cheap stand-in loss: the timing depends on the history's size, not on its values.
            value = float(np.sin(7 * u).sum() + (u - 0.3) @ (u - 0.3))
            history.append(byohpo.Trial(space.decode(u), {}, "Completed", {"loss": value}))
        strategy = byohpo.make_strategy("bayesian", space, [byohpo.Objective("loss", "Minimize")], 0)
        times = []
        for _ in range(repeats):
            start = time.process_time()  # CPU time: the machine may be shared
            strategy.propose(history, BATCH)
            times.append(time.process_time() - start)
        out[name] = min(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="runs per strategy and problem")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated names")
    parser.add_argument("--strategies", default="", help="more of our strategies, e.g. sobol,ga,pso,de")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-timing", action="store_true", help="skip the propose timing at 200 trials")
    args = parser.parse_args()
    problems = [p for p in args.problems.split(",") if p]
    unknown = [p for p in problems if p not in PROBLEMS]
    if unknown:
        parser.error(f"unknown problems {unknown}; choose from {', '.join(PROBLEMS)}")
    strategies = list(BASELINES)
    for name in (s for s in args.strategies.split(",") if s and s not in strategies):
        try:
            byohpo.strategies.strategy_class(name)
            strategies.append(name)
        except byohpo.UnknownStrategyError as exc:
            print(f"skipping strategy {name}: {exc}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    # Slow problems first, so that the pool's last tasks are short.
    tasks = [(p, s, seed) for p in sorted(problems, key=lambda p: "digits" not in p)
             for s in strategies for seed in seeds]
    start = time.perf_counter()
    with multiprocessing.Pool(args.jobs, initializer=_single_thread) as pool:
        results = pool.map(_task, tasks, chunksize=1)
    wall = time.perf_counter() - start
    best: dict[tuple[str, str], list[float]] = {}
    spent: dict[str, list[float]] = {}
    champion: dict[str, tuple[float, str, dict[str, Any]]] = {}
    for problem, strategy, seed, value, params, seconds in results:
        best.setdefault((problem, strategy), []).append(value)
        spent.setdefault(strategy, []).append(seconds)
        if "error" in params:
            print(f"{strategy} failed on {problem} (seed {seed}): {params['error']}")
        elif problem not in champion or value < champion[problem][0]:
            champion[problem] = (value, f"{strategy} seed {seed}", params)
    report(problems, strategies, best)
    for problem, (value, who, params) in champion.items():
        if value < PROBLEMS[problem].optimum:
            print(f"{problem}: {who} beat the reference {PROBLEMS[problem].optimum:.6g} with {value!r} at "
                  f"{params}")
    print(f"\nwall time: {wall:.0f} s for {len(tasks)} runs on {args.jobs} processes; mean seconds per run "
          "spent proposing: " + ", ".join(f"{s} {statistics.mean(spent[s]):.2f}" for s in strategies))
    if not args.no_timing:
        _single_thread()
        timing = propose_time()
        print("bayesian propose(history of 200, n=6), CPU seconds on one thread: "
              + ", ".join(f"{k} {v:.2f} s" for k, v in timing.items()))


def report(problems: list[str], strategies: list[str], best: dict[tuple[str, str], list[float]]) -> None:
    width = max(map(len, problems)) + 2
    cols = {s: max(10, len(s) + 2) for s in strategies}
    header = f"{'problem':<{width}}{'optimum':>11}{'random':>11}"
    print(header + "".join(f"{s:>{cols[s]}}" for s in strategies))
    normalized: dict[str, list[float]] = {s: [] for s in strategies}
    for problem in problems:
        optimum = PROBLEMS[problem].optimum
        observed = min(min(best[problem, s]) for s in strategies)
        note = ""
        if observed < optimum:  # a reference search (not an analytic optimum) was beaten by a run
            optimum, note = observed, "  (optimum: best observed, below the reference)"
        scale = statistics.median(best[problem, "random"]) - optimum
        row = f"{problem:<{width}}{optimum:>11.4g}{scale + optimum:>11.4g}"
        for s in strategies:
            value = statistics.median((b - optimum) / scale if scale > 0 else 0.0 for b in best[problem, s])
            normalized[s].append(value)
            row += f"{value:>{cols[s]}.3f}"
        print(row + note)
    means = {s: statistics.mean(v) for s, v in normalized.items()}
    print(f"{'mean':<{width}}{'':>22}" + "".join(f"{means[s]:>{cols[s]}.3f}" for s in strategies))
    passed = means["bayesian"] <= means["tpe"] and means["bayesian"] <= 0.5 * means["random"]
    print(f"\nacceptance (bayesian <= tpe and <= random / 2): {'PASS' if passed else 'FAIL'} "
          f"(bayesian {means['bayesian']:.3f}, tpe {means['tpe']:.3f}, random {means['random']:.3f})")


if __name__ == "__main__":
    main()
