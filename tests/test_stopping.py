"""The stopping rules, each at its boundary (N-1 goes on, N stops), in both directions, with failed
trials and NaN or missing metrics."""

from __future__ import annotations

import math

import pytest

from byohpo import Objective, SearchExhausted, Trial
from byohpo.stopping import (
    CODES,
    StoppingRules,
    StopReason,
    check_stopping,
    remaining_budget,
)

ACC = Objective("acc", "Maximize")
LOSS = Objective("loss", "Minimize")


def ok(value: float, metric: str = "acc", **more: float) -> Trial:
    return Trial({"x": 1}, {}, "Completed", {metric: value, **more})


def failed() -> Trial:
    return Trial({"x": 1}, {}, "Failed", None)


def stopped(value: float | None = None) -> Trial:
    return Trial({"x": 1}, {}, "Stopped", None if value is None else {"acc": value})


def check(trials, objectives=(ACC,), elapsed=None, **rules) -> StopReason | None:
    rules.setdefault("max_jobs", 10_000)
    return check_stopping(StoppingRules(**rules), list(objectives), trials, elapsed)


def code(trials, objectives=(ACC,), elapsed=None, **rules) -> str | None:
    reason = check(trials, objectives, elapsed, **rules)
    return None if reason is None else reason.code


def test_codes_are_the_request_field_names():
    assert set(CODES) == {"MaxNumberOfTrainingJobs", "MaxRuntimeInSeconds", "TargetObjectiveMetricValue",
                          "BestObjectiveNotImproving", "ConvergenceDetected", "MaxFailedTrainingJobs",
                          "StrategyExhausted"}


def test_no_rule_holds_on_an_empty_history():
    assert check([], max_jobs=5, max_runtime_seconds=10, target_value=0.5, max_jobs_not_improving=3,
                 convergence=True, max_failed_jobs=2) is None


# -- MaxNumberOfTrainingJobs ------------------------------------------------------------------------
def test_max_jobs_counts_every_finished_trial_at_its_boundary():
    mixed = [ok(0.5), failed(), stopped(), ok(0.6)]
    assert code(mixed[:3], max_jobs=4, max_failed_jobs=100) is None
    reason = check(mixed, max_jobs=4, max_failed_jobs=100)
    assert reason is not None and reason.code == "MaxNumberOfTrainingJobs"
    assert "4 training jobs" in reason.message and "MaxNumberOfTrainingJobs=4" in reason.message
    assert reason.run_status == "Completed"


def test_remaining_budget_counts_every_written_trial_and_never_goes_negative():
    rules = StoppingRules(max_jobs=5)
    assert remaining_budget(rules, []) == 5
    assert remaining_budget(rules, ["pending", "in flight", "done"]) == 2
    assert remaining_budget(rules, range(5)) == 0
    assert remaining_budget(rules, range(7)) == 0


# -- MaxRuntimeInSeconds --------------------------------------------------------------------------
def test_runtime_stops_at_the_limit_and_not_before():
    assert code([ok(0.5)], elapsed=3599.9, max_runtime_seconds=3600) is None
    reason = check([ok(0.5)], elapsed=3600, max_runtime_seconds=3600)
    assert reason is not None and reason.code == "MaxRuntimeInSeconds"
    assert "3600 s" in reason.message and "MaxRuntimeInSeconds=3600" in reason.message


def test_runtime_is_skipped_without_a_limit_or_an_elapsed_time():
    assert code([], elapsed=1e9) is None
    assert code([], elapsed=None, max_runtime_seconds=1) is None


def test_refuses_a_nan_elapsed_time_and_no_objectives():
    with pytest.raises(ValueError, match="NaN"):
        check([], elapsed=math.nan, max_runtime_seconds=1)
    with pytest.raises(ValueError, match="objective"):
        check([ok(0.5)], objectives=())


# -- TargetObjectiveMetricValue -------------------------------------------------------------------
def test_target_maximize_is_reached_at_or_above():
    assert code([ok(0.5), ok(0.9899)], target_value=0.99) is None
    assert code([ok(0.5), ok(0.99)], target_value=0.99) == "TargetObjectiveMetricValue"
    reason = check([ok(0.5), ok(0.9912), ok(0.7)], target_value=0.99)
    assert reason is not None
    assert reason.message == "best acc 0.9912 (training job 2) reached the target >= 0.99"


def test_target_minimize_is_reached_at_or_below():
    assert code([ok(0.11, "loss")], [LOSS], target_value=0.1) is None
    assert code([ok(0.1, "loss")], [LOSS], target_value=0.1) == "TargetObjectiveMetricValue"
    reason = check([ok(0.3, "loss"), ok(0.05, "loss")], [LOSS], target_value=0.1)
    assert reason is not None and "<= 0.1" in reason.message and "0.05" in reason.message


