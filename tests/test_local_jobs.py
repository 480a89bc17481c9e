"""The local runner: one trial as a process started like SageMaker script mode, with tiny real scripts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import alive, wait_for

from byohpo.jobs import LocalJobResult, LocalTrainingJob, run_local_training

ACC = {"Name": "validation:accuracy", "Regex": "Validation-accuracy=([0-9\\.]+)"}
HPS = {"learning_rate": "0.05", "num_epoch": "12", "batch_size": "100"}


def script(tmp_path: Path, body: str, name: str = "train.py") -> Path:
    path = tmp_path / "code" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


SPAWNS_GRANDCHILD = """
    import os, subprocess, sys, time
    from pathlib import Path
    out = Path(os.environ["SM_OUTPUT_DATA_DIR"])
    child = subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(0.1)"])
    (out / "pids.tmp").write_text(f"{os.getpid()} {child.pid}")
    os.replace(out / "pids.tmp", out / "pids")  # whole or absent: a test polls for it
    print("Validation-accuracy=0.5", flush=True)
    {extra}
    while True:
        time.sleep(0.1)
"""


def pids(trial: Path) -> list[int]:
    return [int(p) for p in (trial / "output" / "data" / "pids").read_text().split()]


def test_success_sees_sagemaker_script_mode_environment(tmp_path: Path) -> None:
    data = tmp_path / "digits-data"
    data.mkdir()
    (data / "part-0.csv").write_text("1,2,3\n")
    entry = script(tmp_path, """
        import json, os, sys
        from pathlib import Path
        env = os.environ
        config = Path(env["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")
        seen = {"argv": sys.argv[1:], "cwd": os.getcwd(),
                "env": {k: v for k, v in env.items() if k.startswith("SM_") or k == "PYTHONUNBUFFERED"},
                "channel": sorted(os.listdir(env["SM_CHANNEL_TRAIN"])),
                "config": json.loads(config.read_text())}
        Path(os.environ["SM_OUTPUT_DATA_DIR"], "seen.json").write_text(json.dumps(seen))
        Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("weights")
        print("Epoch[0] Validation-accuracy=0.81")
        print("Epoch[1] Validation-accuracy=0.93", file=sys.stderr)
        print("Training-seconds=1.5")
    """)
    trial = tmp_path / "trial-0"
    defs = [ACC, {"Name": "train:seconds", "Regex": "Training-seconds=([0-9\\.]+)"}]
    result = run_local_training(entry, HPS, trial, {"train": data}, defs, 30,
                                env={"EXTRA": "1"}, required_metrics=["validation:accuracy"],
                                job_name="job-1")

    assert result == LocalJobResult("Completed", {"validation:accuracy": 0.93, "train:seconds": 1.5}, 0, None,
                                    trial / "train.log", result.duration_seconds)
    assert 0 < result.duration_seconds < 30
    assert "Epoch[1] Validation-accuracy=0.93" in result.log_path.read_text()  # stderr is logged too
    seen = json.loads((trial / "output" / "data" / "seen.json").read_text())
    # argv: sorted, --name value, as the training toolkit builds them
    assert seen["argv"] == ["--batch_size", "100", "--learning_rate", "0.05", "--num_epoch", "12"]
    assert seen["cwd"] == str(entry.parent)
    env = seen["env"]
    assert json.loads(env["SM_HPS"]) == {"batch_size": 100, "learning_rate": 0.05, "num_epoch": 12}
    assert env["SM_HP_LEARNING_RATE"] == "0.05" and env["SM_HP_NUM_EPOCH"] == "12"
    assert seen["config"] == HPS  # hyperparameters.json holds the strings SageMaker was given
    assert env["SM_MODEL_DIR"] == str(trial / "model")
    assert env["SM_OUTPUT_DIR"] == str(trial / "output")
    assert env["SM_OUTPUT_DATA_DIR"] == str(trial / "output" / "data")
    assert env["SM_INPUT_DIR"] == str(trial / "input")
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert env["SM_CHANNEL_TRAIN"] == str(trial / "input" / "data" / "train")
    assert seen["channel"] == ["part-0.csv"]
    assert env["SM_CURRENT_HOST"] == "algo-1" and json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert int(env["SM_NUM_CPUS"]) >= 1 and env["SM_NUM_GPUS"] == "0"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert json.loads(env["SM_USER_ARGS"]) == seen["argv"]
    assert json.loads(env["SM_TRAINING_ENV"])["job_name"] == "job-1"
    assert (trial / "model" / "model.txt").read_text() == "weights"


def test_toolkit_argument_conventions(tmp_path: Path) -> None:
    entry = script(tmp_path, """
        import json, os, sys
        print(json.dumps({"argv": sys.argv[1:], "hps": json.loads(os.environ["SM_HPS"]),
                          "C": os.environ["SM_HP_C"], "fw": json.loads(os.environ["SM_FRAMEWORK_PARAMS"])}))
    """)
    job = LocalTrainingJob(entry, {"C": "1e-3", "flag": "true", "act": "relu",
                                   "sagemaker_program": '"train.py"'}, tmp_path / "t", required_metrics=[])
    result = job.run()
    assert result.status == "Completed", result.failure_reason
    seen = json.loads(result.log_path.read_text())
    assert seen["argv"] == ["-C", "0.001", "--act", "relu", "--flag", "True"]  # str() of JSON-decoded values
    assert seen["hps"] == {"C": 0.001, "act": "relu", "flag": True}
    assert seen["C"] == "0.001"
    assert seen["fw"] == {"sagemaker_program": "train.py"}


def test_inherited_sm_variables_do_not_leak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SM_CHANNEL_STALE", "/nowhere")
    entry = script(tmp_path, "import os\n"
                             "print(sorted(k for k in os.environ if k.startswith('SM_CHANNEL_')))\n")
    result = run_local_training(entry, {}, tmp_path / "t", metric_definitions=[])
    assert result.log_path.read_text().strip() == "[]"


def test_nonzero_exit_fails_with_exit_code_and_log_tail(tmp_path: Path) -> None:
    entry = script(tmp_path, """
        import sys
        for i in range(40):
            print(f"line {i}")
        print("Validation-accuracy=0.7")
        raise SystemExit("diverged at epoch 3")
    """)
    result = run_local_training(entry, HPS, tmp_path / "t", metric_definitions=[ACC])
    assert result.status == "Failed" and result.exit_code == 1
    assert result.values == {"validation:accuracy": 0.7}
    reason = str(result.failure_reason)
    assert reason.startswith("AlgorithmError: exit code 1")
    assert "diverged at epoch 3" in reason and "line 39" in reason
    assert "line 10" not in reason  # only the tail
    assert len(reason) <= 1024


def test_failure_file_becomes_the_reason(tmp_path: Path) -> None:
    entry = script(tmp_path, """
        import os, sys
        from pathlib import Path
        print("noise")
        Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text("ValueError: learning_rate too large")
        sys.exit(2)
    """)
    trial = tmp_path / "t"
    result = run_local_training(entry, HPS, trial, metric_definitions=[ACC])
    assert result.exit_code == 2
    assert result.failure_reason == "AlgorithmError: exit code 2: ValueError: learning_rate too large"
    # a retry in the same folder does not inherit the old failure file
    ok = script(tmp_path, "print('Validation-accuracy=0.9')\n", name="ok.py")
    assert run_local_training(ok, HPS, trial, metric_definitions=[ACC]).status == "Completed"
    assert not (trial / "output" / "failure").exists()


def test_killed_by_a_signal_is_reported(tmp_path: Path) -> None:
    entry = script(tmp_path, "import os, signal\nprint('Validation-accuracy=0.9', flush=True)\n"
                             "os.kill(os.getpid(), signal.SIGKILL)\n")
    result = run_local_training(entry, HPS, tmp_path / "t", metric_definitions=[ACC])
    assert result.status == "Failed" and result.exit_code == -signal.SIGKILL
    assert str(result.failure_reason).startswith("AlgorithmError: killed by SIGKILL")


def test_metric_never_printed_fails(tmp_path: Path) -> None:
    entry = script(tmp_path, "print('Validation-acc: 0.9')\n")
    result = run_local_training(entry, HPS, tmp_path / "t", metric_definitions=[ACC])
    assert result.status == "Failed" and result.exit_code == 0
    assert result.failure_reason == (
        "no value for metric validation:accuracy matched Regex `Validation-accuracy=([0-9\\.]+)` "
        "in the training log")


def test_max_runtime_stops_the_whole_process_group(tmp_path: Path) -> None:
    entry = script(tmp_path, SPAWNS_GRANDCHILD.replace("{extra}", ""))
    trial = tmp_path / "t"
    started = time.monotonic()
    result = run_local_training(entry, HPS, trial, metric_definitions=[ACC], max_runtime_seconds=1.5,
                                kill_grace_seconds=1.0)
    elapsed = time.monotonic() - started
    assert result.status == "Stopped"
    assert "MaxRuntimeExceeded" in str(result.failure_reason)
    assert "MaxRuntimeInSeconds" in str(result.failure_reason)
    assert result.values == {"validation:accuracy": 0.5}  # what it printed before the stop
    assert 1.5 <= elapsed < 5.0
    assert result.exit_code == -signal.SIGTERM  # it obeyed SIGTERM
    assert not any(alive(pid) for pid in pids(trial))


def test_sigterm_ignored_escalates_to_sigkill(tmp_path: Path) -> None:
    extra = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)"
    entry = script(tmp_path, SPAWNS_GRANDCHILD.replace("{extra}", extra))
    trial = tmp_path / "t"
    started = time.monotonic()
    result = run_local_training(entry, HPS, trial, metric_definitions=[ACC], max_runtime_seconds=1.0,
                                kill_grace_seconds=0.5)
    assert result.status == "Stopped" and result.exit_code == -signal.SIGKILL
    assert time.monotonic() - started < 5.0
    assert not any(alive(pid) for pid in pids(trial))


def test_leftover_processes_are_killed_when_the_entry_point_exits(tmp_path: Path) -> None:
    extra = "sys.exit(0)"
    entry = script(tmp_path, SPAWNS_GRANDCHILD.replace("{extra}", extra))
    trial = tmp_path / "t"
    result = run_local_training(entry, HPS, trial, metric_definitions=[ACC], max_runtime_seconds=20)
    assert result.status == "Completed" and result.duration_seconds < 10
    assert wait_for(lambda: not any(alive(pid) for pid in pids(trial)), 2.0)


def test_stop_and_shared_cancel_event(tmp_path: Path) -> None:
    entry = script(tmp_path, SPAWNS_GRANDCHILD.replace("{extra}", ""))
    ready = threading.Event()
    job = LocalTrainingJob(entry, HPS, tmp_path / "t1", metric_definitions=[ACC], kill_grace_seconds=1.0,
                           on_metric=lambda name, value: ready.set())
    results: list[LocalJobResult] = []
    thread = threading.Thread(target=lambda: results.append(job.run()))
    thread.start()
    assert ready.wait(20)  # on_metric fired while the process still runs: output is streamed
    job.stop("user pressed Ctrl-C")
    thread.join(5)
    assert not thread.is_alive()
    assert results[0].status == "Stopped" and results[0].failure_reason == "user pressed Ctrl-C"
    assert not any(alive(pid) for pid in pids(tmp_path / "t1"))

    cancel = threading.Event()
    cancel.set()  # already cancelled: stops right after start
    result = run_local_training(entry, HPS, tmp_path / "t2", metric_definitions=[ACC], cancel=cancel,
                                kill_grace_seconds=1.0)
    assert result.status == "Stopped" and result.failure_reason == "stopped by the engine"
    assert result.duration_seconds < 5


def test_callback_error_does_not_leave_the_process_running(tmp_path: Path) -> None:
    entry = script(tmp_path, SPAWNS_GRANDCHILD.replace("{extra}", ""))

    def explode(line: str) -> None:
        raise RuntimeError("progress display broke")

    with pytest.raises(RuntimeError, match="progress display broke"):
        run_local_training(entry, HPS, tmp_path / "t", metric_definitions=[ACC], on_line=explode)
    assert wait_for(lambda: (tmp_path / "t" / "output" / "data" / "pids").exists(), 10.0)
    assert wait_for(lambda: not any(alive(pid) for pid in pids(tmp_path / "t")), 2.0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_engine_leaves_no_orphans(tmp_path: Path) -> None:
    entry = script(tmp_path, SPAWNS_GRANDCHILD.replace("{extra}", ""))
    trial = tmp_path / "t"
    engine = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from byohpo.jobs import run_local_training
        run_local_training({str(entry)!r}, {{}}, {str(trial)!r}, metric_definitions=[], kill_grace_seconds=1)
    """)])
    try:
        assert wait_for(lambda: (trial / "output" / "data" / "pids").exists(), 20)
        trainer, grandchild = pids(trial)
        assert alive(trainer) and alive(grandchild)
        engine.kill()  # SIGKILL: the engine cannot clean up
        engine.wait()
        assert wait_for(lambda: not alive(trainer) and not alive(grandchild), 5.0)
    finally:
        engine.kill()


