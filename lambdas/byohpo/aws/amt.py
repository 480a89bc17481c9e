"""SageMaker's own tuner (``amt-*`` strategies): the tuning job a run creates, and its training jobs
imported as the run's trials.

An ``amt-*`` run is one ``CreateHyperParameterTuningJob`` with the request as it is
(:func:`tuning_job_params`), run by the state machine with ``createHyperParameterTuningJob.sync``; when
it ends, the Import Lambda writes each of its training jobs as a trial (:func:`import_tuning_job`) —
tuned hyperparameters, status, failure reason, final metrics, start and end times — so that the
leaderboard, plots, ``byohpo compare``, the summary in S3 and the run's stop reason read as a byohpo
run's do, and maps the tuning job's ending to the run's (:func:`tuning_outcome`).

The tuning job's name (:func:`tuning_job_name`) is ``<run>-<token>``: the run's name cut to leave room,
and the random token drawn when the run was made (``RunRecord.token``). SageMaker's tuning job names are
at most 32 characters, unique per account and Region ("HyperParameterTuningJobName ... must be unique
for the same Amazon Web Services account and Amazon Web Services Region", API reference of
CreateHyperParameterTuningJob) — and a request pasted from AMT carries the name of a tuning job its
author already ran. The token keeps the run's tuning job clear of those, and is the same for every
execution of the run, so that a retried or resumed run finds its own tuning job instead of creating a
second one. ``byohpo status`` shows the name; the run's stop reason names it too.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from byohpo.aws.training import (
    CLOCK_SKEW,
    botocore_field_error,
    check_training,
    clip,
    iso_timestamp,
    not_found,
    outcome_of_description,
    shape_limits,
)
from byohpo.errors import FieldError, ValidationError
from byohpo.job_tags import RUN_TAG, job_tags
from byohpo.request import CONFIG, TuningRequest, aws_requirements, parse_request
from byohpo.space import Categorical, Continuous, SearchSpace
from byohpo.stopping import (
    CONVERGENCE,
    EXHAUSTED,
    MAX_JOBS,
    MAX_RUNTIME,
    NOT_IMPROVING,
    TARGET,
)
from byohpo.store.base import RunNotFoundError, Store
from byohpo.store.records import RunRecord, TrialRecord

log = logging.getLogger(__name__)

#: CreateHyperParameterTuningJob: "HyperParameterTuningJobName ... Length Constraints: Minimum length
#: of 1. Maximum length of 32. Pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}"
#: (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html;
#: botocore's model says the same, and ``byohpo.request`` holds a run's name to it).
MAX_NAME = 32
#: Tuning job statuses (DescribeHyperParameterTuningJob).
ENDED = ("Completed", "Failed", "Stopped")
#: The run's stop code when its tuning job was stopped by hand (``byohpo stop`` ends runs with it too).
STOPPED_BY_USER = "StoppedByUser"
#: The error a run ends with when its tuning job failed, or could not be created.
TUNING_JOB_FAILED = "TuningJobFailed"
#: The trial's ``meta`` key: the tuning job the trial's training job ran in.
META_KEY = "amt"
#: Keys of the training definition that CreateHyperParameterTuningJob does not take: ``Local`` is
#: byohpo run's, and the objective and ranges go in HyperParameterTuningJobConfig.
_NOT_SENT = ("Local", "TuningObjective", "HyperParameterRanges")
#: HyperParameterTuningJobConfig fields passed on as the request gives them.
_AS_GIVEN = ("ResourceLimits", "TrainingJobEarlyStoppingType", "TuningJobCompletionCriteria", "RandomSeed")
#: Room a state needs besides the tuning job's parameters: the run context, and a Catch's error (a Cause
#: of up to 32,768 characters; a .sync task whose job failed has the job's description there) — and
#: what DescribeHyperParameterTuningJob adds to them in the task's result (status, counters, the best
#: training jobs with their tuned values, a failure reason of at most 1,024 characters).
MAX_TUNING_BYTES = 256 * 1024 - 40 * 1024


#: Automatic model tuning's limits that no quota increase lifts ("Resource Limits for Automatic Model
#: Tuning", https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-limits.html): 30
#: hyperparameters searched; at most 100 parallel training jobs per tuning job (the default quota is 10,
#: which SageMaker refuses above with ResourceLimitExceeded until the account's quota is raised); 750
#: training jobs per tuning job (Random search: 10,000 once raised; Grid: its combinations count).
MAX_TUNED = 30
MAX_PARALLEL = 100
MOST_JOBS = {"Random": 10_000}
DEFAULT_MOST_JOBS = 750
#: The training jobs one Import reads (a DescribeTrainingJob each, within the Lambda's 300 s): an
#: ``amt-random`` run above it, which SageMaker allows once the quota is raised, is refused.
MAX_IMPORTED = 750


def tuning_limits(request: TuningRequest) -> list[FieldError]:
    """Where the request passes :data:`MAX_TUNED`, :data:`MAX_PARALLEL`, :data:`MOST_JOBS` or
    :data:`MAX_IMPORTED`."""
    errors = []
    limits = ((request.raw.get(CONFIG) or {}).get("ResourceLimits") or {})
    path = f"{CONFIG}.ResourceLimits"
    if len(request.space) > MAX_TUNED:
        errors.append(FieldError(f"{CONFIG}.ParameterRanges", f"SageMaker's tuner searches at most "
                                                              f"{MAX_TUNED} hyperparameters, not "
                                                              f"{len(request.space)}"))
    parallel = limits.get("MaxParallelTrainingJobs")
    if isinstance(parallel, int) and parallel > MAX_PARALLEL:
        errors.append(FieldError(f"{path}.MaxParallelTrainingJobs", f"must be at most {MAX_PARALLEL} for "
                                 "SageMaker's tuner (its quota, 10 by default, can be raised up to that)"))
    jobs, most = limits.get("MaxNumberOfTrainingJobs"), MOST_JOBS.get(request.sagemaker_strategy or "",
                                                                      DEFAULT_MOST_JOBS)
    if isinstance(jobs, int) and jobs > most:
        errors.append(FieldError(f"{path}.MaxNumberOfTrainingJobs", f"must be at most {most:,} for "
                                 f"SageMaker's {request.sagemaker_strategy} tuner, not {jobs:,}"))
    elif isinstance(jobs, int) and jobs > MAX_IMPORTED:
        errors.append(FieldError(f"{path}.MaxNumberOfTrainingJobs", f"must be at most {MAX_IMPORTED} for "
                                 f"an amt-* run, not {jobs:,}: byohpo imports a tuning job's training jobs "
                                 "in one Lambda call"))
    return errors


@lru_cache(maxsize=1)
def _create_shape() -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model("CreateHyperParameterTuningJob").input_shape


# -- the tuning job's name and parameters ----------------------------------------------------------

def tuning_job_name(run: str, token: str) -> str:
    """``<run>-<token>`` within SageMaker's 32 characters: the run's name cut (and any hyphen it would
    end with dropped) to leave room for the token. A run made without a token keeps its name."""
    if not token:
        return run[:MAX_NAME]
    head = run[:MAX_NAME - len(token) - 1].rstrip("-")
    return f"{head}-{token}"


def run_tuning_job(run: RunRecord) -> str:
    """The tuning job of an ``amt-*`` run."""
    return tuning_job_name(run.name, run.token)


def run_strategy(run: RunRecord) -> str | None:
    """AMT's ``Strategy`` when ``run`` is an ``amt-*`` run, else None (also for a request that no longer
    parses, e.g. of a strategy this version does not know)."""
    try:
        return parse_request(run.request).sagemaker_strategy
    except ValidationError:
        return None


def tuning_job_params(request: TuningRequest, *, name: str, stack: str | None = None, role: str | None = None,
                      parents: Sequence[str] | None = None) -> dict[str, Any]:
    """The CreateHyperParameterTuningJob parameters of an ``amt-*`` request: the request as written
    (ranges, objective, limits, criteria, RandomSeed, the training definition, Tags), with ``Strategy``
    AMT's, ``StrategyConfig`` only for Hyperband, one objective as ``HyperParameterTuningJobObjective``,
    the training definition as ``TrainingJobDefinition`` (``Local`` dropped, and ``role`` as its
    ``RoleArn`` when the state machine gives every job a fixed one), byohpo's tags added to the
    request's (SageMaker copies a tuning job's tags to its training jobs), and the warm-start parents
    as ``parents`` names them (:func:`warm_start_parents`)."""
    raw = request.raw
    cfg = raw.get(CONFIG) or {}
    config: dict[str, Any] = {"Strategy": request.sagemaker_strategy}
    hyperband = (cfg.get("StrategyConfig") or {}).get("HyperbandStrategyConfig")
    if request.sagemaker_strategy == "Hyperband" and hyperband is not None:
        config["StrategyConfig"] = {"HyperbandStrategyConfig": copy.deepcopy(hyperband)}
    definition = copy.deepcopy(dict(_definition(raw)))
    objective = (cfg.get("HyperParameterTuningJobObjective") or (cfg.get("Objectives") or [None])[0]
                 or definition.get("TuningObjective"))
    config["HyperParameterTuningJobObjective"] = copy.deepcopy(objective)
    for key in _AS_GIVEN:
        if key in cfg:
            config[key] = copy.deepcopy(cfg[key])
    ranges = cfg.get("ParameterRanges") or definition.get("HyperParameterRanges")
    config["ParameterRanges"] = copy.deepcopy(ranges)
    for key in _NOT_SENT:
        definition.pop(key, None)
    if role:
        definition["RoleArn"] = role
    params: dict[str, Any] = {"HyperParameterTuningJobName": name, "HyperParameterTuningJobConfig": config,
                              "TrainingJobDefinition": definition,
                              "Tags": job_tags(copy.deepcopy(request.tags), request.name, stack)}
    warm = raw.get("WarmStartConfig")
    if warm:
        warm = copy.deepcopy(dict(warm))
        if parents is not None:
            warm["ParentHyperParameterTuningJobs"] = [{"HyperParameterTuningJobName": p} for p in parents]
        params["WarmStartConfig"] = warm
    return params


def _definition(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    single = raw.get("TrainingJobDefinition")
    if isinstance(single, Mapping):
        return single
    plural = raw.get("TrainingJobDefinitions")
    return plural[0] if isinstance(plural, list) and plural and isinstance(plural[0], Mapping) else {}


def check_tuning_job(request: TuningRequest, *, stack: str | None = None, role: str | None = None) -> None:
    """Refuse, naming the request's fields, what CreateHyperParameterTuningJob would refuse, before
    anything is written: the fields a request with ``Local`` may leave out, botocore's input shape
    (types and minima with ``ParamValidator``, maxima and patterns with our own walk, which it
    skips: 50 tags, ...), and a size that the state machine's states can hold (the parameters, once
    sent and once described back, within Step Functions' 256 KiB)."""
    from botocore.validate import ParamValidator

    errors = list(aws_requirements(request)) + tuning_limits(request)
    ours = {e.path for e in errors}
    sample = tuning_job_params(request, name="x" * MAX_NAME, stack=stack, role=role,
                               parents=request.warm_start_parents or None)
    report = ParamValidator().validate(sample, _create_shape())
    for kind, name, details in getattr(report, "_errors", ()):
        error = _field_error(request, kind, name, details)
        if error.path not in ours:
            errors.append(error)
    if report.has_errors() and not getattr(report, "_errors", None):  # a botocore without _errors
        errors.append(FieldError(CONFIG, report.generate_report()))
    for name, message in shape_limits(sample, _create_shape(), operation="CreateHyperParameterTuningJob"):
        if name == "Tags":
            message += f" (byohpo adds its own {RUN_TAG} tag and the stack's)"
        errors.append(FieldError(request_path(request, name), message))
    size = len(json.dumps(sample).encode("utf-8"))
    if size > MAX_TUNING_BYTES:
        errors.append(FieldError(request.training_path, (
            f"the tuning job's parameters take {size:,} bytes, above the {MAX_TUNING_BYTES:,} a state can "
            "hold beside what SageMaker describes back (Step Functions passes at most 256 KiB per state): "
            "pass large values by reference, e.g. an S3 URI")))
    if errors:
        raise ValidationError(list(dict.fromkeys(errors)))


