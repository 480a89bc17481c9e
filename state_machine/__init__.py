"""The byohpo state machine: the Amazon States Language definition of the tuning loop, built in one
place for the CDK stack (``infra/``) and the tests, and what the stack must grant it.

``build_definition(...)`` returns a plain dict; ARNs go in as strings (CDK tokens, or ``${Name}``
placeholders for ``DefinitionSubstitutions``).

Permissions the definition needs (its role), besides ``lambda:InvokeFunction`` on the four Lambdas (and
the Watch Lambda, when built with ``watch_fn`` for early stopping):

* :data:`TRAINING_ACTIONS` on ``arn:aws:sagemaker:<region>:<account>:training-job/*``;
* ``iam:PassRole`` on the training jobs' role(s), with condition :data:`PASS_ROLE_CONDITION`;
* :data:`EVENTS_ACTIONS` on ``arn:aws:events:<region>:<account>:rule/`` + :data:`EVENTS_RULE` (the
  managed rule through which ``.sync`` learns that a job ended);
* :data:`SELF_ACTIONS` on the state machine itself — continue-as-new starts it, and so does a
  Distributed Map for each child execution. Build its ARN from the state machine's fixed name: a
  policy naming the machine's own ARN attribute is a dependency cycle. CDK grants this to a
  Distributed Map only when it builds the state itself, not for a definition given as a string;
* :data:`CHILD_EXECUTION_ACTIONS` on ``arn:aws:states:<region>:<account>:execution:<name>/`` +
  :data:`MAP_LABEL` + ``:*`` (the Distributed Map's child executions, ``map_mode="DISTRIBUTED"``);
* for SageMaker's own tuner (``amt-*`` runs, ``createHyperParameterTuningJob.sync``):
  :data:`TUNING_ACTIONS` on ``arn:aws:sagemaker:<region>:<account>:hyper-parameter-tuning-job/*``, the
  same ``iam:PassRole`` (SageMaker's tuner passes the role to the training jobs it creates), and
  :data:`EVENTS_ACTIONS` on the rule :data:`TUNING_EVENTS_RULE`.
"""

from __future__ import annotations

from state_machine.definition import (
    EVENT_COSTS,
    LAMBDA_ERRORS,
    MAP_LABEL,
    MAP_MODES,
    RUN_CLAIMED_ERROR,
    WATCH_SECONDS,
    build_definition,
)
from state_machine.training import (
    ALWAYS_PRESENT_TRAINING_FIELDS,
    CAPACITY_ERRORS,
    OPTIONAL_TRAINING_FIELDS,
    PER_TRIAL_FIELDS,
    SUPPORTED_TRAINING_FIELDS,
    THROTTLING_ERRORS,
    TRAINING_ROLE_PATH,
)

TRAINING_ACTIONS = ("sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob", "sagemaker:AddTags", "sagemaker:ListTags")
EVENTS_ACTIONS = ("events:PutTargets", "events:PutRule", "events:DescribeRule")
EVENTS_RULE = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
PASS_ROLE_CONDITION = {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
#: ``createHyperParameterTuningJob.sync``: the actions of Step Functions' policy for it ("IAM policies
#: for calling Amazon SageMaker AI", CreateHyperParameterTuningJob, Run a Job (.sync):
#: https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html — Create, Describe, Stop,
#: ListTrainingJobsForHyperParameterTuningJob; ListTags; the events rule :data:`TUNING_EVENTS_RULE`; the
#: "Tune a machine learning model" sample project's policy grants the same but the list call,
#: https://docs.aws.amazon.com/step-functions/latest/dg/sample-hyper-tuning.html), and AddTags for a
#: create with Tags, as for training jobs (``infra/stack.py``, ``grant_training``: TaggingAction).
TUNING_ACTIONS = ("sagemaker:CreateHyperParameterTuningJob", "sagemaker:DescribeHyperParameterTuningJob",
                  "sagemaker:StopHyperParameterTuningJob",
                  "sagemaker:ListTrainingJobsForHyperParameterTuningJob", "sagemaker:AddTags",
                  "sagemaker:ListTags")
TUNING_EVENTS_RULE = "StepFunctionsGetEventsForSageMakerTuningJobsRule"
SELF_ACTIONS = ("states:StartExecution",)
CHILD_EXECUTION_ACTIONS = ("states:DescribeExecution", "states:StopExecution", "states:RedriveExecution")

__all__ = [
    "ALWAYS_PRESENT_TRAINING_FIELDS", "CAPACITY_ERRORS", "CHILD_EXECUTION_ACTIONS", "EVENTS_ACTIONS",
    "EVENTS_RULE", "EVENT_COSTS", "LAMBDA_ERRORS", "MAP_LABEL", "MAP_MODES", "OPTIONAL_TRAINING_FIELDS",
    "PASS_ROLE_CONDITION", "PER_TRIAL_FIELDS", "RUN_CLAIMED_ERROR", "SELF_ACTIONS",
    "SUPPORTED_TRAINING_FIELDS", "THROTTLING_ERRORS", "TRAINING_ACTIONS", "TRAINING_ROLE_PATH",
    "TUNING_ACTIONS", "TUNING_EVENTS_RULE", "WATCH_SECONDS", "build_definition",
]
