"""Stand-ins for SageMaker's built-in algorithms, so that ``byohpo run`` can run their requests here.

Each is a training script the local engine starts like any ``Local.EntryPoint``: it reads what SageMaker
gives an algorithm container (``input/config/hyperparameters.json``, ``inputdataconfig.json``, the
channel folders) and logs its metrics the way the algorithm does, so that the algorithm's own regexes
(``byohpo.algorithms``) read them. Only XGBoost has one.
"""

from __future__ import annotations

from pathlib import Path

_SCRIPTS = {"xgboost": "xgboost_algorithm.py"}


def entry_point(algorithm: str) -> Path | None:
    """The stand-in script of built-in algorithm ``algorithm`` (a catalog name), or None."""
    script = _SCRIPTS.get(algorithm)
    return Path(__file__).resolve().parent / script if script else None


__all__ = ["entry_point"]
