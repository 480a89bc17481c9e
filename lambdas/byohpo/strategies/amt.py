"""SageMaker's own tuner as a strategy: ``amt-bayesian``, ``amt-random``, ``amt-grid`` and
``amt-hyperband`` run a SageMaker Automatic Model Tuning job (``CreateHyperParameterTuningJob``) with
the request as it is, and the run's trials are that tuning job's training jobs, imported when it ends.

Nothing proposes here: the state machine hands the whole request to SageMaker, which picks every
configuration itself, and the local engine cannot run these at all (``byohpo run`` refuses them).
These classes exist so that the names resolve like any strategy's (``byohpo strategies`` lists them,
``byohpo validate`` checks them, the request parser builds them to check ``StrategyConfig``), and they
carry the AMT ``Strategy`` each one sends (:attr:`SageMakerTuner.sagemaker_strategy`).

``StrategyConfig`` is AMT's own: only ``amt-hyperband`` takes one, ``HyperbandStrategyConfig``
(``MinResource``, ``MaxResource``), passed to SageMaker unchanged
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HyperbandStrategyConfig.html). The seed
is AMT's ``RandomSeed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from byohpo.errors import FieldError, ValidationError
from byohpo.space import SearchSpace
from byohpo.strategies.base import Strategy
from byohpo.trials import Candidate, Objective, Trial

#: HyperbandStrategyConfig.MaxResource: "The maximum value is 20,000 epochs" (API reference).
MAX_RESOURCE = 20_000
#: The static hyperparameters Hyperband infers MaxResource from when the config has none (API
#: reference, HyperbandStrategyConfig.MaxResource).
MAX_RESOURCE_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")


class RunsOnSageMakerError(ValidationError):
    """A SageMaker tuner was asked to propose: it runs only as a SageMaker tuning job, on AWS."""


def local_refusal(strategy: str) -> str:
    """Why ``strategy`` (an ``amt-*`` name) cannot run on this machine, for people."""
    ours = strategy.removeprefix("amt-")
    alternative = f"; locally, {ours!r} is byohpo's own" if ours in ("bayesian", "random", "grid") else ""
    return (f"{strategy!r} runs SageMaker's own tuner (a CreateHyperParameterTuningJob), which needs AWS: "
            f"start it with `byohpo start` on a deployed stack{alternative}")


class SageMakerTuner(Strategy):
    """Base of the ``amt-*`` strategies: SageMaker Automatic Model Tuning with ``Strategy`` =
    :attr:`sagemaker_strategy`, one objective (AMT's ``HyperParameterTuningJobObjective``)."""

    #: The ``Strategy`` the tuning job is created with.
    sagemaker_strategy: ClassVar[str] = ""
    #: The registered name, for messages.
    name: ClassVar[str] = ""

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int) -> None:
        if len(objectives) > 1:
            raise ValidationError(f"SageMaker's tuner optimizes one objective "
                                  f"(HyperParameterTuningJobObjective), not {len(objectives)}: give one, or "
                                  "use byohpo's paes or nsga2 for several", "Objectives")
        super().__init__(space, objectives, seed=seed)

    def propose(self, history: Sequence[Trial], n: int) -> list[Candidate]:
        raise RunsOnSageMakerError(local_refusal(self.name), "Strategy")


class AmtBayesian(SageMakerTuner):
    """SageMaker's Bayesian optimization, run by Automatic Model Tuning on AWS."""

    description = "SageMaker's own Bayesian tuner (a CreateHyperParameterTuningJob; AWS only)."
    sagemaker_strategy = "Bayesian"
    name = "amt-bayesian"


class AmtRandom(SageMakerTuner):
    """SageMaker's random search, run by Automatic Model Tuning on AWS."""

    description = "SageMaker's own random search (a CreateHyperParameterTuningJob; AWS only)."
    sagemaker_strategy = "Random"
    name = "amt-random"


