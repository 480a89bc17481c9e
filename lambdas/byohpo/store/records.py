"""The records a store keeps: one per run, one per trial. Frozen, JSON-serializable, shared by every
store implementation.

Records own their dicts: the stores hand out fresh records on every read, so changing a dict inside a
record you got changes nothing stored. Floats round-trip exactly (NaN and infinities included, written
as Python's json writes them) and ints stay ints, which matters for integer hyperparameters.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Literal

from byohpo.early_stopping import Curve, is_early_stopped
from byohpo.trials import Trial

RunStatus = Literal["InProgress", "Completed", "Stopped", "Failed"]
TrialStatus = Literal["Pending", "InProgress", "Completed", "Failed", "Stopped"]
RUN_STATUSES: tuple[str, ...] = ("InProgress", "Completed", "Stopped", "Failed")
FINISHED_RUN_STATUSES: tuple[str, ...] = ("Completed", "Stopped", "Failed")
TRIAL_STATUSES: tuple[str, ...] = ("Pending", "InProgress", "Completed", "Failed", "Stopped")
FINISHED_TRIAL_STATUSES: tuple[str, ...] = ("Completed", "Failed", "Stopped")

#: What ``update_trial`` may change. The proposal itself (ids, params, meta, hyperparameters) is fixed
#: once written: it is the history the strategy replays.
TRIAL_MUTABLE_FIELDS: tuple[str, ...] = (
    "status", "values", "failure_reason", "started_at", "ended_at", "attempt", "job_name", "log_path",
    "curve", "watch")


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string with milliseconds: ``2024-05-01T12:00:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def trial_id(generation: int, index: int) -> str:
    """The id of the trial at ``index`` in ``generation``: ``g0003-t0012``. Sortable as text up to 9999
    of each; stores order by the numbers, not the text."""
    return f"g{generation:04d}-t{index:04d}"


_TOKEN = re.compile(r"[A-Za-z0-9]{0,16}")
_TRIAL_ID = re.compile(r"g(\d{4,})-t(\d{4,})")


def parse_trial_id(text: str) -> tuple[int, int] | None:
    """``(generation, index)`` from a trial id, or None if ``text`` is not one. A store keyed by the
    numbers (DynamoDB's ``TRIAL#<generation>#<index>``) finds a trial from its id with this."""
    match = _TRIAL_ID.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    generation, index = int(match[1]), int(match[2])
    return (generation, index) if trial_id(generation, index) == text else None


def _check_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")


def _check_str(name: str, value: Any, optional: bool = True) -> None:
    if (value is None and optional) or (isinstance(value, str) and value):
        return
    raise ValueError(f"{name} must be a non-empty string{' or None' if optional else ''}, not {value!r}")


def _from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    # Keys a newer byohpo may have added are ignored, so an older reader still reads the record.
    names = {f.name for f in fields(cls)}
    return cls(**{k: copy.deepcopy(v) for k, v in data.items() if k in names})


@dataclass(frozen=True)
class RunRecord:
    """A tuning run.

    Args:
        name: the run's name (``HyperParameterTuningJobName``), unique in the store.
        request: the raw tuning request as submitted.
        fingerprint: a digest of the request; a retried Start compares it to adopt its own run.
        status: ``InProgress`` until ``finish_run`` sets ``Completed``, ``Stopped`` or ``Failed``.
        reason: why the run finished, for people.
        stop_code: why the run finished, for programs (a ``byohpo.stopping`` code).
        version: the number of generations written; ``put_generation`` is conditional on it.
        owner: who drives the run (an execution ARN on AWS, ``pid@host`` locally); None when free.
        created_at: ISO-8601 UTC; the store stamps it when empty.
        updated_at: ISO-8601 UTC; the store stamps it on every change to this record.
        token: letters and digits drawn when the run was made, in its training job names (unique per
            account and Region for ever: runs of the same name in another table must not collide);
            empty for runs that need none (local ones) or predate it. Fixed once the run exists.
    """

    name: str
    request: dict[str, Any]
    fingerprint: str
    status: RunStatus = "InProgress"
    reason: str | None = None
    stop_code: str | None = None
    version: int = 0
    owner: str | None = None
    created_at: str = ""
    updated_at: str = ""
    token: str = ""

    def __post_init__(self) -> None:
        _check_str("name", self.name, optional=False)
        if not isinstance(self.token, str) or not _TOKEN.fullmatch(self.token):
            raise ValueError(f"token must be up to 16 letters or digits, not {self.token!r}")
        if not isinstance(self.request, Mapping):
            raise ValueError(f"request must be a dict, not {type(self.request).__name__}")
        if not isinstance(self.fingerprint, str):
            raise ValueError(f"fingerprint must be a string, not {self.fingerprint!r}")
        if self.status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(RUN_STATUSES)}, not {self.status!r}")
        _check_int("version", self.version)
        _check_str("owner", self.owner)
        for name in ("reason", "stop_code", "created_at", "updated_at"):
            if not isinstance(getattr(self, name), str | None):
                raise ValueError(f"{name} must be a string, not {getattr(self, name)!r}")

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_RUN_STATUSES

    def replace(self, **changes: Any) -> RunRecord:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable copy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        return _from_dict(cls, data)


