"""SageMaker's built-in algorithms: which training images are theirs, and the metrics each one emits.

A request for a built-in algorithm has no ``MetricDefinitions``: the algorithm defines its own metrics,
and Automatic Model Tuning takes the objective from the algorithm's *tunable* metrics, each with the
direction SageMaker documents for it. This catalog is that documentation as data, one entry per
algorithm, from the "Tune a ... model" page of each algorithm in the SageMaker Developer Guide
(``https://docs.aws.amazon.com/sagemaker/latest/dg/<page>.html``, :attr:`BuiltinAlgorithm.docs`).

XGBoost's metrics are those of the open-source container that the built-in XGBoost algorithm runs
(``aws/sagemaker-xgboost-container``: ``constants/xgb_constants.py`` lists them, ``algorithm_mode/
metrics.py`` makes the ``validation:*`` ones tunable), a superset of the twelve the tuning page lists.
Its regexes are those SageMaker reports in ``DescribeTrainingJob``'s ``MetricDefinitions`` for a
built-in XGBoost job; they read the evaluation lines XGBoost prints, as CloudWatch Logs holds them
(the tab between two metrics is logged as ``#011``)::

    [12]#011train-auc:0.97314#011validation-auc:0.95821

For the other algorithms only names and directions are kept: on AWS their regexes come from the job
itself (``DescribeTrainingJob``), and they do not run on this machine.

A training image is recognized by its repository in any Region's Amazon ECR registry, with any tag
(``683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1``, legacy ``.../xgboost:latest``).
The SageMaker XGBoost image also runs scripts ("framework mode"): with a ``sagemaker_program``
hyperparameter it is a script of the user's, which defines its own metrics, not the built-in algorithm.

Automatic Model Tuning tells a built-in algorithm which metric it is tuned for with the reserved
hyperparameter ``_tuning_objective_metric`` (DescribeHyperParameterTuningJob shows it among the
StaticHyperParameters; the XGBoost container computes that metric even when ``eval_metric`` does not
name it): :func:`tuning_hyperparameters`.

Pure data and string matching: no I/O, no boto3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["Maximize", "Minimize"]
#: The hyperparameter through which AMT tells a built-in algorithm its objective metric.
OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"
#: The hyperparameter that turns the SageMaker XGBoost image into a script runner (framework mode).
SCRIPT_HYPERPARAMETER = "sagemaker_program"
_DOCS = "https://docs.aws.amazon.com/sagemaker/latest/dg/"
# <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/<repository>[:tag | @digest]
_ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/"
                        r"(?P<repository>[a-z0-9._/-]+?)(?::[\w.-]+|@sha256:[0-9a-f]{64})?$")


@dataclass(frozen=True)
class Metric:
    """A metric the algorithm emits: its name, the direction AMT optimizes it in, whether AMT takes it
    as an objective, and the regex that reads it from the job's log (None: not kept here)."""

    name: str
    direction: Direction
    tunable: bool = True
    regex: str | None = None

    def definition(self) -> dict[str, str]:
        """As a ``MetricDefinitions`` entry (the regex must be known)."""
        assert self.regex is not None, self.name
        return {"Name": self.name, "Regex": self.regex}


@dataclass(frozen=True)
class BuiltinAlgorithm:
    """One built-in algorithm: ``name`` (the catalog key), ``title`` (as the docs call it), the ECR
    ``repositories`` of its images, its ``metrics`` and the ``docs`` page that lists them."""

    name: str
    title: str
    repositories: tuple[str, ...]
    metrics: tuple[Metric, ...]
    docs: str

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)

    @property
    def tunable_metrics(self) -> tuple[Metric, ...]:
        return tuple(m for m in self.metrics if m.tunable)

    def metric_definitions(self) -> list[dict[str, str]]:
        """``MetricDefinitions`` for the metrics whose regex is kept here."""
        return [m.definition() for m in self.metrics if m.regex is not None]


def _metrics(direction: Direction, *names: str) -> tuple[Metric, ...]:
    return tuple(Metric(name, direction) for name in names)


