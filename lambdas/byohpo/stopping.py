"""Stopping rules, pure functions shared by the local engine and the Evaluate Lambda.

``check_stopping`` answers "should the run stop now, and why?" from the request's rules, the objectives
and the finished trials in history order (the order the strategy sees them: by generation, then index).
It reads no clock: the caller passes the elapsed wall time. The same history always gives the same
answer, so a retried Evaluate Lambda or a resumed local run decides exactly as the first one did.

Multi-objective runs: the target, not-improving and convergence rules look at the first objective
only (the request's ``HyperParameterTuningJobObjective``); the others simply run on.

A trial that early stopping stopped (``Trial.early_stopped``) counts with the last value it reported,
wherever a value counts: the best trial, the target, the not-improving count, convergence, and as a
success. SageMaker does the same: such a job keeps that value as its final objective metric, its
``ObjectiveStatus`` is ``Succeeded`` ("evaluated by the hyperparameter tuning job and used in the
hyperparameter tuning process", API ``HyperParameterTrainingJobSummary``), and its tuner ranks it by
that value with the completed jobs. The rule stops only jobs worse than the earlier ones' median, so
such a value rarely leads; when it does, it is a real model's (the job saves the model it has).
"""

from __future__ import annotations

import math
from collections.abc import Sequence, Sized
from dataclasses import dataclass

from byohpo.errors import SearchExhausted
from byohpo.trials import Objective, Trial

MAX_JOBS = "MaxNumberOfTrainingJobs"
MAX_RUNTIME = "MaxRuntimeInSeconds"
TARGET = "TargetObjectiveMetricValue"
NOT_IMPROVING = "BestObjectiveNotImproving"
CONVERGENCE = "ConvergenceDetected"
MAX_FAILED = "MaxFailedTrainingJobs"
EXHAUSTED = "StrategyExhausted"
CODES: tuple[str, ...] = (TARGET, MAX_FAILED, MAX_JOBS, MAX_RUNTIME, NOT_IMPROVING, CONVERGENCE, EXHAUSTED)

#: A training job "improves" the best only by at least 1% of it (SageMaker's API reference for
#: ``MaxNumberOfTrainingJobsNotImproving``: "failed to improve model performance by 1% or greater").
NOT_IMPROVING_TOLERANCE = 0.01
#: Convergence needs at least twice this many evaluated trials: its window is the later half of them.
CONVERGENCE_MIN_WINDOW = 20
#: Converged when the later half of the evaluations improved the best by less than this (relative).
CONVERGENCE_TOLERANCE = 0.001
#: Without ``MaxFailedTrainingJobs``: stop when this many jobs failed (or all jobs, if the run allows
#: fewer) and not one has succeeded yet; the training script or its metric regex is broken.
DEFAULT_FAILURES_BEFORE_SUCCESS = 5


@dataclass(frozen=True)
class StoppingRules:
    """The request's stopping criteria, parsed and validated by ``byohpo.request``.

    ``ResourceLimits.MaxNumberOfTrainingJobs`` -> ``max_jobs``; ``ResourceLimits.MaxRuntimeInSeconds`` ->
    ``max_runtime_seconds``; ``TuningJobCompletionCriteria``: ``TargetObjectiveMetricValue`` ->
    ``target_value``, ``BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving`` ->
    ``max_jobs_not_improving``, ``ConvergenceDetected.CompleteOnConvergence == "Enabled"`` ->
    ``convergence``, ``MaxFailedTrainingJobs`` (ours) -> ``max_failed_jobs``.
    """

    max_jobs: int
    max_runtime_seconds: int | None = None
    target_value: float | None = None
    max_jobs_not_improving: int | None = None
    convergence: bool = False
    max_failed_jobs: int | None = None


@dataclass(frozen=True)
class StopReason:
    """Why a run stopped: a stable ``code`` to branch on (one of ``CODES``, named after the request
    field that caused it) and a ``message`` for people, with the numbers. ``failed`` marks a run that
    ends without one successful training job, whichever rule ended it (``byohpo.tuning.conclude``)."""

    code: str
    message: str
    failed: bool = False

    @property
    def run_status(self) -> str:
        """The run's final status: ``Failed`` when training jobs kept failing or none succeeded, else
        ``Completed``."""
        return "Failed" if self.failed or self.code == MAX_FAILED else "Completed"

    @classmethod
    def exhausted(cls, exc: SearchExhausted) -> StopReason:
        """The reason for a strategy that raised :class:`~byohpo.errors.SearchExhausted`."""
        return cls(EXHAUSTED, str(exc) or "the strategy has nothing left to try")


def remaining_budget(rules: StoppingRules, trials: Sized) -> int:
    """How many more training jobs the run may start: ``MaxNumberOfTrainingJobs`` minus every trial
    written so far, pending, in flight or finished. The engine cuts the next generation to this.

    A rerun of a trial under a new job name (a new attempt) is the same trial and costs nothing here.
    """
    return max(0, rules.max_jobs - len(trials))