def test_executable_entry_point_runs_directly(tmp_path: Path) -> None:
    entry = script(tmp_path, '#!/bin/sh\necho "args: $*"\necho "Validation-accuracy=0.66"\n', name="train.sh")
    entry.chmod(0o755)
    result = run_local_training(entry, {"num_epoch": "3"}, tmp_path / "t", metric_definitions=[ACC])
    assert result.status == "Completed" and result.values == {"validation:accuracy": 0.66}
    assert "args: --num_epoch 3" in result.log_path.read_text()


def test_bad_arguments_are_refused_before_starting(tmp_path: Path) -> None:
    entry = script(tmp_path, "print('hi')\n")
    with pytest.raises(FileNotFoundError):
        LocalTrainingJob(tmp_path / "missing.py", {}, tmp_path / "t")
    not_exec = script(tmp_path, "echo hi\n", name="train.sh")
    with pytest.raises(PermissionError):
        LocalTrainingJob(not_exec, {}, tmp_path / "t")
    with pytest.raises(TypeError, match="num_epoch"):
        LocalTrainingJob(entry, {"num_epoch": 10}, tmp_path / "t")  # type: ignore[dict-item]
    with pytest.raises(FileNotFoundError, match="train"):
        LocalTrainingJob(entry, {}, tmp_path / "t", channels={"train": tmp_path / "nope"})
    with pytest.raises(ValueError, match="channel name"):
        LocalTrainingJob(entry, {}, tmp_path / "t", channels={"../x": tmp_path})
    with pytest.raises(ValueError, match="max_runtime_seconds"):
        LocalTrainingJob(entry, {}, tmp_path / "t", max_runtime_seconds=0)
    job = LocalTrainingJob(entry, {}, tmp_path / "t", metric_definitions=[])
    job.run()
    with pytest.raises(RuntimeError, match="runs once"):
        job.run()
    assert not os.path.exists(tmp_path / "t" / "output" / "failure")


