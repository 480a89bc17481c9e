"""Shared AWS fixtures for the handler tests: moto serving DynamoDB (the store's own table definition),
S3, SageMaker, CloudWatch Logs and Step Functions; tuning requests; and the Map state of the
synthesized definition run in process (:func:`run_map`), each trial's training job created in moto.

moto's training jobs complete at once and report a fake ``FinalMetricDataList``; the emulator makes
them report metrics that are a known function of the hyperparameters (:func:`accuracy`); a test asks
for failures by trial.

Import with ``from aws_fixtures import ...``; each test module wraps :func:`moto_aws` in its own
``aws_env`` fixture (``conftest.py`` holds the shared strategy fixtures).
"""

from __future__ import annotations

import copy
import functools
import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from byohpo import aws
from byohpo.aws.logs import LOG_GROUP
from byohpo.store.base import Store
from byohpo.store.dynamodb import DynamoDBStore, table_definition
from byohpo.store.sqlite import SQLiteStore

REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE = "byohpo-handlers-test"
BUCKET = "byohpo-results-test"
STACK = "byohpo-handlers-stack"  # BYOHPO_STACK: tagged byohpo:stack on every job
DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parent.parent / "examples"
OBJECTIVE = "validation:accuracy"


def execution_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:byohpo-tuning:{name}"


@dataclass
class AwsEnv:
    """moto's AWS for one test, and the handlers' clients on it."""

    clients: aws.Clients
    session: Any

    @property
    def store(self) -> Store:
        return self.clients.store

    @property
    def sagemaker(self) -> Any:
        return self.clients.sagemaker

    @property
    def logs(self) -> Any:
        return self.clients.logs

    @property
    def s3(self) -> Any:
        return self.clients.s3


@contextmanager
def moto_aws(monkeypatch: pytest.MonkeyPatch, store: str = "dynamodb") -> Iterator[AwsEnv]:
    """moto with the table, the results bucket and the training log group, and ``aws.clients()`` on
    it. ``store="sqlite"`` runs the handlers over an in-memory SQLite store instead of the table.

    A test module makes it its fixture (indirect parametrization picks the store)::

        @pytest.fixture
        def aws_env(request, monkeypatch):
            with moto_aws(monkeypatch, getattr(request, "param", "dynamodb")) as env:
                yield env
    """
    for var, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "BYOHPO_TABLE": TABLE,
                       "BYOHPO_BUCKET": BUCKET, "BYOHPO_STACK": STACK}.items():
        monkeypatch.setenv(var, value)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
                "BYOHPO_EVENT_BUDGET", "BYOHPO_RESULTS_PREFIX", "BYOHPO_PASSABLE_ROLES"):
        monkeypatch.delenv(var, raising=False)
    # moto handles requests from several threads without a lock (a cancelled DynamoDB transaction
    # restores a snapshot of the table, undoing a racing thread's write); real services serialize
    # conflicting writes, so one lock around moto's request handling does the same.
    lock = threading.Lock()
    process = BotocoreStubber.process_request

    def serialized(self: BotocoreStubber, req: object) -> object:
        with lock:
            return process(self, req)

    monkeypatch.setattr(BotocoreStubber, "process_request", serialized)
    with mock_aws():
        session = _session()
        local = SQLiteStore(":memory:") if store == "sqlite" else None
        clients = aws.configure(store=local, session=session)
        clients.client("dynamodb").create_table(**table_definition(TABLE))
        clients.s3.create_bucket(Bucket=BUCKET)
        clients.logs.create_log_group(logGroupName=LOG_GROUP)
        try:
            yield AwsEnv(clients, session)
        finally:
            if local is not None:
                local.close()
            aws.configure()


_SESSIONS: list[Any] = []


def _session() -> Any:
    """One botocore session for every test: it loads each service model once (SageMaker's takes a
    few hundred milliseconds); clients are still made per test, inside its mock."""
    if not _SESSIONS:
        _SESSIONS.append(botocore.session.get_session())
    return _SESSIONS[0]


def dynamodb_store(env: AwsEnv) -> DynamoDBStore:
    """Another store object on the same table (what a second Lambda process would have)."""
    return DynamoDBStore(TABLE, client=env.clients.client("dynamodb"))


# -- requests --------------------------------------------------------------------------------------

def digits_request(name: str = "digits-handlers", **config: Any) -> dict[str, Any]:
    """The digits request of the tests' data, renamed, its StrategyConfig only a seed (random search
    then proposes MaxParallelTrainingJobs at a time); ``config`` entries replace
    ``HyperParameterTuningJobConfig`` keys (``ResourceLimits``, ``Strategy``, ...)."""
    raw = json.loads((DATA / "request-valid-digits.json").read_text())
    raw["HyperParameterTuningJobName"] = name
    raw["HyperParameterTuningJobConfig"]["StrategyConfig"] = {"Seed": 7}
    raw["HyperParameterTuningJobConfig"].update(copy.deepcopy(config))
    return raw


def xgboost_request(name: str = "xgboost-handlers", **config: Any) -> dict[str, Any]:
    """The XGBoost example (the blog's 11 hyperparameters), renamed, ``config`` as above."""
    raw = json.loads((EXAMPLES / "xgboost" / "request.json").read_text())
    raw["HyperParameterTuningJobName"] = name
    raw["HyperParameterTuningJobConfig"].update(copy.deepcopy(config))
    return raw


