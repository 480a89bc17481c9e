"""The CDK stack, read from its synthesized template: every resource of the architecture, IAM scoped as
stated, cdk-nag's AwsSolutions pack with nothing unacknowledged and each acknowledgment one finding on
one resource, cfn-lint clean, the first run's execution input valid for the stack, and one real bundle
of the Lambda asset. (That each Lambda is granted exactly the calls its handler makes is
``test_lambda_permissions.py``.)"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from stack_fixture import ROOT, Synthesized, resolve, state_machine_definition, synthesized

from byohpo.aws.training import check_training
from byohpo.errors import ValidationError
from byohpo.request import parse_request
from byohpo.store.dynamodb import table_definition
from infra import bundling, example
from infra.app import build_app
from infra.stack import FUNCTIONS, LOG_DELIVERY_ACTIONS, ByohpoStack, StackSettings, Target
from state_machine import (
    CHILD_EXECUTION_ACTIONS,
    EVENTS_ACTIONS,
    SELF_ACTIONS,
    TRAINING_ACTIONS,
    TUNING_ACTIONS,
    TUNING_EVENTS_RULE,
    WATCH_SECONDS,
    build_definition,
)

EXTRA_ROLE = "arn:aws:iam::123456789012:role/my-training-role"
SCHEDULED = {"schedule": "rate(1 day)", "schedule_request": str(ROOT / "examples" / "digits" / "pso.json"),
             "sagemaker_role_arns": EXTRA_ROLE}
LOGGED = {"log_execution_data": "true"}
TRAINING_JOBS = "arn:aws:sagemaker:us-east-1:123456789012:training-job/*"
HANDLERS = {"Start": "byohpo.handlers.start.handler", "Propose": "byohpo.handlers.propose.handler",
            "Evaluate": "byohpo.handlers.evaluate.handler", "Finalize": "byohpo.handlers.finalize.handler",
            "Watch": "byohpo.handlers.watch.handler",
            "Import": "byohpo.handlers.import_tuning.handler"}
TUNING_JOBS = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/*"


@pytest.fixture(scope="module")
def synth() -> Synthesized:
    return synthesized()


@pytest.fixture(scope="module")
def scheduled() -> Synthesized:
    return synthesized(**SCHEDULED)


@pytest.fixture(scope="module")
def logged() -> Synthesized:
    return synthesized(**LOGGED)


def logical_id(stack: ByohpoStack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement of the policies attached to the role with logical id ``role``."""
    found = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    for inline in template["Resources"][role]["Properties"].get("Policies", []):
        found += inline["PolicyDocument"]["Statement"]
    return found


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else list(value)


def granted(template: dict[str, Any], role: str) -> set[str]:
    return {a for s in statements(template, role) for a in actions(s)}


def role_of(stack: ByohpoStack, name: str) -> str:
    return logical_id(stack, stack.functions[name].role)


def deployment_role(template: dict[str, Any]) -> str:
    (role,) = [k for k in resources(template, "AWS::IAM::Role") if k.startswith("CustomCDKBucketDeployment")]
    return role


# -- the architecture -----------------------------------------------------------------------------

def test_resources_are_the_architecture(synth: Synthesized) -> None:
    counts = Counter(r["Type"] for r in synth.template["Resources"].values())
    assert counts == {
        "AWS::DynamoDB::Table": 1, "AWS::S3::Bucket": 1, "AWS::S3::BucketPolicy": 1,
        "AWS::StepFunctions::StateMachine": 1,
        # Start, Propose, Evaluate, Finalize, Watch (early stopping), Import (amt-* runs);
        # CDK's BucketDeployment handler
        "AWS::Lambda::Function": 7,
        "AWS::Logs::LogGroup": 7,  # one per loop Lambda, one for the state machine
        # the six Lambdas', the state machine's, the SageMaker execution role, the deployment handler's
        "AWS::IAM::Role": 9,
        # the nine roles' own, and two for actions that take no resource (Resource "*" only there)
        "AWS::IAM::Policy": 11,
        "Custom::CDKBucketDeployment": 1, "AWS::Lambda::LayerVersion": 1,  # the example's upload
    }
    assert set(synth.template["Outputs"]) == {"StateMachineArn", "TableName", "BucketName",
                                              "SageMakerRoleArn", "ExampleExecutionInput"}