def check_stopping(rules: StoppingRules, objectives: Sequence[Objective], trials: Sequence[Trial],
                   elapsed_seconds: float | None = None) -> StopReason | None:
    """The reason to stop now, or None to go on.

    ``trials`` are the finished trials in history order; ``elapsed_seconds`` is the run's wall time
    (None skips ``MaxRuntimeInSeconds``). When several rules hold at once, the first in this list is
    reported, so a run that reached its target says so, and a run whose jobs all failed ends Failed:

    1. ``TargetObjectiveMetricValue``: the best value of the first objective (of the completed and the
       early-stopped trials, :meth:`Objective.score`) is ``>=`` the target (Maximize) or ``<=`` it
       (Minimize).
    2. ``MaxFailedTrainingJobs``: that many trials *failed*: status Failed, or ended (Completed or
       Stopped) without a finite value of every objective, SageMaker's ``ObjectiveStatus: Failed``
       ("the training job failed or did not emit an objective metric", API ObjectiveStatusCounters):
       a metric regex that never matches lands here, and so does a job stopped at its
       ``StoppingCondition.MaxRuntimeInSeconds`` before it printed a value. A stopped trial that keeps a
       value (early stopping) did not fail. A limit of 0 acts as 1. When the rule is not set: stop once
       the first ``min(5, MaxNumberOfTrainingJobs)`` trials all ended without success (one succeeds
       when it is Completed, or early-stopped, with a finite value of every objective), whether they
       failed, were stopped
       at their time limit or printed no value: the script, its metric regex or its time limit is
       wrong, and every further job is wasted.
    3. ``MaxNumberOfTrainingJobs``: that many trials finished, whatever their status.
    4. ``MaxRuntimeInSeconds``: ``elapsed_seconds >= MaxRuntimeInSeconds``.
    5. ``BestObjectiveNotImproving``: the last N finished training jobs did not improve the first
       objective's best by at least 1% (relative; any strict improvement when the best is 0). Failed
       jobs and jobs stopped without a value that counts count as not improving: they spent budget and
       found nothing. An early-stopped job counts with its last value, like a completed one. Improvements are
       measured from the value that last counted as one, so a slow creep of 0.5% steps still resets
       the count once it adds up to 1%. Nothing fires before some trial has a value.
    6. ``ConvergenceDetected`` (ours; SageMaker's detector is internal): with E the trials with a
       finite first-objective value that counts (:meth:`Objective.score`), in history order, and
       ``n = len(E) >= 40``, the best
       over all of E improves on the best over the first ``n - n // 2`` of them by less than 0.1% of
       the latter (relative; by nothing at all when it is 0). So at least 20 evaluations, half the
       run, found no meaningful improvement. Failures are no evidence of convergence and are ignored.
    """
    if not objectives:
        raise ValueError("check_stopping needs at least one objective")
    if elapsed_seconds is not None and math.isnan(elapsed_seconds):
        raise ValueError("elapsed_seconds is NaN")
    objective = objectives[0]
    for rule in (_target, _failures, _max_jobs, _runtime, _not_improving, _convergence):
        reason = rule(rules, objectives, objective, trials, elapsed_seconds)
        if reason is not None:
            return reason
    return None


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _improves(new: float, reference: float, tolerance: float) -> bool:
    """Does oriented (larger is better) ``new`` beat ``reference`` by at least ``tolerance`` of it?"""
    gain = new - reference
    return gain > 0 and gain >= tolerance * abs(reference)


def _oriented(objective: Objective, score: float) -> float:
    return objective.sign * score  # back from "larger is better" to the metric's own value


def _best(objective: Objective, trials: Sequence[Trial]) -> tuple[float, int] | None:
    """The best oriented score and its 1-based position in the history."""
    best: tuple[float, int] | None = None
    for position, trial in enumerate(trials, 1):
        score = objective.score(trial)
        if score is not None and (best is None or score > best[0]):
            best = (score, position)
    return best


def _target(rules, objectives, objective, trials, elapsed) -> StopReason | None:
    if rules.target_value is None:
        return None
    best = _best(objective, trials)
    if best is None or not best[0] >= objective.sign * rules.target_value:
        return None
    op = ">=" if objective.direction == "Maximize" else "<="
    return StopReason(TARGET, f"best {objective.metric} {_fmt(_oriented(objective, best[0]))} (training job "
                              f"{best[1]}) reached the target {op} {_fmt(rules.target_value)}")


def _has_values(objectives: Sequence[Objective], trial: Trial) -> bool:
    """Does the trial have a finite value of every objective, whatever its status?"""
    values = trial.values or {}
    return all(isinstance(values.get(o.metric), int | float) and math.isfinite(values[o.metric])
               for o in objectives)


def _failed(objectives: Sequence[Objective], trial: Trial) -> bool:
    return trial.status == "Failed" or not _has_values(objectives, trial)


