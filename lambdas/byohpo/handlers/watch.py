"""Watch: one look at a watched training job for early stopping (``TrainingJobEarlyStoppingType:
"Auto"``); the work is ``byohpo.aws.watch``'s.

in:  ``{"run": <name>, "trial_id", "job_name", "poll": {"base", "seconds", "count", "waited"}}`` from
     the watch branch of a Map iteration, or ``{"run", "trial_id", "job_name", "final": true}`` from its
     training branch once the job has ended.
out: ``{"base", "seconds", "count", "waited", "done": bool, ...}``: the next wait, and whether to watch
     on (``done`` once the job has ended or is being stopped, the trial moved on, or after
     ``byohpo.aws.watch.MAX_POLLS`` looks); ``{"done": true, ...}`` for ``final``.

AWS calls: DynamoDB GetItem, Query, UpdateItem (the run, its trials' curves, this trial's curve);
SageMaker DescribeTrainingJob, StopTrainingJob (a job of this stack's, by its tag), and DescribeAlgorithm
for an ``AlgorithmName``'s metric regexes; CloudWatch Logs DescribeLogStreams, GetLogEvents.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from byohpo import aws
from byohpo.aws.watch import Poll, watch
from byohpo.errors import ValidationError
from byohpo.handlers import run_request
from byohpo.store.base import Store

log = logging.getLogger(__name__)


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    c = aws.clients()
    return look(event, store=c.store, sagemaker=c.sagemaker, logs=c.logs)


def look(event: Mapping[str, Any], *, store: Store, sagemaker: Any, logs: Any) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise ValidationError("must be an object", "event")
    for key in ("run", "trial_id", "job_name"):
        if not isinstance(event.get(key), str) or not event[key]:
            raise ValidationError(f"must be a non-empty string, not {event.get(key)!r}", key)
    final = event.get("final") is True
    try:
        poll = None if final else Poll.of(event.get("poll"))
    except ValueError as exc:
        raise ValidationError(str(exc), "poll") from exc
    run = store.get_run(event["run"])
    try:
        return watch(store, run_request(run), run, event["trial_id"], event["job_name"], sagemaker=sagemaker,
                     logs=logs, poll=poll, final=final)
    except Exception as exc:
        # Throttled past botocore's own retries: look again next time. Any other error ends the watch
        # (the state machine catches it there); the job trains on, unwatched.
        if poll is None or not _throttled(exc):
            raise
        log.warning("run %s: trial %s not watched this time: %s", run.name, event["trial_id"], exc)
        return poll.answer(False, throttled=str(exc))


#: Error codes of AWS APIs that mean "too many requests now".
_THROTTLING_CODES = ("Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
                     "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestThrottled")


def _throttled(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, Mapping) else None
    return code in _THROTTLING_CODES
