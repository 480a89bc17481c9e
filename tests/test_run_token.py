"""The run token in training job names: drawn once when the run is made, kept by both stores (an
older SQLite file upgraded in place), and within SageMaker's 63 characters for any run name."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_fixtures import AwsEnv, digits_request, moto_aws

from byohpo.request import parse_request
from byohpo.store.records import RunRecord
from byohpo.store.sqlite import SQLiteStore
from byohpo.tuning import MAX_JOB_NAME, new_run_token, open_run, training_job_name


@pytest.fixture
def aws_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    with moto_aws(monkeypatch, getattr(request, "param", "dynamodb")) as env:
        yield env


@pytest.mark.parametrize("aws_env", ["dynamodb", "sqlite"], indirect=True)
def test_a_run_keeps_the_token_it_was_made_with(aws_env: AwsEnv) -> None:
    request = parse_request(digits_request())
    run, created = open_run(aws_env.store, request, token="k3x9q2")
    assert created and run.token == "k3x9q2" and aws_env.store.get_run(run.name).token == "k3x9q2"
    again, created = open_run(aws_env.store, request, token=new_run_token())  # a retried Start
    assert not created and again.token == "k3x9q2"
    aws_env.store.claim_run(run.name, "exec-1")
    assert aws_env.store.get_run(run.name).token == "k3x9q2"  # rewrites of the record keep it


def test_tokens_are_fresh_and_fit_a_job_name() -> None:
    tokens = {new_run_token() for _ in range(200)}
    assert len(tokens) == 200 and all(re.fullmatch(r"[a-z0-9]{6}", t) for t in tokens)
    longest = training_job_name("r" * 32, 99_999, 9_999, 99, token=tokens.pop())
    assert len(longest) <= MAX_JOB_NAME and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", longest)
    assert training_job_name("digits", 2, 5, 1, token="abc123") == "digits-abc123-g2-t5-a1"
    assert training_job_name("digits", 2, 5) == "digits-g2-t5"  # local runs, and runs made before tokens
    with pytest.raises(ValueError):
        RunRecord("r", {}, "fp", token="not-a-token")


def test_an_sqlite_file_of_the_previous_schema_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE runs (name TEXT PRIMARY KEY, request TEXT NOT NULL, fingerprint TEXT NOT NULL,
            status TEXT NOT NULL, reason TEXT, stop_code TEXT, version INTEGER NOT NULL, owner TEXT,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        CREATE TABLE trials (run TEXT NOT NULL REFERENCES runs (name), trial_id TEXT NOT NULL,
            generation INTEGER NOT NULL, idx INTEGER NOT NULL, params TEXT NOT NULL, meta TEXT NOT NULL,
            hyperparameters TEXT NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL, job_name TEXT,
            "values" TEXT, failure_reason TEXT, started_at TEXT, ended_at TEXT, log_path TEXT,
            PRIMARY KEY (run, trial_id), UNIQUE (run, generation, idx));
        INSERT INTO runs VALUES ('old', '{}', 'fp', 'InProgress', NULL, NULL, 1, NULL, 't0', 't0');
        INSERT INTO trials VALUES ('old', 'g0000-t0000', 0, 0, '{"x": 1}', '{}', '{"x": "1"}', 'Completed',
            0, 'old-g0-t0', '{"acc": 0.5}', NULL, NULL, NULL, NULL);
        PRAGMA user_version = 1;
    """)
    db.close()
    with SQLiteStore(path) as store:
        assert store.get_run("old").token == ""
        (trial,) = store.get_trials("old")  # schema 3's learning curves: none stored yet
        assert (trial.values, trial.curve, trial.watch) == ({"acc": 0.5}, None, None)
        store.update_trial("old", "g0000-t0000", curve={"points": [[1, 0.5, 0.5]], "stride": 1})
        store.create_run(RunRecord("new", {}, "fp", token="abc123"))
    with SQLiteStore(path) as store:
        assert [(r.name, r.token) for r in store.list_runs()] == [("new", "abc123"), ("old", "")]
