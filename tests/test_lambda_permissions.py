"""Each Lambda may make the AWS calls it makes, and nothing else.

Every scenario of ``test_handlers.py`` (the real handlers driven on moto, as the state machine drives
them) runs again here with a botocore ``before-call`` hook on every client it makes. Each call is
attributed to the Lambda whose handler module (``byohpo.handlers.<module>``) is on the calling thread's
stack, mapped to the IAM action(s) and resource ARN that AWS authorizes it as, and checked against the
statements of that function's role in the synthesized template. Both ways:

* a call no statement of the function's role allows fails (a handler that starts calling ListTags or
  DescribeAlgorithm fails here until the stack grants it);
* an action granted to a function that no scenario calls fails too (a grant left behind).

Conditions (the ``byohpo:stack`` tag on StopTrainingJob) are not evaluated here: moto enforces no IAM,
and ``test_stack.py`` checks them statement by statement.
"""

from __future__ import annotations

import fnmatch
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import test_builtin_aws
import test_handlers
from aws_fixtures import (
    ACCOUNT,
    BUCKET,
    OBJECTIVE,
    REGION,
    AwsEnv,
    digits_request,
    execution_arn,
    moto_aws,
    run_map,
)
from botocore.client import ClientCreator
from botocore.stub import Stubber
from moto.sagemaker.models import sagemaker_backends
from stack_fixture import Synthesized, resolve, synthesized

from byohpo.handlers import evaluate, finalize, propose, start
from infra.stack import FUNCTIONS

#: The Lambda each handler module runs in.
HANDLER_MODULES = {f"byohpo.handlers.{module}": name for name, (module, _, _) in FUNCTIONS.items()}
#: The statements that let a Lambda write its own logs: used by the Lambda runtime, not by a handler.
RUNTIME_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
#: botocore service names whose IAM prefix differs.
IAM_PREFIXES = {"stepfunctions": "states"}
#: Items of a DynamoDB transaction and the action each is authorized as ("Permissions for Put, Update,
#: Delete, and Get actions are governed by the permissions used for the underlying PutItem, UpdateItem,
#: DeleteItem, and GetItem operations": https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
#: transaction-apis-iam.html).
TRANSACTION_ITEMS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
#: S3 operations authorized as another action (https://docs.aws.amazon.com/AmazonS3/latest/API/
#: API_HeadObject.html: "you must have the s3:GetObject permission").
S3_ACTIONS = {"HeadObject": "GetObject", "ListObjectsV2": "ListBucket", "HeadBucket": "ListBucket"}
#: SageMaker request fields naming the resource a call acts on, and that resource's ARN type.
SAGEMAKER_RESOURCES = {"TrainingJobName": "training-job", "HyperParameterTuningJobName":
                       "hyper-parameter-tuning-job", "AlgorithmName": "algorithm"}


# -- recording -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """One API call a handler made: the Lambda it runs in, and what IAM authorizes it as."""

    function: str
    action: str
    resource: str | None  # None: the action's resource is not derived here; the action alone is checked
    scenario: str
    table: str | None
    bucket: str | None


