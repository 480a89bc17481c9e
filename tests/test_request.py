"""The tuning request: an AMT request accepted as it is, every rule refused with its field's path."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from byohpo import Objective, UnknownStrategyError, ValidationError
from byohpo.request import TuningRequest, check_local, load_request, parse_request
from byohpo.stopping import StoppingRules
from byohpo.strategies.random_search import RandomSearch

DATA = Path(__file__).parent / "data"
CFG = "HyperParameterTuningJobConfig"
RANGES = f"{CFG}.ParameterRanges"
DEF = "TrainingJobDefinition"
METRICS = f"{DEF}.AlgorithmSpecification.MetricDefinitions"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"request-{name}.json").read_text())


@pytest.fixture
def console() -> dict[str, Any]:
    """What the SageMaker console sends for a tuning job, with only the strategy changed."""
    raw = fixture("valid-amt-console")
    raw[CFG]["Strategy"] = "random"
    return raw


@pytest.fixture
def digits() -> dict[str, Any]:
    return fixture("valid-digits")


def errors_of(raw: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        parse_request(raw)
    return [(e.path, e.message) for e in info.value.errors]


def assert_refused(raw: dict[str, Any], path: str, fragment: str) -> None:
    found = errors_of(raw)
    assert any(p == path and fragment in m for p, m in found), found


# -- real AMT requests, accepted as they are ----------------------------------------------------------

def test_console_request_parses_with_only_the_strategy_changed(console):
    original = copy.deepcopy(console)
    req = parse_request(console)
    assert console == original  # nothing normalized in place
    assert req.name == "xgb-churn-2024-06-03"
    assert req.strategy == "random" and req.strategy_options == {}
    assert req.seed == 12345  # RandomSeed
    assert req.objectives == [Objective("validation:auc", "Maximize")]  # the definition's TuningObjective
    assert len(req.space) == 11
    assert req.space["max_depth"].low == 0 and req.space["max_depth"].scaling == "Linear"  # Auto from "0"
    assert req.space["lambda"].low == 1e-6 and req.space["lambda"].scaling == "Logarithmic"
    assert req.space.static["eval_metric"] == "auc"
    assert req.max_parallel == 4
    assert req.stopping == StoppingRules(max_jobs=40, max_runtime_seconds=36000, target_value=0.97,
                                         max_jobs_not_improving=10, convergence=False)
    assert req.early_stopping_type == "Auto"
    assert req.warm_start_parents == ["xgb-churn-2024-05-20"]
    assert req.warm_start_type == "IdenticalDataAndAlgorithm"
    assert req.tags == [{"Key": "project", "Value": "churn"}, {"Key": "cost-center", "Value": "ml-platform"}]
    assert req.training_path == "TrainingJobDefinitions[0]"
    assert req.training["RoleArn"].startswith("arn:aws:iam::111122223333:role/")
    assert not {"DefinitionName", "TuningObjective", "HyperParameterRanges"} & set(req.training)
    assert [name for name, _ in req.metric_definitions] == ["train:auc", "validation:auc"]
    assert req.entry_point is None
    assert req.raw == console
    assert isinstance(req.build_strategy(), RandomSearch)


def test_sagemaker_strategy_names_mean_our_builtins(console):
    console[CFG]["Strategy"] = "Random"
    assert parse_request(console).strategy == "random"


def test_digits_request_with_our_extensions(digits):
    req = parse_request(digits)
    assert (req.strategy, req.seed, req.strategy_options) == ("random", 7, {"BatchSize": 3})
    assert req.stopping.max_failed_jobs == 5 and req.stopping.convergence is True
    assert req.entry_point == "train.py"
    assert req.training_path == DEF
    assert req.metric_definitions == [("validation:accuracy", "Validation-accuracy=([0-9\\.]+)")]
    assert req.early_stopping_type == "Off" and req.tags == [] and req.warm_start_parents == []


def test_our_objectives_list_comes_first():
    req = parse_request(fixture("valid-multi-objective"))
    assert req.objectives == [Objective("validation:accuracy", "Maximize"),
                              Objective("train:seconds", "Minimize")]


def test_singular_definition_with_hyperparameter_ranges_and_tuning_objective(digits):
    definition = digits[DEF]
    definition["HyperParameterRanges"] = digits[CFG].pop("ParameterRanges")
    definition["TuningObjective"] = digits[CFG].pop("HyperParameterTuningJobObjective")
    req = parse_request(digits)
    assert req.space.names == ["learning_rate", "num_epoch", "activation"]
    assert req.objectives == [Objective("validation:accuracy")]


def test_same_ranges_in_both_places_are_accepted(console):
    ranges = console["TrainingJobDefinitions"][0]["HyperParameterRanges"]
    console[CFG]["ParameterRanges"] = copy.deepcopy(ranges)
    assert len(parse_request(console).space) == 11


def test_built_in_algorithm_needs_no_metric_definitions(console):
    algorithm = console["TrainingJobDefinitions"][0]["AlgorithmSpecification"]
    del algorithm["TrainingImage"], algorithm["MetricDefinitions"]
    algorithm["AlgorithmName"] = "xgboost"
    assert parse_request(console).metric_definitions == []


# -- the seed ------------------------------------------------------------------------------------------

def test_seed_precedence(digits):
    digits[CFG]["RandomSeed"] = 99
    assert parse_request(digits).seed == 7  # StrategyConfig.Seed wins
    del digits[CFG]["StrategyConfig"]["Seed"]
    assert parse_request(digits).seed == 99
    del digits[CFG]["RandomSeed"]
    assert parse_request(digits).seed == zlib.crc32(b"digits-random-1")


def test_seed_from_the_name_is_the_same_in_every_process(digits):
    del digits[CFG]["StrategyConfig"]["Seed"]
    code = ("import json, sys; from byohpo.request import parse_request; "
            "print(parse_request(json.load(sys.stdin)).seed)")
    seeds = {subprocess.run([sys.executable, "-c", code], input=json.dumps(digits), capture_output=True,
                            text=True, check=True, env={**os.environ, "PYTHONHASHSEED": h}).stdout.strip()
             for h in ("1", "2")}
    assert seeds == {str(zlib.crc32(b"digits-random-1"))}


# -- the fingerprint ------------------------------------------------------------------------------------

def test_fingerprint_ignores_budget_and_spelling_but_not_the_search(digits):
    base = parse_request(digits).fingerprint()
    assert len(base) == 64 and base == parse_request(copy.deepcopy(digits)).fingerprint()
    same = copy.deepcopy(digits)
    same[CFG]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 100
    same[CFG]["StrategyConfig"] = {"batch_size": 3, "Seed": 7}
    same[CFG]["ParameterRanges"]["ContinuousParameterRanges"][0]["MinValue"] = "1e-2"
    assert parse_request(same).fingerprint() == base
    same[CFG]["Strategy"] = "Random"  # SageMaker's name for the same strategy
    assert parse_request(same).fingerprint() == base
    for change in (lambda r: r[CFG]["StrategyConfig"].update(Seed=8),
                   lambda r: r[CFG]["StrategyConfig"].update(BatchSize=4),
                   lambda r: r[CFG]["HyperParameterTuningJobObjective"].update(Type="Minimize"),
                   lambda r: r[DEF]["StaticHyperParameters"].update(batch_size="50"),
                   lambda r: r[CFG]["ParameterRanges"]["IntegerParameterRanges"][0].update(MaxValue="60")):
        changed = copy.deepcopy(digits)
        change(changed)
        assert parse_request(changed).fingerprint() != base


# -- structural rules (botocore's model) ------------------------------------------------------------

@pytest.mark.parametrize(("mutate", "path", "fragment"), [
    (lambda r: r[CFG]["ResourceLimits"].update(MaxParallelTraningJobs=3),
     f"{CFG}.ResourceLimits.MaxParallelTraningJobs", "did you mean 'MaxParallelTrainingJobs'"),
    (lambda r: r[CFG]["ResourceLimits"].update(MaxNumberOfTrainingJobs="30"),
     f"{CFG}.ResourceLimits.MaxNumberOfTrainingJobs", "must be an integer, not a string"),
    (lambda r: r[CFG]["ResourceLimits"].update(MaxNumberOfTrainingJobs=0),
     f"{CFG}.ResourceLimits.MaxNumberOfTrainingJobs", "at least 1"),
    (lambda r: r[CFG]["ResourceLimits"].update(MaxParallelTrainingJobs=-2),
     f"{CFG}.ResourceLimits.MaxParallelTrainingJobs", "at least 1"),
    (lambda r: r[CFG]["ResourceLimits"].pop("MaxNumberOfTrainingJobs"),
     f"{CFG}.ResourceLimits.MaxNumberOfTrainingJobs", "is required"),
    (lambda r: r[CFG]["TuningJobCompletionCriteria"]["BestObjectiveNotImproving"].update(
        MaxNumberOfTrainingJobsNotImproving=2),
     f"{CFG}.TuningJobCompletionCriteria.BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving",
     "at least 3"),
    (lambda r: r[CFG]["TuningJobCompletionCriteria"].update(MaxFailedTrainingJobs=0),
     f"{CFG}.TuningJobCompletionCriteria.MaxFailedTrainingJobs", "at least 1"),
    (lambda r: r[CFG]["HyperParameterTuningJobObjective"].update(Type="Max"),
     f"{CFG}.HyperParameterTuningJobObjective.Type", "must be one of Maximize, Minimize"),
    (lambda r: r[CFG]["ParameterRanges"]["ContinuousParameterRanges"][0].update(MinValue=0.01),
     f"{RANGES}.ContinuousParameterRanges[0].MinValue", "must be a string, not a number"),
    (lambda r: r[DEF]["ResourceConfig"].update(InstanceType="ml.m5.xlarg"),
     f"{DEF}.ResourceConfig.InstanceType", "did you mean 'ml.m5.xlarge'"),
    (lambda r: r[DEF].update(RoleArn="my-role"), f"{DEF}.RoleArn", "at least 20 characters"),
    (lambda r: r[DEF]["StaticHyperParameters"].update(batch_size=100),
     f"{DEF}.StaticHyperParameters.batch_size", "must be a string"),
    (lambda r: r[DEF]["Local"].update(Script="x.py"), f"{DEF}.Local.Script", "unknown field"),
    (lambda r: r[CFG]["StrategyConfig"].update(Seed="7"), f"{CFG}.StrategyConfig.Seed",
     "non-negative integer"),
    (lambda r: r[CFG].update(RandomSeed=-1), f"{CFG}.RandomSeed", "at least 0"),
    (lambda r: r.update(WarmStartConfig={"ParentHyperParameterTuningJobs": [],
                                         "WarmStartType": "TransferLearning"}),
     "WarmStartConfig.ParentHyperParameterTuningJobs", "at least 1 item"),
    (lambda r: r.update(WarmStartConfig={"ParentHyperParameterTuningJobs": [
        {"HyperParameterTuningJobName": f"p{i}"} for i in range(6)], "WarmStartType": "TransferLearning"}),
     "WarmStartConfig.ParentHyperParameterTuningJobs", "at most 5 items"),
    (lambda r: r.update(Tags={"project": "x"}), "Tags", "must be a list, not an object"),
])
def test_structural_rule_is_refused_with_its_path(digits, mutate, path, fragment):
    mutate(digits)
    assert_refused(digits, path, fragment)


def test_a_request_must_be_an_object():
    with pytest.raises(ValidationError, match="must be a JSON object, not a list"):
        parse_request([])  # type: ignore[arg-type]


# -- byohpo's rules ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("mutate", "path", "fragment"), [
    (lambda r: r.update(HyperParameterTuningJobName="digits_ga"), "HyperParameterTuningJobName",
     "letters, digits or hyphens"),
    (lambda r: r.update(HyperParameterTuningJobName="digits-"), "HyperParameterTuningJobName",
     "ending with a letter or digit"),
    (lambda r: r.update(HyperParameterTuningJobName="a" * 33), "HyperParameterTuningJobName", "1 to 32"),
    (lambda r: r[CFG]["StrategyConfig"].update(BatchSize=0), f"{CFG}.StrategyConfig.BatchSize", "at least 1"),
    (lambda r: r[CFG]["StrategyConfig"].update(PopulationSize=6), f"{CFG}.StrategyConfig.PopulationSize",
     "unknown option for strategy 'random'"),
    (lambda r: r[CFG]["StrategyConfig"].update(seed=3), f"{CFG}.StrategyConfig.seed", "given twice"),
    (lambda r: r[CFG]["HyperParameterTuningJobObjective"].update(MetricName="val:acc"),
     f"{CFG}.HyperParameterTuningJobObjective.MetricName", "'val:acc' is not defined in " + METRICS),
    (lambda r: r[CFG].pop("HyperParameterTuningJobObjective"), f"{CFG}.HyperParameterTuningJobObjective",
     "is required (or"),
    (lambda r: r[CFG].update(Objectives=[{"Type": "Maximize", "MetricName": "validation:accuracy"}] * 2),
     f"{CFG}.Objectives[1].MetricName", "duplicate objective"),
    (lambda r: r[DEF]["AlgorithmSpecification"]["MetricDefinitions"][0].update(Regex="accuracy=[0-9.]+"),
     f"{METRICS}[0].Regex", "capture group"),
    (lambda r: r[DEF]["AlgorithmSpecification"]["MetricDefinitions"].append({"Name": "x", "Regex": "a=(["}),
     f"{METRICS}[1].Regex", "does not compile"),
    (lambda r: r[DEF]["AlgorithmSpecification"]["MetricDefinitions"].append(
        {"Name": "validation:accuracy", "Regex": "acc=(.*)"}), f"{METRICS}[1].Name", "duplicate metric"),
    (lambda r: (r[DEF]["AlgorithmSpecification"].pop("TrainingImage"), r[DEF].pop("Local")),
     f"{DEF}.AlgorithmSpecification.TrainingImage", "is required (or AlgorithmName)"),
    (lambda r: r[CFG]["ParameterRanges"]["ContinuousParameterRanges"][0].update(MinValue="0.5"),
     f"{RANGES}.ContinuousParameterRanges[0].MinValue", "must be below MaxValue"),
    (lambda r: r[CFG]["ParameterRanges"]["ContinuousParameterRanges"][0].update(MinValue="0"),
     f"{RANGES}.ContinuousParameterRanges[0].MinValue", "greater than 0 for Logarithmic"),
    (lambda r: r[CFG]["ParameterRanges"].update(FloatParameterRanges=[]), f"{RANGES}.FloatParameterRanges",
     "unknown range kind"),
    (lambda r: r[DEF]["StaticHyperParameters"].update(num_epoch="10"),
     f"{DEF}.StaticHyperParameters.num_epoch", "is also tuned"),
    (lambda r: r[CFG].pop("ParameterRanges"), RANGES, "is required"),
    (lambda r: r[DEF].update(HyperParameterRanges={"IntegerParameterRanges": []}),
     f"{DEF}.HyperParameterRanges", "give the ranges in one place"),
    (lambda r: r.update(TrainingJobDefinitions=[r[DEF]]), "TrainingJobDefinitions", "not both"),
    (lambda r: r.update(TrainingJobDefinitions=[r.pop(DEF)] * 2), "TrainingJobDefinitions",
     "multi-algorithm tuning is not supported yet"),
    (lambda r: r.pop(DEF), DEF, "is required"),
    (lambda r: r.update(WarmStartConfig={"ParentHyperParameterTuningJobs": [{}],
                                         "WarmStartType": "TransferLearning"}),
     "WarmStartConfig.ParentHyperParameterTuningJobs[0].HyperParameterTuningJobName", "is required"),
    (lambda r: r.update(WarmStartConfig={"ParentHyperParameterTuningJobs": [
        {"HyperParameterTuningJobName": "digits-random-1"}], "WarmStartType": "TransferLearning"}),
     "WarmStartConfig.ParentHyperParameterTuningJobs[0].HyperParameterTuningJobName", "from itself"),
    (lambda r: r.update(Autotune={"Mode": "Enabled"}), "Autotune", "not supported"),
])
def test_semantic_rule_is_refused_with_its_path(digits, mutate, path, fragment):
    mutate(digits)
    assert_refused(digits, path, fragment)


def test_unknown_strategy_lists_the_known_ones(digits):
    digits[CFG]["Strategy"] = "Hyperband"
    with pytest.raises(UnknownStrategyError) as info:
        parse_request(digits)
    (error,) = info.value.errors
    assert error.path == f"{CFG}.Strategy"
    assert "unknown strategy 'Hyperband'" in error.message and "random" in error.message


def test_a_strategy_module_that_cannot_load_is_refused(digits):
    digits[CFG]["Strategy"] = "no_such_package.module:Strategy"
    assert_refused(digits, f"{CFG}.Strategy", "cannot load strategy")


def test_single_objective_strategy_refuses_several_objectives(digits, monkeypatch):
    import byohpo.strategies as registry

    class OneObjective(RandomSearch):
        max_objectives = 1

    monkeypatch.setitem(registry._registered, "one-objective-test", OneObjective)
    digits[CFG]["Strategy"] = "one-objective-test"
    digits[DEF]["AlgorithmSpecification"]["MetricDefinitions"].append({"Name": "loss", "Regex": "loss=(.*)"})
    digits[CFG]["Objectives"] = [{"Type": "Maximize", "MetricName": "validation:accuracy"},
                                 {"Type": "Minimize", "MetricName": "loss"}]
    assert_refused(digits, f"{CFG}.Objectives", "optimizes 1 objective(s), got 2")


def test_a_user_strategy_refusing_its_options_any_way_is_reported(digits, monkeypatch):
    import byohpo.strategies as registry

    class Picky(RandomSearch):
        def __init__(self, space, objectives, *, seed, batch_size=None, width: int = 1):
            super().__init__(space, objectives, seed=seed, batch_size=batch_size)
            if width > 2:
                raise RuntimeError("width is too large")

    monkeypatch.setitem(registry._registered, "picky-test", Picky)
    digits[CFG]["Strategy"] = "picky-test"
    digits[CFG]["StrategyConfig"]["Width"] = 5
    assert_refused(digits, f"{CFG}.StrategyConfig", "RuntimeError: width is too large")


def test_strategy_options_are_checked_even_when_the_space_is_broken(digits):
    digits[CFG]["StrategyConfig"]["Bogus"] = 1
    digits[CFG]["ParameterRanges"]["ContinuousParameterRanges"][0]["MinValue"] = "0.5"
    paths = [p for p, _ in errors_of(digits)]
    assert f"{CFG}.StrategyConfig.Bogus" in paths
    assert f"{RANGES}.ContinuousParameterRanges[0].MinValue" in paths


def test_every_problem_is_reported_together(digits):
    digits["HyperParameterTuningJobName"] = "bad_name"
    digits[CFG]["ResourceLimits"]["MaxParallelTraningJobs"] = 3
    digits[CFG]["StrategyConfig"]["Bogus"] = 1
    digits[CFG]["HyperParameterTuningJobObjective"]["MetricName"] = "val:acc"
    digits[CFG]["ParameterRanges"]["IntegerParameterRanges"][0]["MaxValue"] = "5"
    digits[DEF]["AlgorithmSpecification"]["MetricDefinitions"].append({"Name": "x", "Regex": "x"})
    digits[DEF]["ResourceConfig"]["InstanceCount"] = "1"
    paths = [p for p, _ in errors_of(digits)]
    assert sorted(paths) == sorted([
        "HyperParameterTuningJobName",
        f"{CFG}.ResourceLimits.MaxParallelTraningJobs",
        f"{CFG}.StrategyConfig.Bogus",
        f"{CFG}.HyperParameterTuningJobObjective.MetricName",
        f"{RANGES}.IntegerParameterRanges[0].MinValue",
        f"{METRICS}[1].Regex",
        f"{DEF}.ResourceConfig.InstanceCount",
    ])


def test_a_field_is_reported_once(digits):
    """Our message replaces the schema's at the same field; nothing inside a mistyped field is reported."""
    digits["HyperParameterTuningJobName"] = "bad_name"  # both the pattern and our rule
    digits[CFG]["ParameterRanges"]["ContinuousParameterRanges"] = {"Name": "x"}  # schema and space
    found = errors_of(digits)
    assert [p for p, _ in found].count("HyperParameterTuningJobName") == 1
    assert [p for p, _ in found].count(f"{RANGES}.ContinuousParameterRanges") == 1
    assert "letters, digits or hyphens" in dict(found)["HyperParameterTuningJobName"]