# -- XGBoost: the container's metrics, on both data channels ---------------------------------------
# aws/sagemaker-xgboost-container, src/sagemaker_xgboost_container/constants/xgb_constants.py
_XGB_MAXIMIZE = ("accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map",
                 "ndcg", "precision", "r2", "recall", "precision_macro", "precision_micro", "recall_macro",
                 "recall_micro")
_XGB_MINIMIZE = ("aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik",
                 "interval-regression-accuracy", "logloss", "mae", "mape", "merror", "mlogloss", "mphe",
                 "mse", "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik")
# The number pattern of the regexes SageMaker reports for built-in XGBoost jobs.
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def xgboost_regex(channel: str, metric: str) -> str:
    """The regex SageMaker reads XGBoost metric ``metric`` of data channel ``channel`` with."""
    return rf".*\[[0-9]+\].*#011{re.escape(channel)}-{re.escape(metric)}:{_NUMBER}.*"


def _xgboost_metrics() -> tuple[Metric, ...]:
    out = []
    for channel in ("validation", "train"):
        for names, direction in ((_XGB_MAXIMIZE, "Maximize"), (_XGB_MINIMIZE, "Minimize")):
            out += [Metric(f"{channel}:{n}", direction, tunable=channel == "validation",  # type: ignore[arg-type]
                           regex=xgboost_regex(channel, n)) for n in names]
    return tuple(out)


XGBOOST = BuiltinAlgorithm("xgboost", "XGBoost", ("sagemaker-xgboost", "xgboost"), _xgboost_metrics(),
                           _DOCS + "xgboost-tuning.html")

CATALOG: tuple[BuiltinAlgorithm, ...] = (
    XGBOOST,
    BuiltinAlgorithm("knn", "k-NN", ("knn",),
                     (Metric("test:accuracy", "Maximize"), Metric("test:mse", "Minimize")),
                     _DOCS + "kNN-tuning.html"),
    BuiltinAlgorithm("linear-learner", "Linear Learner", ("linear-learner",), (
        *(m for channel in ("test", "validation") for m in (
            Metric(f"{channel}:absolute_loss", "Minimize"),
            *_metrics("Maximize", *(f"{channel}:{n}" for n in (
                "binary_classification_accuracy", "binary_f_beta", "dcg", "macro_f_beta", "macro_precision",
                "macro_recall"))),
            Metric(f"{channel}:mse", "Minimize"),
            *_metrics("Maximize", f"{channel}:multiclass_accuracy", f"{channel}:multiclass_top_k_accuracy"),
            Metric(f"{channel}:objective_loss", "Minimize"),
            *_metrics("Maximize", f"{channel}:precision", f"{channel}:recall"),
        )),
        Metric("validation:rmse", "Minimize"),
        *_metrics("Maximize", "test:roc_auc_score", "validation:roc_auc_score"),
    ), _DOCS + "linear-learner-tuning.html"),
    BuiltinAlgorithm("kmeans", "k-means", ("kmeans",), _metrics("Minimize", "test:msd", "test:ssd"),
                     _DOCS + "k-means-tuning.html"),
    BuiltinAlgorithm("pca", "PCA", ("pca",), (), _DOCS + "pca.html"),
    BuiltinAlgorithm("factorization-machines", "Factorization Machines", ("factorization-machines",), (
        Metric("test:rmse", "Minimize"), Metric("test:binary_classification_accuracy", "Maximize"),
        Metric("test:binary_classification_cross_entropy", "Minimize"),
        Metric("test:binary_f_beta", "Maximize"),
    ), _DOCS + "fm-tuning.html"),
    BuiltinAlgorithm("object-detection", "Object Detection - MXNet", ("object-detection",),
                     _metrics("Maximize", "validation:mAP"), _DOCS + "object-detection-tuning.html"),
    BuiltinAlgorithm("image-classification", "Image Classification - MXNet", ("image-classification",),
                     _metrics("Maximize", "validation:accuracy"), _DOCS + "IC-tuning.html"),
    BuiltinAlgorithm("semantic-segmentation", "Semantic Segmentation", ("semantic-segmentation",),
                     _metrics("Maximize", "validation:mIOU", "validation:pixel_accuracy"),
                     _DOCS + "semantic-segmentation-tuning.html"),
    BuiltinAlgorithm("blazingtext", "BlazingText", ("blazingtext",),
                     _metrics("Maximize", "train:mean_rho", "validation:accuracy"),
                     _DOCS + "blazingtext-tuning.html"),
    BuiltinAlgorithm("object2vec", "Object2Vec", ("object2vec",), (
        Metric("test:mean_squared_error", "Minimize"), Metric("validation:mean_squared_error", "Minimize"),
        Metric("test:accuracy", "Maximize"), Metric("test:cross_entropy", "Minimize"),
        Metric("validation:accuracy", "Maximize"), Metric("validation:cross_entropy", "Minimize"),
    ), _DOCS + "object2vec-tuning.html"),
    BuiltinAlgorithm("ntm", "Neural Topic Model", ("ntm",), _metrics("Minimize", "validation:total_loss"),
                     _DOCS + "ntm-tuning.html"),
    BuiltinAlgorithm("lda", "LDA", ("lda",), _metrics("Maximize", "test:pwll"), _DOCS + "lda-tuning.html"),
    BuiltinAlgorithm("randomcutforest", "Random Cut Forest", ("randomcutforest",),
                     _metrics("Maximize", "test:f1"), _DOCS + "random-cut-forest-tuning.html"),
    BuiltinAlgorithm("ipinsights", "IP Insights", ("ipinsights",),
                     _metrics("Maximize", "validation:discriminator_auc"), _DOCS + "ip-insights-tuning.html"),
    BuiltinAlgorithm("seq2seq", "Sequence-to-Sequence", ("seq2seq",), (
        *_metrics("Maximize", "validation:accuracy", "validation:bleu"),
        Metric("validation:perplexity", "Minimize"),
    ), _DOCS + "seq-2-seq-tuning.html"),
    BuiltinAlgorithm("forecasting-deepar", "DeepAR", ("forecasting-deepar",),
                     _metrics("Minimize", "test:RMSE", "test:mean_wQuantileLoss", "train:final_loss"),
                     _DOCS + "deepar-tuning.html"),
)

