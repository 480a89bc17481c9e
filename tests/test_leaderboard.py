"""The leaderboard: ranking, the Pareto flag, CSV/JSON/table output, best_trial and summary, over
trials read back from a real SQLite store.

``fill_store`` builds the runs the plot and CLI tests use as well (``from test_leaderboard import ...``).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from byohpo import Objective
from byohpo.leaderboard import Leaderboard, best_trial, duration_seconds, request_info, summary
from byohpo.request import parse_request
from byohpo.space import format_value
from byohpo.store import RunRecord, SQLiteStore, Store, TrialRecord
from byohpo.tuning import training_job_name

DATA = Path(__file__).parent / "data"
SINGLE = "digits-random-1"
PARETO = "digits-pareto"
ACCURACY = Objective("validation:accuracy", "Maximize")
SECONDS = Objective("train:seconds", "Minimize")
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
OOM = ("AlgorithmError: ExecuteUserScriptError: ExitCode 1 ErrorMessage \"RuntimeError: CUDA out of "
       "memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity)\" Command \"/usr/local/bin/"
       "python3.11 train.py --batch_size 100 --learning_rate 0.19\"")


def request(file: str) -> dict[str, Any]:
    return json.loads((DATA / file).read_text())


def stamp(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def trial(params: dict[str, Any], status: str = "Completed", values: dict[str, float] | None = None,
          *, seconds: float | None = 60.0, reason: str | None = None) -> dict[str, Any]:
    return {"params": params, "status": status, "values": values, "seconds": seconds, "reason": reason}


def write_run(store: Store, raw: dict[str, Any], generations: list[list[dict[str, Any]]], *,
              finish: tuple[str, str, str] | None = None) -> None:
    """A run as the engine leaves it: created, each generation written, each trial updated as its
    job ran, optionally finished with (status, reason, stop code)."""
    parsed = parse_request(raw)
    store.create_run(RunRecord(name=parsed.name, request=raw, fingerprint=parsed.fingerprint()))
    clock = 0.0
    for g, specs in enumerate(generations):
        records = []
        for i, spec in enumerate(specs):
            tuned = {k: format_value(v) for k, v in spec["params"].items()}
            records.append(TrialRecord.new(parsed.name, g, i, spec["params"], meta={"generation": g},
                                           hyperparameters={**parsed.space.static, **tuned},
                                           job_name=training_job_name(parsed.name, g, i)))
        store.put_generation(parsed.name, g, records, expected_version=g)
        for record, spec in zip(records, specs, strict=True):
            if spec["status"] == "Pending":
                continue
            changes: dict[str, Any] = {"status": spec["status"], "started_at": stamp(clock)}
            if spec["status"] != "InProgress":
                changes.update(values=spec["values"], failure_reason=spec["reason"],
                               ended_at=stamp(clock + spec["seconds"]))
            store.update_trial(parsed.name, record.trial_id, **changes)
        clock += 100.0
    if finish:
        store.finish_run(parsed.name, finish[0], reason=finish[1], stop_code=finish[2])


def acc(value: float) -> dict[str, float]:
    return {"validation:accuracy": value}


def fill_single(store: Store) -> None:
    """digits-random-1 (maximize accuracy), still in progress: a tie, a failure, a stopped job, a
    diverged job (NaN), one job running and one pending."""
    write_run(store, request("request-valid-digits.json"), [
        [trial({"learning_rate": 0.05, "num_epoch": 20, "activation": "relu"}, values=acc(0.9712),
               seconds=95.5),
         trial({"learning_rate": 0.19, "num_epoch": 45, "activation": "tanh"}, "Failed", seconds=12.25,
               reason=OOM),
         trial({"learning_rate": 0.045, "num_epoch": 32, "activation": "tanh"}, values=acc(0.9792))],
        [trial({"learning_rate": 0.0451, "num_epoch": 33, "activation": "relu"}, values=acc(0.9792)),
         trial({"learning_rate": 0.011, "num_epoch": 50, "activation": "relu"}, "Stopped",
               values=acc(0.9), seconds=3600.0, reason="MaxRuntimeInSeconds (3600) exceeded"),
         trial({"learning_rate": 0.2, "num_epoch": 10, "activation": "tanh"}, values=acc(math.nan))],
        [trial({"learning_rate": 0.03, "num_epoch": 40, "activation": "relu"}, values=acc(0.965)),
         trial({"learning_rate": 0.06, "num_epoch": 28, "activation": "relu"}, "InProgress"),
         trial({"learning_rate": 0.07, "num_epoch": 26, "activation": "tanh"}, "Pending")],
    ])


def two(accuracy: float, seconds: float) -> dict[str, float]:
    return {"validation:accuracy": accuracy, "train:seconds": seconds}


def fill_pareto(store: Store) -> None:
    """digits-pareto (maximize accuracy, minimize seconds), finished."""
    write_run(store, request("request-valid-multi-objective.json"), [
        [trial({"hidden_units": 16, "alpha": 0.1}, values=two(0.95, 10.0)),
         trial({"hidden_units": 64, "alpha": 0.5}, values=two(0.97, 30.0)),
         trial({"hidden_units": 128, "alpha": 0.9}, values=two(0.96, 40.0)),
         trial({"hidden_units": 256, "alpha": 0.99}, "Failed", reason="ClientError: out of disk")],
        [trial({"hidden_units": 200, "alpha": 0.3}, values=two(0.98, 60.0)),
         trial({"hidden_units": 12, "alpha": 0.2}, values=two(0.93, 12.0)),
         trial({"hidden_units": 64, "alpha": 0.51}, values=two(0.97, 30.0)),
         trial({"hidden_units": 90, "alpha": 0.6}, values=acc(0.99))],  # the time regex found nothing
    ], finish=("Completed", "MaxNumberOfTrainingJobs: 8 training jobs ran", "MaxNumberOfTrainingJobs"))


def fill_store(path: Path) -> Path:
    with SQLiteStore(path) as store:
        fill_single(store)
        fill_pareto(store)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with SQLiteStore(fill_store(tmp_path / "byohpo.sqlite")) as s:
        yield s


def board_of(store: Store, name: str) -> Leaderboard:
    info = request_info(store.get_run(name).request)
    return Leaderboard.from_trials(store.get_trials(name), info.objectives, info.param_names)


# -- ranking ----------------------------------------------------------------------------------------

def test_single_objective_ranks_best_first_ties_by_trial_id_and_unranked_last(store):
    board = board_of(store, SINGLE)
    assert [r.trial_id for r in board.rows] == [
        "g0000-t0002", "g0001-t0000",  # 0.9792 twice: the earlier trial first
        "g0000-t0000", "g0002-t0000",
        "g0001-t0002",  # completed, NaN
        "g0001-t0001",  # stopped (its value does not rank it)
        "g0000-t0001",  # failed
        "g0002-t0001", "g0002-t0002"]  # in progress, pending
    assert [r.rank for r in board.rows] == [1, 2, 3, 4, None, None, None, None, None]
    assert not any(r.pareto for r in board.rows)
    assert board.param_names == ("learning_rate", "num_epoch", "activation")
    first = board.rows[0]
    assert first.job_name == "digits-random-1-g0-t2" and first.generation == 0
    assert first.params == {"learning_rate": 0.045, "num_epoch": 32, "activation": "tanh"}
    assert first.values == {"validation:accuracy": 0.9792} and first.duration_seconds == 60.0
    failed = board.rows[6]
    assert failed.failure_reason == OOM and failed.duration_seconds == 12.25
    assert failed.values == {"validation:accuracy": None}
    assert board.rows[5].values == {"validation:accuracy": 0.9}
    assert math.isnan(board.rows[4].values["validation:accuracy"])
    assert board.rows[7].duration_seconds is None and board.rows[8].job_name == "digits-random-1-g2-t2"


def test_two_objectives_put_the_pareto_front_first_ordered_by_the_first_objective(store):
    board = board_of(store, PARETO)
    assert [(r.trial_id, r.pareto) for r in board.rows] == [
        ("g0001-t0000", True), ("g0000-t0001", True), ("g0001-t0002", True), ("g0000-t0000", True),
        ("g0001-t0003", False),  # best accuracy, but no time: not on the front
        ("g0000-t0002", False), ("g0001-t0001", False),
        ("g0000-t0003", False)]
    assert [r.rank for r in board.rows] == [1, 2, 3, 4, 5, 6, 7, None]
    assert board.rows[0].values == {"validation:accuracy": 0.98, "train:seconds": 60.0}
    assert board.rows[4].values == {"validation:accuracy": 0.99, "train:seconds": None}


def test_minimize_ranks_the_smallest_value_first():
    loss = Objective("validation:loss", "Minimize")
    trials = [TrialRecord.new("r", 0, i, {"x": i}, status="Completed", values={"validation:loss": v})
              for i, v in enumerate([0.3, 0.1, 0.2])]
    board = Leaderboard.from_trials(trials, [loss])
    assert [r.params["x"] for r in board.rows] == [1, 2, 0]
    assert best_trial(trials, [loss]).trial_id == "g0000-t0001"


def test_without_objectives_nothing_is_ranked():
    trials = [TrialRecord.new("r", 0, i, {"x": i}, status=s) for i, s in enumerate(["Failed", "Completed"])]
    board = Leaderboard.from_trials(trials, [])
    assert [(r.trial_id, r.rank) for r in board.rows] == [("g0000-t0001", None), ("g0000-t0000", None)]
    assert best_trial(trials, []) is None


# -- formats ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [SINGLE, PARETO])
def test_csv_reads_back_as_the_records_with_hyperparameters_as_columns(store, name):
    board = board_of(store, name)
    text = board.to_csv()
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert parsed == board.records()
    assert len(parsed) == len(board.rows)
    header = text.splitlines()[0].split(",")
    assert header[:4] == ["rank", "trial_id", "job_name", "generation"]
    assert header[-3:] == ["status", "duration_seconds", "failure_reason"]
    assert set(board.param_names) < set(header)
    assert ("pareto" in header) == (name == PARETO)


def test_csv_cells_keep_full_precision_and_say_nan(store):
    records = board_of(store, SINGLE).records()
    assert records[0] == {"rank": "1", "trial_id": "g0000-t0002", "job_name": "digits-random-1-g0-t2",
                          "generation": "0", "learning_rate": "0.045", "num_epoch": "32",
                          "activation": "tanh", "validation:accuracy": "0.9792", "status": "Completed",
                          "duration_seconds": "60.0", "failure_reason": ""}
    assert records[4]["validation:accuracy"] == "nan" and records[4]["rank"] == ""
    assert records[6]["failure_reason"] == OOM  # the CSV keeps the whole reason
    assert float(records[1]["learning_rate"]) == 0.0451


def test_json_reads_back_without_nan(store):
    board = board_of(store, SINGLE)

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    rows = json.loads(board.to_json(), parse_constant=refuse)
    assert rows == [r.to_dict() for r in board.rows]
    assert rows[0]["params"] == {"learning_rate": 0.045, "num_epoch": 32, "activation": "tanh"}
    assert rows[4]["values"] == {"validation:accuracy": None} and rows[4]["status"] == "Completed"


def test_table_is_aligned_plain_text_with_short_failure_reasons(store):
    lines = board_of(store, PARETO).to_table().splitlines()
    assert lines[0].split() == ["rank", "trial", "training", "job", "gen", "alpha", "hidden_units",
                                "validation:accuracy", "train:seconds", "pareto", "status", "seconds",
                                "failure", "reason"]
    assert len(lines) == 9
    assert lines[1].split()[:2] == ["1", "g0001-t0000"] and " * " in lines[1]
    assert "\x1b" not in "\n".join(lines)  # no terminal escapes: fine in a pipe or a file
    single = board_of(store, SINGLE).to_table()
    failed = next(line for line in single.splitlines() if "Failed" in line)
    assert "AlgorithmError: ExecuteUserScriptError" in failed and failed.endswith("…")
    assert OOM not in single
    # Numbers are right-aligned: every accuracy ends in the same column.
    column = lines[0].index("validation:accuracy") + len("validation:accuracy")
    assert all(line[column - 1] != " " for line in lines[1:5])


def test_top_keeps_the_best_rows():
    trials = [TrialRecord.new("r", 0, i, {"x": i}, status="Completed", values={"m": float(i)})
              for i in range(5)]
    board = Leaderboard.from_trials(trials, [Objective("m")])
    assert [r.params["x"] for r in board.top(2).rows] == [4, 3]
    assert board.top(None) is board and len(board.top(10)) == 5


def test_a_hyperparameter_named_like_a_column_gets_a_prefix():
    trials = [TrialRecord.new("r", 0, 0, {"status": "on", "rank": 3}, status="Completed",
                              values={"status": 0.5})]
    board = Leaderboard.from_trials(trials, [Objective("status")])
    assert board.columns() == ["rank", "trial_id", "job_name", "generation", "param.status", "param.rank",
                               "value.status", "status", "duration_seconds", "failure_reason"]
    record = board.records()[0]
    assert (record["param.status"], record["param.rank"], record["value.status"], record["status"]) == (
        "on", "3", "0.5", "Completed")


# -- best trial and summary -------------------------------------------------------------------------

def test_best_trial_is_the_earliest_of_equal_bests(store):
    assert best_trial(store.get_trials(SINGLE), [ACCURACY]).trial_id == "g0000-t0002"
    # Several objectives: best by the first one, also off the front.
    assert best_trial(store.get_trials(PARETO), [ACCURACY, SECONDS]).trial_id == "g0001-t0003"
    assert best_trial([], [ACCURACY]) is None


def test_summary_of_a_finished_two_objective_run(store):
    run = store.get_run(PARETO)
    result = summary(run, store.get_trials(PARETO), [ACCURACY, SECONDS])
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert result["run"] == PARETO and result["strategy"] == "random"
    assert (result["status"], result["stop_code"]) == ("Completed", "MaxNumberOfTrainingJobs")
    assert result["reason"] == "MaxNumberOfTrainingJobs: 8 training jobs ran"
    assert result["trials"] == {"total": 8, "Pending": 0, "InProgress": 0, "Completed": 7, "Failed": 1,
                                "Stopped": 0}
    assert result["objectives"] == [{"metric": "validation:accuracy", "direction": "Maximize"},
                                    {"metric": "train:seconds", "direction": "Minimize"}]
    assert result["best"]["trial_id"] == "g0001-t0003"
    assert result["best"]["params"] == {"hidden_units": 90, "alpha": 0.6}
    assert result["best"]["hyperparameters"] == {"hidden_units": "90", "alpha": "0.6"}
    assert [t["trial_id"] for t in result["pareto_front"]] == [
        "g0001-t0000", "g0000-t0001", "g0001-t0002", "g0000-t0000"]
    assert result["pareto_front"][0]["values"] == {"validation:accuracy": 0.98, "train:seconds": 60.0}


def test_summary_of_a_single_objective_run_in_progress(store):
    result = summary(store.get_run(SINGLE), store.get_trials(SINGLE), [ACCURACY])
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert result["status"] == "InProgress" and result["reason"] is None
    assert result["trials"] == {"total": 9, "Pending": 1, "InProgress": 1, "Completed": 5, "Failed": 1,
                                "Stopped": 1}
    assert result["best"]["values"] == {"validation:accuracy": 0.9792}
    assert result["best"]["hyperparameters"]["batch_size"] == "100"
    assert result["pareto_front"] is None


# -- helpers ----------------------------------------------------------------------------------------

def test_request_info_reads_a_request_that_no_longer_parses():
    raw = copy.deepcopy(request("request-valid-multi-objective.json"))
    raw["HyperParameterTuningJobConfig"]["Strategy"] = "not_installed.module:MyStrategy"
    info = request_info(raw)
    assert info.strategy == "not_installed.module:MyStrategy"
    assert info.objectives == [ACCURACY, SECONDS]
    assert info.param_names == ["alpha", "hidden_units"]  # in the request's (continuous first) order
    assert info.max_jobs == 12
    parsed = request_info(request("request-valid-multi-objective.json"))
    assert (parsed.strategy, parsed.objectives, parsed.max_jobs) == ("random", [ACCURACY, SECONDS], 12)


def test_request_info_of_the_console_shape_and_of_garbage():
    console = request_info(request("request-valid-amt-console.json") | {"HyperParameterTuningJobConfig": {}})
    assert console.objectives and console.param_names  # from TrainingJobDefinitions[0]
    assert request_info({"HyperParameterTuningJobConfig": "nonsense"}).objectives == []


def test_duration_needs_two_timestamps():
    def rec(**fields: Any) -> TrialRecord:
        return TrialRecord.new("r", 0, 0, {}, **fields)

    start, end = "2024-05-01T12:00:00.000Z", "2024-05-01T12:01:30.250Z"
    assert duration_seconds(rec(started_at=start, ended_at=end)) == 90.25
    assert duration_seconds(rec(started_at=end, ended_at=start)) == -90.25
    assert duration_seconds(rec(started_at="2024-05-01T12:00:00.000Z")) is None
    assert duration_seconds(rec(started_at="yesterday", ended_at="today")) is None


def test_table_shows_the_exception_of_a_local_trial_not_the_start_of_its_log_tail(tmp_path):
    # The reason the local runner writes for a script that raised, from a real run of one.
    from byohpo.jobs import run_local_training

    script = tmp_path / "train.py"
    script.write_text("import sys\nprint('starting', sys.argv[1:], flush=True)\n"
                      "for epoch in range(3):\n    print(f'epoch {epoch}: loss=0.5', flush=True)\n"
                      "raise RuntimeError('boom: the data loader found no rows')\n")
    result = run_local_training(script, {"batch_size": "100", "learning_rate": "0.05"}, tmp_path / "t")
    assert result.failure_reason.startswith("AlgorithmError: exit code 1: last log lines:\nstarting [")
    trial = TrialRecord.new("r", 0, 0, {"x": 1}, status="Failed", failure_reason=result.failure_reason)
    table = Leaderboard.from_trials([trial], [ACCURACY]).to_table()
    row = table.splitlines()[1]
    assert row.endswith("Failed           AlgorithmError: exit code 1: RuntimeError: boom: the data loader "
                        "found no rows")
    records = Leaderboard.from_trials([trial], [ACCURACY]).records()
    assert records[0]["failure_reason"] == result.failure_reason  # the CSV keeps the whole reason
