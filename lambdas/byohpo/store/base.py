"""The store interface: where a run and its trials live between Lambda invocations or engine restarts.

Two implementations, one contract (``tests/store_contract.py`` runs the same tests over both):
``SQLiteStore`` (local, embedded) and a DynamoDB store (AWS).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Self

from byohpo.errors import ByohpoError
from byohpo.store.records import (
    FINISHED_RUN_STATUSES,
    TRIAL_MUTABLE_FIELDS,
    RunRecord,
    TrialRecord,
)
from byohpo.trials import Trial


class StoreError(ByohpoError):
    """Base class of the store's errors."""


class RunExistsError(StoreError):
    """``create_run``: a run of that name exists already (it was left untouched)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"a run named {self.name!r} exists already"


class RunNotFoundError(StoreError):
    """No run of that name."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"no run named {self.name!r}"


class TrialNotFoundError(StoreError):
    """The run has no trial of that id."""

    def __init__(self, name: str, trial_id: str) -> None:
        super().__init__(name, trial_id)
        self.name, self.trial_id = name, trial_id

    def __str__(self) -> str:
        return f"run {self.name!r} has no trial {self.trial_id!r}"


class RunClaimedError(StoreError):
    """``claim_run``/``release_run``: the run is held by someone else, named in ``holder``."""

    def __init__(self, name: str, holder: str | None) -> None:
        super().__init__(name, holder)
        self.name, self.holder = name, holder

    def __str__(self) -> str:
        held = f"is held by {self.holder}" if self.holder else "is not held by anyone"
        return f"run {self.name!r} {held}"


class RunFinishedError(StoreError):
    """``put_generation``: the run was finished (completed, stopped, failed) meanwhile; nothing was
    written. A driver that gets this ends quietly: someone else decided the run is over."""

    def __init__(self, name: str, status: str) -> None:
        super().__init__(name, status)
        self.name, self.status = name, status

    def __str__(self) -> str:
        return f"run {self.name!r} is {self.status}: no new trials"


class ItemTooLargeError(StoreError, ValueError):
    """A record is larger than the store can hold in one item (DynamoDB: 400 KB); nothing was written.
    A ValueError, as it always was; ``size`` and ``limit`` are in bytes."""

    def __init__(self, name: str, what: str, size: int, limit: int) -> None:
        super().__init__(name, what, size, limit)
        self.name, self.what, self.size, self.limit = name, what, size, limit

    def __str__(self) -> str:
        return (f"{self.what} of run {self.name!r} is {self.size:,} bytes, above the store's item limit of "
                f"{self.limit:,}")


