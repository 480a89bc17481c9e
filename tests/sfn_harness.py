"""Run a Step Functions definition for real in moto's interpreter, with byohpo's Lambdas in process
and SageMaker's ``createTrainingJob.sync`` played by an emulator whose jobs end as the test says.

moto 5.2.5 executes Pass, Choice, Map (inline and distributed), Wait, Retry and Catch itself; what it
cannot do is patched here, in moto, never in the definition (a definition bent to suit moto would not
be the one AWS runs):

* Lambda tasks: without Docker moto echoes the payload, so ``lambda:invoke`` is routed to the handler
  functions (an error becomes ``FunctionError`` with ``errorType`` = the exception's class name, as
  Lambda's Python runtime reports it);
* ``sagemaker:createTrainingJob.sync`` is unsupported: a SageMaker task (:class:`_SageMakerTask`)
  creates the job in moto's SageMaker and polls DescribeTrainingJob, the job's status, metrics, failure
  reason and logs set by :class:`SageMakerEmulator` (moto's jobs complete at once with fake metrics);
* ``sagemaker:createHyperParameterTuningJob.sync`` (``amt-*`` runs) likewise (:class:`_SageMakerTasks`),
  on the harness's :class:`amt_emulator.TuningEmulator` (``harness.tuning``), which also teaches moto
  ListTrainingJobsForHyperParameterTuningJob and StopHyperParameterTuningJob;
* ``"RoleArn.$"`` in a task's Parameters is never evaluated (moto's grammar reserves the key for a
  task's credentials; the job would get the path text, or no role): the key is renamed in the
  definition text and renamed back in the task;
* ``states:startExecution`` does not map ``StateMachineArn``/``Input``/``Name`` to the API's names (nor
  the response back): mapped here, so continue-as-new works;
* SageMaker's ``StopTrainingJob`` is not implemented: played by the emulator as SageMaker does it (the
  job is ``Stopping``, then ``Stopped``; a job not running is refused with ValidationException, a
  missing one with ResourceNotFound: :meth:`SageMakerEmulator.stop`);
* a watched job (early stopping) prints its log over time: its clock is its Watch Lambda's looks, each
  preceded by the next epochs of its log (:class:`JobFate` ``epochs``), so that what each look sees is
  known;
* an integer ``ToleratedFailurePercentage`` does not parse: written as a float;
* waits: ``.sync`` polls every 0.5 s, Retry and Wait sleep their real seconds: scaled down;
* speed: every JSONPath evaluation parses its path anew with jsonpath-ng (about 20 ms each, a few
  seconds per generation): parsed paths are cached.

Usage (inside ``with harness:`` every patch is active, moto included)::

    with SfnHarness(handlers={"byohpo-start": start.handler, ...}, sagemaker=SageMakerEmulator(fate)) as h:
        arn = h.create_state_machine(definition_json, {"StartFunctionArn": h.function_arn("byohpo-start")})
        chain = h.run(arn, request, name="run-1")     # every execution, continuations followed

or, with byohpo's four handlers, table and bucket set up: ``with byohpo_loop({"key": definition_json})
as loop: loop.run(request)`` (the end of this module).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from amt_emulator import TuningEmulator, tuning_apis
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common import parargs
from moto.stepfunctions.parser.asl.component.common.error_name import error_equals_decl
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state import state as moto_state
from moto.stepfunctions.parser.asl.component.state.exec.state_map import item_selector
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    inline_item_processor,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
    lambda_eval_utils,
    state_task_factory,
    state_task_lambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service,
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils import json_path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # state_machine/ is not an installed package
    sys.path.insert(0, str(ROOT))

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account: the interpreter's own clients land there
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/byohpo-states"
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"

# Held by every request to moto, and by the emulator while it changes moto's records.
_MOTO_LOCK = threading.RLock()
# The key "RoleArn.$" becomes in the definition moto parses (see the module docstring).
_ROLE_PATH_KEY = "HarnessRoleArn"
_TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
_MODELLED_ERRORS = ("ResourceInUse", "ResourceLimitExceeded", "ResourceNotFound", "Conflict")


# -- the SageMaker emulator ------------------------------------------------------------------------

@dataclass(frozen=True)
class JobFate:
    """How one training job ends.

    Args:
        status: ``Completed``, ``Failed`` or ``Stopped``.
        metrics: its ``FinalMetricDataList`` as ``{name: value}``; None: the description has none.
        log_lines: lines the job writes to its CloudWatch log stream when it ends.
        failure_reason: SageMaker's ``FailureReason`` (a failed job gets a default one).
        polls: how many DescribeTrainingJob polls still see it ``InProgress``.
        epochs: a watched job's log, one line per epoch, written as it trains: ``epochs_per_look``
            lines before each look of its Watch Lambda. It ends as ``status`` says the moment its last
            line is written (between two looks); until then ``.sync`` sees it ``InProgress``, whatever
            ``polls`` says. A job with epochs ends only so, or when stopped: give them to watched jobs.
        epochs_per_look: how many of ``epochs`` are written before each look.
        completes_before_stop: a ``StopTrainingJob`` finds the job completed: it writes the rest of its
            epochs and ends ``Completed`` first, and the stop is refused, as SageMaker refuses to stop
            a job that has ended.
        stopping_polls: how many ``.sync`` polls a stopped job stays ``Stopping`` before ``Stopped``.
    """

    status: str = "Completed"
    metrics: Mapping[str, float] | None = None
    log_lines: Sequence[str] = ()
    failure_reason: str | None = None
    polls: int = 0
    epochs: Sequence[str] = ()
    epochs_per_look: int = 1
    completes_before_stop: bool = False
    stopping_polls: int = 1


@dataclass
class _Job:
    params: dict[str, Any]
    fate: JobFate
    polls_left: int
    created_at: datetime
    ended: bool = False
    written: int = 0  # of fate.epochs
    logged: int = 0  # log events written
    looks: int = 0
    stopping: int | None = None  # .sync polls left in Stopping, once StopTrainingJob was called


class SageMakerEmulator:
    """The training jobs of an execution: ``fate(params)`` decides how each ends, from its
    CreateTrainingJob parameters (a known function of ``params["HyperParameters"]``). A job is
    ``InProgress`` in moto (DescribeTrainingJob says so to anyone asking) until ``.sync``'s polls have
    seen it ``fate.polls`` times, or :meth:`end` ends it.

    Args:
        fate: the job's :class:`JobFate`; default every job completes with no metrics.
        gate: jobs stay ``InProgress`` until this many are in flight at once (or ``gate_seconds``
            have passed since the first was created): proves that many run in parallel.
        gate_seconds: how long the gate waits at most.
    """

    def __init__(self, fate: Callable[[Mapping[str, Any]], JobFate] = lambda params: JobFate(), *,
                 gate: int | None = None, gate_seconds: float = 20.0) -> None:
        self.fate = fate
        self.gate, self.gate_seconds = gate, gate_seconds
        self._first_create: float | None = None
        self._lock = threading.Lock()
        self._errors: list[tuple[str, str]] = []
        self.jobs: dict[str, _Job] = {}
        #: Every CreateTrainingJob call, failed ones too: (job name, error or None).
        self.create_calls: list[tuple[str, str | None]] = []
        #: Every StopTrainingJob call: (job name, error code or None).
        self.stop_calls: list[tuple[str, str | None]] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def fail_creates(self, *errors: tuple[str, str] | None) -> None:
        """The next CreateTrainingJob calls, one per ``(error, cause)``, fail before any job exists,
        with that Step Functions error name (``SageMaker.ThrottlingException``, ...); a None lets its
        call through."""
        with self._lock:
            self._errors.extend(errors)

    def end(self, name: str, client: Any, logs: Any, status: str | None = None) -> None:
        """End the job now, as its fate says (a job whose ``.sync`` task is gone ends all the same), or
        with ``status``."""
        with self._lock:
            job = self.jobs[name]
            if job.ended:
                return
            job.ended = True
            self.in_flight -= 1
        _end_job(client, logs, job, status)

    def look(self, name: str, client: Any, logs: Any) -> None:
        """A watched job's clock: its Watch Lambda is about to look, and the job has printed its next
        epochs meanwhile (ending, as its fate says, with the last)."""
        with self._lock:
            job = self.jobs.get(name)
            if job is None or job.ended or job.stopping is not None or not job.fate.epochs:
                return
            job.looks += 1
            lines = list(job.fate.epochs[job.written: job.written + job.fate.epochs_per_look])
            job.written += len(lines)
            last = job.written >= len(job.fate.epochs)
        _write_log(logs, job, lines)
        if last:
            self.end(name, client, logs)

    def stop(self, name: str, client: Any, logs: Any) -> None:
        """StopTrainingJob, as SageMaker answers it: a running job is ``Stopping``, then ``Stopped``
        (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StopTrainingJob.html); a job that
        is not running (it has ended, or completes first, per its fate) is refused with
        ValidationException "The request was rejected because the training job is in status <status>."
        (SageMaker's answer, quoted in https://github.com/awslabs/benchmark-ai/issues/928); a job that
        does not exist, with the reference's ResourceNotFound."""
        from moto.sagemaker.exceptions import ResourceNotFound
        from moto.sagemaker.exceptions import ValidationError as MotoValidationError

        with self._lock:
            job = self.jobs.get(name)
        if job is None:
            with self._lock:
                self.stop_calls.append((name, "ResourceNotFound"))
            raise ResourceNotFound(f"Training job {name} does not exist")
        if job.fate.completes_before_stop and not job.ended:
            with self._lock:
                rest = list(job.fate.epochs[job.written:])
                job.written = len(job.fate.epochs)
            _write_log(logs, job, rest)
            self.end(name, client, logs, "Completed")
        with _MOTO_LOCK:
            status = _fake_job(job).training_job_status
        if status != "InProgress":
            with self._lock:
                self.stop_calls.append((name, "ValidationException"))
            raise MotoValidationError(f"The request was rejected because the training job is in status "
                                      f"{status}.")
        with self._lock:
            self.stop_calls.append((name, None))
            job.stopping = job.fate.stopping_polls
        with _MOTO_LOCK:
            fake = _fake_job(job)
            fake.training_job_status, fake.secondary_status = "Stopping", "Stopping"

    def _create(self, client: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        name = params.get("TrainingJobName", "")
        with self._lock:
            error = self._errors.pop(0) if self._errors else None
        if error:
            with self._lock:
                self.create_calls.append((name, error[0]))
            raise InjectedError(*error)
        with _MOTO_LOCK:  # the name checked and taken at once, as SageMaker does
            refused = refuse_create(params)
            response = None if refused else client.create_training_job(**params)
        with self._lock:
            self.create_calls.append((name, refused.response["Error"]["Code"] if refused else None))
        if refused is not None:
            raise refused
        fate = self.fate(params)
        job = _Job(dict(params), fate, fate.polls, datetime.now(UTC))
        _start_job(job)
        with self._lock:
            if self._first_create is None:
                self._first_create = time.monotonic()
            self.jobs[name] = job
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return {"TrainingJobArn": response["TrainingJobArn"]}

    def _poll(self, client: Any, logs: Any, name: str) -> dict[str, Any] | None:
        """The job's description once it has ended, else None."""
        status = None
        with self._lock:
            job = self.jobs[name]
            if not job.ended:
                if job.stopping is not None:
                    if job.stopping > 0:
                        job.stopping -= 1
                        return None
                    status = "Stopped"
                elif job.fate.epochs:  # a watched job: it ends with its last epoch, at a look
                    return None
                else:
                    if self._gated():
                        return None
                    if job.polls_left > 0:
                        job.polls_left -= 1
                        return None
        self.end(name, client, logs, status)
        return client.describe_training_job(TrainingJobName=name)

    def _gated(self) -> bool:
        if self.gate is None or self.max_in_flight >= self.gate:
            return False
        return time.monotonic() - (self._first_create or 0.0) < self.gate_seconds


def refuse_create(params: Mapping[str, Any]) -> ClientError | None:
    """What SageMaker refuses in a CreateTrainingJob and moto lets through: a name already taken
    (SageMaker's names are unique per account and Region for ever, moto overwrites the job), and the
    maxima and patterns of SageMaker's model that botocore does not check (``Tags`` at most 50, ...).
    Hold ``_MOTO_LOCK`` around this and the create, so that the name is checked and taken at once."""
    from moto.sagemaker.models import sagemaker_backends

    name = params.get("TrainingJobName", "")
    with _MOTO_LOCK:
        taken = name in sagemaker_backends[ACCOUNT][REGION].training_jobs
    if taken:
        arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{name.lower()}"
        return _client_error("ResourceInUse", "Training job names must be unique within an AWS account and "
                                              f"region, and a training job with this name already exists "
                                              f"({arn})")
    problems = model_violations(params, _create_training_job_shape())
    if problems:
        return _client_error("ValidationException", f"{len(problems)} validation error"
                             f"{'s' * (len(problems) != 1)} detected: " + "; ".join(problems))
    return None


def model_violations(value: Any, shape: Any, path: str = "") -> list[str]:
    """SageMaker's messages for ``value``'s breaches of the maxima and patterns in botocore's model."""
    out: list[str] = []
    meta, kind = shape.metadata, shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        for key, member in shape.members.items():
            if key in value:
                out += model_violations(value[key], member, f"{path}.{key}" if path else key)
    elif kind in ("list", "map") and isinstance(value, list | Mapping):
        if len(value) > meta.get("max", len(value)):
            out.append(f"Value at '{path}' failed to satisfy constraint: Member must have length less than "
                       f"or equal to {meta['max']}")
        items = enumerate(value) if kind == "list" else value.items()
        for key, item in items:
            if kind == "map":
                out += model_violations(key, shape.key, f"{path}.{key}")
            out += model_violations(item, shape.member if kind == "list" else shape.value,
                                    f"{path}[{key}]" if kind == "list" else f"{path}.{key}")
    elif kind == "string" and isinstance(value, str):
        if len(value) > meta.get("max", len(value)):
            out.append(f"Value at '{path}' failed to satisfy constraint: Member must have length less than "
                       f"or equal to {meta['max']}")
        try:
            pattern = re.compile(meta["pattern"]) if meta.get("pattern") else None
        except re.error:  # Java's \p{...} classes: not checked here
            pattern = None
        if pattern is not None and not pattern.fullmatch(value):
            out.append(f"Value '{value[:60]}' at '{path}' failed to satisfy constraint: Member must satisfy "
                       f"regular expression pattern: {meta['pattern']}")
    elif kind in ("integer", "long") and isinstance(value, int) and value > meta.get("max", value):
        out.append(f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have value less "
                   f"than or equal to {meta['max']}")
    return out


@functools.cache
def _create_training_job_shape() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker").operation_model(
        "CreateTrainingJob").input_shape


def _client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": str(uuid.uuid4())}},
                       "CreateTrainingJob")


