"""``TrainingJobEarlyStoppingType: "Auto"`` in the local engine: real training processes that print one
value of the objective per epoch, the median rule asked after each, a condemned process stopped, and
what the store, the leaderboard, the summary, ``compare`` and the plot then say."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from byohpo import Objective
from byohpo.compare import compare
from byohpo.early_stopping import EARLY_STOPPED, Curve
from byohpo.leaderboard import Leaderboard, summary
from byohpo.local.engine import LocalEngine
from byohpo.local.progress import ConsoleReporter
from byohpo.request import parse_request
from byohpo.store import SQLiteStore

METRIC = "validation:accuracy"
ACC = Objective(METRIC)

# Each "shape" is a learning curve the script prints, one value per epoch, as slowly as asked. A bad
# job prints 80 epochs: stopped at its first, it prints at most the epoch under way after SIGTERM.
TRAIN = '''\
import argparse, os, signal, sys, time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--shape", required=True)
parser.add_argument("--epoch_seconds", type=float, default=0.05)
args, _ = parser.parse_known_args()
curves = {
    "good": [0.5, 0.6, 0.7, 0.8, 0.9],
    "fine": [0.55, 0.65, 0.75, 0.8, 0.85],
    "bad": [0.1] * 80,
    "late": [0.5, 0.6, 0.7, 0.8, 0.9],
}
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
if args.shape == "late":  # another job's last epoch arrives before this one's first
    time.sleep(1.0)
for epoch, value in enumerate(curves[args.shape], 1):
    time.sleep(args.epoch_seconds)
    print(f"epoch={epoch} Validation-accuracy={value}", flush=True)
    if stop:
        print("stopped by SIGTERM", flush=True)
        sys.exit(0)
Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text(args.shape)
'''


def request(entry: Path, shapes: list[str], *, name: str = "es-local", auto: bool = True,
            parallel: int = 1) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Strategy": "grid",
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": METRIC},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": len(shapes), "MaxParallelTrainingJobs": parallel},
        "ParameterRanges": {"CategoricalParameterRanges": [{"Name": "shape", "Values": shapes}]},
        "TrainingJobEarlyStoppingType": "Auto" if auto else "Off",
    }
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tiny:1",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": METRIC, "Regex": "Validation-accuracy=([0-9.]+)"}]},
            "StaticHyperParameters": {"epoch_seconds": "0.05"},
            "RoleArn": "arn:aws:iam::123456789012:role/byohpo-test",
            "OutputDataConfig": {"S3OutputPath": "s3://byohpo-test/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 120},
            "Local": {"EntryPoint": str(entry)},
        },
    }


class Local:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.entry = tmp_path / "code" / "train.py"
        self.entry.parent.mkdir(parents=True)
        self.entry.write_text(TRAIN)
        self.store = SQLiteStore(tmp_path / "runs" / "byohpo.sqlite")
        self.output = io.StringIO()

    def run(self, raw: dict[str, Any]) -> Any:
        engine = LocalEngine(parse_request(copy.deepcopy(raw)), store=self.store,
                             runs_dir=self.tmp_path / "runs", base_dir=self.tmp_path,
                             reporter=ConsoleReporter(self.output, live=False),
                             kill_grace_seconds=2.0)
        return engine.run()


@pytest.fixture
def local(tmp_path: Path) -> Local:
    return Local(tmp_path)


def test_a_job_worse_than_the_finished_ones_is_stopped_and_keeps_its_last_value(local: Local) -> None:
    run = local.run(request(local.entry, ["good", "bad", "fine"]))
    assert run.status == "Completed"
    good, bad, fine = local.store.get_trials("es-local")
    assert (good.status, fine.status) == ("Completed", "Completed")
    assert good.learning_curve() == Curve.of([0.5, 0.6, 0.7, 0.8, 0.9])
    # 0.1 at epoch 1 is worse than 0.5, the one earlier job's running average there: stopped at once.
    assert bad.status == "Stopped" and bad.early_stopped
    assert bad.failure_reason == (f"{EARLY_STOPPED}: {METRIC} 0.1 at epoch 1 is worse than 0.5, the median "
                                  "of the running averages of 1 earlier training jobs up to epoch 1")
    # The process was stopped: of its 80 epochs it printed the first, and at most the one under way.
    assert 1 <= bad.learning_curve().epochs <= 2
    assert bad.values == {METRIC: 0.1}  # its last value, kept as SageMaker keeps it
    log = Path(bad.log_path).read_text()
    assert "stopped by SIGTERM" in log and "epoch=3 " not in log
    # fine's epochs are each above the median of good's and bad's running averages: it runs on.
    assert fine.learning_curve().epochs == 5 and not fine.early_stopped
    out = local.output.getvalue()
    assert f"stopping es-local-g1-t0 early: {METRIC} 0.1 at epoch 1 is worse than 0.5" in out
    assert "-> stopped early after" in out and "early stopping stopped 1 of 3 training jobs" in out


def test_the_first_job_runs_to_its_end_and_off_stops_nothing(local: Local) -> None:
    local.run(request(local.entry, ["bad", "good"], name="first-bad"))
    first, second = local.store.get_trials("first-bad")
    assert first.status == "Completed" and first.learning_curve().epochs == 80  # nothing finished before it
    assert second.status == "Completed"  # 0.5 is not worse than 0.1
    local.run(request(local.entry, ["good", "bad"], name="off", auto=False))
    assert [t.status for t in local.store.get_trials("off")] == ["Completed", "Completed"]
    # Off still records every trial's learning curve.
    assert [t.learning_curve().epochs for t in local.store.get_trials("off")] == [5, 80]


def test_only_finished_jobs_are_earlier_ones_and_one_counts_from_when_it_finishes(local: Local) -> None:
    """Two jobs at once: ``bad`` (80 epochs) and ``late``, which prints its 5 epochs after a pause.
    While late runs, nothing has finished: bad's first epochs go unjudged and late is compared with
    nothing. Once late has finished, bad's next epoch is judged against it, and bad is stopped there."""
    local.run(request(local.entry, ["bad", "late", "good"], name="parallel", parallel=2))
    bad, late, good = local.store.get_trials("parallel")
    assert late.status == "Completed" and late.learning_curve().epochs == 5
    assert bad.status == "Stopped" and bad.early_stopped
    assert 5 < bad.learning_curve().epochs < 80
    assert "of 1 earlier training jobs" in bad.failure_reason  # late, the only one finished then
    assert good.status == "Completed"  # 0.5 is above 0.3, the median of bad's 0.1 and late's 0.5


