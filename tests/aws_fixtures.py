"""Shared AWS fixtures for the handler tests: moto serving DynamoDB (the store's own table definition),
S3, SageMaker, CloudWatch Logs and Step Functions; tuning requests; and a stand-in for the Map state
that creates each trial's training job in moto and returns the trimmed result the state machine would.

moto's training jobs complete at once and report a fake ``FinalMetricDataList``, so the results built
here carry metrics that are a known function of the hyperparameters (:func:`accuracy`); a test asks
for failures by trial.

Import with ``from aws_fixtures import ...``; each test module wraps :func:`moto_aws` in its own
``aws_env`` fixture (``conftest.py`` holds the shared strategy fixtures).
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from byohpo import aws
from byohpo.aws.logs import LOG_GROUP
from byohpo.aws.training import create_training_job_params
from byohpo.store.base import Store
from byohpo.store.dynamodb import DynamoDBStore, table_definition
from byohpo.store.sqlite import SQLiteStore

REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE = "byohpo-handlers-test"
BUCKET = "byohpo-results-test"
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
                       "BYOHPO_BUCKET": BUCKET}.items():
        monkeypatch.setenv(var, value)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
                "BYOHPO_EVENT_BUDGET", "BYOHPO_RESULTS_PREFIX"):
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


# -- the Map, played by the test -----------------------------------------------------------------

#: How a test wants one trial to end: None (completes), "failed" (the job fails: a trimmed result with
#: TrainingJobStatus Failed), "caught" (the Map caught an error: no job), "sync-failed" (the .sync task
#: failed with the job's description as its Cause), "no-metric" (completes, objective only in logs).
Fate = str | None


def run_map(env: AwsEnv, proposed: Mapping[str, Any], *,
            fate: Callable[[Mapping[str, Any]], Fate] = lambda trial: None,
            metric: Callable[[Mapping[str, str]], float] = accuracy,
            objective: str = OBJECTIVE, create: bool = True) -> list[dict[str, Any]]:
    """What the Map state returns for Propose's output: each trial's job created in moto from the
    shared ``training`` fields plus its name and hyperparameters, and the iteration's trimmed result.
    ``create=False`` skips moto (hundreds of jobs) and makes up the description of a completed job."""
    results = []
    for item in proposed["trials"]:
        how = fate(item)
        name = item["job_name"]
        if how == "caught":
            results.append({"trial_id": item["trial_id"], "Error": "SageMaker.ResourceLimitExceededException",
                            "Cause": "The account-level service limit 'ml.m5.large for training job usage' "
                                     "is 2 Instances"})
            continue
        if create:
            env.sagemaker.create_training_job(**create_training_job_params(proposed["training"], name,
                                                                           item["hyperparameters"]))
            desc = env.sagemaker.describe_training_job(TrainingJobName=name)
        else:
            moment = datetime.now(UTC)
            desc = {"TrainingJobName": name, "TrainingJobStatus": "Completed", "TrainingStartTime": moment,
                    "TrainingEndTime": moment, "FinalMetricDataList": []}
        value = metric(item["hyperparameters"])
        final = [{"MetricName": objective, "Value": value, "Timestamp": time.time() * 1000}]
        result = {"trial_id": item["trial_id"], "TrainingJobName": desc["TrainingJobName"],
                  "TrainingJobStatus": desc["TrainingJobStatus"], "FinalMetricDataList": final,
                  "TrainingStartTime": desc["TrainingStartTime"].timestamp() * 1000,
                  "TrainingEndTime": desc["TrainingEndTime"].timestamp() * 1000 + 61_500}
        if how == "failed":
            result.update(TrainingJobStatus="Failed", FinalMetricDataList=[],
                          FailureReason=f"AlgorithmError: trial {item['trial_id']} ran out of memory")
        elif how == "sync-failed":
            description = {"TrainingJobName": name, "TrainingJobStatus": "Failed",
                           "FailureReason": "ClientError: unable to download data from S3"}
            result = {"trial_id": item["trial_id"], "Error": "States.TaskFailed",
                      "Cause": json.dumps(description)}
        elif how == "no-metric":
            # moto's fake list, without the objective (its timestamps as Step Functions writes them)
            result["FinalMetricDataList"] = [dict(m, Timestamp=m["Timestamp"].timestamp() * 1000)
                                             for m in desc["FinalMetricDataList"]]
            write_training_log(env, name, value)
        results.append(result)
    return results


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


def payload_bytes(value: Any) -> int:
    """The size Step Functions counts for a state's input or output: its JSON text in UTF-8 (with the
    default separators, a few percent above the compact form)."""
    return len(json.dumps(value).encode("utf-8"))


#: Step Functions' limit on a state's input or output.
PAYLOAD_LIMIT = 256 * 1024
