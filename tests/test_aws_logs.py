"""Metrics from a training job's CloudWatch Logs, on moto: every stream of the job, every page.

moto pages GetLogEvents like CloudWatch Logs: at most ``limit`` events (default 10,000) a page, a
``nextForwardToken`` to the next, and the same token back once the stream is read to its end; and
DescribeLogStreams at most ``limit`` streams (default and maximum 50) with a ``nextToken``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from aws_fixtures import AwsEnv, moto_aws

from byohpo.aws.logs import LOG_GROUP, read_job_metrics

DEFINITIONS = [{"Name": "validation:accuracy", "Regex": "Validation-accuracy=([0-9\\.]+|nan)"},
               {"Name": "train:loss", "Regex": "loss: ([0-9.eE+-]+)"}]

@pytest.fixture
def aws_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    with moto_aws(monkeypatch, getattr(request, "param", "dynamodb")) as env:
        yield env



def put(env: AwsEnv, stream: str, events: list[tuple[int, str]]) -> None:
    env.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    batch = [{"timestamp": t, "message": m} for t, m in events]
    for start in range(0, len(batch), 5000):  # PutLogEvents takes at most 10,000 events or 1 MB
        env.logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                                logEvents=batch[start:start + 5000])


def test_the_last_value_in_time_wins_over_several_pages_and_streams(aws_env: AwsEnv) -> None:
    base = int(time.time() * 1000) - 3_600_000
    # algo-1 logs 10,050 events: more than one page at the service's default of 10,000.
    put(aws_env, "job-a/algo-1-1700000000", [(base + 2 * i, f"step {i} loss: {10_050 - i} "
                                              f"Validation-accuracy={i / 20000:.5f}") for i in range(10_050)])
    # algo-2 logs less often, and its last accuracy is the newest of all.
    put(aws_env, "job-a/algo-2-1700000000", [(base + 2 * i + 101, f"Validation-accuracy={0.9 + i / 1e6:.6f}")
                                              for i in range(0, 10_050, 1000)] + [(base + 30_000, "done")])
    # Another job's stream with the same prefix up to the slash is not read.
    put(aws_env, "job-ab/algo-1-1700000000", [(base + 40_000, "Validation-accuracy=1.0")])

    metrics = read_job_metrics(aws_env.logs, "job-a", DEFINITIONS)
    assert metrics.streams == 2 and metrics.events == 10_050 + 12
    # algo-1: a page of 10,000, one of 50, then the end-of-stream answer; algo-2: one page, the end.
    assert metrics.pages == 5
    assert metrics.values == {"validation:accuracy": 0.9 + 10_000 / 1e6, "train:loss": 1.0}


def test_small_pages_of_events_and_of_streams(aws_env: AwsEnv) -> None:
    base = int(time.time() * 1000) - 600_000
    for k in range(1, 4):
        put(aws_env, f"job-b/algo-{k}-1", [(base + 10 * i + k, f"loss: {k * 100 + i}") for i in range(23)])
    small = read_job_metrics(aws_env.logs, "job-b", DEFINITIONS, page_size=7, stream_page_size=1)
    whole = read_job_metrics(aws_env.logs, "job-b", DEFINITIONS)
    assert small.values == whole.values == {"train:loss": 322.0}  # algo-3's last line is the newest
    assert small.streams == 3 and small.events == 69
    assert small.pages == 3 * 5  # 23 events: pages of 7, 7, 7, 2, then the end
    # The newest event decides, not the last stream read: algo-1 logs once more, after everyone.
    aws_env.logs.put_log_events(logGroupName=LOG_GROUP, logStreamName="job-b/algo-1-1",
                                logEvents=[{"timestamp": base + 1000, "message": "loss: 7"}])
    assert read_job_metrics(aws_env.logs, "job-b", DEFINITIONS, page_size=7).values == {"train:loss": 7.0}


def test_a_last_value_that_is_not_finite_leaves_the_metric_without_one(aws_env: AwsEnv) -> None:
    base = int(time.time() * 1000) - 600_000
    put(aws_env, "job-c/algo-1-1", [(base, "Validation-accuracy=0.8"), (base + 1, "Validation-accuracy=nan")])
    metrics = read_job_metrics(aws_env.logs, "job-c", DEFINITIONS)
    assert metrics.values == {} and metrics.nonfinite == {"validation:accuracy": "nan"}
    assert metrics.missing_reason("validation:accuracy") == (
        "the last value of metric validation:accuracy was 'nan', not a finite number")
    assert "matched Regex" in metrics.missing_reason("train:loss")


def test_a_job_without_logs_has_no_metrics(aws_env: AwsEnv) -> None:
    assert read_job_metrics(aws_env.logs, "job-never-ran", DEFINITIONS).values == {}
    aws_env.logs.delete_log_group(logGroupName=LOG_GROUP)
    metrics = read_job_metrics(aws_env.logs, "job-never-ran", DEFINITIONS)
    assert (metrics.values, metrics.streams) == ({}, 0)
