"""The regexes that read a job's metrics from its CloudWatch Logs when ``FinalMetricDataList`` lacks an
objective, for requests whose algorithm defines its own metrics.

A request for a SageMaker built-in algorithm, or for an algorithm resource (``AlgorithmName``), has no
``MetricDefinitions`` of its own. SageMaker fills ``FinalMetricDataList`` from the algorithm's metric
definitions, so this is the fallback only, and it uses the same regexes, from the first place that has
one for each metric:

1. the request's own ``MetricDefinitions``;
2. the job's ``AlgorithmSpecification.MetricDefinitions`` in ``DescribeTrainingJob``: for a built-in
   algorithm SageMaker lists the algorithm's definitions there;
3. for an ``AlgorithmName``, ``DescribeAlgorithm``'s ``TrainingSpecification.MetricDefinitions`` (one
   call per reader: an algorithm's definitions do not change);
4. the catalog's regexes (``byohpo.algorithms``), for the built-in algorithms it has them for.

AWS calls: ``sagemaker:DescribeTrainingJob`` and, for an ``AlgorithmName``, ``sagemaker:DescribeAlgorithm``
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeAlgorithm.html), whose resource is
the algorithm's ARN (AWS Marketplace algorithms belong to their seller's account).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from byohpo.aws.logs import read_job_metrics
from byohpo.request import TuningRequest

log = logging.getLogger(__name__)


def _merge(definitions: dict[str, str], more: Iterable[Any]) -> None:
    """Add the entries of ``more`` (``{"Name", "Regex"}``) whose metric ``definitions`` lacks."""
    for item in more or ():
        if isinstance(item, Mapping):
            name, regex = item.get("Name"), item.get("Regex")
            if isinstance(name, str) and isinstance(regex, str):
                definitions.setdefault(name, regex)


def _client_error(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError)


class AlgorithmMetricDefinitions:
    """The metric definitions of a request's jobs, looked up as the module docstring says."""

    def __init__(self, request: TuningRequest, sagemaker: Any) -> None:
        self.request = request
        self.sagemaker = sagemaker
        self._algorithm: list[dict[str, str]] | None = None

    def for_job(self, job_name: str, description: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
        """The definitions for ``job_name``; ``description`` is its DescribeTrainingJob answer when the
        caller has it (else it is asked for, when the request's own definitions lack an objective)."""
        found = {n: r for n, r in self.request.metric_definitions}
        wanted = [o.metric for o in self.request.objectives]
        if all(m in found for m in wanted):
            return _as_list(found)
        if description is not None:
            _merge(found, (description.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or [])
        else:
            _merge(found, self._described(job_name))
        if self.request.algorithm_name and not all(m in found for m in wanted):
            _merge(found, self._algorithm_definitions())
        algorithm = self.request.builtin_algorithm
        if algorithm is not None:
            _merge(found, algorithm.metric_definitions())
        return _as_list(found)

    def _described(self, job_name: str) -> list[Any]:
        try:
            desc = self.sagemaker.describe_training_job(TrainingJobName=job_name)
        except Exception as exc:
            if not _client_error(exc):
                raise
            log.warning("could not describe training job %s for its metric definitions: %s", job_name, exc)
            return []
        return list((desc.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or [])

    def _algorithm_definitions(self) -> list[dict[str, str]]:
        if self._algorithm is None:
            try:
                desc = self.sagemaker.describe_algorithm(AlgorithmName=self.request.algorithm_name)
            except Exception as exc:
                if not _client_error(exc):
                    raise
                log.warning("could not describe algorithm %s for its metric definitions: %s",
                            self.request.algorithm_name, exc)
                return []
            self._algorithm = list((desc.get("TrainingSpecification") or {}).get("MetricDefinitions") or [])
        return self._algorithm


def _as_list(definitions: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": n, "Regex": r} for n, r in definitions.items()]


def metric_log_reader(logs: Any, sagemaker: Any, request: TuningRequest,
                      **options: Any):  # -> training.LogReader
    """A ``(job_name) -> (values, nonfinite)`` reader for ``byohpo.aws.training.record_outcome`` that
    reads a job's logs with its algorithm's regexes (see the module docstring); ``options`` go to
    ``byohpo.aws.logs.read_job_metrics``."""
    lookup = AlgorithmMetricDefinitions(request, sagemaker)

    def read(job_name: str) -> tuple[dict[str, float], dict[str, str]]:
        metrics = read_job_metrics(logs, job_name, lookup.for_job(job_name), **options)
        return metrics.values, metrics.nonfinite

    return read


__all__ = ["AlgorithmMetricDefinitions", "metric_log_reader"]