# -- files and the local entry point -------------------------------------------------------------------

def test_load_request_reports_bad_json_with_line_and_column(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "HyperParameterTuningJobName": "x",\n  oops\n}\n')
    with pytest.raises(ValidationError, match=r"invalid JSON at line 3, column 3"):
        load_request(bad)
    with pytest.raises(ValidationError, match="cannot read"):
        load_request(tmp_path / "missing.json")


def test_load_request_parses_a_file():
    assert isinstance(load_request(DATA / "request-valid-digits.json"), TuningRequest)


def test_check_local_finds_the_entry_point(digits, tmp_path):
    (tmp_path / "data" / "train").mkdir(parents=True)
    req = parse_request(digits)
    with pytest.raises(ValidationError) as info:
        check_local(req, tmp_path)
    assert info.value.errors[0].path == f"{DEF}.Local.EntryPoint"
    assert info.value.errors[0].message == (f"'train.py' (from {tmp_path}, --base-dir {tmp_path}) does "
                                            "not exist")
    (tmp_path / "train.py").write_text("print('hi')\n")
    assert check_local(req, tmp_path) == tmp_path / "train.py"


def _local(digits, entry_point):
    raw = copy.deepcopy(digits)
    raw["TrainingJobDefinition"]["Local"]["EntryPoint"] = str(entry_point)
    raw["TrainingJobDefinition"]["Local"]["Channels"] = {"train": str(Path(__file__).parent)}
    return parse_request(raw)