class InjectedError(Exception):
    """A CreateTrainingJob failure a test asked for."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(error, cause)
        self.error, self.cause = error, cause


def _fake_job(job: _Job) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[ACCOUNT][REGION].training_jobs[job.params["TrainingJobName"]]


def _start_job(job: _Job) -> None:
    """moto completes a job at once, with fake metrics, and replaces its MetricDefinitions: make it a
    job that runs."""
    with _MOTO_LOCK:
        fake = _fake_job(job)
        fake.algorithm_specification = json.loads(json.dumps(job.params["AlgorithmSpecification"]))
        fake.training_job_status, fake.secondary_status = "InProgress", "Training"
        fake.training_start_time, fake.training_end_time = job.created_at, None
        fake.final_metric_data_list = None


def _end_job(client: Any, logs: Any, job: _Job, status: str | None = None) -> None:
    """Make moto's record of the job say what its fate says (or ``status``: a job stopped, or completed
    before a stop): what DescribeTrainingJob tells the ``.sync`` task, and Evaluate afterwards."""
    name, fate = job.params["TrainingJobName"], job.fate
    status = status or fate.status
    now = datetime.now(UTC)
    with _MOTO_LOCK:
        fake = _fake_job(job)
        fake.training_job_status = fake.secondary_status = status
        fake.training_end_time = now
        fake.final_metric_data_list = (None if fate.metrics is None else [
            {"MetricName": k, "Value": float(v), "Timestamp": now} for k, v in fate.metrics.items()])
        if status == "Failed" or (status == "Stopped" and fate.status == "Stopped"):
            fake.failure_reason = fate.failure_reason or f"AlgorithmError: {name} failed"
    _write_log(logs, job, fate.log_lines)


def _write_log(logs: Any, job: _Job, lines: Sequence[str]) -> None:
    """Append ``lines`` to the job's log stream (``<job>/algo-1-<creation time>``), made on first use,
    one event per line, their timestamps in order."""
    if not lines:
        return
    name = job.params["TrainingJobName"]
    stream = f"{name}/algo-1-{int(job.created_at.timestamp())}"
    base = int(job.created_at.timestamp() * 1000)
    with _MOTO_LOCK:
        if not logs.describe_log_streams(logGroupName=TRAINING_LOG_GROUP,
                                         logStreamNamePrefix=stream)["logStreams"]:
            logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream)
        logs.put_log_events(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream, logEvents=[
            {"timestamp": base + job.logged + i, "message": line} for i, line in enumerate(lines)])
        job.logged += len(lines)


def _as_sfn_json(value: Any) -> Any:
    """A botocore response as Step Functions hands it on: JSON, timestamps in epoch milliseconds."""
    if isinstance(value, datetime):
        return value.timestamp() * 1000
    if isinstance(value, Mapping):
        return {k: _as_sfn_json(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [_as_sfn_json(v) for v in value]
    return value


def integration_error(exc: ClientError) -> tuple[str, str]:
    """A SageMaker API error as the optimized integration reports it: modelled errors by their class,
    the rest (ValidationException, ThrottlingException) as AmazonSageMakerException, the real code in
    the cause."""
    code = exc.response["Error"]["Code"].removesuffix("Exception")
    error = f"SageMaker.{code}Exception" if code in _MODELLED_ERRORS else "SageMaker.AmazonSageMakerException"
    cause = (f"{exc.response['Error'].get('Message', '')} (Service: AmazonSageMaker; Status Code: 400; "
             f"Error Code: {exc.response['Error']['Code']}; Request ID: {uuid.uuid4()}; Proxy: null)")
    return error, cause


def as_sfn_json(value: Any) -> Any:
    """A botocore response as Step Functions hands it on: JSON, timestamps in epoch milliseconds."""
    return _as_sfn_json(value)


class _SageMakerTask(StateTaskServiceCallback):
    """``arn:aws:states:::sagemaker:createTrainingJob(.sync)`` on moto's SageMaker. moto's callback
    base releases a task-token endpoint after every ``.sync`` task, so the pattern is declared too."""

    def __init__(self, harness: SfnHarness) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition.Sync,
                                                         ResourceCondition.WaitForTaskToken})
        self._harness = harness

    def _get_supported_parameters(self) -> set[str] | None:
        if self.resource.api_action.lower() != "createtrainingjob":
            return None
        members = set(self._harness.sagemaker_input_members())
        return members | {_ROLE_PATH_KEY}

    def _normalise_parameters(self, parameters: dict, boto_service_name: str | None = None,
                              service_action_name: str | None = None) -> None:
        if _ROLE_PATH_KEY in parameters:
            parameters["RoleArn"] = parameters.pop(_ROLE_PATH_KEY)

    def _eval_service_task(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
                           state_credentials: Any) -> None:
        h = self._harness
        env.stack.append(h.sagemaker._create(h.client("sagemaker"), normalised_parameters))

    def _build_sync_resolver(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
                             state_credentials: Any) -> Callable[[], Any]:
        env.stack.pop()  # CreateTrainingJob's response
        h, name = self._harness, normalised_parameters["TrainingJobName"]

        def resolve() -> Any:
            desc = h.sagemaker._poll(h.client("sagemaker"), h.client("logs"), name)
            if desc is None:
                return None
            desc = _as_sfn_json(desc)
            if desc["TrainingJobStatus"] == "Completed":
                return desc
            # What Step Functions does when the job fails or is stopped: the description is the cause.
            raise FailureEventException(self._task_failed(
                env, StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                StatesErrorNameType.StatesTaskFailed.to_name(), json.dumps(desc, separators=(",", ":"))))

        return resolve

    def _task_failed(self, env: Any, error_name: Any, error: str, cause: str) -> FailureEvent:
        return FailureEvent(env=env, error_name=error_name, event_type=HistoryEventType.TaskFailed,
                            event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                                error=error, cause=cause, resource=self._get_sfn_resource(),
                                resourceType=self._get_sfn_resource_type())))

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, InjectedError):
            return self._task_failed(env, CustomErrorName(ex.error), ex.error, ex.cause)
        if isinstance(ex, ClientError):
            error, cause = integration_error(ex)
            return self._task_failed(env, CustomErrorName(error), error, cause)
        return super()._from_error(env=env, ex=ex)


class _StartExecutionTask(StateTaskServiceSfn):
    """``states:startExecution`` with the optimized integration's field names mapped."""

    _REQUEST = {"StateMachineArn": "stateMachineArn", "Input": "input", "Name": "name"}
    _RESPONSE = {"executionArn": "ExecutionArn", "startDate": "StartDate"}

    def _eval_service_task(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
                           state_credentials: Any) -> None:
        if self._get_boto_service_action() != "start_execution":
            return super()._eval_service_task(env, resource_runtime_part, normalised_parameters,
                                              state_credentials)
        params = {self._REQUEST.get(k, k): v for k, v in normalised_parameters.items()}
        response = self._harness.client("stepfunctions").start_execution(**params)
        env.stack.append(_as_sfn_json({self._RESPONSE.get(k, k): v for k, v in response.items()}))
        return None

    _harness: SfnHarness


