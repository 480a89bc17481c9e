"""The AWS store: one DynamoDB table, one item per run and one per trial.

Layout (:func:`table_definition` is the one definition: the CDK stack and the tests both build from it)::

    pk = RUN#<name>   sk = META                           the run
    pk = RUN#<name>   sk = TRIAL#<generation>#<index>     one trial; numbers zero-padded to 6 digits

plus a sparse index ``runs`` (hash ``kind``, range ``name``) that only the run items enter, so that
``list_runs`` reads the runs and not every trial of every run.

Params, meta, hyperparameters, values and the request are stored as JSON text: DynamoDB numbers hold
no NaN or infinity and come back as Decimals, and a record must round-trip exactly (ints stay ints,
-0.0 and NaN survive, as in the SQLite store). Status, owner, version, generation, index, attempt,
job_name and the timestamps sit beside them as plain attributes, readable in the console.

Every conditional write is one request with a ``ConditionExpression``; a failed condition comes back
with the item as it is (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), which names the holder of a
claimed run without a second read. ``put_generation`` writes the trials and the version bump in
``TransactWriteItems`` of at most 100 actions and 4 MB, the bump last: a generation of up to 99
trials commits in one atomic transaction; a larger one writes its trials first and commits with the
bump, as :meth:`Store.put_generation` describes. Throttling and transient errors are retried by
botocore (:data:`RETRY_CONFIG`); a transaction lost to a racing writer is decided again by
:func:`~byohpo.store.base.plan_generation` from a fresh read.

botocore is imported here and nowhere else in the store package; boto3 is not needed.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from byohpo.store.base import (
    ItemTooLargeError,
    RunClaimedError,
    RunExistsError,
    RunNotFoundError,
    Store,
    TrialNotFoundError,
    VersionConflictError,
    check_changes,
    check_finish,
    check_generation,
    check_owner,
    plan_generation,
)
from byohpo.store.records import RunRecord, TrialRecord, parse_trial_id, utc_now

#: The environment variable naming the table when none is given (set by the CDK stack on the Lambdas).
TABLE_ENV = "BYOHPO_TABLE"
PARTITION_KEY = "pk"
SORT_KEY = "sk"
RUNS_INDEX = "runs"
RUNS_INDEX_PARTITION_KEY = "kind"  # only run items carry it: the index stays sparse
RUNS_INDEX_SORT_KEY = "name"
RUN_KIND = "run"
META = "META"
TRIAL_PREFIX = "TRIAL#"
#: botocore retries throttling and transient errors itself, with backoff and a retry quota.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 10})
#: DynamoDB's item size limit; a trial above it is refused before anything is written.
MAX_ITEM_BYTES = 400 * 1024
_MAX_NAME_BYTES = 1024  # the run name is the index's range key, and key values are at most 1 KB
_TRANSACTION_ACTIONS = 100
_TRANSACTION_BYTES = 3_500_000  # DynamoDB allows 4 MB of items per transaction; the size is an estimate
_ROUNDS = 5  # read-plan-write rounds lost to racing writers before giving up
_DECIDE_AGAIN = {"ConditionalCheckFailed", "TransactionConflict", "ThrottlingError",
                 "ProvisionedThroughputExceeded"}
_SESSION: botocore.session.Session | None = None
_SESSION_LOCK = threading.Lock()

_RUN_FIELDS = {"name": "S", "request": "json", "fingerprint": "S", "status": "S", "reason": "S",
               "stop_code": "S", "version": "N", "owner": "S", "created_at": "S", "updated_at": "S",
               "token": "S"}
_TRIAL_FIELDS = {"run": "S", "trial_id": "S", "generation": "N", "index": "N", "params": "json",
                 "meta": "json", "hyperparameters": "json", "status": "S", "attempt": "N", "job_name": "S",
                 "values": "json", "failure_reason": "S", "started_at": "S", "ended_at": "S",
                 "log_path": "S", "curve": "json", "watch": "json"}


def table_definition(table_name: str) -> dict[str, Any]:
    """The table as ``CreateTable`` parameters: on-demand, string keys ``pk``/``sk``, and the sparse
    ``runs`` index over the run items (all attributes projected). Tests call
    ``client.create_table(**table_definition(name))``; the CDK stack builds the same from these."""
    def keys(hash_key: str, range_key: str) -> list[dict[str, str]]:
        return [{"AttributeName": hash_key, "KeyType": "HASH"},
                {"AttributeName": range_key, "KeyType": "RANGE"}]

    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in
                                 (PARTITION_KEY, SORT_KEY, RUNS_INDEX_PARTITION_KEY, RUNS_INDEX_SORT_KEY)],
        "KeySchema": keys(PARTITION_KEY, SORT_KEY),
        "GlobalSecondaryIndexes": [{"IndexName": RUNS_INDEX,
                                    "KeySchema": keys(RUNS_INDEX_PARTITION_KEY, RUNS_INDEX_SORT_KEY),
                                    "Projection": {"ProjectionType": "ALL"}}],
    }


def run_key(name: str) -> dict[str, dict[str, str]]:
    return {PARTITION_KEY: {"S": f"RUN#{name}"}, SORT_KEY: {"S": META}}


def trial_key(name: str, generation: int, index: int) -> dict[str, dict[str, str]]:
    # Zero-padded so that the table's own order is (generation, index) up to 999999 of each; readers
    # sort by the numbers anyway, so larger ones are still correct.
    return {PARTITION_KEY: {"S": f"RUN#{name}"},
            SORT_KEY: {"S": f"{TRIAL_PREFIX}{generation:06d}#{index:06d}"}}


# -- records <-> items ----------------------------------------------------------------------------
def _attr(kind: str, value: Any) -> dict[str, str]:
    if kind == "json":
        # allow_nan: a diverged training job reports NaN, and the record must say so rather than fail.
        return {"S": json.dumps(value, ensure_ascii=False, allow_nan=True)}
    return {"N": str(value)} if kind == "N" else {"S": value}


def _value(kind: str, attr: Mapping[str, str]) -> Any:
    if kind == "json":
        return json.loads(attr["S"])
    return int(attr["N"]) if kind == "N" else attr["S"]


def _encode(record: Any, kinds: Mapping[str, str]) -> dict[str, dict[str, str]]:
    # None is no attribute at all, so that conditions can say attribute_not_exists(owner).
    return {f: _attr(k, getattr(record, f)) for f, k in kinds.items() if getattr(record, f) is not None}


def run_item(run: RunRecord) -> dict[str, dict[str, str]]:
    return {**run_key(run.name), RUNS_INDEX_PARTITION_KEY: {"S": RUN_KIND}, **_encode(run, _RUN_FIELDS)}


def trial_item(trial: TrialRecord) -> dict[str, dict[str, str]]:
    return {**trial_key(trial.run, trial.generation, trial.index), **_encode(trial, _TRIAL_FIELDS)}


def _run(item: Mapping[str, Any]) -> RunRecord:
    return RunRecord.from_dict({f: _value(k, item[f]) for f, k in _RUN_FIELDS.items() if f in item})


def _trial(item: Mapping[str, Any]) -> TrialRecord:
    return TrialRecord.from_dict({f: _value(k, item[f]) for f, k in _TRIAL_FIELDS.items() if f in item})


def item_size(item: Mapping[str, Mapping[str, str]]) -> int:
    """DynamoDB's size of an item in bytes: UTF-8 names plus values (numbers counted as their text,
    a little over what DynamoDB counts)."""
    return sum(len(name.encode()) + len(next(iter(value.values())).encode()) for name, value in item.items())


def _update(sets: Mapping[str, dict[str, str]], removes: Sequence[str] = (), condition: str = "",
            values: Mapping[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """UpdateItem arguments. Every attribute is written as a ``#name`` placeholder (``name``, ``status``,
    ``values``, ``index`` and ``owner`` are reserved words) and every value as ``:name``."""
    clauses = ["SET " + ", ".join(f"#{f} = :{f}" for f in sets)] if sets else []
    clauses += ["REMOVE " + ", ".join(f"#{f}" for f in removes)] if removes else []
    expression = " ".join(clauses)
    out: dict[str, Any] = {"UpdateExpression": expression, "ExpressionAttributeNames": {
        f"#{n}": n for n in re.findall(r"#(\w+)", f"{expression} {condition}")}}
    if condition:
        out["ConditionExpression"] = condition
    all_values = {**{f":{f}": v for f, v in sets.items()}, **(values or {})}
    if all_values:  # DynamoDB refuses an empty map
        out["ExpressionAttributeValues"] = all_values
    return out


def _failed_condition(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _lost_race(exc: ClientError) -> set[str] | None:
    """Why a transaction was cancelled, if every reason means "read again and decide again": someone
    wrote first, or is writing now, or the items were throttled (botocore does not retry cancelled
    transactions); else None, a real error to raise."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    codes = {r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])} - {"None"}
    return codes if codes and codes <= _DECIDE_AGAIN else None


