"""SageMaker training jobs of a run: the CreateTrainingJob parameters of each trial, and what became of
a job (a Map iteration's result, a caught error, or a DescribeTrainingJob), recorded in the store.

The request's training definition (``HyperParameterTrainingJobDefinition``) becomes CreateTrainingJob
parameters field by field, every field CreateTrainingJob takes passed on unchanged:
``StaticHyperParameters`` become the shared ``HyperParameters``, into which each trial's tuned values
are merged (the shared fields travel once per generation, the static values not once per trial);
``HyperParameterTuningResourceConfig`` (one instance type) becomes ``ResourceConfig``; the request's
``Tags`` get byohpo's (``byohpo.job_tags``); the keys the request absorbed (ranges, objective) and
``Local`` (the local engine's) are not sent. Start checks the result (:func:`check_training`) against
botocore's CreateTrainingJob input shape — botocore's ``ParamValidator`` for types and minima, our own
walk for the maxima and patterns it skips — and against what the state machine needs, so that a field
SageMaker would refuse fails the run before it starts, not an hour later in the Map.

A job is adopted as a trial's only when it is that trial's (:func:`owned_by`): SageMaker's names are
unique per account and Region for ever, so a job of that name may be another run's (another table or
stack, or this run's name used again after its table was emptied).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from byohpo.early_stopping import EARLY_STOPPED
from byohpo.errors import FieldError, ValidationError
from byohpo.job_tags import RUN_TAG, job_tags
from byohpo.metrics import final_metric_values, missing_metric_reason
from byohpo.request import TuningRequest, aws_requirements
from byohpo.space import format_value
from byohpo.store.base import Store
from byohpo.store.records import RunRecord, TrialRecord, parse_trial_id, utc_now
from byohpo.tuning import TOKEN_LENGTH, training_job_name

log = logging.getLogger(__name__)

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
#: Of those, the ones the request must give: the Map's task reads each with a JSONPath, and a path
#: that finds nothing fails the iteration with States.Runtime, which no Catch handles — whatever
#: CreateTrainingJob's own model requires (its newer versions require only the name, role and output).
REQUIRED_BY_THE_MAP = ("AlgorithmSpecification", "RoleArn", "OutputDataConfig", "ResourceConfig",
                       "StoppingCondition")
_BOOLEANS = ("EnableNetworkIsolation", "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining")
#: What a Map iteration may hold: CreateTrainingJob's parameters as its input, and the job's
#: description (the same parameters, and up to ~32 KiB SageMaker adds: status transitions, up to 40
#: final metrics) beside them after the ``.sync`` task, within Step Functions' 262,144 bytes per state.
MAX_TRAINING_BYTES = (256 * 1024 - 32 * 1024) // 2

FINISHED = ("Completed", "Failed", "Stopped")
RUNNING = ("InProgress", "Stopping")

#: The errors a Map iteration reports when SageMaker could not take the job now: throttled, or out of
#: instance quota (``state_machine.training``'s retriers gave up). The trial waits for a later
#: attempt under a new name instead of failing, at most :data:`RETRY_LATER_ATTEMPTS` times.
THROTTLING_ERRORS = ("SageMaker.ThrottlingException",)
CAPACITY_ERRORS = ("SageMaker.ResourceLimitExceededException", "SageMaker.ResourceLimitExceeded")
#: SageMaker's unmodelled errors, throttling among them (its Cause says so) and validation errors.
UNMODELLED_ERROR = "SageMaker.AmazonSageMakerException"
_THROTTLED_CAUSE = re.compile(r"Error Code: ThrottlingException|Rate exceeded")
RETRY_LATER_ATTEMPTS = 4
#: How much earlier than its run a job may have been created (clocks differ) and still be the run's.
CLOCK_SKEW = timedelta(seconds=60)
_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


@lru_cache(maxsize=1)
def _create_shape() -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model("CreateTrainingJob").input_shape


# -- CreateTrainingJob parameters ------------------------------------------------------------------

def shared_training_fields(request: TuningRequest, *, stack: str | None = None) -> dict[str, Any]:
    """CreateTrainingJob parameters every trial of the run shares: all but ``TrainingJobName``, with
    the static hyperparameters as ``HyperParameters`` and ``Tags`` with byohpo's (``stack`` is the
    deploying stack's name, ``BYOHPO_STACK``). The keys of :data:`ALWAYS_PRESENT` are always there;
    the definition's other fields (``InputDataConfig``, ``VpcConfig``, ``CheckpointConfig``, ...) when
    it has them.

    Raises :class:`ValidationError` naming the definition's field for one CreateTrainingJob cannot
    take (checked again, with every other problem, by :func:`check_training`)."""
    fields, errors = _translate(request, stack)
    if errors:
        raise ValidationError(errors)
    return fields


def _translate(request: TuningRequest, stack: str | None) -> tuple[dict[str, Any], list[FieldError]]:
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
    out["Tags"] = job_tags(copy.deepcopy(request.tags), request.name, stack)
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


def check_training(request: TuningRequest, *, stack: str | None = None,
                   role: str | None = None) -> dict[str, Any]:
    """The shared fields (:func:`shared_training_fields`), after checking a sample trial's complete
    CreateTrainingJob parameters — the longest job name a run can have, the space's centre as the
    tuned values, ``role`` when the state machine gives every job a fixed role — against botocore's
    input shape (types, minima, maxima, patterns), the fields the Map's task reads, and the size a Map
    iteration can hold. Every problem is reported at once, in one :class:`ValidationError` whose paths
    are the request's fields."""
    fields, errors = _translate(request, stack)
    required = aws_requirements(request)  # what a request for this machine may leave out
    ours = {e.path for e in required}  # said once, not again as botocore's or the Map's
    errors = [*required, *errors]
    centre = request.space.decode([0.5] * request.space.dims)
    longest = training_job_name(request.name, 99999, 9999, 99, token="x" * TOKEN_LENGTH)
    sample = create_training_job_params(fields, longest,
                                        {p.name: format_value(centre[p.name]) for p in request.space})
    if role:
        sample["RoleArn"] = role
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(sample, _create_shape())
    for kind, name, details in getattr(report, "_errors", ()):
        errors.append(_field_error(request, kind, name, details))
    if report.has_errors() and not getattr(report, "_errors", None):  # a botocore without _errors
        errors.append(FieldError(request.training_path, report.generate_report()))
    errors += [_limit_error(request, name, message)
               for name, message in shape_limits(sample, _create_shape())]
    for key in REQUIRED_BY_THE_MAP:
        if key not in sample and f"{request.training_path}.{key}" not in ours:
            errors.append(FieldError(f"{request.training_path}.{key}", _missing(key)))
    size = len(json.dumps(sample).encode("utf-8"))
    if size > MAX_TRAINING_BYTES:
        errors.append(FieldError(_largest_field(request, sample), (
            f"the training job's parameters take {size:,} bytes, above the {MAX_TRAINING_BYTES:,} a Map "
            "iteration can hold (Step Functions passes at most 256 KiB per state, and the iteration "
            "holds the parameters twice: sent, and described back): make the largest field smaller, "
            "e.g. pass large values by an S3 URI")))
    if errors:
        errors = [e for e in errors if e.path not in ours or not e.message.endswith("by CreateTrainingJob")]
        raise ValidationError(list(dict.fromkeys(errors)))
    return fields


