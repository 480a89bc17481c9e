"""What ``byohpo run`` shows while a run goes on, in a log (plain lines) and on a terminal (a live bar):
the generation, jobs done out of the budget, the best so far, the jobs running, the time left."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

from test_engine import METRIC, make_request

from byohpo.local.progress import ConsoleReporter, format_duration, format_params, jobs
from byohpo.request import parse_request
from byohpo.store import RunRecord, TrialRecord, utc_now


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request(**changes: Any):
    raw = make_request(Path("/x/train.py"), strategy="ga", max_jobs=4, parallel=2, **changes)
    return parse_request(copy.deepcopy(raw))


def run_record(req) -> RunRecord:
    return RunRecord(req.name, req.raw, req.fingerprint(), created_at=utc_now())


def trial(index: int, status: str = "Pending", value: float | None = None, generation: int = 0,
          **meta: Any) -> TrialRecord:
    values = None if value is None else {METRIC: value}
    reason = ("AlgorithmError: exit code 1: last log lines:\nTraceback (most recent call last):\n"
              "ValueError: bad x")
    return TrialRecord.new("engine-test", generation, index, {"x": 0.123456, "y": 3},
                           meta={"population_size": 4, **meta}, status=status, values=values,
                           job_name=f"engine-test-g{generation}-t{index}",
                           failure_reason=reason if status == "Failed" else None)


def test_a_log_says_after_every_job_the_best_so_far_what_runs_and_the_time_left() -> None:
    out, clock = io.StringIO(), Clock()
    reporter = ConsoleReporter(out, live=False, clock=clock)
    req = request()
    reporter.start(run_record(req), req, [])
    gen = [trial(i) for i in range(4)]
    reporter.generation(0, gen)
    reporter.trial_started(gen[0])
    reporter.trial_started(gen[1])
    clock.now += 10
    reporter.trial_finished(trial(0, "Completed", 0.9))
    reporter.trial_started(gen[2])
    clock.now += 10
    reporter.trial_finished(trial(1, "Failed"))
    lines = out.getvalue().splitlines()
    assert lines[0] == ("starting run engine-test: strategy ga, maximize validation:accuracy, up to 4 "
                        "training jobs, 2 at a time")
    assert lines[1] == "generation 0: 4 training jobs"
    # 1 done in 10 s, 3 left: about 30 s; then 2 done in 20 s, 2 left: about 20 s.
    assert lines[2] == ("  [1/4] engine-test-g0-t0  x=0.1235 y=3  -> validation:accuracy=0.9  "
                        "(best 0.9 · 1 running · ~30s left)")
    assert lines[3] == ("  [2/4] engine-test-g0-t1  x=0.1235 y=3  -> Failed: AlgorithmError: exit code 1: "
                        "ValueError: bad x  (best 0.9 · 1 running · ~20s left)")


def test_the_run_time_limit_caps_the_estimate() -> None:
    out, clock = io.StringIO(), Clock()
    reporter = ConsoleReporter(out, live=False, clock=clock)
    req = request(run_runtime=120)
    reporter.start(run_record(req), req, [])  # created far in the future: 120 s left, no less
    reporter.trial_started(trial(0))
    clock.now += 100
    reporter.trial_finished(trial(0, "Completed", 0.5))  # 3 left at 100 s each, but only 20 s remain
    assert out.getvalue().splitlines()[-1].endswith("· 0 running · ~20s left)")


def test_a_smaller_generation_says_why() -> None:
    out = io.StringIO()
    reporter = ConsoleReporter(out, live=False)
    req = request()
    reporter.start(run_record(req), req, [])
    reporter.generation(1, [trial(i, generation=1) for i in range(3)])
    reporter.generation(2, [trial(i, generation=2) for i in range(4)])
    assert out.getvalue().splitlines()[1:] == [
        "generation 1: 3 training jobs (population 4: 1 candidate repeats a point already tried or "
        "proposed, and each point runs once)",
        "generation 2: 4 training jobs"]
    reporter._done = 3  # one job of the budget left: the cut is the budget's, not a repeat
    reporter.generation(3, [trial(0, generation=3)])
    assert out.getvalue().splitlines()[-1] == ("generation 3: 1 training job (population 4: the budget has 1 "
                                               "left)")


def test_values_read_as_one_word_each() -> None:
    assert format_params({"optimizer": "adam w", "lr": 0.0123456, "layers": 3, "act": "relu", "e": ""}) == \
        "optimizer='adam w' lr=0.01235 layers=3 act=relu e=''"
    assert [jobs(1), jobs(2)] == ["1 training job", "2 training jobs"]
    assert [format_duration(s) for s in (4.6, 65, 3725)] == ["5s", "1m05s", "1h02m"]


def test_on_a_terminal_the_bar_shows_the_same_state(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # the narrowest usual terminal: the state must fit
    out, clock = io.StringIO(), Clock()
    reporter = ConsoleReporter(out, live=True, clock=clock)
    req = request()
    reporter.start(run_record(req), req, [])
    try:
        reporter.generation(0, [trial(i) for i in range(4)])
        reporter.trial_started(trial(0))
        reporter.trial_started(trial(1))
        clock.now += 10
        reporter.trial_finished(trial(0, "Completed", 0.9))
        reporter._progress.refresh()
        drawn = out.getvalue()
    finally:
        reporter.close()
    assert "gen 0" in drawn and "1/4" in drawn
    assert "best 0.9 · 1 running · ~30s left" in drawn
    # The job's own line is printed above the bar, without the state the bar already shows.
    assert "  [1/4] engine-test-g0-t0  x=0.1235 y=3  -> validation:accuracy=0.9\n" in drawn
