"""SageMaker training jobs of a run: the CreateTrainingJob parameters of each trial, and what became of
a job (a Map iteration's result, a caught error, or a DescribeTrainingJob), recorded in the store.

The request's training definition (``HyperParameterTrainingJobDefinition``) becomes CreateTrainingJob
parameters field by field, every field CreateTrainingJob takes passed on unchanged:
``StaticHyperParameters`` become the shared ``HyperParameters``, into which each trial's tuned values
are merged (the shared fields travel once per generation, the static values not once per trial);
``HyperParameterTuningResourceConfig`` (one instance type) becomes ``ResourceConfig``; the keys the
request absorbed (ranges, objective) and ``Local`` (the local engine's) are not sent. Start checks
the result against botocore's CreateTrainingJob input shape with botocore's ``ParamValidator``, so that
a field SageMaker would refuse fails the run before it starts, not an hour later in the Map.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from byohpo.errors import FieldError, ValidationError
from byohpo.metrics import final_metric_values, missing_metric_reason
from byohpo.request import TuningRequest, aws_requirements
from byohpo.space import format_value
from byohpo.store.base import Store
from byohpo.store.records import TrialRecord, utc_now
from byohpo.tuning import training_job_name

log = logging.getLogger(__name__)

#: Tag put on every training job of a run (with the request's own ``Tags``), to find a run's jobs.
RUN_TAG = "byohpo:run"
#: Keys of the definition that CreateTrainingJob does not take and byohpo handles itself.
_NOT_SENT = ("DefinitionName", "TuningObjective", "HyperParameterRanges", "StaticHyperParameters", "Local")
#: ``HyperParameterTuningResourceConfig`` members that mean the same in ``ResourceConfig``.
_RESOURCE_KEYS = ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId")
#: SageMaker's FailureReason is at most 1024 characters; ours (with a caught error's cause) too.
MAX_REASON = 1024
#: Keys Propose's ``training`` always has, so that a JSONPath Map task may name them without a
#: missing-path error: CreateTrainingJob's required fields, those byohpo fills in, and the booleans.
ALWAYS_PRESENT = ("AlgorithmSpecification", "RoleArn", "OutputDataConfig", "ResourceConfig",
                  "StoppingCondition", "HyperParameters", "EnableNetworkIsolation",
                  "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining", "Environment", "Tags")
_BOOLEANS = ("EnableNetworkIsolation", "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining")

FINISHED = ("Completed", "Failed", "Stopped")
RUNNING = ("InProgress", "Stopping")


@lru_cache(maxsize=1)
def _create_shape() -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model("CreateTrainingJob").input_shape


# -- CreateTrainingJob parameters ------------------------------------------------------------------

def shared_training_fields(request: TuningRequest) -> dict[str, Any]:
    """CreateTrainingJob parameters every trial of the run shares: all but ``TrainingJobName``, with
    the static hyperparameters as ``HyperParameters``. The keys of :data:`ALWAYS_PRESENT` are always
    there; the definition's other fields (``InputDataConfig``, ``VpcConfig``, ``CheckpointConfig``, ...)
    when it has them.

    Raises :class:`ValidationError` naming the definition's field for one CreateTrainingJob cannot
    take (checked again, with every other problem, by :func:`check_training`)."""
    fields, errors = _translate(request)
    if errors:
        raise ValidationError(errors)
    return fields


def _translate(request: TuningRequest) -> tuple[dict[str, Any], list[FieldError]]:
    members = _create_shape().members
    tpath = request.training_path
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key, value in request.training.items():
        if key in _NOT_SENT:
            continue
        if key == "HyperParameterTuningResourceConfig":
            if "ResourceConfig" in request.training:
                errors.append(FieldError(f"{tpath}.{key}", "give ResourceConfig or "
                                                           "HyperParameterTuningResourceConfig, not both"))
                continue
            resource, problem = _resource_config(value)
            if problem:
                errors.append(FieldError(f"{tpath}.{key}.InstanceConfigs", problem))
            out["ResourceConfig"] = resource
        elif key in members and key not in ("TrainingJobName", "HyperParameters", "Tags"):
            out[key] = copy.deepcopy(value)
        else:
            errors.append(FieldError(f"{tpath}.{key}", "is not a CreateTrainingJob field byohpo can pass "
                                                       "on to the training jobs"))
    out["HyperParameters"] = dict(request.space.static)
    for key in _BOOLEANS:
        out.setdefault(key, False)
    out.setdefault("Environment", {})
    tags = [t for t in request.tags if isinstance(t, Mapping) and t.get("Key") != RUN_TAG]
    out["Tags"] = [*copy.deepcopy(tags), {"Key": RUN_TAG, "Value": request.name}]
    return out, errors


def _resource_config(value: Any) -> tuple[dict[str, Any], str | None]:
    """``HyperParameterTuningResourceConfig`` as a ``ResourceConfig``: one instance type only (instance
    pools let SageMaker pick per job, which a run of single training jobs cannot)."""
    value = value if isinstance(value, Mapping) else {}
    out = {k: value[k] for k in _RESOURCE_KEYS if k in value}
    configs = value.get("InstanceConfigs") or []
    if len(configs) > 1:
        return out, "several instance configurations (instance pools) are not supported: give one"
    if configs and isinstance(configs[0], Mapping):
        out.update({k: configs[0][k] for k in _RESOURCE_KEYS if k in configs[0]})
    return out, None


def tuned_hyperparameters(request: TuningRequest, trial: TrialRecord) -> dict[str, str]:
    """The trial's tuned hyperparameters (its record holds the static ones too)."""
    return {name: trial.hyperparameters[name] for name in request.space.names}


