"""SageMaker Automatic Model Tuning on moto, for the ``amt-*`` strategies' tests.

moto 5.2.5 creates and describes tuning jobs but completes them at once with fake counters and a fake
best job, launches no training jobs, and has neither ListTrainingJobsForHyperParameterTuningJob nor
StopHyperParameterTuningJob. :class:`TuningEmulator` fills those gaps in moto's own records, as the
SageMaker API reference documents them, so that the code under test talks to moto through botocore
as it would to SageMaker:

* CreateHyperParameterTuningJob (:meth:`TuningEmulator.create`): what SageMaker refuses and moto lets
  through — a name longer than 32 characters or off its pattern, more than 50 tags (the model's
  maxima and patterns), a name already used ("must be unique for the same AWS account and AWS
  Region"; SageMaker never frees a name, moto forgets it on delete), the documented limits (more than
  30 hyperparameters, 100 parallel training jobs, 750 training jobs, 10,000 for Random) and the
  account's quota of parallel training jobs (10 unless raised: ResourceLimitExceeded) — then the job
  ``InProgress``;
* the tuning itself (:meth:`TuningEmulator.poll`, what ``.sync`` polls): a wave of at most
  MaxParallelTrainingJobs training jobs per poll, each a moto training job named
  ``<tuning job>-<NNN>-<8 hex>`` as AMT names them, tagged with the tuning job's tags (SageMaker copies
  them), its tuned values drawn from the ranges (every combination in turn for Grid), ended as
  ``fate(tuned hyperparameters)`` says; the tuning job ends ``Completed`` at MaxNumberOfTrainingJobs,
  at TargetObjectiveMetricValue or after MaxNumberOfTrainingJobsNotImproving jobs without
  improvement, or as :class:`TuningEnd` says (``Failed`` with a FailureReason, convergence); its
  counters, best training job and TuningJobCompletionDetails kept as DescribeHyperParameterTuningJob
  reports them;
* ListTrainingJobsForHyperParameterTuningJob (:meth:`TuningEmulator.list_training_jobs`): ``MaxResults``
  1-100, default 10; an opaque ``NextToken``; ``SortBy`` Name (default), CreationTime, Status or
  FinalObjectiveMetricValue ("any training jobs that did not return an objective metric are not
  listed"); ``SortOrder``; ``StatusEquals``; ResourceNotFound for an unknown tuning job;
* StopHyperParameterTuningJob (:meth:`TuningEmulator.stop`): "Stops a running hyperparameter tuning job
  and all running training jobs that the tuning job launched": ``Stopping``, its running training jobs
  ``Stopped``, then ``Stopped`` at the next poll; ValidationException for a job that is not running.

``with tuning_apis(emulator):`` teaches moto's SageMaker the two missing calls (inside ``mock_aws``).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import itertools
import json
import random
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "123456789012"
MAX_RESULTS = 100
DEFAULT_RESULTS = 10
#: "Resource Limits for Automatic Model Tuning"
#: (https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-limits.html): parallel training
#: jobs per tuning job 10 by default, at most 100 once raised; hyperparameters searched 30; training jobs
#: per tuning job 750 (Random search: up to 10,000 once raised).
DEFAULT_PARALLEL_QUOTA = 10
MAX_PARALLEL = 100
MAX_TUNED = 30
MOST_JOBS = {"Bayesian": 750, "Hyperband": 750, "Grid": 750, "Random": 10_000}


@dataclass(frozen=True)
class TrainingFate:
    """How a training job the tuner launched ends: ``status``, its final metrics, a FailureReason, a
    SecondaryStatus (``MaxRuntimeExceeded`` for a job stopped at its time limit)."""

    status: str = "Completed"
    metrics: Mapping[str, float] | None = None
    failure_reason: str | None = None
    secondary_status: str | None = None


@dataclass(frozen=True)
class TuningEnd:
    """A tuning job that ends other than by its budget or criteria: after ``after`` training jobs, with
    ``status`` (``Failed`` with ``failure_reason``, or ``Completed`` with convergence detected)."""

    after: int
    status: str = "Failed"
    failure_reason: str = "ClientError: An error occurred in the training jobs"
    convergence: bool = False


Fate = Callable[[Mapping[str, str]], TrainingFate]


@dataclass
class _Tuning:
    params: dict[str, Any]
    rng: random.Random
    grid: Iterator[dict[str, str]] | None
    polls_left: int
    created_at: datetime
    jobs: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    not_improving: int = 0
    best: float | None = None


class TuningEmulator:
    """Tuning jobs on moto (see the module docstring).

    Args:
        fate: how each training job ends, from its tuned hyperparameters (text, as SageMaker passes them).
        end: a tuning job ending of its own (failing, converging).
        polls: how many polls see a tuning job InProgress before each wave of training jobs.
        lock: held while moto's records change (the harness's lock on moto).
        parallel_quota: the account's quota of parallel training jobs per tuning job (raised from 10).
        pause_after: launch no training job after this many until ``pause_after`` is set to None: the
            tuning job stays InProgress, with nothing running, for a test to stop it.
    """

    def __init__(self, fate: Fate = lambda hp: TrainingFate(), *, end: TuningEnd | None = None,
                 polls: int = 0,
                 lock: Any = None, parallel_quota: int = DEFAULT_PARALLEL_QUOTA,
                 pause_after: int | None = None) -> None:
        self.fate = fate
        self.pause_after = pause_after
        self.parallel_quota = parallel_quota
        self.end = end
        self.polls = polls
        self.lock = lock or threading.RLock()
        self.tunings: dict[str, _Tuning] = {}
        #: Every CreateHyperParameterTuningJob: (name, error code or None).
        self.create_calls: list[tuple[str, str | None]] = []
        #: Every ListTrainingJobsForHyperParameterTuningJob request.
        self.list_calls: list[dict[str, Any]] = []
        #: Every StopHyperParameterTuningJob: (name, error code or None).
        self.stop_calls: list[tuple[str, str | None]] = []

    # -- CreateHyperParameterTuningJob ---------------------------------------------------------------
    def create(self, client: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        """Create the tuning job in moto after SageMaker's own checks; raises ClientError as SageMaker
        would."""
        name = str(params.get("HyperParameterTuningJobName", ""))
        with self.lock:
            refused = self._refuse(params)
            if refused is None:
                response = client.create_hyper_parameter_tuning_job(**params)
                backend = _backend().hyper_parameter_tuning_jobs[name]
                backend.hyper_parameter_tuning_job_status = "InProgress"
                backend.tags = list(params.get("Tags") or [])
                backend.failure_reason = None
                backend.tuning_job_completion_details = {}
                backend.best_training_job = backend.OverallBestTrainingJob = None
                backend.hyper_parameter_tuning_end_time = None
            self.create_calls.append((name, refused.response["Error"]["Code"] if refused else None))
        if refused is not None:
            raise refused
        config = params["HyperParameterTuningJobConfig"]
        seed = config.get("RandomSeed", int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))
        self.tunings[name] = _Tuning(dict(params), random.Random(seed), _grid(config) if config.get(
            "Strategy") == "Grid" else None, self.polls, datetime.now(UTC))
        self._update(name)
        return {"HyperParameterTuningJobArn": response["HyperParameterTuningJobArn"]}

    def _refuse(self, params: Mapping[str, Any]) -> ClientError | None:
        from sfn_harness import model_violations  # sfn_harness imports this module: import late

        name = params.get("HyperParameterTuningJobName", "")
        if name in _backend().hyper_parameter_tuning_jobs:
            return _error("ResourceInUse", f"Resource Already Exists: Hyper Parameter Tuning Job with name "
                                           f"{name} already exists. Choose a different "
                                           f"name.", "CreateHyperParameterTuningJob")
        problems = model_violations(params, _shape("CreateHyperParameterTuningJob"))
        config = params.get("HyperParameterTuningJobConfig") or {}
        limits = config.get("ResourceLimits") or {}
        tuned = sum(len(v) for v in (config.get("ParameterRanges") or {}).values() if isinstance(v, list))
        if tuned > MAX_TUNED:
            problems.append(f"Number of hyperparameters to tune {tuned} exceeds the limit of {MAX_TUNED}")
        parallel = limits.get("MaxParallelTrainingJobs", 1)
        if parallel > MAX_PARALLEL:
            problems.append(f"MaxParallelTrainingJobs {parallel} exceeds the maximum of {MAX_PARALLEL}")
        jobs, most = limits.get("MaxNumberOfTrainingJobs", 1), MOST_JOBS.get(config.get("Strategy"), 750)
        if jobs > most:
            problems.append(f"MaxNumberOfTrainingJobs {jobs} exceeds the maximum of {most} for the "
                            f"{config.get('Strategy')} strategy")
        if not problems and parallel > self.parallel_quota:
            return _error("ResourceLimitExceeded", f"The account-level service limit 'Number of parallel "
                          f"training jobs per hyperparameter tuning job' is {self.parallel_quota}, and the "
                          f"request asks for {parallel}. Please use AWS Service Quotas to request an "
                          f"increase for this quota.",
                          "CreateHyperParameterTuningJob")
        if problems:
            errors = f"{len(problems)} validation error{'s' * (len(problems) != 1)} detected: "
            return _error("ValidationException", errors + "; ".join(problems),
                          "CreateHyperParameterTuningJob")
        return None

    # -- the tuning -------------------------------------------------------------------------------------
    def poll(self, client: Any, name: str) -> dict[str, Any] | None:
        """One look at the tuning job, as ``.sync`` polls: its description once it has ended, else None
        (a wave of training jobs may have run meanwhile)."""
        with self.lock:
            tuning = self.tunings[name]
            job = _backend().hyper_parameter_tuning_jobs[name]
            status = job.hyper_parameter_tuning_job_status
            if status == "Stopping":
                self._stopped(name)
            elif status == "InProgress":
                if self.pause_after is not None and len(tuning.jobs) >= self.pause_after:
                    return None  # the next wave waits: a test acts on the running tuning job meanwhile
                if tuning.polls_left > 0:
                    tuning.polls_left -= 1
                    return None
                tuning.polls_left = self.polls
                self.wave(client, name)
            if _backend().hyper_parameter_tuning_jobs[name].hyper_parameter_tuning_job_status in ("Completed",
                                                                                                  "Failed",
                                                                                                  "Stopped"):
                return client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        return None

    def run(self, client: Any, name: str, polls: int = 10_000) -> dict[str, Any]:
        """Poll until the tuning job ends; its description."""
        for _ in range(polls):
            desc = self.poll(client, name)
            if desc is not None:
                return desc
        raise AssertionError(f"tuning job {name} did not end in {polls} polls")

    def wave(self, client: Any, name: str, *, end: bool = True) -> list[str]:
        """Launch the next training jobs (at most MaxParallelTrainingJobs, within the budget); end them
        as their fate says unless ``end`` is False (they stay InProgress). Returns their names."""
        with self.lock:
            tuning = self.tunings[name]
            config = tuning.params["HyperParameterTuningJobConfig"]
            limits = config["ResourceLimits"]
            budget = limits.get("MaxNumberOfTrainingJobs", 10**9) - len(tuning.jobs)
            count = min(limits["MaxParallelTrainingJobs"], budget)
            if self.end is not None:
                count = min(count, self.end.after - len(tuning.jobs))
            launched = []
            for _ in range(max(0, count)):
                tuned = next(tuning.grid, None) if tuning.grid is not None else _draw(config, tuning.rng)
                if tuned is None:
                    break
                launched.append(self._launch(client, name, tuning, tuned))
            if end:
                for job in launched:
                    self._end(name, job)
            self._update(name)
            return launched

    def _launch(self, client: Any, name: str, tuning: _Tuning, tuned: dict[str, str]) -> str:
        number = len(tuning.jobs) + 1
        job = f"{name}-{number:03d}-{hashlib.sha256(f'{name}/{number}'.encode()).hexdigest()[:8]}"
        definition = tuning.params["TrainingJobDefinition"]
        params = {k: v for k, v in definition.items() if k in _shape("CreateTrainingJob").members}
        resources = definition.get("HyperParameterTuningResourceConfig")
        if "ResourceConfig" not in params and isinstance(resources, Mapping):
            first = (resources.get("InstanceConfigs") or [{}])[0]
            params["ResourceConfig"] = {"InstanceType": first.get("InstanceType",
                                                                  resources.get("InstanceType")),
                                        "InstanceCount": first.get("InstanceCount", 1),
                                        "VolumeSizeInGB": first.get("VolumeSizeInGB", 10)}
        params.update(TrainingJobName=job, Tags=list(tuning.params.get("Tags") or []),
                      HyperParameters={**(definition.get("StaticHyperParameters") or {}), **tuned})
        client.create_training_job(**params)
        fake = _backend().training_jobs[job]
        fake.training_job_status, fake.secondary_status = "InProgress", "Training"
        fake.training_end_time, fake.final_metric_data_list = None, None
        fake.tuned = dict(tuned)  # the emulator's note: what the summaries list as TunedHyperParameters
        tuning.jobs.append(job)
        tuning.running.append(job)
        return job

    def end_job(self, name: str, job: str) -> None:
        """End a training job left InProgress by ``wave(end=False)`` as its fate says."""
        with self.lock:
            self._end(name, job)
            self._update(name)

    def _end(self, name: str, job: str) -> None:
        tuning = self.tunings[name]
        fake = _backend().training_jobs[job]
        fate = self.fate(fake.tuned)
        now = datetime.now(UTC)
        fake.training_job_status = fate.status
        fake.secondary_status = fate.secondary_status or fate.status
        fake.training_end_time = now
        fake.final_metric_data_list = (None if fate.metrics is None else [
            {"MetricName": k, "Value": float(v), "Timestamp": now} for k, v in fate.metrics.items()])
        if fate.status == "Failed":
            fake.failure_reason = fate.failure_reason or f"AlgorithmError: {job} failed"
        elif fate.failure_reason:
            fake.failure_reason = fate.failure_reason
        tuning.running.remove(job)
        value = _objective_value(tuning, fake)
        objective = tuning.params["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        sign = 1 if objective["Type"] == "Maximize" else -1
        if value is not None and (tuning.best is None or sign * value > sign * tuning.best):
            tuning.best, tuning.not_improving = value, 0
        else:
            tuning.not_improving += 1

    def _update(self, name: str) -> None:
        """The tuning job's counters, best job, completion details and, when it is over, its status."""
        tuning = self.tunings[name]
        job = _backend().hyper_parameter_tuning_jobs[name]
        config = tuning.params["HyperParameterTuningJobConfig"]
        summaries = [self._summary(name, j) for j in tuning.jobs]
        statuses = [s["TrainingJobStatus"] for s in summaries]
        job.training_job_status_counters = {
            "Completed": statuses.count("Completed"), "InProgress": statuses.count("InProgress"),
            "RetryableError": 0, "NonRetryableError": statuses.count("Failed"),
                                            "Stopped": statuses.count("Stopped")}
        objectives = [s["ObjectiveStatus"] for s in summaries]
        job.objective_status_counters = {k: objectives.count(k) for k in ("Succeeded", "Pending", "Failed")}
        best = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        if best:
            sign = 1 if config["HyperParameterTuningJobObjective"]["Type"] == "Maximize" else -1
            job.best_training_job = job.OverallBestTrainingJob = max(
                best, key=lambda s: sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
        job.tuning_job_completion_details = {
            "NumberOfTrainingJobsObjectiveNotImproving": tuning.not_improving}
        runtime = int((datetime.now(UTC) - tuning.created_at).total_seconds())
        job.consumed_resources = {"RuntimeInSeconds": runtime}
        job.last_modified_time = datetime.now(UTC)
        if job.hyper_parameter_tuning_job_status != "InProgress" or tuning.running:
            return
        criteria = config.get("TuningJobCompletionCriteria") or {}
        target = criteria.get("TargetObjectiveMetricValue")
        patience = (criteria.get("BestObjectiveNotImproving") or {}).get(
            "MaxNumberOfTrainingJobsNotImproving")
        sign = 1 if config["HyperParameterTuningJobObjective"]["Type"] == "Maximize" else -1
        done = len(tuning.jobs) >= config["ResourceLimits"].get("MaxNumberOfTrainingJobs", 10**9)
        if tuning.grid is not None and not done and tuning.jobs:
            tuning.grid, peek = itertools.tee(tuning.grid)
            done = next(peek, None) is None
        if self.end is not None and len(tuning.jobs) >= self.end.after:
            job.hyper_parameter_tuning_job_status = self.end.status
            if self.end.status == "Failed":
                job.failure_reason = self.end.failure_reason
            if self.end.convergence:
                job.tuning_job_completion_details["ConvergenceDetectedTime"] = datetime.now(UTC)
        elif (target is not None and tuning.best is not None and sign * tuning.best >= sign * target) \
                or (patience is not None and tuning.not_improving >= patience) or done:
            job.hyper_parameter_tuning_job_status = "Completed"
        if job.hyper_parameter_tuning_job_status != "InProgress":
            job.hyper_parameter_tuning_end_time = datetime.now(UTC)

    # -- StopHyperParameterTuningJob ---------------------------------------------------------------------
    def stop(self, name: str) -> None:
        with self.lock:
            jobs = _backend().hyper_parameter_tuning_jobs
            if name not in jobs:
                self.stop_calls.append((name, "ResourceNotFound"))
                raise _error("ResourceNotFound", f"Amazon SageMaker can't find a tuning job named {name}",
                             "StopHyperParameterTuningJob")
            status = jobs[name].hyper_parameter_tuning_job_status
            if status != "InProgress":
                self.stop_calls.append((name, "ValidationException"))
                raise _error("ValidationException", f"The request was rejected because the hyperparameter "
                                                    f"tuning job is in status "
                                                    f"{status}.", "StopHyperParameterTuningJob")
            self.stop_calls.append((name, None))
            jobs[name].hyper_parameter_tuning_job_status = "Stopping"
            tuning = self.tunings.get(name)
            for job in list(tuning.running if tuning else ()):
                fake = _backend().training_jobs[job]
                fake.training_job_status, fake.secondary_status = "Stopped", "Stopped"
                fake.training_end_time = datetime.now(UTC)
                tuning.running.remove(job)
            if tuning:
                self._update(name)

    def _stopped(self, name: str) -> None:
        job = _backend().hyper_parameter_tuning_jobs[name]
        job.hyper_parameter_tuning_job_status = "Stopped"
        job.hyper_parameter_tuning_end_time = datetime.now(UTC)

    # -- ListTrainingJobsForHyperParameterTuningJob --------------------------------------------------
    def list_training_jobs(self, *, HyperParameterTuningJobName: str, MaxResults: int | None = None,
                           NextToken: str | None = None, SortBy: str | None = None,
                           SortOrder: str | None = None,
                           StatusEquals: str | None = None) -> dict[str, Any]:
        name = HyperParameterTuningJobName
        self.list_calls.append({"HyperParameterTuningJobName": name, "MaxResults": MaxResults,
                                "NextToken": NextToken, "SortBy": SortBy, "SortOrder": SortOrder,
                                "StatusEquals": StatusEquals})
        with self.lock:
            if name not in _backend().hyper_parameter_tuning_jobs:
                raise _error("ResourceNotFound", f"Amazon SageMaker can't find a tuning job named {name}",
                             "ListTrainingJobsForHyperParameterTuningJob")
            size = DEFAULT_RESULTS if MaxResults is None else MaxResults
            if not 1 <= size <= MAX_RESULTS:
                raise _error("ValidationException", f"1 validation error detected: Value '{size}' at "
                             f"'maxResults' failed to satisfy constraint: Member must have value less than "
                             f"or equal to {MAX_RESULTS}", "ListTrainingJobsForHyperParameterTuningJob")
            tuning = self.tunings.get(name)
            summaries = [self._summary(name, j) for j in (tuning.jobs if tuning else [])]
        if StatusEquals:
            summaries = [s for s in summaries if s["TrainingJobStatus"] == StatusEquals]
        key: Callable[[dict[str, Any]], Any] = {
            "CreationTime": lambda s: (s["CreationTime"], s["TrainingJobName"]),
            "Status": lambda s: (s["TrainingJobStatus"], s["TrainingJobName"]),
            "FinalObjectiveMetricValue": lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        }.get(SortBy or "Name", lambda s: s["TrainingJobName"])
        if SortBy == "FinalObjectiveMetricValue":
            summaries = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        summaries.sort(key=key, reverse=SortOrder == "Descending")
        start = 0
        if NextToken:
            try:
                token = json.loads(base64.b64decode(NextToken))
                start, token_name = int(token["offset"]), token["name"]
            except (ValueError, KeyError, TypeError):
                token_name, start = None, 0
            if token_name != name:
                raise _error("ValidationException", "Invalid pagination token",
                             "ListTrainingJobsForHyperParameterTuningJob")
        page = summaries[start:start + size]
        out: dict[str, Any] = {"TrainingJobSummaries": page}
        if start + size < len(summaries):
            out["NextToken"] = base64.b64encode(json.dumps({"name": name, "offset": start + size,
                                                            "nonce": uuid.uuid4().hex}).encode()).decode()
        return out

    def _summary(self, name: str, job: str) -> dict[str, Any]:
        """A TrainingJobSummary of one of the tuning job's training jobs."""
        fake = _backend().training_jobs[job]
        tuning = self.tunings[name]
        out: dict[str, Any] = {
            "TrainingJobName": job, "TrainingJobArn": fake.arn, "TuningJobName": name,
            "CreationTime": fake.creation_time, "TrainingJobStatus": fake.training_job_status,
            "TunedHyperParameters": dict(fake.tuned)}
        if fake.training_job_status != "InProgress":
            out["TrainingStartTime"] = fake.training_start_time
            out["TrainingEndTime"] = fake.training_end_time
        if getattr(fake, "failure_reason", None):
            out["FailureReason"] = fake.failure_reason
        value = _objective_value(tuning, fake)
        objective = tuning.params["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        if value is not None:
            out["FinalHyperParameterTuningJobObjectiveMetric"] = {"Type": objective["Type"],
                                                                  "MetricName": objective["MetricName"],
                                                                  "Value": value}
            out["ObjectiveStatus"] = "Succeeded"
        else:
            out["ObjectiveStatus"] = "Pending" if fake.training_job_status == "InProgress" else "Failed"
        return out


def _objective_value(tuning: _Tuning, fake: Any) -> float | None:
    metric = tuning.params["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
    for entry in fake.final_metric_data_list or ():
        if entry["MetricName"] == metric:
            return float(entry["Value"])
    return None


def _draw(config: Mapping[str, Any], rng: random.Random) -> dict[str, str]:
    """Tuned values drawn uniformly from each range (log ranges in log space), as text."""
    import math

    ranges = config.get("ParameterRanges") or {}
    out: dict[str, str] = {}
    for entry in ranges.get("ContinuousParameterRanges") or ():
        low, high = float(entry["MinValue"]), float(entry["MaxValue"])
        if entry.get("ScalingType") == "Logarithmic":
            value = math.exp(rng.uniform(math.log(low), math.log(high)))
        else:
            value = rng.uniform(low, high)
        out[entry["Name"]] = f"{min(max(value, low), high):.6g}"
    for entry in ranges.get("IntegerParameterRanges") or ():
        out[entry["Name"]] = str(rng.randint(int(entry["MinValue"]), int(entry["MaxValue"])))
    for entry in ranges.get("CategoricalParameterRanges") or ():
        out[entry["Name"]] = rng.choice(entry["Values"])
    return out


def _grid(config: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    entries = (config.get("ParameterRanges") or {}).get("CategoricalParameterRanges") or []
    for values in itertools.product(*(e["Values"] for e in entries)):
        yield {e["Name"]: v for e, v in zip(entries, values, strict=True)}


def _backend() -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[ACCOUNT][REGION]


@functools.cache
def _shape(operation: str) -> Any:
    """botocore's input shape of ``operation`` (loading SageMaker's model takes about 0.1 s: once)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model(operation).input_shape


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": str(uuid.uuid4())}},
                       operation)


# -- moto learns the two calls it lacks ------------------------------------------------------------

@contextlib.contextmanager
def tuning_apis(emulator: TuningEmulator | Callable[[], TuningEmulator]) -> Iterator[None]:
    """moto's SageMaker with ListTrainingJobsForHyperParameterTuningJob and StopHyperParameterTuningJob
    answered by ``emulator`` (or by the one a function returns at each call), its errors as SageMaker's:
    the error code and message it would send."""
    current = emulator if callable(emulator) and not isinstance(emulator,
                                                                TuningEmulator) else lambda: emulator
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.exceptions import SagemakerClientError
    from moto.sagemaker.responses import SageMakerResponse

    def raise_as_moto(exc: ClientError) -> None:
        raise SagemakerClientError(exc.response["Error"]["Code"], exc.response["Error"]["Message"]) from None

    def list_training_jobs(self: SageMakerResponse) -> ActionResult:
        params = {k: self._get_param(k) for k in ("HyperParameterTuningJobName", "MaxResults", "NextToken",
                                                   "SortBy", "SortOrder", "StatusEquals")}
        try:
            return ActionResult(current().list_training_jobs(**params))
        except ClientError as exc:
            raise_as_moto(exc)
            raise

    def stop(self: SageMakerResponse) -> EmptyResult:
        try:
            current().stop(self._get_param("HyperParameterTuningJobName"))
        except ClientError as exc:
            raise_as_moto(exc)
        return EmptyResult()

    names = ("list_training_jobs_for_hyper_parameter_tuning_job", "stop_hyper_parameter_tuning_job")
    originals = {n: SageMakerResponse.__dict__.get(n) for n in names}
    SageMakerResponse.list_training_jobs_for_hyper_parameter_tuning_job = list_training_jobs
    SageMakerResponse.stop_hyper_parameter_tuning_job = stop
    try:
        yield
    finally:
        for n, original in originals.items():
            if original is None:
                delattr(SageMakerResponse, n)
            else:
                setattr(SageMakerResponse, n, original)
