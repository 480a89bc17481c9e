"""Warm start: a new run begins with the completed trials of its parents
(``WarmStartConfig.ParentHyperParameterTuningJobs``) in its history.

A parent is a byohpo run in the same store, or else a SageMaker Automatic Model Tuning job, read with
``ListTrainingJobsForHyperParameterTuningJob``. Parents must have finished, so that a retried Start
imports exactly what the first one did. Of each parent, the completed trials with a finite value of
every objective whose tuned values lie in this run's space are imported, in the parent's order
(byohpo: by generation and index; AMT: by training job name); the others are skipped (a
``TransferLearning`` parent may have had other ranges). Both ``WarmStartType`` values import alike.

The imported trials are written as the run's generation 0, ``Completed``, with the parent's job name and
``meta = {"warm_start": {"parent": <name>, "job_name": <job>}}``, before any proposal. They are history,
not budget: ``MaxNumberOfTrainingJobs`` counts only the run's own jobs (:func:`with_imported_budget`).
A strategy that replays its own proposals (the inspyred ones) cannot start from foreign trials; Start
finds that out by asking it once (:func:`check_strategy`) and refuses the request.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from byohpo.errors import FieldError, ReplayMismatchError, SearchExhausted, ValidationError
from byohpo.request import TuningRequest
from byohpo.space import Categorical, Continuous, SearchSpace
from byohpo.store.base import RunNotFoundError, Store
from byohpo.store.records import TrialRecord
from byohpo.trials import ParamValue

KEY = "warm_start"
_PARENTS = "WarmStartConfig.ParentHyperParameterTuningJobs"
_AMT_FINISHED = ("Completed", "Stopped", "Failed")


def is_imported(trial: TrialRecord) -> bool:
    return trial.generation == 0 and isinstance(trial.meta, Mapping) and KEY in trial.meta


def with_imported_budget(request: TuningRequest, trials: Sequence[TrialRecord]) -> TuningRequest:
    """The request with ``MaxNumberOfTrainingJobs`` raised by the number of imported trials, so that the
    budget (and its stopping rule) counts only the jobs this run starts."""
    imported = sum(1 for t in trials if is_imported(t))
    if not imported:
        return request
    stopping = dataclasses.replace(request.stopping, max_jobs=request.stopping.max_jobs + imported)
    return dataclasses.replace(request, stopping=stopping)


def import_trials(store: Store, request: TuningRequest, *, sagemaker: Any = None) -> list[TrialRecord]:
    """The parents' trials as generation 0 of ``request``'s run (empty without parents).

    Raises :class:`ValidationError` naming the parent's field when a parent does not exist (as a byohpo
    run, nor, with ``sagemaker``, as a tuning job) or has not finished.
    """
    found: list[tuple[str, str, dict[str, ParamValue], dict[str, str], dict[str, float], str | None,
                      str | None]] = []
    errors: list[FieldError] = []
    for i, parent in enumerate(request.warm_start_parents):
        path = f"{_PARENTS}[{i}].HyperParameterTuningJobName"
        try:
            found.extend(_from_run(store, request, parent, path))
        except _NotARun:
            if sagemaker is None:
                errors.append(FieldError(path, f"no byohpo run named {parent!r} in this store"))
                continue
            try:
                found.extend(_from_tuning_job(sagemaker, request, parent, path))
            except ValidationError as exc:
                errors.extend(exc.errors)
        except ValidationError as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationError(errors)
    return [TrialRecord.new(request.name, 0, index, params, meta={KEY: {"parent": parent, "job_name": job}},
                            hyperparameters=hyperparameters, status="Completed", values=values,
                            job_name=job, started_at=started, ended_at=ended)
            for index, (parent, job, params, hyperparameters, values, started, ended) in enumerate(found)]


def check_strategy(request: TuningRequest, imported: Sequence[TrialRecord]) -> None:
    """Refuse, naming ``WarmStartConfig``, a strategy that cannot propose after the imported trials."""
    if not imported:
        return
    try:
        request.build_strategy().propose([t.to_trial() for t in imported], request.max_parallel)
    except SearchExhausted:
        return  # a grid the parents covered: the run ends at once, which is right
    except ReplayMismatchError as exc:
        raise ValidationError(f"strategy {request.strategy!r} replays its own proposals and cannot start "
                              f"from other runs' trials ({exc}); use a strategy that learns from any "
                              "history (random, sobol, grid, bayesian) or drop WarmStartConfig",
                              _PARENTS) from exc


class _NotARun(Exception):
    pass


def _from_run(store: Store, request: TuningRequest, parent: str, path: str) -> list[tuple]:
    try:
        run = store.get_run(parent)
    except RunNotFoundError:
        raise _NotARun from None
    if not run.finished:
        raise ValidationError(f"run {parent!r} is {run.status}: warm start needs finished parents", path)
    out = []
    for trial in store.get_trials(parent):
        values = _objective_values(request, trial.values) if trial.status == "Completed" else None
        if values is None or _in_space(request.space, trial.params) is None:
            continue
        hyperparameters = dict(trial.hyperparameters) or request.space.to_hyperparameters(trial.params)
        out.append((parent, trial.job_name, dict(trial.params), hyperparameters, dict(trial.values or {}),
                    trial.started_at, trial.ended_at))
    return out


def _from_tuning_job(sagemaker: Any, request: TuningRequest, parent: str, path: str) -> list[tuple]:
    from botocore.exceptions import ClientError

    from byohpo.aws.training import iso_timestamp, not_found

    try:
        job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=parent)
    except ClientError as exc:
        if not_found(exc):
            raise ValidationError(f"no byohpo run and no SageMaker tuning job named {parent!r}",
                                  path) from None
        raise
    status = job.get("HyperParameterTuningJobStatus")
    if status not in _AMT_FINISHED:
        raise ValidationError(f"tuning job {parent!r} is {status}: warm start needs finished parents", path)
    out = []
    kwargs: dict[str, Any] = {"HyperParameterTuningJobName": parent, "StatusEquals": "Completed",
                              "SortBy": "Name", "SortOrder": "Ascending", "MaxResults": 100}
    while True:
        page = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(**kwargs)
        for summary in page.get("TrainingJobSummaries", ()):
            metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
            raw = {metric.get("MetricName"): metric.get("Value")} if metric else {}
            values = _objective_values(request, raw)
            params = _in_space(request.space, summary.get("TunedHyperParameters") or {})
            if values is None or params is None:
                continue
            out.append((parent, summary.get("TrainingJobName"), params,
                        request.space.to_hyperparameters(params), values,
                        iso_timestamp(summary.get("TrainingStartTime")),
                        iso_timestamp(summary.get("TrainingEndTime"))))
        token = page.get("NextToken")
        if not token:
            return out
        kwargs["NextToken"] = token


def _objective_values(request: TuningRequest, values: Mapping[str, Any] | None) -> dict[str, float] | None:
    """``values`` if they hold a finite value of every objective, else None."""
    if not values:
        return None
    out = {}
    for objective in request.objectives:
        value = values.get(objective.metric)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None
        out[objective.metric] = float(value)
    return {**{k: float(v) for k, v in values.items() if isinstance(v, int | float)
               and not isinstance(v, bool) and math.isfinite(v)}, **out}


def _in_space(space: SearchSpace, raw: Mapping[str, Any]) -> dict[str, ParamValue] | None:
    """Typed values of this space from a parent's params or its string hyperparameters; None when a
    tuned parameter is missing or out of range."""
    out: dict[str, ParamValue] = {}
    for param in space:
        if param.name not in raw:
            return None
        value = raw[param.name]
        try:
            if isinstance(param, Categorical):
                text = str(value)
                # The SageMaker SDK's framework estimators send strings JSON-quoted.
                value = text if text in param.values else text.strip('"')
            elif isinstance(param, Continuous):
                value = float(value)
            else:
                number = float(value)
                if not number.is_integer():
                    return None
                value = int(number)
        except (TypeError, ValueError):
            return None
        if not param.contains(value):
            return None
        out[param.name] = value
    return out


__all__ = ["KEY", "check_strategy", "import_trials", "is_imported", "with_imported_budget"]