# -- SageMaker's own tuner (amt-* runs) ----------------------------------------------------------

class _SageMakerTasks(_SageMakerTask):
    """:class:`_SageMakerTask`, and ``sagemaker:createHyperParameterTuningJob(.sync)`` on the harness's
    tuning emulator: the create refused as SageMaker refuses it, then DescribeHyperParameterTuningJob
    polled until the tuning job ends. A tuning job that ended Failed or Stopped fails the task with
    ``States.TaskFailed`` and its description as the Cause, cut to Step Functions' 32,768 characters,
    as ``.sync`` does with a training job."""

    def _tuning(self) -> bool:
        return self.resource.api_action.lower() == "createhyperparametertuningjob"

    def _get_supported_parameters(self) -> set[str] | None:
        if not self._tuning():
            return super()._get_supported_parameters()
        model = self._harness.client("sagemaker").meta.service_model
        return set(model.operation_model("CreateHyperParameterTuningJob").input_shape.members)

    def _eval_service_task(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
                           state_credentials: Any) -> None:
        if not self._tuning():
            return super()._eval_service_task(env, resource_runtime_part, normalised_parameters,
                                              state_credentials)
        h = self._harness
        env.stack.append(h.tuning.create(h.client("sagemaker"), normalised_parameters))
        return None

    def _build_sync_resolver(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
                             state_credentials: Any) -> Callable[[], Any]:
        if not self._tuning():
            return super()._build_sync_resolver(env, resource_runtime_part, normalised_parameters,
                                                state_credentials)
        env.stack.pop()  # CreateHyperParameterTuningJob's response
        h, name = self._harness, normalised_parameters["HyperParameterTuningJobName"]

        def resolve() -> Any:
            desc = h.tuning.poll(h.client("sagemaker"), name)
            if desc is None:
                return None
            desc = _as_sfn_json(desc)
            if desc["HyperParameterTuningJobStatus"] == "Completed":
                return desc
            cause = json.dumps(desc, separators=(",", ":"))[:CAUSE_LIMIT]
            raise FailureEventException(self._task_failed(
                env, StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                StatesErrorNameType.StatesTaskFailed.to_name(), cause))

        return resolve


