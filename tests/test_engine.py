"""The local engine, in process: real training processes (a tiny script written into tmp_path) and a
real SQLite store. ``test_cli_run.py`` drives the same engine through ``byohpo run`` and imports the
helpers below.

The script scores ``1 - (x - 0.3)^2 - ((y - 5) / 10)^2`` from its ``-x``/``-y`` arguments and obeys a
control folder (``$BYOHPO_TEST_CTL``): ``config.json`` makes it sleep, fail, hang, or wait for a
``release`` file; it records its pid and process group in ``pids/<job name>`` and its start and end
times in ``times``.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import alive, group_alive

from byohpo.local.engine import LocalEngine
from byohpo.local.progress import ConsoleReporter
from byohpo.request import parse_request
from byohpo.store import RunClaimedError, RunRecord, SQLiteStore, TrialRecord
from byohpo.trials import Trial
from byohpo.tuning import open_run

CTL_ENV = "BYOHPO_TEST_CTL"
METRIC = "validation:accuracy"

TRAIN = '''\
import argparse, json, os, re, sys, time
from pathlib import Path

started = time.time()
ctl = Path(os.environ["BYOHPO_TEST_CTL"])
job = os.environ["TRAINING_JOB_NAME"]
(ctl / "pids").mkdir(parents=True, exist_ok=True)
(ctl / "pids" / job).write_text(f"{os.getpid()} {os.getpgid(0)}")
parser = argparse.ArgumentParser()
parser.add_argument("-x", "--x", type=float, required=True)  # the toolkit passes one-letter names as -x
parser.add_argument("-y", "--y", type=int, required=True)
args, _ = parser.parse_known_args()
config_file = ctl / "config.json"
config = json.loads(config_file.read_text()) if config_file.exists() else {}
if config.get("touch"):
    (ctl / config["touch"]).touch()
if config.get("block") and re.search(config["block"], job):
    while not (ctl / "release").exists():
        time.sleep(0.02)
if args.x > config.get("hang_above", 99):
    time.sleep(600)
time.sleep(config.get("sleep", 0))
if args.x > config.get("fail_above", 99):
    print(f"epoch 0: loss=nan", flush=True)
    print(f"x={args.x} is too large", file=sys.stderr, flush=True)
    sys.exit(3)
accuracy = 1 - (args.x - 0.3) ** 2 - ((args.y - 5) / 10) ** 2
print(f"Validation-accuracy={accuracy:.6f}", flush=True)
with open(ctl / "times", "a") as f:
    f.write(f"{job} {started} {time.time()}\\n")
'''


def accuracy(params: dict[str, Any]) -> float:
    """What the script prints for ``params``, as the store reads it back (6 decimals)."""
    return round(1 - (params["x"] - 0.3) ** 2 - ((params["y"] - 5) / 10) ** 2, 6)


def write_train(root: Path) -> Path:
    path = root / "code" / "train.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TRAIN)
    return path


def make_request(entry_point: Path, *, name: str = "engine-test", strategy: str = "ga",
                 strategy_config: dict[str, Any] | None = None, max_jobs: int = 10, parallel: int = 2,
                 run_runtime: int | None = None, trial_runtime: int = 60,
                 criteria: dict[str, Any] | None = None) -> dict[str, Any]:
    """A complete tuning request over x in [0, 1] and y in 0..10, maximizing the script's accuracy."""
    limits: dict[str, Any] = {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": parallel}
    if run_runtime is not None:
        limits["MaxRuntimeInSeconds"] = run_runtime
    config: dict[str, Any] = {
        "Strategy": strategy,
        "StrategyConfig": {"Seed": 3, "PopulationSize": 4} if strategy_config is None else strategy_config,
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": METRIC},
        "ResourceLimits": limits,
        "ParameterRanges": {
            "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1",
                                           "ScalingType": "Linear"}],
            "IntegerParameterRanges": [{"Name": "y", "MinValue": "0", "MaxValue": "10",
                                        "ScalingType": "Linear"}]},
    }
    if criteria:
        config["TuningJobCompletionCriteria"] = criteria
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tiny:1",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": METRIC, "Regex": "Validation-accuracy=([0-9.eE+-]+)"}]},
            "StaticHyperParameters": {"batch_size": "100"},
            "RoleArn": "arn:aws:iam::123456789012:role/byohpo-test",
            "OutputDataConfig": {"S3OutputPath": "s3://byohpo-test/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": trial_runtime},
            "Local": {"EntryPoint": str(entry_point)},
        },
    }