def _missing(key: str) -> str:
    if key == "ResourceConfig":
        return ("is required: the instances each training job runs on (InstanceType, InstanceCount, "
                "VolumeSizeInGB), or HyperParameterTuningResourceConfig with one instance type")
    return "is required by the state machine's training task (it reads this field of every job)"


def _largest_field(request: TuningRequest, sample: Mapping[str, Any]) -> str:
    """The request's path of the largest of the sample's fields."""
    key = max(sample, key=lambda k: len(json.dumps(sample[k])))
    return _request_path(request, key)


def _request_path(request: TuningRequest, name: str) -> str:
    """The request's field behind ``name``, a dotted path in CreateTrainingJob's parameters."""
    head, _, rest = name.partition(".")
    base = head.split("[", 1)[0]
    if base == "HyperParameters":
        return f"{request.training_path}.StaticHyperParameters" + (f".{rest}" if rest else "")
    if base == "Tags":
        return name
    if base == "TrainingJobName":
        return "HyperParameterTuningJobName"
    if base == "ResourceConfig" and "HyperParameterTuningResourceConfig" in request.training:
        return f"{request.training_path}.HyperParameterTuningResourceConfig" + name[len(base):]
    return f"{request.training_path}.{name}" if name else request.training_path


def _field_error(request: TuningRequest, kind: str, name: str, details: Mapping[str, Any]) -> FieldError:
    """A botocore validation error, named by the request's field it came from."""
    return botocore_field_error(_request_path(request, name.lstrip(".")), kind, details, "CreateTrainingJob")


