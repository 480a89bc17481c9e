"""``byohpo start REQUEST.json [--stack NAME] [--region R]``: run a tuning request on the deployed
stack's state machine."""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from byohpo.aws.amt import check_aws
from byohpo.cli._aws import (
    Deployment,
    add_aws_options,
    aws_errors,
    console_url,
    deployment,
    execution_name,
    run_executions,
)
from byohpo.cli._common import CommandError, fail
from byohpo.cli.validate import report_invalid
from byohpo.errors import ValidationError
from byohpo.request import TuningRequest, load_request
from byohpo.store import RunNotFoundError

#: Step Functions' limit on an execution's input, in UTF-8 bytes.
INPUT_LIMIT = 256 * 1024
#: The Start state's input is the execution input wrapped with the execution's ARN: room for that.
INLINE_LIMIT = INPUT_LIMIT - 4 * 1024
REQUESTS_PREFIX = "requests/"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "start", help="start a tuning request on the deployed stack",
        description="Validate a tuning request here, then start it as an execution of the deployed "
                    "stack's state machine, named after the run. A request above the 256 KiB execution "
                    "input limit is uploaded to the stack's bucket (requests/) and passed by its S3 URI. "
                    "Starting a run that was interrupted resumes it.")
    parser.add_argument("request", metavar="REQUEST.json", help="the tuning request file")
    add_aws_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        request = load_request(args.request)
        check_aws(request)  # the training jobs' (amt-*: the tuning job's) parameters, as Start checks them
    except ValidationError as exc:
        return report_invalid("start", args.request, exc)
    try:
        deploy = deployment(args.stack, args.region)
        with aws_errors(f"stack {deploy.stack}"):
            resumed = check_resumable(deploy, request)
            execution_input, uploaded = prepare_input(deploy, request)
            name = execution_name(request.name, datetime.now(UTC))
            started = deploy.client("stepfunctions").start_execution(
                stateMachineArn=deploy.state_machine_arn, name=name, input=execution_input)
    except CommandError as exc:
        return fail("start", exc)
    verb = f"resumed run {request.name} ({resumed})" if resumed else f"started run {request.name}"
    print(f"{verb} on stack {deploy.stack} ({deploy.region})")
    print(f"  execution  {name}")
    if uploaded:
        print(f"  request    {uploaded} (above the {INPUT_LIMIT // 1024} KiB execution input limit)")
    print(f"  console    {console_url(deploy.region, started['executionArn'])}")
    print(f"  follow     byohpo status {request.name}" + _where(args))
    return 0


def check_resumable(deploy: Deployment, request: TuningRequest) -> str | None:
    """None for a new run; a few words on an interrupted run this start resumes; CommandError when the
    run of that name is running, has finished, or was made from a different search."""
    store = deploy.store()
    try:
        existing = store.get_run(request.name)
    except RunNotFoundError:
        return None
    name = request.name
    if existing.finished:
        raise CommandError(f"run {name!r} has ended ({existing.status}: {existing.reason}); to tune again, "
                           "give the request a new HyperParameterTuningJobName")
    if existing.fingerprint != request.fingerprint():
        raise CommandError(f"run {name!r} exists, made from a different search (strategy, its options, the "
                           "seed, the objectives or the ranges differ): give the request a new "
                           "HyperParameterTuningJobName")
    running = [e for e in run_executions(deploy, existing) if e.get("status") == "RUNNING"]
    if running:
        raise CommandError(f"run {name!r} is running in execution {running[0]['name']}: follow it with "
                           f"`byohpo status {name}`, or stop it with `byohpo stop {name}`")
    done = sum(1 for t in store.get_trials(name) if t.finished)
    return f"{done} trial{'s' * (done != 1)} done"


def prepare_input(deploy: Deployment, request: TuningRequest) -> tuple[str, str | None]:
    """The execution input: the request itself, or ``{"RequestS3Uri": ...}`` once it is uploaded when
    too large to pass inline. Returns the input and the URI (None when inline)."""
    text = json.dumps(request.raw, separators=(",", ":"), ensure_ascii=False)
    body = text.encode("utf-8")
    if len(body) <= INLINE_LIMIT:
        return text, None
    # Content-addressed: starting the same request again writes the same object.
    key = f"{REQUESTS_PREFIX}{request.name}/{hashlib.sha256(body).hexdigest()[:16]}.json"
    deploy.client("s3").put_object(Bucket=deploy.bucket, Key=key, Body=body, ContentType="application/json")
    uri = f"s3://{deploy.bucket}/{key}"
    return json.dumps({"RequestS3Uri": uri}), uri


def _where(args: argparse.Namespace) -> str:
    return "".join(f" --{k} {v}" for k, v in (("stack", args.stack), ("region", args.region)) if v)