def create_training_job_params(shared: Mapping[str, Any], job_name: str,
                               hyperparameters: Mapping[str, str]) -> dict[str, Any]:
    """One trial's CreateTrainingJob parameters, what the Map iteration sends: the shared fields, the
    job's name, and the shared (static) ``HyperParameters`` merged with the trial's (which win, as in
    ``States.JsonMerge(static, tuned, false)``)."""
    return {**copy.deepcopy(dict(shared)), "TrainingJobName": job_name,
            "HyperParameters": {**shared.get("HyperParameters", {}), **hyperparameters}}


def check_training(request: TuningRequest) -> dict[str, Any]:
    """The shared fields (:func:`shared_training_fields`), after checking a sample trial's complete
    CreateTrainingJob parameters against botocore's input shape. Every problem is reported at once, in
    one :class:`ValidationError` whose paths are the request's fields."""
    fields, errors = _translate(request)
    errors = [*aws_requirements(request), *errors]  # what a request for this machine may leave out
    # The longest job name a run can have, and the space's centre as the tuned values.
    centre = request.space.decode([0.5] * request.space.dims)
    sample = create_training_job_params(fields, training_job_name(request.name, 9999, 9999, 99),
                                        {p.name: format_value(centre[p.name]) for p in request.space})
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(sample, _create_shape())
    for kind, name, details in getattr(report, "_errors", ()):
        errors.append(_field_error(request, kind, name, details))
    if report.has_errors() and not getattr(report, "_errors", None):  # a botocore without _errors
        errors.append(FieldError(request.training_path, report.generate_report()))
    hyperparameters = sample["HyperParameters"]
    if len(hyperparameters) > 100:
        errors.append(FieldError(f"{request.training_path}.StaticHyperParameters",
                                 f"a training job takes at most 100 hyperparameters, these are "
                                 f"{len(hyperparameters)} with the tuned ones"))
    if errors:
        ours = {e.path for e in aws_requirements(request)}  # said once, not again as botocore's
        errors = [e for e in errors if e.path not in ours or not e.message.endswith("by CreateTrainingJob")]
        raise ValidationError(list(dict.fromkeys(errors)))
    return fields


def _field_error(request: TuningRequest, kind: str, name: str, details: Mapping[str, Any]) -> FieldError:
    """A botocore validation error, named by the request's field it came from."""
    name = name.lstrip(".")
    head, _, rest = name.partition(".")
    base = head.split("[", 1)[0]
    if base == "HyperParameters":
        path = f"{request.training_path}.StaticHyperParameters" + (f".{rest}" if rest else "")
    elif base == "Tags":
        path = name
    elif base == "TrainingJobName":
        path = "HyperParameterTuningJobName"
    elif base == "ResourceConfig" and "HyperParameterTuningResourceConfig" in request.training:
        path = f"{request.training_path}.HyperParameterTuningResourceConfig" + name[len(base):]
    else:
        path = f"{request.training_path}.{name}" if name else request.training_path
    if kind == "missing required field":
        required = details.get("required_name")
        return FieldError(f"{path}.{required}" if path else str(required),
                          "is required by CreateTrainingJob")
    if kind == "unknown field":
        return FieldError(f"{path}.{details.get('unknown_param')}", "is not a CreateTrainingJob field "
                          f"(expected one of {', '.join(details.get('valid_names', ()))})")
    if kind == "invalid type":
        return FieldError(path, f"must be of type {', '.join(details.get('valid_types', ()))} for "
                                f"CreateTrainingJob, not {type(details.get('param')).__name__}")
    if kind in ("invalid length", "invalid range"):
        what = "length" if kind == "invalid length" else "value"
        return FieldError(path, f"{what} must be at least {details.get('min_allowed')} for "
                                "CreateTrainingJob")
    return FieldError(path, f"refused by CreateTrainingJob's input shape: {kind}")


