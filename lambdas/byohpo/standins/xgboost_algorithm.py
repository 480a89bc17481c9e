"""SageMaker's built-in XGBoost algorithm, on this machine: the stand-in ``byohpo run`` starts for a request
whose ``TrainingImage`` is SageMaker's XGBoost image and that has no ``Local.EntryPoint``.

It does what the algorithm's container (``aws/sagemaker-xgboost-container``, "algorithm mode") does
with a training job, on the ``xgboost`` library installed here:

* hyperparameters come from ``input/config/hyperparameters.json`` by their SageMaker names, checked
  against the algorithm's table (``num_round`` required; ranges; ``learning_rate``, ``min_split_loss``,
  ``reg_lambda`` and ``reg_alpha`` as aliases; any other name is refused, as SageMaker refuses it);
* data comes from the ``train`` channel (required) and the ``validation`` channel, every file of the
  channel's folder, in the ``ContentType`` of ``input/config/inputdataconfig.json``: CSV (``csv``,
  ``text/csv``; label in the first column, no header; ``csv_weights=1``: weights in the second) or
  libsvm (``libsvm``, ``text/libsvm``, ``text/x-libsvm``; the default, as on SageMaker);
* the metrics are ``eval_metric`` plus the metric of ``_tuning_objective_metric`` (which Automatic Model
  Tuning sets), the container's own ones (``accuracy``, ``f1``, ``r2``, ...) computed as it computes
  them; ``early_stopping_rounds`` stops on that metric of the ``validation`` channel;
* every round is logged as the container logs it and CloudWatch Logs shows it, the tab between two
  metrics written ``#011``, so that the algorithm's regexes read ``train:auc`` and ``validation:auc``::

      [12]#011train-auc:0.97314#011validation-auc:0.95821

* the model is saved as ``xgboost-model`` in the model folder; a bad hyperparameter or data file ends the
  job with exit status 1 and the reason in ``output/failure``;
* xgboost uses every core unless ``nthread`` says otherwise, as on SageMaker, but its idle threads sleep
  (``OMP_WAIT_POLICY=PASSIVE``): here, parallel trials share the cores.

Not supported here: Pipe mode, Parquet and RecordIO-protobuf data, k-fold cross-validation (``_kfold``),
distributed and GPU training.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

MODEL_NAME = "xgboost-model"
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}
OBJECTIVES = ("aft_loss_distribution", "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson",
              "multi:softmax", "multi:softprob", "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear",
              "reg:squarederror", "reg:logistic", "reg:gamma", "reg:pseudohubererror", "reg:squaredlogerror",
              "reg:absoluteerror", "reg:tweedie", "survival:aft", "survival:cox")
MAXIMIZE = {"accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg",
            "precision", "r2", "recall", "precision_macro", "precision_micro", "recall_macro", "recall_micro"}
MINIMIZE = {"aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik",
            "interval-regression-accuracy", "logloss", "mae", "mape", "merror", "mlogloss", "mphe", "mse",
            "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik"}
CSV_TYPES = ("csv", "text/csv")
LIBSVM_TYPES = ("libsvm", "text/libsvm", "text/x-libsvm")


class UserError(Exception):
    """A problem with the job's hyperparameters or data: the job fails with this message."""


# -- the hyperparameter table -----------------------------------------------------------------------

class Interval:
    """A numeric range; ``[`` and ``]`` closed, ``(`` and ``)`` open; None: unbounded."""

    def __init__(self, low: float | None = None, high: float | None = None, *, open_low: bool = False,
                 open_high: bool = False) -> None:
        self.low, self.high, self.open_low, self.open_high = low, high, open_low, open_high

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.open_high and value == self.high)))

    def __str__(self) -> str:
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "+inf" if self.high is None else f"{self.high:g}"
        return f"{'(' if self.open_low or self.low is None else '['}{low}, {high}" \
               f"{')' if self.open_high or self.high is None else ']'}"


def integer(interval: Interval) -> Callable[[str, str], Any]:
    def parse(name: str, text: str) -> int:
        try:
            number = float(text)
        except ValueError:
            raise UserError(f"Hyperparameter {name}: could not parse value {text!r} as an integer") from None
        if not number.is_integer():
            raise UserError(f"Hyperparameter {name}: could not parse value {text!r} as an integer")
        if number not in interval:
            raise UserError(f"Hyperparameter {name}: value {text} not in range {interval}")
        return int(number)
    return parse


