"""``byohpo plot NAME [-o FILE] [--store PATH]``: draw a run's progress (or its Pareto front)."""

from __future__ import annotations

import argparse
from typing import Any

from byohpo.cli._common import CommandError, add_store_option, existing_store, fail, find_run, store_path
from byohpo.leaderboard import request_info
from byohpo.plot import PlotUnavailableError, check_output, plot_run


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plot", help="plot a run's objective per trial, or its Pareto front",
        description="One objective: each trial's value in proposal order, coloured by generation, with "
                    "the best-so-far line and failed trials marked. Several objectives: the first two "
                    "against each other with the Pareto front connected. Needs matplotlib "
                    "(pip install 'byohpo[local]').")
    parser.add_argument("name", metavar="NAME", help="the run (its HyperParameterTuningJobName)")
    parser.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="the image to write; the extension picks the format (default: NAME.png)")
    add_store_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output = args.output or f"{args.name}.png"
    path = store_path(args.store)
    try:
        check_output(output)
    except PlotUnavailableError as exc:  # a missing extra, not bad input
        return fail("plot", CommandError(str(exc), code=1))
    except ValueError as exc:
        return fail("plot", CommandError(str(exc)))
    try:
        with existing_store(path) as store:
            record = find_run(store, path, args.name)
            trials = store.get_trials(args.name) if store else []
        info = request_info(record.request)
        if not info.objectives:
            raise CommandError(f"run {args.name!r}: its request names no objective to plot")
        if not trials:
            raise CommandError(f"nothing to plot yet: run {args.name!r} has no trials")
        count = f"{len(trials)} trial{'s' * (len(trials) != 1)}"
        title = f"{record.name}: {info.strategy or 'unknown strategy'}, {count}, {record.status}"
        written = plot_run(trials, info.objectives, output, title=title)
    except CommandError as exc:
        return fail("plot", exc)
    except OSError as exc:  # the folder does not exist, no permission
        return fail("plot", CommandError(f"cannot write {output}: {exc.strerror or exc}"))
    print(f"wrote {written}")
    return 0
