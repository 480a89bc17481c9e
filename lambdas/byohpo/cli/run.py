"""``byohpo run REQUEST.json``: run a tuning request on this machine, or resume it."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from byohpo.cli import _common
from byohpo.cli._common import add_store_option
from byohpo.cli.leaderboard import print_leaderboard
from byohpo.cli.validate import report_invalid
from byohpo.errors import ValidationError
from byohpo.local.engine import LocalEngine, RunInterrupted
from byohpo.local.progress import ConsoleReporter
from byohpo.request import check_local, load_request
from byohpo.store.base import RunClaimedError, RunNotFoundError
from byohpo.store.sqlite import SQLiteStore, StoreFileError
from byohpo.tuning import InvalidProposalError, RunMismatchError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run", help="run a tuning request locally (resumes an interrupted run)",
        description="Run the tuning request on this machine: each training job is a local process started "
                    "like SageMaker script mode starts TrainingJobDefinition.Local.EntryPoint. A run whose "
                    "name exists in the store is resumed: completed trials are kept, interrupted ones rerun.")
    parser.add_argument("request", metavar="REQUEST.json", help="the tuning request file")
    add_store_option(parser)
    parser.add_argument("--runs-dir", metavar="DIR", type=Path, default=None,
                        help="where trial folders go (default: the store's folder)")
    parser.add_argument("--base-dir", metavar="DIR", type=Path, default=Path("."),
                        help="where a relative Local.EntryPoint is found (default: the current directory)")
    parser.add_argument("--top", metavar="K", type=_non_negative, default=10,
                        help="leaderboard rows to print at the end (default 10; 0 for none)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store_path = _common.store_path(args.store)
    runs_dir = args.runs_dir or store_path.parent
    # Everything is checked before the store file or any trial folder exists.
    try:
        request = load_request(args.request)
        check_local(request, args.base_dir, request_path=args.request)
    except ValidationError as exc:
        return report_invalid("run", args.request, exc)
    problem = _unwritable(store_path, "the store") or _unwritable(runs_dir, "the runs folder", folder=True)
    if problem:
        print(f"byohpo run: {problem}", file=sys.stderr)
        return 2
    try:
        store = SQLiteStore(store_path)
    except StoreFileError as exc:  # not a database, damaged, locked, newer: nothing was written
        print(f"byohpo run: cannot use the store {exc}", file=sys.stderr)
        return 2
    reporter = None if args.quiet else ConsoleReporter()
    resume = _resume_command(args)
    with store:
        try:
            engine = LocalEngine(request, store=store, reporter=reporter, base_dir=args.base_dir,
                                 runs_dir=runs_dir,
                                 on_claim=lambda claimed: store.set_command(
                                     claimed.name, shlex.split(resume), os.getcwd()))
            finished = engine.run()
        except RunMismatchError as exc:  # an existing run made from an incompatible request
            print(f"{args.request}: cannot resume run {request.name!r} of {store_path} with this request",
                  file=sys.stderr)
            for error in exc.errors:
                print(f"  {error}", file=sys.stderr)
            return 2
        except InvalidProposalError as exc:
            print(f"byohpo run: strategy {request.strategy!r} proposed a candidate outside the search "
                  f"space (a bug in the strategy): {exc}", file=sys.stderr)
            return 1
        except RunClaimedError as exc:
            print(f"byohpo run: run {request.name!r} in {store_path} is driven by another engine "
                  f"({exc.holder}, pid@host); nothing was changed. Wait for it to end, or stop it "
                  "(Ctrl-C in its terminal) and run this again to resume.", file=sys.stderr)
            return 1
        except StoreFileError as exc:  # the store failed mid-run (locked past the timeout, disk full)
            print(f"\nbyohpo run: the store failed: {exc}\nthe training jobs that finished before are "
                  f"kept; once the store works again, resume with: {resume}", file=sys.stderr)
            return 1
        except (RunInterrupted, KeyboardInterrupt):
            try:
                done = sum(t.finished for t in store.get_trials(request.name))
            except (RunNotFoundError, StoreFileError):  # interrupted before the run was written
                done = 0
            jobs = f"{done} finished training job{'s' * (done != 1)}"
            print(f"\ninterrupted: {jobs} of run {request.name} {'is' if done == 1 else 'are'} kept in "
                  f"{store_path}.\nresume with: {resume}", file=sys.stderr)
            return 130
        if args.top:
            print_leaderboard(store, finished.name, top=args.top)
    return 0 if finished.status == "Completed" else 1


def _unwritable(path: Path, what: str, *, folder: bool = False) -> str | None:
    """Why ``path`` (a file, or a folder with ``folder``) cannot be created or written, or None."""
    if path.exists():
        if folder and not path.is_dir():
            return f"{what} {path} is not a folder"
        if not folder and path.is_dir():
            return f"{what} {path} is a folder, not a store file"
        # SQLite writes its -wal and -shm files beside the store: its folder must be writable too.
        for target in ([path] if folder else [path, path.parent]):
            if not os.access(target, os.W_OK | (os.X_OK if target.is_dir() else 0)):
                return f"{what} {path} cannot be written: {target} is read-only for this user"
        return None
    parent = path.parent if not folder else path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{what} {path} cannot be created: {parent} is not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{what} {path} cannot be created: {parent} is read-only for this user"
    return None


def _resume_command(args: argparse.Namespace) -> str:
    """The command that resumes this run: the same request, store and folders."""
    words = ["byohpo", "run", args.request]
    for option, value in (("--store", args.store), ("--runs-dir", args.runs_dir)):
        if value is not None:
            words += [option, str(value)]
    if args.base_dir != Path("."):
        words += ["--base-dir", str(args.base_dir)]
    return shlex.join(words)


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, not {text!r}")
    return value