def succeeded(objectives: Sequence[Objective], trial: Trial) -> bool:
    """Did the training job succeed: Completed, or stopped by early stopping, with a finite value of
    every objective?"""
    return (trial.status == "Completed" or trial.early_stopped) and _has_values(objectives, trial)


def _failures(rules, objectives, objective, trials, elapsed) -> StopReason | None:
    if rules.max_failed_jobs is not None:
        failed = [t for t in trials if _failed(objectives, t)]
        if len(failed) < max(1, rules.max_failed_jobs):
            return None
        how = _breakdown(objectives, failed)
        detail = "" if how == f"{len(failed)} failed" else f" ({how})"
        return StopReason(MAX_FAILED, f"{_jobs(len(failed))} failed{detail}, the limit is "
                                      f"MaxFailedTrainingJobs={rules.max_failed_jobs}")
    if any(succeeded(objectives, t) for t in trials) or \
            len(trials) < max(1, min(DEFAULT_FAILURES_BEFORE_SUCCESS, rules.max_jobs)):
        return None
    first = "the only training job" if len(trials) == 1 else f"all {len(trials)} training jobs so far"
    return StopReason(MAX_FAILED, f"none succeeded: {first} ended without a value of "
                                  f"{_metrics(objectives)} ({_breakdown(objectives, trials)})")


def _breakdown(objectives: Sequence[Objective], trials: Sequence[Trial]) -> str:
    """``3 failed, 2 stopped, 1 completed without a value``: how the trials ended."""
    counts = {"failed": 0, "stopped": 0, "completed without a value": 0}
    for t in trials:
        if t.status == "Failed":
            counts["failed"] += 1
        elif t.status == "Stopped":
            counts["stopped"] += 1
        elif not _has_values(objectives, t):
            counts["completed without a value"] += 1
    return ", ".join(f"{n} {what}" for what, n in counts.items() if n)


def _jobs(n: int) -> str:
    return f"{n} training job{'s' * (n != 1)}"


def _metrics(objectives: Sequence[Objective]) -> str:
    return " and ".join(o.metric for o in objectives)


def _max_jobs(rules, objectives, objective, trials, elapsed) -> StopReason | None:
    if len(trials) < rules.max_jobs:
        return None
    return StopReason(MAX_JOBS, f"{_jobs(len(trials))} finished, the limit is "
                                f"MaxNumberOfTrainingJobs={rules.max_jobs}")


def out_of_time(rules: StoppingRules, elapsed_seconds: float | None) -> StopReason | None:
    """The ``MaxRuntimeInSeconds`` rule alone: the reason when the run's time is up, else None. A
    driver that stopped trials because the run's time was up ends the run with this, since those
    trials, stopped without a value, say nothing about the training script."""
    return _runtime(rules, (), None, (), elapsed_seconds)


def _runtime(rules, objectives, objective, trials, elapsed) -> StopReason | None:
    if rules.max_runtime_seconds is None or elapsed is None or elapsed < rules.max_runtime_seconds:
        return None
    return StopReason(MAX_RUNTIME, f"the run has taken {elapsed:.0f} s, the limit is "
                                   f"MaxRuntimeInSeconds={rules.max_runtime_seconds}")


def _not_improving(rules, objectives, objective, trials, elapsed) -> StopReason | None:
    limit = rules.max_jobs_not_improving
    if limit is None:
        return None
    reference: float | None = None
    since = 0  # finished jobs after the one that last improved the best
    for trial in trials:
        score = objective.score(trial)
        if score is not None and (reference is None or _improves(score, reference, NOT_IMPROVING_TOLERANCE)):
            reference, since = score, 0
        else:
            since += 1
    if reference is None or since < max(1, limit):
        return None
    best = _best(objective, trials)
    assert best is not None
    return StopReason(NOT_IMPROVING, f"best {objective.metric} {_fmt(_oriented(objective, best[0]))} did "
                                     f"not improve by {NOT_IMPROVING_TOLERANCE:.0%} in the last "
                                     f"{_jobs(since)} (MaxNumberOfTrainingJobsNotImproving={limit})")


def _convergence(rules, objectives, objective, trials, elapsed) -> StopReason | None:
    if not rules.convergence:
        return None
    scores = [s for s in (objective.score(t) for t in trials) if s is not None]
    if len(scores) < 2 * CONVERGENCE_MIN_WINDOW:
        return None
    window = len(scores) // 2
    before, now = max(scores[:-window]), max(scores)
    if _improves(now, before, CONVERGENCE_TOLERANCE):
        return None
    return StopReason(CONVERGENCE, f"best {objective.metric} {_fmt(_oriented(objective, now))} improved by "
                                   f"less than {CONVERGENCE_TOLERANCE:.1%} over the last {window} of "
                                   f"{len(scores)} evaluated training jobs (it was "
                                   f"{_fmt(_oriented(objective, before))})")