#: Step Functions keeps at most this many characters of an error's Cause.
CAUSE_LIMIT = 32_768


# -- what AWS enforces and moto does not ---------------------------------------------------------

#: Step Functions' quota on a state's input and output, and on a task's result: 256 KiB of UTF-8 JSON
#: (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
PAYLOAD_LIMIT = 256 * 1024
#: An inline Map runs at most 40 iterations at once, whatever its MaxConcurrency says: "In this mode,
#: the Map state supports up to 40 concurrent iterations"
#: (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-asl-use-map-state-inline.html).
INLINE_MAP_CONCURRENCY = 40
#: What ``States.ALL`` does not catch: "This error type can't catch the States.DataLimitExceeded
#: terminal error type and runtime error types"
#: (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
UNCATCHABLE = (StatesErrorNameType.StatesStatesDataLimitExceeded, StatesErrorNameType.StatesRuntime)
DATA_LIMIT_EXCEEDED = StatesErrorNameType.StatesStatesDataLimitExceeded.to_name()


def payload_bytes(value: Any) -> int:
    """A state's input or output as the quota counts it: its JSON in UTF-8 (moto's measure, default
    separators, a few percent above the compact form: if anything, stricter than AWS)."""
    return len(json.dumps(value).encode("utf-8"))


def _state_name(env: Any) -> str:
    state = env.states.context_object.context_object_data.get("State") or {}
    return str(state.get("Name", "?"))