class Ctl:
    """The control folder the training script obeys and reports into."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def configure(self, **config: Any) -> None:
        (self.path / "config.json").write_text(json.dumps(config))

    def release(self) -> None:
        (self.path / "release").touch()

    def jobs(self) -> list[str]:
        """The job names that started a training process, sorted."""
        folder = self.path / "pids"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    def pids(self, job: str) -> list[int]:
        """The script's pid and its process group (the runner's supervisor leads it)."""
        return [int(p) for p in (self.path / "pids" / job).read_text().split()]

    def intervals(self) -> list[tuple[float, float]]:
        times = self.path / "times"
        lines = times.read_text().splitlines() if times.exists() else []
        return [(float(start), float(end)) for _, start, end in (line.split() for line in lines)]


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals],
                    key=lambda ev: (ev[0], ev[1]))  # an end before a start at the same instant
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def dead_pid() -> int:
    """A pid that surely runs nothing: a child we started and reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def ctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctl:
    monkeypatch.setenv(CTL_ENV, str(tmp_path / "ctl"))
    return Ctl(tmp_path / "ctl")


@pytest.fixture
def entry(tmp_path: Path) -> Path:
    return write_train(tmp_path)


class Harness:
    """One store in tmp_path and an engine factory over it."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.store = SQLiteStore(tmp_path / "runs" / "byohpo.sqlite")
        self.output = io.StringIO()

    def run(self, raw: dict[str, Any], now: Callable[[], datetime] | None = None) -> RunRecord:
        engine = LocalEngine(parse_request(copy.deepcopy(raw)), store=self.store,
                             runs_dir=self.tmp_path / "runs", base_dir=self.tmp_path,
                             reporter=ConsoleReporter(self.output, live=False), kill_grace_seconds=0.5,
                             **({"now": now} if now else {}))
        return engine.run()

    def trials(self, name: str = "engine-test") -> list[TrialRecord]:
        return self.store.get_trials(name)


@pytest.fixture
def harness(tmp_path: Path) -> Any:
    h = Harness(tmp_path)
    yield h
    h.store.close()


def generation_sizes(trials: list[TrialRecord]) -> list[int]:
    sizes: dict[int, int] = {}
    for t in trials:
        sizes[t.generation] = sizes.get(t.generation, 0) + 1
    return [sizes[g] for g in sorted(sizes)]


def ask_tell(raw: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The generations a run of ``raw`` must make, by the public strategy API alone: propose with
    MaxParallelTrainingJobs as the hint, cut to the budget, tell the script's scores."""
    request = parse_request(copy.deepcopy(raw))
    strategy = request.build_strategy()
    history: list[Trial] = []
    generations = []
    while len(history) < request.stopping.max_jobs:
        batch = strategy.propose(list(history), request.max_parallel)
        batch = batch[:request.stopping.max_jobs - len(history)]
        generations.append([c.params for c in batch])
        history += [Trial(c.params, json.loads(json.dumps(c.meta)), "Completed",
                          {METRIC: accuracy(c.params)}) for c in batch]
    return generations


