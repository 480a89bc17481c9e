"""Finalize's output in S3: the run's leaderboard as CSV and its summary as JSON, the same files the
CLI writes (``byohpo.leaderboard``), under ``s3://<bucket>/<prefix><run>/``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from byohpo.leaderboard import Leaderboard, request_info, summary
from byohpo.store.records import RunRecord, TrialRecord

LEADERBOARD = "leaderboard.csv"
SUMMARY = "summary.json"


def result_keys(run: str, prefix: str = "runs/") -> dict[str, str]:
    """The S3 keys of a run's leaderboard and summary."""
    base = f"{prefix}{run}/" if not prefix or prefix.endswith("/") else f"{prefix}/{run}/"
    return {"leaderboard": base + LEADERBOARD, "summary": base + SUMMARY}


def write_results(s3: Any, bucket: str, run: RunRecord, trials: Sequence[TrialRecord], *,
                  prefix: str = "runs/") -> dict[str, Any]:
    """Write the leaderboard CSV and the summary JSON; returns their ``s3://`` URIs and the summary.

    Both are complete rewrites, so a retried Finalize writes the same objects again.
    """
    info = request_info(run.request)
    board = Leaderboard.from_trials(trials, info.objectives, info.param_names)
    facts = summary(run, trials, info.objectives)
    keys = result_keys(run.name, prefix)
    s3.put_object(Bucket=bucket, Key=keys["leaderboard"], Body=board.to_csv().encode("utf-8"),
                  ContentType="text/csv; charset=utf-8")
    s3.put_object(Bucket=bucket, Key=keys["summary"],
                  Body=json.dumps(facts, indent=2, allow_nan=False).encode("utf-8"),
                  ContentType="application/json")
    return {"leaderboard": f"s3://{bucket}/{keys['leaderboard']}",
            "summary": f"s3://{bucket}/{keys['summary']}", "facts": facts}


def read_json(s3: Any, uri: str) -> Any:
    """A JSON document from an ``s3://bucket/key`` URI (Start's ``RequestS3Uri``)."""
    bucket, key = split_uri(uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)


def split_uri(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://bucket/key`` URI; ValueError for anything else."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket or not key:
        raise ValueError(f"an s3:// URI needs a bucket and a key: {uri!r}")
    return bucket, key


__all__ = ["LEADERBOARD", "SUMMARY", "read_json", "result_keys", "split_uri", "write_results"]