def check_aws(request: TuningRequest, *, stack: str | None = None, role: str | None = None) -> None:
    """What Start checks before anything is written, by strategy: an ``amt-*`` request's tuning job
    (:func:`check_tuning_job`), any other request's training jobs (``training.check_training``)."""
    if request.sagemaker_strategy:
        check_tuning_job(request, stack=stack, role=role)
    else:
        check_training(request, stack=stack, role=role)


def request_path(request: TuningRequest, name: str) -> str:
    """The request's field behind ``name``, a dotted path in CreateHyperParameterTuningJob's parameters."""
    head, _, rest = name.partition(".")
    cfg = request.raw.get(CONFIG) or {}
    if head == "TrainingJobDefinition":
        return request.training_path + (f".{rest}" if rest else "")
    if head == "HyperParameterTuningJobName":
        return "HyperParameterTuningJobName"
    if head == "HyperParameterTuningJobConfig":
        field, _, tail = rest.partition(".")
        field = field.split("[", 1)[0]
        if field == "ParameterRanges" and "ParameterRanges" not in cfg:
            return f"{request.training_path}.HyperParameterRanges" + rest[len("ParameterRanges"):]
        if field == "HyperParameterTuningJobObjective" and "HyperParameterTuningJobObjective" not in cfg:
            base = (f"{CONFIG}.Objectives[0]" if "Objectives" in cfg
                    else f"{request.training_path}.TuningObjective")
            return base + (f".{tail}" if tail else "")
        return f"{CONFIG}.{rest}" if rest else CONFIG
    return name


