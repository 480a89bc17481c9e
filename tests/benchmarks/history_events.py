"""History events the state machine uses, per generation and per trial, measured from executions of the
builder's definition in moto (``tests/sfn_harness.py``: the real handlers, SageMaker emulated).

    python tests/benchmarks/history_events.py

A Standard execution holds 25,000 events; Evaluate estimates what each generation used
(``byohpo.handlers``) and continues as a new execution before the budget runs out. This prints:

* each Map iteration's events by outcome (an inline Map run one trial at a time, so that iterations do
  not interleave): what a Distributed Map's child execution holds, and what an inline Map adds to the
  parent's history;
* the parent's events per generation, for both map modes, next to ``state_machine.EVENT_COSTS`` and to
  Evaluate's estimate (with the size of Evaluate's largest input: the Map's results);
* a run continued as new executions under a small budget: each execution's events against it.

Not part of the test run.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

from aws_fixtures import OBJECTIVE, accuracy, digits_request  # noqa: E402
from sfn_harness import (  # noqa: E402
    FUNCTIONS,
    JobFate,
    Loop,
    SageMakerEmulator,
    byohpo_loop,
    iteration_spans,
    map_bodies,
)

import state_machine  # noqa: E402
from byohpo import handlers  # noqa: E402

MODES = ("DISTRIBUTED", "INLINE")
PLACEHOLDERS = {f"{n.lower()}_fn": "${" + n + "FunctionArn}" for n in FUNCTIONS}


def limits(jobs: int, parallel: int) -> dict[str, Any]:
    return {"ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel}}


def completes(params: Mapping[str, Any]) -> JobFate:
    return JobFate(metrics={OBJECTIVE: accuracy(params["HyperParameters"])}, polls=1)


def by_generation(fates: Mapping[int, JobFate]) -> Any:
    """Each generation's (one) job ends as ``fates[generation]`` says, else completes."""
    def fate(params: Mapping[str, Any]) -> JobFate:
        generation = int(params["TrainingJobName"].rsplit("-g", 1)[1].split("-")[0])
        return fates.get(generation) or completes(params)
    return fate


def iterations(loop: Loop) -> list[tuple[str, int, str]]:
    """One trial per generation, inline, in sequence: (outcome, events, event types) per iteration."""
    emulator = loop.fresh(SageMakerEmulator(by_generation({
        1: JobFate(status="Failed", failure_reason="AlgorithmError: boom", polls=1),
        2: JobFate(metrics=None, log_lines=("Validation-accuracy=0.9",), polls=1),
    })))
    # then: throttled twice (by name: Retry), then created; throttled once, told by its cause (the
    # iteration's own loop); a create refused for good
    throttled = ("SageMaker.ThrottlingException", "Rate exceeded")
    by_cause = ("SageMaker.AmazonSageMakerException",
                "Rate exceeded (Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException)")
    (execution,) = loop.run(digits_request("bench-iterations", **limits(3, 1)), "INLINE")
    emulator.fail_creates(throttled, throttled)
    (retried,) = loop.run(digits_request("bench-retried", **limits(1, 1)), "INLINE")
    emulator.fail_creates(by_cause)
    (looped,) = loop.run(digits_request("bench-by-cause", **limits(1, 1)), "INLINE")
    emulator.fail_creates(("SageMaker.ResourceInUseException", "in use"))
    (refused,) = loop.run(digits_request("bench-refused", **limits(1, 1)), "INLINE")
    spans = iteration_spans(loop.events(execution))
    for other in (retried, looped, refused):
        spans += iteration_spans(loop.events(other))
    outcomes = ["completed", "job failed", "completed, metrics from logs", "create throttled twice",
                "throttled, told by its cause", "create refused"]
    return [(o, len(s), " ".join(s)) for o, s in zip(outcomes, spans, strict=True)]


