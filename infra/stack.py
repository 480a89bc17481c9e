"""The byohpo stack: a run's store, its bucket, the four Lambdas of the tuning loop, and the state
machine that drives them through SageMaker training jobs::

    Start ─► Propose ─► Map: CreateTrainingJob.sync per trial ─► Evaluate ─┬ next: Propose again
                         (early stopping: ‖ Watch every poll)             ├ wait: Evaluate again
                                                                           ├ finish: Finalize
                                                                           └ continue as a new execution

Every permission names its actions and resources. Each Lambda is granted exactly the calls its handler
makes (:data:`LAMBDA_CALLS`; ``tests/test_lambda_permissions.py`` records them under moto and fails on
any difference). The resources that cannot be named at deploy time (training jobs, executions, object
keys) are wildcards below a fixed prefix, each acknowledged for cdk-nag on the one policy that holds it,
with its reason; a wildcard added anywhere else is an unacknowledged finding and fails the synth. The
stack's training jobs carry the tag ``byohpo:stack`` (:data:`STACK_TAG`) = the stack's name: only
jobs that carry it may be created, stopped or tagged by this stack.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
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
    TUNING_ACTIONS,
    TUNING_EVENTS_RULE,
    WATCH_SECONDS,
    build_definition,
)
from state_machine.definition import MAX_WATCH_SECONDS, MIN_WATCH_SECONDS

#: Prefixes of the results bucket, and who uses them.
REQUESTS_PREFIX = "requests/"  # execution inputs too large to pass inline; read by Start
RESULTS_PREFIX = "runs/"  # leaderboard.csv and summary.json of each run; written by Finalize
DATA_PREFIX = "data/"  # training data of your own; read by the stack's SageMaker role
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
TRAINING_JOBS_REASON = "Training job names are made per trial at run time: no job can be named here."
TUNING_JOBS_REASON = ("Tuning job names are made per run at run time (<run>-<token>), and warm-start parents "
                      "are any tuning job a request names: no job can be named here.")

#: The tag on every training job the state machine creates, its value the stack's name, which the
#: Lambdas read from :data:`STACK_ENV`. The state machine may create only jobs carrying it, and it and
#: Finalize may stop or tag only jobs carrying it: one stack cannot stop or tag another's jobs.
STACK_TAG = "byohpo:stack"
STACK_ENV = "BYOHPO_STACK"
#: On Start: the roles (comma-separated ARNs) the state machine may pass to SageMaker, so that Start
#: can refuse a request whose RoleArn no training job could use.
PASSABLE_ROLES_ENV = "BYOHPO_PASSABLE_ROLES"
ROLE_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]+")

#: name -> (handler module, memory MB, timeout s). Propose gets the most CPU (Lambda's CPU share grows
#: with memory): Bayesian optimization and inspyred's replay compute there.
FUNCTIONS: dict[str, tuple[str, int, int]] = {
    "Start": ("start", 512, 120),
    "Propose": ("propose", 1024, 300),
    "Evaluate": ("evaluate", 512, 300),
    "Finalize": ("finalize", 512, 120),
    # early stopping: one look at a watched training job, every poll of its Map iteration
    "Watch": ("watch", 512, 120),
    # SageMaker's own tuner (amt-*): the ended tuning job's training jobs become the run's trials.
    "Import": ("import_tuning", 512, 300),
}

#: Every AWS call each Lambda's handler makes, as IAM actions by the resource they act on (see
#: :meth:`ByohpoStack.loop_resources`): all each Lambda may do besides writing its own log group.
#: The store's calls are GetItem, Query, PutItem, UpdateItem and TransactWriteItems, whose Put and
#: Update items are authorized as PutItem and UpdateItem ("Permissions for Put, Update, Delete, and Get
#: actions are governed by the permissions used for the underlying PutItem, UpdateItem, DeleteItem, and
#: GetItem operations", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
#: transaction-apis-iam.html). ``tests/test_lambda_permissions.py`` records every call the handlers
#: make under moto: a call missing here, or an action here no handler calls, fails it.
LAMBDA_CALLS: dict[str, dict[str, tuple[str, ...]]] = {
    "Start": {
        # read the run, create it, claim it; a warm start's imported trials go in one transaction
        "table": ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"),
        "requests": ("s3:GetObject",),  # {"RequestS3Uri": ...}
        "executions": ("states:DescribeExecution",),  # has the execution holding the run ended?
        "training_jobs": ("sagemaker:DescribeTrainingJob",),  # the jobs an interrupted execution left
        "training_logs": ("logs:DescribeLogStreams", "logs:GetLogEvents"),  # ... and their metrics
        "algorithms": ("sagemaker:DescribeAlgorithm",),  # an AlgorithmName's metric regexes, for those logs
        "tuning_jobs": ("sagemaker:DescribeHyperParameterTuningJob",  # warm-start parents run by AMT
                        "sagemaker:ListTrainingJobsForHyperParameterTuningJob"),
    },
    "Propose": {
        # the run and its trials; a generation's trials (Put) and the version bump (Update), in
        # transactions
        "table": ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"),
    },
    "Evaluate": {
        "table": ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"),  # record each outcome
        "training_jobs": ("sagemaker:DescribeTrainingJob",),  # every job: its status, metrics, times
        "training_logs": ("logs:DescribeLogStreams", "logs:GetLogEvents"),  # metrics the job did not report
        "algorithms": ("sagemaker:DescribeAlgorithm",),  # an AlgorithmName's metric regexes, for those logs
    },
    "Finalize": {
        "table": ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"),  # end the run and its trials
        "own_training_jobs": ("sagemaker:StopTrainingJob",),  # jobs still running when the run ends
        "results": ("s3:PutObject",),  # runs/<name>/leaderboard.csv and summary.json
    },
    "Watch": {
        # the run's request, every trial's learning curve, this trial's curve and log position
        "table": ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"),
        "training_jobs": ("sagemaker:DescribeTrainingJob",),  # is the job running?
        "own_training_jobs": ("sagemaker:StopTrainingJob",),  # the rule stops it (this stack's jobs only)
        "training_logs": ("logs:DescribeLogStreams", "logs:GetLogEvents"),  # its new log lines
        "algorithms": ("sagemaker:DescribeAlgorithm",),  # an AlgorithmName's metric regexes, for those lines
    },
    "Import": {
        # the run and its trials; the imported trials (Put) and the version bump (Update)
        "table": ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"),
        # the run's tuning job: its status and ending, and every training job it launched
        "run_tuning_jobs": ("sagemaker:DescribeHyperParameterTuningJob",
                            "sagemaker:ListTrainingJobsForHyperParameterTuningJob"),
        "training_jobs": ("sagemaker:DescribeTrainingJob",),  # each job's metrics, times, hyperparameters
    },
}

#: The actions Step Functions' CloudWatch Logs delivery needs, none of which takes a resource ARN
#: (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html); CDK grants the same.
LOG_DELIVERY_ACTIONS = ("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                        "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups")


@dataclass(frozen=True)
class StackSettings:
    """What ``cdk -c key=value`` may change (see ``infra/app.py``).

    Args:
        sagemaker_role_arns: more roles the state machine may pass to SageMaker, besides the stack's:
            full IAM role ARNs, never a wildcard.
        schedule: an EventBridge Scheduler expression (``rate(1 day)``, ``cron(0 6 * * ? *)``) that
            starts ``schedule_request``.
        schedule_request: the tuning request file the schedule starts.
        event_budget: history events one execution may use before it continues as a new one.
        watch_seconds: early stopping (``TrainingJobEarlyStoppingType: "Auto"``): the wait before each
            look at a training job's log, until it grows with the job's age (``byohpo.aws.watch``).
            Shorter stops a bad job sooner and costs more Lambda invocations and state transitions.
        log_execution_data: log every state's input and output (each trial's training job parameters,
            ``Environment`` included) to the state machine's log group, not only the events.
        acknowledge_findings: False leaves every cdk-nag finding unacknowledged, to review them all.
    """

    sagemaker_role_arns: tuple[str, ...] = ()
    schedule: str | None = None
    schedule_request: Path | None = None
    event_budget: int = DEFAULT_EVENT_BUDGET
    watch_seconds: int = WATCH_SECONDS
    log_execution_data: bool = False
    acknowledge_findings: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.watch_seconds, bool) or not isinstance(self.watch_seconds, int) \
                or not MIN_WATCH_SECONDS <= self.watch_seconds <= MAX_WATCH_SECONDS:
            raise ValueError(f"early_stopping_poll_seconds: {self.watch_seconds!r} is not a whole number of "
                             f"seconds from {MIN_WATCH_SECONDS} to {MAX_WATCH_SECONDS}")
        if bool(self.schedule) != bool(self.schedule_request):
            raise ValueError("schedule and schedule_request go together: "
                             '-c schedule="rate(1 day)" -c schedule_request=examples/digits/ga.json')
        for i, arn in enumerate(self.sagemaker_role_arns):
            field = f"sagemaker_role_arns[{i}]"
            if "*" in arn or "?" in arn:
                raise ValueError(f"{field}: {arn!r} is a wildcard: name each role the state machine may "
                                 "pass to SageMaker by its full ARN (arn:aws:iam::<account>:role/<name>); "
                                 "a wildcard would let whoever starts an execution give a job any role")
            if not ROLE_ARN.fullmatch(arn):
                raise ValueError(f"{field}: {arn!r} is not an IAM role ARN "
                                 "(arn:aws:iam::<account>:role/<name>)")


@dataclass(frozen=True)
class Target:
    """What a statement acts on: its resources, the condition on them, and why a resource that is a
    wildcard below a prefix cannot be named (the reason its cdk-nag finding is acknowledged with)."""

    arns: tuple[str, ...]
    why: str = ""
    conditions: Mapping[str, Any] | None = None


class ByohpoStack(cdk.Stack):
    """The whole deployment, built in the order a run uses it (see the module docstring)."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings | None = None,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = settings or StackSettings()
        self.settings = settings
        #: (construct path, rule, reason) of every cdk-nag finding acknowledged, in order: each on the
        #: one CloudFormation resource it is found on.
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
        self.functions["Start"].add_environment(PASSABLE_ROLES_ENV, ",".join(passable_roles))
        self.grant_loop_permissions()
        self.state_machine = self.tuning_state_machine(passable_roles)

        # The first run: the digits example uploaded, its execution input ready to paste.
        self.example_input = self.digits_example()
        if settings.schedule and settings.schedule_request:
            self.schedule = self.scheduled_run(settings.schedule, settings.schedule_request)
        self.acknowledge_bucket_deployment()

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
        _acknowledge(bucket.node.default_child, "AwsSolutions-S1",
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
        bucket = self.bucket
        self.allow(role, ["s3:GetObject"], Target(
            (bucket.arn_for_objects(f"{example.PREFIX}*"),),
            "The example's source tarball: SageMaker downloads the sourcedir from this prefix."))
        self.allow(role, ["s3:GetObject"], Target(
            (bucket.arn_for_objects(f"{DATA_PREFIX}*"),),
            "Training data you upload for jobs run with this role; keys are yours to choose."))
        self.allow(role, ["s3:ListBucket"], Target((bucket.bucket_arn,)))
        self.allow(role, ["s3:PutObject", "s3:AbortMultipartUpload"], Target(
            (bucket.arn_for_objects(f"{example.OUTPUT_PREFIX}*"),),
            "SageMaker writes each job's model under <S3OutputPath>/<job name>/, named per trial."))
        self.allow(role, ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                          "logs:DescribeLogStreams"], self.training_logs())
        self.allow(role, ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                          "ecr:GetDownloadUrlForLayer"],
                   Target((self.format_arn(service="ecr", account=self.image_account, resource="repository",
                                           resource_name=example.SKLEARN_REPOSITORY),)))
        # Two actions that take no resource ARN, in a policy of their own: Resource "*" is acknowledged
        # on that policy alone, so a "*" added to any other statement still fails the synth.
        unscoped = iam.Policy(self, "SageMakerActionsWithoutResources", roles=[role], statements=[
            iam.PolicyStatement(actions=["cloudwatch:PutMetricData"], resources=["*"], conditions={
                "StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}}),
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"])])
        _acknowledge(unscoped.node.default_child, "AwsSolutions-IAM5[Resource::*]",
                     "cloudwatch:PutMetricData and ecr:GetAuthorizationToken support no resource-level "
                     "permissions; PutMetricData is held to the /aws/sagemaker/TrainingJobs namespace.")
        return role

    def training_logs(self) -> Target:
        return Target((self.format_arn(service="logs", resource="log-group",
                                       resource_name=f"{TRAINING_LOG_GROUP}:*",
                                       arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME),),
                      "SageMaker writes one log stream per training job instance into "
                      "/aws/sagemaker/TrainingJobs.")

    def training_jobs(self, conditions: Mapping[str, Any] | None = None) -> Target:
        return Target((self.format_arn(service="sagemaker", resource="training-job", resource_name="*"),),
                      TRAINING_JOBS_REASON, conditions)

    def own_training_jobs(self) -> Target:
        """Training jobs this stack created: the tag is on the job (``aws:ResourceTag``)."""
        return self.training_jobs({"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": self.stack_name}})

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
                         "BYOHPO_RESULTS_PREFIX": RESULTS_PREFIX, "BYOHPO_EVENT_BUDGET": str(event_budget),
                         STACK_ENV: self.stack_name})
        _acknowledge(function.node.default_child, "AwsSolutions-L1",
                     f"{bundling.RUNTIME.name} is the newest Python the bundled asset is tested on (numpy "
                     "and scipy wheels are chosen for it); raising it is one constant in infra/bundling.py.")
        return function

    def loop_resources(self) -> dict[str, Target]:
        """What the Lambdas' calls act on, by the names :data:`LAMBDA_CALLS` uses."""
        bucket = self.bucket
        return {
            "table": Target((self.table.table_arn,)),  # the table only: no handler reads the runs index
            "requests": Target((bucket.arn_for_objects(f"{REQUESTS_PREFIX}*"),),
                               "Requests are stored per run in requests/."),
            "results": Target((bucket.arn_for_objects(f"{RESULTS_PREFIX}*"),),
                              "Results are written per run to runs/<name>/."),
            "executions": Target((self.format_arn(service="states", resource="execution",
                                                  resource_name=f"{self.state_machine_name}:*",
                                                  arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME),),
                                 "Execution names are chosen per run; these are this state machine's "
                                 "executions only."),
            "training_jobs": self.training_jobs(),
            "own_training_jobs": self.own_training_jobs(),
            "tuning_jobs": Target((self.format_arn(service="sagemaker", resource="hyper-parameter-tuning-job",
                                                   resource_name="*"),),
                                  "Warm-start parents are any tuning job the request names."),
            "run_tuning_jobs": self.tuning_jobs(),
            "training_logs": self.training_logs(),
            # Marketplace algorithms belong to their seller's account, so the account is a wildcard.
            "algorithms": Target((self.format_arn(service="sagemaker", resource="algorithm", account="*",
                                                  resource_name="*"),),
                                 "A request may name any algorithm (its own account's or a Marketplace "
                                 "seller's) in AlgorithmSpecification.AlgorithmName."),
        }

    def grant_loop_permissions(self) -> None:
        resources = self.loop_resources()
        for name, calls in LAMBDA_CALLS.items():
            for kind, actions in calls.items():
                self.allow(self.functions[name].role, actions, resources[kind])  # type: ignore[arg-type]

    def tuning_state_machine(self, passable_roles: Sequence[str]) -> sfn.StateMachine:
        """The loop of the module docstring, as ``state_machine/`` builds it. The Lambda ARNs are
        DefinitionSubstitutions: the definition stays one plain string."""
        definition = build_definition(
            start_fn="${StartFunctionArn}", propose_fn="${ProposeFunctionArn}",
            evaluate_fn="${EvaluateFunctionArn}", finalize_fn="${FinalizeFunctionArn}",
            watch_fn="${WatchFunctionArn}", watch_seconds=self.settings.watch_seconds,
            import_fn="${ImportFunctionArn}")
        machine = sfn.StateMachine(
            self, "Tuning", state_machine_name=self.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definition, indent=1)),
            definition_substitutions={f"{n}FunctionArn": f.function_arn for n, f in self.functions.items()},
            comment="byohpo: propose, train, evaluate, until a stopping rule holds")
        role = machine.role
        self.allow(role, ["lambda:InvokeFunction"],
                   Target(tuple(f.function_arn for f in self.functions.values())))
        self.grant_training(role)
        self.grant_tuning(role)
        self.allow(role, ["iam:PassRole"], Target(tuple(passable_roles), conditions=PASS_ROLE_CONDITION))
        self.allow(role, EVENTS_ACTIONS, Target((self.format_arn(service="events", resource="rule",
                                                                 resource_name=EVENTS_RULE),)))
        # Continue as new, and the Distributed Map's child executions: ARNs built from the fixed name,
        # as the state machine cannot name its own ARN in its policy (a dependency cycle).
        self.allow(role, SELF_ACTIONS, Target((self.format_arn(
            service="states", resource="stateMachine", resource_name=self.state_machine_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME),)))
        self.allow(role, CHILD_EXECUTION_ACTIONS, Target((self.format_arn(
            service="states", resource="execution", resource_name=f"{self.state_machine_name}/{MAP_LABEL}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME),),
            "The Distributed Map's child executions, named by Step Functions as they start."))
        self.log_state_machine(machine)
        _acknowledge(machine.node.default_child, "AwsSolutions-SF2",
                     "X-Ray would trace only the Lambda calls; a run's timing is in the execution history "
                     "and its trials, and X-Ray's write actions need Resource '*'.")
        return machine

    def grant_training(self, role: iam.IRole) -> None:
        """The ``createTrainingJob.sync`` integration's calls, scoped to this stack's jobs by the
        :data:`STACK_TAG` tag.

        The Service Authorization Reference for SageMaker
        (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html)
        lists ``aws:RequestTag/${TagKey}`` for CreateTrainingJob and AddTags, ``aws:ResourceTag/${TagKey}``
        on the ``training-job`` resource (StopTrainingJob, AddTags, DescribeTrainingJob, ListTags), and
        ``sagemaker:TaggingAction`` for AddTags ("the name of the API operation that creates a taggable
        resource"). A CreateTrainingJob with ``Tags`` is also authorized as ``sagemaker:AddTags`` with
        ``sagemaker:TaggingAction = CreateTrainingJob`` (AWS's own AWSBatchServiceRolePolicyForSageMaker
        grants it so); Step Functions' ``.sync`` adds its own tag ``MANAGED_BY_AWS`` to the job it
        creates (aws/aws-cdk#26012, #32294), which needs that AddTags. Its documented ``.sync`` policy
        (https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html) is Create, Describe and
        StopTrainingJob, ListTags, PassRole and the events rule. So:

        * CreateTrainingJob only with ``byohpo:stack`` = this stack in the request;
        * AddTags on creation (``TaggingAction``), which the create above already holds to this stack;
        * StopTrainingJob and later AddTags only on jobs that carry ``byohpo:stack`` = this stack;
        * DescribeTrainingJob and ListTags on any job: a job that does not exist must read as not found
          (ValidationException), not AccessDenied, and reading another stack's job changes nothing.
        """
        own_request = {"StringEquals": {f"aws:RequestTag/{STACK_TAG}": self.stack_name}}
        on_create = {"StringEquals": {"sagemaker:TaggingAction": "CreateTrainingJob"}}
        scoped = {
            "sagemaker:CreateTrainingJob": self.training_jobs(own_request),
            "sagemaker:AddTags": self.training_jobs(on_create),
            "sagemaker:StopTrainingJob": self.own_training_jobs(),
            "sagemaker:DescribeTrainingJob": self.training_jobs(),
            "sagemaker:ListTags": self.training_jobs(),
        }
        unknown = set(TRAINING_ACTIONS) - set(scoped)
        if unknown:
            raise ValueError(f"state_machine.TRAINING_ACTIONS has {sorted(unknown)}: decide in "
                             "infra/stack.py which of the stack's training jobs each may act on")
        self.allow(role, ["sagemaker:CreateTrainingJob"], scoped["sagemaker:CreateTrainingJob"])
        self.allow(role, ["sagemaker:AddTags"], scoped["sagemaker:AddTags"])
        self.allow(role, ["sagemaker:StopTrainingJob", "sagemaker:AddTags"], self.own_training_jobs())
        self.allow(role, ["sagemaker:DescribeTrainingJob", "sagemaker:ListTags"], self.training_jobs())

    # -- SageMaker's own tuner (amt-*) -----------------------------------------------------------
    def tuning_jobs(self, conditions: Mapping[str, Any] | None = None) -> Target:
        return Target((self.format_arn(service="sagemaker", resource="hyper-parameter-tuning-job",
                                       resource_name="*"),), TUNING_JOBS_REASON, conditions)

    def grant_tuning(self, role: iam.IRole) -> None:
        """The ``createHyperParameterTuningJob.sync`` integration's calls (:data:`TUNING_ACTIONS`), scoped
        to this stack's tuning jobs by the :data:`STACK_TAG` tag as training jobs are
        (:meth:`grant_training`): the Service Authorization Reference lists ``aws:RequestTag`` for
        CreateHyperParameterTuningJob and AddTags, ``sagemaker:TaggingAction`` for AddTags, and
        ``aws:ResourceTag`` on the ``hyper-parameter-tuning-job`` resource. So:

        * CreateHyperParameterTuningJob only with ``byohpo:stack`` = this stack in the request, and
          AddTags on creation (``TaggingAction``), which that create holds to this stack;
        * StopHyperParameterTuningJob and later AddTags only on tuning jobs that carry the tag;
        * Describe, ListTrainingJobsForHyperParameterTuningJob and ListTags on any: a job that does not
          exist must read as not found, and reading changes nothing;
        * the managed rule through which ``.sync`` learns that a tuning job ended.

        The training jobs SageMaker's tuner launches are its own calls, not the state machine's; they
        run with the definition's RoleArn, which the state machine passes (the stack's iam:PassRole)."""
        own_request = {"StringEquals": {f"aws:RequestTag/{STACK_TAG}": self.stack_name}}
        on_create = {"StringEquals": {"sagemaker:TaggingAction": "CreateHyperParameterTuningJob"}}
        own = {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": self.stack_name}}
        reads = ["sagemaker:DescribeHyperParameterTuningJob",
                 "sagemaker:ListTrainingJobsForHyperParameterTuningJob", "sagemaker:ListTags"]
        granted = {"sagemaker:CreateHyperParameterTuningJob", "sagemaker:AddTags",
                   "sagemaker:StopHyperParameterTuningJob", *reads}
        if granted != set(TUNING_ACTIONS):
            raise ValueError(f"state_machine.TUNING_ACTIONS is {sorted(TUNING_ACTIONS)}: decide in "
                             f"infra/stack.py which of the stack's tuning jobs each may act on")
        self.allow(role, ["sagemaker:CreateHyperParameterTuningJob"], self.tuning_jobs(own_request))
        self.allow(role, ["sagemaker:AddTags"], self.tuning_jobs(on_create))
        self.allow(role, ["sagemaker:StopHyperParameterTuningJob", "sagemaker:AddTags"],
                   self.tuning_jobs(own))
        self.allow(role, reads, self.tuning_jobs())
        self.allow(role, EVENTS_ACTIONS, Target((self.format_arn(service="events", resource="rule",
                                                                 resource_name=TUNING_EVENTS_RULE),)))

    def log_state_machine(self, machine: sfn.StateMachine) -> None:
        """Every event of every execution to a log group; states' inputs and outputs (a trial's whole
        CreateTrainingJob request, its ``Environment`` included) only with ``-c log_execution_data=true``.
        CDK's ``logs=`` option would put the log delivery actions, which take no resource ARN, in the
        role's default policy; they get a policy of their own, so that its Resource "*" is acknowledged
        there alone."""
        log_group = logs.LogGroup(self, "TuningLogs", retention=LOG_RETENTION,
                                  log_group_name=f"/aws/vendedlogs/states/{self.state_machine_name}",
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        resource: sfn.CfnStateMachine = machine.node.default_child  # type: ignore[assignment]
        resource.logging_configuration = sfn.CfnStateMachine.LoggingConfigurationProperty(
            level="ALL", include_execution_data=self.settings.log_execution_data,
            destinations=[sfn.CfnStateMachine.LogDestinationProperty(
                cloud_watch_logs_log_group=sfn.CfnStateMachine.CloudWatchLogsLogGroupProperty(
                    log_group_arn=log_group.log_group_arn))])
        delivery = iam.Policy(self, "TuningLogDelivery", roles=[machine.role], statements=[
            iam.PolicyStatement(actions=list(LOG_DELIVERY_ACTIONS), resources=["*"])])
        resource.node.add_dependency(delivery)
        _acknowledge(delivery.node.default_child, "AwsSolutions-IAM5[Resource::*]",
                     "CloudWatch Logs delivery actions (logs:CreateLogDelivery, ...), which Step Functions "
                     "logging needs, support no resource-level permissions.")

    # -- the first run and schedules ------------------------------------------------------------
    def digits_example(self) -> str:
        """Upload ``train.py`` as the sourcedir tarball; the execution input that runs it."""
        s3deploy.BucketDeployment(
            self, "DigitsExample", sources=[s3deploy.Source.asset(str(example.sourcedir_tarball()))],
            destination_bucket=self.bucket, destination_key_prefix=example.PREFIX)
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
        role = handler.node.find_child("ServiceRole")
        policy = role.node.find_child("DefaultPolicy").node.default_child
        copies = "copies the deployment's files from CDK's asset bucket"
        _acknowledge(handler.node.default_child, "AwsSolutions-L1",
                     "aws-cdk-lib chooses and updates its BucketDeployment handler's runtime.")
        _acknowledge(role.node.default_child, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:"
                     "policy/service-role/AWSLambdaBasicExecutionRole]",
                     "CDK's deployment handler writes its own CloudWatch logs.")
        for rule, reason in (
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
            _acknowledge(policy, rule, reason)

    # -- helpers --------------------------------------------------------------------------------
    def allow(self, role: iam.IRole, actions: Sequence[str], target: Target) -> None:
        """Grant ``actions`` on ``target`` to ``role``, and acknowledge each wildcard resource's cdk-nag
        finding (with ``target.why``) on the role's default policy alone. Resource "*" is refused: an
        action without resource-level permissions goes in a policy of its own."""
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=list(actions), resources=list(target.arns),
            conditions=dict(target.conditions) if target.conditions else None))
        policy = role.node.find_child("DefaultPolicy").node.default_child
        for arn in target.arns:
            finding = self._arn_finding(arn)
            if finding == "*":
                raise ValueError(f"{', '.join(actions)} on Resource '*': name the resource, or give actions "
                                 "that take none a policy of their own")
            if "*" in finding:
                if not target.why:
                    raise ValueError(f"{finding}: say why this wildcard cannot be named (Target.why)")
                _acknowledge(policy, f"AwsSolutions-IAM5[Resource::{finding}]", target.why)

    def _id(self, construct: Construct) -> str:
        """The logical id of a construct's CloudFormation resource, as cdk-nag names it in findings."""
        return self.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]

    def _arn_finding(self, arn: str) -> str:
        """An ARN as cdk-nag spells it in an IAM5 finding: pseudo parameters as ``<AWS::Region>``."""
        resolved = self.resolve(arn)
        if isinstance(resolved, str):
            return resolved
        if "Fn::Join" not in resolved:
            return _nag_reference(resolved)
        parts = resolved["Fn::Join"][1]
        return "".join(p if isinstance(p, str) else _nag_reference(p) for p in parts)


_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER,
                    "B": dynamodb.AttributeType.BINARY}


def _nag_reference(token: dict[str, Any]) -> str:
    if "Ref" in token:
        return f"<{token['Ref']}>"
    if "Fn::GetAtt" in token:
        return f"<{'.'.join(token['Fn::GetAtt'])}>"
    # Not spelled as cdk-nag does: an acknowledgment of a wildcard ARN with such a part would miss its
    # finding, and the synth would fail on it, not pass.
    return f"<{json.dumps(token, sort_keys=True)}>"


def _acknowledge(resource: Any, rule: str, reason: str) -> None:
    """Acknowledge cdk-nag's ``rule`` on one CloudFormation resource, and record it on the stack.

    Only a ``CfnResource`` is accepted: an acknowledgment on a construct holds for everything below it,
    and one on the stack would hide a finding nobody reviewed.
    """
    if not isinstance(resource, cdk.CfnResource):
        raise TypeError(f"acknowledge {rule} on the CloudFormation resource it is found on, not on "
                        f"{type(resource).__name__} {getattr(resource, 'node', None) and resource.node.path}")
    stack = cdk.Stack.of(resource)
    if not stack.settings.acknowledge_findings:  # type: ignore[attr-defined]
        return
    entry = (resource.node.path, rule, reason)
    if any(e[:2] == entry[:2] for e in stack.acknowledgments):  # type: ignore[attr-defined]
        return  # one finding per policy and resource, however many statements name it
    stack.acknowledgments.append(entry)  # type: ignore[attr-defined]
    cdk.Validations.of(resource).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def _name(base: str, suffix: str, limit: int) -> str:
    """``base + suffix`` within ``limit`` characters (a hash keeps long names distinct)."""
    name = base + suffix
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return base[:limit - len(suffix) - 9] + "-" + digest + suffix