_BY_REPOSITORY = {repo: algorithm for algorithm in CATALOG for repo in algorithm.repositories}


def image_repository(image: str) -> str | None:
    """The repository of an Amazon ECR image URI (``sagemaker-xgboost`` of
    ``683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1``); None for anything else."""
    match = _ECR_IMAGE.match(image.strip()) if isinstance(image, str) else None
    return match["repository"] if match else None


def algorithm_for_image(image: Any, static_hyperparameters: Mapping[str, Any] | None = None
                        ) -> BuiltinAlgorithm | None:
    """The built-in algorithm a ``TrainingImage`` runs, or None for any other image. The SageMaker
    XGBoost image given a ``sagemaker_program`` runs the user's script instead (framework mode)."""
    repository = image_repository(image) if isinstance(image, str) else None
    algorithm = _BY_REPOSITORY.get(repository or "")
    if algorithm is XGBOOST and SCRIPT_HYPERPARAMETER in (static_hyperparameters or {}):
        return None
    return algorithm


def algorithm_named(name: str) -> BuiltinAlgorithm:
    """The catalog entry called ``name`` (KeyError when there is none)."""
    for algorithm in CATALOG:
        if algorithm.name == name:
            return algorithm
    raise KeyError(name)


def tuning_hyperparameters(objective_metric: str) -> dict[str, str]:
    """What AMT adds to a built-in algorithm's hyperparameters: the metric it is tuned for."""
    return {OBJECTIVE_HYPERPARAMETER: objective_metric}


__all__ = [
    "CATALOG",
    "OBJECTIVE_HYPERPARAMETER",
    "SCRIPT_HYPERPARAMETER",
    "XGBOOST",
    "BuiltinAlgorithm",
    "Metric",
    "algorithm_for_image",
    "algorithm_named",
    "image_repository",
    "tuning_hyperparameters",
    "xgboost_regex",
]
