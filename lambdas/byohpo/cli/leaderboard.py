"""``byohpo leaderboard NAME [--format table|csv|json] [--top K] [--store PATH]``: a run's trials,
best first."""

from __future__ import annotations

import argparse
from typing import Any

from byohpo.cli._aws import add_aws_options, with_run_store
from byohpo.cli._common import (
    CommandError,
    add_store_option,
    existing_store,
    fail,
    find_run,
    piped,
    store_path,
)
from byohpo.leaderboard import FORMATS, Leaderboard, request_info
from byohpo.local.state import stored_run_state
from byohpo.store import SQLiteStore, Store


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "leaderboard", help="a run's trials, best first",
        description="Show a run's trials ranked best first: hyperparameters, objective values, status, "
                    "duration and failure reason of each. With several objectives the Pareto front "
                    "comes first (marked *). Unranked trials (failed, stopped, pending) come last. The "
                    "table shows the line of each failure reason that says what went wrong (for a "
                    "Python traceback, its last line); --format csv or json gives the whole reason.")
    parser.add_argument("name", metavar="NAME", help="the run (its HyperParameterTuningJobName)")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table for people (default), csv or json for programs")
    parser.add_argument("--top", metavar="K", type=positive_int, default=None,
                        help="only the K best rows")
    add_store_option(parser)
    add_aws_options(parser, flag="--aws")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.aws:
        return with_run_store(args, "leaderboard", lambda store: print_leaderboard(
            store, args.name, top=args.top, fmt=args.format))
    path = store_path(args.store)
    try:
        with existing_store(path) as store, piped():
            find_run(store, path, args.name)
            print_leaderboard(store, args.name, top=args.top, fmt=args.format)  # type: ignore[arg-type]
    except CommandError as exc:
        return fail("leaderboard", exc)
    return 0


def print_leaderboard(store: Store, name: str, *, top: int | None = None, fmt: str = "table") -> None:
    """Print run ``name``'s leaderboard as ``fmt`` (one of :data:`FORMATS`), the ``top`` best rows
    only when given. ``byohpo run`` prints the finished run's with this too."""
    record = store.get_run(name)
    info = request_info(record.request)
    board = Leaderboard.from_trials(store.get_trials(name), info.objectives, info.param_names)
    shown = board.top(top)
    if fmt == "csv":
        print(shown.to_csv(), end="")
    elif fmt == "json":
        print(shown.to_json())
    elif fmt == "table":
        objectives = ", ".join(f"{o.direction.lower()} {o.metric}" for o in info.objectives) or "unknown"
        count = f"{len(shown)} of {len(board)}" if len(shown) < len(board) else f"{len(board)}"
        # Locally, say whether an unfinished run is going on or was interrupted (and how to resume it).
        state = stored_run_state(store, record) if isinstance(store, SQLiteStore) else None
        status = state.status if state else record.status
        print(f"{record.name}: {info.strategy or 'unknown strategy'}, {status}, "
              f"{count} trial{'s' * (len(board) != 1)}, objective{'s' * (len(info.objectives) > 1)}: "
              f"{objectives}")
        if state is not None and not record.finished:
            print(f"  {state.note}")
        print(shown.to_table() if board.rows else "no trials yet")
    else:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