def iam_requests(service: str, operation: str, params: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """The (IAM action, resource ARN) pairs that AWS authorizes one API call as."""
    prefix = IAM_PREFIXES.get(service, service)
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            return [(f"dynamodb:{TRANSACTION_ITEMS[kind]}",
                     arn.format("dynamodb", f"table/{item['TableName']}"))
                    for entry in params["TransactItems"] for kind, item in entry.items()]
        index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
        return [(f"dynamodb:{operation}", arn.format("dynamodb", f"table/{params['TableName']}{index}"))]
    if service == "s3":
        key = f"/{params['Key']}" if "Key" in params else ""
        return [(f"s3:{S3_ACTIONS.get(operation, operation)}", f"arn:aws:s3:::{params['Bucket']}{key}")]
    if service == "sagemaker":
        resource = params.get("ResourceArn")
        for field, kind in SAGEMAKER_RESOURCES.items():
            if field in params:
                name = params[field]
                resource = (name if name.startswith("arn:")
                            else arn.format("sagemaker", f"{kind}/{name.lower()}"))
        return [(f"sagemaker:{operation}", resource)]
    if service == "logs" and "logGroupName" in params:
        # A log group's ARN, as CloudWatch Logs authorizes it, ends in ":*"; a stream's names the stream.
        stream = params.get("logStreamName")
        tail = f"log-stream:{stream}" if stream else "*"
        return [(f"logs:{operation}", arn.format("logs", f"log-group:{params['logGroupName']}:{tail}"))]
    if service == "stepfunctions":
        return [(f"states:{operation}", params.get("executionArn") or params.get("stateMachineArn"))]
    return [(f"{prefix}:{operation}", None)]


def calling_function() -> str | None:
    """The Lambda whose handler module is outermost on this thread's stack, if any."""
    found = None
    frame = sys._getframe(1)
    while frame is not None:
        found = HANDLER_MODULES.get(frame.f_globals.get("__name__", ""), found)
        frame = frame.f_back
    return found


class Recorder:
    """Every call made through a botocore client created while :meth:`installed` is active."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.scenario = ""
        self._lock = threading.Lock()

    def _remember(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["byohpo_params"] = params

    def _record(self, model: Any, context: Mapping[str, Any], **_: Any) -> None:
        function = calling_function()
        if function is None:  # the test itself, or the Map played by the test
            return
        service = model.service_model.service_name
        for action, resource in iam_requests(service, model.name, context.get("byohpo_params", {})):
            with self._lock:
                self.calls.append(Call(function, action, resource, self.scenario,
                                       os.environ.get("BYOHPO_TABLE"), os.environ.get("BYOHPO_BUCKET")))

    @contextmanager
    def installed(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
        """Hook every client botocore creates until ``monkeypatch`` is undone (the handlers make theirs
        on first use, inside each scenario's moto)."""
        create = ClientCreator.create_client
        recorder = self

        def create_client(self: ClientCreator, *args: Any, **kwargs: Any) -> Any:
            client = create(self, *args, **kwargs)
            # First, so that a Stubber activated later (it answers in before-call) cannot skip the hook.
            client.meta.events.register_first("before-parameter-build.*.*", recorder._remember)
            client.meta.events.register_first("before-call.*.*", recorder._record)
            return client

        monkeypatch.setattr(ClientCreator, "create_client", create_client)
        yield self


# -- scenarios ---------------------------------------------------------------------------------------

def handler_scenarios() -> list[tuple[str, Callable[..., Any], str]]:
    """(name, function, store) of every test in ``test_handlers.py`` that needs only an AWS environment
    (and perhaps ``monkeypatch``), on DynamoDB unless the test runs on SQLite only."""
    found = []
    for name, function in vars(test_handlers).items():
        if not name.startswith("test_") or not inspect.isfunction(function):
            continue
        parameters = set(inspect.signature(function).parameters)
        if "aws_env" not in parameters or not parameters <= {"aws_env", "monkeypatch"}:
            continue
        stores = ["dynamodb"]
        for mark in getattr(function, "pytestmark", []):
            if mark.name == "parametrize" and mark.args[0] == "aws_env":
                stores = list(mark.args[1])
        found.append((name, function, "dynamodb" if "dynamodb" in stores else stores[0]))
    return found


def finalize_stops_a_running_job(aws_env: AwsEnv) -> None:
    """A run that ends while a job still trains: Finalize stops it (moto has no StopTrainingJob, so
    botocore's Stubber answers as SageMaker would)."""
    raw = digits_request(Strategy="random", **test_handlers.limits(3, 3), **test_handlers.NO_CRITERIA)
    ctx = start.handler({"input": raw, "execution": execution_arn("stops")}, None)["run"]
    proposed = propose.handler({"run": ctx}, None)
    first = proposed["jobs"]["trials"][0]
    # The first create "collided" with a job of that name (this run's: its own, still training).
    results = run_map(aws_env, proposed, fate=lambda item: "in-use" if item is first else None)
    job = first["job_name"]
    assert sagemaker_backends[ACCOUNT][REGION].training_jobs[job].training_job_status == "InProgress"
    answer = evaluate.handler({"run": proposed["run"], "generation": 0, "results": results}, None)
    assert answer["action"] == "wait"
    with Stubber(aws_env.sagemaker) as stub:
        stub.add_response("stop_training_job", {}, {"TrainingJobName": job})
        out = finalize.handler({"run": answer["run"], "error": {"Error": "States.Timeout", "Cause": "late"}},
                               None)
        stub.assert_no_pending_responses()
    assert out["status"] == "Failed"


def warm_start_from_a_tuning_job(aws_env: AwsEnv) -> None:
    """A warm start whose parent is a SageMaker tuning job, not a byohpo run (moto has no
    ListTrainingJobsForHyperParameterTuningJob: botocore's Stubber answers as SageMaker would)."""
    from datetime import UTC, datetime

    raw = digits_request(Strategy="random", **test_handlers.limits(6, 3))
    raw["WarmStartConfig"] = test_handlers.warm_start_config("amt-parent", "IdenticalDataAndAlgorithm")
    moment = datetime(2024, 5, 1, tzinfo=UTC)
    with Stubber(aws_env.sagemaker) as stub:
        stub.add_response("describe_hyper_parameter_tuning_job", {
            "HyperParameterTuningJobName": "amt-parent", "HyperParameterTuningJobStatus": "Completed",
            "HyperParameterTuningJobArn":
                f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:hyper-parameter-tuning-job/amt-parent",
            "HyperParameterTuningJobConfig": {"Strategy": "Bayesian", "ResourceLimits": {
                "MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1}},
            "CreationTime": moment, "TrainingJobStatusCounters": {}, "ObjectiveStatusCounters": {}})
        stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": [{
            "TrainingJobName": "amt-001", "TrainingJobArn": "arn:aws:sagemaker:::training-job/amt-001",
            "CreationTime": moment, "TrainingJobStatus": "Completed",
            "TunedHyperParameters": {"learning_rate": "0.05", "num_epoch": "20", "activation": "tanh"},
            "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": OBJECTIVE,
                                                            "Value": 0.95}}]})
        start.handler({"input": raw, "execution": execution_arn("warm")}, None)
        stub.assert_no_pending_responses()
    assert len(aws_env.store.get_trials(raw["HyperParameterTuningJobName"])) == 1