@pytest.mark.parametrize(("strategy", "config"), [
    ("ga", {"Seed": 3, "PopulationSize": 4}),  # generational: replays the history on every propose
    ("random", {"Seed": 3, "BatchSize": 4}),   # 4 per propose whatever the hint: 4, 4, then 2 of 4
])
def test_full_run_to_its_budget(harness: Harness, ctl: Ctl, entry: Path, strategy: str,
                                config: dict[str, Any]) -> None:
    raw = make_request(entry, strategy=strategy, strategy_config=config, max_jobs=10)
    run = harness.run(raw)
    trials = harness.trials()
    expected = ask_tell(raw)
    assert [[t.params for t in trials if t.generation == g] for g in range(len(expected))] == expected
    if strategy == "random":
        assert [len(g) for g in expected] == [4, 4, 2]
    assert len(trials) == 10
    assert (run.status, run.stop_code, run.owner) == ("Completed", "MaxNumberOfTrainingJobs", None)
    assert run.reason == "10 training jobs finished, the limit is MaxNumberOfTrainingJobs=10"
    for t in trials:
        assert t.status == "Completed" and t.failure_reason is None and t.attempt == 0
        assert t.job_name == f"engine-test-g{t.generation}-t{t.index}"
        assert t.values == {METRIC: accuracy(t.params)}  # read from the log by the request's regex
        assert t.started_at and t.ended_at and t.started_at <= t.ended_at
        assert Path(t.log_path).is_file() and Path(t.log_path).parent.name == "attempt-0"
        assert t.hyperparameters["batch_size"] == "100"
    assert ctl.jobs() == sorted(t.job_name for t in trials)  # each trial ran exactly once
    best = max(t.values[METRIC] for t in trials)
    best_job = min((t for t in trials if t.values[METRIC] == best), key=lambda t: t.trial_id).job_name
    printed = harness.output.getvalue()
    assert printed.splitlines()[-1] == f"best {METRIC}: {best:.6g} ({best_job})"
    assert f"run engine-test Completed: {run.reason}" in printed
    assert printed.count(" -> validation:accuracy=") == 10


def test_at_most_max_parallel_processes_at_once(harness: Harness, ctl: Ctl, entry: Path) -> None:
    ctl.configure(sleep=0.4)
    # One generation of 8: the engine, not the strategy, holds it to 3 at a time.
    harness.run(make_request(entry, strategy_config={"Seed": 1, "PopulationSize": 8}, max_jobs=8,
                             parallel=3))
    intervals = ctl.intervals()
    assert len(intervals) == 8
    assert max_overlap(intervals) == 3


def test_failing_trials_are_recorded_and_the_run_goes_on(harness: Harness, ctl: Ctl, entry: Path) -> None:
    ctl.configure(fail_above=0.5)
    run = harness.run(make_request(entry, strategy="random", strategy_config={"Seed": 3}, max_jobs=8))
    trials = harness.trials()
    failed = [t for t in trials if t.status == "Failed"]
    completed = [t for t in trials if t.status == "Completed"]
    assert failed and completed and len(trials) == 8
    assert all(t.params["x"] > 0.5 for t in failed) and all(t.params["x"] <= 0.5 for t in completed)
    for t in failed:
        assert t.values is None
        assert t.failure_reason.startswith("AlgorithmError: exit code 3: last log lines:")
        assert f"x={t.params['x']} is too large" in t.failure_reason  # the log's tail
    assert (run.status, run.stop_code) == ("Completed", "MaxNumberOfTrainingJobs")
    # The progress line shows the error, not the "last log lines:" header.
    assert re.search(r"-> Failed: AlgorithmError: exit code 3: x=\S+ is too large  \(best ",
                     harness.output.getvalue())


def test_all_trials_failing_fails_the_run(harness: Harness, ctl: Ctl, entry: Path) -> None:
    ctl.configure(fail_above=-1)
    run = harness.run(make_request(entry, strategy="random", strategy_config={"Seed": 3}, max_jobs=10,
                                   criteria={"MaxFailedTrainingJobs": 3}))
    trials = harness.trials()
    assert [t.status for t in trials] == ["Failed"] * 4  # two generations of 2: 4 >= 3
    assert (run.status, run.stop_code) == ("Failed", "MaxFailedTrainingJobs")
    assert run.reason.startswith("4 training jobs failed, the limit is MaxFailedTrainingJobs=3; no training "
                                 "job succeeded. Likely cause: all 4 failed in the training script, the "
                                 "first with: AlgorithmError: exit code 3: x=")


def test_trial_over_its_max_runtime_is_stopped(harness: Harness, ctl: Ctl, entry: Path) -> None:
    ctl.configure(hang_above=0.5)
    run = harness.run(make_request(entry, strategy="random", strategy_config={"Seed": 3}, max_jobs=4,
                                   parallel=4, trial_runtime=2))
    trials = harness.trials()
    stopped = [t for t in trials if t.status == "Stopped"]
    assert stopped and len(stopped) < 4
    for t in trials:
        assert (t.status == "Stopped") == (t.params["x"] > 0.5)
    for t in stopped:
        assert t.failure_reason.startswith("MaxRuntimeExceeded: stopped after 2 s")
        script, group = ctl.pids(t.job_name)
        assert not alive(script) and not group_alive(group)
    assert (run.status, run.stop_code) == ("Completed", "MaxNumberOfTrainingJobs")


