"""``byohpo init SCRIPT``: write a starting tuning request for a training script, to run with ``byohpo run``.

The script is read, never run. Its ``argparse`` arguments with a number type (or ``choices``) and a
default become the ranges to tune, around the default: a float ``d`` from ``d/10`` to ``10*d`` on a
log scale, an integer ``n`` from ``n/2`` to ``2*n``, choices as a categorical range. What it prints as
``label=value`` or ``label: value`` in an f-string becomes a metric definition, and the first
validation or test score among them the objective. The request is the shortest ``byohpo run`` takes
(``Local.EntryPoint``, no AWS fields); ``byohpo validate`` says what ``byohpo start`` would still need.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byohpo.cli.validate import report_invalid
from byohpo.errors import ValidationError
from byohpo.request import parse_request

_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_LABEL = re.compile(r"([A-Za-z_][\w\-.:/]*)\s*([=:])\s*$")
_EVALUATED = re.compile(r"val|test|eval|dev", re.IGNORECASE)
_SCORE = re.compile(r"acc|auc|f1|loss|err|rmse|mse|mae|score|map|ndcg|precision|recall|r2", re.IGNORECASE)
_LOWER_IS_BETTER = re.compile(r"loss|err|rmse|mse|mae|mape|perplex|second|time|latency", re.IGNORECASE)
_NOT_TUNED = re.compile(r"seed|dir|path|file|workers|gpus|hosts|verbose|log", re.IGNORECASE)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "init", help="write a starting tuning request for a training script",
        description="Read a training script (never run it) and write the shortest request `byohpo run` "
                    "takes: its argparse number arguments as ranges around their defaults, the metrics it "
                    "prints as label=value as MetricDefinitions, a validation score as the objective.")
    parser.add_argument("script", metavar="SCRIPT", type=Path, help="the training script (a .py file)")
    parser.add_argument("-o", "--output", metavar="REQUEST.json", type=Path, default=Path("request.json"),
                        help="where to write the request (default: request.json)")
    parser.add_argument("--strategy", default="bayesian", help="the strategy (default: bayesian)")
    parser.add_argument("--jobs", metavar="N", type=int, default=20,
                        help="MaxNumberOfTrainingJobs (default 20)")
    parser.add_argument("--force", action="store_true", help="overwrite REQUEST.json if it exists")
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Found:
    """What the script says: its tunable arguments (as SageMaker ranges) and its printed metrics."""

    ranges: dict[str, list[dict[str, Any]]]
    metrics: list[tuple[str, str, str]]  # (name, regex, direction)


def run(args: argparse.Namespace) -> int:
    script: Path = args.script
    if args.output.exists() and not args.force:
        print(f"byohpo init: {args.output} exists; give another -o, or --force to overwrite it",
              file=sys.stderr)
        return 2
    try:
        found = inspect_script(script)
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        print(f"byohpo init: cannot read {script} as Python: {exc}", file=sys.stderr)
        return 2
    raw = starting_request(script, found, strategy=args.strategy, jobs=args.jobs)
    try:
        parse_request(raw)
    except ValidationError as exc:
        return report_invalid("init", str(script), exc)
    args.output.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    tuned = [r["Name"] for kind in found.ranges.values() for r in kind]
    objective = raw["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    print(f"wrote {args.output}")
    placeholder = "learning_rate (a placeholder: the script has no argparse number argument with a default)"
    print(f"  tunes       {', '.join(tuned) if tuned else placeholder}")
    print(f"  objective   {objective['Type']} {objective['MetricName']}"
          + ("" if found.metrics else " (a placeholder: make the script print objective=<value>)"))
    print(f"check and adjust it, then: byohpo run {args.output}")
    return 0


def inspect_script(script: Path) -> Found:
    tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    ranges: dict[str, list[dict[str, Any]]] = {"ContinuousParameterRanges": [], "IntegerParameterRanges": [],
                                                "CategoricalParameterRanges": []}
    arguments: set[str] = set()
    labels: dict[str, str] = {}
    for node in sorted(ast.walk(tree), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
            name = _argument_name(node)
            if name:
                arguments.add(name)
                kind, entry = _range(name, node)
                if kind and not _NOT_TUNED.search(name):
                    ranges[kind].append(entry)
        elif isinstance(node, ast.JoinedStr):
            for label, sep in _printed_labels(node):
                labels.setdefault(label, sep)
    metrics = [(label, re.escape(label) + re.escape(sep) + r"\s*" + _NUMBER,
                "Minimize" if _LOWER_IS_BETTER.search(label) else "Maximize")
               for label, sep in labels.items() if label.lstrip("-") not in arguments]
    return Found(ranges, metrics)


def starting_request(script: Path, found: Found, *, strategy: str, jobs: int) -> dict[str, Any]:
    ranges = {k: v for k, v in found.ranges.items() if v}
    if not ranges:
        ranges = {"ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.001",
                                                 "MaxValue": "0.1", "ScalingType": "Logarithmic"}]}
    metrics = found.metrics or [("objective", r"objective=\s*" + _NUMBER, "Maximize")]
    name, _, direction = max(metrics, key=lambda m: (bool(_EVALUATED.search(m[0])) * 2
                                                    + bool(_SCORE.search(m[0])), -metrics.index(m)))
    return {
        "HyperParameterTuningJobName": _job_name(script),
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": direction, "MetricName": name},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": ranges,
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"MetricDefinitions": [{"Name": n, "Regex": r} for n, r, _ in metrics]},
            "Local": {"EntryPoint": str(script)},
        },
    }


def _argument_name(call: ast.Call) -> str | None:
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("--"):
            return arg.value[2:]
    return None


def _keyword(call: ast.Call, name: str) -> Any:
    for keyword in call.keywords:
        if keyword.arg == name:
            try:
                return ast.literal_eval(keyword.value)
            except ValueError:
                return keyword.value.id if isinstance(keyword.value, ast.Name) else None
    return None


def _range(name: str, call: ast.Call) -> tuple[str | None, dict[str, Any]]:
    choices, default, kind = _keyword(call, "choices"), _keyword(call, "default"), _keyword(call, "type")
    if isinstance(choices, list | tuple) and len(choices) > 1:
        return "CategoricalParameterRanges", {"Name": name, "Values": [str(c) for c in choices]}
    if kind == "float" and isinstance(default, int | float) and not isinstance(default, bool) and default > 0:
        return "ContinuousParameterRanges", {"Name": name, "MinValue": f"{default / 10:g}",
                                             "MaxValue": f"{default * 10:g}", "ScalingType": "Logarithmic"}
    if kind == "int" and isinstance(default, int) and not isinstance(default, bool) and default >= 2:
        return "IntegerParameterRanges", {"Name": name, "MinValue": str(max(1, default // 2)),
                                          "MaxValue": str(default * 2), "ScalingType": "Auto"}
    return None, {}


def _printed_labels(node: ast.JoinedStr) -> list[tuple[str, str]]:
    """``label`` and its separator for each ``label=`` or ``label:`` right before a formatted value."""
    out = []
    for before, after in zip(node.values, node.values[1:], strict=False):
        if isinstance(before, ast.Constant) and isinstance(after, ast.FormattedValue) and _numeric(after):
            match = _LABEL.search(str(before.value))
            if match:
                out.append((match[1], match[2]))
    return out


def _numeric(value: ast.FormattedValue) -> bool:
    """Could this formatted value print a number? Not a ``!r``/``!s``/``!a`` conversion, not a join."""
    if value.conversion != -1:
        return False
    expression = value.value
    return not (isinstance(expression, ast.Call) and getattr(expression.func, "attr", None) == "join")


def _job_name(script: Path) -> str:
    words = [w for w in (script.resolve().parent.name, script.stem) if w]
    name = re.sub(r"[^a-zA-Z0-9]+", "-", "-".join(words)).strip("-")[:32].strip("-")
    return name or "tuning"
