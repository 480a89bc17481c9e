"""Early stopping on AWS: one look at a running training job, as the Watch Lambda takes it every poll of
a watched Map iteration (``state_machine.training``, ``TrainingJobEarlyStoppingType: "Auto"``).

Each look:

1. reads the job's new log lines from CloudWatch Logs (the streams of its first instance,
   ``<job>/algo-1-<time>``, each from where the last look stopped: a ``nextForwardToken`` per stream,
   stored with the trial), with the request's ``MetricDefinitions`` (or its algorithm's, as Evaluate
   reads them, ``byohpo.aws.algorithm_metrics``);
2. appends the objective's new values to the trial's learning curve and stores both, in one
   conditional write on the trial's attempt (a retried look reads from the stored tokens, so it never
   counts an epoch twice);
3. while the job is ``InProgress``, asks the median rule (``byohpo.early_stopping``) about every new
   epoch, against the curves of the run's trials whose jobs have ended: finished in the store, or
   recorded as ended by their own Watch Lambda (Evaluate records a generation only after its Map, and
   a job of this generation that ended counts from then on, as it does locally);
4. when the rule condemns the job: stores the verdict (``watch.verdict``, ``EarlyStopped: ...``), then
   calls ``StopTrainingJob``. Evaluate tells an early-stopped job from one stopped otherwise (``byohpo
   stop``, Finalize) by that verdict; a job that completes before the stop takes effect is recorded
   ``Completed`` all the same, its verdict unused.

The iteration's training branch makes one more call when the job has ended (``final``): the last log
lines, and the job's end status in ``watch.ended``.

The history events of the child execution bound the watch: each look costs 9 of its 25,000
("Maximum execution history size", https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html),
and SageMaker lets a job run 28 days (``StoppingCondition.MaxRuntimeInSeconds`` at most 2,419,200 s,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StoppingCondition.html). So the wait
between looks is the configured one (60 s by default) until the watch has waited :data:`GROWTH` times
it, then a :data:`GROWTH`-th of the time waited so far: 60 s for 3.3 hours, 7 minutes after a day, 3.4
hours after 28 days: 1,263 looks (11,367 events) to watch a job for its 28 days. After
:data:`MAX_POLLS` looks (18,900 events) the watch ends and the job runs on unwatched; with a configured
wait of 1 s (2,001 looks in 28 days) that is after 28 days, so every job SageMaker lets run is watched
to its end, whatever its ``MaxRuntimeInSeconds``. An INLINE Map's iterations would write all this into
the parent execution's history: Start refuses ``Auto`` there (``byohpo.handlers.start``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from byohpo.aws import training
from byohpo.aws.algorithm_metrics import AlgorithmMetricDefinitions
from byohpo.aws.logs import job_streams, new_events
from byohpo.early_stopping import EARLIER_STATUSES, Curve, CurveRecorder, check_early_stopping
from byohpo.metrics import MetricParser
from byohpo.request import TuningRequest
from byohpo.store.base import Store, VersionConflictError
from byohpo.store.records import RunRecord, TrialRecord

log = logging.getLogger(__name__)

#: Looks after which the watch ends (9 history events each: 18,900 of the child execution's 25,000).
MAX_POLLS = 2_100
#: The wait grows to 1/GROWTH of the time waited so far, once that is longer than the configured wait.
GROWTH = 200
#: Statuses of a job that has ended (DescribeTrainingJob).
ENDED = ("Completed", "Failed", "Stopped")
#: What ``watch.ended`` says of a job that was never created.
MISSING = "Missing"


def next_wait(base: int, waited: int) -> int:
    """Seconds to wait before the next look, after ``waited`` seconds of watching: ``base`` at first,
    then a :data:`GROWTH`-th of the time waited (see the module docstring)."""
    return max(base, math.ceil(waited / GROWTH))


@dataclass(frozen=True)
class Poll:
    """The watch's place in its loop, carried in the state machine: ``base``, the configured wait;
    ``seconds`` waited before this look; ``count`` looks before this one; ``waited`` seconds waited
    before those."""

    base: int
    seconds: int
    count: int = 0
    waited: int = 0

    @classmethod
    def of(cls, raw: Any) -> Poll:
        """From the state machine's ``{base, seconds, count, waited}``; ValueError if malformed."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"poll must be an object {{base, seconds, count, waited}}, not {raw!r}")
        values = [raw.get(k, 0) for k in ("base", "seconds", "count", "waited")]
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values) \
                or min(values[:2]) < 1:
            raise ValueError(f"poll needs base and seconds >= 1, count and waited >= 0, not {dict(raw)!r}")
        return cls(*values)

    def answer(self, done: bool, **facts: Any) -> dict[str, Any]:
        """The Lambda's answer: the next poll (``base``, ``seconds``, ``count``, ``waited``), ``done``
        (also once :data:`MAX_POLLS` looks are taken) and ``facts``."""
        waited, count = self.waited + self.seconds, self.count + 1
        return {"base": self.base, "seconds": next_wait(self.base, waited), "count": count, "waited": waited,
                "done": done or count >= MAX_POLLS, **facts}