def _field_error(request: TuningRequest, kind: str, name: str, details: Mapping[str, Any]) -> FieldError:
    return botocore_field_error(request_path(request, name.lstrip(".")), kind, details,
                                "CreateHyperParameterTuningJob")


# -- warm start -----------------------------------------------------------------------------------

_PARENTS = "WarmStartConfig.ParentHyperParameterTuningJobs"


def warm_start_parents(store: Store, request: TuningRequest, sagemaker: Any) -> list[str]:
    """The tuning jobs SageMaker's tuner warm-starts from: each parent named as a byohpo run of an
    ``amt-*`` strategy becomes that run's tuning job; any other name must be a SageMaker tuning job
    that has ended. A byohpo run of byohpo's own strategies cannot be a parent: SageMaker reads a
    parent's training jobs from its tuning job, and such a run has none. :class:`ValidationError`
    naming each parent that cannot be one."""
    names: list[str] = []
    errors: list[FieldError] = []
    for i, parent in enumerate(request.warm_start_parents):
        path = f"{_PARENTS}[{i}].HyperParameterTuningJobName"
        try:
            run = store.get_run(parent)
        except RunNotFoundError:
            run = None
        if run is not None:
            strategy = (run.request.get(CONFIG) or {}).get("Strategy")
            try:
                amt = parse_request(run.request).sagemaker_strategy
            except ValidationError:
                amt = None
            if amt is None:
                errors.append(FieldError(path, f"{parent!r} is a byohpo run of strategy {strategy!r}, which "
                                               "SageMaker's tuner cannot warm-start from: it reads a "
                                               "parent's training jobs from a tuning job of its own. Name a "
                                               "tuning job, or a byohpo run of an amt-* strategy"))
            elif not run.finished:
                errors.append(FieldError(path, f"run {parent!r} is {run.status}: warm start needs finished "
                                               "parents"))
            else:
                names.append(run_tuning_job(run))
            continue
        desc = describe_tuning_job(sagemaker, parent)
        if desc is None:
            errors.append(FieldError(path, f"no SageMaker tuning job and no byohpo run named {parent!r}"))
        elif desc.get("HyperParameterTuningJobStatus") not in ENDED:
            errors.append(FieldError(path, f"tuning job {parent!r} is "
                                           f"{desc.get('HyperParameterTuningJobStatus')}: "
                                           "warm start needs parents that have ended"))
        else:
            names.append(parent)
    if errors:
        raise ValidationError(errors)
    return names


