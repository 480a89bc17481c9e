"""Early stopping of training jobs: SageMaker's median rule for ``TrainingJobEarlyStoppingType: "Auto"``.

SageMaker documents the rule in "Stop Training Jobs Early"
(https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-early-stopping.html,
"How Early Stopping Works"): after each epoch of a training job, take the objective metric's value;
compute, for every previous training job of the tuning job, the running average of its objective up
to that epoch, and the median of those running averages; stop the job if its value is worse than
that median (lower when maximizing, higher when minimizing).

What the documentation leaves open is decided here, and :func:`check_early_stopping` implements it.
``tests/benchmarks/early_stopping.py`` measured each choice against its alternatives (``--ablation``):

* **Epoch.** The k-th value of the objective metric in the job's log is epoch k (from 1). A
  ``MetricDefinitions`` regex captures a value, not an epoch number, and SageMaker's built-in
  algorithms that support early stopping emit their objective once per epoch. Every matched value
  counts, NaN included, so the numbering never skips. A script that prints the final value once more
  after its last epoch adds one epoch at the end, when there is nothing left to stop.
* **Earlier jobs.** The run's training jobs that have *finished* (``Completed`` or ``Stopped``) when
  the decision is made, with at least one value of the objective; jobs still running and failed
  jobs do not count. The API reference of ``TrainingJobEarlyStoppingType`` says jobs are stopped
  "when they are unlikely to perform better than previously completed training jobs", and the median
  stopping rule of Google Vizier, which the documented rule is, compares with completed trials (so do
  Ray Tune's and NNI's). Counting also the partial curves of jobs started earlier and still running
  saved 4 to 5 points more in the benchmark for the same regret, but makes each decision depend on
  how fresh the other jobs' curves are (a poll interval, on AWS) and on which of the jobs a
  generation starts together counts as earlier.
* **Shorter earlier jobs.** An earlier job with fewer epochs than the current one (a stopped job, a
  smaller ``num_epoch``) counts with the average of all its values: its running average "up to this
  epoch". Leaving them out compares late epochs with the survivors only, so the rule grows harsher
  with every job it stops: it saved more (53 %) but lost the best model where curves cross.
* **Minimum.** One earlier job is enough, as the documentation reads: the median of one running
  average is that average. Waiting for 3 (Ray Tune's ``min_samples_required``) or 5 changes nothing
  when 3 or more jobs run at once, and with one job at a time saved less without finding better
  models. The first jobs of a run, with no finished job before them, always run to their end.
* **The job's value.** Its value at that epoch, not its best so far (that is Vizier's variant).
* **Ties.** A value equal to the median is not worse: the job goes on.
* **Not-a-number.** A NaN or infinite value is worse than any number (a diverged job), and an
  earlier job's running average that took one in is the worst of the running averages.

The rule is biased against jobs that start slow and end best (strongly regularized models, small
steps), as every median rule is. The benchmark's ``sgd-diabetes`` problem shows it over 30 seeds: the
median best MSE found is 0.5 to 1.8 % higher than without early stopping. Neither remedy measured
earns a request option: holding the rule back for the first 5 epochs (``min_epochs``; a ``MinEpochs``
option, like Ray Tune's ``grace_period``) kept those jobs with 3 jobs at a time but not with one, for
8 to 9 points of the saving; stopping only jobs worse than 60 or 75 % of the earlier ones
(``stop_fraction``, Syne Tune's ``rank_cutoff``) did not keep them at 60 % and saved 23 % at 75 %.

A job the rule stops ends ``Stopped`` with the reason :data:`EARLY_STOPPED` and keeps its last
objective value as its result, as SageMaker does: :class:`EarlyStopped` is what a driver records.

Each trial's curve is stored with the trial as a :class:`Curve`, at most :data:`MAX_POINTS` points:
a DynamoDB item holds at most 400 KB, and a job may log its objective tens of thousands of times
(every boosting round, every batch). Beyond the cap the curve keeps every ``stride``-th epoch and
the latest one, with the exact running sums there; see :class:`Curve`.

Pure: no I/O. :class:`CurveRecorder` turns a log's metric lines into a curve through
:class:`byohpo.metrics.MetricParser`'s ``on_metric`` callback.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from byohpo.metrics import Definitions, MetricParser
from byohpo.trials import Objective

#: The reason code of a trial the rule stopped (``TrialRecord.failure_reason`` starts with it).
EARLY_STOPPED = "EarlyStopped"
#: The status such a trial ends with.
STOPPED: Literal["Stopped"] = "Stopped"
#: The statuses of earlier trials whose curves the rule compares with.
EARLIER_STATUSES: tuple[str, ...] = ("Completed", "Stopped")
#: Earlier jobs that must count at an epoch before the rule may stop a job there.
MIN_EARLIER_JOBS = 1
#: Points a stored curve keeps at most (about 45 bytes each in JSON: under 25 KB per trial).
MAX_POINTS = 500


# -- the curve -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Curve:
    """A training job's objective values by epoch, with the running sums the rule needs.

    ``points`` are ``(epoch, value, total)``: ``value`` is the epoch's value, ``total`` the sum of
    the values of epochs 1 to ``epoch``; either is None once not finite (a NaN or infinite value,
    then every total after it). Epochs start at 1 and increase. Up to ``max_points`` points every
    epoch is kept (``stride`` 1); beyond, the first ``max_points // 2`` epochs stay (the rule stops
    most jobs early, and compares them with these), and after them every ``stride``-th epoch, plus
    always the latest: each time the cap would be exceeded, the stride doubles. The running average
    at a kept epoch is exact whatever was dropped; between two kept epochs it is the one at the
    earlier of them.

    Build one with :meth:`of` or :meth:`extend` (or a :class:`CurveRecorder`); store it with
    :meth:`to_dict` (JSON: no NaN, non-finite values are ``null``) and read it with :meth:`from_dict`.
    """

    points: tuple[tuple[int, float | None, float | None], ...] = ()
    stride: int = 1
    max_points: int = field(default=MAX_POINTS, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.stride, bool) or not isinstance(self.stride, int) or self.stride < 1:
            raise ValueError(f"stride must be a positive integer, not {self.stride!r}")
        if isinstance(self.max_points, bool) or not isinstance(self.max_points, int) or self.max_points < 2:
            raise ValueError(f"max_points must be an integer of at least 2, not {self.max_points!r}")
        last = 0
        for point in self.points:
            epoch = point[0]
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch <= last:
                raise ValueError(f"epochs must be increasing positive integers, not {epoch!r} after {last}")
            last = epoch

    @classmethod
    def of(cls, values: Iterable[float], *, max_points: int = MAX_POINTS) -> Curve:
        """The curve of a job that reported ``values`` in this order (epochs 1, 2, ...)."""
        return cls(max_points=max_points).extend(values)

    # -- reading -----------------------------------------------------------------------------------
    @property
    def epochs(self) -> int:
        """The number of values the job reported (its last epoch); 0 for an empty curve."""
        return self.points[-1][0] if self.points else 0

    @property
    def last(self) -> float | None:
        """The last value reported, None when there is none or it was not finite."""
        return self.points[-1][1] if self.points else None

    def up_to(self, epoch: int) -> Curve:
        """The curve as it stood at ``epoch``: a job stopped there, or still running."""
        return Curve(self.points[: self._index(epoch) + 1], self.stride, self.max_points)

    def series(self) -> list[tuple[int, float]]:
        """The kept ``(epoch, value)`` pairs, a non-finite value as NaN (for plots and strategies)."""
        return [(e, math.nan if v is None else v) for e, v, _ in self.points]

    def value_at(self, epoch: int) -> float:
        """The value at a kept ``epoch`` (NaN when it was not finite). KeyError if not kept."""
        i = self._index(epoch)
        if i < 0 or self.points[i][0] != epoch:
            raise KeyError(epoch)
        value = self.points[i][1]
        return math.nan if value is None else value

    def _index(self, epoch: int) -> int:
        """The position of the last point at or before ``epoch``; -1 if none."""
        return bisect.bisect_right(self.points, epoch, key=lambda p: p[0]) - 1

    def running_average(self, epoch: int) -> float:
        """The average of the values of epochs 1 to ``epoch``, or of all of them if the curve is
        shorter; NaN when one of them was not finite. Between kept epochs of a thinned curve, the
        average at the last kept epoch before ``epoch``. ValueError for an empty curve."""
        if not self.points:
            raise ValueError("an empty curve has no running average")
        if epoch < 1:
            raise ValueError(f"epochs start at 1, not {epoch}")
        e, _, total = self.points[max(0, self._index(epoch))]
        return math.nan if total is None else total / e

    # -- building ----------------------------------------------------------------------------------
    def extend(self, values: Iterable[float]) -> Curve:
        """The curve with ``values`` appended as the next epochs."""
        points = list(self.points)
        stride = self.stride
        for raw in values:
            value = float(raw)
            epoch, total = (points[-1][0], points[-1][2]) if points else (0, 0.0)
            finite = math.isfinite(value)
            new_total = total + value if finite and total is not None else None
            if new_total is not None and not math.isfinite(new_total):
                new_total = None  # finite values whose sum overflows: as good as diverged
            if points and not self._on_grid(points[-1][0], stride):
                points.pop()  # the previous latest epoch is off the grid: only the newest stays
            points.append((epoch + 1, value if finite else None, new_total))
            if len(points) > self.max_points:
                stride *= 2
                latest = points[-1]
                points = [p for p in points if self._on_grid(p[0], stride)]
                if points[-1] is not latest:
                    points.append(latest)
        return Curve(tuple(points), stride, self.max_points)

    def _on_grid(self, epoch: int, stride: int) -> bool:
        """Is ``epoch`` kept for good? The first half of the cap (the first epochs, where the rule
        stops most jobs) always; after it, every ``stride``-th epoch."""
        head = self.max_points // 2
        return epoch <= head or (epoch - head) % stride == 0

    # -- storing -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"points": [[epoch, value, total], ...], "stride": s}``, JSON-safe."""
        return {"points": [list(p) for p in self.points], "stride": self.stride}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, max_points: int = MAX_POINTS) -> Curve:
        """The curve :meth:`to_dict` wrote; None or ``{}`` is the empty curve. ValueError if malformed."""
        if not data:
            return cls(max_points=max_points)
        try:
            points = tuple((int(e), _number(v), _number(t)) for e, v, t in data.get("points") or ())
            return cls(points, int(data.get("stride", 1)), max_points)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a stored curve: {exc}") from exc


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"not a number: {value!r}")
    number = float(value)  # Decimal from DynamoDB, int, float
    return number if math.isfinite(number) else None


