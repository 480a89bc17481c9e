"""``byohpo compare``: runs side by side, over real runs of the local engine (the tiny training script
of ``test_engine.py``) and runs written through the store API (SQLite here, moto's DynamoDB for
``--aws``). Expected figures are recomputed from the stored trials, not copied from the output."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from test_cli_aws import (
    Aws,
    aws,  # noqa: F401 - the fixture: a deployed stack played by moto
)
from test_engine import CTL_ENV, METRIC, Ctl, make_request, write_train
from test_leaderboard import PARETO, fill_pareto, request, trial, two, write_run
from test_plot import png_size

from byohpo.aws.warm_start import import_trials
from byohpo.cli import main
from byohpo.compare import DifferentObjectivesError, compare, hypervolume
from byohpo.leaderboard import duration_seconds
from byohpo.request import parse_request
from byohpo.store import RunRecord, SQLiteStore, TrialRecord

RANDOM, GA = "cmp-random", "cmp-ga"
FAIL_ABOVE = 0.6  # the script fails for x above this: both runs have failed jobs


@pytest.fixture(scope="module")
def engine_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real local runs of one request, Strategy changed: random and ga, 8 jobs each."""
    root = tmp_path_factory.mktemp("compare")
    entry = write_train(root)
    Ctl(root / "ctl").configure(fail_above=FAIL_ABOVE)
    store = root / "byohpo.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CTL_ENV, str(root / "ctl"))
        for name, strategy, config in ((RANDOM, "random", {"Seed": 5}),
                                       (GA, "ga", {"Seed": 3, "PopulationSize": 4})):
            path = root / f"{name}.json"
            raw = make_request(entry, name=name, strategy=strategy, strategy_config=config, max_jobs=8,
                               parallel=2)
            path.write_text(json.dumps(raw))
            assert main(["run", str(path), "--store", str(store), "--runs-dir", str(root / "runs"),
                         "--quiet", "--top", "0"]) == 0
    return store


def stored(path: Path, name: str) -> list[TrialRecord]:
    with SQLiteStore(path) as store:
        return sorted(store.get_trials(name), key=lambda t: (t.generation, t.index))


def expected(trials: list[TrialRecord]) -> dict[str, Any]:
    """What compare must say of a single-objective run, worked out from its trials here."""
    curve, best, at = [], None, None
    for position, t in enumerate(trials, start=1):
        value = (t.values or {}).get(METRIC) if t.status == "Completed" else None
        if value is not None and (best is None or value > best):
            best, at = value, position
        curve.append(best)
    return {"jobs": len(trials), "best": best, "jobs_to_best": at, "best_so_far": curve,
            "failed": sum(t.status == "Failed" for t in trials),
            "training_seconds": round(sum(duration_seconds(t) for t in trials), 3)}


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- real local runs --------------------------------------------------------------------------------

def test_the_local_runs_are_worth_comparing(engine_store):
    """The fixture's runs differ, and each has a failed job: the figures below are not trivial."""
    random_trials, ga_trials = stored(engine_store, RANDOM), stored(engine_store, GA)
    assert len(random_trials) == len(ga_trials) == 8
    assert all(t.finished for t in random_trials + ga_trials)
    assert expected(random_trials)["failed"] >= 1 and expected(ga_trials)["failed"] >= 1
    assert expected(random_trials)["best_so_far"] != expected(ga_trials)["best_so_far"]


