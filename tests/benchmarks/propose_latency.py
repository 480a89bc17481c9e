"""How long one ``propose`` takes with 100 and 1,000 trials in the history, for every strategy.

    python tests/benchmarks/propose_latency.py [--strategies ga,pso] [--sizes 100,1000]
                                               [--repeats 5] [--budget 300] [--clock cpu]

Each history is built by running the strategy's own proposals (10 per propose; ``PopulationSize`` 10
where the strategy has one) on a cheap synthetic objective over the blog's 11-parameter XGBoost space,
so a replaying strategy sees a history it can replay. Strategies that take several objectives get two.
The time reported is the median of ``--repeats`` calls of ``propose(history, 10)`` in this process,
by the wall clock or, with ``--clock cpu``, in CPU seconds of this process (fairer on a shared machine). A
strategy whose history takes longer than ``--budget`` seconds to build is reported as far as it got.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import byohpo
from byohpo import Objective, SearchExhausted, SearchSpace, Trial
from byohpo.strategies import strategy_class, strategy_options

# The blog post's XGBoost table.
XGBOOST_RANGES: dict[str, Any] = {
    "ContinuousParameterRanges": [
        {"Name": name, "MinValue": low, "MaxValue": high, "ScalingType": "Auto"}
        for name, low, high in [("alpha", "0", "1000"), ("colsample_bylevel", "0.1", "1"),
                                ("colsample_bytree", "0.5", "1"), ("eta", "0.1", "0.5"), ("gamma", "0", "5"),
                                ("lambda", "0", "1000"), ("min_child_weight", "0", "120"),
                                ("subsample", "0.5", "1")]],
    "IntegerParameterRanges": [
        {"Name": name, "MinValue": low, "MaxValue": high, "ScalingType": "Auto"}
        for name, low, high in [("max_delta_step", "0", "10"), ("max_depth", "0", "10"),
                                ("num_round", "1", "4000")]],
}
OBJECTIVES = [Objective("validation:auc", "Maximize"), Objective("train:seconds", "Minimize")]
BATCH = 10
SLOW_CALL = 2.0  # seconds: one timed call is enough


def evaluator(space: SearchSpace):
    """A smooth bowl in the unit cube (optimum inside) and a cost that grows with rounds and depth."""
    target = [0.2 + 0.6 * i / max(space.dims - 1, 1) for i in range(space.dims)]

    def evaluate(params: dict[str, Any]) -> dict[str, float]:
        u = space.encode(params)
        auc = 1.0 - sum((a - b) ** 2 for a, b in zip(u, target, strict=True)) / space.dims
        seconds = 10.0 + params["num_round"] * (1 + params["max_depth"]) / 100
        return {"validation:auc": auc, "train:seconds": seconds}

    return evaluate


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]


def median_ms(strategy: byohpo.Strategy, history: Sequence[Trial], repeats: int) -> tuple[float, int]:
    times: list[float] = []
    for _ in range(repeats):
        start = clock()
        strategy.propose(history, BATCH)
        times.append(clock() - start)
        if times[-1] > SLOW_CALL:
            break
    return statistics.median(times) * 1000, len(times)


def bench(name: str, space: SearchSpace, sizes: Sequence[int], repeats: int, budget: float
          ) -> tuple[int, dict[int, str], list[str]]:
    """(objectives used, {size: cell}, notes) for one strategy."""
    cls = strategy_class(name)
    objectives = OBJECTIVES[: 2 if getattr(cls, "max_objectives", 1) > 1 else 1]
    options = {"PopulationSize": BATCH} if "population_size" in strategy_options(cls) else None
    strategy = byohpo.make_strategy(name, space, objectives, seed=1, options=options)
    evaluate = evaluator(space)
    history: list[Trial] = []
    cells: dict[int, str] = {}
    notes: list[str] = []
    started = time.perf_counter()
    for size in sorted(sizes):
        while len(history) < size:
            if time.perf_counter() - started > budget:
                notes.append(f"building the history exceeded {budget:.0f} s at {len(history)} trials")
                return len(objectives), cells, notes
            try:
                batch = strategy.propose(history, BATCH)
            except SearchExhausted as exc:
                notes.append(f"exhausted at {len(history)} trials: {exc}")
                return len(objectives), cells, notes
            history += [Trial.from_candidate(c, "Completed", evaluate(c.params)) for c in batch]
        ms, calls = median_ms(strategy, history, repeats)
        cells[size] = f"{ms:.1f}" + (f" ({len(history)} trials)" if len(history) != size else "")
        if calls < repeats:
            notes.append(f"propose at {len(history)} trials is slow ({ms / 1000:.1f} s): median of {calls} "
                         f"call{'s' if calls > 1 else ''}")
    notes += [f"built {len(history)} trials in {time.perf_counter() - started:.1f} s"]
    return len(objectives), cells, notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategies", default=",".join(byohpo.strategy_names()),
                        help="comma-separated strategy names (default: every strategy)")
    parser.add_argument("--sizes", default="100,1000", help="history sizes (default 100,1000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per size (median)")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds allowed to build one strategy's histories")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall-clock time (default) or this process's CPU time")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    names = [n for n in args.strategies.split(",") if n]
    sizes = sorted({int(s) for s in args.sizes.split(",") if s})
    space = SearchSpace.from_sagemaker(XGBOOST_RANGES)

    print(f"propose latency ({args.clock} clock), {space.dims} parameters, {BATCH} per propose; "
          f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus", flush=True)
    header = ["strategy", "objectives", *(f"ms @{s}" for s in sizes)]
    rows: list[list[str]] = []
    all_notes: list[str] = []
    for name in names:
        try:
            count, cells, notes = bench(name, space, sizes, args.repeats, args.budget)
        except Exception as exc:  # one broken strategy must not hide the others
            count, cells, notes = 0, {}, [f"failed: {type(exc).__name__}: {exc}"]
        rows.append([name, str(count or "-"), *(cells.get(s, "-") for s in sizes)])
        all_notes += [f"{name}: {note}" for note in notes]
        print(f"  done {name}", file=sys.stderr, flush=True)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                          strict=True))))
    if all_notes:
        print("\nnotes:")
        print("\n".join(f"  {n}" for n in all_notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
