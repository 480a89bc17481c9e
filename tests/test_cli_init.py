"""``byohpo init SCRIPT``: from a training script to a request ``byohpo run`` takes, in one command."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from byohpo.cli import main
from byohpo.metrics import parse_metrics
from byohpo.request import check_local, load_request

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_the_digits_script_becomes_a_request_that_reads_what_it_prints(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(EXAMPLES.parent)
    out = tmp_path / "request.json"
    assert main(["init", "examples/digits/train.py", "-o", str(out)]) == 0
    assert "objective   Maximize Validation-accuracy" in capsys.readouterr().out
    request = load_request(out)
    assert check_local(request, EXAMPLES.parent) == EXAMPLES / "digits" / "train.py"
    assert request.space.names == ["learning_rate", "num_epoch", "batch_size", "hidden_units", "solver"]
    rate = request.space["learning_rate"]
    assert (rate.low, rate.high, rate.scaling) == (0.01, 1.0, "Logarithmic")  # around the default 0.1
    assert request.space["solver"].values == ("sgd", "adam")
    assert "model_dir" not in request.space.names  # a path, not a number to tune
    assert [o.metric for o in request.objectives] == ["Validation-accuracy"]
    # The regexes read the lines the script prints (examples/README.md shows them).
    printed = "Epoch[29] Train-accuracy=0.9963 Validation-accuracy=0.9800\nTraining-seconds=0.312\n"
    assert parse_metrics(printed, request.metric_definitions) == {
        "Train-accuracy": 0.9963, "Validation-accuracy": 0.98, "Training-seconds": 0.312}
    assert request.training.keys() == {"AlgorithmSpecification", "Local"}  # the shortest local request


def test_a_loss_is_minimized_and_an_existing_file_is_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("fit.py").write_text(textwrap.dedent("""
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=3e-4)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--layers", type=int, default=4)
        args = parser.parse_args()
        names = ["a", "b"]
        print(f"using: {', '.join(names)}")
        print(f"train_loss={1.0:.3f} val_loss: {0.5:.3f}")
    """))
    assert main(["init", "fit.py"]) == 0
    raw = json.loads(Path("request.json").read_text())
    config = raw["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Minimize", "MetricName": "val_loss"}
    assert [r["Name"] for r in config["ParameterRanges"]["ContinuousParameterRanges"]] == ["lr"]
    assert config["ParameterRanges"]["IntegerParameterRanges"] == [
        {"Name": "layers", "MinValue": "2", "MaxValue": "8", "ScalingType": "Auto"}]  # not the seed
    names = [m["Name"] for m in raw["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]]
    assert names == ["train_loss", "val_loss"]  # not "using", which prints a joined list
    capsys.readouterr()
    assert main(["init", "fit.py"]) == 2
    assert "request.json exists" in capsys.readouterr().err
    assert main(["init", "fit.py", "--force", "--strategy", "ga", "--jobs", "12"]) == 0
    assert load_request("request.json").strategy == "ga"


def test_a_script_with_nothing_to_read_gets_placeholders_that_still_validate(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("bare.py").write_text("print('hello')\n")
    assert main(["init", "bare.py"]) == 0
    out = capsys.readouterr().out
    assert "a placeholder" in out and "make the script print objective=<value>" in out
    request = load_request("request.json")
    assert request.space.names == ["learning_rate"] and request.objectives[0].metric == "objective"


def test_a_script_that_is_not_python_is_refused(tmp_path, capsys):
    script = tmp_path / "broken.py"
    script.write_text("def (:\n")
    assert main(["init", str(script), "-o", str(tmp_path / "r.json")]) == 2
    assert "cannot read" in capsys.readouterr().err and not (tmp_path / "r.json").exists()


def test_validate_lists_what_byohpo_start_would_still_need(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("fit.py").write_text("print(f'accuracy={0.5}')\n")
    assert main(["init", "fit.py"]) == 0
    capsys.readouterr()
    assert main(["validate", "request.json"]) == 0
    out = capsys.readouterr().out
    assert out.endswith(
        "  on AWS      byohpo start would still need:\n"
        "    TrainingJobDefinition.RoleArn: is required to run on SageMaker\n"
        "    TrainingJobDefinition.OutputDataConfig: is required to run on SageMaker\n"
        "    TrainingJobDefinition.StoppingCondition: is required to run on SageMaker\n"
        "    TrainingJobDefinition.ResourceConfig: is required to run on SageMaker (or "
        "HyperParameterTuningResourceConfig)\n"
        "    TrainingJobDefinition.AlgorithmSpecification.TrainingImage: is required to run on SageMaker "
        "(or AlgorithmName)\n"
        "    TrainingJobDefinition.AlgorithmSpecification.TrainingInputMode: is required to run on "
        "SageMaker\n")
    docs_request = Path(__file__).parent / "data" / "request-valid-aws-docs-xgboost.json"
    assert main(["validate", str(docs_request)]) == 0
    out = capsys.readouterr().out
    assert "  algorithm   SageMaker's built-in XGBoost: its own metrics; here: byohpo's stand-in\n" in out
    assert out.endswith("  on AWS      ready for byohpo start\n")


def test_the_readmes_shortest_local_request_runs_as_it_says(tmp_path, monkeypatch, capsys):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("### The shortest local request", 1)[1]
    text = section.split("```json\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    Path("request.json").write_text(text)
    Path("train.py").write_text(textwrap.dedent("""
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--learning_rate", type=float)
        print(f"accuracy={1 - abs(parser.parse_args().learning_rate - 0.01):.4f}")
    """))
    assert main(["run", "request.json", "--quiet", "--top", "0"]) == 0, capsys.readouterr().err
    assert load_request("request.json").training.keys() == {"AlgorithmSpecification", "Local"}