def test_run_max_runtime_stops_trials_in_flight_and_skips_the_rest(harness: Harness, ctl: Ctl,
                                                                   entry: Path) -> None:
    # The first trial makes the clock jump past the run's limit (at least 120 s, SageMaker's minimum),
    # then hangs; the other three of its generation wait for the one slot.
    ctl.configure(touch="late", hang_above=-1)

    def now() -> datetime:
        late = (ctl.path / "late").exists()
        return datetime.now(UTC) + timedelta(seconds=1000 if late else 0)

    # A generation of 6: enough trials stopped without a value for the no-success rule to hold, but
    # the run's time, not the script, is why they stopped.
    run = harness.run(make_request(entry, strategy_config={"Seed": 3, "PopulationSize": 6}, max_jobs=8,
                                   parallel=1, run_runtime=120), now=now)
    trials = harness.trials()
    assert [t.status for t in trials] == ["Stopped"] * 6
    reached = "the tuning job's MaxRuntimeInSeconds (120 s) was reached"
    assert trials[0].failure_reason == reached and trials[0].attempt == 0
    assert all(t.failure_reason == f"not started: {reached}" for t in trials[1:])
    assert ctl.jobs() == ["engine-test-g0-t0"]  # only the first ever started
    script, group = ctl.pids("engine-test-g0-t0")
    assert not alive(script) and not group_alive(group)
    # No trial succeeded, so the run failed; the reason says why it ended and what the trials show.
    assert (run.status, run.stop_code) == ("Failed", "MaxRuntimeInSeconds")
    assert "MaxRuntimeInSeconds=120; no training job succeeded. Likely cause: all 6 stopped, or never " \
           "started, because the run ended" in run.reason


def test_grid_run_ends_when_the_grid_is_exhausted(harness: Harness, ctl: Ctl, entry: Path) -> None:
    run = harness.run(make_request(entry, strategy="grid", strategy_config={"GridResolution": 2},
                                   max_jobs=10))
    trials = harness.trials()
    assert sorted((t.params["x"], t.params["y"]) for t in trials) == [(0.0, 0), (0.0, 10), (1.0, 0),
                                                                       (1.0, 10)]
    assert (run.status, run.stop_code) == ("Completed", "StrategyExhausted")
    assert all(t.status == "Completed" for t in trials)


def test_run_held_elsewhere_is_refused_and_a_dead_holder_is_taken_over(harness: Harness, ctl: Ctl,
                                                                        entry: Path) -> None:
    raw = make_request(entry, strategy="random", strategy_config={"Seed": 3}, max_jobs=2)
    run, created = open_run(harness.store, parse_request(raw))
    assert created
    here = socket.gethostname()
    for holder in (f"{os.getppid()}@{here}", f"{dead_pid()}@another-host", "arn:aws:states:x"):
        harness.store.claim_run(run.name, holder, expected_owner=harness.store.get_run(run.name).owner)
        before = harness.store.get_run(run.name)
        with pytest.raises(RunClaimedError):
            harness.run(raw)
        assert harness.store.get_run(run.name) == before and harness.trials() == []
    assert ctl.jobs() == []
    dead = f"{dead_pid()}@{here}"
    harness.store.claim_run(run.name, dead, expected_owner="arn:aws:states:x")
    finished = harness.run(raw)
    assert (finished.status, finished.owner, len(harness.trials())) == ("Completed", None, 2)


def test_finished_run_is_not_run_again(harness: Harness, ctl: Ctl, entry: Path) -> None:
    raw = make_request(entry, strategy="random", strategy_config={"Seed": 3}, max_jobs=2)
    first = harness.run(raw)
    trials = harness.trials()
    again = harness.run(raw)
    assert again == first and harness.trials() == trials and len(ctl.jobs()) == 2
    assert "already finished" in harness.output.getvalue()