class DynamoDBStore(Store):
    """The store in one DynamoDB table (see :func:`table_definition`; the table must exist).

    Args:
        table_name: the table; None reads the ``BYOHPO_TABLE`` environment variable at first use.
        client: a low-level DynamoDB client (``boto3.client("dynamodb", config=RETRY_CONFIG)``); not
            a boto3 resource nor its ``meta.client``, whose hooks turn attribute values into Python
            types. None builds one at first use from the environment (region, credentials,
            ``AWS_ENDPOINT_URL_DYNAMODB``) with :data:`RETRY_CONFIG`.
        clock: the ISO-8601 UTC timestamp source for ``created_at``/``updated_at`` (tests pin it).

    Nothing is sent until the first call, so a Lambda handler builds its store at module scope, and a
    module importing it needs neither a region nor a table. Thread-safe; every read is strongly
    consistent except ``list_runs``, which reads an index: a run created a moment ago may be missing
    from it, and its version or owner a moment old (``get_run`` is always current).

    ``update_trial`` does not look at the run: updating a trial of a generation that was never
    committed (its writer died before the bump) changes an item no reader shows.
    """

    def __init__(self, table_name: str | None = None, *, client: Any = None,
                 clock: Callable[[], str] = utc_now) -> None:
        if client is not None and not hasattr(client, "transact_write_items"):
            raise TypeError(f"client must be a DynamoDB client, not {type(client).__name__}: a boto3 "
                            "resource (and its meta.client) turns attribute values into Python types; "
                            "pass boto3.client('dynamodb', config=RETRY_CONFIG)")
        self._table, self._client, self._owns_client = table_name, client, client is None
        self._clock = clock

    def __repr__(self) -> str:
        return f"DynamoDBStore({self._table or '$' + TABLE_ENV!r})"

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def table_name(self) -> str:
        if self._table is None:
            self._table = os.environ.get(TABLE_ENV) or None
            if self._table is None:
                raise RuntimeError(f"DynamoDBStore has no table: pass table_name or set {TABLE_ENV}")
        return self._table

    @property
    def client(self) -> Any:
        global _SESSION
        self.table_name  # noqa: B018 - report a missing table before a missing region
        if self._client is None:
            # One session for every store (it loads the service model once: 20 ms a client instead of
            # 200), used under a lock: botocore sessions are not thread-safe, their clients are.
            with _SESSION_LOCK:
                if self._client is None:
                    _SESSION = _SESSION or botocore.session.get_session()
                    self._client = _SESSION.create_client("dynamodb", config=RETRY_CONFIG)
        return self._client

    def _get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        return self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True).get("Item")

    def _query(self, name: str, prefix: str, below_generation: int | None = None) -> list[TrialRecord]:
        """The run's trials whose sort key starts with ``prefix`` (and of generations below
        ``below_generation``), by (generation, index)."""
        args: dict[str, Any] = {
            "TableName": self.table_name, "ConsistentRead": True,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {":pk": {"S": f"RUN#{name}"}, ":prefix": {"S": prefix}}}
        if below_generation is not None:
            args["FilterExpression"] = "#generation < :version"
            args["ExpressionAttributeNames"]["#generation"] = "generation"
            args["ExpressionAttributeValues"][":version"] = {"N": str(below_generation)}
        pages = self.client.get_paginator("query").paginate(**args)
        trials = [_trial(item) for page in pages for item in page["Items"]]
        return sorted(trials, key=lambda t: (t.generation, t.index))

    def _update_run(self, name: str, **update: Any) -> RunRecord:
        response = self.client.update_item(TableName=self.table_name, Key=run_key(name),
                                           ReturnValues="ALL_NEW",
                                           ReturnValuesOnConditionCheckFailure="ALL_OLD", **update)
        return _run(response["Attributes"])

    # -- runs -----------------------------------------------------------------------------------
    def create_run(self, run: RunRecord) -> RunRecord:
        now = self._clock()
        run = run.replace(created_at=run.created_at or now, updated_at=run.updated_at or now)
        if len(run.name.encode()) > _MAX_NAME_BYTES:
            raise ValueError(f"run name is {len(run.name.encode())} bytes; DynamoDB keys take "
                             f"{_MAX_NAME_BYTES}")
        item = run_item(run)
        if item_size(item) > MAX_ITEM_BYTES:
            raise ItemTooLargeError(run.name, "the run record (its request)", item_size(item),
                                    MAX_ITEM_BYTES)
        try:
            self.client.put_item(TableName=self.table_name, Item=item,
                                 ConditionExpression="attribute_not_exists(#pk)",
                                 ExpressionAttributeNames={"#pk": PARTITION_KEY})
        except ClientError as exc:
            if _failed_condition(exc):
                raise RunExistsError(run.name) from exc
            raise
        return _run(item)

    def get_run(self, name: str) -> RunRecord:
        item = self._get(run_key(name))
        if item is None:
            raise RunNotFoundError(name)
        return _run(item)

    def list_runs(self) -> list[RunRecord]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table_name, IndexName=RUNS_INDEX, KeyConditionExpression="#kind = :kind",
            ExpressionAttributeNames={"#kind": RUNS_INDEX_PARTITION_KEY},
            ExpressionAttributeValues={":kind": {"S": RUN_KIND}})
        return sorted((_run(item) for page in pages for item in page["Items"]), key=lambda r: r.name)

    def claim_run(self, name: str, owner: str, expected_owner: str | None = None) -> RunRecord:
        check_owner(owner)
        if expected_owner == owner:  # nothing to write either way
            run = self.get_run(name)
            if run.owner != owner:
                raise RunClaimedError(name, run.owner)
            return run
        if expected_owner is None:
            condition, values = "attribute_exists(#pk) AND attribute_not_exists(#owner)", {}
        else:
            condition, values = "#owner = :expected_owner", {":expected_owner": {"S": expected_owner}}
        try:
            return self._update_run(name, **_update(
                {"owner": {"S": owner}, "updated_at": {"S": self._clock()}}, (), condition, values))
        except ClientError as exc:
            if not _failed_condition(exc):
                raise
            if "Item" not in exc.response:
                raise RunNotFoundError(name) from exc
            run = _run(exc.response["Item"])
            if run.owner == owner:  # held already (a retried claim): unchanged, as it is
                return run
            raise RunClaimedError(name, run.owner) from exc

    def release_run(self, name: str, owner: str) -> RunRecord:
        check_owner(owner)
        try:
            return self._update_run(name, **_update({"updated_at": {"S": self._clock()}}, ["owner"],
                                                    "#owner = :owner", {":owner": {"S": owner}}))
        except ClientError as exc:
            if not _failed_condition(exc):
                raise
            if "Item" not in exc.response:
                raise RunNotFoundError(name) from exc
            run = _run(exc.response["Item"])
            if run.owner is None:  # free already
                return run
            raise RunClaimedError(name, run.owner) from exc

    def finish_run(self, name: str, status: str, reason: str | None = None,
                   stop_code: str | None = None) -> RunRecord:
        check_finish(status)
        given = {"status": status, "reason": reason, "stop_code": stop_code, "updated_at": self._clock()}
        sets = {f: {"S": v} for f, v in given.items() if v is not None}
        removes = ["owner", *(f for f, v in given.items() if v is None)]
        try:
            return self._update_run(name, **_update(sets, removes, "#status = :in_progress",
                                                    {":in_progress": {"S": "InProgress"}}))
        except ClientError as exc:
            if not _failed_condition(exc):
                raise
            if "Item" not in exc.response:
                raise RunNotFoundError(name) from exc
            return _run(exc.response["Item"])  # finished already: the first finish won

    # -- trials ---------------------------------------------------------------------------------
    def put_generation(self, name: str, generation: int, trials: Sequence[TrialRecord],
                       expected_version: int) -> list[TrialRecord]:
        check_generation(name, generation, trials, expected_version)
        items = {t.trial_id: trial_item(t) for t in trials}
        for tid, item in items.items():  # refused before anything is written
            if item_size(item) > MAX_ITEM_BYTES:
                # keep meta small: a genome, not a dataset
                raise ItemTooLargeError(name, f"trial {tid}", item_size(item), MAX_ITEM_BYTES)
        for round_ in range(_ROUNDS):
            run = self.get_run(name)
            existing = self._query(name, f"{TRIAL_PREFIX}{generation:06d}#")
            missing = plan_generation(name, generation, trials, expected_version, run, existing)
            if missing is None:
                return existing
            try:
                self._commit(run, [items[t.trial_id] for t in missing], expected_version)
            except ClientError as exc:
                reasons = _lost_race(exc)
                if reasons is None:
                    raise
                if reasons != {"ConditionalCheckFailed"}:  # a writer still in flight, or throttling
                    time.sleep(random.uniform(0, 0.05 * 2**round_))
                continue  # read again: plan_generation decides between retry, conflict and done
            return sorted([*existing, *(_trial(items[t.trial_id]) for t in missing)], key=lambda t: t.index)
        raise VersionConflictError(name, f"generation {generation} is still contended after {_ROUNDS} "
                                         "rounds of racing writers")

    def _commit(self, run: RunRecord, items: Sequence[dict[str, Any]], expected_version: int) -> None:
        """Put ``items``, each only if absent, then bump the version only if it is ``expected_version``
        and the run in progress: in transactions of at most 100 actions and ~4 MB, the bump last."""
        table = self.table_name
        absent = {"ConditionExpression": "attribute_not_exists(#sk)",
                  "ExpressionAttributeNames": {"#sk": SORT_KEY}}
        actions = [({"Put": {"TableName": table, "Item": item, **absent}}, item_size(item)) for item in items]
        bump = _update({"version": {"N": str(expected_version + 1)}, "updated_at": {"S": self._clock()}}, (),
                       "#version = :expected AND #status = :in_progress",
                       {":expected": {"N": str(expected_version)}, ":in_progress": {"S": "InProgress"}})
        actions.append(({"Update": {"TableName": table, "Key": run_key(run.name), **bump}},
                        item_size(run_item(run))))
        chunk: list[dict[str, Any]] = []
        size = 0
        for action, action_size in actions:
            if chunk and (len(chunk) == _TRANSACTION_ACTIONS or size + action_size > _TRANSACTION_BYTES):
                self.client.transact_write_items(TransactItems=chunk)
                chunk, size = [], 0
            chunk.append(action)
            size += action_size
        self.client.transact_write_items(TransactItems=chunk)

    def update_trial(self, name: str, trial_id: str, /, *, expected_attempt: int | None = None,
                     **changes: Any) -> TrialRecord:
        check_changes(changes)
        ids = parse_trial_id(trial_id)
        # The changed record checks the values exactly as the stored one would (the id is irrelevant).
        changed = TrialRecord.new(name, *(ids or (0, 0)), {}).replace(**changes)
        if expected_attempt is not None and (isinstance(expected_attempt, bool)
                                             or not isinstance(expected_attempt, int)):
            raise ValueError(f"expected_attempt must be an integer, not {expected_attempt!r}")
        if ids is None:
            self.get_run(name)  # RunNotFoundError first when the run itself is missing
            raise TrialNotFoundError(name, trial_id)
        sets = {f: _attr(_TRIAL_FIELDS[f], getattr(changed, f)) for f in changes
                if getattr(changed, f) is not None}
        condition, values = "attribute_exists(#sk)", {}
        if expected_attempt is not None:
            condition += " AND #attempt = :expected_attempt"
            values = {":expected_attempt": {"N": str(expected_attempt)}}
        update = _update(sets, [f for f in changes if f not in sets], condition, values)
        try:
            response = self.client.update_item(
                TableName=self.table_name, Key=trial_key(name, *ids), ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD", **update)
        except ClientError as exc:
            if not _failed_condition(exc):
                raise
            old = exc.response.get("Item")
            if old is None:
                self.get_run(name)
                raise TrialNotFoundError(name, trial_id) from exc
            if all(old.get(f) == sets.get(f) for f in changes):
                return _trial(old)  # already so: botocore retried a write whose answer was lost
            raise VersionConflictError(name, f"trial {trial_id} is at attempt {_trial(old).attempt}, "
                                             f"not {expected_attempt}") from exc
        return _trial(response["Attributes"])

    def get_trial(self, name: str, trial_id: str) -> TrialRecord:
        run = self.get_run(name)
        ids = parse_trial_id(trial_id)
        item = None if ids is None else self._get(trial_key(name, *ids))
        if item is None or _trial(item).generation >= run.version:  # uncommitted: nobody sees it
            raise TrialNotFoundError(name, trial_id)
        return _trial(item)

    def get_trials(self, name: str) -> list[TrialRecord]:
        # The run first: the version read here bounds what is shown, so a generation committed during
        # the query is shown whole or not at all.
        run = self.get_run(name)
        return self._query(name, TRIAL_PREFIX, below_generation=run.version)

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
