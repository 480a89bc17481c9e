"""The store contract (``store_contract.py``) over every store, plus what only SQLite can show: several
processes on one file, and a writer killed at any moment. DynamoDB runs under moto; what only it can
show is in ``test_dynamodb_store.py``.

A new store joins by adding its name to ``STORES`` and a branch to ``open_store``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
from store_contract import StoreContract, make_trials, new_run

from byohpo.store import (
    RunFinishedError,
    RunRecord,
    SQLiteStore,
    Store,
    TrialRecord,
    VersionConflictError,
    parse_trial_id,
    trial_id,
)
from byohpo.store.base import plan_generation
from byohpo.store.dynamodb import RETRY_CONFIG, TABLE_ENV, DynamoDBStore, table_definition

STORES = ["sqlite", "dynamodb"]
TABLE = "byohpo-test"


_SESSION = botocore.session.get_session()  # one session: a client takes 20 ms from it, 200 from a new one


@contextmanager
def moto_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """DynamoDB served by moto, holding the table made from the store's own ``table_definition``, named
    by ``BYOHPO_TABLE`` as on the Lambdas.

    moto serves requests from several threads without a lock, and a cancelled transaction restores
    a copy of the whole table taken when it began, undoing what a racing thread wrote meanwhile. Real
    DynamoDB serializes conflicting writes; one lock around moto's request handling does the same.
    Yields a client with the store's retry config."""
    for var, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", TABLE_ENV: TABLE}.items():
        monkeypatch.setenv(var, value)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(var, raising=False)
    lock = threading.Lock()
    process = BotocoreStubber.process_request

    def serialized(self: BotocoreStubber, request: object) -> object:
        with lock:
            return process(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", serialized)
    with mock_aws():
        client = _SESSION.create_client("dynamodb", config=RETRY_CONFIG)
        client.create_table(**table_definition(TABLE))
        yield client
        client.close()


@pytest.fixture(params=STORES)
def open_store(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """A factory of store objects over one fresh backend; each call opens another object on it."""
    opened: list[Store] = []
    with moto_dynamodb(monkeypatch) if request.param == "dynamodb" else nullcontext():

        def factory() -> Store:
            if request.param == "sqlite":
                store: Store = SQLiteStore(tmp_path / "byohpo-runs" / "byohpo.sqlite")
            elif request.param == "dynamodb":
                store = DynamoDBStore()  # the table from BYOHPO_TABLE and a client of its own, as a Lambda
            else:
                raise ValueError(request.param)
            opened.append(store)
            return store

        yield factory
        for store in opened:
            store.close()


@pytest.fixture
def store(open_store) -> Store:
    return open_store()


class TestStoreContract(StoreContract):
    pass


# -- plan_generation: the decision both stores share, including states only DynamoDB can reach -----
def at(version: int, status: str = "InProgress") -> RunRecord:
    return RunRecord("r", {}, "fp", status=status, version=version)  # type: ignore[arg-type]


def test_plan_completes_a_partial_generation_left_by_a_dead_writer():
    trials = make_trials("r", 3, 4)
    assert plan_generation("r", 3, trials, 3, at(3), existing=trials[:2]) == trials[2:]
    assert plan_generation("r", 3, trials, 3, at(3), existing=trials) == []  # only the bump is missing
    assert plan_generation("r", 3, trials, 3, at(3), existing=[]) == trials


def test_plan_returns_a_committed_identical_generation():
    trials = make_trials("r", 3, 4)
    assert plan_generation("r", 3, trials, 3, at(4), existing=trials) is None
    assert plan_generation("r", 3, trials, 3, at(9, "Stopped"), existing=trials) is None


def test_plan_refuses_conflicts():
    trials = make_trials("r", 3, 4)
    other = make_trials("r", 3, 4, salt=0.5)
    cases = [(at(3), other[:1]),     # a different partial generation
             (at(4), trials[:2]),    # committed by someone else, partly these
             (at(4), []),            # the run moved on without this generation
             (at(2), [])]            # the caller is ahead of the store
    for run, existing in cases:
        with pytest.raises(VersionConflictError):
            plan_generation("r", 3, trials, 3, run, existing)
    with pytest.raises(RunFinishedError, match="Stopped"):
        plan_generation("r", 3, trials, 3, at(3, "Stopped"), trials[:2])


# -- SQLite only ----------------------------------------------------------------------------------
def test_sqlite_file_is_wal_and_survives_reopening(tmp_path: Path):
    path = tmp_path / "deep" / "folder" / "byohpo.sqlite"
    with SQLiteStore(path) as store:
        store.create_run(new_run())
        store.put_generation("run-a", 0, make_trials("run-a", 0, 3), 0)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with SQLiteStore(path) as store:
        assert store.get_run("run-a").version == 1 and len(store.get_trials("run-a")) == 3


def test_sqlite_refuses_a_newer_schema(tmp_path: Path):
    path = tmp_path / "byohpo.sqlite"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="schema 99"):
        SQLiteStore(path)


def test_sqlite_stamps_with_its_clock(tmp_path: Path):
    ticks = iter(f"2024-01-01T00:00:0{i}.000Z" for i in range(10))
    with SQLiteStore(tmp_path / "s.sqlite", clock=lambda: next(ticks)) as store:
        created = store.create_run(new_run())
        claimed = store.claim_run("run-a", "me")
        assert (created.created_at, created.updated_at) == ("2024-01-01T00:00:00.000Z",) * 2
        assert (claimed.created_at, claimed.updated_at) == ("2024-01-01T00:00:00.000Z",
                                                            "2024-01-01T00:00:01.000Z")


_RACER = textwrap.dedent("""
    import json, sys
    from byohpo.store import SQLiteStore, TrialRecord
    path, op, i = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = SQLiteStore(path)
    print("ready", flush=True)
    sys.stdin.readline()  # the starting gun
    try:
        if op == "claim":
            store.claim_run("run-a", f"{i}@host", None)
        else:
            trials = [TrialRecord.new("run-a", 0, k, {"x": i, "k": k}) for k in range(20)]
            store.put_generation("run-a", 0, trials, 0)
        print(json.dumps("won"))
    except Exception as exc:
        print(json.dumps(type(exc).__name__))
""")


def race_processes(path: Path, op: str, n: int) -> list[str]:
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(path), op, str(i)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for i in range(n)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:  # release them together
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    return [json.loads(p.communicate(timeout=60)[0]) for p in procs]


def test_sqlite_processes_racing_claim_run(tmp_path: Path):
    path = tmp_path / "byohpo.sqlite"
    with SQLiteStore(path) as store:
        store.create_run(new_run())
    outcomes = race_processes(path, "claim", 4)
    assert sorted(outcomes) == ["RunClaimedError"] * 3 + ["won"], outcomes
    with SQLiteStore(path) as store:
        assert store.get_run("run-a").owner == f"{outcomes.index('won')}@host"


def test_sqlite_processes_racing_put_generation(tmp_path: Path):
    path = tmp_path / "byohpo.sqlite"
    with SQLiteStore(path) as store:
        store.create_run(new_run())
    outcomes = race_processes(path, "put", 4)
    assert sorted(outcomes) == ["VersionConflictError"] * 3 + ["won"], outcomes
    with SQLiteStore(path) as store:
        trials = store.get_trials("run-a")
        assert store.get_run("run-a").version == 1 and len(trials) == 20
        assert {t.params["x"] for t in trials} == {outcomes.index("won")}


def test_sqlite_processes_opening_a_new_file_together(tmp_path: Path):
    path = tmp_path / "fresh" / "byohpo.sqlite"
    script = ("import sys; from byohpo.store import SQLiteStore; from store_contract import new_run\n"
              "s = SQLiteStore(sys.argv[1]); s.create_run(new_run(f'run-{sys.argv[2]}')); print('ok')")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                                        os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(i)], stdout=subprocess.PIPE,
                              text=True, env=env) for i in range(4)]
    assert [p.communicate(timeout=60)[0].strip() for p in procs] == ["ok"] * 4
    with SQLiteStore(path) as store:
        assert [r.name for r in store.list_runs()] == [f"run-{i}" for i in range(4)]