def test_check_local_says_where_a_relative_entry_point_is_when_run_from_elsewhere(digits, tmp_path,
                                                                                  monkeypatch):
    # `byohpo run ga.json` from examples/digits/, for a request that says examples/digits/train.py.
    (tmp_path / "examples" / "digits").mkdir(parents=True)
    (tmp_path / "examples" / "digits" / "train.py").write_text("print('hi')\n")
    (tmp_path / "examples" / "digits" / "ga.json").write_text("{}")
    monkeypatch.chdir(tmp_path / "examples" / "digits")
    req = _local(digits, "examples/digits/train.py")
    with pytest.raises(ValidationError) as info:
        check_local(req, ".", request_path="ga.json")
    assert info.value.errors[0].message == (
        f"'examples/digits/train.py' (from {tmp_path}/examples/digits, the current directory) does not "
        f"exist; it is in {tmp_path}: run byohpo from there, or pass --base-dir ../..")
    assert check_local(req, "../..") == Path("../../examples/digits/train.py")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="permission bits; root reads anything")
def test_check_local_refuses_an_unreadable_script(digits, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    script.chmod(0)
    with pytest.raises(ValidationError, match="cannot be read"):
        check_local(_local(digits, script), tmp_path)


@pytest.mark.parametrize(("content", "mode", "name", "message"), [
    # /etc/passwd: it exists, but it is neither Python nor a program.
    ("root:x:0:0:root:/root:/bin/bash\n", 0o644, "passwd",
     "is neither a .py script nor an executable program: name a .py file (it runs with python), or make "
     "the program executable (chmod +x)"),
    ("echo training\n", 0o755, "train.sh",
     "is executable but cannot be started: it has no #! line and is not a program"),
    ("def train(:\n    pass\n", 0o644, "train.py", "is not valid Python: invalid syntax (line 1)"),
    (None, 0o755, "code", "is a folder, not a training script"),
])
def test_check_local_refuses_what_cannot_start(digits, tmp_path, content, mode, name, message):
    target = tmp_path / name
    if content is None:
        target.mkdir()
    else:
        target.write_text(content)
    target.chmod(mode)
    with pytest.raises(ValidationError) as info:
        check_local(_local(digits, target), tmp_path)
    assert info.value.errors[0].message == f"{str(target)!r} {message}"


def test_check_local_accepts_scripts_and_programs(digits, tmp_path):
    shell = tmp_path / "train.sh"
    shell.write_text("#!/bin/sh\necho training\n")
    shell.chmod(0o755)
    assert check_local(_local(digits, shell), tmp_path) == shell
    program = Path(sys.executable).resolve()
    assert check_local(_local(digits, program), tmp_path) == program


def test_check_local_requires_an_entry_point(digits, tmp_path):
    (tmp_path / "data" / "train").mkdir(parents=True)
    del digits[DEF]["Local"]["EntryPoint"]
    with pytest.raises(ValidationError, match=r"TrainingJobDefinition\.Local\.EntryPoint: is required"):
        check_local(parse_request(digits), tmp_path)


@pytest.mark.parametrize("regex", ["Validation-accuracy=([0-9.]+", "Validation-accuracy=[0-9.]+"])
def test_a_bad_objective_regex_is_one_problem_not_also_an_undefined_metric(digits, regex):
    digits[DEF]["AlgorithmSpecification"]["MetricDefinitions"][0]["Regex"] = regex
    with pytest.raises(ValidationError) as info:
        parse_request(digits)
    assert [e.path for e in info.value.errors] == [f"{METRICS}[0].Regex"]
