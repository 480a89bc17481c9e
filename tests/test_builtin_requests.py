"""Requests for SageMaker's built-in algorithms, in the shapes other people write them, with only
``Strategy`` left as they wrote it (Bayesian and Random name our own).

The request files in ``tests/data`` follow public examples:

* ``request-valid-aws-docs-xgboost.json``: the SageMaker Developer Guide's tuning example
  ("Configure and Launch a Hyperparameter Tuning Job": ``RandomSeed: 123``, ranges for ``eta``,
  ``alpha``, ``min_child_weight`` and ``max_depth``, ``validation:auc``), its Python variables filled in,
  with the image ``sagemaker.image_uris.retrieve('xgboost', region, '1.0-1')`` returns;
* ``request-valid-knn-airflow.json``: Apache Airflow's SageMaker system test (k-NN, ``test:accuracy``,
  integer ranges without ``ScalingType``);
* ``request-valid-object-detection-warm-start.json``: the object detection notebooks' hyperparameters,
  tuned with a ``TransferLearning`` warm start and ``TrainingJobEarlyStoppingType: Auto``;
* ``request-valid-algorithm-name-console.json``: the console's plural ``TrainingJobDefinitions`` with an
  ``AlgorithmName`` (the XGBoost container's own integration test tunes an algorithm resource so).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from byohpo import algorithms
from byohpo.aws.training import check_training, shared_training_fields
from byohpo.errors import ValidationError
from byohpo.request import check_local, parse_request

DATA = Path(__file__).parent / "data"
CFG = "HyperParameterTuningJobConfig"
DEF = "TrainingJobDefinition"
LEGACY_XGBOOST = "433757028032.dkr.ecr.us-west-2.amazonaws.com/xgboost:latest"  # the SageMaker examples'


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"request-valid-{name}.json").read_text())


def errors_of(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        parse_request(raw)
    return {e.path: e.message for e in info.value.errors}


# -- XGBoost -----------------------------------------------------------------------------------------

def test_the_aws_docs_xgboost_request_needs_no_metric_definitions():
    request = parse_request(load("aws-docs-xgboost"))
    assert request.algorithm == "xgboost" and request.metric_definitions == []
    assert request.seed == 123 and request.strategy == "bayesian"
    assert request.space.names == ["eta", "alpha", "min_child_weight", "max_depth"]
    # What AMT adds to a built-in algorithm's static hyperparameters, so the job computes the metric.
    assert request.space.static["_tuning_objective_metric"] == "validation:auc"
    shared = check_training(request)  # every CreateTrainingJob field as SageMaker will get it
    assert shared["HyperParameters"]["_tuning_objective_metric"] == "validation:auc"
    assert "MetricDefinitions" not in shared["AlgorithmSpecification"]


@pytest.mark.parametrize("image", [
    LEGACY_XGBOOST,
    "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1",
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
    "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.5-1-cpu-py3",
    "390948362332.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-xgboost:1.2-2",
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost@sha256:" + "ab" * 32,
])
def test_any_region_and_tag_of_the_xgboost_images(image):
    raw = load("aws-docs-xgboost")
    raw[DEF]["AlgorithmSpecification"]["TrainingImage"] = image
    assert parse_request(raw).algorithm == "xgboost"


@pytest.mark.parametrize("image", ["xgboost:latest",
                                   "111122223333.dkr.ecr.us-east-1.amazonaws.com/my-xgboost:1",
                                   "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3.0-cpu-py311",
                                   "public.ecr.aws/sagemaker/sagemaker-xgboost:1.7-1"])
def test_other_images_are_not_built_in_algorithms(image):
    raw = load("aws-docs-xgboost")
    raw[DEF]["AlgorithmSpecification"]["TrainingImage"] = image
    assert errors_of(raw) == {f"{CFG}.HyperParameterTuningJobObjective.MetricName":
                              "metric 'validation:auc' is not defined in TrainingJobDefinition."
                              "AlgorithmSpecification.MetricDefinitions (defined: none)"}


def test_the_xgboost_image_running_a_script_defines_its_own_metrics():
    raw = load("aws-docs-xgboost")
    raw[DEF]["StaticHyperParameters"]["sagemaker_program"] = '"train.py"'
    assert "is not defined in" in errors_of(raw)[f"{CFG}.HyperParameterTuningJobObjective.MetricName"]
    raw[DEF]["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "validation:auc", "Regex": "validation-auc:([0-9\\.]+)"}]
    request = parse_request(raw)
    assert request.algorithm is None and "_tuning_objective_metric" not in request.space.static


@pytest.mark.parametrize("metric", ["validation:aucc", "train:auc", "test:auc"])
def test_a_metric_the_algorithm_is_not_tuned_for_is_refused_with_the_list(metric):
    raw = load("aws-docs-xgboost")
    raw[CFG]["HyperParameterTuningJobObjective"]["MetricName"] = metric
    message = errors_of(raw)[f"{CFG}.HyperParameterTuningJobObjective.MetricName"]
    assert message.startswith(f"{metric!r} is not a metric SageMaker's built-in XGBoost algorithm can be "
                              "tuned for (tunable: validation:accuracy, validation:auc,")
    assert "https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost-tuning.html" in message


def test_every_metric_the_docs_list_for_xgboost_is_tunable_in_its_direction():
    documented = {"accuracy": "Maximize", "auc": "Maximize", "error": "Minimize", "f1": "Maximize",
                  "logloss": "Minimize", "mae": "Minimize", "map": "Maximize", "merror": "Minimize",
                  "mlogloss": "Minimize", "mse": "Minimize", "ndcg": "Maximize", "rmse": "Minimize"}
    for name, direction in documented.items():
        metric = algorithms.XGBOOST.metric(f"validation:{name}")
        assert metric is not None and metric.tunable and metric.direction == direction, name


def test_the_user_may_define_more_metrics_beside_the_algorithms():
    raw = load("aws-docs-xgboost")
    raw[DEF]["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "validation:auc", "Regex": "my-auc=([0-9.]+)"},
        {"Name": "seconds", "Regex": "took ([0-9.]+) s"}]
    request = parse_request(raw)
    definitions = {d["Name"]: d["Regex"] for d in request.log_metric_definitions()}
    assert definitions["validation:auc"] == "my-auc=([0-9.]+)"  # the request's own regex wins
    assert definitions["train:auc"] == algorithms.xgboost_regex("train", "auc")
    assert definitions["seconds"] == "took ([0-9.]+) s"


def test_the_xgboost_regexes_read_the_log_as_sagemaker_reads_it():
    from byohpo.metrics import parse_metrics

    # Lines of a built-in XGBoost job's CloudWatch log (the tab logged as #011).
    log = ("[2024-06-03:10:11:12:INFO] Single node training.\n"
           "[0]#011train-auc:0.91234#011validation-auc:0.88001\n"
           "[1]#011train-rmse:1.2e-03#011validation-rmse:-0.5\n")
    values = parse_metrics(log, algorithms.XGBOOST.metric_definitions())
    assert values == {"validation:auc": 0.88001, "validation:rmse": -0.5, "train:auc": 0.91234,
                      "train:rmse": 0.0012}


# -- other built-in algorithms -------------------------------------------------------------------

def test_the_airflow_knn_request():
    request = parse_request(load("knn-airflow"))
    assert request.algorithm == "knn" and request.objectives[0].metric == "test:accuracy"
    assert [(p.name, p.low, p.high, p.scaling) for p in request.space] == [
        ("k", 1, 600, "Linear"), ("sample_size", 1, 600, "Linear")]
    assert request.space.static == {"_tuning_objective_metric": "test:accuracy",
                                    "predictor_type": "classifier", "feature_dim": "4"}
    check_training(request)


def test_knn_is_tuned_for_test_metrics_only():
    raw = load("knn-airflow")
    raw[CFG]["HyperParameterTuningJobObjective"] = {"MetricName": "validation:accuracy", "Type": "Maximize"}
    message = errors_of(raw)[f"{CFG}.HyperParameterTuningJobObjective.MetricName"]
    docs = "https://docs.aws.amazon.com/sagemaker/latest/dg/kNN-tuning.html"
    assert f"(tunable: test:accuracy, test:mse; {docs})" in message


def test_object_detection_with_a_transfer_learning_warm_start_and_early_stopping():
    request = parse_request(load("object-detection-warm-start"))
    assert request.algorithm == "object-detection"
    assert (request.warm_start_type, request.warm_start_parents) == ("TransferLearning", ["od-pascalvoc-1"])
    assert request.early_stopping_type == "Auto"
    assert request.space["momentum"].low == 0.0 and request.space["optimizer"].values == (
        "sgd", "adam", "rmsprop", "adadelta")
    check_training(request)


def test_an_algorithm_that_cannot_be_tuned_says_so():
    raw = load("knn-airflow")
    raw[DEF]["AlgorithmSpecification"]["TrainingImage"] = "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"
    message = errors_of(raw)[f"{CFG}.HyperParameterTuningJobObjective.MetricName"]
    assert message == ("'test:accuracy' cannot be tuned: SageMaker's built-in PCA algorithm has no metric "
                       "that Automatic Model Tuning can optimize "
                       "(https://docs.aws.amazon.com/sagemaker/latest/dg/pca.html)")


@pytest.mark.parametrize("repository", [r for a in algorithms.CATALOG for r in a.repositories])
def test_every_catalogued_repository_is_recognized(repository):
    image = f"382416733822.dkr.ecr.us-east-1.amazonaws.com/{repository}:1"
    algorithm = algorithms.algorithm_for_image(image)
    assert algorithm is not None and repository in algorithm.repositories
    for metric in algorithm.metrics:
        assert metric.direction in ("Maximize", "Minimize") and ":" in metric.name


def test_an_algorithm_name_in_the_plural_definitions_accepts_its_own_metric():
    request = parse_request(load("algorithm-name-console"))
    assert request.algorithm is None and request.algorithm_name.endswith(":algorithm/xgboost-regression-2024")
    assert request.metric_definitions == [] and request.objectives[0].metric == "validation:rmse"
    assert request.training_path == "TrainingJobDefinitions[0]"
    # Only the algorithm knows its metrics: nothing is added to its hyperparameters.
    assert request.space.static == {"num_round": "3"}
    assert shared_training_fields(request)["AlgorithmSpecification"]["AlgorithmName"].startswith("arn:aws:")


# -- shapes every request may have ----------------------------------------------------------------

def test_auto_scaling_on_an_integer_range_from_zero():
    raw = load("aws-docs-xgboost")
    raw[CFG]["ParameterRanges"]["IntegerParameterRanges"] = [
        {"Name": "max_depth", "MinValue": "0", "MaxValue": "10", "ScalingType": "Auto"}]
    param = parse_request(raw).space["max_depth"]
    assert (param.low, param.high, param.scaling) == (0, 10, "Linear")


def test_empty_range_lists_beside_a_range_are_accepted():
    raw = load("algorithm-name-console")
    ranges = raw["TrainingJobDefinitions"][0]["HyperParameterRanges"]
    assert ranges["IntegerParameterRanges"] == [] and ranges["AutoParameters"] == []
    assert parse_request(raw).space.names == ["alpha"]


@pytest.mark.parametrize("where", ["config", "definition"])
def test_no_parameter_to_tune_names_the_whole_ranges(where):
    empty = {"ContinuousParameterRanges": [], "IntegerParameterRanges": [], "CategoricalParameterRanges": [],
             "AutoParameters": []}
    if where == "config":
        raw = load("aws-docs-xgboost")
        raw[CFG]["ParameterRanges"] = empty
        path = f"{CFG}.ParameterRanges"
    else:
        raw = load("algorithm-name-console")
        raw["TrainingJobDefinitions"][0]["HyperParameterRanges"] = empty
        path = "TrainingJobDefinitions[0].HyperParameterRanges"
    assert errors_of(raw) == {path: "no parameter to tune: give at least one range in "
                                    "ContinuousParameterRanges, IntegerParameterRanges or "
                                    "CategoricalParameterRanges"}


@pytest.mark.parametrize("value", ["", "auto", "-"])
def test_a_placeholder_static_hyperparameter_is_passed_on_as_it_is(value):
    raw = load("knn-airflow")
    raw[DEF]["StaticHyperParameters"]["index_metric"] = value
    request = parse_request(raw)
    assert request.space.static["index_metric"] == value
    assert check_training(request)["HyperParameters"]["index_metric"] == value


def test_the_users_own_tuning_objective_hyperparameter_is_kept():
    raw = load("aws-docs-xgboost")
    raw[DEF]["StaticHyperParameters"]["_tuning_objective_metric"] = "validation:auc"
    assert parse_request(raw).space.static["_tuning_objective_metric"] == "validation:auc"


# -- short requests for this machine -------------------------------------------------------------

SHORTEST = {
    "HyperParameterTuningJobName": "my-first-run",
    CFG: {
        "Strategy": "bayesian",
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "accuracy"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2},
        "ParameterRanges": {"ContinuousParameterRanges": [
            {"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "0.1", "ScalingType": "Logarithmic"}]},
    },
    DEF: {
        "AlgorithmSpecification": {"MetricDefinitions": [
            {"Name": "accuracy", "Regex": "accuracy=([0-9.]+)"}]},
        "Local": {"EntryPoint": "train.py"},
    },
}


def test_a_local_request_needs_none_of_the_aws_fields():
    request = parse_request(copy.deepcopy(SHORTEST))
    assert request.entry_point == "train.py"
    assert request.training.keys() == {"AlgorithmSpecification", "Local"}


def test_without_local_the_aws_fields_are_required_again():
    raw = copy.deepcopy(SHORTEST)
    del raw[DEF]["Local"]
    unless = " (unless TrainingJobDefinition.Local is given)"
    assert errors_of(raw) == {
        f"{DEF}.RoleArn": "is required" + unless, f"{DEF}.OutputDataConfig": "is required" + unless,
        f"{DEF}.StoppingCondition": "is required" + unless,
        f"{DEF}.AlgorithmSpecification.TrainingImage": "is required (or AlgorithmName)",
        f"{DEF}.AlgorithmSpecification.TrainingInputMode": "is required",
    }


def test_byohpo_start_still_needs_the_aws_fields_of_a_local_request():
    with pytest.raises(ValidationError) as info:
        check_training(parse_request(copy.deepcopy(SHORTEST)))
    assert {e.path for e in info.value.errors} >= {f"{DEF}.RoleArn", f"{DEF}.OutputDataConfig",
                                                   f"{DEF}.StoppingCondition", f"{DEF}.ResourceConfig",
                                                   f"{DEF}.AlgorithmSpecification.TrainingInputMode"}


def test_local_channels_are_named_like_sagemaker_channels():
    raw = copy.deepcopy(SHORTEST)
    raw[DEF]["Local"]["Channels"] = {"train/x": "data", "ok": 3}
    assert errors_of(raw) == {f"{DEF}.Local.Channels.train/x": "'train/x' does not match the pattern "
                                                               "^(?:[A-Za-z0-9\\.\\-_]+)$",
                              f"{DEF}.Local.Channels.ok": "must be a string, not an integer"}


# -- running locally: what is checked before anything starts ---------------------------------------

def test_an_unmapped_channel_is_refused_by_name(tmp_path):
    request = parse_request(load("aws-docs-xgboost"))
    with pytest.raises(ValidationError) as info:
        check_local(request, tmp_path)
    paths = [e.path for e in info.value.errors]
    assert paths == [f"{DEF}.InputDataConfig[0].ChannelName", f"{DEF}.InputDataConfig[1].ChannelName",
                     f"{DEF}.Local.Channels"]
    assert "channel 'validation' has no local data" in info.value.errors[1].message


def test_a_missing_local_path_is_refused_by_name(tmp_path):
    raw = load("aws-docs-xgboost")
    raw[DEF]["Local"] = {"Channels": {"train": "train.csv", "validation": "nowhere/validation.csv"}}
    (tmp_path / "train.csv").write_text("1,0.5\n")
    with pytest.raises(ValidationError) as info:
        check_local(parse_request(raw), tmp_path)
    assert [str(e) for e in info.value.errors] == [
        f"{DEF}.Local.Channels.validation: {str(tmp_path / 'nowhere/validation.csv')!r} does not exist"]


def test_xgboost_runs_its_stand_in_and_other_built_ins_need_an_entry_point(tmp_path):
    raw = load("aws-docs-xgboost")
    raw[DEF]["Local"] = {"Channels": {"train": "train.csv", "validation": "train.csv"}}
    (tmp_path / "train.csv").write_text("1,0.5\n")
    assert check_local(parse_request(raw), tmp_path).name == "xgboost_algorithm.py"

    knn = load("knn-airflow")
    knn[DEF]["Local"] = {"Channels": {"train": "train.csv", "test": "train.csv"}}
    with pytest.raises(ValidationError) as info:
        check_local(parse_request(knn), tmp_path)
    assert str(info.value).startswith(f"{DEF}.Local.EntryPoint: is required to run locally: SageMaker's "
                                      "built-in k-NN algorithm does not run on this machine")
    named = load("algorithm-name-console")
    named["TrainingJobDefinitions"][0]["Local"] = {"Channels": {"train": "train.csv",
                                                                "validation": "train.csv"}}
    with pytest.raises(ValidationError, match=r"TrainingJobDefinitions\[0\]\.Local\.EntryPoint: is required "
                                              r"to run locally: algorithm 'arn:aws:sagemaker:"):
        check_local(parse_request(named), tmp_path)


def test_a_built_in_algorithm_run_with_a_script_needs_a_regex_for_its_objective(tmp_path):
    knn = load("knn-airflow")
    (tmp_path / "train.py").write_text("print('test accuracy=0.9')\n")
    (tmp_path / "train.csv").write_text("1,0.5\n")
    knn[DEF]["Local"] = {"EntryPoint": "train.py", "Channels": {"train": "train.csv", "test": "train.csv"}}
    with pytest.raises(ValidationError) as info:
        check_local(parse_request(knn), tmp_path)
    assert str(info.value) == (f"{DEF}.AlgorithmSpecification.MetricDefinitions: nothing reads "
                               "'test:accuracy' from a local trial's log: add its Name and Regex, as your "
                               "script prints it")
    knn[DEF]["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "test:accuracy", "Regex": "test accuracy=([0-9.]+)"}]
    assert check_local(parse_request(knn), tmp_path) == tmp_path / "train.py"


def test_the_local_input_data_config_carries_each_channels_content_type():
    raw = load("aws-docs-xgboost")
    raw[DEF]["Local"] = {"Channels": {"train": "data/train.csv", "validation": "data/valid",
                                      "extra": "x.libsvm"}}
    assert parse_request(raw).local_input_data_config() == {
        "extra": {"ContentType": "text/libsvm", "TrainingInputMode": "File",
                  "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"},
        "train": {"ContentType": "csv", "TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
                  "RecordWrapperType": "None"},
        "validation": {"ContentType": "csv", "TrainingInputMode": "File",
                       "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"},
    }
