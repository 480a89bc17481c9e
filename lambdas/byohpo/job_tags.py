"""The tags byohpo puts on every training job it creates, beside the request's own ``Tags``.

``byohpo:run`` names the run (to find a run's jobs); ``byohpo:stack`` names the deploying stack, so
that the stack's IAM policy lets its state machine stop and tag only the jobs it created (conditions
on ``aws:RequestTag/byohpo:stack`` and ``aws:ResourceTag/byohpo:stack``). SageMaker takes at most
:data:`MAX_JOB_TAGS` tags on a job (``CreateTrainingJob``'s ``Tags``), ours included, so a request
may carry :data:`MAX_OWN_TAGS` of its own; a tag of its own with one of our keys is replaced by ours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

RUN_TAG = "byohpo:run"
STACK_TAG = "byohpo:stack"
RESERVED_TAG_KEYS = (RUN_TAG, STACK_TAG)
#: CreateTrainingJob's ``Tags``: at most 50 (botocore's SageMaker model, ``"max": 50``).
MAX_JOB_TAGS = 50
MAX_OWN_TAGS = MAX_JOB_TAGS - len(RESERVED_TAG_KEYS)


def own_tags(tags: Sequence[Any]) -> list[Any]:
    """The request's tags that byohpo passes on: all but those with one of byohpo's keys."""
    return [t for t in tags if not (isinstance(t, Mapping) and t.get("Key") in RESERVED_TAG_KEYS)]


def job_tags(tags: Sequence[Any], run: str, stack: str | None) -> list[dict[str, Any]]:
    """A training job's tags: the request's own, then ``byohpo:run`` and (when deployed by a stack that
    names itself) ``byohpo:stack``."""
    ours = [{"Key": RUN_TAG, "Value": run}]
    if stack:
        ours.append({"Key": STACK_TAG, "Value": stack})
    return [*(dict(t) if isinstance(t, Mapping) else t for t in own_tags(tags)), *ours]


def too_many_tags(tags: Sequence[Any]) -> str | None:
    """Why the request's ``Tags`` cannot all go on a job, or None."""
    own = len(own_tags(tags))
    if own <= MAX_OWN_TAGS:
        return None
    return (f"at most {MAX_OWN_TAGS} tags, not {own}: byohpo adds {' and '.join(RESERVED_TAG_KEYS)} to "
            f"every training job, and SageMaker takes at most {MAX_JOB_TAGS} tags on a job")


__all__ = ["MAX_JOB_TAGS", "MAX_OWN_TAGS", "RESERVED_TAG_KEYS", "RUN_TAG", "STACK_TAG", "job_tags",
           "own_tags", "too_many_tags"]