def test_table_is_the_stores_own_definition(synth: Synthesized) -> None:
    (table,) = resources(synth.template, "AWS::DynamoDB::Table").values()
    props, definition = table["Properties"], table_definition("x")
    assert props["KeySchema"] == definition["KeySchema"]
    attributes = definition["AttributeDefinitions"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(attributes, key=str)
    assert props["GlobalSecondaryIndexes"] == definition["GlobalSecondaryIndexes"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_bucket_is_encrypted_private_and_tls_only(synth: Synthesized) -> None:
    (bucket,) = resources(synth.template, "AWS::S3::Bucket").values()
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    (policy,) = resources(synth.template, "AWS::S3::BucketPolicy").values()
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s["Condition"] for s in denies]
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in [s["Condition"] for s in denies]


def test_lambdas_run_the_handlers_with_the_table_and_bucket(synth: Synthesized) -> None:
    stack, template = synth.stack, synth.template
    table, bucket = logical_id(stack, stack.table), logical_id(stack, stack.bucket)
    for name, handler in HANDLERS.items():
        props = template["Resources"][logical_id(stack, stack.functions[name])]["Properties"]
        assert props["Handler"] == handler
        assert props["Runtime"] == bundling.RUNTIME.name and props["Architectures"] == ["x86_64"]
        assert props["MemorySize"] == FUNCTIONS[name][1] and props["Timeout"] == FUNCTIONS[name][2]
        env = props["Environment"]["Variables"]
        assert env["BYOHPO_TABLE"] == {"Ref": table} and env["BYOHPO_BUCKET"] == {"Ref": bucket}
        assert env["BYOHPO_EVENT_BUDGET"] == "20000" and env["BYOHPO_RESULTS_PREFIX"] == "runs/"
        assert env["BYOHPO_STACK"] == "Byohpo"  # the value of the byohpo:stack tag on its jobs
        # Start refuses a request whose RoleArn the state machine may not pass
        assert ("BYOHPO_PASSABLE_ROLES" in env) == (name == "Start")
        # logs go to the function's own log group, with a retention
        group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert template["Resources"][group]["Properties"]["RetentionInDays"] == 90


def test_state_machine_is_standard_logged_and_calls_the_five_lambdas(synth: Synthesized) -> None:
    (machine,) = resources(synth.template, "AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    # states' inputs and outputs hold every request's training Environment: not logged by default
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    (destination,) = props["LoggingConfiguration"]["Destinations"]
    group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    name = synth.template["Resources"][group]["Properties"]["LogGroupName"]
    assert name == "/aws/vendedlogs/states/Byohpo-tuning"
    definition = state_machine_definition(synth.template)
    assert definition.handlers == {f"{name}FunctionArn": handler for name, handler in HANDLERS.items()}
    assert set(definition.placeholders) <= set(definition.substitutions)
    # exactly what state_machine/ builds, the Lambda ARNs left to CloudFormation
    assert json.loads(definition.text) == build_definition(**{
        f"{name.lower()}_fn": f"${{{name}FunctionArn}}" for name in FUNCTIONS}, watch_seconds=WATCH_SECONDS)
    fake = {p: f"arn:aws:lambda:us-east-1:123456789012:function:{p}" for p in definition.placeholders}
    assert "${" not in definition.render(fake)


# -- IAM ------------------------------------------------------------------------------------------

def test_no_wildcard_action_except_in_cdks_deployment_handler(synth: Synthesized) -> None:
    handler_role = deployment_role(synth.template)
    for role in resources(synth.template, "AWS::IAM::Role"):
        wildcards = [a for a in granted(synth.template, role) if "*" in a]
        if role == handler_role:  # aws-cdk-lib's BucketDeployment grants; acknowledged for cdk-nag
            assert wildcards
        else:
            assert wildcards == [], role


def test_resource_star_only_in_the_policies_of_actions_without_resource_level_permissions(
        synth: Synthesized) -> None:
    stack, template = synth.stack, synth.template
    allowed = {  # the policy that may hold Resource "*" -> the actions it may hold
        "SageMakerActionsWithoutResources": {"cloudwatch:PutMetricData", "ecr:GetAuthorizationToken"},
        "TuningLogDelivery": set(LOG_DELIVERY_ACTIONS)}
    policies = {stack.get_logical_id(stack.node.find_child(name).node.default_child): wanted
                for name, wanted in allowed.items()}
    for logical, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Resource"] == "*":
                assert set(actions(statement)) <= policies.get(logical, set()), (logical, statement)
    sagemaker = statements(template, logical_id(stack, stack.sagemaker_role))
    (metrics,) = [s for s in sagemaker if "cloudwatch:PutMetricData" in actions(s)]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}}


