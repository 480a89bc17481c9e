"""Stores: where runs and trials live. One interface (``Store``), two implementations: SQLite here,
DynamoDB on AWS (imported from its own module so that the local engine never needs boto3)."""

from byohpo.store.base import (
    ItemTooLargeError,
    RunClaimedError,
    RunExistsError,
    RunFinishedError,
    RunNotFoundError,
    Store,
    StoreError,
    TrialNotFoundError,
    VersionConflictError,
)
from byohpo.store.records import (
    FINISHED_RUN_STATUSES,
    FINISHED_TRIAL_STATUSES,
    RUN_STATUSES,
    TRIAL_MUTABLE_FIELDS,
    TRIAL_STATUSES,
    RunRecord,
    TrialRecord,
    parse_trial_id,
    trial_id,
    utc_now,
)
from byohpo.store.sqlite import SQLiteStore, StoreFileError

__all__ = [
    "FINISHED_RUN_STATUSES",
    "FINISHED_TRIAL_STATUSES",
    "RUN_STATUSES",
    "TRIAL_MUTABLE_FIELDS",
    "TRIAL_STATUSES",
    "ItemTooLargeError",
    "RunClaimedError",
    "RunExistsError",
    "RunFinishedError",
    "RunNotFoundError",
    "RunRecord",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoreFileError",
    "TrialNotFoundError",
    "TrialRecord",
    "VersionConflictError",
    "parse_trial_id",
    "trial_id",
    "utc_now",
]