def test_target_ignores_failed_stopped_nan_infinite_and_missing_values():
    junk = [Trial({}, {}, "Failed", {"acc": 1.0}), stopped(1.0), ok(math.nan), ok(math.inf),
            ok(1.0, "other")]
    assert code(junk, target_value=0.99, max_failed_jobs=100) is None


def test_target_looks_at_the_first_objective_only():
    objectives = [ACC, LOSS]
    assert code([ok(0.5, loss=0.0)], objectives, target_value=0.9) is None
    assert code([ok(0.95, loss=9.0)], objectives, target_value=0.9) == "TargetObjectiveMetricValue"


# -- BestObjectiveNotImproving ----------------------------------------------------------------------
def test_not_improving_stops_after_n_jobs_without_improvement():
    history = [ok(0.5), ok(0.9712), ok(0.9), ok(0.95)]
    assert code(history, max_jobs_not_improving=3) is None
    reason = check([*history, ok(0.97)], max_jobs_not_improving=3)
    assert reason is not None and reason.code == "BestObjectiveNotImproving"
    assert reason.message == ("best acc 0.9712 did not improve by 1% in the last 3 training jobs "
                              "(MaxNumberOfTrainingJobsNotImproving=3)")


def test_an_improvement_counts_from_one_percent_of_the_best():
    # 100 -> 100.99 is under 1%: still not improving. 100 -> 101 is exactly 1%: it resets the count.
    assert code([ok(100.0), ok(1.0), ok(100.99)], max_jobs_not_improving=2) == "BestObjectiveNotImproving"
    assert code([ok(100.0), ok(1.0), ok(101.0)], max_jobs_not_improving=2) is None


def test_a_slow_creep_resets_once_it_adds_up_to_one_percent():
    # Each step is under 1% of the one before, but 100.6 -> 100 + 1.2% is a 1% gain on 100.
    creep = [ok(100.0), ok(100.6), ok(101.2)]
    assert code(creep, max_jobs_not_improving=2) is None
    assert code([*creep, ok(101.9)], max_jobs_not_improving=2) is None  # 101.9 < 1.01 * 101.2: no reset
    assert code([*creep, ok(101.9), ok(50.0)], max_jobs_not_improving=2) == "BestObjectiveNotImproving"


def test_not_improving_minimize():
    assert code([ok(100.0, "loss"), ok(99.5, "loss")], [LOSS], max_jobs_not_improving=1) \
        == "BestObjectiveNotImproving"
    assert code([ok(100.0, "loss"), ok(99.0, "loss")], [LOSS], max_jobs_not_improving=1) is None


def test_not_improving_with_negative_and_zero_bests():
    assert code([ok(-100.0), ok(-99.0)], max_jobs_not_improving=1) is None  # 1% of |-100|
    assert code([ok(-100.0), ok(-99.5)], max_jobs_not_improving=1) == "BestObjectiveNotImproving"
    assert code([ok(0.0), ok(1e-12)], max_jobs_not_improving=1) is None  # any gain on 0 counts
    assert code([ok(0.0), ok(0.0)], max_jobs_not_improving=1) == "BestObjectiveNotImproving"


def test_failed_stopped_and_nan_jobs_count_as_not_improving():
    history = [ok(0.9), failed(), stopped(), ok(math.nan)]
    assert code(history[:3], max_jobs_not_improving=3, max_failed_jobs=100) is None
    assert code(history, max_jobs_not_improving=3, max_failed_jobs=100) == "BestObjectiveNotImproving"


def test_not_improving_needs_a_best_first():
    assert code([failed()] * 10, max_jobs_not_improving=3, max_failed_jobs=100) is None
    assert code([failed(), failed(), ok(0.5), failed()], max_jobs_not_improving=2,
                max_failed_jobs=100) is None


def test_not_improving_looks_at_the_first_objective_only():
    objectives = [ACC, LOSS]
    history = [ok(0.9, loss=1.0), ok(0.9, loss=0.5), ok(0.9, loss=0.1)]
    assert code(history, objectives, max_jobs_not_improving=2) == "BestObjectiveNotImproving"


# -- ConvergenceDetected ----------------------------------------------------------------------------
def flat(n: int, value: float = 1000.0) -> list[Trial]:
    return [ok(value) for _ in range(n)]


def test_convergence_needs_forty_evaluations():
    assert code(flat(39), convergence=True) is None
    reason = check(flat(40), convergence=True)
    assert reason is not None and reason.code == "ConvergenceDetected"
    assert reason.message == ("best acc 1000 improved by less than 0.1% over the last 20 of 40 evaluated "
                              "training jobs (it was 1000)")