class CurveRecorder:
    """Collects one metric's values from a training log into a :class:`Curve`.

    Pass :meth:`on_metric` as the ``on_metric`` callback of the :class:`~byohpo.metrics.MetricParser`
    that already reads the job's log (the local job runner takes one), or use :meth:`parser` for a
    parser of its own. ``curve`` resumes a stored curve (the AWS poller reads new log events only).
    """

    def __init__(self, metric: str, curve: Curve | None = None, *, max_points: int = MAX_POINTS) -> None:
        self.metric = metric
        self.curve = curve if curve is not None else Curve(max_points=max_points)

    def on_metric(self, name: str, value: float) -> None:
        """MetricParser's callback: every value of the metric is the next epoch."""
        if name == self.metric:
            self.curve = self.curve.extend((value,))

    def parser(self, definitions: Definitions | None) -> MetricParser:
        """A parser of ``MetricDefinitions`` that records into this curve as it reads."""
        return MetricParser(definitions, on_metric=self.on_metric)


def read_curve(log: str | Iterable[str], definitions: Definitions | None, metric: str,
               *, max_points: int = MAX_POINTS) -> Curve:
    """The curve of ``metric`` in a whole log: its text, or its lines (CloudWatch Logs events)."""
    recorder = CurveRecorder(metric, max_points=max_points)
    parser = recorder.parser(definitions)
    if isinstance(log, str):
        parser.feed(log)
        parser.close()
    else:
        for line in log:
            parser.feed_line(line)
    return recorder.curve