class AmtGrid(SageMakerTuner):
    """SageMaker's grid search, run by Automatic Model Tuning on AWS: categorical ranges only, every
    combination once ("Only categorical parameters are supported when using the grid search strategy",
    https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-how-it-works.html)."""

    description = "SageMaker's own grid search, categorical ranges only (a CreateHyperParameterTuningJob; " \
                  "AWS only)."
    sagemaker_strategy = "Grid"
    name = "amt-grid"


class AmtHyperband(SageMakerTuner):
    """SageMaker's Hyperband, run by Automatic Model Tuning on AWS: it stops under-performing training
    jobs from their intermediate metrics, so the training script must print the objective as it
    learns (each epoch, say).

    Args:
        hyperband_strategy_config: AMT's ``HyperbandStrategyConfig``: ``MinResource`` and
            ``MaxResource``, the fewest and most epochs (or other resource) a training job gets;
            without MaxResource, SageMaker reads it from a static hyperparameter epochs, numepochs,
            n-epochs, n_epochs or num_epochs.
    """

    description = "SageMaker's own Hyperband, which stops weak jobs early " \
                  "(a CreateHyperParameterTuningJob; AWS only)."
    sagemaker_strategy = "Hyperband"
    name = "amt-hyperband"

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 hyperband_strategy_config: Mapping[str, Any] | None = None) -> None:
        super().__init__(space, objectives, seed=seed)
        self.config = check_hyperband(hyperband_strategy_config, space)


def check_hyperband(config: Any, space: SearchSpace) -> dict[str, int]:
    """``HyperbandStrategyConfig`` checked as the API reference describes it; errors name
    ``StrategyConfig.HyperbandStrategyConfig.<field>``."""
    path = "StrategyConfig.HyperbandStrategyConfig"
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise ValidationError(f"must be an object with MinResource and MaxResource, not {config!r}", path)
    errors = [FieldError(f"{path}.{key}", "is not a field of HyperbandStrategyConfig (MinResource, "
                                          "MaxResource)") for key in config if key not in ("MinResource",
                                                                                          "MaxResource")]
    values: dict[str, int] = {}
    for key in ("MinResource", "MaxResource"):
        value = config.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(FieldError(f"{path}.{key}", f"must be a positive integer, not {value!r}"))
        elif key == "MaxResource" and value > MAX_RESOURCE:
            errors.append(FieldError(f"{path}.{key}", f"must be at most {MAX_RESOURCE:,} (SageMaker's "
                                                      f"maximum), not {value}"))
        else:
            values[key] = value
    if "MinResource" in values and "MaxResource" in values and values["MinResource"] > values["MaxResource"]:
        errors.append(FieldError(f"{path}.MinResource", f"must not exceed MaxResource "
                                                        f"({values['MaxResource']}), not "
                                                        f"{values['MinResource']}"))
    if "MaxResource" not in config and not any(k in space.static for k in MAX_RESOURCE_KEYS):
        errors.append(FieldError(f"{path}.MaxResource", "is required: SageMaker infers it only from a static "
                                 f"hyperparameter {', '.join(MAX_RESOURCE_KEYS)}, and this request has none "
                                 "(HyperbandStrategyConfig API reference)"))
    if errors:
        raise ValidationError(errors)
    return values


def sagemaker_strategy(strategy_class: type) -> str | None:
    """The AMT ``Strategy`` a strategy class runs (``Bayesian`` for ``amt-bayesian``), None for
    byohpo's own strategies."""
    value = getattr(strategy_class, "sagemaker_strategy", None)
    return value if isinstance(value, str) and value else None


__all__ = ["MAX_RESOURCE", "MAX_RESOURCE_KEYS", "AmtBayesian", "AmtGrid", "AmtHyperband", "AmtRandom",
           "RunsOnSageMakerError", "SageMakerTuner", "check_hyperband", "local_refusal", "sagemaker_strategy"]