def test_convergence_is_off_unless_enabled():
    assert code(flat(100)) is None


def test_convergence_tolerance_boundary():
    assert code([*flat(20), *flat(19, 999.0), ok(1000.9)], convergence=True) == "ConvergenceDetected"
    assert code([*flat(20), *flat(19, 999.0), ok(1001.0)], convergence=True) is None  # exactly 0.1%


def test_convergence_window_is_the_later_half():
    # 40 evaluations: the first 20 are the "before". A gain at position 21 is recent, at 20 it is not.
    gain_at_21 = [*flat(20), ok(2000.0), *flat(19)]
    gain_at_20 = [*flat(19), ok(2000.0), *flat(20)]
    assert code(gain_at_21, convergence=True) is None
    assert code(gain_at_20, convergence=True) == "ConvergenceDetected"
    # 41 evaluations: the window is 20, so position 21 is in the "before" now.
    assert code([*gain_at_21, ok(1.0)], convergence=True) == "ConvergenceDetected"


def test_convergence_minimize():
    assert code([ok(1.0, "loss")] * 39 + [ok(0.5, "loss")], [LOSS], convergence=True) is None
    assert code([ok(1.0, "loss")] * 40, [LOSS], convergence=True) == "ConvergenceDetected"


def test_convergence_ignores_failed_and_nan_trials():
    history = flat(39) + [failed(), stopped(), ok(math.nan)] * 20
    assert code(history, convergence=True) is None
    assert code([*history, ok(5.0)], convergence=True) == "ConvergenceDetected"


def test_convergence_at_a_best_of_zero_needs_no_gain_at_all():
    assert code(flat(40, 0.0), convergence=True) == "ConvergenceDetected"
    assert code([*flat(39, 0.0), ok(1e-9)], convergence=True) is None


# -- MaxFailedTrainingJobs --------------------------------------------------------------------------
def test_max_failed_jobs_boundary_and_status():
    assert code([ok(0.5), failed(), failed()], max_failed_jobs=3) is None
    reason = check([ok(0.5), failed(), failed(), failed()], max_failed_jobs=3)
    assert reason is not None and reason.code == "MaxFailedTrainingJobs"
    assert reason.run_status == "Failed"
    assert reason.message == "3 training jobs failed, the limit is MaxFailedTrainingJobs=3"


def test_ending_without_a_value_counts_as_failed_and_a_stopped_trial_with_one_does_not():
    # SageMaker's ObjectiveStatus Failed: the job failed or emitted no objective metric; a job stopped
    # at its time limit before printing one is no better.
    history = [ok(0.5), ok(math.nan), ok(1.0, "other"), stopped(0.5)]
    assert code(history, max_failed_jobs=3) is None
    reason = check([*history, stopped()], max_failed_jobs=3)
    assert reason is not None and reason.code == "MaxFailedTrainingJobs"
    assert reason.message == ("3 training jobs failed (1 stopped, 2 completed without a value), the limit "
                              "is MaxFailedTrainingJobs=3")


def test_multi_objective_trial_missing_the_second_objective_failed():
    assert code([ok(0.5)], [ACC, LOSS], max_failed_jobs=1) == "MaxFailedTrainingJobs"
    assert code([ok(0.5, loss=0.1)], [ACC, LOSS], max_failed_jobs=1) is None


def test_a_limit_of_zero_stops_at_the_first_failure():
    assert code([ok(0.5)], max_failed_jobs=0) is None
    assert code([ok(0.5), failed()], max_failed_jobs=0) == "MaxFailedTrainingJobs"


def test_default_stops_a_broken_script_after_five_failures_and_no_success():
    assert code([failed()] * 4) is None
    reason = check([failed()] * 3 + [ok(math.nan)] * 2)
    assert reason is not None and reason.code == "MaxFailedTrainingJobs" and reason.run_status == "Failed"
    assert reason.message == ("none succeeded: all 5 training jobs so far ended without a value of acc "
                              "(3 failed, 2 completed without a value)")


def test_default_stops_when_every_job_hits_its_time_limit():
    # A timeout is no better than a failure, also when the job printed a value before it was stopped.
    assert code([stopped()] * 4) is None
    assert code([stopped()] * 5) == "MaxFailedTrainingJobs"
    assert code([stopped(0.5)] * 3 + [failed()] * 2) == "MaxFailedTrainingJobs"
    assert "(2 failed, 3 stopped)" in check([stopped(0.5)] * 3 + [failed()] * 2).message


