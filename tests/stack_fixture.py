"""The synthesized byohpo stack, shared by the template tests and the state-machine execution tests.

Synthesizing costs seconds (the first ``Template.from_stack`` of a process about 4 s, later ones
0.4 s), so :func:`synthesized` caches one stack per context for the whole pytest process. Bundling is
skipped (context ``aws:cdk:bundling-stacks = []``): no wheels are downloaded; the one test that
bundles for real is ``test_stack.py::test_local_bundling_builds_the_lambda_asset``.

For the execution tests — run *the definition the stack synthesizes* — :func:`state_machine_definition`
gives the definition exactly as deployed, its ``${...}`` placeholders, what each stands for, and the
Lambda handler behind each Lambda placeholder::

    definition = state_machine_definition()
    asl = definition.render({"StartFunctionArn": moto_start_arn, ...})   # every placeholder
    definition.handlers  # {"StartFunctionArn": "byohpo.handlers.start.handler", ...}

:func:`resolve` evaluates the template's intrinsic functions for a given Region, account and physical
names, so that a test can read an output (the example's execution input) as a deployed stack shows it.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # infra/ and state_machine/ are not installed packages
    sys.path.insert(0, str(ROOT))

from aws_cdk.assertions import Template  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.stack import ByohpoStack  # noqa: E402

#: Context that skips bundling the Lambda asset (no pip download).
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}
REGION = "us-east-1"
ACCOUNT = "123456789012"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


#: How ``resolve`` spells the ``Arn`` attribute of a resource type (a made-up but well-formed ARN).
_ARNS = {
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
}


@dataclass(frozen=True)
class Synthesized:
    """One synthesized app: its stack, the template (as a dict and for assertions), and where the
    cloud assembly was written."""

    stack: ByohpoStack
    template: dict[str, Any]
    assertions: Template
    outdir: Path


@functools.cache
def _synthesize(context_items: tuple[tuple[str, str], ...]) -> Synthesized:
    import tempfile

    outdir = Path(tempfile.mkdtemp(prefix="byohpo-cdk-"))
    app, stack = build_app({**NO_BUNDLING, **dict(context_items)}, outdir=str(outdir))
    app.synth()  # runs the cdk-nag checks: raises on any unacknowledged finding
    assertions = Template.from_stack(stack)
    return Synthesized(stack, assertions.to_json(), assertions, outdir)


def synthesized(**context: str) -> Synthesized:
    """The stack synthesized with ``context`` (cdk ``-c`` values, as strings), cached per context."""
    return _synthesize(tuple(sorted(context.items())))


@dataclass(frozen=True)
class Definition:
    """The state machine's ``DefinitionString`` and ``DefinitionSubstitutions`` as synthesized.

    ``substitutions`` maps each placeholder to its CloudFormation value (``{"Fn::GetAtt": [<logical id>,
    "Arn"]}`` for a Lambda); ``handlers`` maps each Lambda placeholder to that function's handler.
    """

    text: str
    substitutions: dict[str, Any]
    handlers: dict[str, str]

    @property
    def placeholders(self) -> list[str]:
        return sorted(set(PLACEHOLDER.findall(self.text)))

    def render(self, values: Mapping[str, str]) -> str:
        """The definition with every ``${Name}`` replaced by ``values[Name]`` (as Step Functions does
        with ``DefinitionSubstitutions``); KeyError names a placeholder left without a value."""
        missing = [p for p in self.placeholders if p not in values]
        if missing:
            raise KeyError(f"no value for the placeholders {', '.join(missing)}")
        return PLACEHOLDER.sub(lambda m: values[m[1]], self.text)


def state_machine_definition(template: Mapping[str, Any] | None = None) -> Definition:
    """The (one) state machine's definition in ``template`` (default: the default stack's)."""
    template = synthesized().template if template is None else template
    resources = template["Resources"]
    (machine,) = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    props = machine["Properties"]
    text = props["DefinitionString"]
    if not isinstance(text, str):
        raise TypeError("DefinitionString is not a plain string: a token leaked into the definition "
                        "(pass deploy-time values as DefinitionSubstitutions)")
    substitutions = dict(props.get("DefinitionSubstitutions", {}))
    handlers = {}
    for name, value in substitutions.items():
        target = value.get("Fn::GetAtt", [None])[0] if isinstance(value, Mapping) else None
        if target and resources[target]["Type"] == "AWS::Lambda::Function":
            handlers[name] = resources[target]["Properties"]["Handler"]
    return Definition(text, substitutions, handlers)


def resolve(value: Any, template: Mapping[str, Any], *, region: str = REGION, account: str = ACCOUNT,
            physical: Mapping[str, str] | None = None) -> Any:
    """``value`` with the intrinsic functions the stack uses evaluated: ``Ref`` (pseudo parameters;
    resources by ``physical`` name, else their logical id), ``Fn::GetAtt`` (``.Arn`` as a made-up ARN),
    ``Fn::Join``, ``Fn::FindInMap``, ``Fn::Select``, ``Fn::Split``."""
    physical = physical or {}
    pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws",
              "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "Byohpo"}

    def ev(node: Any) -> Any:
        if isinstance(node, list):
            return [ev(n) for n in node]
        if not isinstance(node, Mapping):
            return node
        if len(node) != 1:
            return {k: ev(v) for k, v in node.items()}
        (key, arg), = node.items()
        if key == "Ref":
            return pseudo.get(arg) or physical.get(arg, arg)
        if key == "Fn::GetAtt":
            logical, attribute = arg
            if attribute != "Arn":
                raise ValueError(f"resolve knows only the Arn attribute, not {logical}.{attribute}")
            kind = template["Resources"][logical]["Type"]
            arn = _ARNS.get(kind, "arn:aws:{service}:{region}:{account}:{name}")
            return arn.format(service=kind.split("::")[1].lower(), region=region, account=account,
                              name=physical.get(logical, logical))
        if key == "Fn::Join":
            return ev(arg[0]).join(str(ev(part)) for part in arg[1])
        if key == "Fn::FindInMap":
            name, top, second = ev(arg)
            return template["Mappings"][name][top][second]
        if key == "Fn::Select":
            return ev(arg[1])[int(ev(arg[0]))]
        if key == "Fn::Split":
            return ev(arg[1]).split(ev(arg[0]))
        return {key: ev(arg)}

    return ev(value)
