"""``byohpo strategies``: every strategy name with its one-line description."""

from __future__ import annotations

import argparse
import inspect
from typing import Any

from byohpo.strategies import describe, strategy_class, strategy_names, strategy_options
from byohpo.strategies.base import to_pascal


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("strategies", help="list the strategies and what they do",
                                   description="List every strategy this installation can run.")
    parser.add_argument("--options", action="store_true",
                        help="also list each strategy's StrategyConfig options with their defaults")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = strategy_names()
    width = max(map(len, names), default=0)
    for name in names:
        try:
            line = describe(name)
            cls = strategy_class(name)
        except Exception as exc:  # a broken plug-in must not hide the others
            print(f"{name:<{width}}  (unavailable: {exc})")
            continue
        print(f"{name:<{width}}  {line}")
        if args.options:
            for option, default in strategy_options(cls).items():
                shown = "required" if default is inspect.Parameter.empty else f"default {default!r}"
                print(f"{'':<{width}}    {to_pascal(option)} ({shown})")
    return 0