# -- the tuning job as SageMaker knows it ----------------------------------------------------------

def describe_tuning_job(sagemaker: Any, name: str) -> dict[str, Any] | None:
    """DescribeHyperParameterTuningJob's answer, or None when there is no tuning job of that name."""
    from botocore.exceptions import ClientError

    try:
        return sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    except ClientError as exc:
        if not_found(exc):
            return None
        raise


def owned_by(desc: Mapping[str, Any], run: RunRecord, request: TuningRequest) -> str | None:
    """Why the described tuning job is not ``run``'s, or None when it is: created after the run (a job
    from before it is someone else's that happens to have the name), with this request's strategy and
    ranges. Both are in DescribeHyperParameterTuningJob's answer."""
    created = desc.get("CreationTime")
    run_created = _datetime(run.created_at)
    if isinstance(created, datetime) and run_created is not None:
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        if created < run_created - CLOCK_SKEW:
            return f"it was created at {iso_timestamp(created)}, before this run ({run.created_at})"
    config = desc.get("HyperParameterTuningJobConfig") or {}
    sent = tuning_job_params(request, name=run_tuning_job(run))["HyperParameterTuningJobConfig"]
    if config.get("Strategy") != sent["Strategy"]:
        return f"its strategy is {config.get('Strategy')!r}, not {sent['Strategy']!r}"
    if _range_names(config.get("ParameterRanges")) != _range_names(sent["ParameterRanges"]):
        return "it tunes other hyperparameters than this run"
    return None


