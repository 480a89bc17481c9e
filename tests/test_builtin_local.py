"""Built-in algorithms on this machine: data channels laid out as SageMaker lays them out, and the
built-in XGBoost algorithm run by its stand-in, its metrics read with the algorithm's own regexes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from byohpo import algorithms, standins
from byohpo.cli import main
from byohpo.jobs import LocalTrainingJob
from byohpo.request import parse_request
from byohpo.store.sqlite import SQLiteStore

DATA = Path(__file__).parent / "data"
DEF = "TrainingJobDefinition"
STAND_IN = standins.entry_point("xgboost")
XGB_METRICS = algorithms.XGBOOST.metric_definitions()


def make_data(folder: Path, rows: int = 240, seed: int = 0) -> None:
    """A binary task where depth and learning rate matter: label = x0 * x1 > 0, plus noise; CSV with
    the label first and no header, as the built-in XGBoost algorithm reads it."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", rows), ("validation", rows // 2)):
        x = rng.normal(size=(n, 4))
        y = ((x[:, 0] * x[:, 1] + 0.3 * rng.normal(size=n)) > 0).astype(int)
        np.savetxt(folder / f"{name}.csv", np.column_stack([y, x]), delimiter=",", fmt="%.5g")


def xgboost_job(tmp_path: Path, hyperparameters: dict[str, str], channels: dict[str, Path],
                content_type: str | None = "text/csv") -> Any:
    config = {name: {"ContentType": content_type} if content_type else {} for name in channels}
    job = LocalTrainingJob(STAND_IN, hyperparameters, tmp_path / "trial", channels=channels,
                           input_data_config=config, metric_definitions=XGB_METRICS, required_metrics=[])
    return job.run()


# -- the AWS docs' request, run here ---------------------------------------------------------------

def test_the_aws_docs_xgboost_request_runs_here_with_only_local_channels_added(tmp_path, monkeypatch, capsys):
    make_data(tmp_path / "data")
    raw = json.loads((DATA / "request-valid-aws-docs-xgboost.json").read_text())
    raw[DEF]["Local"] = {"Channels": {"train": "data/train.csv", "validation": "data/validation.csv"}}
    (tmp_path / "request.json").write_text(json.dumps(raw))
    monkeypatch.chdir(tmp_path)

    assert main(["run", "request.json", "--quiet", "--top", "0"]) == 0, capsys.readouterr().err
    with SQLiteStore(tmp_path / "byohpo-runs" / "byohpo.sqlite") as store:
        run, trials = store.get_run("MyTuningJob"), store.get_trials("MyTuningJob")
    assert run.status == "Completed" and len(trials) == 20
    assert all(t.status == "Completed" for t in trials), [t.failure_reason for t in trials]
    auc = [t.values["validation:auc"] for t in trials]
    assert all(0.0 <= a <= 1.0 for a in auc) and max(auc) > 0.8
    assert len(set(auc)) > 5  # the hyperparameters change the model
    assert all("train:auc" in t.values for t in trials)  # every metric the log has is kept
    hyperparameters = trials[0].hyperparameters
    assert hyperparameters["_tuning_objective_metric"] == "validation:auc"
    log = Path(trials[0].log_path).read_text()
    assert f"[99]#011train-auc:{trials[0].values['train:auc']:.5f}#011validation-auc:" in log
    trial_dir = Path(trials[0].log_path).parent
    assert (trial_dir / "model" / "xgboost-model").is_file()
    assert sorted(p.name for p in (trial_dir / "input" / "data" / "train").iterdir()) == ["train.csv"]


# -- the stand-in ---------------------------------------------------------------------------------

def test_libsvm_folders_with_several_files_and_the_algorithms_own_metrics(tmp_path):
    rng = np.random.default_rng(1)
    for channel, n in (("train", 200), ("validation", 100)):
        folder = tmp_path / channel
        folder.mkdir()
        for part in range(2):
            lines = []
            for _ in range(n // 2):
                x = rng.normal(size=3)
                label = int(x[0] + x[2] > 0)
                # libsvm: sparse, 1-based indices; the second feature left out when small
                features = " ".join(f"{i + 1}:{v:.4f}" for i, v in enumerate(x) if i != 1 or abs(v) > 0.5)
                lines.append(f"{label} {features}")
            (folder / f"part-{part}.libsvm").write_text("\n".join(lines) + "\n")
        (folder / "_SUCCESS").write_text("")  # skipped, as the container skips it
    result = xgboost_job(tmp_path, {"num_round": "20", "objective": "binary:logistic",
                                    "eval_metric": "accuracy,f1,logloss", "max_depth": "3"},
                         {"train": tmp_path / "train", "validation": tmp_path / "validation"},
                         content_type=None)
    assert result.status == "Completed", result.failure_reason
    assert set(result.values) == {f"{c}:{m}" for c in ("train", "validation")
                                  for m in ("accuracy", "f1", "logloss")}
    assert 0.8 < result.values["validation:accuracy"] <= 1.0
    # libsvm indices are column numbers, as xgboost reads them: 1..3 make 4 columns, the first empty
    assert "Train matrix has 200 rows and 4 columns" in result.log_path.read_text()


def test_multiclass_with_csv_weights_and_early_stopping_on_the_tuning_metric(tmp_path):
    rng = np.random.default_rng(2)
    for name, n in (("train", 300), ("validation", 150)):
        x = rng.normal(size=(n, 3))
        y = np.digitize(x[:, 0] + 0.1 * rng.normal(size=n), [-0.5, 0.5])
        np.savetxt(tmp_path / f"{name}.csv", np.column_stack([y, np.ones(n), x]), delimiter=",", fmt="%.5g")
    result = xgboost_job(tmp_path, {"num_round": "500", "objective": "multi:softprob", "num_class": "3",
                                    "csv_weights": "1", "early_stopping_rounds": "5", "eta": "0.5",
                                    "_tuning_objective_metric": "validation:merror"},
                         {"train": tmp_path / "train.csv", "validation": tmp_path / "validation.csv"},
                         content_type="text/csv;label_size=1")
    assert result.status == "Completed", result.failure_reason
    assert set(result.values) == {"train:merror", "validation:merror"}
    rounds = [line for line in result.log_path.read_text().splitlines() if line.startswith("[")]
    assert 5 < len(rounds) < 500  # stopped early, on validation-merror
    assert "3 columns" in result.log_path.read_text()  # the weight column is not a feature


@pytest.mark.parametrize(("hyperparameters", "reason"), [
    ({"objective": "binary:logistic"}, "Missing required hyperparameter: num_round"),
    ({"num_round": "10", "learning_rte": "0.1"}, "Extraneous hyperparameter found: learning_rte"),
    ({"num_round": "10", "eta": "1.5"}, "Hyperparameter eta: value 1.5 not in range [0, 1]"),
    ({"num_round": "2.5"}, "Hyperparameter num_round: could not parse value '2.5' as an integer"),
    ({"num_round": "10", "objective": "multi:softmax"}, "Require input for parameter 'num_class'"),
    ({"num_round": "10", "objective": "reg:squarederror", "eval_metric": "auc"},
     "Metric 'auc' can only be applied for classification and ranking problems."),
])
def test_hyperparameters_are_checked_as_the_algorithm_checks_them(tmp_path, hyperparameters, reason):
    make_data(tmp_path / "data", rows=20)
    result = xgboost_job(tmp_path, hyperparameters, {"train": tmp_path / "data" / "train.csv"})
    assert result.status == "Failed" and reason in result.failure_reason


def test_sagemaker_names_and_aliases_reach_xgboost(tmp_path):
    make_data(tmp_path / "data", rows=200)
    channels = {"train": tmp_path / "data" / "train.csv", "validation": tmp_path / "data" / "validation.csv"}
    common = {"num_round": "30", "objective": "binary:logistic", "eval_metric": "auc"}
    plain = xgboost_job(tmp_path / "a", {**common, "eta": "0.3", "alpha": "50"}, channels)
    aliased = xgboost_job(tmp_path / "b", {**common, "learning_rate": "0.3", "reg_alpha": "50"}, channels)
    default = xgboost_job(tmp_path / "c", common, channels)
    assert plain.values == aliased.values  # the same model
    assert plain.values != default.values  # alpha is applied


def test_a_csv_with_a_header_row_is_refused(tmp_path):
    (tmp_path / "train.csv").write_text("label,x\n1,0.5\n0,0.1\n")
    result = xgboost_job(tmp_path, {"num_round": "2"}, {"train": tmp_path / "train.csv"})
    assert result.status == "Failed" and "looks like a header" in result.failure_reason


# -- channels for any entry point ---------------------------------------------------------------------

def test_channels_are_laid_out_with_their_content_type(tmp_path):
    entry = tmp_path / "code" / "train.py"
    entry.parent.mkdir()
    entry.write_text(textwrap.dedent("""
        import json, os
        from pathlib import Path
        env = os.environ
        seen = {"channels": json.loads(env["SM_CHANNELS"]), "config": json.loads(env["SM_INPUT_DATA_CONFIG"]),
                "train": sorted(os.listdir(env["SM_CHANNEL_TRAIN"])),
                "images": sorted(os.listdir(env["SM_CHANNEL_IMAGES"])),
                "file": Path(env["SM_INPUT_CONFIG_DIR"], "inputdataconfig.json").read_text()}
        print(json.dumps(seen))
    """))
    (tmp_path / "train.csv").write_text("1,2\n")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(b"\xff\xd8")
    raw = json.loads((DATA / "request-valid-digits.json").read_text())
    raw[DEF]["InputDataConfig"][0]["ContentType"] = "text/csv"
    raw[DEF]["Local"] = {"EntryPoint": "train.py", "Channels": {"train": "train.csv", "images": "images"}}
    request = parse_request(raw)
    job = LocalTrainingJob(entry, {}, tmp_path / "trial", channels={"train": tmp_path / "train.csv",
                                                                    "images": tmp_path / "images"},
                           input_data_config=request.local_input_data_config(), required_metrics=[])
    result = job.run()
    assert result.status == "Completed", result.failure_reason
    seen = json.loads(result.log_path.read_text())
    assert seen["channels"] == ["images", "train"]
    assert seen["train"] == ["train.csv"] and seen["images"] == ["a.jpg"]
    file_mode = {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
                 "RecordWrapperType": "None"}
    assert seen["config"] == {"images": file_mode, "train": {"ContentType": "text/csv", **file_mode}}
    assert json.loads(seen["file"]) == seen["config"]
