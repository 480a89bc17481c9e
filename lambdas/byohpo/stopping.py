"""Stopping rules, pure functions shared by the local engine and the Evaluate Lambda."""

from __future__ import annotations

from dataclasses import dataclass


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