def watch(store: Store, request: TuningRequest, run: RunRecord, trial_id: str, job_name: str, *,
          sagemaker: Any, logs: Any, poll: Poll | None = None, final: bool = False) -> dict[str, Any]:
    """One look at the job of ``trial_id`` (see the module docstring); ``final`` is the training
    branch's call once the job has ended. Returns ``poll.answer(...)`` (``{"done": True}`` for final)."""
    def answer(done: bool, **facts: Any) -> dict[str, Any]:
        if poll is None:
            return {"done": True, **facts}
        return poll.answer(done, **facts)

    if run.finished or not request.early_stopping:
        return answer(True, note=f"run {run.name} is {run.status}" if run.finished
                      else "early stopping is Off")
    trial = store.get_trial(run.name, trial_id)
    if trial.job_name != job_name or trial.finished:
        return answer(True, note=f"trial {trial_id} has moved on ({trial.status}, {trial.job_name})")
    desc = training.describe(sagemaker, job_name)
    if desc is None:  # not created yet (the create is retried), or never will be
        if final:
            _store(store, trial, trial.learning_curve(), {**(trial.watch or {}), "ended": MISSING})
        return answer(final, status=MISSING, epochs=0)
    status = str(desc.get("TrainingJobStatus"))
    notes = dict(trial.watch or {})
    before = trial.learning_curve()
    curve, notes["streams"] = _read(logs, request, sagemaker, job_name, desc, before, notes.get("streams"))
    if final or status in ENDED:
        notes["ended"] = status
        trial = _store(store, trial, curve, notes)
        return answer(True, status=status, epochs=curve.epochs)
    if status != "InProgress" or notes.get("verdict"):  # Stopping: someone asked already
        _store(store, trial, curve, notes)
        return answer(True, status=status, epochs=curve.epochs)
    verdict = check_early_stopping(curve, earlier_curves(store, run, trial), request.objectives[0],
                                   since_epoch=before.epochs)
    if not verdict.stop:
        _store(store, trial, curve, notes)
        return answer(False, status=status, epochs=curve.epochs)
    # The verdict first: Evaluate must find it once the job is Stopped.
    trial = _store(store, trial, curve, {**notes, "verdict": verdict.reason})
    log.info("run %s: stopping training job %s: %s", run.name, job_name, verdict.reason)
    stopped = _stop(sagemaker, job_name)
    if not stopped:
        _store(store, trial, curve, notes)  # not stopped: no verdict stands for it
        return answer(False, status=status, epochs=curve.epochs, stop_failed=True)
    return answer(True, status="Stopping", epochs=curve.epochs, stopped=verdict.reason)


def earlier_curves(store: Store, run: RunRecord, trial: TrialRecord) -> list[Curve]:
    """The learning curves the rule compares ``trial`` with: of the run's other trials whose jobs have
    ended Completed or Stopped, as the store records them (finished trials), or as their own watch
    did (a job of this generation that ended before Evaluate recorded it)."""
    out = []
    for other in store.get_trials(run.name):
        if other.trial_id == trial.trial_id or not other.curve:
            continue
        status = other.status if other.finished else (other.watch or {}).get("ended")
        if status in EARLIER_STATUSES:
            out.append(other.learning_curve())
    return out


def _read(logs: Any, request: TuningRequest, sagemaker: Any, job_name: str, desc: Mapping[str, Any],
          curve: Curve, tokens: Any) -> tuple[Curve, dict[str, str]]:
    """The curve with the objective's values in the job's new log lines, and the tokens to read on."""
    positions = dict(tokens) if isinstance(tokens, Mapping) else {}
    definitions = AlgorithmMetricDefinitions(request, sagemaker).for_job(job_name, desc)
    recorder = CurveRecorder(request.objectives[0].metric, curve)
    parser = MetricParser(definitions, on_metric=recorder.on_metric)
    for stream in primary_streams(list(job_streams(logs, job_name)), job_name):
        events, token = new_events(logs, stream, positions.get(stream))
        for event in events:
            for line in str(event.get("message", "")).splitlines():
                parser.feed_line(line)
        if token:
            positions[stream] = token
    return recorder.curve, positions


def primary_streams(streams: Sequence[str], job_name: str) -> list[str]:
    """The log streams of the job's first instance, in order: ``<job>/algo-1-<time>`` (a new one for
    each restart of a Spot job). Each instance of a distributed job logs its own epochs; one
    instance's are the job's curve."""
    def host(stream: str) -> str:
        return stream[len(job_name) + 1:].rsplit("-", 1)[0]

    ordered = sorted(streams)
    if not ordered:
        return []
    first = min(host(s) for s in ordered)
    return [s for s in ordered if host(s) == first]


def _store(store: Store, trial: TrialRecord, curve: Curve, notes: Mapping[str, Any]) -> TrialRecord:
    """Write the curve and the notes, if this attempt is still the trial's (else leave it: it moved on)."""
    try:
        return store.update_trial(trial.run, trial.trial_id, expected_attempt=trial.attempt,
                                  curve=curve.to_dict() if curve.points else None, watch=dict(notes))
    except VersionConflictError:
        log.info("run %s: trial %s moved on; nothing stored", trial.run, trial.trial_id)
        return trial


def _stop(sagemaker: Any, job_name: str) -> bool:
    """StopTrainingJob; True when the job is stopping or has ended (a job that completed between the
    look and the stop: SageMaker refuses with ValidationException, and Evaluate records it Completed)."""
    from botocore.exceptions import ClientError

    try:
        sagemaker.stop_training_job(TrainingJobName=job_name)
        return True
    except ClientError as exc:
        desc = training.describe(sagemaker, job_name)
        status = None if desc is None else desc.get("TrainingJobStatus")
        if status in ENDED or status == "Stopping":
            log.info("training job %s is %s already: %s", job_name, status, exc)
            return True
        log.warning("could not stop training job %s: %s", job_name, exc)
        return False


__all__ = ["ENDED", "GROWTH", "MAX_POLLS", "MISSING", "Poll", "earlier_curves", "next_wait",
           "primary_streams", "watch"]
