"""``byohpo leaderboard``, ``byohpo runs`` and ``byohpo plot``: output, exit codes and messages, over
real SQLite stores."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from test_leaderboard import PARETO, SINGLE, fill_store, request

from byohpo.cli import main
from byohpo.cli._common import DEFAULT_STORE, store_path
from byohpo.leaderboard import Leaderboard, request_info
from byohpo.request import parse_request
from byohpo.store import RunRecord, SQLiteStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Path:
    return fill_store(tmp_path_factory.mktemp("cli") / "byohpo.sqlite")


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("BYOHPO_STORE", raising=False)


def expected_records(path: Path, name: str) -> list[dict[str, str]]:
    with SQLiteStore(path) as store:
        info = request_info(store.get_run(name).request)
        return Leaderboard.from_trials(store.get_trials(name), info.objectives, info.param_names).records()


# -- leaderboard ------------------------------------------------------------------------------------

def test_leaderboard_table_lists_the_best_first(filled, capsys):
    assert main(["leaderboard", SINGLE, "--store", str(filled)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    # Nobody drives the run (its owner is None): it was interrupted, and the leaderboard says so.
    assert lines[0] == ("digits-random-1: random, interrupted, 9 trials, objective: maximize "
                        "validation:accuracy")
    assert lines[1] == ("  interrupted; 2 unfinished training jobs will run; resume with: byohpo run "
                        "REQUEST.json (the request of digits-random-1)")
    assert lines[2].split()[:4] == ["rank", "trial", "training", "job"]
    assert [line.split()[1] for line in lines[3:7]] == ["g0000-t0002", "g0001-t0000", "g0000-t0000",
                                                        "g0002-t0000"]
    assert lines[-1].split()[0] == "g0002-t0002" and lines[-1].rstrip().endswith("Pending")


def test_leaderboard_csv_parses_back_to_the_rows(filled, capsys):
    assert main(["leaderboard", PARETO, "--format", "csv", "--store", str(filled)]) == 0
    out = capsys.readouterr().out
    assert list(csv.DictReader(io.StringIO(out))) == expected_records(filled, PARETO)


def test_leaderboard_json_top_k(filled, capsys):
    assert main(["leaderboard", PARETO, "--format", "json", "--top", "2", "--store", str(filled)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["trial_id"], r["rank"], r["pareto"]) for r in rows] == [("g0001-t0000", 1, True),
                                                                       ("g0000-t0001", 2, True)]
    assert rows[0]["params"] == {"hidden_units": 200, "alpha": 0.3}


def test_leaderboard_table_top_k_says_how_many_are_shown(filled, capsys):
    assert main(["leaderboard", PARETO, "--top", "3", "--store", str(filled)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "3 of 8 trials" in lines[0] and "minimize train:seconds" in lines[0]
    assert len(lines) == 2 + 3


def test_unknown_run_exits_2_listing_the_known_runs(filled, capsys):
    assert main(["leaderboard", "digits-random", "--store", str(filled)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("byohpo leaderboard: no run named 'digits-random'")
    assert "did you mean 'digits-random-1'?" in err
    assert "known runs: digits-pareto, digits-random-1" in err


@pytest.mark.parametrize("top", ["0", "-1", "many"])
def test_top_must_be_a_positive_integer(filled, capsys, top):
    assert main(["leaderboard", SINGLE, "--top", top, "--store", str(filled)]) == 2
    assert "--top: must be a positive integer" in capsys.readouterr().err


def test_missing_store_is_bad_input_and_is_not_created(tmp_path, capsys):
    path = tmp_path / "nowhere" / "byohpo.sqlite"
    assert main(["leaderboard", SINGLE, "--store", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"there is no store at {path} yet" in err and "byohpo run REQUEST.json" in err
    assert not path.exists() and not path.parent.exists()


def test_a_run_with_no_trials_yet(tmp_path, capsys):
    raw = request("request-valid-digits.json")
    path = tmp_path / "s.sqlite"
    with SQLiteStore(path) as store:
        store.create_run(RunRecord(name="digits-random-1", request=raw,
                                   fingerprint=parse_request(raw).fingerprint()))
    assert main(["leaderboard", "digits-random-1", "--store", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no trials yet"
    assert main(["leaderboard", "digits-random-1", "--format", "csv", "--store", str(path)]) == 0
    assert capsys.readouterr().out.startswith("rank,trial_id,job_name,generation,learning_rate,")
    assert main(["plot", "digits-random-1", "-o", str(tmp_path / "p.png"), "--store", str(path)]) == 2
    assert "nothing to plot yet" in capsys.readouterr().err


def test_a_file_that_is_not_a_store_is_bad_input(tmp_path, capsys):
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database\n" * 100)
    assert main(["runs", "--store", str(path)]) == 2
    assert "byohpo runs: cannot read the store" in capsys.readouterr().err
    assert main(["leaderboard", SINGLE, "--store", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


# -- runs -------------------------------------------------------------------------------------------

def test_runs_lists_every_run(filled, capsys):
    assert main(["runs", "--store", str(filled)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:6] == ["name", "status", "strategy", "trials", "best", "objective"]
    pareto, single = lines[1].split(), lines[2].split()
    assert pareto[:5] == ["digits-pareto", "Completed", "random", "8/12", "0.99"]
    assert "max validation:accuracy (+1)" in lines[1]
    assert lines[1].endswith("MaxNumberOfTrainingJobs: 8 training jobs ran")
    # 7 finished of a budget of 30; nobody drives it: interrupted, 2 to run on resume.
    assert single[:5] == ["digits-random-1", "interrupted", "random", "7/30", "0.9792"]
    assert lines[2].endswith("interrupted; 2 unfinished training jobs will run; resume with: byohpo run "
                             "REQUEST.json (the request of digits-random-1)")


def _hold(path: Path, name: str, owner: str | None, command: list[str] | None = None,
          cwd: str = "/somewhere") -> None:
    with SQLiteStore(path) as store:
        run = store.get_run(name)
        if owner:
            store.claim_run(name, owner, expected_owner=run.owner)
        elif run.owner:
            store.release_run(name, run.owner)
        if command:
            store.set_command(name, command, cwd)


@pytest.mark.parametrize(("owner", "status", "note"), [
    ("live", "running", "driven by byohpo run (pid {pid}), 1 training job in flight"),
    ("dead", "interrupted", "its engine was killed; 2 unfinished training jobs will run; resume with: "
                            "cd /somewhere && byohpo run my-request.json --store other.sqlite"),
    (None, "interrupted", "interrupted; 2 unfinished training jobs will run; resume with: "
                          "cd /somewhere && byohpo run my-request.json --store other.sqlite"),
    ("arn:aws:states:us-east-1:123456789012:execution:Byohpo-tuning:x", "InProgress",
     "driven by an AWS execution: arn:aws:states:us-east-1:123456789012:execution:Byohpo-tuning:x"),
    ("77@another-host", "InProgress", "driven by another host: 77@another-host"),
])
def test_runs_tells_a_live_run_from_an_interrupted_one(tmp_path, capsys, owner, status, note):
    import os
    import socket
    import subprocess
    import sys

    path = fill_store(tmp_path / "byohpo.sqlite")
    here = socket.gethostname()
    if owner == "live":
        owner = f"{os.getpid()}@{here}"
    elif owner == "dead":
        proc = subprocess.Popen([sys.executable, "-c", "pass"])
        proc.wait()
        owner = f"{proc.pid}@{here}"
    _hold(path, SINGLE, owner, ["byohpo", "run", "my-request.json", "--store", "other.sqlite"])
    assert main(["runs", "--store", str(path)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(SINGLE))
    assert row.split()[1] == status
    assert row.endswith(note.format(pid=os.getpid()))
    assert main(["leaderboard", SINGLE, "--store", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"random, {status}, 9 trials" in lines[0] and lines[1] == "  " + note.format(pid=os.getpid())


def test_runs_help_explains_every_column(capsys):
    assert main(["runs", "--help"]) == 0
    out = capsys.readouterr().out
    from byohpo.cli.runs import HEADER
    for column in HEADER:
        assert f"\n  {column} " in out, column
    for status in ("running", "interrupted", "InProgress"):
        assert f"  {status} " in out


def test_runs_on_an_empty_or_missing_store_says_how_to_start(tmp_path, capsys):
    missing = tmp_path / "byohpo.sqlite"
    assert main(["runs", "--store", str(missing)]) == 0
    assert "there is no store at" in capsys.readouterr().out
    assert not missing.exists()
    SQLiteStore(missing).close()
    assert main(["runs", "--store", str(missing)]) == 0
    out = capsys.readouterr().out
    assert f"the store {missing} has no runs yet" in out and "byohpo run REQUEST.json" in out


def test_store_comes_from_the_option_then_the_environment_then_the_default(filled, tmp_path, capsys,
                                                                           monkeypatch, no_env):
    monkeypatch.chdir(tmp_path)
    assert store_path(None) == DEFAULT_STORE == Path("byohpo-runs/byohpo.sqlite")
    assert main(["runs"]) == 0
    assert "there is no store at byohpo-runs/byohpo.sqlite" in capsys.readouterr().out
    monkeypatch.setenv("BYOHPO_STORE", str(filled))
    assert store_path(None) == filled and store_path("other.sqlite") == Path("other.sqlite")
    assert main(["runs"]) == 0
    assert "digits-pareto" in capsys.readouterr().out
    assert main(["runs", "--store", "other.sqlite"]) == 0
    assert "there is no store at other.sqlite" in capsys.readouterr().out
    monkeypatch.setenv("BYOHPO_STORE", "")  # set but empty: the default
    assert store_path(None) == DEFAULT_STORE
    # The default is relative to the working directory.
    (tmp_path / "byohpo-runs").mkdir()
    (tmp_path / "byohpo-runs" / "byohpo.sqlite").write_bytes(filled.read_bytes())
    assert main(["leaderboard", PARETO, "--top", "1"]) == 0
    assert "g0001-t0000" in capsys.readouterr().out


# -- plot -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [SINGLE, PARETO])
def test_plot_writes_a_png(filled, tmp_path, capsys, name):
    out = tmp_path / f"{name}.png"
    assert main(["plot", name, "-o", str(out), "--store", str(filled)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000


def test_plot_defaults_to_the_run_name(filled, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["plot", PARETO, "--store", str(filled)]) == 0
    assert (tmp_path / f"{PARETO}.png").read_bytes()[:8] == PNG_MAGIC


def test_plot_bad_input_exits_2(filled, tmp_path, capsys):
    assert main(["plot", SINGLE, "-o", str(tmp_path / "plot.docx"), "--store", str(filled)]) == 2
    assert "byohpo plot: cannot write" in capsys.readouterr().err
    assert main(["plot", "nope", "-o", str(tmp_path / "p.png"), "--store", str(filled)]) == 2
    assert "known runs: digits-pareto, digits-random-1" in capsys.readouterr().err
    assert main(["plot", SINGLE, "-o", str(tmp_path / "no" / "such" / "p.png"), "--store", str(filled)]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
