"""The byohpo stack: a run's store, its bucket, the four Lambdas of the tuning loop, and the state
machine that drives them through SageMaker training jobs::

    Start ─► Propose ─► Map: CreateTrainingJob.sync per trial ─► Evaluate ─┬ next: Propose again
                                                                           ├ wait: Evaluate again
                                                                           ├ finish: Finalize
                                                                           └ continue as a new execution

Every permission is a grant or a statement naming its actions; the few resources that cannot be named
at deploy time (training jobs, executions, object keys) are wildcards below a fixed prefix, each
acknowledged for cdk-nag with its reason where it is made.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from byohpo.aws.logs import LOG_GROUP as TRAINING_LOG_GROUP
from byohpo.handlers import DEFAULT_EVENT_BUDGET
from byohpo.request import parse_request
from byohpo.store.dynamodb import table_definition
from infra import bundling, example
from state_machine import (
    CHILD_EXECUTION_ACTIONS,
    EVENTS_ACTIONS,
    EVENTS_RULE,
    MAP_LABEL,
    PASS_ROLE_CONDITION,
    SELF_ACTIONS,
    TRAINING_ACTIONS,
    build_definition,
)

#: Prefixes of the results bucket, and who uses them.
REQUESTS_PREFIX = "requests/"  # execution inputs too large to pass inline; read by Start
RESULTS_PREFIX = "runs/"  # leaderboard.csv and summary.json of each run; written by Finalize
DATA_PREFIX = "data/"  # training data of your own; read by the stack's SageMaker role
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
TRAINING_JOBS_REASON = "Training job names are made per trial at run time (<run>-g<generation>-t<index>)."

#: name -> (handler module, memory MB, timeout s). Propose gets the most CPU (Lambda's CPU share grows
#: with memory): Bayesian optimization and inspyred's replay compute there.
FUNCTIONS: dict[str, tuple[str, int, int]] = {
    "Start": ("start", 512, 120),
    "Propose": ("propose", 1024, 300),
    "Evaluate": ("evaluate", 512, 300),
    "Finalize": ("finalize", 512, 120),
}


@dataclass(frozen=True)
class StackSettings:
    """What ``cdk -c key=value`` may change (see ``infra/app.py``).

    Args:
        sagemaker_role_arns: more roles the state machine may pass to SageMaker, besides the stack's.
        schedule: an EventBridge Scheduler expression (``rate(1 day)``, ``cron(0 6 * * ? *)``) that
            starts ``schedule_request``.
        schedule_request: the tuning request file the schedule starts.
        event_budget: history events one execution may use before it continues as a new one.
        acknowledge_findings: False leaves every cdk-nag finding unacknowledged, to review them all.
    """

    sagemaker_role_arns: tuple[str, ...] = ()
    schedule: str | None = None
    schedule_request: Path | None = None
    event_budget: int = DEFAULT_EVENT_BUDGET
    acknowledge_findings: bool = True

    def __post_init__(self) -> None:
        if bool(self.schedule) != bool(self.schedule_request):
            raise ValueError("schedule and schedule_request go together: "
                             '-c schedule="rate(1 day)" -c schedule_request=examples/digits/ga.json')


class ByohpoStack(cdk.Stack):
    """The whole deployment, built in the order a run uses it (see the module docstring)."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings | None = None,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = settings or StackSettings()
        self.settings = settings
        #: (construct path, rule, reason) of every cdk-nag finding acknowledged, in order.
        self.acknowledgments: list[tuple[str, str, str]] = []
        self.state_machine_name = _name(self.stack_name, "-tuning", 80)

        # Where runs live: one item per run and per trial; requests and results as objects.
        self.table = self.runs_table()
        self.bucket = self.results_bucket()

        # Who trains: SageMaker assumes this role, or one named in context, for every training job;
        # the example runs in the scikit-learn image of the stack's Region.
        self.training_image, self.image_account = example.training_image(self)
        self.sagemaker_role = self.sagemaker_execution_role()
        passable_roles = [self.sagemaker_role.role_arn, *settings.sagemaker_role_arns]

        # The tuning loop: four Lambdas sharing one asset, and the state machine that calls them.
        code = bundling.lambda_code()
        self.functions = {name: self.loop_function(name, code, settings.event_budget) for name in FUNCTIONS}
        self.grant_loop_permissions()
        self.state_machine = self.tuning_state_machine(passable_roles)

        # The first run: the digits example uploaded, its execution input ready to paste.
        self.example_input = self.digits_example()
        if settings.schedule and settings.schedule_request:
            self.schedule = self.scheduled_run(settings.schedule, settings.schedule_request)

        for name, value, description in (
            ("StateMachineArn", self.state_machine.state_machine_arn, "Start executions here"),
            ("TableName", self.table.table_name, "Runs and trials (byohpo status/leaderboard --aws)"),
            ("BucketName", self.bucket.bucket_name, "Requests, results (runs/<name>/) and examples"),
            ("SageMakerRoleArn", self.sagemaker_role.role_arn, "The training jobs' execution role"),
            ("ExampleExecutionInput", self.example_input, "Paste as the execution input: the digits "
                                                          "example with a genetic algorithm"),
        ):
            cdk.CfnOutput(self, name, value=value, description=description)

    # -- storage --------------------------------------------------------------------------------
    def runs_table(self) -> dynamodb.Table:
        """The DynamoDB store's table, from the store's own definition (the tests create the same)."""
        definition = table_definition("unused")
        types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}

        def keys(schema: Sequence[dict[str, str]]) -> dict[str, dynamodb.Attribute]:
            return {("partition_key" if k["KeyType"] == "HASH" else "sort_key"): dynamodb.Attribute(
                name=k["AttributeName"], type=_ATTRIBUTE_TYPES[types[k["AttributeName"]]])
                for k in schema}

        assert definition["BillingMode"] == "PAY_PER_REQUEST"
        table = dynamodb.Table(
            self, "Runs", **keys(definition["KeySchema"]),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=cdk.RemovalPolicy.RETAIN)
        for index in definition["GlobalSecondaryIndexes"]:
            table.add_global_secondary_index(
                index_name=index["IndexName"], **keys(index["KeySchema"]),
                projection_type=dynamodb.ProjectionType[index["Projection"]["ProjectionType"]])
        return table

    def results_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self, "Results",
            encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True, minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=cdk.RemovalPolicy.RETAIN)
        _acknowledge(bucket, "AwsSolutions-S1",
                     "Server access logs need a second bucket per deployment; only this stack's roles can "
                     "reach this one (no public access, TLS only). Turn on CloudTrail S3 data events if "
                     "your audit policy asks for object-level logs.")
        return bucket

    # -- SageMaker ------------------------------------------------------------------------------
    def sagemaker_execution_role(self) -> iam.Role:
        """What a training job of the stack's own may do: read the example and ``data/``, write its
        output, pull the scikit-learn image, write its logs and metrics."""
        role = iam.Role(self, "SageMakerExecutionRole",
                        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                        description="byohpo training jobs: the example's source, data/ and training-output/")
        statements = [
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[
                self.bucket.arn_for_objects(f"{example.PREFIX}*"),
                self.bucket.arn_for_objects(f"{DATA_PREFIX}*")]),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]),
            iam.PolicyStatement(actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                                resources=[self.bucket.arn_for_objects(f"{example.OUTPUT_PREFIX}*")]),
            iam.PolicyStatement(actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                         "logs:DescribeLogStreams"], resources=[self.training_logs_arn()]),
            iam.PolicyStatement(actions=["cloudwatch:PutMetricData"], resources=["*"], conditions={
                "StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}}),
            iam.PolicyStatement(actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                                         "ecr:GetDownloadUrlForLayer"],
                                resources=[self.format_arn(
                                    service="ecr", account=self.image_account, resource="repository",
                                    resource_name=example.SKLEARN_REPOSITORY)]),
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
        ]
        for statement in statements:
            role.add_to_policy(statement)
        _acknowledge(role, f"AwsSolutions-IAM5[Resource::<{self._id(self.bucket)}.Arn>/{example.PREFIX}*]",
                     "The example's source tarball: SageMaker downloads the sourcedir from this prefix.")
        _acknowledge(role, f"AwsSolutions-IAM5[Resource::<{self._id(self.bucket)}.Arn>/{DATA_PREFIX}*]",
                     "Training data you upload for jobs run with this role; keys are yours to choose.")
        _acknowledge(role, f"AwsSolutions-IAM5[Resource::<{self._id(self.bucket)}.Arn>/"
                           f"{example.OUTPUT_PREFIX}*]",
                     "SageMaker writes each job's model under <S3OutputPath>/<job name>/, named per trial.")
        _acknowledge(role, f"AwsSolutions-IAM5[Resource::{self._arn_finding(self.training_logs_arn())}]",
                     "SageMaker writes one log stream per job instance into /aws/sagemaker/TrainingJobs.")
        _acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
                     "cloudwatch:PutMetricData and ecr:GetAuthorizationToken support no resource-level "
                     "permissions; PutMetricData is held to the /aws/sagemaker/TrainingJobs namespace.")
        return role

    def training_logs_arn(self) -> str:
        return self.format_arn(service="logs", resource="log-group", resource_name=f"{TRAINING_LOG_GROUP}:*",
                               arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)

    # -- the tuning loop ------------------------------------------------------------------------
    def loop_function(self, name: str, code: lambda_.Code, event_budget: int) -> lambda_.Function:
        """One Lambda of the loop, its log group, and a role that may write only there."""
        module, memory, timeout = FUNCTIONS[name]
        log_group = logs.LogGroup(self, f"{name}Logs", retention=LOG_RETENTION,
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        role = iam.Role(self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"byohpo {name} Lambda")
        log_group.grant_write(role)
        function = lambda_.Function(
            self, name, runtime=bundling.RUNTIME, architecture=bundling.ARCHITECTURE, code=code,
            handler=f"byohpo.handlers.{module}.handler", memory_size=memory,
            timeout=cdk.Duration.seconds(timeout), role=role, log_group=log_group,
            description=f"byohpo {name}: see byohpo.handlers.{module}",
            environment={"BYOHPO_TABLE": self.table.table_name, "BYOHPO_BUCKET": self.bucket.bucket_name,
                         "BYOHPO_RESULTS_PREFIX": RESULTS_PREFIX, "BYOHPO_EVENT_BUDGET": str(event_budget)})
        _acknowledge(function, "AwsSolutions-L1",
                     f"{bundling.RUNTIME.name} is the newest Python the bundled asset is tested on (numpy "
                     "and scipy wheels are chosen for it); raising it is one constant in infra/bundling.py.")
        return function

    def grant_loop_permissions(self) -> None:
        start, evaluate, finalize = (self.functions[n] for n in ("Start", "Evaluate", "Finalize"))
        for function in self.functions.values():
            self.table.grant_read_write_data(function)
            _acknowledge(function.role, f"AwsSolutions-IAM5[Resource::<{self._id(self.table)}.Arn>/index/*]",
                         "CDK's table grant covers the table's indexes: the store lists runs from its "
                         "sparse 'runs' index.")
        training_jobs = self.format_arn(service="sagemaker", resource="training-job", resource_name="*")
        tuning_jobs = self.format_arn(service="sagemaker", resource="hyper-parameter-tuning-job",
                                      resource_name="*")
        executions = self.format_arn(service="states", resource="execution",
                                     resource_name=f"{self.state_machine_name}:*",
                                     arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        grants: dict[lambda_.Function, list[iam.PolicyStatement]] = {
            # Start: a large request from requests/; the holder execution's status; the jobs an
            # interrupted execution left; warm-start parents that are SageMaker tuning jobs.
            start: [iam.PolicyStatement(actions=["s3:GetObject"],
                                        resources=[self.bucket.arn_for_objects(f"{REQUESTS_PREFIX}*")]),
                    iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions]),
                    iam.PolicyStatement(actions=["sagemaker:DescribeTrainingJob"], resources=[training_jobs]),
                    iam.PolicyStatement(actions=["sagemaker:DescribeHyperParameterTuningJob",
                                                 "sagemaker:ListTrainingJobsForHyperParameterTuningJob"],
                                        resources=[tuning_jobs])],
            # Evaluate: each job's outcome, and metrics from its logs when SageMaker has none.
            evaluate: [iam.PolicyStatement(actions=["sagemaker:DescribeTrainingJob"],
                                           resources=[training_jobs])],
            # Finalize: stop jobs still running when a run ends; write its leaderboard and summary.
            finalize: [iam.PolicyStatement(actions=["sagemaker:StopTrainingJob"], resources=[training_jobs]),
                       iam.PolicyStatement(actions=["s3:PutObject"],
                                           resources=[self.bucket.arn_for_objects(f"{RESULTS_PREFIX}*")])],
        }
        read_logs = iam.PolicyStatement(actions=["logs:DescribeLogStreams", "logs:GetLogEvents"],
                                        resources=[self.training_logs_arn()])
        for function in (start, evaluate):
            grants[function].append(read_logs)
        reasons = {
            training_jobs: TRAINING_JOBS_REASON,
            tuning_jobs: "Warm-start parents are any tuning job the request names.",
            executions: "Execution names are chosen per run; these are this state machine's executions only.",
            self.training_logs_arn(): "SageMaker writes one log stream per training job instance.",
            self.bucket.arn_for_objects(f"{REQUESTS_PREFIX}*"): "Requests are stored per run in requests/.",
            self.bucket.arn_for_objects(f"{RESULTS_PREFIX}*"): "Results are written per run to runs/<name>/.",
        }
        for function, statements in grants.items():
            for statement in statements:
                function.add_to_role_policy(statement)
                for resource in statement.resources:
                    _acknowledge(function.role, f"AwsSolutions-IAM5[Resource::{self._arn_finding(resource)}]",
                                 reasons[resource])

    def tuning_state_machine(self, passable_roles: Sequence[str]) -> sfn.StateMachine:
        """The loop of the module docstring, as ``state_machine/`` builds it, logged in full. The
        Lambda ARNs are DefinitionSubstitutions: the definition stays one plain string."""
        definition = build_definition(
            start_fn="${StartFunctionArn}", propose_fn="${ProposeFunctionArn}",
            evaluate_fn="${EvaluateFunctionArn}", finalize_fn="${FinalizeFunctionArn}")
        log_group = logs.LogGroup(self, "TuningLogs", retention=LOG_RETENTION,
                                  log_group_name=f"/aws/vendedlogs/states/{self.state_machine_name}",
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        machine = sfn.StateMachine(
            self, "Tuning", state_machine_name=self.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definition, indent=1)),
            definition_substitutions={f"{n}FunctionArn": f.function_arn for n, f in self.functions.items()},
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            comment="byohpo: propose, train, evaluate, until a stopping rule holds")
        machine.add_to_role_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[f.function_arn for f in self.functions.values()]))
        training_jobs = self.format_arn(service="sagemaker", resource="training-job", resource_name="*")
        machine.add_to_role_policy(iam.PolicyStatement(actions=list(TRAINING_ACTIONS),
                                                       resources=[training_jobs]))
        machine.add_to_role_policy(iam.PolicyStatement(
            actions=["iam:PassRole"], resources=list(passable_roles), conditions=PASS_ROLE_CONDITION))
        machine.add_to_role_policy(iam.PolicyStatement(
            actions=list(EVENTS_ACTIONS), resources=[self.format_arn(service="events", resource="rule",
                                                                     resource_name=EVENTS_RULE)]))
        # Continue as new, and the Distributed Map's child executions: ARNs built from the fixed name,
        # as the state machine cannot name its own ARN in its policy (a dependency cycle).
        machine.add_to_role_policy(iam.PolicyStatement(actions=list(SELF_ACTIONS), resources=[
            self.format_arn(service="states", resource="stateMachine", resource_name=self.state_machine_name,
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)]))
        children = self.format_arn(service="states", resource="execution",
                                   resource_name=f"{self.state_machine_name}/{MAP_LABEL}:*",
                                   arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        machine.add_to_role_policy(iam.PolicyStatement(actions=list(CHILD_EXECUTION_ACTIONS),
                                                       resources=[children]))
        _acknowledge(machine.role, f"AwsSolutions-IAM5[Resource::{self._arn_finding(children)}]",
                     "The Distributed Map's child executions, named by Step Functions as they start.")
        _acknowledge(machine.role, f"AwsSolutions-IAM5[Resource::{self._arn_finding(training_jobs)}]",
                     TRAINING_JOBS_REASON)
        _acknowledge(machine.role, "AwsSolutions-IAM5[Resource::*]",
                     "CloudWatch Logs delivery actions (logs:CreateLogDelivery, ...), which Step Functions "
                     "logging needs, support no resource-level permissions (CDK adds them).")
        _acknowledge(machine, "AwsSolutions-SF2",
                     "X-Ray would trace only the Lambda calls; a run's timing is in the execution history "
                     "and its trials, and X-Ray's write actions need Resource '*'.")
        return machine

    # -- the first run and schedules ------------------------------------------------------------
    def digits_example(self) -> str:
        """Upload ``train.py`` as the sourcedir tarball; the execution input that runs it."""
        s3deploy.BucketDeployment(
            self, "DigitsExample", sources=[s3deploy.Source.asset(str(example.sourcedir_tarball()))],
            destination_bucket=self.bucket, destination_key_prefix=example.PREFIX)
        self.acknowledge_bucket_deployment()
        return self.to_json_string(example.execution_input(
            bucket_name=self.bucket.bucket_name, role_arn=self.sagemaker_role.role_arn,
            image=self.training_image))

    def scheduled_run(self, expression: str, request_file: Path) -> scheduler.Schedule:
        """Start ``request_file`` on ``expression``. The request is checked now (a bad one fails the
        synth, naming the field) and stored under requests/schedules/, so its size does not matter."""
        raw = json.loads(Path(request_file).read_text(encoding="utf-8"))
        request = parse_request(raw)
        key = f"{REQUESTS_PREFIX}schedules/{request.name}.json"
        s3deploy.BucketDeployment(self, "ScheduledRequest", sources=[s3deploy.Source.json_data(
            key.rsplit("/", 1)[1], raw)], destination_bucket=self.bucket,
            destination_key_prefix=key.rsplit("/", 1)[0] + "/")
        target = scheduler_targets.StepFunctionsStartExecution(self.state_machine, input=(
            scheduler.ScheduleTargetInput.from_object({
                "RequestS3Uri": self.bucket.s3_url_for_object(key),
                # Each firing tunes under its own run name; see the Start handler.
                "RunNameSuffix": scheduler.ContextAttribute.scheduled_time})))
        return scheduler.Schedule(self, "Schedule", target=target,
                                  schedule=scheduler.ScheduleExpression.expression(expression),
                                  description=f"byohpo: start {request.name} ({expression})")

    def acknowledge_bucket_deployment(self) -> None:
        """CDK's BucketDeployment handler (one per stack, shared by every deployment): its runtime,
        managed policy and grants are aws-cdk-lib's, and it runs only while CloudFormation deploys."""
        handler = next(c for c in self.node.children if c.node.id.startswith("Custom::CDKBucketDeployment"))
        copies = "copies the deployment's files from CDK's asset bucket"
        for rule, reason in (
            ("AwsSolutions-L1", "aws-cdk-lib chooses and updates its BucketDeployment handler's runtime."),
            ("AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
             "AWSLambdaBasicExecutionRole]", "CDK's deployment handler writes its own CloudWatch logs."),
            ("AwsSolutions-IAM5[Action::s3:GetObject*]", f"CDK's grant: the handler {copies}."),
            ("AwsSolutions-IAM5[Action::s3:GetBucket*]", f"CDK's grant: the handler {copies}."),
            ("AwsSolutions-IAM5[Action::s3:List*]", f"CDK's grant: the handler {copies}, lists to prune."),
            ("AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-"
             "<AWS::Region>/*]", "CDK's bootstrap asset bucket, where the deployment's zip is uploaded."),
            ("AwsSolutions-IAM5[Action::s3:DeleteObject*]",
             "CDK's grant: the handler removes files no longer in the deployment (prune)."),
            ("AwsSolutions-IAM5[Action::s3:Abort*]", "CDK's grant: the handler aborts failed uploads."),
            (f"AwsSolutions-IAM5[Resource::<{self._id(self.bucket)}.Arn>/*]",
             "CDK's grant covers the destination bucket; the handler writes only below each deployment's "
             "prefix (examples/digits/, requests/schedules/)."),
        ):
            _acknowledge(handler, rule, reason)

    # -- helpers --------------------------------------------------------------------------------
    def _id(self, construct: Construct) -> str:
        """The logical id of a construct's CloudFormation resource, as cdk-nag names it in findings."""
        return self.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]

    def _arn_finding(self, arn: str) -> str:
        """An ARN as cdk-nag spells it in an IAM5 finding: pseudo parameters as ``<AWS::Region>``."""
        resolved = self.resolve(arn)
        if isinstance(resolved, str):
            return resolved
        parts = resolved["Fn::Join"][1]
        return "".join(p if isinstance(p, str) else _nag_reference(p) for p in parts)


_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER,
                    "B": dynamodb.AttributeType.BINARY}


def _nag_reference(token: dict[str, Any]) -> str:
    if "Ref" in token:
        return f"<{token['Ref']}>"
    if "Fn::GetAtt" in token:
        return f"<{'.'.join(token['Fn::GetAtt'])}>"
    raise ValueError(f"unexpected token in an ARN: {token}")


def _acknowledge(construct: Construct, rule: str, reason: str) -> None:
    """Acknowledge cdk-nag's ``rule`` on ``construct`` and below, and record it on the stack."""
    stack = cdk.Stack.of(construct)
    if not stack.settings.acknowledge_findings:  # type: ignore[attr-defined]
        return
    stack.acknowledgments.append((construct.node.path, rule, reason))  # type: ignore[attr-defined]
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def _name(base: str, suffix: str, limit: int) -> str:
    """``base + suffix`` within ``limit`` characters (a hash keeps long names distinct)."""
    name = base + suffix
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return base[:limit - len(suffix) - 9] + "-" + digest + suffix