def real(interval: Interval) -> Callable[[str, str], Any]:
    def parse(name: str, text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            raise UserError(f"Hyperparameter {name}: could not parse value {text!r} as a number") from None
        if not math.isfinite(number) or number not in interval:
            raise UserError(f"Hyperparameter {name}: value {text} not in range {interval}")
        return number
    return parse


def choice(*values: str) -> Callable[[str, str], Any]:
    def parse(name: str, text: str) -> str:
        if text not in values:
            raise UserError(f"Hyperparameter {name}: value {text!r} not in {', '.join(values)}")
        return text
    return parse


def comma_list(name: str, text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def text_value(name: str, text: str) -> str:
    return text


_ANY, _NON_NEGATIVE, _UNIT = Interval(), Interval(0), Interval(0, 1)
_FRACTION = Interval(0, 1, open_low=True)
#: The algorithm's hyperparameters: those of the container's ``hyperparameter_validation.py`` and of the
#: "XGBoost hyperparameters" page of the SageMaker Developer Guide, with their ranges.
TABLE: dict[str, Callable[[str, str], Any]] = {
    "num_round": integer(Interval(1)),
    "csv_weights": integer(Interval(0, 1)),
    "early_stopping_rounds": integer(Interval(1)),
    "booster": choice("gbtree", "gblinear", "dart"),
    "verbosity": integer(Interval(0, 3)),
    "nthread": integer(Interval(1)),
    "eta": real(_UNIT),
    "gamma": real(_NON_NEGATIVE),
    "max_depth": integer(_NON_NEGATIVE),
    "min_child_weight": real(_NON_NEGATIVE),
    "max_delta_step": real(_NON_NEGATIVE),
    "subsample": real(_FRACTION),
    "colsample_bytree": real(_FRACTION),
    "colsample_bylevel": real(_FRACTION),
    "colsample_bynode": real(_FRACTION),
    "lambda": real(_NON_NEGATIVE),
    "alpha": real(_NON_NEGATIVE),
    "tree_method": choice("auto", "exact", "approx", "hist", "gpu_hist"),
    "sketch_eps": real(Interval(0, 1, open_low=True, open_high=True)),
    "scale_pos_weight": real(Interval(0, open_low=True)),
    "updater": text_value,
    "dsplit": choice("row", "col"),
    "refresh_leaf": integer(Interval(0, 1)),
    "process_type": choice("default", "update"),
    "grow_policy": choice("depthwise", "lossguide"),
    "max_leaves": integer(_NON_NEGATIVE),
    "max_bin": integer(_NON_NEGATIVE),
    "predictor": choice("auto", "cpu_predictor", "gpu_predictor"),
    "monotone_constraints": text_value,
    "interaction_constraints": text_value,
    "sample_type": choice("uniform", "weighted"),
    "normalize_type": choice("tree", "forest"),
    "rate_drop": real(_UNIT),
    "one_drop": integer(Interval(0, 1)),
    "skip_drop": real(_UNIT),
    "lambda_bias": real(_UNIT),
    "tweedie_variance_power": real(Interval(1, 2, open_low=True, open_high=True)),
    "objective": choice(*OBJECTIVES),
    "num_class": integer(Interval(2)),
    "base_score": real(_NON_NEGATIVE),
    "_kfold": integer(Interval(2)),
    "_num_cv_round": integer(Interval(1)),
    "_tuning_objective_metric": text_value,
    "eval_metric": comma_list,
    "seed": integer(Interval(-(2**31), 2**31 - 1, open_low=True, open_high=True)),
    "num_parallel_tree": integer(Interval(1)),
    "save_model_on_termination": choice("true", "false"),
    "aft_loss_distribution": choice("normal", "logistic", "extreme"),
    "aft_loss_distribution_scale": real(_NON_NEGATIVE),
    "deterministic_histogram": choice("true", "false"),
    "single_precision_histogram": choice("true", "false"),
    "sampling_method": choice("uniform", "gradient_based"),
    "prob_buffer_row": real(Interval(1, open_low=True)),
    "use_dask_gpu_training": choice("true", "false"),
}
# Hyperparameters of the container itself, not XGBoost's: never passed to xgboost.train.
_CONTAINER_ONLY = ("num_round", "csv_weights", "early_stopping_rounds", "_kfold", "_num_cv_round",
                   "_tuning_objective_metric", "save_model_on_termination", "use_dask_gpu_training",
                   "prob_buffer_row", "single_precision_histogram")


def validate(raw: Mapping[str, str]) -> dict[str, Any]:
    """The job's hyperparameters, parsed and checked as the algorithm checks them."""
    given = {ALIASES.get(k, k): v for k, v in raw.items() if not k.startswith("sagemaker_")}
    if "num_round" not in given:
        raise UserError("Missing required hyperparameter: num_round")
    out: dict[str, Any] = {}
    for name, text in given.items():
        parse = TABLE.get(name)
        if parse is None:
            raise UserError(f"Extraneous hyperparameter found: {name}")
        out[name] = parse(name, str(text))
    objective, num_class = out.get("objective"), out.get("num_class")
    if objective in ("multi:softmax", "multi:softprob") and num_class is None:
        raise UserError("Require input for parameter 'num_class' for multi-classification")
    if num_class is not None and not str(objective).startswith("multi:"):
        raise UserError("Do not need to setup parameter 'num_class' for learning task other than "
                        "multi-classification.")
    metrics = set(out.get("eval_metric") or ()) | set(tuning_metric(out))
    if "auc" in metrics and not str(objective or "reg:").startswith(("binary:", "rank:")):
        raise UserError("Metric 'auc' can only be applied for classification and ranking problems.")
    for metric in metrics:
        if metric.split("@")[0] not in MAXIMIZE | MINIMIZE:
            raise UserError(f"Hyperparameter eval_metric: value {metric!r} is not a supported metric")
    if "_kfold" in out:
        raise UserError("k-fold cross-validation (_kfold) is not supported by byohpo's local stand-in")
    return out


def metrics_wanted(params: Mapping[str, Any]) -> list[str]:
    """The metrics to evaluate: ``eval_metric`` and the tuning objective's, as the container unites them."""
    return sorted(set(params.get("eval_metric") or ()) | set(tuning_metric(params)))


def tuning_metric(params: Mapping[str, Any]) -> list[str]:
    """The metric names of ``_tuning_objective_metric`` (``validation:auc`` -> ``["auc"]``)."""
    value = params.get("_tuning_objective_metric")
    if not value:
        return []
    return value.split(":", 1)[-1].split(",")


# -- the container's own metrics -----------------------------------------------------------------

CUSTOM = ("accuracy", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "precision", "precision_macro",
          "precision_micro", "recall", "recall_macro", "recall_micro", "mse", "r2")


def class_labels(predictions: Any, objective: str) -> Any:
    """Predicted classes from what xgboost gives a custom metric: with a built-in objective, its
    transformed output (probabilities; class indices for multi:softmax; margins for logitraw)."""
    import numpy as np

    if predictions.ndim > 1:
        return np.argmax(predictions, axis=-1)
    if objective == "binary:logitraw":
        return (predictions > 0.0).astype(int)
    if objective.startswith("binary:"):
        return (predictions > 0.5).astype(int)
    return np.rint(predictions).astype(int)


def custom_metrics(names: list[str], objective: str) -> Callable[[Any, Any], list[tuple[str, float]]]:
    """The metrics the container computes itself (sklearn's, as it computes them), as one xgboost
    ``custom_metric``."""
    from sklearn import metrics as m

    def classes(score: Callable[..., float], **options: Any) -> Callable[[Any, Any], float]:
        def metric(predictions: Any, labels: Any) -> float:
            if not predictions.size:
                return 0.0
            return float(score(labels, class_labels(predictions, objective), **options))
        return metric

    table: dict[str, Callable[[Any, Any], float]] = {
        "accuracy": classes(m.accuracy_score),
        "balanced_accuracy": classes(m.balanced_accuracy_score),
        "f1": classes(m.f1_score, average="macro"),
        "f1_binary": classes(m.f1_score, average="binary"),
        "f1_macro": classes(m.f1_score, average="macro"),
        "precision": classes(m.precision_score),
        "precision_macro": classes(m.precision_score, average="macro"),
        "precision_micro": classes(m.precision_score, average="micro"),
        "recall": classes(m.recall_score),
        "recall_macro": classes(m.recall_score, average="macro"),
        "recall_micro": classes(m.recall_score, average="micro"),
        "mse": lambda predictions, labels: float(m.mean_squared_error(labels, predictions)),
        "r2": lambda predictions, labels: float(m.r2_score(labels, predictions)),
    }

    def evaluate(predictions: Any, data: Any) -> list[tuple[str, float]]:
        labels = data.get_label()
        return [(name, table[name](predictions, labels)) for name in names]

    return evaluate


# -- data ---------------------------------------------------------------------------------------

def content_type(value: str | None) -> str:
    """``csv`` or ``libsvm`` from a channel's ContentType (parameters such as ``;label_size=1`` aside)."""
    kind = (value or "libsvm").split(";", 1)[0].strip().lower()
    if kind in CSV_TYPES:
        return "csv"
    if kind in LIBSVM_TYPES:
        return "libsvm"
    raise UserError(f"{value} is not an accepted ContentType here: {', '.join(CSV_TYPES + LIBSVM_TYPES)} "
                    "(Parquet and RecordIO-protobuf run on SageMaker only).")


def data_files(folder: Path) -> list[Path]:
    """A channel's data files, as the container picks them: hidden and ``_``-prefixed names skipped."""
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))