def _data_limit(env: Any, what: str, size: int) -> FailureEventException:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails

    cause = (f"{what} is {size:,} bytes, above the {PAYLOAD_LIMIT:,} Step Functions allows (emulated by "
             "tests/sfn_harness.py)")
    return FailureEventException(failure_event=FailureEvent(
        env=env, error_name=StatesErrorName(typ=StatesErrorNameType.StatesStatesDataLimitExceeded),
        event_type=HistoryEventType.ExecutionFailed,
        event_details=EventDetails(executionFailedEventDetails=ExecutionFailedEventDetails(
            error=DATA_LIMIT_EXCEEDED, cause=cause))))


class PayloadSizes:
    """The largest size seen of each state's input, parameters, output and task result, by
    ``"<state>: <what>"``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.largest: dict[str, int] = {}

    def record(self, key: str, size: int) -> None:
        with self._lock:
            self.largest[key] = max(size, self.largest.get(key, 0))

    def clear(self) -> None:
        with self._lock:
            self.largest.clear()

    def top(self) -> tuple[str, int]:
        with self._lock:
            return max(self.largest.items(), key=lambda kv: kv[1], default=("", 0))


@contextlib.contextmanager
def _aws_limits(sizes: PayloadSizes) -> Iterator[None]:
    """moto with Step Functions' payload quota on every state's input, its Parameters or ItemSelector
    output, its result and its output (``States.DataLimitExceeded``), ``States.ALL`` not catching
    that error nor ``States.Runtime``, a failed Map iteration's ``States.*`` error reported by its name,
    and an inline Map at most 40 iterations at once."""
    common = moto_state.CommonStateField
    originals = (error_equals_decl.ErrorEqualsDecl._eval_body, common._eval_body, common._verify_size_quota,
                 state_task_lambda.StateTaskLambda._verify_size_quota,
                 state_task_service.StateTaskService._verify_size_quota, parargs.Parargs._eval_body,
                 item_selector.ItemSelector._eval_body, inline_item_processor.InlineItemProcessor._eval_body)
    (equals_body, state_body, _, _, _, parargs_body, selector_body, inline_body) = originals

    def error_equals(self: Any, env: Any) -> None:
        error = env.stack[-1]
        if (self._STATE_ALL_ERROR in self.error_names and isinstance(error, StatesErrorName)
                and error.typ in UNCATCHABLE):
            env.stack.pop()
            env.stack.append(False)
            return
        equals_body(self, env)

    def check(env: Any, what: str, value: Any) -> None:
        size = payload_bytes(value)
        sizes.record(f"{_state_name(env)}: {what}", size)
        if size > PAYLOAD_LIMIT:
            raise _data_limit(env, f"the {what} of state {_state_name(env)!r}", size)

    def state_eval(self: Any, env: Any) -> None:
        check(env, "input", env.states.get_input())
        state_body(self, env)
        if env.is_running():
            check(env, "output", env.states.get_input())  # the next state's input, now

    def verify_output(self: Any, env: Any, value: Any) -> None:
        check(env, "output", value)

    def verify_result(self: Any, env: Any, value: Any) -> None:
        check(env, "result", value)

    def parameters(self: Any, env: Any) -> None:
        parargs_body(self, env)
        check(env, "parameters", env.stack[-1])

    def selector(self: Any, env: Any) -> None:
        selector_body(self, env)
        check(env, "item selector output", env.stack[-1])

    def error_name(error_name: str) -> Any:
        # A failed iteration's error as the Map reports it: moto makes every name a custom one and
        # refuses the reserved States.* names (States.DataLimitExceeded became States.Runtime).
        if error_name.startswith("States."):
            return StatesErrorName.from_name(error_name)
        return CustomErrorName(error_name=error_name)

    def inline(self: Any, env: Any) -> None:
        eval_input = env.stack[-1]
        if not 0 < eval_input.max_concurrency <= INLINE_MAP_CONCURRENCY:
            eval_input.max_concurrency = INLINE_MAP_CONCURRENCY
        inline_body(self, env)

    error_equals_decl.ErrorEqualsDecl._eval_body = error_equals
    common._eval_body = state_eval
    common._verify_size_quota = verify_output
    state_task_lambda.StateTaskLambda._verify_size_quota = verify_result
    state_task_service.StateTaskService._verify_size_quota = verify_result
    parargs.Parargs._eval_body = parameters
    item_selector.ItemSelector._eval_body = selector
    inline_item_processor.InlineItemProcessor._eval_body = inline
    iteration_worker.CustomErrorName = error_name
    try:
        yield
    finally:
        iteration_worker.CustomErrorName = CustomErrorName
        (error_equals_decl.ErrorEqualsDecl._eval_body, common._eval_body, common._verify_size_quota,
         state_task_lambda.StateTaskLambda._verify_size_quota,
         state_task_service.StateTaskService._verify_size_quota, parargs.Parargs._eval_body,
         item_selector.ItemSelector._eval_body,
         inline_item_processor.InlineItemProcessor._eval_body) = originals


# -- Lambda ----------------------------------------------------------------------------------------

@dataclass
class LambdaContext:
    """The parts of Lambda's context object a handler may read."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    deadline: float = field(default_factory=lambda: time.monotonic() + 300)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    function: str
    event: Any
    result: Any = None
    error: str | None = None


# -- the harness -----------------------------------------------------------------------------------