def list_training_jobs(sagemaker: Any, name: str) -> list[dict[str, Any]]:
    """Every training job the tuning job launched (ListTrainingJobsForHyperParameterTuningJob, all its
    pages), oldest first (by creation time, then name)."""
    kwargs: dict[str, Any] = {"HyperParameterTuningJobName": name, "MaxResults": 100,
                              "SortBy": "CreationTime",
                              "SortOrder": "Ascending"}
    out: list[dict[str, Any]] = []
    while True:
        page = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(**kwargs)
        out.extend(page.get("TrainingJobSummaries") or ())
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    seen: dict[str, dict[str, Any]] = {}
    for summary in out:  # a job listed on two pages (the listing moved while paged) counts once
        seen.setdefault(str(summary.get("TrainingJobName")), summary)
    return sorted(seen.values(), key=lambda s: (iso_timestamp(s.get("CreationTime")) or "",
                                                str(s.get("TrainingJobName"))))


# -- import ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What became of a run's tuning job: ``action`` ``wait`` (it runs), ``finish`` (with ``stop``:
    ``{"code", "message"[, "status"]}``) or ``fail`` (with ``error``: ``{"Error", "Cause"}``)."""

    action: str
    stop: dict[str, str] | None = None
    error: dict[str, str] | None = None


def import_tuning_job(store: Store, request: TuningRequest, run: RunRecord, sagemaker: Any, *,
                      error: Mapping[str, Any] | None = None) -> Outcome:
    """Settle an ``amt-*`` run from its tuning job (``error``: what the state machine caught creating
    or waiting for it).

    * no tuning job of the run's name: the create failed (``fail``, with the caught error);
    * a tuning job of that name that is not the run's (:func:`owned_by`): ``fail``, saying so;
    * the tuning job runs (a run taken over from an execution that ended): ``wait``;
    * it ended: its training jobs are written as the run's generation 0 (:func:`trials_of`), once — a
      retry finds them written and writes nothing — and the run ends as the tuning job did
      (:func:`tuning_outcome`).
    """
    name = run_tuning_job(run)
    desc = describe_tuning_job(sagemaker, name)
    if desc is None:
        caught = _error_text(error) if error else "the state machine reported nothing"
        return Outcome("fail", error={"Error": TUNING_JOB_FAILED, "Cause": clip(
            f"SageMaker's tuning job {name} was not created: {caught}")})
    foreign = owned_by(desc, run, request)
    if foreign is not None:
        return Outcome("fail", error={"Error": TUNING_JOB_FAILED, "Cause": clip(
            f"a tuning job named {name} exists but is not this run's ({foreign})")})
    status = desc.get("HyperParameterTuningJobStatus")
    if status not in ENDED:
        log.info("run %s: tuning job %s is %s", run.name, name, status)
        return Outcome("wait")
    return tuning_outcome(request, desc, import_trials(store, request, run, sagemaker, desc))


def import_trials(store: Store, request: TuningRequest, run: RunRecord, sagemaker: Any,
                  desc: Mapping[str, Any]) -> list[TrialRecord]:
    """The tuning job's training jobs written as the run's generation 0 (:func:`trials_of`), once: the
    conditional write on the run's version makes a retried or concurrent import write nothing, and
    the trials written first are returned. ``desc``: the tuning job's description."""
    if run.version == 0:
        name = run_tuning_job(run)
        proposed = trials_of(request, run, list_training_jobs(sagemaker, name), sagemaker, desc)
        if proposed:
            trials = store.put_generation(run.name, 0, proposed, 0)
            log.info("run %s: imported %d training jobs of tuning job %s", run.name, len(trials), name)
            return trials
    return store.get_trials(run.name)