def _watched_jobs(env: AwsEnv, monkeypatch: pytest.MonkeyPatch, raw: dict[str, Any],
                  epochs: Callable[[int], tuple[str, ...]]) -> tuple[Any, dict[str, Any]]:
    """A run with early stopping started as the stack's Distributed Map starts it, its first generation
    proposed and its jobs created in moto, running (``sfn_harness``'s emulator: each job logs
    ``epochs(index)`` an epoch at a time, as :meth:`SageMakerEmulator.look` says), StopTrainingJob
    (which moto lacks) answered by the emulator as SageMaker answers it."""
    from moto.core.responses import EmptyResult
    from moto.sagemaker.responses import SageMakerResponse
    from sfn_harness import JobFate, SageMakerEmulator

    ctx = start.handler({"input": raw, "execution": execution_arn("watched"),
                         "early_stopping": {"watch_seconds": 60}}, None)["run"]
    proposed = propose.handler({"run": ctx}, None)
    training, items = proposed["jobs"]["training"], proposed["jobs"]["trials"]
    emulator = SageMakerEmulator(lambda params: JobFate(metrics=None, epochs=epochs(
        next(i for i, item in enumerate(items) if item["job_name"] == params["TrainingJobName"]))))

    def stop_training_job(response: Any) -> Any:
        emulator.stop(response._get_param("TrainingJobName"), env.sagemaker, env.logs)
        return EmptyResult()

    monkeypatch.setattr(SageMakerResponse, "stop_training_job", stop_training_job, raising=False)
    for item in items:
        emulator._create(env.sagemaker, {**training, "TrainingJobName": item["job_name"], "HyperParameters": {
            **training.get("HyperParameters", {}), **item["hyperparameters"]}})
    return emulator, proposed