_WRITER = textwrap.dedent("""
    import sys
    from byohpo.store import RunExistsError, RunRecord, SQLiteStore, TrialRecord
    store = SQLiteStore(sys.argv[1])
    try:
        store.create_run(RunRecord("run-a", {"big": "x" * 50000}, "fp"))
    except RunExistsError:
        pass
    print("started", flush=True)
    while True:
        run = store.get_run("run-a")
        g = run.version
        trials = [TrialRecord.new("run-a", g, k, {"k": k}, meta={"pad": [g] * 2000}) for k in range(5)]
        store.put_generation("run-a", g, trials, g)
        for t in trials:
            store.update_trial("run-a", t.trial_id, status="Completed", values={"acc": g + t.index / 10},
                               ended_at="2024-01-01T00:00:00.000Z", failure_reason=None)
""")


def check_consistent(path: Path) -> tuple[int, dict[str, TrialRecord]]:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with SQLiteStore(path) as store:
        run = store.get_run("run-a")
        trials = store.get_trials("run-a")
    assert len(trials) == 5 * run.version  # every committed generation whole, none half-written
    assert [(t.generation, t.index) for t in trials] == [(g, k) for g in range(run.version) for k in range(5)]
    for t in trials:  # each update landed whole: status and values together
        assert (t.status == "Completed") == (t.values is not None) == (t.ended_at is not None)
        assert t.meta == {"pad": [t.generation] * 2000}
    return run.version, {t.trial_id: t for t in trials}