def test_json_figures_match_the_stored_trials(engine_store, capsys):
    code, out, err = run_cli(["compare", RANDOM, GA, "--store", str(engine_store), "--format", "json"],
                             capsys)
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert result["objectives"] == [{"metric": METRIC, "direction": "Maximize"}]
    assert result["by_front"] is False and result["common_jobs"] == 8
    runs = {r["run"]: r for r in result["runs"]}
    assert list(runs) == [RANDOM, GA]  # the order given
    for name in (RANDOM, GA):
        trials, run = stored(engine_store, name), runs[name]
        want = expected(trials)
        assert run["best"]["values"][METRIC] == want["best"]
        assert run["best"]["jobs_to_best"] == want["jobs_to_best"]
        assert run["best"]["trial_id"] == trials[want["jobs_to_best"] - 1].trial_id
        assert run["best_so_far"] == want["best_so_far"]
        assert (run["jobs"], run["failed"], run["budget"], run["strategy"]) == (
            8, want["failed"], 8, name.removeprefix("cmp-"))
        assert run["training_seconds"] == pytest.approx(want["training_seconds"])
        assert run["elapsed_seconds"] > 0 and run["status"] == "Completed"
    bests = {name: runs[name]["best"]["values"][METRIC] for name in runs}
    winner = max(bests, key=lambda n: (bests[n], -runs[n]["best"]["jobs_to_best"]))
    assert runs[winner]["rank"] == 1