class SfnHarness:
    """moto with Step Functions executing definitions, and the patches of the module docstring.

    Args:
        handlers: Lambda function name -> ``handler(event, context)``.
        sagemaker: the training jobs' emulator.
        poll_seconds: ``.sync`` poll interval (moto's is 0.5 s).
        time_scale: factor on the seconds Retry sleeps (the requested seconds are recorded in
            ``retry_sleeps``).
        wait_scale: factor on the seconds a Wait state waits (recorded in ``wait_sleeps``).
        setup: called inside moto before anything runs (create tables, buckets, clients).
    """

    def __init__(self, *, handlers: Mapping[str, Callable[[Any, Any], Any]],
                 sagemaker: SageMakerEmulator | None = None, poll_seconds: float = 0.002,
                 time_scale: float = 0.0, wait_scale: float = 0.001,
                 setup: Callable[[SfnHarness], None] | None = None) -> None:
        self.handlers = dict(handlers)
        self.sagemaker = sagemaker or SageMakerEmulator()
        #: SageMaker's own tuner (amt-* runs); replace it between runs (Loop.fresh_tuning).
        self.tuning = TuningEmulator(lock=_MOTO_LOCK)
        self.poll_seconds = poll_seconds
        self.time_scale = time_scale
        self.wait_scale = wait_scale
        self._setup = setup
        self.invocations: list[Invocation] = []
        #: The largest payload of each state seen, by "<state>: <input|parameters|result|output>".
        self.payload_sizes = PayloadSizes()
        self.retry_sleeps: list[float] = []
        self.wait_sleeps: list[float] = []
        self._lambda_errors: dict[str, list[str]] = {}
        #: Lambda function name -> called with each event before its handler (a watched job's clock).
        self.before_invoke: dict[str, Callable[[Any], None]] = {}
        self._lost_results: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._stack: contextlib.ExitStack | None = None
        self._members: tuple[str, ...] = ()

    # -- set-up ----------------------------------------------------------------------------------
    def __enter__(self) -> SfnHarness:
        stack = contextlib.ExitStack()
        stack.enter_context(_serialized_moto())
        stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True},
                                             "lambda": {"use_docker": False}}))
        stack.enter_context(self._patched())
        stack.enter_context(_aws_limits(self.payload_sizes))
        stack.enter_context(tuning_apis(lambda: self.tuning))
        self._stack = stack
        try:
            self.client("logs").create_log_group(logGroupName=TRAINING_LOG_GROUP)
            if self._setup is not None:
                self._setup(self)
        except BaseException:
            stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stack is not None
        try:
            self._wait_for_running()
        finally:
            self._stack.close()
            self._stack = None
            self._clients.clear()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(service, region_name=REGION)
            return self._clients[service]

    def sagemaker_input_members(self) -> tuple[str, ...]:
        if not self._members:
            model = self.client("sagemaker").meta.service_model
            self._members = tuple(model.operation_model("CreateTrainingJob").input_shape.members)
        return self._members

    @contextlib.contextmanager
    def _patched(self) -> Iterator[None]:
        harness = self
        original_factory = state_task_factory.state_task_service_for
        original_invoke = lambda_eval_utils._invoke_lambda_function
        original_delay = state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK
        original_time = retrier_decl.time
        original_wait = WaitFunction._wait_interval
        original_parsers = json_path.parse, result_path.parse
        from moto.sagemaker.responses import SageMakerResponse

        def stop_training_job(response: Any) -> Any:
            from moto.core.responses import EmptyResult

            name = response._get_param("TrainingJobName")
            harness.sagemaker.stop(name, harness.client("sagemaker"), harness.client("logs"))
            return EmptyResult()

        def service_for(service_name: str) -> Any:
            if service_name == "sagemaker":
                return _SageMakerTasks(harness)
            if service_name == "states":
                task = _StartExecutionTask()
                task._harness = harness
                return task
            return original_factory(service_name=service_name)

        class _ScaledTime:
            @staticmethod
            def sleep(seconds: float) -> None:
                harness.retry_sleeps.append(seconds)
                time.sleep(seconds * harness.time_scale)

        def wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
            harness.wait_sleeps.append(wait_seconds)
            if wait_seconds > 0:
                env.program_state_event.wait(wait_seconds * harness.wait_scale)

        # IsPresent logs every absent path as an error: noise, the Choice tests for exactly that.
        quiet = _DropMissingPaths()
        logging.getLogger(_EVAL_LOGGER).addFilter(quiet)
        state_task_factory.state_task_service_for = service_for
        SageMakerResponse.stop_training_job = stop_training_job  # moto has none
        lambda_eval_utils._invoke_lambda_function = self._invoke
        state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK = self.poll_seconds
        retrier_decl.time = _ScaledTime
        WaitFunction._wait_interval = wait_interval
        # Parsed paths are immutable: one per distinct path text is enough.
        json_path.parse = functools.lru_cache(maxsize=None)(original_parsers[0])
        result_path.parse = functools.lru_cache(maxsize=None)(original_parsers[1])
        try:
            yield
        finally:
            state_task_factory.state_task_service_for = original_factory
            del SageMakerResponse.stop_training_job
            lambda_eval_utils._invoke_lambda_function = original_invoke
            state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK = original_delay
            retrier_decl.time = original_time
            WaitFunction._wait_interval = original_wait
            json_path.parse, result_path.parse = original_parsers
            logging.getLogger(_EVAL_LOGGER).removeFilter(quiet)

    # -- Lambda ----------------------------------------------------------------------------------
    @staticmethod
    def function_arn(name: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"

    def fail_invokes(self, function: str, *codes: str) -> None:
        """The next invokes of ``function`` fail in Lambda itself, one per error code
        (``TooManyRequestsException`` -> ``Lambda.TooManyRequestsException``)."""
        with self._lock:
            self._lambda_errors.setdefault(function, []).extend(codes)

    def lose_results(self, function: str, *codes: str) -> None:
        """The next invokes of ``function`` run the handler, then fail in Lambda with these error codes
        (``ServiceException`` -> ``Lambda.ServiceException``): its work is done, its answer lost, and
        Step Functions retries it."""
        with self._lock:
            self._lost_results.setdefault(function, []).extend(codes)

    def _invoke(self, parameters: dict, region: str, state_credentials: Any) -> dict[str, Any]:
        arn = parameters["FunctionName"]
        name = arn.split(":function:", 1)[-1].split(":", 1)[0]
        event = json.loads(parameters.get("Payload") or b"{}")
        with self._lock:
            queued = self._lambda_errors.get(name)
            code = queued.pop(0) if queued else None
        if code:
            self.invocations.append(Invocation(name, event, error=f"Lambda.{code}"))
            raise ClientError({"Error": {"Code": code, "Message": f"{code} (injected by the test)"},
                               "ResponseMetadata": {"HTTPStatusCode": 429, "RequestId": str(uuid.uuid4())}},
                              "Invoke")
        handler = self.handlers.get(name)
        before = self.before_invoke.get(name)
        if handler is not None and before is not None:
            before(event)
        if handler is None:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException",
                                         "Message": f"Function not found: {arn}"},
                               "ResponseMetadata": {"HTTPStatusCode": 404, "RequestId": "none"}}, "Invoke")
        try:
            # A JSON round trip each way, as Lambda does: a handler returning something that is not
            # JSON fails here as it would there.
            result = json.loads(json.dumps(handler(event, LambdaContext(name, arn)), allow_nan=False))
        except Exception as exc:
            self.invocations.append(Invocation(name, event, error=type(exc).__name__))
            payload = {"errorMessage": str(exc), "errorType": type(exc).__name__,
                       "requestId": str(uuid.uuid4()),
                       "stackTrace": traceback.format_tb(exc.__traceback__)[-5:]}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": payload,
                    "ExecutedVersion": "$LATEST"}
        with self._lock:
            lost = self._lost_results.get(name)
            code = lost.pop(0) if lost else None
        if code:  # the handler ran and wrote what it writes; its answer never reached Step Functions
            self.invocations.append(Invocation(name, event, result, error=f"Lambda.{code}"))
            raise ClientError({"Error": {"Code": code, "Message": f"{code} (injected by the test after the "
                                                                  "function ran)"},
                               "ResponseMetadata": {"HTTPStatusCode": 500, "RequestId": str(uuid.uuid4())}},
                              "Invoke")
        self.invocations.append(Invocation(name, event, result))
        return {"StatusCode": 200, "Payload": result, "ExecutedVersion": "$LATEST"}

    # -- state machines and executions -------------------------------------------------------------
    def create_state_machine(self, definition: str | Mapping[str, Any],
                             substitutions: Mapping[str, str] | None = None, *,
                             name: str = "byohpo-tuning") -> str:
        """Create the state machine from ``definition`` (text as a stack synthesizes it, or a dict),
        ``${Key}`` placeholders replaced by ``substitutions`` as CloudFormation's
        DefinitionSubstitutions would."""
        text = definition if isinstance(definition, str) else json.dumps(definition)
        text = prepare_definition(text, substitutions or {})
        return self.client("stepfunctions").create_state_machine(
            name=name, definition=text, roleArn=EXECUTION_ROLE, type="STANDARD")["stateMachineArn"]

    def start(self, state_machine: str, execution_input: Any, name: str) -> str:
        return self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine, name=name, input=json.dumps(execution_input))["executionArn"]

    def wait(self, execution: str, timeout: float = 60.0) -> dict[str, Any]:
        """DescribeExecution once the execution has ended."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            desc = sfn.describe_execution(executionArn=execution)
            if desc["status"] in _TERMINAL:
                return desc
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution} still {desc['status']} after {timeout} s")
            time.sleep(0.01)

    def run(self, state_machine: str, execution_input: Any, name: str,
            timeout: float = 90.0) -> list[dict[str, Any]]:
        """Start an execution and wait for it and every execution it continued as: their
        DescribeExecution, in order."""
        return self.follow(self.start(state_machine, execution_input, name), timeout)

    def follow(self, execution: str, timeout: float = 90.0) -> list[dict[str, Any]]:
        """Wait for ``execution`` and every execution it continued as: their DescribeExecution."""
        deadline = time.monotonic() + timeout
        chain = [self.wait(execution, timeout)]
        while (after := continued_as(chain[-1])) is not None:
            chain.append(self.wait(after, max(1.0, deadline - time.monotonic())))
        return chain

    def history(self, execution: str) -> list[dict[str, Any]]:
        pages = self.client("stepfunctions").get_paginator("get_execution_history").paginate(
            executionArn=execution)
        return [e for page in pages for e in page["events"]]

    def _wait_for_running(self, timeout: float = 10.0) -> None:
        """Let executions still running end before moto goes: their threads would call a dead mock."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        for machine in sfn.list_state_machines()["stateMachines"]:
            for ex in sfn.list_executions(stateMachineArn=machine["stateMachineArn"],
                                          statusFilter="RUNNING")["executions"]:
                with contextlib.suppress(ClientError):
                    sfn.stop_execution(executionArn=ex["executionArn"])

        def running() -> bool:
            return any(sfn.list_executions(stateMachineArn=m["stateMachineArn"],
                                           statusFilter="RUNNING")["executions"]
                       for m in sfn.list_state_machines()["stateMachines"])

        while time.monotonic() < deadline and running():
            time.sleep(0.02)


