"""``byohpo validate`` and ``byohpo strategies``: exit codes and output."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import byohpo.strategies as registry
from byohpo.cli import main

DATA = Path(__file__).parent / "data"
DIGITS = DATA / "request-valid-digits.json"


@pytest.fixture
def code_dir(tmp_path):
    """A folder holding the train.py that DIGITS's Local.EntryPoint names."""
    (tmp_path / "train.py").write_text("print('training')\n")
    (tmp_path / "data" / "train").mkdir(parents=True)  # its Local.Channels
    return tmp_path


def test_valid_request_prints_a_summary_and_exits_0(capsys, code_dir):
    assert main(["validate", str(DIGITS), "--base-dir", str(code_dir)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert f"{DIGITS}: valid" in out
    for fragment in ("digits-random-1", "random (BatchSize=3)", "seed        7 (StrategyConfig.Seed)",
                     "Maximize validation:accuracy", "3 tuned, 1 static",
                     "learning_rate  continuous 0.01 .. 0.2, Logarithmic",
                     "num_epoch      integer 10 .. 50, Linear",
                     "activation     categorical relu, tanh", "30 training jobs, 3 in parallel"):
        assert fragment in out, fragment


def test_console_request_summary_names_the_seed_source_and_warm_start(tmp_path, capsys):
    raw = json.loads((DATA / "request-valid-amt-console.json").read_text())
    raw["HyperParameterTuningJobConfig"]["Strategy"] = "random"
    path = tmp_path / "console.json"
    path.write_text(json.dumps(raw))
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "12345 (RandomSeed)" in out and "11 tuned, 3 static" in out
    assert "warm start  IdenticalDataAndAlgorithm from xgb-churn-2024-05-20" in out


def test_invalid_request_prints_each_error_on_its_own_line_and_exits_2(capsys):
    assert main(["validate", str(DATA / "request-invalid-types.json")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert "not a valid tuning request (3 problems)" in lines[0]
    assert sorted(line.strip().split(":")[0] for line in lines[1:]) == [
        "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.Type",
        "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].MinValue",
        "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs",
    ]


def test_missing_file_exits_2_with_a_clear_message(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("byohpo validate: cannot read") and "nope.json" in err


def test_bad_json_exits_2_with_line_and_column(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"HyperParameterTuningJobName": "x",}')
    assert main(["validate", str(bad)]) == 2
    assert "invalid JSON at line 1, column 37" in capsys.readouterr().err


def test_json_that_is_not_an_object_exits_2(tmp_path, capsys):
    path = tmp_path / "list.json"
    path.write_text("[]")
    assert main(["validate", str(path)]) == 2
    assert "must be a JSON object" in capsys.readouterr().err


@pytest.mark.parametrize("local", [["--local"], []])
def test_a_request_with_local_is_checked_as_run_checks_it(tmp_path, capsys, local, monkeypatch):
    # With or without --local: `validate` must not call valid what `run` refuses.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "train").mkdir(parents=True)  # its Local.Channels
    assert main(["validate", str(DIGITS), *local]) == 2
    err = capsys.readouterr().err
    assert (f"  TrainingJobDefinition.Local.EntryPoint: 'train.py' (from {tmp_path.resolve()}, the current "
            "directory) does not exist") in err
    (tmp_path / "train.py").write_text("print('training')\n")
    assert main(["validate", str(DIGITS), *local]) == 0
    assert "local       train.py" in capsys.readouterr().out


def test_local_requires_local_and_without_it_aws_requests_stay_valid(tmp_path, capsys):
    raw = json.loads(DIGITS.read_text())
    del raw["TrainingJobDefinition"]["Local"]
    path = tmp_path / "aws-only.json"
    path.write_text(json.dumps(raw))
    assert main(["validate", str(path)]) == 0
    capsys.readouterr()
    assert main(["validate", str(path), "--local"]) == 2
    assert "has no local data: map it to a local file or folder in TrainingJobDefinition.Local.Channels" in \
        capsys.readouterr().err


def test_usage_errors_and_no_command_exit_2(capsys):
    assert main([]) == 2
    assert main(["validate"]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["--help"]) == 0
    assert "validate" in capsys.readouterr().out


def test_strategies_lists_every_name_with_its_description(capsys):
    assert main(["strategies"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == registry.strategy_names()
    random_line = lines[names.index("random")]
    assert "Uniform random sampling" in random_line


def test_strategies_lists_a_broken_strategy_with_its_error(capsys, monkeypatch):
    monkeypatch.setitem(registry.BUILTIN, "broken-test", "byohpo_no_such_module:Nothing")
    assert main(["strategies", "--options"]) == 0
    out = capsys.readouterr().out
    broken = next(line for line in out.splitlines() if line.startswith("broken-test"))
    assert "unavailable" in broken and "byohpo_no_such_module" in broken
    assert "BatchSize  candidates per propose, 1 to 1,000" in out  # listed after it


def test_strategies_options_say_what_each_option_and_its_default_mean(capsys):
    assert main(["strategies", "--options"]) == 0
    out = capsys.readouterr().out
    assert "default None" not in out and "(default None" not in out  # what None means, in words
    assert "'n' is the number of free parallel slots: ResourceLimits.MaxParallelTrainingJobs" in \
        " ".join(out.split())
    blocks = {}
    indent = " " * (max(map(len, registry.strategy_names())) + 4)  # an option's line; +2: its text's
    for line in out.splitlines():
        if line and not line.startswith(" ") and line.split()[0] in registry.strategy_names():
            current = blocks.setdefault(line.split()[0], [])
        elif line.startswith(indent) and not line.startswith(indent + "  "):
            current.append(line.split()[0])
    assert set(blocks) == set(registry.strategy_names())
    for name, listed in blocks.items():
        cls = registry.strategy_class(name)
        seed = [] if name.startswith("amt-") else ["Seed"]  # SageMaker's tuners: the request's RandomSeed
        expected = [*seed, *(registry.to_pascal(o) for o in registry.strategy_options(cls))]
        assert listed == expected, name
        # Every built-in option is documented in its class's Args section.
        assert set(registry.option_docs(cls)) >= set(registry.strategy_options(cls)), name
    ga = " ".join(out.split("\nga ", 1)[1].split("\npso ", 1)[0].split())
    assert "PopulationSize candidates per generation; default the n of the first propose (at least 2)" in ga


def test_an_unknown_option_lists_seed_among_the_options():
    from byohpo.errors import ValidationError
    from byohpo.space import SearchSpace
    from byohpo.trials import Objective

    space = SearchSpace.from_sagemaker({"ContinuousParameterRanges": [
        {"Name": "x", "MinValue": "0", "MaxValue": "1"}]})
    with pytest.raises(ValidationError) as info:
        registry.make_strategy("ga", space, [Objective("m")], 1, {"Sed": 7})
    assert info.value.errors[0].message.startswith("unknown option for strategy 'ga' (options: Seed, "
                                                   "PopulationSize, TournamentSize")


@pytest.mark.skipif(shutil.which("byohpo") is None, reason="the byohpo console script is not installed")
def test_installed_console_script(code_dir):
    ok = subprocess.run(["byohpo", "validate", str(DIGITS)], capture_output=True, text=True, timeout=60,
                        cwd=code_dir)
    assert ok.returncode == 0, ok.stderr
    assert "digits-random-1" in ok.stdout
    bad = subprocess.run(["byohpo", "validate", str(DATA / "request-invalid-typo.json")], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2
    assert "MaxParallelTraningJobs: unknown field; did you mean 'MaxParallelTrainingJobs'?" in bad.stderr