# -- the rule --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EarlyStoppingOptions:
    """How the rule is applied. The defaults are SageMaker's rule with the choices of this module.

    The request sets none of them: the alternatives are there to be measured (the benchmark's
    ``--ablation``), and were not better.

    Args:
        min_earlier_jobs: earlier jobs that must count at an epoch before the rule stops anything.
        min_epochs: the first epoch at which the rule may stop a job (1: from the first value on).
        count_shorter: count earlier jobs with fewer epochs, with the average of all their values;
            False leaves them out (NNI's variant).
        stop_fraction: stop a job worse than this fraction of the earlier running averages: 0.5
            is the median; 0.75 stops only jobs in the worst quarter (Syne Tune's ``rank_cutoff``).
    """

    min_earlier_jobs: int = MIN_EARLIER_JOBS
    min_epochs: int = 1
    count_shorter: bool = True
    stop_fraction: float = 0.5

    def __post_init__(self) -> None:
        for name in ("min_earlier_jobs", "min_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        fraction = self.stop_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
            raise ValueError(f"stop_fraction must be a number between 0 and 1, not {fraction!r}")


@dataclass(frozen=True)
class Verdict:
    """The rule's answer at one epoch of a job.

    Args:
        stop: True to stop the job now.
        epoch: the epoch judged (0 when the job has reported nothing yet).
        value: the job's value there, NaN when not finite, None when there is none.
        median: the median of the earlier jobs' running averages there, None when not computed.
        earlier: how many earlier jobs counted there.
        message: the decision for people, with those numbers.
    """

    stop: bool
    epoch: int
    value: float | None
    median: float | None
    earlier: int
    message: str

    @property
    def reason(self) -> str:
        """``EarlyStopped: <message>``: the stopped trial's ``failure_reason``."""
        return f"{EARLY_STOPPED}: {self.message}"


def _oriented(objective: Objective, value: float) -> float:
    """Larger is better; anything not finite is the worst."""
    return objective.sign * value if math.isfinite(value) else -math.inf


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _quantile(ascending: list[float], q: float) -> float:
    """The q-quantile of sorted values, interpolated linearly (numpy's default)."""
    position = q * (len(ascending) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ascending) - 1)
    if ascending[low] == ascending[high] or not math.isfinite(ascending[low]):
        return ascending[low]
    return ascending[low] + (position - low) * (ascending[high] - ascending[low])


