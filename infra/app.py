"""The CDK app: one byohpo stack, checked by cdk-nag's AwsSolutions pack at every synth.

``cdk deploy`` (``cdk.json`` runs ``python3 infra/app.py``) takes these context values (``-c k=v``):

* ``stack_name``: default ``Byohpo`` (``byohpo start --stack`` finds it by this name);
* ``sagemaker_role_arns``: comma-separated roles the state machine may pass to SageMaker besides the
  stack's own (training jobs that read your data with your roles): full role ARNs, no wildcard;
* ``schedule`` and ``schedule_request``: an EventBridge Scheduler expression and the request file it
  starts, e.g. ``-c schedule="rate(1 day)" -c schedule_request=examples/digits/ga.json``;
* ``event_budget``: history events per execution before it continues as a new one (default 20000);
* ``early_stopping_poll_seconds``: for requests with ``TrainingJobEarlyStoppingType: "Auto"``, the wait
  before each look at a training job's log (default 60, from 1 to 3600; it grows as a job grows old);
* ``log_execution_data=true``: log each state's input and output, not only the events (off by default:
  they hold every request's training ``Environment``);
* ``acknowledge_findings=false``: synthesize with every cdk-nag finding unacknowledged, to review them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python3 infra/app.py` puts infra/, not the repository, on the path
    sys.path.insert(0, str(ROOT))

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.stack import ByohpoStack, StackSettings  # noqa: E402

DEFAULT_STACK_NAME = "Byohpo"


def settings_from_context(app: cdk.App) -> StackSettings:
    """:class:`StackSettings` from the app's context (strings on the command line, JSON in cdk.json)."""
    def get(key: str) -> Any:
        return app.node.try_get_context(key)

    roles = get("sagemaker_role_arns") or ()
    if isinstance(roles, str):
        roles = json.loads(roles) if roles.lstrip().startswith("[") else roles.split(",")
    budget = get("event_budget")
    poll = get("early_stopping_poll_seconds")
    request = get("schedule_request")
    return StackSettings(
        sagemaker_role_arns=tuple(r.strip() for r in roles if r.strip()),
        schedule=get("schedule") or None,
        schedule_request=Path(request) if request else None,
        log_execution_data=flag(get("log_execution_data"), "log_execution_data", default=False),
        acknowledge_findings=flag(get("acknowledge_findings"), "acknowledge_findings", default=True),
        **({"event_budget": int(budget)} if budget not in (None, "") else {}),
        **({"watch_seconds": _seconds(poll)} if poll not in (None, "") else {}))


def _seconds(value: Any) -> int:
    """``early_stopping_poll_seconds``: a whole number of seconds, as text or a JSON number."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"early_stopping_poll_seconds: {value!r} is not a whole number of seconds") from None
    return number


def flag(value: Any, key: str, *, default: bool) -> bool:
    """A yes/no context value: ``true``/``false`` on the command line, a JSON boolean in cdk.json."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"{key}: {value!r} is neither true nor false")
    return text == "true"


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None,
              ) -> tuple[cdk.App, ByohpoStack]:
    """The app with its stack and the cdk-nag checks; ``context`` adds to cdk.json's (tests pass
    ``{"aws:cdk:bundling-stacks": []}`` to skip bundling the Lambda asset)."""
    app = cdk.App(context=dict(context or {}), outdir=outdir)
    stack = ByohpoStack(app, app.node.try_get_context("stack_name") or DEFAULT_STACK_NAME,
                        settings=settings_from_context(app),
                        description="byohpo: bring your own hyperparameter optimization to SageMaker")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stack


if __name__ == "__main__":
    build_app()[0].synth()
