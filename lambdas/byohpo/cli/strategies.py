"""``byohpo strategies``: every strategy name with its one-line description, and its options."""

from __future__ import annotations

import argparse
import inspect
import shutil
import textwrap
from typing import Any

from byohpo.cli._common import piped
from byohpo.strategies import (
    SEED_DOC,
    describe,
    option_docs,
    strategy_class,
    strategy_names,
    strategy_options,
)
from byohpo.strategies.amt import sagemaker_strategy
from byohpo.strategies.base import to_pascal

NOTE = ("Options go in HyperParameterTuningJobConfig.StrategyConfig, spelled as below. Every strategy takes "
        "Seed; the same seed and history give the same candidates. 'n' is the number of free parallel "
        "slots: ResourceLimits.MaxParallelTrainingJobs at the run's start.")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("strategies", help="list the strategies and what they do",
                                   description="List every strategy this installation can run.")
    parser.add_argument("--options", action="store_true",
                        help="also list each strategy's StrategyConfig options: what each does and its "
                             "default")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with piped():
        _list(args.options)
    return 0


def _list(with_options: bool) -> None:
    names = strategy_names()
    width = max(map(len, names), default=0)
    columns = max(80, min(120, shutil.get_terminal_size((100, 24)).columns))
    if with_options:
        print(textwrap.fill(NOTE, columns) + "\n")
    for name in names:
        try:
            line = describe(name)
            cls = strategy_class(name)
        except Exception as exc:  # a broken plug-in must not hide the others
            print(f"{name:<{width}}  (unavailable: {exc})")
            continue
        print(f"{name:<{width}}  {line}")
        if with_options:
            for option, text in options(cls):
                print(textwrap.fill(text, columns, initial_indent=" " * (width + 4) + f"{option}  ",
                                    subsequent_indent=" " * (width + 6)))


def options(cls: type) -> list[tuple[str, str]]:
    """``(PascalName, what it is and its default)`` for Seed and each option of ``cls``; SageMaker's own
    tuners (``amt-*``) take no Seed there (theirs is the request's RandomSeed)."""
    docs = option_docs(cls)
    out = [] if sagemaker_strategy(cls) else [("Seed", SEED_DOC)]
    for option, default in strategy_options(cls).items():
        text = docs.get(option, "")
        if default is inspect.Parameter.empty:
            text = f"{text} (required)" if text else "required"
        elif "default" not in text.lower():
            shown = f"default {default!r}" if default is not None else "default: none, the strategy decides"
            text = f"{text} ({shown})" if text else shown
        out.append((to_pascal(option), text))
    return out