def _wrong_regex(raw: dict[str, Any]) -> dict[str, Any]:
    raw["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"][0]["Regex"] = \
        "val_acc=([0-9.]+)"
    return raw


@pytest.mark.parametrize(("config", "change", "cause"), [
    # Every trial hits its time limit (1 s): a timeout is no better than a failure.
    ({"hang_above": -1}, lambda raw: raw,
     "Likely cause: all 6 hit their time limit (StoppingCondition.MaxRuntimeInSeconds = 1 s): raise it, "
     "or make a training job shorter"),
    ({"fail_above": -1}, lambda raw: raw,
     "Likely cause: all 6 failed in the training script, the first with: AlgorithmError: exit code 3: x="),
    ({}, _wrong_regex,
     "Likely cause: all 6 printed no value of validation:accuracy that MetricDefinitions' Regex "
     "`val_acc=([0-9.]+)` matched: compare the Regex with the training log"),
])
def test_a_run_in_which_no_trial_succeeds_fails_and_names_the_likely_cause(
        harness: Harness, ctl: Ctl, entry: Path, config: dict[str, Any], change: Callable,
        cause: str) -> None:
    ctl.configure(**config)
    run = harness.run(change(make_request(entry, strategy="random", strategy_config={"Seed": 3}, max_jobs=8,
                                          trial_runtime=1 if "hang_above" in config else 60)))
    trials = harness.trials()
    # Stopped after 5 unsuccessful trials (three generations of 2), not at the end of the budget.
    assert len(trials) == 6 and not any(t.status == "Completed" and t.values for t in trials)
    assert (run.status, run.stop_code) == ("Failed", "MaxFailedTrainingJobs")
    assert run.reason.startswith("none succeeded: all 6 training jobs so far ended without a value of "
                                 "validation:accuracy")
    assert cause in run.reason
    assert f"run engine-test Failed: {run.reason}" in harness.output.getvalue()


def test_a_budget_spent_without_one_success_is_not_completed(harness: Harness, ctl: Ctl, entry: Path) -> None:
    # MaxFailedTrainingJobs above the budget: the budget ends the run, which still failed.
    ctl.configure(hang_above=-1)
    run = harness.run(make_request(entry, strategy="random", strategy_config={"Seed": 3}, max_jobs=2,
                                   trial_runtime=1, criteria={"MaxFailedTrainingJobs": 10}))
    assert [t.status for t in harness.trials()] == ["Stopped", "Stopped"]
    assert (run.status, run.stop_code) == ("Failed", "MaxNumberOfTrainingJobs")
    assert run.reason == ("2 training jobs finished, the limit is MaxNumberOfTrainingJobs=2; no training job "
                          "succeeded. Likely cause: all 2 hit their time limit "
                          "(StoppingCondition.MaxRuntimeInSeconds = 1 s): raise it, or make a training job "
                          "shorter")


def test_an_entry_point_that_vanishes_mid_run_fails_its_trials_and_the_run_goes_on(harness: Harness,
                                                                                   tmp_path: Path) -> None:
    # The first trial deletes its own script: the later ones cannot start, which fails each of them
    # (as SageMaker fails a job it cannot start) instead of raising out of a worker thread.
    entry = tmp_path / "code" / "vanishing.py"
    entry.parent.mkdir()
    entry.write_text("import os\nos.remove(__file__)\nprint('Validation-accuracy=0.5', flush=True)\n")
    run = harness.run(make_request(entry, strategy="random", strategy_config={"Seed": 3}, max_jobs=4,
                                   parallel=1))
    trials = harness.trials()
    assert [t.status for t in trials] == ["Completed", "Failed", "Failed", "Failed"]
    for t in trials[1:]:
        assert t.failure_reason.startswith("ClientError: the local engine could not start the training job: "
                                           "entry point") and "is not a file" in t.failure_reason
        assert t.job_name == f"engine-test-g{t.generation}-t{t.index}" and t.ended_at
    assert (run.status, run.stop_code, run.owner) == ("Completed", "MaxNumberOfTrainingJobs", None)
    assert harness.output.getvalue().count("-> Failed: ClientError: the local engine could not start") == 3