# A script whose helpers leave its process group: one started in a session of its own, and a daemon
# (fork, setsid, fork, the middle process exits) that is nobody's child any more. Process-group kills
# never reach either; only a process tree the runner owns does.
ESCAPES = """
    import os, subprocess, sys, time
    from pathlib import Path
    out = Path(os.environ["SM_OUTPUT_DATA_DIR"])
    loop = "import time\\nwhile True: time.sleep(0.1)"
    escaped = subprocess.Popen([sys.executable, "-c", loop], start_new_session=True)
    r, w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        pid = os.fork()
        if pid == 0:
            os.execv(sys.executable, [sys.executable, "-c", loop])
        os.write(w, str(pid).encode())
        os._exit(0)
    os.wait()
    daemon = int(os.read(r, 32))
    (out / "pids.tmp").write_text(f"{os.getpid()} {escaped.pid} {daemon}")
    os.replace(out / "pids.tmp", out / "pids")  # whole or absent: a test polls for it
    print("Validation-accuracy=0.5", flush=True)
    {extra}
    while True:
        time.sleep(0.1)
"""


@pytest.fixture
def escapees(tmp_path: Path):
    """The pids the ESCAPES script wrote; whatever survives a failing test is killed afterwards."""
    found: list[int] = []

    def read(trial: Path) -> list[int]:
        found[:] = pids(trial)
        return list(found)

    yield read
    for pid in found:
        with __import__("contextlib").suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="a subreaper and /proc are Linux-only")


