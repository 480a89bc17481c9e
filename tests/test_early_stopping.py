"""SageMaker's early-stopping rule for ``TrainingJobEarlyStoppingType: "Auto"`` on hand-computed cases,
the curves it reads (from logs, thinned, stored), and properties over random curves."""

from __future__ import annotations

import json
import math
import random
import statistics
from decimal import Decimal

import pytest

from byohpo import Objective
from byohpo.early_stopping import (
    EARLY_STOPPED,
    MAX_POINTS,
    MIN_EARLIER_JOBS,
    Curve,
    CurveRecorder,
    EarlyStopped,
    EarlyStoppingOptions,
    check_early_stopping,
    is_early_stopped,
    judge_epoch,
    read_curve,
)
from byohpo.metrics import MetricParser

ACC = Objective("validation:accuracy", "Maximize")
LOSS = Objective("validation:loss", "Minimize")
NAN = math.nan

# Three earlier jobs. Running averages at epoch 2: 0.55, 0.45, 0.65 -> median 0.55.
# At epoch 3: 0.6, 0.5, 0.7 -> median 0.6.
EARLIER = [Curve.of([0.5, 0.6, 0.7]), Curve.of([0.4, 0.5, 0.6]), Curve.of([0.6, 0.7, 0.8])]


def check(values, earlier=EARLIER, objective=ACC, **options):
    return check_early_stopping(Curve.of(values), earlier, objective, EarlyStoppingOptions(**options))


# -- the documented rule, by hand -------------------------------------------------------------------

def test_maximize_stops_below_the_median_of_running_averages():
    verdict = check([0.9, 0.5])
    assert verdict.stop
    assert (verdict.epoch, verdict.value, verdict.earlier) == (2, 0.5, 3)
    assert verdict.median == pytest.approx(0.55)
    assert verdict.reason == (f"{EARLY_STOPPED}: validation:accuracy 0.5 at epoch 2 is worse than 0.55, "
                              "the median of the running averages of 3 earlier training jobs up to epoch 2")


def test_maximize_goes_on_at_or_above_the_median():
    assert not check([0.9, 0.56]).stop
    tie = check([0.9, 0.55])  # equal is not worse
    assert not tie.stop and "not worse than 0.55" in tie.message


def test_the_median_is_of_running_averages_not_of_values():
    # Earlier jobs' values at epoch 3 are 0.7, 0.6, 0.8 (median 0.7), their running averages 0.6, 0.5,
    # 0.7 (median 0.6): 0.65 is below the first and above the second.
    assert not check([0.1, 0.1, 0.65]).stop
    assert check([0.9, 0.9, 0.59]).stop


def test_the_current_jobs_value_not_its_best_so_far():
    # Vizier's variant compares the best so far (0.9 here), SageMaker's the current value.
    assert check([0.9, 0.9, 0.5]).stop


def test_minimize_stops_above_the_median():
    earlier = [Curve.of([2.0, 1.0]), Curve.of([3.0, 2.0]), Curve.of([1.0, 0.5])]  # averages 1.5, 2.5, 0.75
    assert check([1.0, 1.6], earlier, LOSS).stop
    assert not check([1.0, 1.5], earlier, LOSS).stop  # tie
    assert not check([1.0, 1.4], earlier, LOSS).stop
    assert check([1.0, 1.6], earlier, LOSS).median == pytest.approx(1.5)


def test_an_even_number_of_earlier_jobs_takes_the_mean_of_the_middle_two():
    earlier = [*EARLIER, Curve.of([0.3, 0.3])]  # averages 0.55, 0.45, 0.65, 0.3 -> median 0.5
    assert check([0.9, 0.49], earlier).stop
    assert not check([0.9, 0.5], earlier).stop
    assert check([0.9, 0.49], earlier).median == pytest.approx(0.5)


def test_one_earlier_job_is_enough_none_stops_nothing():
    assert MIN_EARLIER_JOBS == 1
    one = check([0.9, 0.5], EARLIER[:1])  # its running average at epoch 2 is 0.55
    assert one.stop and one.earlier == 1 and one.median == pytest.approx(0.55)
    two = check([0.9, 0.5], EARLIER[:2])  # (0.55 + 0.45) / 2
    assert not two.stop and two.median == pytest.approx(0.5)
    alone = check([0.0, 0.0], [])
    assert not alone.stop and alone.median is None and alone.message == "no earlier training job has finished"
    assert not check([], EARLIER).stop  # nothing reported yet