class VersionConflictError(StoreError):
    """A conditional write lost: the run (or trial) is not at the version the caller read, or a
    different generation was written under the same number. Nothing was written."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(name, message)
        self.name, self.message = name, message

    def __str__(self) -> str:
        return f"run {self.name!r}: {self.message}"


class Store(ABC):
    """Runs and their trials, with the conditional writes that keep two drivers from one run.

    Guarantees every implementation gives (and the contract tests check):

    * Each operation is atomic: it happens completely or not at all, also when the process dies in
      the middle (SQLite: one transaction; DynamoDB: see ``put_generation``).
    * A failed or refused call changes nothing already stored.
    * Records read are fresh copies: mutating them, or the records you passed in, changes nothing
      stored. Params, meta and values round-trip exactly through JSON (ints stay ints; floats,
      NaN and infinities come back equal; tuples come back as lists).
    * ``create_run`` never overwrites (:class:`RunExistsError`).
    * ``claim_run`` is a compare-and-set on the owner: of several racing claims, exactly one wins.
    * ``put_generation`` is a compare-and-set on the run's version: of several racing writers at the
      same version with different trials, exactly one wins; the others get
      :class:`VersionConflictError`. An identical retry (same generation, same proposals) returns
      the trials already written, as they are now, instead of writing twice. Two drivers proposing
      the same trials from the same history are indistinguishable from a retry; ``claim_run`` is
      what keeps a second driver away. A finished run takes no new trials (:class:`RunFinishedError`).
    * ``get_trials`` orders by (generation, index).
    * ``update_trial`` writes one trial item and leaves the run record alone (no hot item).
    * ``finish_run`` happens once: the first finish wins, later ones return the run unchanged.

    Errors a state machine can branch on by class name: :class:`RunExistsError`,
    :class:`RunNotFoundError`, :class:`TrialNotFoundError`, :class:`RunClaimedError`,
    :class:`RunFinishedError`, :class:`VersionConflictError`. Invalid arguments raise ``ValueError``.
    """

    # -- runs -----------------------------------------------------------------------------------
    @abstractmethod
    def create_run(self, run: RunRecord) -> RunRecord:
        """Store a new run (empty timestamps are stamped now) and return it as stored."""

    @abstractmethod
    def get_run(self, name: str) -> RunRecord:
        """The run, or :class:`RunNotFoundError`."""

    @abstractmethod
    def list_runs(self) -> list[RunRecord]:
        """Every run, ordered by name."""

    @abstractmethod
    def claim_run(self, name: str, owner: str, expected_owner: str | None = None) -> RunRecord:
        """Make ``owner`` the run's holder if its holder is ``expected_owner`` now (None: free), else
        :class:`RunClaimedError` naming the holder. Claiming a run one holds already succeeds, so a
        retried claim is harmless. To take over from a dead holder, pass it as ``expected_owner``."""

    @abstractmethod
    def release_run(self, name: str, owner: str) -> RunRecord:
        """Free the run if ``owner`` holds it (a free run stays free); :class:`RunClaimedError` if
        someone else holds it."""

    @abstractmethod
    def finish_run(self, name: str, status: str, reason: str | None = None,
                   stop_code: str | None = None) -> RunRecord:
        """Set the final status (``Completed``, ``Stopped`` or ``Failed``) and free the run. A run
        already finished is returned unchanged: compare its status to learn whether this call won."""

    # -- trials ---------------------------------------------------------------------------------
    @abstractmethod
    def put_generation(self, name: str, generation: int, trials: Sequence[TrialRecord],
                       expected_version: int) -> list[TrialRecord]:
        """Write a generation's trials and advance the run's version to ``expected_version + 1``.

        The version counts the committed generations, so ``generation`` must equal
        ``expected_version``: generation g is written at version g and commits by moving it to g + 1.
        Conditional on the run being at ``expected_version``, idempotent for an identical retry (see
        the class docstring); returns the generation's trials as stored, by index. The decision is
        :func:`plan_generation`'s, shared by every store.

        A store without multi-item transactions (DynamoDB: at most 100 items each) writes the
        missing trials first, each conditional on not existing, then bumps the version with a
        condition on ``expected_version`` and on the run being ``InProgress``. The bump is the
        commit, and readers show only trials of committed generations (``generation < version``).
        A writer that dies in between leaves an uncommitted partial generation that nobody sees; a
        retry of the same proposals completes it, different ones are refused (that takes a
        non-deterministic strategy, and a person).
        """

    @abstractmethod
    def update_trial(self, name: str, trial_id: str, /, *, expected_attempt: int | None = None,
                     **changes: Any) -> TrialRecord:
        """Change a trial's mutable fields (``TRIAL_MUTABLE_FIELDS``) and return it as stored. With
        ``expected_attempt``, only if the trial is at that attempt (else :class:`VersionConflictError`),
        so a late result of an abandoned attempt cannot overwrite its rerun."""

    @abstractmethod
    def get_trial(self, name: str, trial_id: str) -> TrialRecord:
        """One trial, or :class:`TrialNotFoundError` (:class:`RunNotFoundError` for an unknown run)."""

    @abstractmethod
    def get_trials(self, name: str) -> list[TrialRecord]:
        """Every trial of the run's committed generations, ordered by (generation, index)."""

    # -- shared ---------------------------------------------------------------------------------
    def history(self, name: str) -> list[Trial]:
        """The finished trials as the strategies and stopping rules read them, in history order."""
        return [t.to_trial() for t in self.get_trials(name) if t.finished]

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing to close
        """Release connections; the store is unusable afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- helpers every implementation uses, so that they decide alike -------------------------------
def check_owner(owner: Any) -> str:
    if not isinstance(owner, str) or not owner:
        raise ValueError(f"owner must be a non-empty string, not {owner!r}")
    return owner


def check_finish(status: Any) -> None:
    if status not in FINISHED_RUN_STATUSES:
        raise ValueError(f"status must be one of {', '.join(FINISHED_RUN_STATUSES)}, not {status!r}")


def check_changes(changes: Mapping[str, Any]) -> None:
    """Refuse changes to fields ``update_trial`` may not touch; the values are checked by building the
    changed record."""
    unknown = sorted(set(changes) - set(TRIAL_MUTABLE_FIELDS))
    if unknown:
        raise ValueError(f"update_trial cannot change {', '.join(unknown)}; "
                         f"it changes {', '.join(TRIAL_MUTABLE_FIELDS)}")
    if not changes:
        raise ValueError("update_trial needs at least one change")


def check_generation(name: str, generation: int, trials: Sequence[TrialRecord],
                     expected_version: int) -> None:
    """Refuse a malformed ``put_generation`` call (caller bugs, not conflicts)."""
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise ValueError(f"generation must be a non-negative integer, not {generation!r}")
    if isinstance(expected_version, bool) or not isinstance(expected_version, int) or expected_version < 0:
        raise ValueError(f"expected_version must be a non-negative integer, not {expected_version!r}")
    if generation != expected_version:
        raise ValueError(f"generation {generation} is written at version {generation}, "
                         f"not at expected_version {expected_version}")
    if not trials:
        raise ValueError("a generation needs at least one trial")
    for t in trials:
        if not isinstance(t, TrialRecord):
            raise ValueError(f"trials must be TrialRecords, not {type(t).__name__}")
        if t.run != name or t.generation != generation:
            raise ValueError(f"trial {t.trial_id} belongs to run {t.run!r} generation {t.generation}, "
                             f"not run {name!r} generation {generation}")
        try:
            _canonical(t)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"trial {t.trial_id}: params, meta and hyperparameters must be "
                             f"JSON-serializable: {exc}") from exc
    if len({t.trial_id for t in trials}) != len(trials) or len({t.index for t in trials}) != len(trials):
        raise ValueError("trial ids and indexes must be unique within a generation")


def _canonical(trial: TrialRecord) -> str:
    # Compared as JSON so that a tuple and the list it became in the store are the same proposal.
    return json.dumps(trial.proposal(), sort_keys=True)


def plan_generation(name: str, generation: int, trials: Sequence[TrialRecord], expected_version: int,
                    run: RunRecord, existing: Sequence[TrialRecord]) -> list[TrialRecord] | None:
    """What ``put_generation`` must do, given the run and the ``existing`` trials of that generation as
    stored now.

    Returns the trials still to write, after which the store bumps the version to
    ``expected_version + 1`` conditionally (an empty list: only the bump is missing, a writer died
    between the two); or None when the generation is committed already and identical, so the store
    returns ``existing``. Raises :class:`VersionConflictError` or :class:`RunFinishedError` otherwise.
    """
    version = run.version
    proposed = {t.trial_id: _canonical(t) for t in trials}
    stored = {t.trial_id: _canonical(t) for t in existing}
    if any(proposed.get(tid) != canon for tid, canon in stored.items()):
        raise VersionConflictError(name, f"generation {generation} was written with different trials")
    if version == expected_version:
        if run.finished:
            raise RunFinishedError(name, run.status)
        return [t for t in trials if t.trial_id not in stored]
    if version > expected_version and stored.keys() == proposed.keys():
        return None
    raise VersionConflictError(name, f"expected version {expected_version}, found {version}")
