"""What the AWS-side subcommands share (``start``, ``status``, ``stop``, ``leaderboard --aws``): the
deployed stack, found by name from its CloudFormation outputs, its clients and its run store.

The stack is ``--stack NAME``, else ``$BYOHPO_STACK``, else ``Byohpo`` (the CDK app's default); the
Region is ``--region``, else botocore's (``$AWS_REGION``, ``$AWS_DEFAULT_REGION``, the profile).
Credentials are botocore's usual chain. Every AWS problem (no credentials, no such stack, access
denied) becomes a one-line :class:`~byohpo.cli._common.CommandError`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from byohpo.aws import RETRY_CONFIG
from byohpo.cli._common import CommandError, fail, piped
from byohpo.store import RunNotFoundError
from byohpo.store.dynamodb import DynamoDBStore
from byohpo.store.records import RunRecord

STACK_ENV = "BYOHPO_STACK"
DEFAULT_STACK = "Byohpo"
#: The stack's outputs the CLI reads (``infra/stack.py`` makes them).
OUTPUTS = {"state_machine_arn": "StateMachineArn", "table": "TableName", "bucket": "BucketName"}
_LISTED = 20


def add_aws_options(parser: Any, *, flag: str | None = None) -> None:
    """``--stack NAME`` and ``--region R``; with ``flag``, also that switch (``--aws``) to turn them on."""
    if flag:
        parser.add_argument(flag, action="store_true",
                            help="read the run from the deployed stack's DynamoDB table instead of --store")
    parser.add_argument("--stack", metavar="NAME", default=None,
                        help=f"the byohpo stack (default: ${STACK_ENV}, else {DEFAULT_STACK})")
    parser.add_argument("--region", metavar="R", default=None, help="its AWS Region (default: botocore's)")


@dataclass
class Deployment:
    """A deployed byohpo stack: its outputs, and clients in its Region."""

    stack: str
    state_machine_arn: str
    table: str
    bucket: str
    session: Any = field(repr=False)
    region: str
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.create_client(service, region_name=self.region,
                                                                config=RETRY_CONFIG)
        return self._clients[service]

    def store(self) -> DynamoDBStore:
        return DynamoDBStore(self.table, client=self.client("dynamodb"))


def deployment(stack: str | None = None, region: str | None = None) -> Deployment:
    """The stack's outputs from CloudFormation; :class:`CommandError` saying what is missing."""
    name = stack or os.environ.get(STACK_ENV) or DEFAULT_STACK
    session = botocore.session.get_session()
    with aws_errors(f"stack {name}"):
        cloudformation = session.create_client("cloudformation", region_name=region, config=RETRY_CONFIG)
        try:
            found = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as exc:
            if "does not exist" in str(exc):
                where = cloudformation.meta.region_name
                raise CommandError(f"there is no stack {name!r} in {where}: deploy it with `cdk deploy`, or "
                                   f"name yours with --stack NAME (or ${STACK_ENV}) and --region") from None
            raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    missing = [key for key in OUTPUTS.values() if key not in outputs]
    if missing:
        raise CommandError(f"stack {name!r} has no output {', '.join(missing)}: is it a byohpo stack, and "
                           f"is it deployed ({found.get('StackStatus', 'unknown status')})?")
    return Deployment(name, session=session, region=cloudformation.meta.region_name,
                      **{attr: outputs[key] for attr, key in OUTPUTS.items()})


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """AWS failures as one-line CommandErrors (exit 1: not the input's fault)."""
    try:
        yield
    except NoRegionError:
        raise CommandError("no AWS Region: pass --region, or set AWS_REGION", code=2) from None
    except NoCredentialsError:
        raise CommandError("no AWS credentials: configure them (aws configure, AWS_PROFILE, ...)",
                           code=1) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise CommandError(f"{what}: {error.get('Code', 'error')}: {error.get('Message', exc)}",
                           code=1) from None
    except BotoCoreError as exc:
        raise CommandError(f"{what}: {exc}", code=1) from None


def find_run(deploy: Deployment, store: DynamoDBStore, name: str) -> RunRecord:
    """Run ``name`` from the stack's table, or a CommandError listing the runs there are."""
    with aws_errors(f"table {deploy.table}"):
        try:
            return store.get_run(name)
        except RunNotFoundError:
            known = [run.name for run in store.list_runs()]
    if not known:
        raise CommandError(f"no run named {name!r}: stack {deploy.stack} has no runs yet. Start one with "
                           f"`byohpo start REQUEST.json`.")
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listed = ", ".join(known[:_LISTED]) + (f", ... ({len(known)} in all)" if len(known) > _LISTED else "")
    raise CommandError(f"no run named {name!r} in stack {deploy.stack}{hint}; known runs: {listed}")


def with_run_store(args: Any, command: str, show: Callable[[DynamoDBStore], None]) -> int:
    """``show(store)`` once run ``args.name`` is known to exist in the stack's table (the ``--aws`` form
    of the store-reading commands); returns the exit status."""
    try:
        deploy = deployment(args.stack, args.region)
        store = deploy.store()
        find_run(deploy, store, args.name)
        with aws_errors(f"table {deploy.table}"), piped():
            show(store)
    except CommandError as exc:
        return fail(command, exc)
    return 0


# -- executions ----------------------------------------------------------------------------------

_EXECUTION_NAME = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(run: str, moment: Any) -> str:
    """``<run>-<UTC time>``: executions named after their run; a run started again (to resume it)
    gets a new name, as an execution name is never reused."""
    return _EXECUTION_NAME.sub("-", f"{run}-{moment:%Y%m%d-%H%M%S}")[:80]


def run_executions(deploy: Deployment, run: RunRecord | str, *, status: str | None = None,
                   pages: int = 10) -> list[dict[str, Any]]:
    """The state machine's executions of run ``run``, newest first: the one holding it (its owner) and
    those ``byohpo start`` named after it. Reads at most ``pages`` pages of ListExecutions."""
    name = run if isinstance(run, str) else run.name
    owner = None if isinstance(run, str) else run.owner
    sfn = deploy.client("stepfunctions")
    found: dict[str, dict[str, Any]] = {}
    if owner and ":execution:" in owner:
        try:
            described = sfn.describe_execution(executionArn=owner)
        except ClientError:  # another stack's or Region's execution, or gone: not ours to show
            described = None
        if described:
            found[owner] = {k: described.get(k) for k in ("executionArn", "name", "status", "startDate",
                                                          "stopDate")}
    pattern = re.compile(re.escape(name) + r"-\d{8}-\d{6}")
    kwargs: dict[str, Any] = {"stateMachineArn": deploy.state_machine_arn, "maxResults": 100}
    if status:
        kwargs["statusFilter"] = status
    for _ in range(pages):
        page = sfn.list_executions(**kwargs)
        for execution in page.get("executions", []):
            if pattern.fullmatch(execution["name"]):
                found.setdefault(execution["executionArn"], execution)
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    executions = [e for e in found.values() if status is None or e.get("status") == status]
    return sorted(executions, key=lambda e: e["startDate"].timestamp() if e.get("startDate") else 0.0,
                  reverse=True)


def console_url(region: str, execution_arn: str) -> str:
    return (f"https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{execution_arn}")
