"""The ``byohpo`` command. Each subcommand is one module of this package exposing
``register(subparsers)``, which adds its parser and sets ``func(args) -> int`` as a default."""

from __future__ import annotations

import argparse
import importlib
import sys

import byohpo

# Subcommand modules, in the order `byohpo --help` lists them.
COMMANDS: tuple[str, ...] = ("init", "run", "runs", "leaderboard", "plot", "compare", "validate",
                             "strategies", "start", "status", "stop")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="byohpo",
        description="Tune SageMaker training jobs with any hyperparameter optimization strategy.")
    parser.add_argument("--version", action="version", version=f"byohpo {byohpo.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input or usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors: argparse has printed already
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    return int(args.func(args))