def test_passrole_only_to_sagemaker_and_only_for_the_known_roles(synth: Synthesized,
                                                                  scheduled: Synthesized) -> None:
    for built, extra in ((synth, []), (scheduled, [EXTRA_ROLE])):
        stack, template = built.stack, built.template
        found = [(role, s) for role in resources(template, "AWS::IAM::Role")
                 for s in statements(template, role) if "iam:PassRole" in actions(s)]
        assert len(found) == 1
        role, statement = found[0]
        assert role == logical_id(stack, stack.state_machine.role)
        assert actions(statement) == ["iam:PassRole"]
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
        own = {"Fn::GetAtt": [logical_id(stack, stack.sagemaker_role), "Arn"]}
        assert statement["Resource"] == ([own, *extra] if extra else own)
        # Start knows the same roles, to refuse a request naming another before anything starts
        start = template["Resources"][logical_id(stack, stack.functions["Start"])]["Properties"]
        passable = resolve(start["Environment"]["Variables"]["BYOHPO_PASSABLE_ROLES"], template,
                           physical={logical_id(stack, stack.sagemaker_role): "sm"})
        assert passable.split(",") == ["arn:aws:iam::123456789012:role/sm", *extra]


@pytest.mark.parametrize("arns, message", [
    ("*", r"sagemaker_role_arns\[0\]: '\*' is a wildcard"),
    (f"{EXTRA_ROLE},arn:aws:iam::123456789012:role/*", r"sagemaker_role_arns\[1\]: .* is a wildcard"),
    ("arn:aws:iam::*:role/x", r"sagemaker_role_arns\[0\]: .* is a wildcard"),
    ("arn:aws:iam::123456789012:role/team-?", r"is a wildcard"),
    ("my-training-role", r"sagemaker_role_arns\[0\]: 'my-training-role' is not an IAM role ARN"),
    ("arn:aws:s3:::bucket", r"is not an IAM role ARN"),
])
def test_more_roles_must_be_named_never_a_wildcard(arns: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_app({"aws:cdk:bundling-stacks": [], "sagemaker_role_arns": arns})


def test_each_lambda_may_do_only_what_its_step_needs(synth: Synthesized) -> None:
    """The actions exactly (``test_lambda_permissions.py`` checks them against the calls the handlers
    make), and on what."""
    stack, template = synth.stack, synth.template
    read = {"dynamodb:GetItem", "dynamodb:Query"}
    write = {"dynamodb:PutItem", "dynamodb:UpdateItem"}  # a transaction's Put and Update items too
    logs = {"logs:CreateLogStream", "logs:PutLogEvents"}  # the function's own log group
    read_job_logs = {"logs:DescribeLogStreams", "logs:GetLogEvents"}
    expected = {
        "Start": read | write | logs | read_job_logs | {
            "s3:GetObject", "states:DescribeExecution", "sagemaker:DescribeTrainingJob",
            "sagemaker:DescribeAlgorithm", "sagemaker:DescribeHyperParameterTuningJob",
            "sagemaker:ListTrainingJobsForHyperParameterTuningJob"},
        "Propose": read | write | logs,
        "Evaluate": read | {"dynamodb:UpdateItem"} | logs | read_job_logs | {"sagemaker:DescribeTrainingJob",
                                                                        "sagemaker:DescribeAlgorithm"},
        "Finalize": read | {"dynamodb:UpdateItem"} | logs | {"sagemaker:StopTrainingJob", "s3:PutObject"},
        "Watch": read | {"dynamodb:UpdateItem"} | logs | read_job_logs | {
            "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:DescribeAlgorithm"},
        "Import": read | write | logs | {
            "sagemaker:DescribeHyperParameterTuningJob",
            "sagemaker:ListTrainingJobsForHyperParameterTuningJob", "sagemaker:DescribeTrainingJob"},
    }
    assert set(expected) == set(FUNCTIONS)
    table, bucket = logical_id(stack, stack.table), logical_id(stack, stack.bucket)
    for name, wanted in expected.items():
        role = role_of(stack, name)
        assert granted(template, role) == wanted, name
        for statement in statements(template, role):
            if any(a.startswith("dynamodb:") for a in actions(statement)):  # the table, not its index
                assert statement["Resource"] == {"Fn::GetAtt": [table, "Arn"]}, name

    def resource(name: str, action: str) -> Any:
        (found,) = [s for s in statements(template, role_of(stack, name)) if action in actions(s)]
        return resolve(found["Resource"], template, physical={bucket: "b"}), found.get("Condition")

    assert resource("Start", "s3:GetObject") == ("arn:aws:s3:::b/requests/*", None)
    assert resource("Finalize", "s3:PutObject") == ("arn:aws:s3:::b/runs/*", None)
    # Start may look only at this state machine's executions
    assert resource("Start", "states:DescribeExecution") == (
        "arn:aws:states:us-east-1:123456789012:execution:Byohpo-tuning:*", None)
    # Finalize, and the Watch Lambda of early stopping, may stop only this stack's jobs; reading any
    # job is harmless, and a missing one must read as not found, not AccessDenied
    for name in ("Finalize", "Watch"):
        assert resource(name, "sagemaker:StopTrainingJob") == (
            TRAINING_JOBS, {"StringEquals": {"aws:ResourceTag/byohpo:stack": "Byohpo"}}), name
    assert resource("Import", "sagemaker:DescribeTrainingJob") == (TRAINING_JOBS, None)
    for name in ("Start", "Evaluate", "Watch"):
        assert resource(name, "sagemaker:DescribeTrainingJob") == (TRAINING_JOBS, None)
        # an AlgorithmName may be a Marketplace seller's, in another account
        assert resource(name, "sagemaker:DescribeAlgorithm") == (
            "arn:aws:sagemaker:us-east-1:*:algorithm/*", None)


def test_state_machine_role_invokes_the_loop_trains_and_continues_as_new(synth: Synthesized) -> None:
    stack, template = synth.stack, synth.template
    role = logical_id(stack, stack.state_machine.role)
    by_action: dict[str, list[dict[str, Any]]] = {}
    for statement in statements(template, role):
        if is_tuning(statement, template):  # SageMaker's own tuner: test_state_machine_role_runs_tuning_jobs
            continue
        for action in actions(statement):
            by_action.setdefault(action, []).append(statement)

    def only(action: str) -> dict[str, Any]:
        (statement,) = by_action[action]
        return statement

    assert only("lambda:InvokeFunction")["Resource"] == [
        {"Fn::GetAtt": [logical_id(stack, stack.functions[n]), "Arn"]} for n in FUNCTIONS]
    for action in EVENTS_ACTIONS:
        assert resolve(only(action)["Resource"], template) == \
            "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
    own = resolve(only("states:StartExecution")["Resource"], template)
    assert own == "arn:aws:states:us-east-1:123456789012:stateMachine:Byohpo-tuning"
    for action in CHILD_EXECUTION_ACTIONS:  # the Distributed Map's children
        assert resolve(only(action)["Resource"], template) == \
            "arn:aws:states:us-east-1:123456789012:execution:Byohpo-tuning/Trials:*"
    assert set(by_action) == {"lambda:InvokeFunction", *TRAINING_ACTIONS, *EVENTS_ACTIONS, "iam:PassRole",
                              *SELF_ACTIONS, *CHILD_EXECUTION_ACTIONS, *LOG_DELIVERY_ACTIONS}
    # Training jobs: created only with this stack's tag, stopped and tagged later only when they carry
    # it; tagged on creation (Step Functions' MANAGED_BY_AWS tag, the request's own tags); read freely.
    conditions = {action: sorted(json.dumps(s.get("Condition")) for s in by_action[action])
                  for action in TRAINING_ACTIONS}

    def equals(key: str, value: str) -> str:
        return json.dumps({"StringEquals": {key: value}})

    mine = equals("aws:ResourceTag/byohpo:stack", "Byohpo")
    assert conditions == {
        "sagemaker:CreateTrainingJob": [equals("aws:RequestTag/byohpo:stack", "Byohpo")],
        "sagemaker:AddTags": sorted([equals("sagemaker:TaggingAction", "CreateTrainingJob"), mine]),
        "sagemaker:StopTrainingJob": [mine],
        "sagemaker:DescribeTrainingJob": ["null"],
        "sagemaker:ListTags": ["null"]}
    for action in TRAINING_ACTIONS:
        assert {resolve(s["Resource"], template) for s in by_action[action]} == {TRAINING_JOBS}
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"]["StateMachineName"] == "Byohpo-tuning"


def is_tuning(statement: dict[str, Any], template: dict[str, Any]) -> bool:
    """A statement of the amt-* branch: on tuning jobs, or on the tuning jobs' events rule."""
    text = json.dumps(resolve(statement["Resource"], template))
    return "hyper-parameter-tuning-job" in text or TUNING_EVENTS_RULE in text


def test_state_machine_role_runs_tuning_jobs_scoped_by_the_stack_tag(synth: Synthesized) -> None:
    """createHyperParameterTuningJob.sync: created only with this stack's tag (which SageMaker copies to
    the tuning job's training jobs), tagged on creation, stopped and tagged later only when it carries
    the tag, read freely; and the managed rule .sync watches tuning jobs through."""
    stack, template = synth.stack, synth.template
    tuning = [s for s in statements(template, logical_id(stack, stack.state_machine.role))
              if is_tuning(s, template)]
    by_action: dict[str, list[str]] = {}
    for statement in tuning:
        for action in actions(statement):
            resource = resolve(statement["Resource"], template)
            by_action.setdefault(action, []).append(json.dumps([resource, statement.get("Condition")]))

    def on(resource: str, key: str | None = None, value: str = "Byohpo") -> str:
        return json.dumps([resource, {"StringEquals": {key: value}} if key else None])

    rule = f"arn:aws:events:us-east-1:123456789012:rule/{TUNING_EVENTS_RULE}"
    mine = on(TUNING_JOBS, "aws:ResourceTag/byohpo:stack")
    assert {a: sorted(v) for a, v in by_action.items()} == {
        "sagemaker:CreateHyperParameterTuningJob": [on(TUNING_JOBS, "aws:RequestTag/byohpo:stack")],
        "sagemaker:AddTags": sorted([mine, on(TUNING_JOBS, "sagemaker:TaggingAction",
                                              "CreateHyperParameterTuningJob")]),
        "sagemaker:StopHyperParameterTuningJob": [mine],
        "sagemaker:DescribeHyperParameterTuningJob": [on(TUNING_JOBS)],
        "sagemaker:ListTrainingJobsForHyperParameterTuningJob": [on(TUNING_JOBS)],
        "sagemaker:ListTags": [on(TUNING_JOBS)],
        **{action: [on(rule)] for action in EVENTS_ACTIONS}}
    assert set(by_action) == {*TUNING_ACTIONS, *EVENTS_ACTIONS}
    # the role SageMaker's tuner gives its training jobs is passed like a training job's
    passing = [s for s in statements(template, logical_id(stack, stack.state_machine.role))
               if "iam:PassRole" in actions(s)]
    to_sagemaker = {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert passing and all(s["Condition"] == to_sagemaker for s in passing)


def test_another_stack_is_another_tag(synth: Synthesized) -> None:
    other = synthesized(stack_name="Team-B")
    stack, template = other.stack, other.template
    role = logical_id(stack, stack.state_machine.role)
    tags = {json.dumps(s.get("Condition")) for s in statements(template, role)
            if "byohpo:stack" in json.dumps(s.get("Condition"))}
    assert tags == {json.dumps({"StringEquals": {"aws:RequestTag/byohpo:stack": "Team-B"}}),
                    json.dumps({"StringEquals": {"aws:ResourceTag/byohpo:stack": "Team-B"}})}
    env = template["Resources"][logical_id(stack, stack.functions["Propose"])]["Properties"]["Environment"]
    assert env["Variables"]["BYOHPO_STACK"] == "Team-B"


def test_the_early_stopping_poll_is_a_context_value_of_whole_seconds(synth: Synthesized) -> None:
    definition = json.loads(state_machine_definition(synth.template).text)
    processor = definition["States"]["Train the generation"]["ItemProcessor"]
    branches = processor["States"]["Train and watch"]["Branches"]
    (watch,) = [b for b in branches if b["StartAt"] == "Start watching"]
    assert watch["States"]["Start watching"]["Result"] == {"base": 60, "seconds": 60, "count": 0, "waited": 0}
    from infra.app import settings_from_context

    app = cdk.App(context={"early_stopping_poll_seconds": "15"})
    assert settings_from_context(app).watch_seconds == 15
    for bad in ("0", "3601", "1.5", "soon"):
        with pytest.raises(ValueError, match="early_stopping_poll_seconds"):
            settings_from_context(cdk.App(context={"early_stopping_poll_seconds": bad}))


def test_execution_data_is_logged_only_when_asked(logged: Synthesized) -> None:
    (machine,) = resources(logged.template, "AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"]["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
    with pytest.raises(ValueError, match="log_execution_data: 'yes' is neither true nor false"):
        build_app({"aws:cdk:bundling-stacks": [], "log_execution_data": "yes"})


def test_sagemaker_role_is_for_sagemaker_and_reads_only_its_prefixes(synth: Synthesized) -> None:
    stack, template = synth.stack, synth.template
    role = logical_id(stack, stack.sagemaker_role)
    trust = template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "sagemaker.amazonaws.com"}]
    objects: dict[str, list[str]] = {}
    for statement in statements(template, role):
        for action in actions(statement):
            objects.setdefault(action, []).append(
                resolve(statement["Resource"], template, physical={logical_id(stack, stack.bucket): "b"}))
    assert objects["s3:GetObject"] == ["arn:aws:s3:::b/examples/digits/*", "arn:aws:s3:::b/data/*"]
    assert objects["s3:PutObject"] == ["arn:aws:s3:::b/training-output/*"]
    assert objects["ecr:BatchGetImage"] == [
        "arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-scikit-learn"]


# -- outputs: the first run -----------------------------------------------------------------------

@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_example_execution_input_is_a_valid_request_for_the_stack(synth: Synthesized, region: str) -> None:
    stack, template = synth.stack, synth.template
    physical = {logical_id(stack, stack.bucket): "byohpo-results-x",
                logical_id(stack, stack.sagemaker_role): "sm"}
    text = resolve(template["Outputs"]["ExampleExecutionInput"]["Value"], template, region=region,
                   physical=physical)
    body = json.loads(text)
    request = parse_request(body)  # what Start does first
    check_training(request)  # and each job's CreateTrainingJob parameters
    definition = body["TrainingJobDefinition"]
    account = example.SKLEARN_ACCOUNTS[region]
    assert definition["AlgorithmSpecification"]["TrainingImage"] == \
        f"{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    assert definition["RoleArn"] == "arn:aws:iam::123456789012:role/sm"
    static = definition["StaticHyperParameters"]
    assert json.loads(static["sagemaker_program"]) == "train.py"
    assert json.loads(static["sagemaker_submit_directory"]) == \
        "s3://byohpo-results-x/examples/digits/sourcedir.tar.gz"
    assert json.loads(static["sagemaker_region"]) == region
    assert definition["OutputDataConfig"] == {"S3OutputPath": "s3://byohpo-results-x/training-output/"}
    assert "Local" not in definition
    # the rest is the local example, unchanged
    local = json.loads(example.REQUEST.read_text())
    assert body["HyperParameterTuningJobConfig"] == local["HyperParameterTuningJobConfig"]


def test_the_example_is_uploaded_where_the_input_points(synth: Synthesized) -> None:
    (deployment,) = resources(synth.template, "Custom::CDKBucketDeployment").values()
    props = deployment["Properties"]
    assert props["DestinationBucketKeyPrefix"] == example.PREFIX
    assert props["DestinationBucketName"] == {"Ref": logical_id(synth.stack, synth.stack.bucket)}
    staged = synth.outdir / f"asset.{props['SourceObjectKeys'][0].split('.')[0]}"
    assert sorted(p.name for p in staged.iterdir()) == [example.TARBALL]


def test_sourcedir_tarball_is_reproducible_and_holds_the_script(tmp_path: Path) -> None:
    folder = example.sourcedir_tarball()
    first = (folder / example.TARBALL).read_bytes()
    shutil.rmtree(folder)
    assert (example.sourcedir_tarball() / example.TARBALL).read_bytes() == first  # same bytes, same asset
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        assert tar.getnames() == ["train.py"]
        assert tar.extractfile("train.py").read() == example.SCRIPT.read_bytes()  # type: ignore[union-attr]


def test_image_accounts_are_a_mapping_of_every_published_region(synth: Synthesized) -> None:
    mapping = synth.template["Mappings"]["ScikitLearnImageAccounts"]
    assert mapping == {region: {"Account": a} for region, a in example.SKLEARN_ACCOUNTS.items()}
    assert mapping["us-east-1"] == {"Account": "683313688378"}


# -- context: schedules and more roles ------------------------------------------------------------

def test_schedule_starts_the_request_stored_in_the_bucket(scheduled: Synthesized) -> None:
    stack, template = scheduled.stack, scheduled.template
    (schedule,) = resources(template, "AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "rate(1 day)"
    target = props["Target"]
    assert target["Arn"] == {"Ref": logical_id(stack, stack.state_machine)}
    bucket = logical_id(stack, stack.bucket)
    assert json.loads(resolve(target["Input"], template, physical={bucket: "b"})) == {
        "RequestS3Uri": "s3://b/requests/schedules/digits-pso.json",
        "RunNameSuffix": "<aws.scheduler.scheduled-time>"}  # each firing tunes under its own run name
    (upload,) = [r["Properties"] for r in resources(template, "Custom::CDKBucketDeployment").values()
                 if r["Properties"]["DestinationBucketKeyPrefix"] == "requests/schedules/"]
    assert upload["DestinationBucketName"] == {"Ref": bucket}
    scheduler_role = target["RoleArn"]["Fn::GetAtt"][0]
    assert granted(template, scheduler_role) == {"states:StartExecution"}


def test_schedule_refuses_an_invalid_request_before_anything_is_built(tmp_path: Path) -> None:
    bad = json.loads((ROOT / "examples" / "digits" / "ga.json").read_text())
    bad["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ValidationError, match=r"ResourceLimits\.MaxParallelTrainingJobs"):
        build_app({"aws:cdk:bundling-stacks": [], "schedule": "rate(1 day)", "schedule_request": str(path)})
    with pytest.raises(ValueError, match="go together"):
        StackSettings(schedule="rate(1 day)")


# -- cdk-nag and cfn-lint -------------------------------------------------------------------------

VARIANTS = {"default": {}, "scheduled": SCHEDULED, "logged": LOGGED}


def findings(context: dict[str, str]) -> set[tuple[str, str]]:
    """(construct path, rule) of every cdk-nag finding on the stack built with ``context`` and nothing
    acknowledged."""
    _, raw = build_app({"aws:cdk:bundling-stacks": [], **context, "acknowledge_findings": "false"})
    assert raw.acknowledgments == []
    return {(r.construct_path, v.rule_name) for v in AwsSolutionsChecks().validate_scope(raw).violations
            for r in v.violating_resources}


def acknowledgments(root: Any) -> list[tuple[str, str, str]]:
    """(construct path, rule, reason) of every acknowledgment made anywhere in the app: the metadata
    ``cdk.Validations.of(scope).acknowledge`` leaves, which covers ``scope`` and all below it."""
    found = []
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == "aws:cdk:acknowledged-rules":
                found += [(construct.node.path, rule.split("::", 1)[1], reason)
                          for rule, reason in entry.data.items()]
    return found


@pytest.mark.parametrize("variant", VARIANTS)
def test_cdk_nag_reports_nothing_unacknowledged(variant: str) -> None:
    # app.synth() in the fixture has run the same checks (it raises on a finding); this names them
    built = synthesized(**VARIANTS[variant])
    report = AwsSolutionsChecks().validate_scope(built.stack)
    assert report.success, [(v.rule_name, [r.construct_path for r in v.violating_resources])
                             for v in report.violations]


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_acknowledgment_is_one_finding_on_one_resource(variant: str) -> None:
    """One for one: every finding has its own acknowledgment, on the CloudFormation resource it is found
    on, naming its exact resource (``IAM5[Resource::<arn>]``), with a reason; no acknowledgment covers
    anything else. One on a role, the stack or a blanket ``Resource::*`` would fail here."""
    built = synthesized(**VARIANTS[variant])
    made = acknowledgments(built.stack.node.root)  # what CDK matches findings against, wherever made
    acknowledged = [(path, rule) for path, rule, _ in made]
    assert len(acknowledged) == len(set(acknowledged))
    assert set(acknowledged) == findings(VARIANTS[variant])
    assert sorted(made) == sorted(built.stack.acknowledgments)  # the stack's record is the truth
    resources_by_path = {r.node.path for r in built.stack.node.find_all() if isinstance(r, cdk.CfnResource)}
    for path, rule, reason in made:
        assert path in resources_by_path, f"{rule} acknowledged on {path}, which is not one resource"
        assert len(reason) > 40, (path, rule)
    blanket = [(p, r) for p, r in acknowledged if r == "AwsSolutions-IAM5[Resource::*]"]
    assert sorted(blanket) == [("Byohpo/SageMakerActionsWithoutResources/Resource", blanket[0][1]),
                               ("Byohpo/TuningLogDelivery/Resource", blanket[0][1])]


def test_a_wildcard_added_to_a_role_fails_the_synth() -> None:
    """What the scoped acknowledgments are for: a statement on Resource "*" (here the PassRole that
    ``-c sagemaker_role_arns='*'`` used to make) is a finding nobody acknowledged, and cdk-nag stops the
    synth."""
    app, stack = build_app({"aws:cdk:bundling-stacks": []})
    stack.state_machine.add_to_role_policy(iam.PolicyStatement(actions=["iam:PassRole"], resources=["*"]))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = AwsSolutionsChecks().validate_scope(stack)
    assert [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in report.violations] == [
        ("AwsSolutions-IAM5[Resource::*]", ["Byohpo/Tuning/Role/DefaultPolicy/Resource"])]
    with pytest.raises(ValueError, match="Resource '\\*'"):
        stack.allow(stack.functions["Start"].role, ["s3:GetObject"], Target(("*",)))


def test_cfn_lint_finds_nothing(synth: Synthesized, scheduled: Synthesized, logged: Synthesized) -> None:
    from cfnlint.api import ManualArgs, lint

    for built in (synth, scheduled, logged):
        matches = lint(json.dumps(built.template), config=ManualArgs(
            regions=["us-east-1", "eu-west-1", "ap-southeast-2"],
            # W3005: CDK adds DependsOn on a role's policy next to the GetAtt of the role itself.
            ignore_checks=["W3005"]))
        assert [str(m) for m in matches] == []


# -- the Lambda asset -----------------------------------------------------------------------------

def test_asset_holds_the_core_dependencies_for_the_lambda_platform() -> None:
    requirements = bundling.core_dependencies()
    names = [r.split(">")[0].split("=")[0] for r in requirements]
    assert names == ["numpy", "scipy", "inspyred", "threadpoolctl"]
    command = bundling.pip_command("/out", requirements, version=bundling.python_version())
    assert command[-len(requirements):] == requirements
    assert {"--platform=manylinux2014_x86_64", "--only-binary=:all:", "--no-compile"} <= set(command)
    assert command[command.index("--python-version") + 1] == bundling.RUNTIME.name.removeprefix("python")


def test_local_bundling_builds_the_lambda_asset(tmp_path: Path) -> None:
    """The one test that bundles for real: CDK calls the local bundler (pip for the Lambda platform, no
    Docker) while synthesizing; the asset is made once for the four functions and holds the package
    and its wheels, within Lambda's 250 MB unzipped. Downloads ~50 MB of wheels (pip caches them);
    took 16-30 s on a loaded 2-core machine."""
    started = time.perf_counter()
    app, _ = build_app({}, outdir=str(tmp_path))
    app.synth()
    seconds = time.perf_counter() - started
    template = json.loads((tmp_path / "Byohpo.template.json").read_text())
    keys = {r["Properties"]["Code"]["S3Key"] for r in resources(template, "AWS::Lambda::Function").values()
            if r["Properties"].get("Handler", "").startswith("byohpo.handlers.")}
    assert len(keys) == 1  # one asset for Start, Propose, Evaluate and Finalize
    asset = tmp_path / f"asset.{keys.pop().removesuffix('.zip')}"
    for part in ("byohpo/handlers/start.py", "byohpo/schema/request.schema.json", "numpy", "scipy",
                 "inspyred", "threadpoolctl.py"):
        assert (asset / part).exists(), part
    assert not (asset / "botocore").exists() and not list(asset.rglob("__pycache__"))
    size = sum(p.stat().st_size for p in asset.rglob("*") if p.is_file())
    print(f"\nLambda asset: {size / 2**20:.0f} MiB unzipped, bundled and synthesized in {seconds:.0f} s")
    assert size < 250 * 1024 * 1024
