"""What the local engine costs per trial, against running the training script directly.

    python tests/benchmarks/local_overhead.py [--trials 30] [--digits-trials 6] [--repeats 3]

For each workload, ``byohpo run`` (a subprocess, as a user runs it) tunes a random-search request with
MaxParallelTrainingJobs 1, then 2; the same hyperparameters the engine tried are then run directly,
``python train.py --name value ...`` through ``subprocess.run``, one at a time or two at a time. Per
trial, in milliseconds:

* ``direct``: the direct runs' wall time / trials;
* ``engine``: the engine's span (first trial's ``started_at`` to last trial's ``ended_at`` in the store)
  / trials: each trial's process under the runner's supervisor, its log, the store writes, proposing;
* ``overhead``: ``engine - direct``, what the engine adds to every trial;
* ``run wall``: ``byohpo run``'s whole wall time / trials, which also spreads its start (imports,
  store creation) and leaderboard over the trials;
* ``cpu direct`` and ``cpu run``: CPU time (user + system) of the direct runs, and of ``byohpo run``
  with every process under it, / trials. Wall times swing with whatever else the machine runs; CPU
  time much less, so ``cpu run - cpu direct`` is the steadier figure of the engine's cost.

Workloads: a trivial script (prints the metric, exits) and, unless ``--digits-trials 0``, the digits
example (``examples/digits/train.py``, the blog's MNIST MLP; 10 to 20 epochs here). The best of
``--repeats`` runs is reported, each column on its own. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from byohpo.store import SQLiteStore

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "examples" / "digits" / "train.py"
TRIVIAL = "print('Validation-accuracy=0.5', flush=True)\n"
METRIC = "validation:accuracy"


def request(name: str, entry: Path, trials: int, parallel: int, ranges: dict[str, Any]) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "random", "StrategyConfig": {"Seed": 1},
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": METRIC},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": trials, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": ranges},
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": "local", "TrainingInputMode": "File",
                                       "MetricDefinitions": [{"Name": METRIC,
                                                              "Regex": "Validation-accuracy=([0-9.]+)"}]},
            "StaticHyperParameters": {"batch_size": "100"},
            "RoleArn": "arn:aws:iam::123456789012:role/bench",
            "OutputDataConfig": {"S3OutputPath": "s3://bench/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            "Local": {"EntryPoint": str(entry)}},
    }


TRIVIAL_RANGES = {"ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.01",
                                                 "MaxValue": "0.2", "ScalingType": "Logarithmic"}],
                  "IntegerParameterRanges": [{"Name": "num_epoch", "MinValue": "10", "MaxValue": "20",
                                              "ScalingType": "Linear"}]}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def through_engine(work: Path, entry: Path, trials: int,
                   parallel: int) -> tuple[float, float, float, list[list[str]]]:
    """(wall and CPU seconds of ``byohpo run``, engine span seconds, the trials' argument lists)."""
    req = work / "request.json"
    req.write_text(json.dumps(request("bench", entry, trials, parallel, TRIVIAL_RANGES)))
    store_path = work / "store" / "byohpo.sqlite"
    started, cpu = time.perf_counter(), _children_cpu()
    subprocess.run([sys.executable, "-c", "import sys; from byohpo.cli import main; sys.exit(main())",
                    "run", str(req), "--store", str(store_path), "--quiet", "--top", "0"],
                   check=True, cwd=work)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
    with SQLiteStore(store_path) as store:
        done = store.get_trials("bench")
    assert len(done) == trials and all(t.status == "Completed" for t in done), [t.status for t in done]
    span = max(_seconds(t.ended_at) for t in done) - min(_seconds(t.started_at) for t in done)
    args = [[a for name in sorted(t.hyperparameters) for a in (f"--{name}", t.hyperparameters[name])]
            for t in done]
    return wall, cpu, span, args


def directly(entry: Path, args: list[list[str]], parallel: int) -> tuple[float, float]:
    """Wall and CPU seconds to run the script once per argument list, ``parallel`` at a time. Each run
    gets an ``SM_MODEL_DIR`` of its own, as the engine's trials do, so that a script that saves its
    model (the digits example) does the same work both ways."""
    def one(argv: list[str]) -> None:
        with tempfile.TemporaryDirectory(prefix="byohpo-bench-model-") as model_dir:
            out = subprocess.run([sys.executable, entry.name, *argv], cwd=entry.parent, capture_output=True,
                                 text=True, check=True,
                                 env={**os.environ, "PYTHONUNBUFFERED": "1", "SM_MODEL_DIR": model_dir})
            assert "Validation-accuracy=" in out.stdout
            if entry == DIGITS:
                assert (Path(model_dir) / "model.joblib").is_file()

    started, cpu = time.perf_counter(), _children_cpu()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, args))
    return time.perf_counter() - started, _children_cpu() - cpu


def measure(label: str, entry: Path, trials: int, parallel: int, repeats: int) -> dict[str, Any]:
    """One row: each figure the best (lowest) of ``repeats`` runs, engine and direct alternating."""
    rows = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="byohpo-bench-") as tmp:
            wall, cpu, span, args = through_engine(Path(tmp), entry, trials, parallel)
        direct, direct_cpu = directly(entry, args, parallel)
        rows.append({"direct": direct, "engine": span, "run wall": wall, "cpu direct": direct_cpu,
                     "cpu run": cpu})
    best = {key: 1000 * min(r[key] for r in rows) / trials for key in rows[0]}
    best["overhead"] = best["engine"] - best["direct"]
    return {"workload": label, "parallel": parallel, "trials": trials, **best}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--trials", type=int, default=30, help="trials of the trivial script")
    parser.add_argument("--digits-trials", type=int, default=6, help="trials of the digits example; 0: skip")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="byohpo-bench-code-") as code:
        trivial = Path(code) / "train.py"
        trivial.write_text(TRIVIAL)
        for parallel in (1, 2):
            rows.append(measure("trivial script", trivial, args.trials, parallel, args.repeats))
        if args.digits_trials:
            for parallel in (1, 2):
                rows.append(measure("digits example", DIGITS, args.digits_trials, parallel, 1))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, load average {load}; ms per trial, "
          f"best of {args.repeats} (trivial script) or 1 (digits)")
    header = ["workload", "parallel", "trials", "direct", "engine", "overhead", "run wall", "cpu direct",
              "cpu run"]
    print("  ".join(f"{h:>14}" if i == 0 else f"{h:>10}" for i, h in enumerate(header)))
    for row in rows:
        cells = [f"{row['workload']:>14}", f"{row['parallel']:>10}", f"{row['trials']:>10}"]
        cells += [f"{row[k]:>10.1f}" for k in header[3:]]
        print("  ".join(cells))


if __name__ == "__main__":
    main()