@dataclass(frozen=True)
class TrialRecord:
    """One trial of a run: a candidate the strategy proposed and what became of it.

    Args:
        run: the run's name.
        trial_id: ``trial_id(generation, index)``, checked; :meth:`new` fills it in.
        generation: the generation (propose call) that made it, from 0.
        index: its position in the generation, from 0.
        params: the typed values the strategy proposed.
        meta: the strategy's JSON-serializable notes (a genome, a grid index).
        hyperparameters: what the training job receives, static ones included; strings.
        status: ``Pending`` -> ``InProgress`` -> ``Completed`` | ``Failed`` | ``Stopped``.
        attempt: 0, then one more each time the trial is rerun under a new training job name.
        job_name: the current attempt's training job name.
        values: the objective metrics read from the job; None until known.
        failure_reason: why the job failed or was stopped.
        started_at: ISO-8601 UTC, when the current attempt started.
        ended_at: ISO-8601 UTC, when it finished.
        log_path: the local engine's log file of the current attempt.
        curve: the first objective's values by epoch, as read from the job's log
            (``byohpo.early_stopping.Curve.to_dict()``: at most 500 points, about 25 KB); None until
            read. The local engine keeps every trial's; on AWS, the trials a run with
            ``TrainingJobEarlyStoppingType: "Auto"`` watches have one.
        watch: on AWS, what the Watch Lambda keeps while it watches the job (where it has read the
            log to, the early-stopping verdict that stopped the job, whether the job has ended; see
            ``byohpo.aws.watch``); None elsewhere.
    """

    run: str
    trial_id: str
    generation: int
    index: int
    params: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, str] = field(default_factory=dict)
    status: TrialStatus = "Pending"
    attempt: int = 0
    job_name: str | None = None
    values: dict[str, float] | None = None
    failure_reason: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    log_path: str | None = None
    curve: dict[str, Any] | None = None
    watch: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _check_str("run", self.run, optional=False)
        _check_str("trial_id", self.trial_id, optional=False)
        _check_int("generation", self.generation)
        _check_int("index", self.index)
        _check_int("attempt", self.attempt)
        if self.trial_id != trial_id(self.generation, self.index):
            raise ValueError(f"trial_id must be {trial_id(self.generation, self.index)!r} for generation "
                             f"{self.generation} index {self.index}, not {self.trial_id!r}")
        for name in ("params", "meta", "hyperparameters"):
            if not isinstance(getattr(self, name), Mapping):
                raise ValueError(f"{name} must be a dict, not {getattr(self, name)!r}")
        if any(not isinstance(v, str) for v in self.hyperparameters.values()):
            raise ValueError("hyperparameters must map names to strings")
        if self.status not in TRIAL_STATUSES:
            raise ValueError(f"status must be one of {', '.join(TRIAL_STATUSES)}, not {self.status!r}")
        for name in ("job_name", "failure_reason", "started_at", "ended_at", "log_path"):
            if not isinstance(getattr(self, name), str | None):
                raise ValueError(f"{name} must be a string or None, not {getattr(self, name)!r}")
        for name in ("curve", "watch"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), Mapping):
                raise ValueError(f"{name} must be a dict or None, not {getattr(self, name)!r}")
        if self.curve is not None:
            Curve.from_dict(self.curve)  # ValueError, saying what is wrong, for a malformed curve
        if self.values is not None:
            try:
                # Ints become floats so that every store hands back the same record.
                object.__setattr__(self, "values", {str(k): float(v) for k, v in self.values.items()})
            except (AttributeError, TypeError, ValueError) as exc:
                raise ValueError(f"values must map metric names to numbers: {exc}") from exc

    @classmethod
    def new(cls, run: str, generation: int, index: int, params: Mapping[str, Any],
            **fields: Any) -> TrialRecord:
        """A trial with its id made from its generation and index."""
        return cls(run=run, trial_id=trial_id(generation, index), generation=generation, index=index,
                   params=dict(params), **fields)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_TRIAL_STATUSES

    def replace(self, **changes: Any) -> TrialRecord:
        return replace(self, **changes)

    @property
    def early_stopped(self) -> bool:
        """Did early stopping stop this trial (``Stopped`` with an ``EarlyStopped: ...`` reason)?"""
        return is_early_stopped(self.status, self.failure_reason)

    def learning_curve(self) -> Curve:
        """The stored :attr:`curve` as a :class:`~byohpo.early_stopping.Curve` (empty when none)."""
        return Curve.from_dict(self.curve)

    def to_trial(self) -> Trial:
        """The :class:`byohpo.Trial` strategies and stopping rules read; finished trials only."""
        if not self.finished:
            raise ValueError(f"trial {self.trial_id} is {self.status}, not finished")
        values = None if self.values is None else dict(self.values)
        return Trial(copy.deepcopy(self.params), copy.deepcopy(self.meta), self.status, values,  # type: ignore[arg-type]
                     early_stopped=self.early_stopped)

    def proposal(self) -> dict[str, Any]:
        """The fields fixed at proposal time; a retried ``put_generation`` must match them exactly."""
        return {"trial_id": self.trial_id, "generation": self.generation, "index": self.index,
                "params": self.params, "meta": self.meta, "hyperparameters": self.hyperparameters}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable copy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialRecord:
        return _from_dict(cls, data)