def load(folder: Path, kind: str, csv_weights: int) -> tuple[Any, Any, Any] | None:
    """``(features, labels, weights)`` of every file of a channel; None when it has no data."""
    import numpy as np

    files = data_files(folder)
    if not files:
        return None
    parts = []
    for path in files:
        try:
            if kind == "csv":
                parts.append(_read_csv(path))
            else:
                parts.append(_read_libsvm(path))
        except (ValueError, OSError) as exc:
            raise UserError(f"Failed to load {kind} data from {path.name}: {exc}") from None
    if kind == "libsvm":
        width = max(p.shape[1] for p in parts)
        parts = [np.hstack([p, np.full((p.shape[0], width - p.shape[1]), np.nan)]) for p in parts]
    table = np.vstack([p for p in parts if p.size])
    if table.size == 0:
        return None
    if kind == "csv" and csv_weights == 1:
        return table[:, 2:], table[:, 0], table[:, 1]
    return table[:, 1:], table[:, 0], None


def _read_csv(path: Path) -> Any:
    import numpy as np

    with open(path, newline="") as f:
        sample = f.readline()
    if not sample.strip():
        return np.empty((0, 0))
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t| ").delimiter
    except csv.Error:
        delimiter = ","
    if sample.split(delimiter)[0].strip().lstrip("-+").replace(".", "", 1).isalpha():
        raise ValueError("the first line looks like a header: give the label in the first column and no "
                         "header row")
    return np.atleast_2d(np.genfromtxt(path, delimiter=delimiter, dtype=float, filling_values=np.nan))


