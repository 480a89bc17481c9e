"""``byohpo runs [--store PATH]``: every run in the store, one line each."""

from __future__ import annotations

import argparse
from typing import Any

from byohpo.cli._common import (
    CommandError,
    add_store_option,
    empty_message,
    existing_store,
    fail,
    piped,
    store_path,
)
from byohpo.leaderboard import align, best_trial, request_info
from byohpo.store import RunRecord, TrialRecord

HEADER = ("name", "status", "strategy", "trials", "best", "objective", "created (UTC)", "reason")
_RIGHT = (False, False, False, True, True, False, False, False)
_REASON_WIDTH = 60


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "runs", help="list the runs in the store",
        description="List every run in the store: status, strategy, finished trials out of the budget "
                    "(MaxNumberOfTrainingJobs), the best value of the first objective, when it was "
                    "created and why it ended.")
    add_store_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = store_path(args.store)
    try:
        with existing_store(path) as store:
            runs = store.list_runs() if store else []
            lines = [line(r, store.get_trials(r.name)) for r in runs] if store else []
    except CommandError as exc:
        return fail("runs", exc)
    with piped():
        print(align(HEADER, lines, _RIGHT) if lines else empty_message(path))
    return 0


def line(record: RunRecord, trials: list[TrialRecord]) -> list[str]:
    """One run's cells, in :data:`HEADER` order."""
    info = request_info(record.request)
    done = sum(1 for t in trials if t.finished)
    running = len(trials) - done
    budget = "?" if info.max_jobs is None else str(info.max_jobs)
    progress = f"{done}/{budget}" + (f" +{running}" if running else "")
    best = best_trial(trials, info.objectives)
    value = "-"
    if best is not None and best.values is not None:
        value = format(best.values[info.objectives[0].metric], ".6g")
    objective = ""
    if info.objectives:
        first = info.objectives[0]
        objective = f"{'max' if first.direction == 'Maximize' else 'min'} {first.metric}"
        if len(info.objectives) > 1:
            objective += f" (+{len(info.objectives) - 1})"
    created = record.created_at[:19].replace("T", " ")
    reason = " ".join((record.reason or "").split())
    if len(reason) > _REASON_WIDTH:
        reason = reason[:_REASON_WIDTH - 1] + "…"
    return [record.name, record.status, info.strategy or "?", progress, value, objective, created, reason]
