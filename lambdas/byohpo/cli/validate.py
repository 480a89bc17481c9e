"""``byohpo validate REQUEST.json [--local]``: check a tuning request without starting anything."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from byohpo import standins
from byohpo.aws.amt import check_aws
from byohpo.cli._common import piped
from byohpo.errors import ValidationError
from byohpo.request import TuningRequest, check_local, load_request
from byohpo.space import Categorical, Continuous, format_value
from byohpo.strategies.base import to_snake


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate", help="check a tuning request and summarize it",
        description="Check a tuning request (the body of CreateHyperParameterTuningJob, Strategy set to a "
                    "byohpo strategy). Exit status 0 when valid, 2 with one line per problem when not.")
    parser.add_argument("request", metavar="REQUEST.json", help="the tuning request file")
    parser.add_argument("--local", action="store_true",
                        help="require TrainingJobDefinition.Local, to run locally; a request that has it is "
                             "always checked as `byohpo run` checks it (the entry point exists and can "
                             "start)")
    parser.add_argument("--base-dir", metavar="DIR", default=".",
                        help="where a relative Local.EntryPoint is found (default: the current directory)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        request = load_request(args.request)
        # An amt-* request may keep Local for byohpo's own strategies; only --local asks to run it here.
        if args.local or (request.training.get("Local") is not None and not request.sagemaker_strategy):
            check_local(request, Path(args.base_dir), request_path=args.request)
    except ValidationError as exc:
        return report_invalid("validate", args.request, exc)
    with piped():  # `byohpo validate x.json | head` is no error
        print(f"{args.request}: valid")
        print("\n".join(summary(request) + algorithm_summary(request) + aws_summary(request)))
    return 0


def report_invalid(command: str, source: str, exc: ValidationError) -> int:
    """Print a request's problems to stderr, one per line naming its field; returns exit status 2."""
    if len(exc.errors) == 1 and not exc.errors[0].path:  # unreadable file, bad JSON, not an object
        print(f"byohpo {command}: {exc.errors[0].message}", file=sys.stderr)
        return 2
    n = len(exc.errors)
    print(f"{source}: not a valid tuning request ({n} problem{'s' * (n != 1)})", file=sys.stderr)
    for error in exc.errors:
        print(f"  {error}", file=sys.stderr)
    return 2


def summary(request: TuningRequest) -> list[str]:
    """A few lines that show what the request will do."""
    options = ", ".join(f"{k}={v!r}" for k, v in request.strategy_options.items())
    lines = [
        f"  name        {request.name}",
        f"  strategy    {request.strategy}" + (f" ({options})" if options else ""),
        f"  seed        {request.seed} ({_seed_source(request)})",
    ]
    for objective in request.objectives:
        lines.append(f"  objective   {objective.direction} {objective.metric}")
    space = request.space
    static = f", {len(space.static)} static" if space.static else ""
    lines.append(f"  parameters  {len(space)} tuned{static}")
    width = max(len(name) for name in [*space.names, *space.static])
    for param in space:
        if isinstance(param, Categorical):
            text = "categorical " + ", ".join(param.values)
        else:
            kind = "continuous" if isinstance(param, Continuous) else "integer"
            text = f"{kind} {format_value(param.low)} .. {format_value(param.high)}, {param.scaling}"
        lines.append(f"    {param.name:<{width}}  {text}")
    for name, value in space.static.items():
        lines.append(f"    {name:<{width}}  static {value}")
    stopping = request.stopping
    runtime = f", at most {stopping.max_runtime_seconds} s" if stopping.max_runtime_seconds else ""
    lines.append(f"  budget      {stopping.max_jobs} training job{'s' * (stopping.max_jobs != 1)}, "
                 f"{request.max_parallel} in parallel"
                 f"{runtime}")
    rules = []
    if stopping.target_value is not None:
        rules.append(f"target {format_value(stopping.target_value)}")
    if stopping.max_jobs_not_improving is not None:
        rules.append(f"{stopping.max_jobs_not_improving} jobs without improvement")
    if stopping.convergence:
        rules.append("convergence")
    if stopping.max_failed_jobs is not None:
        rules.append(f"{stopping.max_failed_jobs} failed jobs")
    if rules:
        lines.append(f"  stop on     {'; '.join(rules)}")
    if request.warm_start_parents:
        lines.append(f"  warm start  {request.warm_start_type} from {', '.join(request.warm_start_parents)}")
    if request.entry_point:
        lines.append(f"  local       {request.entry_point}")
    return lines


def algorithm_summary(request: TuningRequest) -> list[str]:
    """Which algorithm defines the metrics, and the local data of each channel."""
    lines = []
    builtin = request.builtin_algorithm
    if builtin is not None:
        local = "byohpo's stand-in" if standins.entry_point(builtin.name) else "Local.EntryPoint only"
        lines.append(f"  algorithm   SageMaker's built-in {builtin.title}: its own metrics; here: "
                     f"{request.entry_point or local}")
    elif request.algorithm_name:
        lines.append(f"  algorithm   {request.algorithm_name}: its own metrics (DescribeAlgorithm)")
    for name, path in request.local_channels.items():
        lines.append(f"  channel     {name} <- {path}")
    return lines


def aws_summary(request: TuningRequest) -> list[str]:
    """What ``byohpo start`` would still need to run the request on SageMaker (a request with ``Local``
    may leave out what only AWS uses), or that it would take it as it is."""
    try:
        check_aws(request)
    except ValidationError as exc:
        return ["  on AWS      byohpo start would still need:", *(f"    {e}" for e in exc.errors)]
    if request.sagemaker_strategy:
        return [f"  on AWS      ready for byohpo start: one SageMaker tuning job (Strategy "
                f"{request.sagemaker_strategy}); not runnable with byohpo run"]
    return ["  on AWS      ready for byohpo start"]


def _seed_source(request: TuningRequest) -> str:
    config = request.raw.get("HyperParameterTuningJobConfig", {})
    if any(to_snake(str(k)) == "seed" for k in config.get("StrategyConfig") or {}):
        return "StrategyConfig.Seed"
    if "RandomSeed" in config:
        return "RandomSeed"
    return "from the job name"