# -- what became of a job --------------------------------------------------------------------------

@dataclass(frozen=True)
class JobOutcome:
    """What is known of one trial's training job.

    ``status``: SageMaker's ``TrainingJobStatus`` (``Completed``, ``Failed``, ``Stopped``,
    ``InProgress``, ``Stopping``); ``Missing`` when no job of that name exists; ``Error`` when the Map
    caught an error that does not say what became of the job (it may exist: describe it).
    """

    status: str
    job_name: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    failure_reason: str | None = None
    started_at: str | None = None
    ended_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def running(self) -> bool:
        return self.status in RUNNING


def outcome_of_description(desc: Mapping[str, Any]) -> JobOutcome:
    """The outcome a DescribeTrainingJob response (or the part of it the Map kept) tells."""
    status = desc.get("TrainingJobStatus")
    reason = desc.get("FailureReason")
    return JobOutcome(
        status=status if isinstance(status, str) else "Error",
        job_name=desc.get("TrainingJobName") if isinstance(desc.get("TrainingJobName"), str) else None,
        values=final_metric_values(desc.get("FinalMetricDataList")),
        failure_reason=clip(reason) if isinstance(reason, str) and reason else None,
        started_at=iso_timestamp(desc.get("TrainingStartTime")),
        ended_at=iso_timestamp(desc.get("TrainingEndTime")),
    )


def outcome_of_result(result: Mapping[str, Any]) -> JobOutcome:
    """The outcome a Map iteration's result tells: a job's trimmed description, or a caught error
    ``{"Error", "Cause"}``. A ``.sync`` task whose job failed or was stopped fails with the job's
    description as its Cause (JSON); that description is read. Any other caught error is ``Error``."""
    if "Error" not in result and "Cause" not in result:
        return outcome_of_description(result)
    error, cause = result.get("Error"), result.get("Cause")
    described = _json_object(cause)
    if described is not None and isinstance(described.get("TrainingJobStatus"), str):
        outcome = outcome_of_description(described)
        if outcome.status == "Failed" and not outcome.failure_reason:
            return replace(outcome, failure_reason=clip(f"{error}: the training job failed"))
        return outcome
    text = f"{error or 'Error'}: {cause}" if cause else str(error or "Error")
    return JobOutcome(status="Error", failure_reason=clip(text))


def describe_job(sagemaker: Any, job_name: str) -> JobOutcome:
    """DescribeTrainingJob as an outcome; ``Missing`` when SageMaker has no job of that name."""
    from botocore.exceptions import ClientError

    try:
        desc = sagemaker.describe_training_job(TrainingJobName=job_name)
    except ClientError as exc:
        if not_found(exc):
            return JobOutcome(status="Missing", job_name=job_name)
        raise
    return outcome_of_description(desc)


def stop_job(sagemaker: Any, job_name: str) -> None:
    """Ask SageMaker to stop a job; a job that has ended meanwhile is fine."""
    from botocore.exceptions import ClientError

    try:
        sagemaker.stop_training_job(TrainingJobName=job_name)
    except ClientError as exc:
        log.warning("could not stop training job %s: %s", job_name, exc)


def not_found(exc: Any) -> bool:
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), str(error.get("Message", "")).lower()
    # SageMaker answers an unknown training job with ValidationException "Requested resource not found".
    return code in ("ResourceNotFound", "ResourceNotFoundException") or (
        code == "ValidationException" and ("not found" in message or "could not find" in message))


# -- recording an outcome --------------------------------------------------------------------------

#: Reads a completed job's metrics from its logs: ``(job_name) -> (values, nonfinite)``.
LogReader = Callable[[str], tuple[dict[str, float], dict[str, str]]]


