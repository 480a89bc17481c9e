"""The store contract: one suite that every ``byohpo.store.Store`` implementation passes.

``tests/test_store_contract.py`` runs it over each store through two fixtures: ``store`` (a fresh,
empty store) and ``open_store`` (a factory opening another store object over the same data, for the
races and for "another process sees it"). Races use threads, one store object each, so that a store
emulated in-process (DynamoDB under moto) runs them too.
"""

from __future__ import annotations

import copy
import json
import math
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from byohpo import Objective, Trial
from byohpo.early_stopping import Curve
from byohpo.store import (
    RunClaimedError,
    RunExistsError,
    RunFinishedError,
    RunNotFoundError,
    RunRecord,
    Store,
    TrialNotFoundError,
    TrialRecord,
    VersionConflictError,
)

REQUEST = {"HyperParameterTuningJobName": "run-a",
           "HyperParameterTuningJobConfig": {"Strategy": "ga", "StrategyConfig": {"Seed": 7},
                                             "ResourceLimits": {"MaxNumberOfTrainingJobs": 30}},
           "TrainingJobDefinition": {"StaticHyperParameters": {"batch_size": "100"}}}


def new_run(name: str = "run-a", **fields: Any) -> RunRecord:
    return RunRecord(name=name, request=copy.deepcopy(REQUEST), fingerprint="sha256:abc", **fields)


def make_trials(name: str, generation: int, n: int, *, salt: float = 0.0) -> list[TrialRecord]:
    out = []
    for i in range(n):
        params = {"learning_rate": 0.01 * (i + 1) + salt, "num_epoch": 10 + i, "activation": "relu"}
        out.append(TrialRecord.new(
            name, generation, i, params, meta={"genome": [0.1 * i, 0.5, salt], "generation": generation},
            hyperparameters={k: str(v) for k, v in params.items()},
            job_name=f"{name}-g{generation}-t{i}-a0"))
    return out


def race(n: int, open_store: Callable[[], Store], call: Callable[[Store, int], Any]) -> list[Any]:
    """Run ``call(store_i, i)`` in n threads at once, one store object each; return results or
    exceptions, by i."""
    stores = [open_store() for _ in range(n)]
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = call(stores[i], i)
        except Exception as exc:  # the outcome under test
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def snapshot(store: Store) -> str:
    """Everything stored, as comparable text (NaN-safe)."""
    runs = [r.to_dict() for r in store.list_runs()]
    trials = {r["name"]: [t.to_dict() for t in store.get_trials(r["name"])] for r in runs}
    return json.dumps({"runs": runs, "trials": trials}, sort_keys=True)


def is_iso_utc(text: str) -> bool:
    return text.endswith("Z") and datetime.fromisoformat(text.replace("Z", "+00:00")).utcoffset() is not None