def _look(item: Mapping[str, Any], run: str, count: int = 0, **how: Any) -> dict[str, Any]:
    """The Watch Lambda's event, as the watched iteration sends it (a look of its loop, or ``final``)."""
    event = {"run": run, "trial_id": item["trial_id"], "job_name": item["job_name"]}
    if how.get("final"):
        return {**event, "final": True}
    return {**event, "poll": {"base": 60, "seconds": 60, "count": count, "waited": 60 * count}}


def watch_stops_a_condemned_job(aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """Early stopping: the Watch Lambda follows two jobs' logs; the first completes, the second, worse at
    its first epoch than the first's running average, is stopped."""
    from byohpo.handlers import watch

    curves = ((0.5, 0.6, 0.7), (0.1, 0.2, 0.3))
    raw = digits_request(Strategy="random", TrainingJobEarlyStoppingType="Auto", **test_handlers.limits(2, 2),
                         **test_handlers.NO_CRITERIA)
    emulator, proposed = _watched_jobs(aws_env, monkeypatch, raw, lambda i: tuple(
        f"Validation-accuracy={v}" for v in curves[i]))
    run, (first, second) = proposed["run"]["name"], proposed["jobs"]["trials"]
    sagemaker, logs = aws_env.sagemaker, aws_env.logs
    for count in range(3):  # the first job: nothing to compare with; it completes with its third epoch
        emulator.look(first["job_name"], sagemaker, logs)
        assert watch.handler(_look(first, run, count), None)["done"] is (count == 2)
    assert watch.handler(_look(first, run, final=True), None)["done"]
    emulator.look(second["job_name"], sagemaker, logs)
    answer = watch.handler(_look(second, run), None)
    assert answer["done"] and answer["stopped"].startswith("EarlyStopped")
    assert emulator.stop_calls == [(second["job_name"], None)]


def watch_reads_an_algorithm_names_log(aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """Early stopping of an ``AlgorithmName``'s jobs: the Watch Lambda reads their logs with the regexes
    DescribeAlgorithm lists (moto lacks it: a stubbed client answers as SageMaker would)."""
    from byohpo.handlers import watch

    raw = test_builtin_aws.request("algorithm-name-console", TrainingJobEarlyStoppingType="Auto")
    raw.pop("WarmStartConfig", None)
    emulator, proposed = _watched_jobs(aws_env, monkeypatch, raw, lambda i: ("validation-rmse=0.5",))
    run, item = proposed["run"]["name"], proposed["jobs"]["trials"][0]
    emulator.look(item["job_name"], aws_env.sagemaker, aws_env.logs)
    stubbed = aws_env.session.create_client("sagemaker", region_name=REGION)
    with Stubber(stubbed) as stub:
        stub.add_response("describe_algorithm", test_builtin_aws.describe_algorithm_response(),
                          {"AlgorithmName": test_builtin_aws.ALGORITHM})
        sagemaker = test_builtin_aws.WithAlgorithms(aws_env.sagemaker, stubbed)
        answer = watch.look(_look(item, run, final=True), store=aws_env.store, sagemaker=sagemaker,
                            logs=aws_env.logs)
        stub.assert_no_pending_responses()
    assert answer["done"] and answer["epochs"] == 1


def import_a_tuning_job(aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``amt-*`` run: Start hands on the tuning job's parameters, the test plays the state machine's
    createHyperParameterTuningJob.sync (the tuning emulator on moto, more than one page of training
    jobs), and Import writes them as trials; then a retried Import, and one after a failed create."""
    from amt_emulator import TrainingFate, TuningEmulator, tuning_apis

    from byohpo.handlers import import_tuning
    from state_machine import EVENT_COSTS

    raw = digits_request("digits-amt-grants", Strategy="amt-random", RandomSeed=7,
                         TuningJobCompletionCriteria={}, **test_handlers.limits(105, 35))
    del raw["HyperParameterTuningJobConfig"]["StrategyConfig"]
    emulator = TuningEmulator(lambda hp: TrainingFate(metrics={OBJECTIVE: 0.9}), parallel_quota=100)
    with tuning_apis(emulator):
        started = start.handler({"input": raw, "execution": execution_arn("amt")}, None)
        emulator.create(aws_env.sagemaker, started["tuning"])
        emulator.run(aws_env.sagemaker, started["tuning"]["HyperParameterTuningJobName"])
        event = {"run": started["run"], "event_costs": EVENT_COSTS["DISTRIBUTED"]}
        assert import_tuning.handler(event, None)["action"] == "finish"
        assert import_tuning.handler(event, None)["action"] == "finish"  # retried: reads, writes nothing
        assert len(aws_env.store.get_trials(raw["HyperParameterTuningJobName"])) == 105
        never = digits_request("digits-amt-never", Strategy="amt-random", RandomSeed=7,
                               TuningJobCompletionCriteria={})
        del never["HyperParameterTuningJobConfig"]["StrategyConfig"]
        ctx = start.handler({"input": never, "execution": execution_arn("never")}, None)["run"]
        error = {"Error": "SageMaker.ValidationException", "Cause": "no"}
        failed = import_tuning.handler({**event, "run": ctx, "error": error}, None)
        assert failed["action"] == "fail"


#: Paths no test of ``test_handlers.py`` takes through a handler.
OWN_SCENARIOS = [("import_a_tuning_job", import_a_tuning_job, "dynamodb"),
                 ("finalize_stops_a_running_job", finalize_stops_a_running_job, "dynamodb"),
                 ("warm_start_from_a_tuning_job", warm_start_from_a_tuning_job, "dynamodb"),
                 # DescribeAlgorithm: an AlgorithmName's regexes for a job's log, in Evaluate and Start
                 ("evaluate_reads_an_algorithm_names_log",
                  test_builtin_aws.test_an_algorithm_names_log_is_read_with_the_regexes_describe_algorithm_lists,
                  "dynamodb"),
                 ("start_reads_an_algorithm_names_log",
                  test_builtin_aws.test_a_start_taking_over_an_algorithm_names_run_reads_its_jobs_log_with_describe_algorithm,
                  "dynamodb"),
                 # early stopping: the Watch Lambda's looks, its StopTrainingJob, its DescribeAlgorithm
                 ("watch_stops_a_condemned_job", watch_stops_a_condemned_job, "dynamodb"),
                 ("watch_reads_an_algorithm_names_log", watch_reads_an_algorithm_names_log, "dynamodb")]


@pytest.fixture(scope="module")
def recorded() -> list[Call]:
    """Every call the handlers made in every scenario."""
    recorder = Recorder()
    scenarios = handler_scenarios() + OWN_SCENARIOS
    assert len(scenarios) >= 15, f"only {len(scenarios)} scenarios: were test_handlers.py's tests moved?"
    for name, scenario, store in scenarios:
        recorder.scenario = name
        with pytest.MonkeyPatch.context() as mp, recorder.installed(mp), moto_aws(mp, store) as env:
            arguments = {"aws_env": env, "monkeypatch": mp}
            scenario(**{p: arguments[p] for p in inspect.signature(scenario).parameters})
    return recorder.calls


# -- what the template grants ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def synth() -> Synthesized:
    """The stack named so that its state machine is the one ``aws_fixtures.execution_arn`` names."""
    return synthesized(stack_name="byohpo")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Grants:
    """The statements of each Lambda's role, their resources resolved for the names the scenarios use."""

    def __init__(self, built: Synthesized) -> None:
        self.built = built
        stack, template = built.stack, built.template
        self.statements: dict[str, list[dict[str, Any]]] = {}
        for function in FUNCTIONS:
            role = {"Ref": stack.get_logical_id(stack.functions[function].role.node.default_child)}
            self.statements[function] = [
                s for r in template["Resources"].values()
                if r["Type"] == "AWS::IAM::Policy" and role in r["Properties"]["Roles"]
                for s in r["Properties"]["PolicyDocument"]["Statement"]]
        self._table = stack.get_logical_id(stack.table.node.default_child)
        self._bucket = stack.get_logical_id(stack.bucket.node.default_child)
        self._resolved: dict[tuple[str, int, str | None, str | None], list[str]] = {}

    def actions(self, function: str) -> set[str]:
        return {a for s in self.statements[function] for a in as_list(s["Action"])}

    def allows(self, call: Call) -> bool:
        for i, statement in enumerate(self.statements[call.function]):
            named = as_list(statement["Action"])
            if statement["Effect"] != "Allow" or not any(
                    fnmatch.fnmatchcase(call.action.lower(), a.lower()) for a in named):
                continue
            if call.resource is None or any(fnmatch.fnmatchcase(call.resource, pattern)
                                            for pattern in self._patterns(call, i)):
                return True
        return False

    def _patterns(self, call: Call, i: int) -> list[str]:
        key = (call.function, i, call.table, call.bucket)
        if key not in self._resolved:
            physical = {k: v for k, v in ((self._table, call.table), (self._bucket, call.bucket)) if v}
            self._resolved[key] = [resolve(r, self.built.template, region=REGION, account=ACCOUNT,
                                           physical=physical)
                                   for r in as_list(self.statements[call.function][i]["Resource"])]
        return self._resolved[key]


@pytest.fixture(scope="module")
def grants(synth: Synthesized) -> Grants:
    return Grants(synth)


# -- the checks -------------------------------------------------------------------------------------

def test_every_call_a_handler_makes_is_granted_to_its_function(recorded: list[Call], grants: Grants,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert {c.function for c in recorded} == set(FUNCTIONS)
    denied = sorted({(c.function, c.action, c.resource, c.scenario) for c in set(recorded)
                     if not grants.allows(c)})
    with capsys.disabled():
        print(f"\n  {len(recorded)} calls recorded in {len({c.scenario for c in recorded})} scenarios")
        for function in FUNCTIONS:
            called = sorted({c.action for c in recorded if c.function == function})
            print(f"  {function:<9} calls {', '.join(called)}")
    assert not denied, "calls the function's role does not allow (function, action, resource, scenario):" \
        "\n" + "\n".join(map(str, denied))


def test_every_action_granted_to_a_function_is_called(recorded: list[Call], grants: Grants) -> None:
    for function in FUNCTIONS:
        called = {c.action for c in recorded if c.function == function}
        unused = grants.actions(function) - RUNTIME_ACTIONS - called
        assert not unused, f"{function} is granted {sorted(unused)}, which no scenario calls"


def test_the_recorder_sees_a_call_only_inside_a_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """The attribution the checks rely on: a call from the test is nobody's; the same call from a handler
    module is that Lambda's; a transaction is its items' actions."""
    recorder = Recorder()
    with recorder.installed(monkeypatch), moto_aws(monkeypatch) as env:
        env.s3.put_object(Bucket=BUCKET, Key="runs/x", Body=b"{}")
        assert recorder.calls == []
        code = compile("s3.get_object(Bucket=bucket, Key='runs/x')", "<finalize>", "exec")
        exec(code, {"__name__": "byohpo.handlers.finalize", "s3": env.s3, "bucket": BUCKET})
    assert [(c.function, c.action, c.resource) for c in recorder.calls] == [
        ("Finalize", "s3:GetObject", f"arn:aws:s3:::{BUCKET}/runs/x")]
    assert iam_requests("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "t"}}, {"Update": {"TableName": "t"}}]}) == [
        ("dynamodb:PutItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"),
        ("dynamodb:UpdateItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t")]
