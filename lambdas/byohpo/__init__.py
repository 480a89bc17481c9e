"""byohpo: bring your own hyperparameter optimization algorithm to Amazon SageMaker.

The public API, kept stable (code outside the package relies on it)::

    space = byohpo.SearchSpace.from_sagemaker(parameter_ranges, static)
    strategy = byohpo.make_strategy("ga", space, [byohpo.Objective("validation:accuracy")], seed=7)
    batch = strategy.propose(history, n)
"""

from byohpo.errors import (
    ByohpoError,
    FieldError,
    ReplayMismatchError,
    SearchExhausted,
    UnknownStrategyError,
    ValidationError,
)
from byohpo.space import Categorical, Continuous, Integer, SearchSpace
from byohpo.strategies import make_strategy, register_strategy, strategy_names
from byohpo.strategies.base import Strategy
from byohpo.trials import Candidate, Objective, Trial

__version__ = "0.1.0"

__all__ = [
    "ByohpoError",
    "Candidate",
    "Categorical",
    "Continuous",
    "FieldError",
    "Integer",
    "Objective",
    "ReplayMismatchError",
    "SearchExhausted",
    "SearchSpace",
    "Strategy",
    "Trial",
    "UnknownStrategyError",
    "ValidationError",
    "make_strategy",
    "register_strategy",
    "strategy_names",
]