def test_a_higher_minimum_holds_the_rule_back():
    few = check([0.0, 0.0], EARLIER[:2], min_earlier_jobs=3)
    assert not few.stop and few.earlier == 2 and few.median is None
    assert "fewer than the 3" in few.message
    assert check([0.0, 0.0], EARLIER[:3], min_earlier_jobs=3).stop


def test_empty_earlier_curves_do_not_count():
    verdict = check([0.0, 0.0], [*EARLIER[:2], Curve(), Curve()], min_earlier_jobs=3)
    assert not verdict.stop and verdict.earlier == 2
    verdict = judge_epoch(Curve.of([0.0, 0.0]), 2, [*EARLIER[:2], Curve()], ACC,
                          EarlyStoppingOptions(min_earlier_jobs=3))
    assert not verdict.stop and verdict.earlier == 2
    assert not check([0.0], [Curve()]).stop


def test_shorter_earlier_jobs_count_with_the_average_of_all_their_values():
    # At epoch 3: 0.6, 0.5, 0.7 from EARLIER and the stopped job [0.1] with 0.1 -> median 0.55.
    earlier = [*EARLIER, Curve.of([0.1])]
    verdict = check([0.9, 0.9, 0.56], earlier)
    assert not verdict.stop and verdict.median == pytest.approx(0.55) and verdict.earlier == 4
    # Leaving it out (NNI's variant) gives the median 0.6 of the three others.
    excluded = check([0.9, 0.9, 0.56], earlier, count_shorter=False)
    assert excluded.stop and excluded.earlier == 3
    # Beyond every earlier job's length, all of them still count.
    assert check([0.5] * 10, EARLIER).earlier == 3


def test_min_epochs_holds_the_rule_back():
    assert check([0.0], min_epochs=1).stop
    held = check([0.0, 0.0], min_epochs=3)
    assert not held.stop and "before the first epoch judged (3)" in held.message
    assert check([0.0, 0.0, 0.0], min_epochs=3).stop


def test_stop_fraction_compares_with_a_quantile_of_the_running_averages():
    # Running averages at epoch 2 of five jobs: 0.55, 0.45, 0.65, 0.25, 0.35. Stopping only jobs worse
    # than 75 % of them compares with the lower quartile, 0.35; 60 % with the 0.4-quantile, 0.35 + 0.6 * 0.1.
    earlier = [*EARLIER, Curve.of([0.2, 0.3]), Curve.of([0.3, 0.4])]
    assert check([0.9, 0.4], earlier).stop  # the median, 0.45
    quarter = check([0.9, 0.34], earlier, stop_fraction=0.75)
    assert quarter.stop and quarter.median == pytest.approx(0.35)
    assert not check([0.9, 0.36], earlier, stop_fraction=0.75).stop
    assert check([0.9, 0.4], earlier, stop_fraction=0.6).median == pytest.approx(0.41)
    loss = [Curve.of([-v for _, v, _ in c.points]) for c in earlier]  # the same, minimized
    assert check([-0.9, -0.34], loss, LOSS, stop_fraction=0.75).median == pytest.approx(-0.35)
    assert not check([-0.9, -0.36], loss, LOSS, stop_fraction=0.75).stop


def test_a_nan_value_is_worse_than_any_median():
    assert check([0.9, NAN]).stop
    assert check([1.0, math.inf], [Curve.of([2.0, 1.0])] * 3, LOSS).stop
    assert check([0.9, math.inf]).stop  # an infinite accuracy is nonsense, not the best ever


def test_an_earlier_job_that_diverged_is_the_worst_running_average():
    diverged = Curve.of([0.5, NAN, 0.9])
    assert math.isnan(diverged.running_average(2)) and math.isnan(diverged.running_average(3))
    assert diverged.running_average(1) == 0.5
    # averages at epoch 2: 0.55, 0.45, worst -> median 0.45
    verdict = check([0.9, 0.46], [*EARLIER[:2], diverged])
    assert not verdict.stop and verdict.median == pytest.approx(0.45)
    # With two diverged jobs the median is the worst: nothing is worse than it, NaN included.
    both = check([0.9, NAN], [*EARLIER[:1], diverged, diverged])
    assert not both.stop and math.isnan(both.median)