def _read_libsvm(path: Path) -> Any:
    import numpy as np

    rows: list[tuple[float, dict[int, float]]] = []
    width = 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        label, *pairs = line.split()
        features: dict[int, float] = {}
        for pair in pairs:
            index, sep, value = pair.partition(":")
            if not sep:
                raise ValueError(f"line {number}: {pair!r} is not index:value")
            features[int(index)] = float(value)
        width = max(width, max(features, default=-1) + 1)
        rows.append((float(label.split(":")[0]), features))
    table = np.full((len(rows), width + 1), np.nan)
    for i, (label, features) in enumerate(rows):
        table[i, 0] = label
        for index, value in features.items():
            table[i, index + 1] = value
    return table


# -- training -------------------------------------------------------------------------------------

def train(params: dict[str, Any], channels: Mapping[str, Path], data_config: Mapping[str, Any],
          model_dir: Path) -> None:
    import numpy as np
    import xgboost as xgb

    config = data_config.get("train") or {}
    kind = content_type(config.get("ContentType"))
    csv_weights = params.get("csv_weights", 0)
    if "train" not in channels:
        raise UserError("Missing required channel: train")
    train_data = load(channels["train"], kind, csv_weights)
    if train_data is None:
        raise UserError(f"No data in training channel path {channels['train']}")
    evals = [(xgb.DMatrix(train_data[0], label=train_data[1], weight=train_data[2]), "train")]
    print(f"INFO: Train matrix has {train_data[0].shape[0]} rows and {train_data[0].shape[1]} columns")
    if "validation" in channels:
        val_kind = content_type((data_config.get("validation") or {}).get("ContentType") or
                                config.get("ContentType"))
        val_data = load(channels["validation"], val_kind, csv_weights)
        if val_data is None:
            raise UserError(f"No data in validation channel path {channels['validation']}")
        width = evals[0][0].num_col()
        features = val_data[0]
        if features.shape[1] < width:  # libsvm files need not name the last features
            features = np.hstack([features, np.full((features.shape[0], width - features.shape[1]), np.nan)])
        evals.append((xgb.DMatrix(features, label=val_data[1], weight=val_data[2]), "validation"))
        print(f"INFO: Validation matrix has {features.shape[0]} rows")

    wanted = metrics_wanted(params)
    custom = [m for m in wanted if m in CUSTOM]
    native = [m for m in wanted if m not in CUSTOM]
    booster_params = {k: v for k, v in params.items() if k not in _CONTAINER_ONLY and k != "eval_metric"}
    if native:
        booster_params["eval_metric"] = native
    feval = custom_metrics(custom, str(params.get("objective", "reg:squarederror"))) if custom else None
    callbacks: list[Any] = [log_evaluation()]
    stop_metric = (tuning_metric(params) or wanted or [None])[-1]
    if params.get("early_stopping_rounds") and len(evals) > 1 and stop_metric:
        callbacks.append(xgb.callback.EarlyStopping(
            rounds=params["early_stopping_rounds"], metric_name=stop_metric, data_name="validation",
            maximize=stop_metric in MAXIMIZE, save_best=True))
    try:
        booster = xgb.train(booster_params, evals[0][0], num_boost_round=params["num_round"], evals=evals,
                            custom_metric=feval, callbacks=callbacks, verbose_eval=False)
    except xgb.core.XGBoostError as exc:
        raise UserError(f"XGBoostError: {str(exc).strip().splitlines()[0]}") from None
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(model_dir / f"{MODEL_NAME}.json")
    (model_dir / f"{MODEL_NAME}.json").rename(model_dir / MODEL_NAME)