def test_default_never_stops_a_script_that_succeeded_once():
    assert code([failed()] * 7 + [ok(0.5)] + [failed()] * 20) is None
    assert code([stopped()] * 7 + [ok(0.5)] + [stopped()] * 20) is None


def test_default_failure_count_shrinks_to_a_small_budget():
    # All 3 jobs of a 3-job run failed: the run failed, it did not complete.
    assert code([failed()] * 2, max_jobs=3) is None
    assert code([failed()] * 3, max_jobs=3) == "MaxFailedTrainingJobs"
    assert check([failed()], max_jobs=1).message.startswith("none succeeded: the only training job ended")


def test_an_explicit_limit_replaces_the_default():
    assert code([failed()] * 10, max_failed_jobs=11) is None


# -- priority and the rest ------------------------------------------------------------------------
def test_priority_when_several_rules_hold():
    everything = dict(max_jobs=3, max_runtime_seconds=1, target_value=0.5, max_jobs_not_improving=1,
                      max_failed_jobs=1)
    history = [ok(0.9), failed(), ok(0.1)]
    assert code(history, elapsed=5, **everything) == "TargetObjectiveMetricValue"
    assert code(history, elapsed=5, **{**everything, "target_value": None}) == "MaxFailedTrainingJobs"
    assert code(history, elapsed=5, **{**everything, "target_value": None, "max_failed_jobs": 5}) \
        == "MaxNumberOfTrainingJobs"
    assert code(history, elapsed=5, **{**everything, "target_value": None, "max_failed_jobs": 5,
                                       "max_jobs": 9}) == "MaxRuntimeInSeconds"
    assert code(history, elapsed=0, **{**everything, "target_value": None, "max_failed_jobs": 5,
                                       "max_jobs": 9}) == "BestObjectiveNotImproving"


def test_strategy_exhausted_reason():
    reason = StopReason.exhausted(SearchExhausted("all 12 grid points evaluated"))
    assert (reason.code, reason.message, reason.run_status) == \
        ("StrategyExhausted", "all 12 grid points evaluated", "Completed")
    assert StopReason.exhausted(SearchExhausted()).message == "the strategy has nothing left to try"


def test_trials_read_back_from_json_decide_alike():
    # Histories come from a store: values that were ints, NaN written as JSON's NaN token.
    import json

    history = [ok(1), ok(math.nan), ok(0.25)]
    again = [Trial(**json.loads(json.dumps(t.__dict__))) for t in history]
    rules = dict(max_jobs_not_improving=2, max_failed_jobs=100)
    assert check(history, **rules) == check(again, **rules) is not None


# -- early-stopped trials: their last value counts, as SageMaker counts it ------------------------

def early(value: float | None) -> Trial:
    return Trial({"x": 1}, {}, "Stopped", None if value is None else {"acc": value}, early_stopped=True)


def test_an_early_stopped_value_counts_for_the_target_and_a_time_limit_stop_does_not():
    assert code([ok(0.5), early(0.95)], target_value=0.9) == "TargetObjectiveMetricValue"
    assert code([ok(0.5), stopped(0.95)], target_value=0.9) is None
    assert "(training job 2)" in check([ok(0.5), early(0.95)], target_value=0.9).message


def test_an_early_stopped_value_can_improve_and_resets_not_improving():
    # Without it: 3 jobs since 0.5. With it: 0.6 improved the best, so only 2.
    assert code([ok(0.5), ok(0.4), early(0.6), ok(0.3)], max_jobs_not_improving=3) is None
    assert code([ok(0.5), ok(0.4), stopped(0.6), ok(0.3)],
                max_jobs_not_improving=3) == "BestObjectiveNotImproving"
    assert code([ok(0.5), early(0.1), early(0.2)], max_jobs_not_improving=2) == "BestObjectiveNotImproving"


def test_an_early_stopped_job_with_a_value_succeeded_and_one_without_failed():
    # The default failure rule: five jobs and none succeeded stops the run, unless one did.
    assert code([failed()] * 4 + [early(0.3)], max_jobs=10) is None
    assert code([failed()] * 4 + [early(None)], max_jobs=10) == "MaxFailedTrainingJobs"
    assert code([early(None), failed()], max_failed_jobs=2) == "MaxFailedTrainingJobs"


def test_an_early_stopped_trial_is_stopped():
    with pytest.raises(ValueError, match="early_stopped"):
        Trial({"x": 1}, {}, "Completed", {"acc": 1.0}, early_stopped=True)
    assert ACC.score(early(0.7)) == 0.7 and ACC.score(stopped(0.7)) is None and LOSS.score(
        Trial({"x": 1}, {}, "Stopped", {"loss": 2.0}, early_stopped=True)) == -2.0
