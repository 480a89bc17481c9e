"""``byohpo status NAME [--stack NAME] [--region R]``: where a run on the deployed stack is: its
execution, generations, trials done out of the budget, and the best so far."""

from __future__ import annotations

import argparse
from typing import Any

from byohpo.aws import amt
from byohpo.aws.results import result_keys
from byohpo.cli._aws import Deployment, add_aws_options, aws_errors, deployment, find_run, run_executions
from byohpo.cli._common import CommandError, fail
from byohpo.leaderboard import best_trial, request_info
from byohpo.space import format_value
from byohpo.store.records import RunRecord, TrialRecord

RESULTS_PREFIX = "runs/"  # the stack's BYOHPO_RESULTS_PREFIX


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="a run's progress on the deployed stack",
        description="Show a run of the deployed stack: its execution's status, the generations "
                    "proposed, trials finished out of MaxNumberOfTrainingJobs, and the best trial so far "
                    "(read from the stack's DynamoDB table).")
    parser.add_argument("name", metavar="NAME", help="the run (its HyperParameterTuningJobName)")
    add_aws_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        deploy = deployment(args.stack, args.region)
        store = deploy.store()
        with aws_errors(f"stack {deploy.stack}"):
            try:
                record = find_run(deploy, store, args.name)
            except CommandError:
                # Not in the table: an execution may still say why (Start refused its input).
                executions = run_executions(deploy, args.name)
                if not executions:
                    raise
                print("\n".join(execution_lines(deploy, executions[0], not_in_table=True)))
                return 0
            executions = run_executions(deploy, record)
            lines = status_lines(deploy, record, store.get_trials(record.name), executions)
    except CommandError as exc:
        return fail("status", exc)
    print("\n".join(lines))
    return 0


def status_lines(deploy: Deployment, record: RunRecord, trials: list[TrialRecord],
                 executions: list[dict[str, Any]]) -> list[str]:
    info = request_info(record.request)
    lines = [f"{record.name}: {record.status}, {info.strategy or 'unknown strategy'}, "
             f"stack {deploy.stack} ({deploy.region})"]
    tuner = amt.run_strategy(record)
    if tuner:
        lines.append(f"  tuning job  {amt.run_tuning_job(record)} (SageMaker's {tuner} tuner; its training "
                     f"jobs become trials when it ends)")
    if record.finished:
        lines.append(f"  ended       {record.reason or record.status}")
    if executions:
        lines += execution_lines(deploy, executions[0])[1:]
    done = [t for t in trials if t.finished]
    budget = "?" if info.max_jobs is None else str(info.max_jobs)
    counts = ", ".join(f"{n} {s.lower()}" for s in ("Failed", "Stopped")
                       if (n := sum(1 for t in done if t.status == s)))
    running = len(trials) - len(done)
    lines.append(f"  generations {record.version}")
    lines.append(f"  trials      {len(done)}/{budget} done" + (f" (+{running} running)" if running else "")
                 + (f", {counts}" if counts else ""))
    best = best_trial(trials, info.objectives)
    if best is not None and best.values is not None:
        first = info.objectives[0].metric
        params = ", ".join(f"{k}={format_value(v)}" for k, v in best.params.items())
        lines.append(f"  best        {first} = {best.values[first]:.6g} ({best.trial_id}: {params})")
    else:
        lines.append("  best        none yet")
    if record.finished:
        keys = result_keys(record.name, RESULTS_PREFIX)
        lines.append(f"  results     s3://{deploy.bucket}/{keys['leaderboard']}")
    return lines


def execution_lines(deploy: Deployment, execution: dict[str, Any], not_in_table: bool = False) -> list[str]:
    started = execution.get("startDate")
    when = f", started {started:%Y-%m-%d %H:%M:%S %Z}".rstrip() if started else ""
    lines = [f"{execution['name']}: the run is not in stack {deploy.stack}'s table"] if not_in_table else [""]
    lines.append(f"  execution   {execution['status']} {execution['name']}{when}")
    if execution.get("status") not in ("RUNNING", "SUCCEEDED"):
        described = deploy.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
        error = ": ".join(described[k] for k in ("error", "cause") if described.get(k))
        if error:
            lines.append(f"  error       {error}")
    return lines