def test_table_has_one_row_per_run(engine_store, capsys):
    code, out, err = run_cli(["compare", GA, RANDOM, "--store", str(engine_store)], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"2 runs compared on maximize {METRIC}"
    assert lines[1].split()[:6] == ["rank", "run", "strategy", "status", "jobs", "best"]
    rows = [line.split() for line in lines[2:]]
    assert [r[1] for r in rows] == [GA, RANDOM]
    for row, name in zip(rows, (GA, RANDOM), strict=True):
        want = expected(stored(engine_store, name))
        assert row[4] == "8/8" and float(row[5]) == pytest.approx(want["best"])
        assert int(row[7]) == want["jobs_to_best"] and int(row[8]) == want["failed"]


def test_csv_has_one_row_per_run(engine_store, capsys):
    code, out, _ = run_cli(["compare", RANDOM, GA, "--store", str(engine_store), "--format", "csv"], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["run"] for r in rows] == [RANDOM, GA]
    for row in rows:
        trials = stored(engine_store, row["run"])
        want = expected(trials)
        best = trials[want["jobs_to_best"] - 1]
        assert float(row["best"]) == want["best"] and int(row["jobs_to_best"]) == want["jobs_to_best"]
        assert int(row["failed"]) == want["failed"] and int(row["jobs"]) == 8
        assert float(row["param.x"]) == best.params["x"] and int(row["param.y"]) == best.params["y"]
        assert row["best_trial_id"] == best.trial_id and row["best_job_name"] == best.job_name


def test_plot_is_a_png_and_json_keeps_stdout(engine_store, tmp_path, capsys):
    out_png = tmp_path / "cmp.png"
    code, out, err = run_cli(["compare", RANDOM, GA, "--store", str(engine_store), "--format", "json",
                              "-o", str(out_png)], capsys)
    assert code == 0
    json.loads(out)  # nothing but the JSON on stdout
    assert err.strip() == f"wrote {out_png}"
    assert png_size(out_png) == (900, 550)
    assert out_png.stat().st_size > 20_000  # two lines, markers and a legend, not an empty canvas


# -- refused ----------------------------------------------------------------------------------------

@pytest.fixture
def runs_store(tmp_path: Path) -> Path:
    """Runs written through the store API: two of (accuracy, seconds), one of accuracy alone, one of
    AUC (a console request for XGBoost), and one maximizing train:seconds first."""
    path = tmp_path / "byohpo.sqlite"
    with SQLiteStore(path) as store:
        fill_pareto(store)  # digits-pareto
        write_run(store, named(request("request-valid-multi-objective.json"), "pareto-2"), [
            [trial({"hidden_units": 16, "alpha": 0.1}, values=two(0.96, 8.0)),
             trial({"hidden_units": 64, "alpha": 0.5}, values=two(0.985, 50.0)),
             trial({"hidden_units": 32, "alpha": 0.4}, "Failed", reason="AlgorithmError: boom")]])
        write_run(store, named(request("request-valid-digits.json"), "single"), [
            [trial({"learning_rate": 0.05, "num_epoch": 20, "activation": "relu"},
                   values={"validation:accuracy": 0.975})]])
        write_run(store, request("request-valid-amt-console.json"), [
            [trial({"eta": 0.2, "alpha": 3.0}, values={"validation:auc": 0.91})]])
        write_run(store, named(request("request-valid-digits.json"), "min-accuracy", direction="Minimize"), [
            [trial({"learning_rate": 0.05, "num_epoch": 20, "activation": "relu"},
                   values={"validation:accuracy": 0.5})]])
    return path


def named(raw: dict[str, Any], name: str, *, direction: str | None = None) -> dict[str, Any]:
    raw["HyperParameterTuningJobName"] = name
    if direction:
        raw["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] = direction
    return raw


@pytest.mark.parametrize("other, says", [
    ("xgb-churn-2024-06-03", "xgb-churn-2024-06-03 maximizes validation:auc"),
    ("min-accuracy", "min-accuracy minimizes validation:accuracy"),
])
def test_different_objectives_are_refused_naming_each(runs_store, tmp_path, capsys, other, says):
    out_png = tmp_path / "never.png"
    code, out, err = run_cli(["compare", "single", PARETO, other, "--store", str(runs_store),
                              "-o", str(out_png)], capsys)
    assert code == 2 and out == ""
    assert err.startswith("byohpo compare: the runs optimize different objectives: ")
    assert f"single, {PARETO} maximize validation:accuracy" in err and says in err
    assert len(err.splitlines()) == 1
    assert not out_png.exists()


def test_different_objectives_error_from_python(runs_store):
    with SQLiteStore(runs_store) as store:
        runs = [(store.get_run(n), store.get_trials(n)) for n in ("single", "xgb-churn-2024-06-03")]
    with pytest.raises(DifferentObjectivesError, match="validation:auc"):
        compare(runs)


@pytest.mark.parametrize("argv, message", [
    (["single", "nope"], "no run named 'nope' in "),
    (["single"], "give two or more runs to compare, not only 'single'"),
    (["single", "single"], "run 'single' is named twice"),
    (["single", PARETO, "-o", "plot.nope"], "cannot write 'plot.nope': the file name must end in one of"),
])
def test_bad_input_is_one_line_and_exit_2(runs_store, capsys, argv, message):
    code, out, err = run_cli(["compare", *argv, "--store", str(runs_store)], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"byohpo compare: {message}") and len(err.splitlines()) == 1


def test_unknown_run_without_a_store_creates_none(tmp_path, capsys):
    store = tmp_path / "none.sqlite"
    code, out, err = run_cli(["compare", "a", "b", "--store", str(store)], capsys)
    assert code == 2 and out == "" and "no run named 'a'" in err
    assert not store.exists()


def test_without_matplotlib_the_table_works_and_the_plot_names_the_extra(runs_store, tmp_path, capsys,
                                                                         monkeypatch):
    # None in sys.modules makes the import fail, as when the `local` extra is not installed.
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    code, out, _ = run_cli(["compare", "single", PARETO, "--store", str(runs_store)], capsys)
    assert code == 0 and out.startswith("2 runs compared")
    code, out, err = run_cli(["compare", "single", PARETO, "--store", str(runs_store),
                              "-o", str(tmp_path / "c.png")], capsys)
    assert code == 1 and out == ""  # refused before anything is printed
    assert err.strip() == "byohpo compare: plotting needs matplotlib: pip install 'byohpo[local]'"


# -- several objectives -----------------------------------------------------------------------------

def test_multi_objective_runs_compare_pareto_fronts(runs_store, tmp_path, capsys):
    out_png = tmp_path / "fronts.png"
    code, out, _ = run_cli(["compare", PARETO, "pareto-2", "--store", str(runs_store), "--format", "json",
                            "-o", str(out_png)], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["by_front"] is True
    assert [o["metric"] for o in result["objectives"]] == ["validation:accuracy", "train:seconds"]
    first, second = result["runs"]
    # digits-pareto's front (test_leaderboard): 0.98/60, 0.97/30 twice, 0.95/10; pareto-2's: 0.985/50, 0.96/8.
    front = points(first["pareto_front"])
    assert front == [(0.98, 60.0), (0.97, 30.0), (0.97, 30.0), (0.95, 10.0)]
    assert points(second["pareto_front"]) == [(0.985, 50.0), (0.96, 8.0)]
    # Jointly, 0.98/60 is dominated by 0.985/50 and 0.95/10 by 0.96/8: two of four stay, both of two.
    assert (first["on_joint_front"], second["on_joint_front"]) == (2, 2)
    # The box: worst 0.95 and 60 s pushed out by a tenth of the ranges (0.035, 52), best 0.985 and 8 s.
    box = result["hypervolume_box"]
    assert box["reference"] == pytest.approx({"validation:accuracy": 0.9465, "train:seconds": 65.2})
    assert box["ideal"] == {"validation:accuracy": 0.985, "train:seconds": 8.0}
    for run, values in ((first, front), (second, [(0.985, 50.0), (0.96, 8.0)])):
        scaled = [((a - 0.9465) / (0.985 - 0.9465), (65.2 - s) / (65.2 - 8.0)) for a, s in values]
        assert run["hypervolume"] == pytest.approx(union_area(scaled), abs=1e-6)
    assert second["rank"] == 1 and first["rank"] == 2  # 0.5232 against 0.4310
    assert second["failed"] == 1 and second["jobs"] == 3
    assert png_size(out_png) == (900, 550) and out_png.stat().st_size > 15_000


def points(front: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [(t["values"]["validation:accuracy"], t["values"]["train:seconds"]) for t in front]


def union_area(points: list[tuple[float, float]]) -> float:
    """The area of the union of the boxes [0, p] by inclusion-exclusion: an oracle for hypervolume."""
    total = 0.0
    for k in range(1, len(points) + 1):
        for subset in itertools.combinations(points, k):
            total += (-1) ** (k + 1) * min(p[0] for p in subset) * min(p[1] for p in subset)
    return total


def test_a_multi_objective_run_beside_single_ones_is_compared_on_the_first(runs_store, capsys):
    code, out, _ = run_cli(["compare", "single", PARETO, "--store", str(runs_store)], capsys)
    assert code == 0
    lines = out.splitlines()
    # single spent 1 job, digits-pareto 8: "best at 1" compares them at an equal budget.
    assert lines[0] == ("2 runs compared on maximize validation:accuracy; best at 1: each run's best "
                        "within its first 1 job")
    assert "best at 1" in lines[1] and "hypervolume" not in lines[1]
    assert lines[-1] == (f"note: {PARETO} is multi-objective (maximize validation:accuracy, minimize "
                         "train:seconds): compared on validation:accuracy alone")
    rows = {line.split()[1]: line.split() for line in lines[2:4]}
    assert rows[PARETO][5] == "0.99" and rows["single"][5] == "0.975"  # 0.99 has no time: still its best
    assert rows[PARETO][8] == "0.95" and rows["single"][8] == "0.975"  # best at 1
    assert rows[PARETO][0] == "1" and rows["single"][0] == "2"


# -- the pure parts -------------------------------------------------------------------------------

def test_hypervolume_matches_inclusion_exclusion_in_three_dimensions():
    rng = random.Random(4)
    for _ in range(30):
        points = [tuple(rng.random() for _ in range(3)) for _ in range(rng.randint(1, 6))]
        total = 0.0
        for k in range(1, len(points) + 1):
            for subset in itertools.combinations(points, k):
                volume = 1.0
                for d in range(3):
                    volume *= min(p[d] for p in subset)
                total += (-1) ** (k + 1) * volume
        assert hypervolume(points, [0.0, 0.0, 0.0]) == pytest.approx(total)
    assert hypervolume([(1.0, 2.0), (2.0, 1.0)], [0.0, 0.0]) == pytest.approx(3.0)
    assert hypervolume([(-1.0, 5.0)], [0.0, 0.0]) == 0.0  # not above the reference


def test_ties_keep_the_earlier_job_and_rank_by_fewer_jobs(tmp_path):
    relu = {"num_epoch": 20, "activation": "relu"}
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        for name, values in (("slow", (0.90, 0.97, 0.97, 0.95)), ("fast", (0.97, 0.97, None, 0.96))):
            write_run(store, named(request("request-valid-digits.json"), name), [
                [trial({"learning_rate": 0.01 * (i + 1), **relu}, "Failed" if v is None else "Completed",
                       values=None if v is None else {METRIC: v}) for i, v in enumerate(values)]])
        result = compare([(store.get_run(n), store.get_trials(n)) for n in ("slow", "fast")])
    slow, fast = result.runs
    assert (slow.jobs_to_best, slow.best.trial_id) == (2, "g0000-t0001")
    assert slow.best_so_far == (0.90, 0.97, 0.97, 0.97)
    assert (fast.jobs_to_best, fast.failed, fast.best_so_far) == (1, 1, (0.97, 0.97, 0.97, 0.97))
    assert (fast.rank, slow.rank) == (1, 2)


def test_warm_start_trials_are_history_not_jobs(tmp_path):
    """Trials a warm start imported (written by the real importer) set where the best starts; the jobs,
    failures and seconds counted are the run's own."""
    parent = named(request("request-valid-digits.json"), "parent")
    child = named(request("request-valid-digits.json"), "child")
    child["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
        "WarmStartType": "IdenticalDataAndAlgorithm"}
    relu = {"num_epoch": 20, "activation": "relu"}
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        write_run(store, parent, [[trial({"learning_rate": 0.05, **relu}, values={METRIC: 0.97}),
                                   trial({"learning_rate": 0.06, **relu}, values={METRIC: 0.90})]],
                  finish=("Completed", "done", "MaxNumberOfTrainingJobs"))
        request_ = parse_request(child)
        store.create_run(RunRecord(request_.name, child, request_.fingerprint()))
        imported = import_trials(store, request_)
        assert len(imported) == 2
        store.put_generation("child", 0, imported, expected_version=0)
        own = [TrialRecord.new("child", 1, i, {"learning_rate": lr, **relu})
               for i, lr in enumerate((0.07, 0.08))]
        store.put_generation("child", 1, own, expected_version=1)
        for record, value in zip(own, (0.96, 0.98), strict=True):
            store.update_trial("child", record.trial_id, status="Completed", values={METRIC: value},
                               started_at="2024-05-01T12:00:00.000Z", ended_at="2024-05-01T12:01:00.000Z")
        write_run(store, named(request("request-valid-digits.json"), "cold"), [
            [trial({"learning_rate": 0.05, **relu}, values={METRIC: 0.95})]])
        result = compare([(store.get_run(n), store.get_trials(n)) for n in ("cold", "child")])
    cold, warm = result.runs
    assert (warm.imported, warm.jobs, warm.start) == (2, 2, 0.97)
    assert warm.best_so_far == (0.97, 0.98) and warm.jobs_to_best == 2
    assert warm.training_seconds == 120.0  # its own two jobs of 60 s, not the parent's
    assert result.common_jobs == 1 and warm.best_at(1) == 0.97
    assert (cold.imported, cold.start, cold.best_so_far) == (0, None, (0.95,))


# -- --aws ------------------------------------------------------------------------------------------

def test_aws_reads_the_stacks_table(aws: Aws, capsys):  # noqa: F811 - the fixture
    fill_pareto(aws.store)
    write_run(aws.store, named(request("request-valid-multi-objective.json"), "pareto-2"), [
        [trial({"hidden_units": 16, "alpha": 0.1}, values=two(0.96, 8.0))]])
    code, out, err = run_cli(["compare", PARETO, "pareto-2", "--aws", "--format", "json"], capsys)
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert [r["run"] for r in result["runs"]] == [PARETO, "pareto-2"]
    assert [r["jobs"] for r in result["runs"]] == [8, 1] and result["by_front"] is True
    code, out, err = run_cli(["compare", PARETO, "nope", "--aws"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("byohpo compare: no run named 'nope' in stack Byohpo")
    assert f"known runs: {PARETO}, pareto-2" in err and len(err.splitlines()) == 1
