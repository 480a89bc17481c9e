"""``byohpo start | status | stop`` and ``leaderboard --aws`` against a deployed stack played by moto:
a CloudFormation stack whose outputs name the state machine, the table (the store's own definition)
and the bucket, as ``infra/stack.py`` outputs them.

moto 5.2.5 has no StopTrainingJob and completes every job at once; :func:`running_job` fills both gaps
(a job left InProgress, and a StopTrainingJob that stops it) in moto, not in byohpo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.responses import ActionResult
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from byohpo.aws.training import create_training_job_params, shared_training_fields
from byohpo.cli import main
from byohpo.cli.start import INLINE_LIMIT
from byohpo.request import parse_request
from byohpo.store.dynamodb import DynamoDBStore, table_definition
from byohpo.store.records import RunRecord, TrialRecord
from byohpo.tuning import training_job_name

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "Byohpo"
TABLE = "byohpo-cli-runs"
BUCKET = "byohpo-cli-results"
ROOT = Path(__file__).resolve().parent.parent
REQUEST = ROOT / "examples" / "digits" / "ga.json"
NAME = "digits-ga"
EXECUTION_NAME = re.compile(re.escape(NAME) + r"-\d{8}-\d{6}")


class Aws:
    """moto's AWS with the stack deployed; boto3 clients to look at it."""

    def __init__(self) -> None:
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sagemaker = boto3.client("sagemaker", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**table_definition(TABLE))
        self.store = DynamoDBStore(TABLE, client=dynamodb)
        self.s3.create_bucket(Bucket=BUCKET)
        self.state_machine_arn = self.sfn.create_state_machine(
            name=f"{STACK}-tuning", roleArn=f"arn:aws:iam::{ACCOUNT}:role/tuning",
            definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        outputs = {"StateMachineArn": self.state_machine_arn, "TableName": TABLE, "BucketName": BUCKET}
        template = {"Resources": {"Results": {"Type": "AWS::S3::Bucket",
                                              "Properties": {"BucketName": f"{BUCKET}-cfn"}}},
                    "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=STACK, TemplateBody=json.dumps(template))

    def executions(self) -> list[dict[str, Any]]:
        return self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]

    def execution(self, name: str | None = None) -> dict[str, Any]:
        (found,) = [e for e in self.executions() if name is None or e["name"] == name]
        return self.sfn.describe_execution(executionArn=found["executionArn"])

    def start_execution(self, name: str, raw: dict[str, Any]) -> str:
        return self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=name,
                                        input=json.dumps(raw))["executionArn"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for var, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(var, value)
    for var in ("AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "BYOHPO_STACK"):
        monkeypatch.delenv(var, raising=False)
    with mock_aws():
        yield Aws()


def request_raw(name: str = NAME) -> dict[str, Any]:
    raw = json.loads(REQUEST.read_text())
    raw["HyperParameterTuningJobName"] = name
    return raw


def make_run(aws: Aws, *, owner: str | None = None, outcomes: tuple[Any, ...] = (0.95, None, "Pending"),
             ) -> RunRecord:
    """Run ``digits-ga`` in the table with one generation, as Start and Propose write it; ``outcomes``
    per trial: a value (Completed), None (Failed) or a status left as it is."""
    request = parse_request(request_raw())
    aws.store.create_run(RunRecord(NAME, request.raw, request.fingerprint()))
    if owner:
        aws.store.claim_run(NAME, owner)
    trials = [TrialRecord.new(NAME, 0, i, {"learning_rate": 0.01 * (i + 1), "num_epoch": 10 + i},
                              hyperparameters={"learning_rate": str(0.01 * (i + 1)), "num_epoch": str(10 + i),
                                               **request.space.static},
                              job_name=training_job_name(NAME, 0, i)) for i in range(len(outcomes))]
    aws.store.put_generation(NAME, 0, trials, 0)
    for trial, outcome in zip(trials, outcomes, strict=True):
        if isinstance(outcome, float):
            aws.store.update_trial(NAME, trial.trial_id, status="Completed",
                                   values={"validation:accuracy": outcome, "train:seconds": 1.5})
        elif outcome is None:
            aws.store.update_trial(NAME, trial.trial_id, status="Failed",
                                   failure_reason="AlgorithmError: boom")
        else:
            aws.store.update_trial(NAME, trial.trial_id, status=outcome)
    return aws.store.get_run(NAME)


def running_job(aws: Aws, monkeypatch: pytest.MonkeyPatch, trial: TrialRecord) -> None:
    """The trial's job exists in moto and is still InProgress; moto learns StopTrainingJob."""
    request = parse_request(aws.store.get_run(NAME).request)
    aws.sagemaker.create_training_job(**create_training_job_params(
        shared_training_fields(request), trial.job_name, trial.hyperparameters))
    jobs = sagemaker_backends[ACCOUNT][REGION].training_jobs
    jobs[trial.job_name].training_job_status = "InProgress"

    def stop_training_job(self: SageMakerResponse) -> ActionResult:
        jobs[self._get_param("TrainingJobName")].training_job_status = "Stopped"
        return ActionResult({})

    monkeypatch.setattr(SageMakerResponse, "stop_training_job", stop_training_job, raising=False)


# -- start ----------------------------------------------------------------------------------------

def test_start_validates_then_starts_an_execution_named_after_the_run(
        aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["start", str(REQUEST)]) == 0
    execution = aws.execution()
    assert EXECUTION_NAME.fullmatch(execution["name"])
    assert json.loads(execution["input"]) == json.loads(REQUEST.read_text())  # the request, as written
    out = capsys.readouterr().out
    assert f"started run {NAME} on stack {STACK} ({REGION})" in out
    assert f"byohpo status {NAME}" in out and execution["executionArn"] in out


def test_start_refuses_an_invalid_request_naming_the_field(aws: Aws, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    raw = request_raw()
    raw["TrainingJobDefinition"]["ResourceConfig"]["InstanceType"] = "ml.nope.large"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    assert main(["start", str(path)]) == 2
    assert "TrainingJobDefinition.ResourceConfig.InstanceType" in capsys.readouterr().err
    assert aws.executions() == []


def test_start_uploads_a_request_above_the_input_limit(aws: Aws, tmp_path: Path) -> None:
    raw = request_raw("digits-large")
    definition = raw["TrainingJobDefinition"]
    # Large where a request can be large and still run: the training job's parameters within what a
    # Map iteration holds (about 112 KB), and 27 more categorical ranges of 30 long values each, which
    # travel only one value per trial.
    definition["StaticHyperParameters"].update({f"note_{i}": "x" * 2500 for i in range(30)})
    categorical = raw["HyperParameterTuningJobConfig"]["ParameterRanges"]["CategoricalParameterRanges"]
    categorical += [{"Name": f"choice_{i}", "Values": [f"{j:03d}" + "v" * 250 for j in range(30)]}
                    for i in range(27)]
    path = tmp_path / "large.json"
    path.write_text(json.dumps(raw))
    assert len(path.read_bytes()) > INLINE_LIMIT
    assert main(["start", str(path)]) == 0
    given = json.loads(aws.execution()["input"])
    bucket, key = given["RequestS3Uri"].removeprefix("s3://").split("/", 1)
    assert bucket == BUCKET and re.fullmatch(r"requests/digits-large/[0-9a-f]{16}\.json", key)
    assert json.loads(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == raw


def test_start_refuses_a_running_or_ended_run_and_resumes_an_interrupted_one(
        aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    holder = aws.start_execution(f"{NAME}-20240101-000000", request_raw())
    make_run(aws, owner=holder)
    assert main(["start", str(REQUEST)]) == 2
    assert f"run {NAME!r} is running in execution {NAME}-20240101-000000" in capsys.readouterr().err
    aws.sfn.stop_execution(executionArn=holder)  # the holder died: starting again resumes the run
    assert main(["start", str(REQUEST)]) == 0
    assert f"resumed run {NAME} (2 trials done)" in capsys.readouterr().out
    aws.store.finish_run(NAME, "Completed", "the target was reached", "TargetObjectiveMetricValue")
    assert main(["start", str(REQUEST)]) == 2
    assert "has ended (Completed: the target was reached)" in capsys.readouterr().err
    assert len(aws.executions()) == 2


def test_start_refuses_a_different_search_under_an_existing_name(aws: Aws, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    make_run(aws)
    raw = request_raw()
    raw["HyperParameterTuningJobConfig"]["StrategyConfig"]["Seed"] = 8
    path = tmp_path / "other.json"
    path.write_text(json.dumps(raw))
    assert main(["start", str(path)]) == 2
    assert "made from a different search" in capsys.readouterr().err
    assert aws.executions() == []


def test_an_unknown_stack_or_no_region_is_one_line(aws: Aws, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["start", str(REQUEST), "--stack", "Other"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"there is no stack 'Other' in {REGION}" in err
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert main(["status", NAME]) == 2
    assert "no AWS Region: pass --region" in capsys.readouterr().err
    monkeypatch.setenv("BYOHPO_STACK", STACK)
    assert main(["status", NAME, "--region", REGION]) == 2  # found the stack; the run is unknown
    assert "no run named 'digits-ga': stack Byohpo has no runs yet" in capsys.readouterr().err


# -- status ---------------------------------------------------------------------------------------

def test_status_shows_the_execution_progress_and_best_so_far(aws: Aws,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    holder = aws.start_execution(f"{NAME}-20240101-000000", request_raw())
    make_run(aws, owner=holder, outcomes=(0.95, None, "Pending", 0.97))
    assert main(["status", NAME]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{NAME}: InProgress, ga, stack {STACK} ({REGION})"
    assert re.fullmatch(rf"  execution   RUNNING {NAME}-20240101-000000, started .*", lines[1])
    assert lines[2:] == ["  generations 1",
                         "  trials      3/24 done (+1 running), 1 failed",
                         "  best        validation:accuracy = 0.97 "
                         "(g0000-t0003: learning_rate=0.04, num_epoch=13)"]


def test_status_of_an_ended_run_points_at_its_results(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    make_run(aws, outcomes=(0.95,))
    aws.store.finish_run(NAME, "Completed", "12 jobs without improvement", "BestObjectiveNotImproving")
    assert main(["status", NAME]) == 0
    out = capsys.readouterr().out
    assert "  ended       12 jobs without improvement" in out
    assert f"  results     s3://{BUCKET}/runs/{NAME}/leaderboard.csv" in out


def test_status_of_a_run_start_never_wrote_shows_its_execution(aws: Aws,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    arn = aws.start_execution(f"{NAME}-20240101-000000", {"not": "a request"})
    aws.sfn.stop_execution(executionArn=arn)  # as if Start had refused it (moto keeps no error or cause)
    assert main(["status", NAME]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{NAME}-20240101-000000: the run is not in stack {STACK}'s table"
    assert out[1].startswith(f"  execution   ABORTED {NAME}-20240101-000000, started ")


def test_status_of_an_unknown_run_lists_the_known_ones(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    make_run(aws)
    assert main(["status", "digits-gaa"]) == 2
    assert "no run named 'digits-gaa' in stack Byohpo (did you mean 'digits-ga'?); known runs: digits-ga" in \
        capsys.readouterr().err


# -- stop -----------------------------------------------------------------------------------------

def test_stop_ends_the_execution_the_jobs_and_the_run(aws: Aws, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    holder = aws.start_execution(f"{NAME}-20240101-000000", request_raw())
    make_run(aws, owner=holder, outcomes=(0.95, "Pending", "InProgress", "Pending"))
    trials = aws.store.get_trials(NAME)
    running_job(aws, monkeypatch, trials[2])  # the third trial's job trains; the others never started
    assert main(["stop", NAME]) == 0
    out = capsys.readouterr().out
    assert aws.sfn.describe_execution(executionArn=holder)["status"] == "ABORTED"
    job = aws.sagemaker.describe_training_job(TrainingJobName=trials[2].job_name)
    assert job["TrainingJobStatus"] == "Stopped"
    assert f"stopped 1 training job: {trials[2].job_name}" in out
    run = aws.store.get_run(NAME)
    assert (run.status, run.stop_code, run.owner) == ("Stopped", "StoppedByUser", None)
    assert [t.status for t in aws.store.get_trials(NAME)] == ["Completed", "Stopped", "Stopped", "Stopped"]
    board = aws.s3.get_object(Bucket=BUCKET, Key=f"runs/{NAME}/leaderboard.csv")["Body"].read().decode()
    assert board.splitlines()[1].startswith("1,g0000-t0000")
    assert main(["stop", NAME]) == 0  # again: nothing left to stop
    assert "had ended already: Stopped" in capsys.readouterr().out


# -- leaderboard --aws ----------------------------------------------------------------------------

def test_leaderboard_reads_the_stacks_table(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    make_run(aws, outcomes=(0.95, 0.97, None))
    assert main(["leaderboard", NAME, "--aws", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["trial_id"], r["status"]) for r in rows] == [
        ("g0000-t0001", "Completed"), ("g0000-t0000", "Completed"), ("g0000-t0002", "Failed")]
    assert main(["leaderboard", "nope", "--aws"]) == 2
    assert "known runs: digits-ga" in capsys.readouterr().err