def trials_of(request: TuningRequest, run: RunRecord, summaries: Sequence[Mapping[str, Any]], sagemaker: Any,
              tuning: Mapping[str, Any]) -> list[TrialRecord]:
    """The tuning job's training jobs as the run's generation 0, in the order they were created:
    tuned values from ``TunedHyperParameters``; status, failure reason, times and every final metric
    from DescribeTrainingJob, the objective's value as the tuner ranked it
    (``FinalHyperParameterTuningJobObjectiveMetric``). A job SageMaker stopped keeps its values: one the
    tuner stopped early reads ``EarlyStopped``, one stopped at its time limit ``MaxRuntimeExceeded``."""
    early = _early_stopping(tuning)
    out = []
    for index, summary in enumerate(summaries):
        job = str(summary.get("TrainingJobName"))
        tuned = summary.get("TunedHyperParameters") or {}
        params = tuned_params(request.space, tuned)
        desc = _describe_training_job(sagemaker, job) or {}
        outcome = outcome_of_description(desc) if desc else None
        values = dict(outcome.values) if outcome else {}
        objective = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        value = objective.get("Value")
        if isinstance(objective.get("MetricName"), str) and isinstance(value, int | float) \
                and not isinstance(value, bool) and math.isfinite(value):
            values[objective["MetricName"]] = float(value)
        status = summary.get("TrainingJobStatus")
        reason = summary.get("FailureReason") or (outcome.failure_reason if outcome else None)
        if status == "Stopped" and not reason:
            if desc.get("SecondaryStatus") == "MaxRuntimeExceeded":
                reason = "MaxRuntimeExceeded: the training job reached StoppingCondition.MaxRuntimeInSeconds"
            elif early and tuning.get("HyperParameterTuningJobStatus") != "Stopped":
                reason = f"EarlyStopped: SageMaker's tuner stopped this training job early ({early})"
        elif status not in ("Completed", "Failed", "Stopped"):
            reason = (f"the tuning job ended ({tuning.get('HyperParameterTuningJobStatus')}) while this "
                      f"training job was {status}")
            status = "Stopped"
        hyperparameters = desc.get("HyperParameters")
        if not isinstance(hyperparameters, Mapping) or \
                not all(isinstance(v, str) for v in hyperparameters.values()):
            hyperparameters = {**request.space.static, **{str(k): str(v) for k, v in tuned.items()}}
        out.append(TrialRecord.new(
            run.name, 0, index, params, meta={META_KEY: {"tuning_job": run_tuning_job(run)}},
            hyperparameters=dict(hyperparameters), status=status, values=values or None,
            failure_reason=clip(reason) if reason else None, job_name=job,
            started_at=iso_timestamp(summary.get("TrainingStartTime")) or (outcome and outcome.started_at),
            ended_at=iso_timestamp(summary.get("TrainingEndTime")) or (outcome and outcome.ended_at)))
    return out