def test_sqlite_survives_a_writer_killed_at_any_moment(tmp_path: Path):
    path = tmp_path / "byohpo.sqlite"
    seen: dict[str, TrialRecord] = {}
    version = 0
    delays = [0.05, 0.13, 0.21, 0.08, 0.34, 0.17, 0.02, 0.27]
    for delay in delays:
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE,
                                  text=True)
        assert writer.stdout is not None and writer.stdout.readline().strip() == "started"
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        assert writer.returncode == -signal.SIGKILL
        new_version, trials = check_consistent(path)
        assert new_version >= version
        for tid, old in seen.items():  # nothing lost, nothing went back
            assert trials[tid].proposal() == old.proposal()
            assert old.status == "Pending" or trials[tid] == old
        version, seen = new_version, trials
    assert version >= len(delays), "the writer made too little progress to test anything"


# -- records ----------------------------------------------------------------------------------------
def test_records_round_trip_through_json():
    run = RunRecord("r", {"a": [1, 2.5]}, "fp", owner="o", version=3, created_at="t0", updated_at="t1")
    assert RunRecord.from_dict(json.loads(json.dumps(run.to_dict()))) == run
    trial = make_trials("r", 2, 3)[2].replace(status="Completed", values={"acc": 0.5}, attempt=1)
    assert TrialRecord.from_dict(json.loads(json.dumps(trial.to_dict()))) == trial
    assert TrialRecord.from_dict({**trial.to_dict(), "added_by_a_newer_version": 1}) == trial


def test_to_trial_gives_finished_trials_only():
    pending = make_trials("r", 0, 1)[0]
    with pytest.raises(ValueError, match="Pending"):
        pending.to_trial()
    done = pending.replace(status="Completed", values={"acc": 0.5}).to_trial()
    assert (done.params, done.meta, done.status, done.values) == \
        (pending.params, pending.meta, "Completed", {"acc": 0.5})
    done.meta["genome"].append(1)
    assert pending.meta["genome"] == make_trials("r", 0, 1)[0].meta["genome"]


def test_records_refuse_bad_fields():
    bad = [dict(generation=-1), dict(index=True), dict(status="Done"), dict(hyperparameters={"a": 1}),
           dict(values={"a": None}), dict(params=[1]), dict(run=""), dict(attempt=1.5)]
    for change in bad:
        with pytest.raises(ValueError):
            TrialRecord(**{**make_trials("r", 0, 1)[0].to_dict(), **change})
    for change in [dict(status="Running"), dict(version=-1), dict(name=""), dict(owner="")]:
        with pytest.raises(ValueError):
            RunRecord(**{**new_run().to_dict(), **change})
    with pytest.raises(ValueError, match="g0000-t0001"):
        TrialRecord("r", "g0000-t0002", 0, 1, {})


def test_trial_ids():
    assert trial_id(3, 12) == "g0003-t0012" and trial_id(12345, 0) == "g12345-t0000"
    assert parse_trial_id("g0003-t0012") == (3, 12) and parse_trial_id("g12345-t0000") == (12345, 0)
    for bad in ["g3-t12", "g0003-t0012x", "g00003-t0012", "x", "", None]:
        assert parse_trial_id(bad) is None  # type: ignore[arg-type]
