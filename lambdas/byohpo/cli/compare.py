"""``byohpo compare RUN RUN [...] [-o FILE.png] [--format table|csv|json] [--store PATH | --aws]``:
runs of one objective side by side, in a table and a plot."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from byohpo.cli import _aws
from byohpo.cli._aws import add_aws_options, aws_errors, deployment
from byohpo.cli._common import (
    CommandError,
    add_store_option,
    existing_store,
    fail,
    find_run,
    piped,
    store_path,
)
from byohpo.compare import CompareError, Comparison, compare
from byohpo.leaderboard import FORMATS
from byohpo.plot import PlotUnavailableError, check_output
from byohpo.store import RunRecord, TrialRecord


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare", help="compare runs of one objective: table and plot",
        description="Compare runs of the same objective, e.g. one request tuned with several strategies: "
                    "each run's best value, the jobs it spent to reach it, its best within the fewest jobs "
                    "any of the runs spent, failed and stopped jobs, training seconds. Runs that optimize "
                    "the same several objectives are compared by their Pareto fronts too (hypervolume). "
                    "With -o, a plot of best-so-far against training jobs spent, one line per run (or one "
                    "front per run). Plotting needs matplotlib (pip install 'byohpo[local]').")
    parser.add_argument("names", metavar="RUN", nargs="+",
                        help="two or more runs (their HyperParameterTuningJobName)")
    parser.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="also draw the comparison into FILE; its extension picks the format "
                             "(.png, .svg, ...)")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table for people (default), csv or json for programs")
    add_store_option(parser)
    add_aws_options(parser, flag="--aws")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if len(args.names) < 2:
            raise CommandError(f"give two or more runs to compare, not only {args.names[0]!r}")
        if args.output:
            try:
                check_output(args.output)
            except PlotUnavailableError as exc:  # a missing extra, not bad input
                raise CommandError(str(exc), code=1) from None
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        runs = _load_aws(args) if args.aws else _load_local(args)
        try:
            comparison = compare(runs)
        except CompareError as exc:
            raise CommandError(str(exc)) from None
        with piped():
            print(comparison.render(args.format))
        if args.output:
            written = _draw(comparison, args.output)
            # csv and json keep stdout to themselves
            print(f"wrote {written}", file=sys.stdout if args.format == "table" else sys.stderr)
    except CommandError as exc:
        return fail("compare", exc)
    return 0


def _load_local(args: argparse.Namespace) -> list[tuple[RunRecord, list[TrialRecord]]]:
    path = store_path(args.store)
    with existing_store(path) as store:
        records = [find_run(store, path, name) for name in _unique(args.names)]
        return [(record, store.get_trials(record.name)) for record in records]  # type: ignore[union-attr]


def _load_aws(args: argparse.Namespace) -> list[tuple[RunRecord, list[TrialRecord]]]:
    deploy = deployment(args.stack, args.region)
    store = deploy.store()
    records = [_aws.find_run(deploy, store, name) for name in _unique(args.names)]
    with aws_errors(f"table {deploy.table}"):
        return [(record, store.get_trials(record.name)) for record in records]


def _unique(names: Sequence[str]) -> list[str]:
    """``names``, refusing one named twice before any store is read."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise CommandError(f"run {name!r} is named twice")
        seen.add(name)
    return list(names)


def _draw(comparison: Comparison, output: str) -> str:
    from byohpo.plot_compare import plot_comparison

    title = f"{len(comparison.runs)} runs, " + ", ".join(
        f"{o.direction.lower()} {o.metric}" for o in comparison.objectives)
    try:
        return str(plot_comparison(comparison, output, title=title))
    except OSError as exc:  # the folder does not exist, no permission
        raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
