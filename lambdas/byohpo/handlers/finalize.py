"""Finalize: end the run, write its leaderboard and summary to S3 (see ``byohpo.handlers`` for the
contract)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from byohpo import aws
from byohpo.aws import training
from byohpo.aws.results import write_results
from byohpo.errors import ValidationError
from byohpo.handlers import RunContext, owned_run, run_request
from byohpo.stopping import StopReason
from byohpo.store.base import Store
from byohpo.store.records import utc_now
from byohpo.tuning import conclude

log = logging.getLogger(__name__)

#: The ``stop_code`` of a run ended by an error the state machine caught (``{"run", "error"}``).
ERROR_CODE = "Error"


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    c = aws.clients()
    return finalize(event, store=c.store, clients=c, bucket=aws.env("BYOHPO_BUCKET"),
                    prefix=os.environ.get("BYOHPO_RESULTS_PREFIX", "runs/"))


def finalize(event: Mapping[str, Any], *, store: Store, clients: aws.Clients, bucket: str,
             prefix: str = "runs/") -> dict[str, Any]:
    ctx = RunContext.from_event(event)
    run = owned_run(store, ctx)
    if not run.finished:
        status, reason, code = _ending(event)
        if isinstance(event.get("stop"), Mapping):  # no training job succeeded: Failed, with the cause
            stop = conclude(run_request(run), store.get_trials(run.name), StopReason(code, reason))
            status, reason = (stop.run_status if status == "Completed" else status), stop.message
        for trial in store.get_trials(run.name):
            if trial.finished:
                continue
            if trial.status == "InProgress" and trial.job_name:
                training.stop_job(clients.sagemaker, trial.job_name)
            store.update_trial(run.name, trial.trial_id, expected_attempt=trial.attempt, status="Stopped",
                               failure_reason=f"the run ended before this trial finished: {reason}",
                               ended_at=utc_now())
        run = store.finish_run(run.name, status, reason, code)
        log.info("run %s %s: %s", run.name, run.status, run.reason)
    written = write_results(clients.s3, bucket, run, store.get_trials(run.name), prefix=prefix)
    return {"run": run.name, "status": run.status, "reason": run.reason, "stop_code": run.stop_code,
            "leaderboard": written["leaderboard"], "summary": written["summary"],
            "best": written["facts"]["best"]}


def _ending(event: Mapping[str, Any]) -> tuple[str, str, str]:
    """(status, reason, stop code) from ``stop`` or a caught ``error``."""
    stop, error = event.get("stop"), event.get("error")
    if isinstance(stop, Mapping) and all(isinstance(stop.get(k), str) for k in ("code", "message")):
        reason = StopReason(stop["code"], stop["message"])
        # An amt-* run's tuning job stopped by hand ends the run Stopped (byohpo.aws.amt).
        status = stop["status"] if stop.get("status") in ("Stopped", "Failed") else reason.run_status
        return status, reason.message, reason.code
    if isinstance(error, Mapping):
        text = f"{error.get('Error') or 'Error'}: {error.get('Cause') or 'no cause given'}"
        return "Failed", training.clip(text), ERROR_CODE
    raise ValidationError('Finalize needs {"stop": {"code", "message"}} or {"error": {"Error", "Cause"}}',
                          "stop")