_EVAL_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"


class _DropMissingPaths(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg % record.args if record.args else record.msg).startswith(
            "Exception=NoSuchJsonPathError")


def prepare_definition(text: str, substitutions: Mapping[str, str]) -> str:
    """The definition text moto is given: placeholders substituted, and the two workarounds of the
    module docstring that need the text (``"RoleArn.$"``, an integer ToleratedFailurePercentage)."""
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", value)
    left = re.findall(r"\$\{[A-Za-z0-9_]+\}", text)
    if left:
        raise ValueError(f"placeholders without a substitution: {sorted(set(left))}")
    text = text.replace('"RoleArn.$"', f'"{_ROLE_PATH_KEY}.$"')
    return re.sub(r'("ToleratedFailurePercentage"\s*:\s*)(\d+)(?=\s*[,}])', r"\1\2.0", text)


def continued_as(desc: Mapping[str, Any]) -> str | None:
    """The execution an ended execution continued as, from its output; None if it did not."""
    if desc.get("status") != "SUCCEEDED" or not desc.get("output"):
        return None
    output = json.loads(desc["output"])
    continued = output.get("continued_as") if isinstance(output, Mapping) else None
    return continued.get("ExecutionArn") if isinstance(continued, Mapping) else None


@contextlib.contextmanager
def _serialized_moto() -> Iterator[None]:
    """One request at a time through moto, as ``tests/aws_fixtures.py`` does for the handler tests:
    moto is not thread-safe (a cancelled DynamoDB transaction restores a snapshot of the table,
    undoing a racing thread's write), and here executions, their Map iterations and the test's
    polling all call it from their own threads."""
    original = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        with _MOTO_LOCK:
            return original(self, request)

    BotocoreStubber.process_request = process_request
    try:
        yield
    finally:
        BotocoreStubber.process_request = original


# -- history -------------------------------------------------------------------------------------

