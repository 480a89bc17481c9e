"""Replay a finished local run through SageMaker's early-stopping rule: which jobs would ``Auto`` have
stopped, at which epoch, and how many epochs would that have saved?

    python examples/early_stopping/replay.py digits-no-early-stopping [--store byohpo-runs/byohpo.sqlite]

A run made with ``Auto`` (``digits-early-stopping``) stopped its jobs for real: for it, this prints what
the run decided, job by job, as the store recorded it (a stopped job's log ends where it was stopped,
so there is nothing to replay).

For a run without early stopping, it reads the run's request and trials from the store, and each
trial's objective curve from its ``train.log`` with the request's ``MetricDefinitions``
(``byohpo.early_stopping.read_curve``). Then it replays the run on an epoch clock, as the engine
schedules it: generation after generation, each generation's jobs in order on
``MaxParallelTrainingJobs`` slots, every job one epoch per tick. After each epoch the rule
(``byohpo.early_stopping.judge_epoch``) judges the job against the jobs finished at an earlier tick;
a job it stops ends there and counts afterwards with its shortened curve.

The jobs themselves are the ones the run tried: with ``Auto`` applied for real, a strategy that sees
stopped trials might have proposed others from then on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from byohpo import Objective
from byohpo.early_stopping import EARLY_STOPPED, Curve, Verdict, judge_epoch, read_curve
from byohpo.request import parse_request
from byohpo.store import SQLiteStore, TrialRecord


def replay(generations: list[list[Curve]], objective: Objective, parallel: int
           ) -> list[list[tuple[int, Verdict | None]]]:
    """For each job: the epochs it would have run and the verdict that stopped it (None: ran to its end)."""
    finished: list[Curve] = []
    out = []
    for curves in generations:
        done = [0] * len(curves)
        stopped: list[Verdict | None] = [None] * len(curves)
        waiting, running = list(range(len(curves))), []
        while waiting or running:
            while waiting and len(running) < parallel:
                running.append(waiting.pop(0))
            before = list(finished)
            for j in list(running):
                done[j] += 1
                if done[j] < curves[j].epochs:
                    verdict = judge_epoch(curves[j], done[j], before, objective)
                    stopped[j] = verdict if verdict.stop else None
                if stopped[j] is not None or done[j] >= curves[j].epochs:
                    running.remove(j)
                    finished.append(curves[j].up_to(done[j]))
        out.append(list(zip(done, stopped, strict=True)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("run")
    parser.add_argument("--store", default="byohpo-runs/byohpo.sqlite")
    args = parser.parse_args()
    store = SQLiteStore(Path(args.store))
    run = store.get_run(args.run)
    request = parse_request(run.request)
    objective = request.objectives[0]
    parallel = run.request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"]
    if request.early_stopping:
        report(store, run.name, objective)
        return
    trials = [t for t in store.get_trials(run.name) if t.finished and t.log_path]
    by_generation: dict[int, list[TrialRecord]] = {}
    for trial in sorted(trials, key=lambda t: (t.generation, t.index)):
        by_generation.setdefault(trial.generation, []).append(trial)
    generations = [[read_curve(Path(t.log_path).read_text(), request.metric_definitions, objective.metric)
                    for t in group] for group in by_generation.values()]
    results = replay(generations, objective, parallel)
    total = kept = stops = 0
    best_off = best_on = None
    print(f"{'trial':<13}{'epochs':>7}{'Auto':>6}  {objective.metric} / what the rule says")
    for group, curves, outcome in zip(by_generation.values(), generations, results, strict=True):
        for trial, curve, (epochs, verdict) in zip(group, curves, outcome, strict=True):
            total += curve.epochs
            kept += epochs
            stops += verdict is not None
            final = curve.value_at(epochs) if epochs else None
            if curve.last is not None and (best_off is None or objective.better(curve.last, best_off)):
                best_off = curve.last
            if final is not None and final == final and (best_on is None or objective.better(final, best_on)):
                best_on = final
            what = verdict.reason if verdict else f"ran to its end: {curve.last}"
            print(f"{trial.trial_id:<13}{curve.epochs:>7}{epochs:>6}  {what}")
    if not total:
        sys.exit(f"run {run.name} has no trial with a value of {objective.metric} in its log")
    print(f"\n{stops} of {len(trials)} training jobs stopped early; {kept} of {total} epochs "
          f"({1 - kept / total:.0%} saved). Best {objective.metric}: {best_off} without early stopping, "
          f"{best_on} with it.")


def report(store: SQLiteStore, run: str, objective: Objective) -> None:
    """What a run with ``Auto`` decided: each finished trial's epochs, and why it stopped."""
    trials = [t for t in store.get_trials(run) if t.finished]
    print(f"{'trial':<13}{'epochs':>7}  {objective.metric} / what the rule said")
    stops = 0
    for trial in trials:
        value = (trial.values or {}).get(objective.metric)
        early = trial.status == "Stopped" and (trial.failure_reason or "").startswith(EARLY_STOPPED)
        stops += early
        what = trial.failure_reason if early else f"{trial.status.lower()}: {value}"
        print(f"{trial.trial_id:<13}{trial.learning_curve().epochs:>7}  {what}")
    print(f"\n{stops} of {len(trials)} training jobs stopped early; "
          f"{sum(t.learning_curve().epochs for t in trials)} epochs run (the run used Auto: replay a run "
          f"of the same request with Off to see what it saves).")


if __name__ == "__main__":
    main()