class StoreContract:
    """Subclass this in a test module that defines the ``store`` and ``open_store`` fixtures."""

    # -- create / get / list ------------------------------------------------------------------
    def test_create_and_get_round_trip(self, store: Store) -> None:
        created = store.create_run(new_run(owner="exec-1"))
        assert (created.status, created.version, created.owner, created.reason, created.stop_code) \
            == ("InProgress", 0, "exec-1", None, None)
        assert is_iso_utc(created.created_at) and created.updated_at == created.created_at
        got = store.get_run("run-a")
        assert got == created
        assert got.request == REQUEST and got.fingerprint == "sha256:abc"

    def test_create_keeps_given_timestamps(self, store: Store) -> None:
        created = store.create_run(new_run(created_at="2024-01-02T03:04:05.000Z",
                                           updated_at="2024-01-02T03:04:06.000Z"))
        assert (created.created_at, created.updated_at) == ("2024-01-02T03:04:05.000Z",
                                                            "2024-01-02T03:04:06.000Z")

    def test_create_never_overwrites(self, store: Store) -> None:
        store.create_run(new_run(owner="exec-1"))
        store.put_generation("run-a", 0, make_trials("run-a", 0, 2), expected_version=0)
        before = snapshot(store)
        other = RunRecord(name="run-a", request={"other": True}, fingerprint="sha256:zzz", owner="exec-2")
        with pytest.raises(RunExistsError, match="run-a"):
            store.create_run(other)
        assert snapshot(store) == before

    def test_unknown_run_everywhere(self, store: Store) -> None:
        store.create_run(new_run())
        calls = [lambda: store.get_run("nope"), lambda: store.claim_run("nope", "me"),
                 lambda: store.release_run("nope", "me"), lambda: store.finish_run("nope", "Completed"),
                 lambda: store.put_generation("nope", 0, make_trials("nope", 0, 1), 0),
                 lambda: store.update_trial("nope", "g0000-t0000", status="InProgress"),
                 lambda: store.get_trial("nope", "g0000-t0000"), lambda: store.get_trials("nope"),
                 lambda: store.history("nope")]
        for call in calls:
            with pytest.raises(RunNotFoundError, match="nope"):
                call()
        assert [r.name for r in store.list_runs()] == ["run-a"]

    def test_list_runs_by_name(self, store: Store) -> None:
        assert store.list_runs() == []
        for name in ["b-run", "a-run", "c-run", "a-run-2"]:
            store.create_run(new_run(name))
        assert [r.name for r in store.list_runs()] == ["a-run", "a-run-2", "b-run", "c-run"]
        assert store.list_runs()[0] == store.get_run("a-run")

    def test_another_store_object_sees_the_writes(self, store: Store, open_store) -> None:
        store.create_run(new_run())
        store.put_generation("run-a", 0, make_trials("run-a", 0, 3), 0)
        other = open_store()
        assert other.get_run("run-a") == store.get_run("run-a")
        assert other.get_trials("run-a") == store.get_trials("run-a")

    # -- claim / release ------------------------------------------------------------------------
    def test_claim_a_free_run_then_refuse_others(self, store: Store) -> None:
        store.create_run(new_run())
        claimed = store.claim_run("run-a", "exec-1", None)
        assert claimed.owner == "exec-1" and store.get_run("run-a").owner == "exec-1"
        assert claimed.version == 0 and claimed.status == "InProgress"
        with pytest.raises(RunClaimedError, match="exec-1") as info:
            store.claim_run("run-a", "exec-2", None)
        assert info.value.holder == "exec-1" and type(info.value).__name__ == "RunClaimedError"
        with pytest.raises(RunClaimedError):
            store.claim_run("run-a", "exec-2", "exec-0")  # a stale idea of the holder
        assert store.get_run("run-a").owner == "exec-1"

    def test_claim_takes_over_from_the_expected_holder(self, store: Store) -> None:
        store.create_run(new_run(owner="123@host"))
        assert store.claim_run("run-a", "456@host", expected_owner="123@host").owner == "456@host"
        with pytest.raises(RunClaimedError, match="456@host"):
            store.claim_run("run-a", "789@host", expected_owner="123@host")

    def test_a_retried_claim_by_the_holder_succeeds(self, store: Store) -> None:
        store.create_run(new_run())
        first = store.claim_run("run-a", "exec-1")
        assert store.claim_run("run-a", "exec-1") == first

    def test_release(self, store: Store) -> None:
        store.create_run(new_run(owner="exec-1"))
        with pytest.raises(RunClaimedError, match="exec-1"):
            store.release_run("run-a", "exec-2")
        assert store.get_run("run-a").owner == "exec-1"
        assert store.release_run("run-a", "exec-1").owner is None
        assert store.release_run("run-a", "exec-1").owner is None  # already free: no-op
        assert store.claim_run("run-a", "exec-2").owner == "exec-2"

    def test_claim_refuses_an_empty_owner(self, store: Store) -> None:
        store.create_run(new_run())
        for bad in ["", None]:
            with pytest.raises(ValueError):
                store.claim_run("run-a", bad)  # type: ignore[arg-type]
        assert store.get_run("run-a").owner is None

    def test_claim_race_has_exactly_one_winner(self, store: Store, open_store) -> None:
        store.create_run(new_run())
        results = race(6, open_store, lambda s, i: s.claim_run("run-a", f"exec-{i}", None))
        winners = [r for r in results if isinstance(r, RunRecord)]
        losers = [r for r in results if isinstance(r, RunClaimedError)]
        assert len(winners) == 1 and len(losers) == 5, results
        assert all(e.holder == winners[0].owner for e in losers)
        assert store.get_run("run-a").owner == winners[0].owner

    def test_create_race_has_exactly_one_winner(self, store: Store, open_store) -> None:
        results = race(6, open_store, lambda s, i: s.create_run(new_run(owner=f"exec-{i}")))
        winners = [r for r in results if isinstance(r, RunRecord)]
        assert len(winners) == 1 and sum(isinstance(r, RunExistsError) for r in results) == 5, results
        assert store.get_run("run-a") == winners[0]

    # -- finish ---------------------------------------------------------------------------------
    def test_finish_sets_the_outcome_and_frees_the_run(self, store: Store) -> None:
        store.create_run(new_run(owner="exec-1"))
        done = store.finish_run("run-a", "Completed", "30 training jobs finished", "MaxNumberOfTrainingJobs")
        assert (done.status, done.reason, done.stop_code, done.owner, done.finished) == \
            ("Completed", "30 training jobs finished", "MaxNumberOfTrainingJobs", None, True)
        assert store.get_run("run-a") == done

    def test_the_first_finish_wins(self, store: Store) -> None:
        store.create_run(new_run())
        first = store.finish_run("run-a", "Stopped", "stopped by the user")
        assert store.finish_run("run-a", "Completed", "budget", "MaxNumberOfTrainingJobs") == first
        assert store.get_run("run-a") == first

    def test_finish_refuses_a_bad_status(self, store: Store) -> None:
        store.create_run(new_run())
        before = snapshot(store)
        for bad in ["InProgress", "Done", None]:
            with pytest.raises(ValueError):
                store.finish_run("run-a", bad)  # type: ignore[arg-type]
        assert snapshot(store) == before

    # -- put_generation -------------------------------------------------------------------------
    def test_put_generation_writes_and_advances_the_version(self, store: Store) -> None:
        store.create_run(new_run())
        trials = make_trials("run-a", 0, 4)
        written = store.put_generation("run-a", 0, list(reversed(trials)), expected_version=0)
        assert written == trials  # by index, whatever the order given
        assert store.get_run("run-a").version == 1
        assert store.get_trials("run-a") == trials
        store.put_generation("run-a", 1, make_trials("run-a", 1, 2), expected_version=1)
        assert store.get_run("run-a").version == 2
        assert [t.trial_id for t in store.get_trials("run-a")] == \
            ["g0000-t0000", "g0000-t0001", "g0000-t0002", "g0000-t0003", "g0001-t0000", "g0001-t0001"]

    def test_get_trials_orders_by_generation_then_index_as_numbers(self, store: Store) -> None:
        store.create_run(new_run())
        indexes = [10000, 2, 9999, 0, 10, 9]  # "g0000-t10000" sorts before "g0000-t2" as text
        for generation in range(3):
            trials = [TrialRecord.new("run-a", generation, i, {"i": i}) for i in indexes]
            store.put_generation("run-a", generation, trials, generation)
        got = [(t.generation, t.index) for t in store.get_trials("run-a")]
        assert got == [(g, i) for g in range(3) for i in sorted(indexes)]
        assert store.get_trial("run-a", "g0002-t10000").params == {"i": 10000}

    def test_put_generation_at_a_stale_version_writes_nothing(self, store: Store) -> None:
        store.create_run(new_run())
        store.put_generation("run-a", 0, make_trials("run-a", 0, 3), 0)
        before = snapshot(store)
        with pytest.raises(VersionConflictError):
            store.put_generation("run-a", 0, make_trials("run-a", 0, 3, salt=1.0), 0)
        with pytest.raises(VersionConflictError):
            store.put_generation("run-a", 2, make_trials("run-a", 2, 3), 2)  # from the future
        assert snapshot(store) == before

    def test_an_identical_retry_returns_what_was_written(self, store: Store) -> None:
        store.create_run(new_run())
        trials = make_trials("run-a", 0, 3)
        first = store.put_generation("run-a", 0, trials, 0)
        store.update_trial("run-a", "g0000-t0001", status="InProgress", started_at="2024-01-01T00:00:00.000Z")
        retry = store.put_generation("run-a", 0, trials, 0)
        assert store.get_run("run-a").version == 1
        assert retry == store.get_trials("run-a") and retry[1].status == "InProgress"
        assert [t.proposal() for t in retry] == [t.proposal() for t in first]
        # ...also after the run moved on, and with tuples where the store gave lists back.
        store.put_generation("run-a", 1, make_trials("run-a", 1, 2), 1)
        tupled = [t.replace(meta={**t.meta, "genome": tuple(t.meta["genome"])}) for t in trials]
        assert store.put_generation("run-a", 0, tupled, 0) == store.get_trials("run-a")[:3]
        assert store.get_run("run-a").version == 2 and len(store.get_trials("run-a")) == 5

    def test_a_different_retry_is_refused_and_changes_nothing(self, store: Store) -> None:
        store.create_run(new_run())
        trials = make_trials("run-a", 0, 3)
        store.put_generation("run-a", 0, trials, 0)
        before = snapshot(store)
        changed = [trials[0], trials[1].replace(params={**trials[1].params, "num_epoch": 99}), trials[2]]
        fewer, more = trials[:2], [*trials, *make_trials("run-a", 0, 4)[3:]]
        for attempt in (changed, fewer, more):
            with pytest.raises(VersionConflictError):
                store.put_generation("run-a", 0, attempt, 0)
        assert snapshot(store) == before

    def test_a_finished_run_takes_no_new_generation(self, store: Store) -> None:
        store.create_run(new_run())
        trials = make_trials("run-a", 0, 2)
        store.put_generation("run-a", 0, trials, 0)
        store.finish_run("run-a", "Stopped", "stopped by the user")
        before = snapshot(store)
        with pytest.raises(RunFinishedError, match="Stopped") as info:
            store.put_generation("run-a", 1, make_trials("run-a", 1, 2), 1)
        assert type(info.value).__name__ == "RunFinishedError"
        assert store.put_generation("run-a", 0, trials, 0) == trials  # a late retry still answers
        assert snapshot(store) == before

    def test_put_generation_refuses_malformed_calls(self, store: Store) -> None:
        store.create_run(new_run())
        good = make_trials("run-a", 0, 3)
        bad_calls = [
            (0, [], 0),                                              # empty
            (1, make_trials("run-a", 1, 2), 0),                      # generation is not the version
            (0, make_trials("run-b", 0, 2), 0),                      # another run's trials
            (0, [good[0], make_trials("run-a", 1, 2)[1]], 0),        # another generation's trial
            (0, [good[0], good[0]], 0),                              # duplicate id
            (0, [good[0].to_dict()], 0),                             # not a record
            (0, [good[0].replace(meta={"x": object()})], 0),         # not JSON
            (-1, good, -1),
        ]
        for generation, trials, version in bad_calls:
            with pytest.raises(ValueError):
                store.put_generation("run-a", generation, trials, version)  # type: ignore[arg-type]
        assert store.get_trials("run-a") == [] and store.get_run("run-a").version == 0

    def test_put_generation_race_has_exactly_one_winner(self, store: Store, open_store) -> None:
        store.create_run(new_run())
        results = race(6, open_store,
                       lambda s, i: s.put_generation("run-a", 0, make_trials("run-a", 0, 5, salt=i), 0))
        winners = [i for i, r in enumerate(results) if isinstance(r, list)]
        assert len(winners) == 1, results
        assert sum(isinstance(r, VersionConflictError) for r in results) == 5, results
        assert store.get_run("run-a").version == 1
        assert store.get_trials("run-a") == make_trials("run-a", 0, 5, salt=winners[0])

    def test_identical_racing_writes_write_once(self, store: Store, open_store) -> None:
        store.create_run(new_run())
        trials = make_trials("run-a", 0, 5)
        results = race(6, open_store, lambda s, i: s.put_generation("run-a", 0, trials, 0))
        assert all(r == trials for r in results), results
        assert store.get_run("run-a").version == 1 and store.get_trials("run-a") == trials

    # -- update_trial / get_trial ---------------------------------------------------------------
    def test_update_trial_through_its_life(self, store: Store) -> None:
        store.create_run(new_run())
        store.put_generation("run-a", 0, make_trials("run-a", 0, 2), 0)
        running = store.update_trial("run-a", "g0000-t0001", status="InProgress",
                                     started_at="2024-01-01T00:00:00.000Z", log_path="runs/a/t1.log")
        assert (running.status, running.started_at, running.log_path) == \
            ("InProgress", "2024-01-01T00:00:00.000Z", "runs/a/t1.log")
        done = store.update_trial("run-a", "g0000-t0001", status="Completed", values={"acc": 1},
                                  ended_at="2024-01-01T00:10:00.000Z")
        assert done.values == {"acc": 1.0} and isinstance(done.values["acc"], float)
        assert done.started_at == "2024-01-01T00:00:00.000Z" and done.log_path == "runs/a/t1.log"
        assert store.get_trial("run-a", "g0000-t0001") == done
        assert store.get_trials("run-a")[0].status == "Pending"  # its sibling is untouched
        assert done.params == make_trials("run-a", 0, 2)[1].params

    def test_rerun_under_a_new_attempt_guards_against_the_old_one(self, store: Store) -> None:
        store.create_run(new_run())
        store.put_generation("run-a", 0, make_trials("run-a", 0, 1), 0)
        store.update_trial("run-a", "g0000-t0000", status="InProgress")
        rerun = store.update_trial("run-a", "g0000-t0000", expected_attempt=0, attempt=1,
                                   job_name="run-a-g0-t0-a1", status="Pending", started_at=None)
        assert (rerun.attempt, rerun.job_name, rerun.status) == (1, "run-a-g0-t0-a1", "Pending")
        before = snapshot(store)
        with pytest.raises(VersionConflictError, match="attempt 1"):
            store.update_trial("run-a", "g0000-t0000", expected_attempt=0, status="Failed",
                               failure_reason="late result of attempt 0")
        assert snapshot(store) == before
        final = store.update_trial("run-a", "g0000-t0000", expected_attempt=1, status="Failed")
        assert (final.status, final.attempt) == ("Failed", 1)

    def test_update_trial_refuses_bad_changes_and_changes_nothing(self, store: Store) -> None:
        store.create_run(new_run())
        store.put_generation("run-a", 0, make_trials("run-a", 0, 1), 0)
        before = snapshot(store)
        bad = [{"params": {"x": 1}}, {"meta": {}}, {"trial_id": "x"}, {"generation": 3}, {"nope": 1},
               {"status": "Done"}, {"attempt": -1}, {"values": {"acc": "high"}}, {"failure_reason": {"a": 1}},
               {"started_at": 5}, {}]
        for changes in bad:
            with pytest.raises(ValueError):
                store.update_trial("run-a", "g0000-t0000", **changes)
        assert snapshot(store) == before

    def test_unknown_trial(self, store: Store) -> None:
        store.create_run(new_run())
        store.put_generation("run-a", 0, make_trials("run-a", 0, 1), 0)
        with pytest.raises(TrialNotFoundError, match="g0000-t0009"):
            store.get_trial("run-a", "g0000-t0009")
        for bad_id in ["g0000-t0009", "g1-t1", "nonsense", ""]:
            with pytest.raises(TrialNotFoundError):
                store.update_trial("run-a", bad_id, status="Failed")
            with pytest.raises(TrialNotFoundError):
                store.get_trial("run-a", bad_id)
        assert store.get_trials("run-a") == make_trials("run-a", 0, 1)

    def test_trials_of_a_finished_run_can_still_be_updated(self, store: Store) -> None:
        store.create_run(new_run())
        store.put_generation("run-a", 0, make_trials("run-a", 0, 1), 0)
        store.finish_run("run-a", "Stopped", "stopped by the user")
        assert store.update_trial("run-a", "g0000-t0000", status="Stopped").status == "Stopped"

    def test_history_is_the_finished_trials_in_order(self, store: Store) -> None:
        store.create_run(new_run())
        trials = make_trials("run-a", 0, 4)
        store.put_generation("run-a", 0, trials, 0)
        store.update_trial("run-a", trials[2].trial_id, status="Completed", values={"acc": 0.9})
        store.update_trial("run-a", trials[0].trial_id, status="Failed", failure_reason="OOM")
        store.update_trial("run-a", trials[1].trial_id, status="InProgress")
        assert store.history("run-a") == [
            Trial(trials[0].params, trials[0].meta, "Failed", None),
            Trial(trials[2].params, trials[2].meta, "Completed", {"acc": 0.9})]

    # -- learning curves and early stopping -------------------------------------------------------
    def test_a_curve_and_the_watchers_notes_round_trip_and_change(self, store: Store) -> None:
        store.create_run(new_run())
        store.put_generation("run-a", 0, make_trials("run-a", 0, 1), 0)
        fresh = store.get_trial("run-a", "g0000-t0000")
        assert (fresh.curve, fresh.watch) == (None, None)
        curve = Curve.of([0.5, math.nan, 0.25, 1e-300, 0.1 + 0.2])
        watch = {"streams": {"job/algo-1-1714560000": "f/3849...=="}, "verdict": None, "ended": False}
        store.update_trial("run-a", "g0000-t0000", status="InProgress", curve=curve.to_dict(), watch=watch)
        got = store.get_trial("run-a", "g0000-t0000")
        assert got.curve == curve.to_dict() and got.learning_curve() == curve and got.watch == watch
        longer = curve.extend([0.9] * 600)  # thinned to MAX_POINTS, stride and exact sums kept
        store.update_trial("run-a", "g0000-t0000", curve=longer.to_dict(), watch={**watch, "ended": True})
        got = store.get_trial("run-a", "g0000-t0000")
        assert got.learning_curve() == longer and got.watch["ended"] is True
        assert got.status == "InProgress"  # a change of the curve leaves the other fields alone
        store.update_trial("run-a", "g0000-t0000", curve=None, watch=None)
        assert store.get_trial("run-a", "g0000-t0000").curve is None

    def test_a_malformed_curve_is_refused_and_nothing_changes(self, store: Store) -> None:
        store.create_run(new_run())
        store.put_generation("run-a", 0, make_trials("run-a", 0, 1), 0)
        before = snapshot(store)
        for bad in ({"points": [[2, 0.5, 0.5], [1, 0.5, 1.0]]}, {"points": "nope"}, [[1, 0.5, 0.5]]):
            with pytest.raises(ValueError):
                store.update_trial("run-a", "g0000-t0000", curve=bad)
        assert snapshot(store) == before

    def test_an_early_stopped_trial_reads_back_with_its_value_counted(self, store: Store) -> None:
        store.create_run(new_run())
        trials = make_trials("run-a", 0, 3)
        store.put_generation("run-a", 0, trials, 0)
        reason = ("EarlyStopped: acc 0.4 at epoch 2 is worse than 0.55, the median of the running "
                  "averages of 1 earlier training jobs up to epoch 2")
        store.update_trial("run-a", trials[0].trial_id, status="Stopped", failure_reason=reason,
                           values={"acc": 0.4}, curve=Curve.of([0.3, 0.4]).to_dict())
        store.update_trial("run-a", trials[1].trial_id, status="Stopped", values={"acc": 0.7},
                           failure_reason="MaxRuntimeExceeded: stopped after 60 s")
        store.update_trial("run-a", trials[2].trial_id, status="Completed", values={"acc": 0.6})
        history = store.history("run-a")
        assert [t.early_stopped for t in history] == [True, False, False]
        acc = Objective("acc")
        assert [acc.score(t) for t in history] == [0.4, None, 0.6]
        assert store.get_trial("run-a", trials[0].trial_id).early_stopped

    # -- data fidelity --------------------------------------------------------------------------
    def test_json_round_trip_of_params_meta_and_values(self, store: Store) -> None:
        name = "réglage-日本-🚀"
        store.create_run(new_run(name, owner="exécution-1"))
        params = {"lr": 0.1 + 0.2, "tiny": 5e-324, "huge": 1.7976931348623157e308, "neg_zero": -0.0,
                  "epochs": 7, "as_float": 7.0, "big_int": 2**53 + 1, "act": "ŧanh", "émoji": "🚀"}
        meta = {"genome": [0.1, 1e-300, -2.5], "nested": {"a": [1, {"b": None}], "ok": True},
                "pair": (1, 2), "nan": math.nan, "text": "naïve \"quoted\" \\ \n"}
        trial = TrialRecord.new(name, 0, 0, params, meta=meta, hyperparameters={"lr": "0.30000000000000004"})
        store.put_generation(name, 0, [trial], 0)
        values = {"acc": 0.9712000000000001, "nan": math.nan, "inf": math.inf, "-inf": -math.inf}
        store.update_trial(name, "g0000-t0000", status="Completed", values=values)
        got = store.get_trials(name)[0]
        assert got.params == params
        assert [type(v) for v in got.params.values()] == [type(v) for v in params.values()]
        assert math.copysign(1, got.params["neg_zero"]) == -1
        assert got.meta["pair"] == [1, 2] and got.meta["nested"] == meta["nested"]
        assert got.meta["genome"] == meta["genome"] and math.isnan(got.meta["nan"])
        assert got.meta["text"] == meta["text"]
        assert got.values is not None and got.values["acc"] == 0.9712000000000001
        assert math.isnan(got.values["nan"])
        assert (got.values["inf"], got.values["-inf"]) == (math.inf, -math.inf)
        assert store.get_run(name).owner == "exécution-1"
        assert [r.name for r in store.list_runs()] == [name]
        assert json.loads(json.dumps(got.to_dict())) is not None  # serializable as it comes back

    def test_large_meta(self, store: Store) -> None:
        store.create_run(new_run())
        genome = [i / 7 for i in range(6000)]  # ~120 KB of JSON
        trial = TrialRecord.new("run-a", 0, 0, {"x": 1}, meta={"genome": genome, "pad": "é" * 20000})
        store.put_generation("run-a", 0, [trial], 0)
        got = store.get_trial("run-a", "g0000-t0000")
        assert got.meta["genome"] == genome and len(got.meta["pad"]) == 20000

    def test_records_read_are_copies(self, store: Store) -> None:
        store.create_run(new_run())
        store.put_generation("run-a", 0, make_trials("run-a", 0, 2), 0)
        store.update_trial("run-a", "g0000-t0000", status="Completed", values={"acc": 0.5})
        before = snapshot(store)
        run = store.get_run("run-a")
        run.request["HyperParameterTuningJobConfig"]["Strategy"] = "changed"
        store.list_runs()[0].request.clear()
        for trial in store.get_trials("run-a"):
            trial.params["num_epoch"] = -1
            trial.meta["genome"].append(99)
            trial.hyperparameters.clear()
            if trial.values is not None:
                trial.values["acc"] = -1.0
        got = store.get_trial("run-a", "g0000-t0000")
        got.meta.clear()
        store.history("run-a")[0].params.clear()
        assert snapshot(store) == before

    def test_records_written_are_copied(self, store: Store) -> None:
        run = new_run()
        store.create_run(run)
        trials = make_trials("run-a", 0, 2)
        store.put_generation("run-a", 0, trials, 0)
        values = {"acc": 0.5}
        store.update_trial("run-a", "g0000-t0000", status="Completed", values=values)
        before = snapshot(store)
        run.request.clear()
        trials[0].params.clear()
        trials[1].meta["genome"].append(1)
        values["acc"] = 0.0
        assert snapshot(store) == before