def event_types(events: Sequence[Mapping[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def iteration_spans(events: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """An inline Map's iterations, each as the event types from its MapIterationStarted to its end
    (meaningful when they ran one at a time: concurrent iterations interleave)."""
    spans: list[list[str]] = []
    current: list[str] | None = None
    for kind in event_types(events):
        if kind == "MapIterationStarted":
            current = [kind]
        elif current is not None:
            current.append(kind)
            if kind in ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"):
                spans.append(current)
                current = None
    return spans


def map_bodies(events: Sequence[Mapping[str, Any]]) -> list[int]:
    """How many events each Map state's iterations added to the history, Map by Map (the events
    between its MapStateStarted and its MapStateSucceeded)."""
    counts: list[int] = []
    inside = False
    for kind in event_types(events):
        if kind == "MapStateStarted":
            inside = True
            counts.append(0)
        elif kind in ("MapStateSucceeded", "MapStateFailed", "MapStateAborted"):
            inside = False
        elif inside:
            counts[-1] += 1
    return counts


# -- byohpo's loop on the harness ------------------------------------------------------------------

FUNCTIONS = ("Start", "Propose", "Evaluate", "Finalize", "Watch", "Import")
ENVIRONMENT = {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "BYOHPO_TABLE": "byohpo-sfn-test",
               "BYOHPO_BUCKET": "byohpo-sfn-results", "BYOHPO_STACK": "byohpo-sfn-stack"}
UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
         "BYOHPO_EVENT_BUDGET", "BYOHPO_RESULTS_PREFIX", "BYOHPO_PASSABLE_ROLES")


def function_name(name: str) -> str:
    """The Lambda function name a test gives a handler: ``byohpo-start`` for ``Start``/``start``."""
    return f"byohpo-{name.lower()}"


def byohpo_handlers() -> dict[str, Callable[[Any, Any], Any]]:
    """The real handlers, by function name."""
    from byohpo.handlers import evaluate, finalize, import_tuning, propose, start, watch

    return {function_name(n): h for n, h in (("Start", start.handler), ("Propose", propose.handler),
                                              ("Evaluate", evaluate.handler), ("Finalize", finalize.handler),
                                              ("Watch", watch.handler), ("Import", import_tuning.handler))}


@dataclass
class Loop:
    """The harness with byohpo's handlers on moto's DynamoDB, S3, SageMaker and Logs, and a state
    machine per definition given to :func:`byohpo_loop`."""

    harness: SfnHarness
    machines: dict[str, str]

    def fresh(self, emulator: SageMakerEmulator) -> SageMakerEmulator:
        """A new SageMaker emulator, and the records of earlier runs cleared."""
        self.harness.sagemaker = emulator
        self.harness.tuning = TuningEmulator(lock=_MOTO_LOCK)
        self.harness.invocations.clear()
        self.harness.retry_sleeps.clear()
        self.harness.wait_sleeps.clear()
        self.harness.payload_sizes.clear()
        return emulator

    def fresh_tuning(self, emulator: TuningEmulator) -> TuningEmulator:
        """A new tuning emulator (SageMaker's own tuner, amt-* runs), on the harness's lock on moto."""
        emulator.lock = _MOTO_LOCK
        self.harness.tuning = emulator
        self.harness.invocations.clear()
        self.harness.retry_sleeps.clear()
        self.harness.wait_sleeps.clear()
        self.harness.payload_sizes.clear()
        return emulator

    def run(self, request: Mapping[str, Any], machine: str | None = None,
            timeout: float = 90.0) -> list[dict[str, Any]]:
        """Run ``request`` on ``machine`` (default the first), continuations followed."""
        arn = self.machines[machine] if machine else next(iter(self.machines.values()))
        name = request["HyperParameterTuningJobName"]
        return self.harness.run(arn, request, name=f"{name}-1", timeout=timeout)

    def trials(self, run: str) -> list[Any]:
        from byohpo import aws

        return aws.clients().store.get_trials(run)

    def events(self, desc: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self.harness.history(desc["executionArn"])

    def evaluate_events(self) -> list[Any]:
        return [i.event for i in self.harness.invocations
                if i.function == function_name("Evaluate") and i.error is None]

    def substitutions(self) -> dict[str, str]:
        return {f"{n}FunctionArn": self.harness.function_arn(function_name(n)) for n in FUNCTIONS}

    def empty_table(self) -> None:
        """The table deleted and made again, empty (a stack destroyed and deployed again, or another
        stack's table): SageMaker keeps every job."""
        from byohpo import aws
        from byohpo.store.dynamodb import table_definition

        dynamodb = aws.clients().client("dynamodb")
        dynamodb.delete_table(TableName=ENVIRONMENT["BYOHPO_TABLE"])
        dynamodb.create_table(**table_definition(ENVIRONMENT["BYOHPO_TABLE"]))


@contextlib.contextmanager
def byohpo_loop(definitions: Mapping[str, str]) -> Iterator[Loop]:
    """The environment the handlers read (table, bucket), moto with the table and bucket made, and a
    state machine per ``{key: definition text}`` (``${StartFunctionArn}``-style placeholders)."""
    import botocore.session
    import pytest

    from byohpo import aws
    from byohpo.store.dynamodb import table_definition

    def setup(harness: SfnHarness) -> None:
        clients = aws.configure(session=botocore.session.get_session())
        clients.client("dynamodb").create_table(**table_definition(ENVIRONMENT["BYOHPO_TABLE"]))
        clients.s3.create_bucket(Bucket=ENVIRONMENT["BYOHPO_BUCKET"])

    with pytest.MonkeyPatch.context() as mp:
        for var, value in ENVIRONMENT.items():
            mp.setenv(var, value)
        for var in UNSET:
            mp.delenv(var, raising=False)
        try:
            with SfnHarness(handlers=byohpo_handlers(), setup=setup) as harness:
                # A watched job prints its next epochs before each look of the Watch Lambda (not before
                # the training branch's last call, made once the job has ended).
                harness.before_invoke[function_name("Watch")] = lambda event: None if event.get("final") \
                    else harness.sagemaker.look(event.get("job_name", ""), harness.client("sagemaker"),
                                                harness.client("logs"))
                loop = Loop(harness, {})
                loop.machines = {key: harness.create_state_machine(text, loop.substitutions(),
                                                                   name=f"byohpo-{key.lower()}")
                                 for key, text in definitions.items()}
                yield loop
        finally:
            aws.configure()