def judge_epoch(curve: Curve, epoch: int, earlier: Sequence[Curve], objective: Objective,
                options: EarlyStoppingOptions = EarlyStoppingOptions()) -> Verdict:
    """The rule at one kept ``epoch`` of ``curve`` against the ``earlier`` jobs' curves."""
    value = curve.value_at(epoch)
    averages: list[float] = []
    for other in earlier:
        if other.epochs == 0 or (other.epochs < epoch and not options.count_shorter):
            continue
        averages.append(_oriented(objective, other.running_average(epoch)))
    count = len(averages)
    name = objective.metric
    if epoch < options.min_epochs:
        return Verdict(False, epoch, value, None, count,
                       f"epoch {epoch} is before the first epoch judged ({options.min_epochs})")
    if count < options.min_earlier_jobs:
        if not count:
            return Verdict(False, epoch, value, None, 0, "no earlier training job has finished")
        return Verdict(False, epoch, value, None, count,
                       f"{count} earlier training jobs at epoch {epoch}, fewer than the "
                       f"{options.min_earlier_jobs} the rule needs")
    oriented_median = (statistics.median(averages) if options.stop_fraction == 0.5
                       else _quantile(sorted(averages), 1 - options.stop_fraction))
    median = objective.sign * oriented_median if math.isfinite(oriented_median) else math.nan
    worse = _oriented(objective, value) < oriented_median
    relation = "worse than" if worse else "not worse than"
    message = (f"{name} {_fmt(value)} at epoch {epoch} is {relation} {_fmt(median)}, the median of "
               f"the running averages of {count} earlier training jobs up to epoch {epoch}")
    return Verdict(worse, epoch, value, median, count, message)