def test_since_epoch_judges_every_new_epoch_and_stops_at_the_first_bad_one():
    curve = Curve.of([0.9, 0.5, 0.95])  # bad at epoch 2 (median 0.55), fine at 3 (median 0.6)
    assert not check_early_stopping(curve, EARLIER, ACC).stop  # the latest epoch only
    verdict = check_early_stopping(curve, EARLIER, ACC, since_epoch=0)
    assert verdict.stop and verdict.epoch == 2
    assert not check_early_stopping(curve, EARLIER, ACC, since_epoch=2).stop
    idle = check_early_stopping(curve, EARLIER, ACC, since_epoch=3)
    assert not idle.stop and idle.epoch == 3 and "no new epoch" in idle.message


def test_judge_epoch_reads_a_longer_curve_up_to_that_epoch():
    full = Curve.of([0.9, 0.5, 0.95])
    assert judge_epoch(full, 2, EARLIER, ACC).stop
    assert not judge_epoch(full, 3, EARLIER, ACC).stop


def test_options_are_checked():
    with pytest.raises(ValueError, match="min_earlier_jobs"):
        EarlyStoppingOptions(min_earlier_jobs=0)
    with pytest.raises(ValueError, match="min_epochs"):
        EarlyStoppingOptions(min_epochs=True)
    for fraction in (0.0, 1.0, math.nan, "0.5"):
        with pytest.raises(ValueError, match="stop_fraction"):
            EarlyStoppingOptions(stop_fraction=fraction)


# -- what a driver records --------------------------------------------------------------------------

def test_early_stopped_keeps_the_last_values_and_the_reason():
    verdict = check([0.9, 0.5])
    stopped = EarlyStopped.of(verdict, {"validation:accuracy": 0.52, "train:loss": NAN})
    assert stopped.status == "Stopped"
    assert stopped.values == {"validation:accuracy": 0.52}  # non-finite values are not values
    assert stopped.reason.startswith("EarlyStopped: validation:accuracy 0.5 at epoch 2")
    assert is_early_stopped(stopped.status, stopped.reason)
    assert EarlyStopped.of(verdict, {"validation:accuracy": NAN}).values is None
    assert not is_early_stopped("Stopped", "stopped by the engine: the run's time is up")
    assert not is_early_stopped("Completed", stopped.reason)
    with pytest.raises(ValueError, match="did not stop"):
        EarlyStopped.of(check([0.9, 0.9]), {})


# -- curves -----------------------------------------------------------------------------------------

def test_a_curve_numbers_epochs_from_one_and_keeps_running_sums():
    curve = Curve.of([0.2, 0.4, 0.9])
    assert curve.series() == [(1, 0.2), (2, 0.4), (3, 0.9)]
    assert (curve.epochs, curve.last) == (3, 0.9)
    assert curve.running_average(2) == pytest.approx(0.3)
    assert curve.running_average(99) == pytest.approx(0.5)
    assert Curve.of([0.2]).extend([0.4, 0.9]) == curve
    with pytest.raises(ValueError, match="empty"):
        Curve().running_average(1)
    with pytest.raises(ValueError, match="start at 1"):
        curve.running_average(0)
    with pytest.raises(KeyError):
        curve.value_at(4)
    with pytest.raises(ValueError, match="increasing"):
        Curve(((2, 1.0, 1.0), (2, 1.0, 2.0)))
    assert curve.up_to(2) == Curve.of([0.2, 0.4]) and curve.up_to(0) == Curve()
    assert curve.up_to(2).running_average(3) == pytest.approx(0.3)