def accuracy(hyperparameters: Mapping[str, str]) -> float:
    """The digits request's "validation accuracy": a known function of the hyperparameters, best at
    learning_rate 0.05, num_epoch 30, tanh."""
    x = math.log(float(hyperparameters["learning_rate"]) / 0.05)
    y = (int(hyperparameters["num_epoch"]) - 30) / 20
    return 0.97 - 0.05 * x * x - 0.1 * y * y + (0.01 if hyperparameters.get("activation") == "tanh" else 0.0)


# -- the Map, run from the synthesized definition --------------------------------------------------

#: How a test wants one trial to end: None (completes, its metric in FinalMetricDataList), "failed"
#: (the job fails), "caught" (SageMaker refuses the create: a validation error, not retried),
#: "capacity" (SageMaker has no instances: refused through every retry), "no-metric" (completes, the
#: objective only in its logs), "silent" (completes, no objective anywhere), "in-use" (the create went
#: through but its answer was lost: the retried create finds the name in use; the job runs on).
Fate = str | None
#: The cause of a "caught" create, as the optimized integration reports a ValidationException.
CAUGHT_CAUSE = ("Could not assume role arn:aws:iam::123456789012:role/missing. Please ensure that the role "
                "exists and allows principal 'sagemaker.amazonaws.com' to assume the role. (Service: "
                "AmazonSageMaker; Status Code: 400; Error Code: ValidationException; Request ID: "
                "4d1c5a0c-0000-4000-8000-000000000000; Proxy: null)")
CAPACITY_CAUSE = ("The account-level service limit 'ml.m5.large for training job usage' is 2 Instances, with "
                  "current utilization of 2 Instances and a request delta of 1 Instances. (Service: "
                  "AmazonSageMaker; Status Code: 400; Error Code: ResourceLimitExceeded)")


@functools.cache
def synthesized_map_state() -> dict[str, Any]:
    """The Map state of the state machine the CDK stack synthesizes (exactly as deployed)."""
    from stack_fixture import state_machine_definition

    definition = json.loads(state_machine_definition().text)
    (state,) = [s for s in definition["States"].values() if s["Type"] == "Map"]
    return state


def run_map(env: AwsEnv, proposed: Mapping[str, Any], *,
            fate: Callable[[Mapping[str, Any]], Fate] = lambda trial: None,
            metric: Callable[[Mapping[str, str]], float] = accuracy,
            objective: str = OBJECTIVE) -> list[dict[str, Any]]:
    """What the Map state returns for Propose's output: the synthesized definition's Map iteration run
    item by item (``map_iteration``), its training task creating each job in moto's SageMaker
    (through ``sfn_harness``'s emulator: names unique, the model's maxima enforced), the job ending as
    ``fate`` says; a watched iteration (``TrainingJobEarlyStoppingType: "Auto"``) calls the real Watch
    handler once its job has ended."""
    from map_iteration import MapIteration, TaskFailed
    from sfn_harness import JobFate, SageMakerEmulator, as_sfn_json, integration_error, refuse_create

    items = {t["job_name"]: t for t in proposed["jobs"]["trials"]}

    def job_fate(params: Mapping[str, Any]) -> JobFate:
        item = items[params["TrainingJobName"]]
        how = fate(item)
        if how == "failed":
            return JobFate(status="Failed", failure_reason=f"AlgorithmError: trial {item['trial_id']} ran "
                                                           "out of memory")
        if how == "no-metric":
            return JobFate(metrics={"train:progress": 100.0})
        if how == "silent":
            return JobFate(metrics={})
        return JobFate(metrics={objective: metric(item["hyperparameters"])})

    emulator = SageMakerEmulator(job_fate)

    def task(params: dict[str, Any]) -> Any:
        name = params["TrainingJobName"]
        how = fate(items[name]) if name in items else None
        if how == "caught":
            raise TaskFailed("SageMaker.AmazonSageMakerException", CAUGHT_CAUSE)
        if how == "capacity":
            raise TaskFailed("SageMaker.ResourceLimitExceededException", CAPACITY_CAUSE)
        try:
            emulator._create(env.sagemaker, params)
        except ClientError as exc:
            raise TaskFailed(*integration_error(exc)) from exc
        if how == "in-use":
            raise TaskFailed(*integration_error(refuse_create(params)))
        emulator.end(name, env.sagemaker, env.logs)
        if how == "no-metric":
            write_training_log(env, name, metric(items[name]["hyperparameters"]))
        desc = as_sfn_json(env.sagemaker.describe_training_job(TrainingJobName=name))
        if desc["TrainingJobStatus"] != "Completed":  # .sync: the job's description is the cause
            raise TaskFailed("States.TaskFailed", json.dumps(desc, separators=(",", ":")))
        return desc

    from byohpo.handlers import watch

    # A watched iteration (early stopping) tells the Watch Lambda the job's end, through its placeholder.
    lambdas = {"${WatchFunctionArn}": lambda payload: watch.handler(payload, None)}
    return MapIteration(synthesized_map_state(), task, lambdas=lambdas).run(proposed)


def write_training_log(env: AwsEnv, job_name: str, value: float, *, streams: int = 2,
                       lines: int = 20) -> None:
    """A job's log as SageMaker writes it: ``streams`` streams ``<job>/algo-<k>-<epoch>``, the
    objective printed every line, rising, the last line (newest event, last stream) holding ``value``."""
    base = int(time.time() * 1000) - 60_000
    for k in range(1, streams + 1):
        stream = f"{job_name}/algo-{k}-1700000000"
        env.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        events = [{"timestamp": base + i * streams + k,
                   "message": f"epoch {i}: Validation-accuracy={value * (i + 1) / lines / k:.6f}"}
                  for i in range(lines)]
        if k == streams:
            events[-1]["message"] = f"epoch {lines - 1}: Validation-accuracy={value!r}"
        env.logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)