def _describe_training_job(sagemaker: Any, name: str) -> dict[str, Any] | None:
    from byohpo.aws.training import describe

    return describe(sagemaker, name)


def tuned_params(space: SearchSpace, tuned: Mapping[str, Any]) -> dict[str, Any]:
    """Typed values of ``space`` from a training job's ``TunedHyperParameters`` (text): numbers within
    their range (SageMaker's text of a bound may round past it), categories without the JSON quotes
    the SageMaker SDK's framework estimators add. A parameter SageMaker did not report is left out."""
    out: dict[str, Any] = {}
    for param in space:
        if param.name not in tuned:
            continue
        text = str(tuned[param.name])
        try:
            if isinstance(param, Categorical):
                out[param.name] = text if text in param.values else text.strip('"')
            elif isinstance(param, Continuous):
                out[param.name] = min(max(float(text), param.low), param.high)
            else:
                out[param.name] = min(max(round(float(text)), param.low), param.high)
        except ValueError:
            log.warning("tuned value %r of %s is not a number: kept as text", text, param.name)
            out[param.name] = text
    return out


def _early_stopping(tuning: Mapping[str, Any]) -> str | None:
    config = tuning.get("HyperParameterTuningJobConfig") or {}
    if config.get("Strategy") == "Hyperband":
        return "Hyperband"
    if config.get("TrainingJobEarlyStoppingType") == "Auto":
        return "TrainingJobEarlyStoppingType Auto"
    return None


# -- how the run ends ------------------------------------------------------------------------------

