"""A training job's metrics from its CloudWatch Logs, read with the request's ``MetricDefinitions`` as
SageMaker reads them.

SageMaker writes a job's output to the log group ``/aws/sagemaker/TrainingJobs``, one stream per
instance (and per restart), each named ``<job name>/algo-<n>-<epoch>``. Every stream of the job is read
from its start, every page (``nextToken``) of streams and of events; every regex is applied to every
line, and the last value matched wins, "last" by event time across streams (ties: by stream name, then
position), as ``FinalMetricDataList`` would report it. A last value that is NaN or infinite means the
metric has no value, and says why (``byohpo.metrics``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from byohpo.metrics import MetricDefinition, MetricParser, compile_metric_definitions, missing_metric_reason

LOG_GROUP = "/aws/sagemaker/TrainingJobs"


@dataclass
class LogMetrics:
    """What a job's logs say: final ``values`` (finite), ``nonfinite`` (metric -> the text of a NaN or
    infinite last value), and how much was read."""

    values: dict[str, float] = field(default_factory=dict)
    nonfinite: dict[str, str] = field(default_factory=dict)
    streams: int = 0
    events: int = 0
    pages: int = 0
    definitions: tuple[MetricDefinition, ...] = ()

    def missing_reason(self, name: str) -> str | None:
        """Why metric ``name`` has no value, or None when it has one."""
        if name in self.values:
            return None
        return missing_metric_reason(name, self.definitions, self.nonfinite)


def job_streams(client: Any, job_name: str, *, page_size: int | None = None,
                log_group: str = LOG_GROUP) -> Iterator[str]:
    """Names of the job's log streams (prefix ``<job name>/``), by name, over every page."""
    from botocore.exceptions import ClientError

    kwargs: dict[str, Any] = {"logGroupName": log_group, "logStreamNamePrefix": f"{job_name}/",
                              "orderBy": "LogStreamName"}
    if page_size:
        kwargs["limit"] = page_size
    while True:
        try:
            page = client.describe_log_streams(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return  # no job has logged in this account and Region yet
            raise
        for stream in page.get("logStreams", ()):
            yield stream["logStreamName"]
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return
        kwargs["nextToken"] = token


def stream_events(client: Any, stream: str, *, page_size: int | None = None,
                  log_group: str = LOG_GROUP, counter: LogMetrics | None = None
                  ) -> Iterator[Mapping[str, Any]]:
    """Every event of one stream, oldest first, over every page. CloudWatch Logs says a stream is read
    to its end by answering with the ``nextForwardToken`` it was given."""
    kwargs: dict[str, Any] = {"logGroupName": log_group, "logStreamName": stream, "startFromHead": True}
    if page_size:
        kwargs["limit"] = page_size
    while True:
        page = client.get_log_events(**kwargs)
        if counter is not None:
            counter.pages += 1
        yield from page.get("events", ())
        token = page.get("nextForwardToken")
        if not token or token == kwargs.get("nextToken"):
            return
        kwargs["nextToken"] = token


def new_events(client: Any, stream: str, token: str | None, *, page_size: int | None = None,
               log_group: str = LOG_GROUP,
               max_pages: int = 100) -> tuple[list[Mapping[str, Any]], str | None]:
    """The events of one stream after ``token`` (a ``nextForwardToken`` from an earlier call; None: from
    the stream's start), oldest first, and the token to read on from next time. CloudWatch Logs
    answers the end of a stream with the token it was given; a stream with more than ``max_pages``
    pages of new events is read on at the next call."""
    kwargs: dict[str, Any] = {"logGroupName": log_group, "logStreamName": stream, "startFromHead": True}
    if page_size:
        kwargs["limit"] = page_size
    if token:
        kwargs["nextToken"] = token
    events: list[Mapping[str, Any]] = []
    for _ in range(max_pages):
        page = client.get_log_events(**kwargs)
        events.extend(page.get("events", ()))
        following = page.get("nextForwardToken")
        if not following or following == kwargs.get("nextToken"):
            break
        kwargs["nextToken"] = following
    return events, kwargs.get("nextToken")


def read_job_metrics(client: Any, job_name: str, definitions: Any, *, page_size: int | None = None,
                     stream_page_size: int | None = None, log_group: str = LOG_GROUP) -> LogMetrics:
    """The final value of every metric of ``definitions`` in the logs of training job ``job_name``.

    ``page_size`` and ``stream_page_size`` set the ``limit`` of each GetLogEvents and
    DescribeLogStreams call (None: the service's default, 10,000 events or 1 MB, and 50 streams).
    """
    result = LogMetrics(definitions=compile_metric_definitions(definitions))
    last: dict[str, tuple[tuple[int, int, int], float, str]] = {}
    position: tuple[int, int, int] = (0, 0, 0)

    def seen(name: str, value: float) -> None:
        if name not in last or position >= last[name][0]:
            last[name] = (position, value, repr(value))

    parser = MetricParser(result.definitions, on_metric=seen)
    for s, stream in enumerate(job_streams(client, job_name, page_size=stream_page_size,
                                           log_group=log_group)):
        result.streams += 1
        for e, event in enumerate(stream_events(client, stream, page_size=page_size, log_group=log_group,
                                                counter=result)):
            result.events += 1
            position = (int(event.get("timestamp") or 0), s, e)
            for line in str(event.get("message", "")).splitlines():
                parser.feed_line(line)
    for d in result.definitions:
        if d.name not in last:
            continue
        _, value, text = last[d.name]
        if math.isfinite(value):
            result.values[d.name] = value
        else:
            result.nonfinite[d.name] = text
    return result


def log_reader(client: Any, definitions: Any, **options: Any):  # -> training.LogReader
    """A ``(job_name) -> (values, nonfinite)`` reader for ``byohpo.aws.training.record_outcome``."""
    def read(job_name: str) -> tuple[dict[str, float], dict[str, str]]:
        metrics = read_job_metrics(client, job_name, definitions, **options)
        return metrics.values, metrics.nonfinite

    return read


__all__ = ["LOG_GROUP", "LogMetrics", "job_streams", "log_reader", "new_events", "read_job_metrics",
           "stream_events"]