@linux_only
@pytest.mark.parametrize("how", ["exits", "max-runtime", "stop"])
def test_processes_that_leave_the_group_do_not_outlive_the_trial(tmp_path: Path, escapees, how: str) -> None:
    entry = script(tmp_path, ESCAPES.replace("{extra}", "sys.exit(0)" if how == "exits" else ""))
    trial = tmp_path / "t"
    job = LocalTrainingJob(entry, HPS, trial, metric_definitions=[ACC], kill_grace_seconds=0.5,
                           max_runtime_seconds=1.5 if how == "max-runtime" else 60,
                           on_metric=(lambda name, value: job.stop("stopped by the test"))
                           if how == "stop" else None)
    result = job.run()
    assert result.status == {"exits": "Completed", "max-runtime": "Stopped", "stop": "Stopped"}[how]
    trainer, escaped, daemon = escapees(trial)
    # Dead by the time run() returns, not some time later: nothing of the trial runs on.
    assert [alive(pid) for pid in (trainer, escaped, daemon)] == [False, False, False]


@linux_only
def test_processes_that_leave_the_group_die_with_a_killed_engine(tmp_path: Path, escapees) -> None:
    entry = script(tmp_path, ESCAPES.replace("{extra}", ""))
    trial = tmp_path / "t"
    engine = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from byohpo.jobs import run_local_training
        run_local_training({str(entry)!r}, {{}}, {str(trial)!r}, metric_definitions=[], kill_grace_seconds=1)
    """)])
    try:
        assert wait_for(lambda: (trial / "output" / "data" / "pids").exists(), 20)
        trainer, escaped, daemon = escapees(trial)
        assert alive(trainer) and alive(escaped) and alive(daemon)
        engine.kill()  # SIGKILL: the engine cannot clean up; the trial's supervisor must
        engine.wait()
        assert wait_for(lambda: not any(alive(p) for p in (trainer, escaped, daemon)), 10.0)
    finally:
        engine.kill()