def log_evaluation() -> Any:
    """An xgboost callback that logs each round's metrics as the container does and CloudWatch Logs
    shows them (``#011`` for the tab)."""
    import xgboost as xgb

    class LogEvaluation(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Mapping[str, Any]) -> bool:
            line = f"[{epoch}]" + "".join(f"#011{data}-{metric}:{values[-1]:.5f}"
                                           for data, metrics in evals_log.items()
                                           for metric, values in metrics.items())
            print(line, flush=True)
            return False

    return LogEvaluation()


# -- the job ------------------------------------------------------------------------------------

def main() -> int:
    config_dir = Path(os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config"))
    input_dir = Path(os.environ.get("SM_INPUT_DIR", "/opt/ml/input"))
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    output_dir = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output"))
    try:
        raw = json.loads((config_dir / "hyperparameters.json").read_text())
        data_config = json.loads((config_dir / "inputdataconfig.json").read_text())
        params = validate(raw)
        channels = {name: input_dir / "data" / name for name in data_config}
        # Trials share this machine (MaxParallelTrainingJobs at once), unlike SageMaker's instances:
        # OpenMP threads that spin while waiting burn the CPU the other trials need (measured: 14 times
        # the CPU of one thread, with two threads on two busy cores). Waiting threads sleep instead.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        if not any(m in CUSTOM for m in metrics_wanted(params)):
            # xgboost imports scikit-learn for its scikit-learn API only, unused here: a second of CPU
            # saved on every trial (a None entry makes that import fail, and xgboost does without).
            sys.modules.setdefault("sklearn", None)  # type: ignore[assignment]
        try:
            import xgboost  # noqa: F401
        except ImportError:
            raise UserError("the xgboost module is not installed: pip install 'byohpo[local]' "
                            "(or xgboost-cpu)") from None
        train(params, channels, data_config, model_dir)
    except UserError as exc:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "failure").write_text(str(exc))
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