def botocore_field_error(path: str, kind: str, details: Mapping[str, Any], operation: str) -> FieldError:
    """botocore's ``ParamValidator`` report ``kind`` (with its ``details``) on the request's field
    ``path``, in words that name ``operation``."""
    if kind == "missing required field":
        required = details.get("required_name")
        return FieldError(f"{path}.{required}" if path else str(required), f"is required by {operation}")
    if kind == "unknown field":
        return FieldError(f"{path}.{details.get('unknown_param')}", f"is not a {operation} field "
                          f"(expected one of {', '.join(details.get('valid_names', ()))})")
    if kind == "invalid type":
        return FieldError(path, f"must be of type {', '.join(details.get('valid_types', ()))} for "
                                f"{operation}, not {type(details.get('param')).__name__}")
    if kind in ("invalid length", "invalid range"):
        what = "length" if kind == "invalid length" else "value"
        return FieldError(path, f"{what} must be at least {details.get('min_allowed')} for {operation}")
    return FieldError(path, f"refused by {operation}'s input shape: {kind}")


def _limit_error(request: TuningRequest, name: str, message: str) -> FieldError:
    if name == "Tags":  # the request's own tags and byohpo's: say how many are the request's
        return FieldError("Tags", message + f" (byohpo adds its own {RUN_TAG} tag and the stack's)")
    if name.startswith("TrainingJobName"):
        return FieldError("HyperParameterTuningJobName", "makes training job names CreateTrainingJob "
                                                         f"refuses: {message}")
    return FieldError(_request_path(request, name), message)