def test_a_long_curve_is_thinned_keeping_exact_running_averages():
    values = [math.sin(i) + i / 1000 for i in range(1, 20_001)]
    curve = Curve.of(values)
    assert len(curve.points) <= MAX_POINTS and curve.stride > 1
    epochs = [e for e, _, _ in curve.points]
    assert epochs[: MAX_POINTS // 2] == list(range(1, MAX_POINTS // 2 + 1))  # the first epochs all stay
    assert epochs[-1] == 20_000 and curve.last == values[-1]
    for e in [*epochs[::37], epochs[-1]]:
        assert curve.running_average(e) == pytest.approx(statistics.fmean(values[:e]), rel=1e-9)
        assert curve.value_at(e) == values[e - 1]
    # between kept epochs: the average at the kept epoch before
    gap = next(i for i in range(1, len(epochs)) if epochs[i] - epochs[i - 1] > 1)
    assert curve.running_average(epochs[gap] - 1) == curve.running_average(epochs[gap - 1])
    assert curve.up_to(epochs[gap] - 1).points == curve.points[:gap]


def test_thinning_gives_the_same_curve_whether_built_at_once_or_value_by_value():
    values = [float(i % 7) for i in range(3_000)]
    curve = Curve(max_points=40)
    for v in values:
        curve = curve.extend([v])
    assert curve == Curve.of(values, max_points=40)
    assert len(curve.points) <= 40


def test_a_stored_curve_is_json_without_nan_and_small():
    curve = Curve.of([0.123456789012345678 + i * 1e-7 for i in range(100_000)] + [NAN])
    text = json.dumps(curve.to_dict(), allow_nan=False)
    assert len(text.encode()) < 32_000  # a DynamoDB item holds 400 KB
    back = Curve.from_dict(json.loads(text))
    assert back == curve and math.isnan(back.series()[-1][1])
    assert Curve.from_dict(None) == Curve() == Curve.from_dict({})
    # DynamoDB hands numbers back as Decimal
    stored = {"points": [[Decimal(1), Decimal("0.5"), Decimal("0.5")], [Decimal(2), None, None]],
              "stride": Decimal(1)}
    assert Curve.from_dict(stored) == Curve.of([0.5, NAN])
    with pytest.raises(ValueError, match="not a stored curve"):
        Curve.from_dict({"points": [[1, "x", 1.0]]})
    with pytest.raises(ValueError, match="not a stored curve"):
        Curve.from_dict({"points": [[1, 0.5]]})


# -- curves from logs -------------------------------------------------------------------------------

DEFINITIONS = [{"Name": "validation:accuracy", "Regex": "Validation-accuracy=([0-9\\.]+|nan)"},
               {"Name": "train:accuracy", "Regex": "Train-accuracy=([0-9\\.]+)"}]

LOG = """learning_rate=0.1 num_epoch=3 batch_size=100
Epoch[0] Train-accuracy=0.8012 Validation-accuracy=0.7911
Epoch[1] Train-accuracy=0.9011 Validation-accuracy=nan
progress 50% Validation-accuracy=0.97.
Epoch[2] Train-accuracy=0.9513 Validation-accuracy=0.9400
Validation-accuracy=0.9400
"""


def test_read_curve_numbers_every_value_of_the_objective_as_an_epoch():
    curve = read_curve(LOG, DEFINITIONS, "validation:accuracy")
    # "0.97." is not a number and is skipped; nan is a value (epoch 2); the closing summary line
    # repeats the last epoch's value as one more epoch.
    assert [e for e, _ in curve.series()] == [1, 2, 3, 4]
    assert [v for _, v in curve.series()][2:] == [0.94, 0.94]
    assert math.isnan(curve.value_at(2))
    assert read_curve(LOG.splitlines(), DEFINITIONS, "validation:accuracy") == curve  # CloudWatch events
    assert read_curve(LOG, DEFINITIONS, "train:accuracy").series() == [(1, 0.8012), (2, 0.9011), (3, 0.9513)]
    assert read_curve(LOG, DEFINITIONS, "missing") == Curve()


def test_a_recorder_rides_on_the_parser_that_already_reads_the_log():
    recorder = CurveRecorder("validation:accuracy")
    parser = MetricParser(DEFINITIONS, on_metric=recorder.on_metric)
    parser.feed(LOG[:70])  # chunks that cut lines, as a process's output arrives
    parser.feed(LOG[70:])
    parser.close()
    assert recorder.curve == read_curve(LOG, DEFINITIONS, "validation:accuracy")
    assert parser.values["validation:accuracy"] == 0.94  # the parser's own work is unchanged


def test_a_recorder_resumes_a_stored_curve():
    lines = LOG.splitlines()
    first = read_curve(lines[:3], DEFINITIONS, "validation:accuracy")
    resumed = CurveRecorder("validation:accuracy", Curve.from_dict(json.loads(json.dumps(first.to_dict()))))
    parser = resumed.parser(DEFINITIONS)
    for line in lines[3:]:
        parser.feed_line(line)
    assert resumed.curve == read_curve(LOG, DEFINITIONS, "validation:accuracy")


# -- properties over random curves ------------------------------------------------------------------

def _reference(values, earlier_values, objective, epoch):
    """The documented rule written out plainly, from the raw values."""
    sign = objective.sign
    averages = [sign * statistics.fmean(v[:epoch]) for v in earlier_values]
    return sign * values[epoch - 1] < statistics.median(averages)


@pytest.mark.parametrize("objective", [ACC, LOSS])
def test_the_rule_is_the_documented_rule_on_random_curves(objective):
    rng = random.Random(7)
    for _ in range(400):
        earlier_values = [[rng.gauss(0, 1) for _ in range(rng.randint(1, 12))]
                          for _ in range(rng.randint(1, 9))]
        values = [rng.gauss(0, 1) for _ in range(rng.randint(1, 12))]
        epoch = len(values)
        verdict = check_early_stopping(Curve.of(values), [Curve.of(v) for v in earlier_values], objective)
        assert verdict.stop == _reference(values, earlier_values, objective, epoch)


@pytest.mark.parametrize("objective", [ACC, LOSS])
def test_a_job_never_worse_than_the_median_is_never_stopped(objective):
    rng = random.Random(11)
    for _ in range(300):
        earlier = [Curve.of([rng.gauss(0, 1) for _ in range(rng.randint(1, 10))])
                   for _ in range(rng.randint(0, 8))]
        curve = Curve()
        for epoch in range(1, 11):
            averages = sorted(objective.sign * c.running_average(epoch) for c in earlier)
            # a value at (or better than) the median of the running averages, or anything when
            # there is no median to compare with
            if averages:
                value = objective.sign * (statistics.median(averages) + abs(rng.gauss(0, 1)) * rng.random())
            else:
                value = rng.gauss(0, 1)
            curve = curve.extend([value])
            assert not check_early_stopping(curve, earlier, objective).stop


def test_a_better_value_never_turns_go_into_stop():
    rng = random.Random(3)
    for _ in range(300):
        earlier = [Curve.of([rng.random() for _ in range(5)]) for _ in range(rng.randint(3, 7))]
        values = [rng.random() for _ in range(rng.randint(1, 5))]
        better = [*values[:-1], values[-1] + rng.random()]
        if not check_early_stopping(Curve.of(values), earlier, ACC).stop:
            assert not check_early_stopping(Curve.of(better), earlier, ACC).stop


# -- a real training process ------------------------------------------------------------------------

def test_the_rule_stops_the_example_through_the_local_runner(tmp_path):
    """The example's script under the local runner, its curve recorded by the runner's own parser and
    judged after each epoch against three earlier jobs that reached 0.9 at once: a learning rate of
    0.001 with batches of 256 is far below that, and is stopped with SIGTERM, keeping its model."""
    from pathlib import Path

    from byohpo.jobs.local import LocalTrainingJob

    root = Path(__file__).resolve().parents[1] / "examples" / "early_stopping"
    request = json.loads((root / "request.json").read_text())
    definitions = request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]
    objective = ACC
    earlier = [Curve.of([0.9] * 30)] * 3
    recorder = CurveRecorder(objective.metric)
    verdicts = []

    def on_metric(name: str, value: float) -> None:
        recorder.on_metric(name, value)
        if name == objective.metric and not verdicts:
            verdict = check_early_stopping(recorder.curve, earlier, objective)
            if verdict.stop:
                verdicts.append(verdict)
                job.stop(verdict.reason)

    job = LocalTrainingJob(root / "train.py", {"learning_rate": "0.001", "batch_size": "256", "epochs": "30"},
                           tmp_path, metric_definitions=definitions, on_metric=on_metric,
                           max_runtime_seconds=300)
    result = job.run()
    assert result.status == "Stopped" and verdicts and verdicts[0].epoch == 1
    assert result.failure_reason == verdicts[0].reason
    assert result.failure_reason.startswith("EarlyStopped: validation:accuracy ")
    assert 1 <= recorder.curve.epochs < 30  # the script ends the epoch under way, then stops
    assert result.values["validation:accuracy"] == recorder.curve.last  # it keeps its last value
    assert EarlyStopped.of(verdicts[0], result.values).values == result.values
    log = result.log_path.read_text()
    assert "(SIGTERM)" in log and (tmp_path / "model" / "model.joblib").stat().st_size > 0