def tuning_outcome(request: TuningRequest, desc: Mapping[str, Any], trials: Sequence[TrialRecord]) -> Outcome:
    """The run's ending from its tuning job's (DescribeHyperParameterTuningJob), with byohpo's stop
    codes, the first that holds in byohpo's own order (``byohpo.stopping.check_stopping``):

    * ``Failed``: the run fails with the tuning job's FailureReason (``fail``);
    * ``Stopped``: ``MaxRuntimeInSeconds`` when ConsumedResources reached ResourceLimits'
      MaxRuntimeInSeconds, else ``StoppedByUser`` (the run ends Stopped);
    * ``Completed``: ``TargetObjectiveMetricValue`` when the best training job reached it;
      ``ConvergenceDetected`` when TuningJobCompletionDetails has a ConvergenceDetectedTime;
      ``BestObjectiveNotImproving`` when its NumberOfTrainingJobsObjectiveNotImproving reached the
      criterion's; ``MaxNumberOfTrainingJobs`` when that many ran; ``MaxRuntimeInSeconds`` as above;
      else ``StrategyExhausted`` (a grid run through, Hyperband's brackets done).

    Finalize then ends a run in which no training job succeeded ``Failed``, whatever the code, as it
    does any run.
    """
    name = desc.get("HyperParameterTuningJobName")
    status = desc.get("HyperParameterTuningJobStatus")
    jobs = len(trials)
    if status == "Failed":
        reason = desc.get("FailureReason") or "no reason given"
        return Outcome("fail", error={"Error": TUNING_JOB_FAILED, "Cause": clip(
            f"SageMaker's tuning job {name} failed after {jobs} training job{'s' * (jobs != 1)}: {reason}")})
    config = desc.get("HyperParameterTuningJobConfig") or {}
    limits = config.get("ResourceLimits") or {}
    criteria = config.get("TuningJobCompletionCriteria") or {}
    details = desc.get("TuningJobCompletionDetails") or {}
    runtime = (desc.get("ConsumedResources") or {}).get("RuntimeInSeconds")
    max_runtime = limits.get("MaxRuntimeInSeconds")
    timed_out = isinstance(runtime, int | float) and isinstance(max_runtime, int) and runtime >= max_runtime
    prefix = f"SageMaker's tuning job {name}"
    if status == "Stopped":
        if timed_out:
            return _finish(MAX_RUNTIME, f"{prefix} reached its MaxRuntimeInSeconds ({max_runtime} s)")
        return _finish(STOPPED_BY_USER, f"{prefix} was stopped (StopHyperParameterTuningJob) after {jobs} "
                                        f"training job{'s' * (jobs != 1)}", status="Stopped")
    target, best = criteria.get("TargetObjectiveMetricValue"), _best_value(desc)
    objective = request.objectives[0]
    if isinstance(target, int | float) and best is not None and not objective.better(target, best):
        return _finish(TARGET, f"{prefix}: {objective.metric} reached {best:.6g}, the target "
                               f"TargetObjectiveMetricValue={target:g}")
    if details.get("ConvergenceDetectedTime"):
        return _finish(CONVERGENCE, f"{prefix}: SageMaker detected convergence (ConvergenceDetected) after "
                                    f"{jobs} training jobs")
    patience = (criteria.get("BestObjectiveNotImproving") or {}).get("MaxNumberOfTrainingJobsNotImproving")
    flat = details.get("NumberOfTrainingJobsObjectiveNotImproving")
    if isinstance(patience, int) and isinstance(flat, int) and flat >= patience:
        return _finish(NOT_IMPROVING, f"{prefix}: {flat} training jobs did not improve {objective.metric} "
                                      f"(MaxNumberOfTrainingJobsNotImproving={patience})")
    max_jobs = limits.get("MaxNumberOfTrainingJobs")
    if isinstance(max_jobs, int) and jobs >= max_jobs:
        return _finish(MAX_JOBS, f"{prefix}: every training job of the budget (MaxNumberOfTrainingJobs="
                                 f"{max_jobs}) ran")
    if timed_out:
        return _finish(MAX_RUNTIME, f"{prefix} reached its MaxRuntimeInSeconds ({max_runtime} s)")
    return _finish(EXHAUSTED, f"{prefix} ({config.get('Strategy')}) completed after {jobs} training "
                              f"job{'s' * (jobs != 1)}: it had nothing left to try")


def _finish(code: str, message: str, status: str | None = None) -> Outcome:
    stop = {"code": code, "message": message}
    if status:
        stop["status"] = status
    return Outcome("finish", stop=stop)


def _best_value(desc: Mapping[str, Any]) -> float | None:
    metric = (desc.get("BestTrainingJob") or {}).get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    value = metric.get("Value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


# -- helpers ---------------------------------------------------------------------------------------

def _error_text(error: Mapping[str, Any]) -> str:
    text = str(error.get("Error") or "Error")
    cause = error.get("Cause")
    return f"{text}: {cause}" if isinstance(cause, str) and cause else text


def _range_names(ranges: Any) -> set[str]:
    """The hyperparameters ``ParameterRanges`` tunes (SageMaker may describe the ranges themselves
    back with defaults filled in, so only the names are compared)."""
    if not isinstance(ranges, Mapping):
        return set()
    return {str(r.get("Name")) for kind in ranges.values() if isinstance(kind, list) for r in kind
            if isinstance(r, Mapping)}


def _datetime(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = [
    "ENDED",
    "MAX_NAME",
    "MAX_TUNING_BYTES",
    "META_KEY",
    "STOPPED_BY_USER",
    "TUNING_JOB_FAILED",
    "Outcome",
    "check_aws",
    "check_tuning_job",
    "describe_tuning_job",
    "import_trials",
    "import_tuning_job",
    "list_training_jobs",
    "owned_by",
    "request_path",
    "run_strategy",
    "run_tuning_job",
    "trials_of",
    "tuned_params",
    "tuning_job_name",
    "tuning_job_params",
    "tuning_limits",
    "tuning_outcome",
    "warm_start_parents",
]