def test_the_leaderboard_summary_compare_and_plot_show_it(local: Local, tmp_path: Path) -> None:
    local.run(request(local.entry, ["good", "bad", "fine"]))
    local.run(request(local.entry, ["good", "bad", "fine"], name="es-off", auto=False))
    run, trials = local.store.get_run("es-local"), local.store.get_trials("es-local")
    board = Leaderboard.from_trials(trials, [ACC], ["shape"])
    assert [(r.trial_id, r.rank, r.status) for r in board.rows] == [
        ("g0000-t0000", 1, "Completed"), ("g0002-t0000", 2, "Completed"), ("g0001-t0000", 3, "Stopped")]
    stopped = board.rows[2]
    assert stopped.values == {METRIC: 0.1} and stopped.early_stopped and stopped.epochs in (1, 2)
    assert board.columns()[-4:] == ["epochs", "status", "duration_seconds", "failure_reason"]
    (row,) = [r for r in json.loads(board.to_json()) if r["early_stopped"]]
    assert row["status"] == "Stopped" and row["failure_reason"].startswith(EARLY_STOPPED)
    assert row["values"] == {METRIC: 0.1}
    assert "EarlyStopped: validation:accuracy 0.1 at epoch 1" in board.to_table()
    facts = summary(run, trials, [ACC])
    assert facts["trials"]["Stopped"] == 1
    assert facts["early_stopping"]["type"] == "Auto" and facts["early_stopping"]["stopped"] == 1
    assert facts["early_stopping"]["epochs"] == 10 + stopped.epochs
    comparison = compare([(run, trials), (local.store.get_run("es-off"), local.store.get_trials("es-off"))])
    auto, off = comparison.runs
    assert (auto.early_stopped, auto.stopped, off.early_stopped) == (1, 0, 0)
    assert (auto.epochs, off.epochs) == (10 + stopped.epochs, 90)
    assert "stopped early" in comparison.to_table()
    record = comparison.records()[0]
    assert (record["early_stopped"], record["epochs"]) == ("1", str(10 + stopped.epochs))

    pytest.importorskip("matplotlib")
    from byohpo.plot import draw_run

    fig = draw_run(trials, [ACC])
    progress, curves = fig.axes[:2]
    assert curves.get_title() == "learning curves"
    drawn = [line for line in curves.get_lines() if len(line.get_xdata()) > 1 or line.get_marker() == "None"]
    lengths = sorted(len(line.get_xdata()) for line in drawn)
    assert lengths == sorted([5, 5, stopped.epochs])  # the early-stopped curve is cut short
    crosses = [line for line in curves.get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 1 and list(crosses[0].get_xdata()) == [stopped.epochs]
    labels = progress.get_legend_handles_labels()[1]
    assert "stopped early, last value (1)" in labels