def check_early_stopping(curve: Curve, earlier: Iterable[Curve], objective: Objective,
                         options: EarlyStoppingOptions = EarlyStoppingOptions(), *,
                         since_epoch: int | None = None) -> Verdict:
    """Should a running training job stop now? SageMaker's median rule (see the module's docstring).

    Args:
        curve: the job's curve so far.
        earlier: the curves of the run's earlier jobs: finished (:data:`EARLIER_STATUSES`), this
            job excluded. Empty curves are ignored.
        objective: the objective metric and its direction.
        options: how the rule is applied.
        since_epoch: judge every kept epoch after this one, in order, and answer with the first that
            stops the job (a poller that saw several new epochs at once decides as if it had seen
            each as it came); None judges the latest epoch only.

    Returns:
        The verdict at the first epoch that stops the job, else at its latest epoch.
    """
    earlier = [c for c in earlier if c.epochs]
    if not curve.points:
        return Verdict(False, 0, None, None, len(earlier), "no value of the objective yet")
    epochs = [curve.epochs] if since_epoch is None else [e for e, _, _ in curve.points if e > since_epoch]
    verdict: Verdict | None = None
    for epoch in epochs:
        verdict = judge_epoch(curve, epoch, earlier, objective, options)
        if verdict.stop:
            return verdict
    if verdict is None:  # nothing new since since_epoch
        return Verdict(False, curve.epochs, curve.value_at(curve.epochs), None, len(earlier),
                       f"no new epoch after epoch {since_epoch}")
    return verdict


# -- what a driver records ---------------------------------------------------------------------------

@dataclass(frozen=True)
class EarlyStopped:
    """A trial the rule stopped, as the store keeps it: ``Stopped`` with ``failure_reason``
    ``EarlyStopped: ...`` and its last objective values as its result (SageMaker's
    ``FinalMetricDataList`` of a stopped job holds the last values it emitted)."""

    reason: str
    values: dict[str, float] | None
    status: Literal["Stopped"] = STOPPED

    @classmethod
    def of(cls, verdict: Verdict, final_values: Mapping[str, float] | None) -> EarlyStopped:
        """From the verdict that stopped the job and the metric values read when it ended (the
        last value of each metric, as ``MetricParser.values`` gives them: finite only)."""
        if not verdict.stop:
            raise ValueError(f"the verdict did not stop the job: {verdict.message}")
        values = {k: float(v) for k, v in (final_values or {}).items() if math.isfinite(v)}
        return cls(verdict.reason, values or None)


def is_early_stopped(status: str, failure_reason: str | None) -> bool:
    """Did the rule stop this trial? (For the leaderboard, the plot and the summary.)"""
    return status == STOPPED and (failure_reason or "").startswith(EARLY_STOPPED)


__all__ = [
    "EARLIER_STATUSES",
    "EARLY_STOPPED",
    "MAX_POINTS",
    "MIN_EARLIER_JOBS",
    "Curve",
    "CurveRecorder",
    "EarlyStopped",
    "EarlyStoppingOptions",
    "Verdict",
    "check_early_stopping",
    "is_early_stopped",
    "judge_epoch",
    "read_curve",
]