def generations(loop: Loop, mode: str, jobs: int, parallel: int, failing: int = 0) -> dict[str, Any]:
    """A run of ``jobs`` jobs, ``parallel`` per generation, the first ``failing`` of generation 0
    failing: the parent's events, and Evaluate's estimate."""
    def fate(params: Mapping[str, Any]) -> JobFate:
        name = params["TrainingJobName"]
        index = int(name.rsplit("-t", 1)[1].split("-")[0])
        if "-g0-" in name and index < failing:
            return JobFate(status="Failed", failure_reason="AlgorithmError: boom", polls=1)
        return completes(params)

    loop.fresh(SageMakerEmulator(fate))
    run = f"bench-{mode.lower()}-{jobs}-{parallel}-{failing}"
    (execution,) = loop.run(digits_request(run, **limits(jobs, parallel)), mode)
    assert execution["status"] == "SUCCEEDED", execution
    events = loop.events(execution)
    count = Counter(e["type"] for e in events)
    gens = count["MapStateEntered"]
    costs = state_machine.EVENT_COSTS[mode]
    # the iterations' events (an inline Map's), not the Map run's own (a Distributed Map's)
    body = sum(map_bodies(events)) - count["MapRunStarted"] - count["MapRunSucceeded"]
    per_generation = (len(events) - body - costs["start"] - costs["finish"]) / gens
    answers = [i.result for i in loop.harness.invocations if i.function == "byohpo-evaluate"]
    estimate = answers[-1]["run"]["events"]
    payload = max(len(json.dumps(e)) for e in loop.evaluate_events())  # the Map's results, and more
    return {"mode": mode, "jobs": jobs, "parallel": parallel, "failed": failing, "generations": gens,
            "events": len(events), "per_generation": per_generation, "map_bodies": body,
            "estimate": estimate + handlers.FINISH_EVENTS, "payload": payload}


def continued(loop: Loop, budget: int) -> list[dict[str, Any]]:
    import os

    os.environ["BYOHPO_EVENT_BUDGET"] = str(budget)
    try:
        loop.fresh(SageMakerEmulator(completes))
        chain = loop.run(digits_request("bench-continued", **limits(15, 3)))
    finally:
        del os.environ["BYOHPO_EVENT_BUDGET"]
    rows = []
    for desc in chain:
        events = loop.events(desc)
        rows.append({"execution": desc["name"], "events": len(events),
                     "generations": sum(e["type"] == "MapStateEntered" for e in events)})
    return rows


def main() -> None:
    definitions = {mode: json.dumps(state_machine.build_definition(**PLACEHOLDERS, map_mode=mode))
                   for mode in MODES}
    with byohpo_loop(definitions) as loop:
        print("One Map iteration (inline, sequential): events by outcome")
        for outcome, n, kinds in iterations(loop):
            print(f"  {outcome:<30} {n:>3}  {kinds}")
        print()
        print("The parent execution's history")
        print(f"  {'mode':<12}{'jobs':>5}{'par':>5}{'fail':>5}{'gens':>5}{'events':>8}{'per gen':>9}"
              f"{'in iter.':>9}{'Evaluate est.':>15}{'Evaluate in':>13}")
        for mode in MODES:
            for jobs, parallel, failing in ((9, 3, 0), (9, 3, 2), (60, 60, 0)):
                if mode == "INLINE" and parallel > 40:
                    continue
                r = generations(loop, mode, jobs, parallel, failing)
                print(f"  {r['mode']:<12}{r['jobs']:>5}{r['parallel']:>5}{r['failed']:>5}"
                      f"{r['generations']:>5}{r['events']:>8}{r['per_generation']:>9.1f}"
                      f"{r['map_bodies']:>9}{r['estimate']:>15}{r['payload']:>12}B")
        print(f"  EVENT_COSTS: {json.dumps(state_machine.EVENT_COSTS)}")
        print("  Evaluate counts with the EVENT_COSTS the definition passes it; without them, "
              f"{handlers.GENERATION_EVENTS} per generation + {handlers.SUCCEEDED_JOB_EVENTS} per completed "
              f"job + {handlers.FAILED_JOB_EVENTS} per other, {handlers.START_EVENTS} to start, "
              f"{handlers.FINISH_EVENTS} to finish")
        print()
        budget = 120
        print(f"A run of 5 generations of 3 jobs, BYOHPO_EVENT_BUDGET={budget}")
        for row in continued(loop, budget):
            print(f"  {row['execution']:<60}{row['events']:>5} events {row['generations']:>3} generations")


if __name__ == "__main__":
    main()
