"""Search quality at equal batch budget: our strategies against Optuna's GPSampler and TPE on problems
with known optima.

Every run gets 60 evaluations in 10 batches of 6: our strategies via ``propose(history, 6)``; Optuna's
``GPSampler(seed=seed)`` (Matérn 5/2 ARD GP, logEI, qLogEI over the trials asked but not yet told) and
``TPESampler(constant_liar=True, seed=seed)`` by asking a whole batch with ``study.ask()`` before
telling any of it. A failed evaluation (``loss`` None) is a failed trial for every sampler. Per
problem it prints the median over seeds of the normalized regret ``(best - optimum) / (random's
median best - optimum)`` (losses are minimized, so random scores 1 by construction and 0 is the
optimum), then each column's mean over problems, bayesian against GPSampler (the goal: below it; the
target: 0.8 times it), every run that ended with budget left, the suite's wall time, and the time
bayesian's ``propose`` takes at 200 trials of history on one core.

    python tests/benchmarks/quality.py                      # the suite, seeds 0-9
    python tests/benchmarks/quality.py --problems forest_digits   # the slow problem, left out by default
    python tests/benchmarks/quality.py --first-seed 100     # the second seed set, 100-109
    python tests/benchmarks/quality.py --seeds 3 --problems branin,mixed_net --strategies sobol,ga
    python tests/benchmarks/quality.py --strategies builtin # every built-in strategy as a column

GPSampler needs PyTorch, which byohpo never installs (not in any extra: it is the benchmark's alone).
Install the CPU build, e.g. ``pip install torch --index-url https://download.pytorch.org/whl/cpu``;
without it the ``gp`` column is skipped with a message.

The reference columns (``gp``, ``tpe``, ``random``) do not change while bayesian is improved, so their
runs are cached in ``tests/benchmarks/.cache/`` (it ignores itself in git), keyed by problem (name,
version, ranges), seed, budget and sampler version (Optuna's, PyTorch's, or the hash of our random
search's proposals); the scikit-learn problems' evaluations are cached there too. A rerun recomputes only
our strategies; ``--no-cache`` recomputes everything.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import multiprocessing
import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import byohpo

try:
    from tests.benchmarks.problems import DEFAULT, PROBLEMS, Problem
except ImportError:  # run as a script: tests/benchmarks is on sys.path
    from problems import DEFAULT, PROBLEMS, Problem

BUDGET, BATCH = 60, 6
REFERENCES = ["gp", "tpe", "random"]  # cached: they do not change while ours do
CACHE = Path(__file__).resolve().parent / ".cache"
RUNS_FILE = CACHE / "runs.json"
LABELS = {"gp": "GPSampler", "tpe": "TPE"}

Result = dict[str, Any]  # best, params, seconds, evaluations, ended


def _single_thread() -> None:
    """One BLAS thread per process: the GP's matrices are small, and OpenBLAS threads fighting over
    two busy cores made a 200x200 Cholesky 100 times slower. threadpoolctl only limits the libraries
    already loaded, so load scipy's OpenBLAS (a separate copy from numpy's) first."""
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


# -- the samplers --------------------------------------------------------------------------------

def run_ours(problem: Problem, name: str, seed: int) -> Result:
    """Best loss after the budget, its parameters, the seconds spent in ``propose``, the evaluations
    made, and why the run ended early (None when it used its budget)."""
    space = byohpo.SearchSpace.from_sagemaker(problem.ranges)
    strategy = byohpo.make_strategy(name, space, [byohpo.Objective("loss", "Minimize")], seed)
    history: list[byohpo.Trial] = []
    spent, ended = 0.0, None
    while len(history) < BUDGET:
        start = time.perf_counter()
        try:
            batch = strategy.propose(history, BATCH)[: BUDGET - len(history)]
        except byohpo.SearchExhausted as exc:
            ended = f"SearchExhausted: {exc}"
            break
        spent += time.perf_counter() - start
        if not batch:
            ended = "proposed nothing"
            break
        for candidate in batch:
            space.validate_params(candidate.params)
            value = problem.loss(candidate.params)
            history.append(byohpo.Trial.from_candidate(
                candidate, "Failed" if value is None else "Completed",
                None if value is None else {"loss": value}))
    done = [t for t in history if t.status == "Completed"]
    best = min(done, key=lambda t: t.values["loss"]) if done else None
    return {"best": best.values["loss"] if best else math.inf, "params": best.params if best else {},
            "seconds": spent, "evaluations": len(history), "ended": ended}


def _optuna_space(problem: Problem) -> dict[str, Any]:
    import optuna

    dists: dict[str, Any] = {}
    for p in byohpo.SearchSpace.from_sagemaker(problem.ranges).params:
        log = getattr(p, "scaling", "") == "Logarithmic"  # ReverseLogarithmic has no Optuna equivalent
        if isinstance(p, byohpo.Categorical):
            dists[p.name] = optuna.distributions.CategoricalDistribution(list(p.values))
        elif isinstance(p, byohpo.Integer):
            dists[p.name] = optuna.distributions.IntDistribution(p.low, p.high, log=log)
        else:
            dists[p.name] = optuna.distributions.FloatDistribution(p.low, p.high, log=log)
    return dists


def _sampler(name: str, seed: int) -> Any:
    import optuna

    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(constant_liar=True, seed=seed)


def run_optuna(problem: Problem, name: str, seed: int) -> Result:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    dists = _optuna_space(problem)
    study = optuna.create_study(direction="minimize", sampler=_sampler(name, seed))
    spent, best, best_params = 0.0, math.inf, {}
    for _ in range(BUDGET // BATCH):
        start = time.perf_counter()
        trials = [study.ask(dists) for _ in range(BATCH)]
        spent += time.perf_counter() - start
        for trial in trials:
            value = problem.loss(trial.params)
            if value is None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            if value < best:
                best, best_params = value, trial.params
            study.tell(trial, value)
    return {"best": best, "params": best_params, "seconds": spent, "evaluations": BUDGET, "ended": None}


def sampler_version(name: str) -> str:
    """What a cached reference run depends on besides the problem and the seed."""
    if name == "random":  # what it proposes, not its source: a docstring edit changes nothing
        space = byohpo.SearchSpace.from_sagemaker(PROBLEMS["mixed_net"].ranges)
        strategy = byohpo.make_strategy("random", space, [byohpo.Objective("loss")], 0)
        history = [byohpo.Trial.from_candidate(c, "Completed", {"loss": 0.0})
                   for c in strategy.propose([], 5)]
        sample = [c.params for c in strategy.propose([], 3) + strategy.propose(history, 4)]
        return "byohpo random " + hashlib.sha256(json.dumps(sample).encode()).hexdigest()[:12]
    import optuna

    version = f"optuna {optuna.__version__} " + {"gp": "GPSampler(seed)",
                                                   "tpe": "TPESampler(constant_liar=True, seed)"}[name]
    if name == "gp":  # the main process never imports torch: see _init_worker
        version += f" torch {importlib.metadata.version('torch')}"
    return version


def problem_key(problem: Problem) -> str:
    ranges = json.dumps(problem.ranges, sort_keys=True)
    return f"{problem.name} v{problem.version} {hashlib.sha256(ranges.encode()).hexdigest()[:12]}"


def has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


# -- worker side: the evaluation caches of the expensive problems --------------------------------

def _memos() -> dict[str, dict[str, float]]:
    return {name: p.loss.memo for name, p in PROBLEMS.items() if hasattr(p.loss, "memo")}


def _memo_file(name: str) -> Path:
    return CACHE / f"evaluations-{problem_key(PROBLEMS[name]).replace(' ', '-')}.json"


def _init_worker(use_cache: bool) -> None:
    # Before torch is imported (by GPSampler, in this process only): one OpenMP thread, as Optuna's
    # GPSampler documentation advises on Linux; the benchmark runs its processes side by side.
    os.environ["OMP_NUM_THREADS"] = "1"
    _single_thread()
    if use_cache:
        for name, memo in _memos().items():
            if _memo_file(name).exists():
                memo.update(json.loads(_memo_file(name).read_text()))


def _task(task: tuple[str, str, int]) -> tuple[str, str, int, Result, dict[str, dict[str, float]]]:
    problem_name, strategy, seed = task
    problem = PROBLEMS[problem_name]
    known = {name: set(memo) for name, memo in _memos().items()}
    try:
        if strategy in ("gp", "tpe"):
            out = run_optuna(problem, strategy, seed)
        else:
            out = run_ours(problem, strategy, seed)
    except Exception as exc:  # one broken strategy must not lose the other runs: report it as inf
        out = {"best": math.inf, "params": {}, "seconds": 0.0, "evaluations": 0,
               "ended": f"error {type(exc).__name__}: {exc}"}
    new = {name: {k: v for k, v in memo.items() if k not in known[name]} for name, memo in _memos().items()}
    return problem_name, strategy, seed, out, {k: v for k, v in new.items() if v}


# -- main ----------------------------------------------------------------------------------------

def propose_time(n_history: int = 200, repeats: int = 3) -> dict[str, float]:
    """CPU seconds per ``propose(history, 6)`` with ``n_history`` completed random trials, one thread."""
    out = {}
    for name in ("hartmann6", "forest_digits", "mixed_net"):
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


def _load_runs(use_cache: bool) -> dict[str, Result]:
    if use_cache and RUNS_FILE.exists():
        return json.loads(RUNS_FILE.read_text())
    return {}


def _write(path: Path, data: dict[str, Any]) -> None:
    """Merge into what is on disk (another invocation may have written since) and replace atomically."""
    CACHE.mkdir(exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(data)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(merged, sort_keys=True, indent=0))
    temporary.replace(path)


def _save(runs: dict[str, Result], memos: dict[str, dict[str, float]]) -> None:
    _write(RUNS_FILE, runs)
    for name, memo in memos.items():
        if memo:
            _write(_memo_file(name), memo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="runs per strategy and problem")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--problems", default=",".join(DEFAULT),
                        help="comma-separated names (default: all but forest_digits, which is slow)")
    parser.add_argument("--strategies", default="",
                        help="more of our strategies, e.g. sobol,ga,pso,de, or 'builtin' for all of them")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes (default 2 at most)")
    parser.add_argument("--no-cache", action="store_true", help="recompute the reference columns too")
    parser.add_argument("--no-timing", action="store_true", help="skip the propose timing at 200 trials")
    args = parser.parse_args()
    problems = [p for p in args.problems.split(",") if p]
    unknown = [p for p in problems if p not in PROBLEMS]
    if unknown:
        parser.error(f"unknown problems {unknown}; choose from {', '.join(PROBLEMS)}")
    references = [r for r in REFERENCES if r != "gp" or has_torch()]
    if "gp" not in references:
        print("skipping GPSampler: PyTorch is not installed (see this script's docstring)")
    extra = byohpo.strategy_names() if args.strategies == "builtin" else args.strategies.split(",")
    ours = ["bayesian"]
    for name in (s for s in extra if s and s not in ours and s not in REFERENCES):
        try:
            byohpo.strategies.strategy_class(name)
            ours.append(name)
        except byohpo.UnknownStrategyError as exc:
            print(f"skipping strategy {name}: {exc}")
    columns = ours[:1] + references + ours[1:]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    use_cache = not args.no_cache
    runs = _load_runs(use_cache)
    versions = {r: sampler_version(r) for r in references}

    def key(problem: str, sampler: str, seed: int) -> str:
        return f"{problem_key(PROBLEMS[problem])} | {versions[sampler]} | seed {seed} | {BUDGET}/{BATCH}"

    results: dict[tuple[str, str, int], Result] = {}
    tasks = []
    # Slow problems first, so that the pool's last tasks are short.
    for p in sorted(problems, key=lambda p: "digits" not in p):
        for s in columns:
            for seed in seeds:
                if s in references and key(p, s, seed) in runs:
                    results[p, s, seed] = runs[key(p, s, seed)]
                else:
                    tasks.append((p, s, seed))
    print(f"{len(tasks)} runs to compute, {len(results)} from the cache", flush=True)
    start = time.perf_counter()
    fresh: dict[str, Result] = {}
    memos: dict[str, dict[str, float]] = {}
    saved = time.perf_counter()
    with multiprocessing.Pool(args.jobs, initializer=_init_worker, initargs=(use_cache,)) as pool:
        for p, s, seed, out, new in pool.imap_unordered(_task, tasks, chunksize=1):
            results[p, s, seed] = out
            if s in references and not str(out["ended"] or "").startswith("error"):
                fresh[key(p, s, seed)] = out
            for name, memo in new.items():
                memos.setdefault(name, {}).update(memo)
            if time.perf_counter() - saved > 60:  # a long suite keeps what it computed if stopped
                _save(fresh, memos)
                saved = time.perf_counter()
    wall = time.perf_counter() - start
    _save(fresh, memos)
    report(problems, columns, seeds, results)
    print(f"\nwall time: {wall:.0f} s for {len(tasks)} runs on {args.jobs} processes; mean seconds per run "
          "spent proposing: " + ", ".join(
              f"{s} {statistics.mean(results[p, s, seed]['seconds'] for p in problems for seed in seeds):.2f}"
              for s in columns))
    if not args.no_timing:
        _single_thread()
        timing = propose_time()
        print("bayesian propose(history of 200, n=6), CPU seconds on one thread: "
              + ", ".join(f"{k} {v:.2f} s" for k, v in timing.items()))


def report(problems: list[str], columns: list[str], seeds: range,
           results: dict[tuple[str, str, int], Result]) -> None:
    width = max(map(len, problems)) + 2
    cols = {s: max(10, len(LABELS.get(s, s)) + 2) for s in columns}
    header = f"{'problem':<{width}}{'optimum':>11}{'random':>11}"
    print(header + "".join(f"{LABELS.get(s, s):>{cols[s]}}" for s in columns))
    normalized: dict[str, list[float]] = {s: [] for s in columns}
    champion: dict[str, tuple[float, str]] = {}
    for problem in problems:
        optimum = PROBLEMS[problem].optimum
        best = {s: [results[problem, s, seed]["best"] for seed in seeds] for s in columns}
        observed = min(min(b) for b in best.values())
        note = ""
        if observed < optimum:  # a reference search (not an analytic optimum) was beaten by a run
            optimum, note = observed, "  (optimum: best observed, below the reference)"
            who = next((s, seed) for s in columns for seed in seeds
                       if results[problem, s, seed]["best"] == observed)
            champion[problem] = (observed, f"{who[0]} seed {who[1]}: "
                                           f"{results[problem, who[0], who[1]]['params']}")
        scale = statistics.median(best["random"]) - optimum
        row = f"{problem:<{width}}{optimum:>11.4g}{scale + optimum:>11.4g}"
        for s in columns:
            value = statistics.median((b - optimum) / scale if scale > 0 else 0.0 for b in best[s])
            normalized[s].append(value)
            row += f"{value:>{cols[s]}.3f}"
        print(row + note)
    means = {s: statistics.mean(v) for s, v in normalized.items()}
    print(f"{'mean':<{width}}{'':>22}" + "".join(f"{means[s]:>{cols[s]}.3f}" for s in columns))
    for problem, (value, who) in champion.items():
        print(f"{problem}: {who} beat the reference {PROBLEMS[problem].optimum:.6g} with {value!r}")
    if "gp" in means:
        ratio = means["bayesian"] / means["gp"] if means["gp"] > 0 else math.inf
        print(f"\nbayesian {means['bayesian']:.3f} vs GPSampler {means['gp']:.3f}: ratio {ratio:.2f} "
              f"(goal < 1: {'met' if ratio < 1 else 'NOT met'}; target <= 0.8: "
              f"{'met' if ratio <= 0.8 else 'not met'})")
    if "tpe" in means:
        ahead = means["bayesian"] <= means["tpe"]
        print(f"bayesian vs TPE {means['tpe']:.3f}: {'ahead' if ahead else 'BEHIND'}")
    early = [(p, s, seed, r) for (p, s, seed), r in sorted(results.items())
             if p in problems and s in columns and seed in seeds and r["evaluations"] < BUDGET]
    print(f"\nruns that ended with budget left: {len(early)}")
    for p, s, seed, r in early:
        print(f"  {s} on {p}, seed {seed}: {r['evaluations']} of {BUDGET} evaluations; {r['ended']}")


if __name__ == "__main__":
    main()