def shape_limits(value: Any, shape: Any, path: str = "", *,
                 operation: str = "CreateTrainingJob") -> list[tuple[str, str]]:
    """``(path, message)`` for each maximum and pattern of botocore's ``shape`` that ``value`` breaks:
    what botocore's ``ParamValidator`` leaves to the service (it checks types and minima only). Paths
    are dotted, as ParamValidator's (``ResourceConfig.InstanceCount``, ``Tags[3].Value``); messages name
    ``operation``, whose input ``shape`` is."""
    out: list[tuple[str, str]] = []
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                out += shape_limits(value[name], member, f"{path}.{name}" if path else name,
                                    operation=operation)
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            out.append((path, f"takes at most {meta['max']} items in {operation}, not {len(value)}"))
        for i, item in enumerate(value):
            out += shape_limits(item, shape.member, f"{path}[{i}]", operation=operation)
    elif kind == "map" and isinstance(value, Mapping):
        if "max" in meta and len(value) > meta["max"]:
            out.append((path, f"takes at most {meta['max']} entries in {operation}, not {len(value)}"))
        for key, item in value.items():
            out += shape_limits(key, shape.key, f"{path}.{key}", operation=operation)
            out += shape_limits(item, shape.value, f"{path}.{key}", operation=operation)
    elif kind == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            out.append((path, f"is {len(value)} characters, above {operation}'s {meta['max']}"))
        pattern = _pattern(meta.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            out.append((path, f"{_short(value)} does not match {operation}'s pattern "
                              f"{meta['pattern']}"))
    elif kind in ("integer", "long", "float", "double") and isinstance(value, int | float) \
            and not isinstance(value, bool) and "max" in meta and value > meta["max"]:
        out.append((path, f"must be at most {meta['max']} for {operation}, not {value}"))
    return out


@lru_cache(maxsize=256)
def _pattern(text: str | None) -> re.Pattern[str] | None:
    """A model pattern as a Python regex; None when it has none or uses Java syntax Python lacks
    (``\\p{L}``): SageMaker checks those itself."""
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error:
        return None


def _short(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def check_role(request: TuningRequest, passable: Sequence[str], fixed: str | None = None) -> str:
    """The role the training jobs will get: the state machine's ``fixed`` role when it has one (the
    request's ``RoleArn`` is then not used), else the request's, which must be one of ``passable``
    (the roles the stack lets its state machine pass to SageMaker; empty: no check, as deployments
    without ``BYOHPO_PASSABLE_ROLES`` have). :class:`ValidationError` naming the request's
    ``RoleArn`` otherwise; a fixed role the stack may not pass is the deployment's error
    (``ConfigurationError``)."""
    from byohpo.aws import ConfigurationError

    allowed = ", ".join(passable)
    if fixed:
        if passable and fixed not in passable:
            raise ConfigurationError(f"the state machine gives every training job the role {fixed}, which "
                                     f"is not among the roles it may pass (BYOHPO_PASSABLE_ROLES: {allowed})")
        given = request.training.get("RoleArn")
        if given and given != fixed:
            log.info("run %s: the request's RoleArn %s is not used: this state machine gives every "
                     "training job the role %s", request.name, given, fixed)
        return fixed
    role = request.training.get("RoleArn")
    if passable and role not in passable:
        raise ValidationError(
            f"{role!r} is not a role this stack may pass to SageMaker; it may pass {allowed}. Use one of "
            "them, or deploy the stack with your role added (cdk deploy -c sagemaker_role_arns=<role ARN>)",
            f"{request.training_path}.RoleArn")
    return str(role)


def passable_roles(text: str | None) -> list[str]:
    """``BYOHPO_PASSABLE_ROLES`` (comma-separated role ARNs) as a list; empty when unset."""
    return [r.strip() for r in (text or "").split(",") if r.strip()]


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
    """The outcome a DescribeTrainingJob response tells (any malformed part left out)."""
    status = desc.get("TrainingJobStatus")
    reason = desc.get("FailureReason")
    name = desc.get("TrainingJobName")
    return JobOutcome(
        status=status if status in FINISHED + RUNNING else "Error",
        job_name=name if isinstance(name, str) and _JOB_NAME.fullmatch(name) else None,
        values=_metric_values(desc.get("FinalMetricDataList")),
        failure_reason=clip(reason) if isinstance(reason, str) and reason else None,
        started_at=iso_timestamp(desc.get("TrainingStartTime")),
        ended_at=iso_timestamp(desc.get("TrainingEndTime")),
    )


def _metric_values(listed: Any) -> dict[str, float]:
    """``FinalMetricDataList`` as values, entries that are no list of metrics or no float skipped."""
    if not isinstance(listed, list):
        return {}
    usable = [m for m in listed if isinstance(m, Mapping) and _as_float(m.get("Value")) is not None]
    return final_metric_values([{**m, "Value": _as_float(m["Value"])} for m in usable])


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):  # an int of 400 digits, text that is no number
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class MapResult:
    """One Map iteration's result (``state_machine.training``), every field checked: what it says is a
    hint, SageMaker's description of the job is what gets recorded.

    ``error``/``cause``: what the iteration caught; ``status``: the job's status when it completed;
    ``started_at``/``ended_at``: SageMaker's timestamps, as ISO text.
    """

    trial_id: str
    status: str | None = None
    error: str | None = None
    cause: str | None = None
    started_at: str | None = None
    ended_at: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> MapResult | None:
        """The result, or None when it names no trial (a Distributed Map child that failed returns
        its own error instead of ours)."""
        if not isinstance(raw, Mapping):
            return None
        tid = raw.get("trial_id")
        if not isinstance(tid, str) or parse_trial_id(tid) is None:
            return None
        status, error, cause = raw.get("TrainingJobStatus"), raw.get("Error"), raw.get("Cause")
        if isinstance(cause, str):
            described = _json_object(cause)
            if described is not None and isinstance(described.get("TrainingJobStatus"), str):
                # an older definition's result: a .sync failure with the job's description as Cause
                reason = described.get("FailureReason")
                cause = reason if isinstance(reason, str) else None
        return cls(
            trial_id=tid,
            status=status if status in FINISHED + RUNNING else None,
            error=clip(error) if isinstance(error, str) and error else None,
            cause=clip(cause) if isinstance(cause, str) and cause else None,
            started_at=iso_timestamp(raw.get("TrainingStartTime")),
            ended_at=iso_timestamp(raw.get("TrainingEndTime")))

    @property
    def caught(self) -> bool:
        return self.error is not None

    @property
    def retry_later(self) -> bool:
        """SageMaker could not take the job now (throttled, out of instances): try again later."""
        if self.error in THROTTLING_ERRORS + CAPACITY_ERRORS:
            return True
        return self.error == UNMODELLED_ERROR and bool(self.cause and _THROTTLED_CAUSE.search(self.cause))

    def reason(self) -> str:
        return clip(f"{self.error}: {self.cause}" if self.cause else str(self.error or "Error"))


def describe(sagemaker: Any, job_name: str) -> dict[str, Any] | None:
    """DescribeTrainingJob's answer, or None when SageMaker has no job of that name."""
    from botocore.exceptions import ClientError

    try:
        return sagemaker.describe_training_job(TrainingJobName=job_name)
    except ClientError as exc:
        if not_found(exc):
            return None
        raise


def describe_job(sagemaker: Any, job_name: str) -> JobOutcome:
    """DescribeTrainingJob as an outcome; ``Missing`` when SageMaker has no job of that name."""
    desc = describe(sagemaker, job_name)
    return JobOutcome(status="Missing", job_name=job_name) if desc is None else outcome_of_description(desc)


def owned_by(desc: Mapping[str, Any], trial: TrialRecord, run: RunRecord) -> str | None:
    """Why the described job is not ``trial``'s, or None when it is.

    The name alone cannot tell: it is this trial's name, but SageMaker's names are unique per account
    and Region for ever, and a run of the same name in another table or stack, or before this run's
    table was emptied, may have used it (runs made with a token cannot, see
    ``byohpo.tuning.training_job_name``). Tags cannot either: such a run tags its jobs with the same
    run name, and a stack deployed again has the same name. What can: the job was created after this
    run was (a job from before it is another run's), and with exactly this trial's hyperparameters (a
    job of another trial, or another search, has others). Both are in DescribeTrainingJob's answer,
    which Evaluate reads anyway; no other call is needed.
    """
    created, run_created = desc.get("CreationTime"), _datetime(run.created_at)
    if isinstance(created, datetime) and run_created is not None:
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        if created < run_created - CLOCK_SKEW:
            return (f"it was created at {iso_timestamp(created)}, before this run "
                    f"({run.created_at})")
    if desc.get("HyperParameters") != trial.hyperparameters:
        return "its hyperparameters are not this trial's"
    return None


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


def early_stop_reason(trial: TrialRecord) -> str | None:
    """The verdict the Watch Lambda stored when early stopping stopped the trial's job
    (``watch.verdict``, ``EarlyStopped: ...``; ``byohpo.aws.watch``), else None."""
    verdict = (trial.watch or {}).get("verdict")
    return verdict if isinstance(verdict, str) and verdict.startswith(EARLY_STOPPED) else None


def record_outcome(store: Store, request: TuningRequest, trial: TrialRecord, outcome: JobOutcome, *,
                   read_logs: LogReader | None = None) -> TrialRecord:
    """Write a finished job's outcome to its trial; returns the trial as stored.

    Metrics come from ``FinalMetricDataList``; when it lacks an objective, from the job's logs with the
    request's ``MetricDefinitions`` (``read_logs``), the list winning for the metrics it has. A
    completed job still without every objective stays ``Completed`` with the reason it has no value
    (the stopping rules count it as failed). A ``Stopped`` job that early stopping stopped (its trial
    holds the Watch Lambda's verdict, :func:`early_stop_reason`) is recorded as such: its reason the
    verdict, its values the last ones it reported, read the same way, and for the first objective, when
    neither has it, the last value of its stored learning curve. A job stopped otherwise (``byohpo
    stop``, Finalize, its time limit) holds no verdict. Conditional on the trial's attempt, so a late
    result of an abandoned attempt cannot overwrite its rerun (``VersionConflictError``).
    """
    if not outcome.finished:
        raise ValueError(f"trial {trial.trial_id}: job status {outcome.status} is not a final one")
    values = dict(outcome.values)
    reason = outcome.failure_reason
    job_name = trial.job_name or outcome.job_name
    metrics = [o.metric for o in request.objectives]
    early = early_stop_reason(trial) if outcome.status == "Stopped" else None
    if (outcome.status == "Completed" or early) and any(m not in values for m in metrics):
        nonfinite: dict[str, str] = {}
        if read_logs is not None and job_name:
            logged, nonfinite = read_logs(job_name)
            values = {**logged, **values}
        last = trial.learning_curve().last
        if early and metrics[0] not in values and last is not None:
            values[metrics[0]] = last
        missing = [m for m in metrics if m not in values]
        if missing and not early:
            definitions = request.log_metric_definitions()
            reason = clip("; ".join(missing_metric_reason(m, definitions, nonfinite) for m in missing))
    if early:
        reason = clip(early)
    values = {k: float(v) for k, v in values.items() if math.isfinite(v)}
    return store.update_trial(
        trial.run, trial.trial_id, expected_attempt=trial.attempt, status=outcome.status,
        values=values or None, failure_reason=reason, job_name=job_name,
        started_at=outcome.started_at or trial.started_at, ended_at=outcome.ended_at or utc_now())


def reconcile(store: Store, request: TuningRequest, trial: TrialRecord, sagemaker: Any, *, run: RunRecord,
              read_logs: LogReader | None = None, result: MapResult | None = None,
              error: str | None = None) -> TrialRecord:
    """Settle an unfinished trial from its job as SageMaker knows it (a job that exists and is this
    trial's, :func:`owned_by`, is adopted, never created twice):

    * the job ended: its outcome is recorded (timestamps the description lacks from ``result``; a job
      found by name rather than reported by the Map for this trial only when :func:`owned_by` says it
      is the trial's);
    * the job runs: the trial is marked ``InProgress`` (Evaluate answers ``wait`` until it ends);
    * a job of that name that is not this trial's, or none after SageMaker could not take it now
      (``result.retry_later``: throttled, out of instances): the trial waits for a later attempt under
      a new name (``Pending``), at most :data:`RETRY_LATER_ATTEMPTS` times for the latter;
    * no job, and the Map caught an error creating it (``result``), or ``error`` (why there is no
      result): the trial fails with it;
    * no job and nothing said why (a takeover): the trial is readied to run again (``Pending``).
    """
    job_name = trial.job_name or training_job_name(trial.run, trial.generation, trial.index, trial.attempt,
                                                   token=run.token)
    desc = describe(sagemaker, job_name)
    if desc is not None:
        # A job the Map created and watched to its end for this trial is the trial's; any other found
        # by name (a caught error, no result, a takeover) must prove it.
        watched = result is not None and not result.caught and result.status is not None
        foreign = None if watched else owned_by(desc, trial, run)
        if foreign is not None:
            log.warning("run %s: training job %s exists but is not trial %s's (%s): the trial trains "
                        "under a new name", trial.run, job_name, trial.trial_id, foreign)
            return _next_attempt(store, trial, run)
        outcome = outcome_of_description(desc)
        if result is not None:
            outcome = replace(outcome, started_at=outcome.started_at or result.started_at,
                              ended_at=outcome.ended_at or result.ended_at)
        if outcome.finished:
            return record_outcome(store, request, trial, outcome, read_logs=read_logs)
        if outcome.running:
            if trial.status == "InProgress":
                return trial
            return store.update_trial(trial.run, trial.trial_id, expected_attempt=trial.attempt,
                                      status="InProgress", job_name=job_name,
                                      started_at=outcome.started_at or trial.started_at)
        log.warning("run %s: training job %s has status %r", trial.run, job_name,
                    desc.get("TrainingJobStatus"))
    if result is not None and result.retry_later:
        if trial.attempt + 1 < RETRY_LATER_ATTEMPTS:
            log.info("run %s: trial %s waits for a later attempt: %s", trial.run, trial.trial_id,
                     result.reason())
            return _next_attempt(store, trial, run)
        error = (f"SageMaker could not take the job in {RETRY_LATER_ATTEMPTS} attempts; the last: "
                 f"{result.reason()}")
    elif result is not None and result.caught:
        error = result.reason()
    if error is not None:
        return store.update_trial(trial.run, trial.trial_id, expected_attempt=trial.attempt, status="Failed",
                                  failure_reason=clip(error), job_name=job_name, ended_at=utc_now())
    return _next_attempt(store, trial, run)


def _next_attempt(store: Store, trial: TrialRecord, run: RunRecord) -> TrialRecord:
    attempt = trial.attempt + 1
    return store.update_trial(trial.run, trial.trial_id, expected_attempt=trial.attempt, status="Pending",
                              attempt=attempt,
                              job_name=training_job_name(trial.run, trial.generation, trial.index, attempt,
                                                         token=run.token),
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


def _datetime(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


#: Timestamps outside these years are not SageMaker's (and some are beyond what datetime can hold).
_YEARS = (2000, 9999)


def iso_timestamp(value: Any) -> str | None:
    """An ISO-8601 UTC string from what a timestamp looks like after botocore (datetime), Step
    Functions (epoch milliseconds, as it writes SageMaker's timestamps) or JSON (ISO text); None for
    anything else, or a moment outside the years 2000 to 9999."""
    try:
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            seconds = value / 1000 if abs(value) > 1e11 else value
            moment = datetime.fromtimestamp(seconds, UTC)
        elif isinstance(value, str) and value:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        else:
            return None
        moment = moment.astimezone(UTC)
    except (OverflowError, OSError, ValueError):  # 1e20, year 10000, text that is no time
        return None
    if not _YEARS[0] <= moment.year <= _YEARS[1]:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = ["ALWAYS_PRESENT", "CAPACITY_ERRORS", "MAX_TRAINING_BYTES", "REQUIRED_BY_THE_MAP",
           "RETRY_LATER_ATTEMPTS", "RUN_TAG", "THROTTLING_ERRORS", "UNMODELLED_ERROR", "JobOutcome",
           "MapResult", "check_role", "check_training", "clip", "create_training_job_params", "describe",
           "describe_job", "early_stop_reason", "iso_timestamp", "not_found", "outcome_of_description",
           "owned_by", "passable_roles", "reconcile", "record_outcome", "shape_limits",
           "shared_training_fields", "stop_job", "tuned_hyperparameters"]