def record_outcome(store: Store, request: TuningRequest, trial: TrialRecord, outcome: JobOutcome, *,
                   read_logs: LogReader | None = None) -> TrialRecord:
    """Write a finished job's outcome to its trial; returns the trial as stored.

    Metrics come from ``FinalMetricDataList``; when it lacks an objective, from the job's logs with the
    request's ``MetricDefinitions`` (``read_logs``), the list winning for the metrics it has. A
    completed job still without every objective stays ``Completed`` with the reason it has no value
    (the stopping rules count it as failed). Conditional on the trial's attempt, so a late result of an
    abandoned attempt cannot overwrite its rerun (``VersionConflictError``).
    """
    if not outcome.finished:
        raise ValueError(f"trial {trial.trial_id}: job status {outcome.status} is not a final one")
    values = dict(outcome.values)
    reason = outcome.failure_reason
    job_name = outcome.job_name or trial.job_name
    metrics = [o.metric for o in request.objectives]
    if outcome.status == "Completed" and any(m not in values for m in metrics):
        nonfinite: dict[str, str] = {}
        if read_logs is not None and job_name:
            logged, nonfinite = read_logs(job_name)
            values = {**logged, **values}
        missing = [m for m in metrics if m not in values]
        if missing:
            definitions = request.log_metric_definitions()
            reason = clip("; ".join(missing_metric_reason(m, definitions, nonfinite) for m in missing))
    values = {k: float(v) for k, v in values.items() if math.isfinite(v)}
    return store.update_trial(
        trial.run, trial.trial_id, expected_attempt=trial.attempt, status=outcome.status,
        values=values or None, failure_reason=reason, job_name=job_name,
        started_at=outcome.started_at or trial.started_at, ended_at=outcome.ended_at or utc_now())


def reconcile(store: Store, request: TuningRequest, trial: TrialRecord, sagemaker: Any, *,
              read_logs: LogReader | None = None, error: JobOutcome | None = None) -> TrialRecord:
    """Settle an unfinished trial from its job as SageMaker knows it (a job that exists is adopted,
    never created twice):

    * the job ended: its outcome is recorded;
    * the job runs: the trial is marked ``InProgress`` (Evaluate answers ``wait`` until it ends);
    * no job of that name: with ``error`` (what the Map caught when creating it) the trial fails with
      it; without, the trial is readied to run again under the next attempt's job name (``Pending``).
    """
    job_name = trial.job_name or training_job_name(trial.run, trial.generation, trial.index, trial.attempt)
    outcome = describe_job(sagemaker, job_name)
    if outcome.finished:
        return record_outcome(store, request, trial, outcome, read_logs=read_logs)
    if outcome.running:
        if trial.status == "InProgress":
            return trial
        return store.update_trial(trial.run, trial.trial_id, expected_attempt=trial.attempt,
                                  status="InProgress", job_name=job_name,
                                  started_at=outcome.started_at or trial.started_at)
    if error is not None:
        return store.update_trial(trial.run, trial.trial_id, expected_attempt=trial.attempt, status="Failed",
                                  failure_reason=error.failure_reason, job_name=job_name, ended_at=utc_now())
    attempt = trial.attempt + 1
    return store.update_trial(trial.run, trial.trial_id, expected_attempt=trial.attempt, status="Pending",
                              attempt=attempt, job_name=training_job_name(trial.run, trial.generation,
                                                                          trial.index, attempt),
                              started_at=None, ended_at=None)


# -- helpers ---------------------------------------------------------------------------------------

def clip(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"


def _json_object(text: Any) -> dict[str, Any] | None:
    if isinstance(text, Mapping):
        return dict(text)
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def iso_timestamp(value: Any) -> str | None:
    """An ISO-8601 UTC string from what a timestamp looks like after botocore (datetime), Step
    Functions (epoch milliseconds, as it writes SageMaker's timestamps) or JSON (ISO text)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        seconds = value / 1000 if abs(value) > 1e11 else value
        moment = datetime.fromtimestamp(seconds, UTC)
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    else:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = ["ALWAYS_PRESENT", "RUN_TAG", "JobOutcome", "check_training", "clip", "create_training_job_params",
           "describe_job", "iso_timestamp", "not_found", "outcome_of_description", "outcome_of_result",
           "reconcile", "record_outcome", "shared_training_fields", "stop_job", "tuned_hyperparameters"]
