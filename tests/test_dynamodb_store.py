"""What only the DynamoDB store can show, under moto: the table layout, generations split across
transactions, a writer dying between them, writers racing between a read and a write, item limits.

The contract every store passes is ``store_contract.py``, run over DynamoDB by ``test_store_contract.py``
(whose ``moto_dynamodb`` serves the table here too). Clients handed to the store here are real botocore
clients against moto; the few wrappers below only make AWS misbehave at a chosen moment.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from store_contract import make_trials, new_run, snapshot
from test_store_contract import TABLE, moto_dynamodb

from byohpo.store import RunFinishedError, TrialNotFoundError, TrialRecord, VersionConflictError
from byohpo.store.dynamodb import (
    MAX_ITEM_BYTES,
    TABLE_ENV,
    DynamoDBStore,
    item_size,
    table_definition,
    trial_item,
)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with moto_dynamodb(monkeypatch) as client:
        yield client


@pytest.fixture
def store(client) -> DynamoDBStore:
    return DynamoDBStore(TABLE, client=client)


def count_calls(client: Any) -> Counter:
    """Count the client's requests by operation, and the actions of its transactions."""
    calls: Counter = Counter()

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls[model.name] += 1
        if "TransactItems" in params:
            calls["actions"] += len(params["TransactItems"])

    client.meta.events.register("before-parameter-build.dynamodb", record)
    return calls


def raw_items(client: Any, name: str) -> list[dict[str, Any]]:
    return client.query(TableName=TABLE, KeyConditionExpression="pk = :pk",
                        ExpressionAttributeValues={":pk": {"S": f"RUN#{name}"}}, ConsistentRead=True)["Items"]


class Interfering:
    """A client whose next TransactWriteItems first lets ``interfere()`` run (another writer between our
    read and our write), or fails it with ``error`` instead of sending it."""

    def __init__(self, client: Any, interfere: Any = None, error: ClientError | None = None) -> None:
        self._client, self._interfere, self._error = client, interfere, error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **params: Any) -> Any:
        interfere, error, self._interfere, self._error = self._interfere, self._error, None, None
        if interfere is not None:
            interfere()
        if error is not None:
            raise error
        return self._client.transact_write_items(**params)


class Killed(BaseException):
    """The writer's process ended (a Lambda timing out)."""


class Dying:
    """A client whose process ends at its ``n``-th TransactWriteItems."""

    def __init__(self, client: Any, n: int) -> None:
        self._client, self._n = client, n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **params: Any) -> Any:
        self._n -= 1
        if self._n == 0:
            raise Killed
        return self._client.transact_write_items(**params)


def cancelled(*codes: str) -> ClientError:
    return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                        "CancellationReasons": [{"Code": c} for c in codes]}, "TransactWriteItems")


# -- the table ------------------------------------------------------------------------------------
def test_the_table_is_the_one_definition_and_its_items_are_readable(store, client):
    table = client.describe_table(TableName=TABLE)["Table"]
    definition = table_definition(TABLE)
    assert table["KeySchema"] == definition["KeySchema"]
    assert [(i["IndexName"], i["KeySchema"]) for i in table["GlobalSecondaryIndexes"]] == \
        [(i["IndexName"], i["KeySchema"]) for i in definition["GlobalSecondaryIndexes"]]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    store.create_run(new_run())
    store.put_generation("run-a", 0, make_trials("run-a", 0, 2), 0)
    store.update_trial("run-a", "g0000-t0001", status="Completed", values={"acc": math.nan})
    meta, first, second = raw_items(client, "run-a")
    assert (meta["sk"], meta["status"], meta["version"], meta["kind"]) == \
        ({"S": "META"}, {"S": "InProgress"}, {"N": "1"}, {"S": "run"})
    assert "owner" not in meta and json.loads(meta["request"]["S"]) == new_run().request
    assert (first["sk"], second["sk"]) == ({"S": "TRIAL#000000#000000"}, {"S": "TRIAL#000000#000001"})
    assert (second["generation"], second["index"], second["status"]) == \
        ({"N": "0"}, {"N": "1"}, {"S": "Completed"})
    assert second["values"] == {"S": '{"acc": NaN}'} and "values" not in first
    assert json.loads(second["params"]["S"]) == make_trials("run-a", 0, 2)[1].params
    # The runs index is sparse: it holds the run, not its trials.
    assert client.scan(TableName=TABLE, IndexName="runs")["Count"] == 1


def test_nothing_is_sent_or_required_until_first_use(monkeypatch: pytest.MonkeyPatch):
    for var in (TABLE_ENV, "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    store = DynamoDBStore()  # what a Lambda module does at import
    assert "BYOHPO_TABLE" in repr(store)
    with pytest.raises(RuntimeError, match=TABLE_ENV):
        store.get_run("run-a")
    store.close()


def test_a_boto3_resource_is_refused_with_the_reason(client):
    with pytest.raises(TypeError, match="resource"):
        DynamoDBStore(TABLE, client=boto3.resource("dynamodb").Table(TABLE))


def test_stamps_with_its_clock(client):
    ticks = iter(f"2024-01-01T00:00:0{i}.000Z" for i in range(10))
    store = DynamoDBStore(TABLE, client=client, clock=lambda: next(ticks))
    store.create_run(new_run())
    store.put_generation("run-a", 0, make_trials("run-a", 0, 1), 0)
    assert (store.get_run("run-a").created_at, store.get_run("run-a").updated_at) == \
        ("2024-01-01T00:00:00.000Z", "2024-01-01T00:00:01.000Z")


# -- put_generation -------------------------------------------------------------------------------
def test_a_generation_below_100_trials_is_one_atomic_transaction(store, client):
    store.create_run(new_run())
    calls = count_calls(client)
    store.put_generation("run-a", 0, make_trials("run-a", 0, 99), 0)
    assert calls == {"GetItem": 1, "Query": 1, "TransactWriteItems": 1, "actions": 100}
    calls.clear()
    store.put_generation("run-a", 0, make_trials("run-a", 0, 99), 0)  # an identical retry only reads
    assert calls == {"GetItem": 1, "Query": 1}


def test_a_large_generation_is_split_into_transactions_of_100(store, client):
    store.create_run(new_run())
    calls = count_calls(client)
    trials = make_trials("run-a", 0, 120)
    assert store.put_generation("run-a", 0, trials, 0) == trials
    assert calls == {"GetItem": 1, "Query": 1, "TransactWriteItems": 2, "actions": 121}
    assert store.get_trials("run-a") == trials and store.get_run("run-a").version == 1


def test_a_writer_dying_between_transactions_leaves_nothing_visible(store, client):
    store.create_run(new_run())
    before = snapshot(store)
    trials = make_trials("run-a", 0, 120)
    with pytest.raises(Killed):
        DynamoDBStore(TABLE, client=Dying(client, 2)).put_generation("run-a", 0, trials, 0)
    assert len(raw_items(client, "run-a")) == 1 + 100  # the first transaction landed, uncommitted
    assert snapshot(store) == before
    with pytest.raises(TrialNotFoundError):
        store.get_trial("run-a", "g0000-t0000")
    with pytest.raises(VersionConflictError):  # other proposals cannot finish it
        store.put_generation("run-a", 0, make_trials("run-a", 0, 120, salt=1.0), 0)
    calls = count_calls(client)
    assert store.put_generation("run-a", 0, trials, 0) == trials  # the same ones complete it
    assert calls == {"GetItem": 1, "Query": 1, "TransactWriteItems": 1, "actions": 21}
    assert store.get_trials("run-a") == trials and store.get_run("run-a").version == 1


def test_an_identical_writer_between_our_read_and_write(store, client):
    store.create_run(new_run())
    trials = make_trials("run-a", 0, 3)
    other = DynamoDBStore(TABLE, client=client)
    racing = DynamoDBStore(TABLE, client=Interfering(
        client, interfere=lambda: other.put_generation("run-a", 0, trials, 0)))
    calls = count_calls(client)
    assert racing.put_generation("run-a", 0, trials, 0) == trials  # its transaction failed, then it read
    assert calls["TransactWriteItems"] == 2 and calls["GetItem"] == 3
    assert store.get_run("run-a").version == 1


def test_a_different_writer_between_our_read_and_write(store, client):
    store.create_run(new_run())
    other = DynamoDBStore(TABLE, client=client)
    theirs = make_trials("run-a", 0, 3, salt=1.0)
    racing = DynamoDBStore(TABLE, client=Interfering(
        client, interfere=lambda: other.put_generation("run-a", 0, theirs, 0)))
    with pytest.raises(VersionConflictError):
        racing.put_generation("run-a", 0, make_trials("run-a", 0, 3), 0)
    assert store.get_trials("run-a") == theirs


def test_a_finish_between_our_read_and_write(store, client):
    store.create_run(new_run())
    racing = DynamoDBStore(TABLE, client=Interfering(
        client, interfere=lambda: store.finish_run("run-a", "Stopped", "stopped by the user")))
    with pytest.raises(RunFinishedError, match="Stopped"):
        racing.put_generation("run-a", 0, make_trials("run-a", 0, 3), 0)
    assert len(raw_items(client, "run-a")) == 1  # the transaction wrote none of its trials


def test_a_transaction_conflict_is_decided_again_and_other_cancellations_raise(store, client):
    store.create_run(new_run())
    conflicted = DynamoDBStore(TABLE, client=Interfering(
        client, error=cancelled("TransactionConflict", "None")))
    trials = make_trials("run-a", 0, 1)
    assert conflicted.put_generation("run-a", 0, trials, 0) == trials
    broken = DynamoDBStore(TABLE, client=Interfering(client, error=cancelled("None", "ValidationError")))
    with pytest.raises(ClientError, match="cancelled"):
        broken.put_generation("run-a", 1, make_trials("run-a", 1, 1), 1)
    assert store.get_run("run-a").version == 1


def test_an_item_over_400_kb_is_refused_before_anything_is_written(store, client):
    store.create_run(new_run())
    trials = make_trials("run-a", 0, 3)
    trials[2] = trials[2].replace(meta={"genome": [i / 7 for i in range(25000)]})  # ~500 KB of JSON
    assert item_size(trial_item(trials[2])) > MAX_ITEM_BYTES
    with pytest.raises(ValueError, match=r"g0000-t0002.*item limit"):
        store.put_generation("run-a", 0, trials, 0)
    assert len(raw_items(client, "run-a")) == 1 and store.get_run("run-a").version == 0


def test_order_is_numeric_beyond_six_digits(store):
    store.create_run(new_run())
    indexes = [1_000_000, 999_999, 5]  # "TRIAL#000000#1000000" sorts before "...#999999" as text
    store.put_generation("run-a", 0, [TrialRecord.new("run-a", 0, i, {"i": i}) for i in indexes], 0)
    assert [t.index for t in store.get_trials("run-a")] == sorted(indexes)
    assert store.get_trial("run-a", "g0000-t1000000").params == {"i": 1_000_000}


# -- update_trial ---------------------------------------------------------------------------------
def test_an_update_retried_after_its_answer_was_lost_returns_the_trial(store):
    store.create_run(new_run())
    store.put_generation("run-a", 0, make_trials("run-a", 0, 1), 0)
    rerun = {"expected_attempt": 0, "attempt": 1, "job_name": "run-a-g0-t0-a1", "started_at": None}
    first = store.update_trial("run-a", "g0000-t0000", **rerun)
    # botocore resends a write whose answer timed out: the condition fails, the change is there.
    assert store.update_trial("run-a", "g0000-t0000", **rerun) == first
    with pytest.raises(VersionConflictError, match="attempt 1"):  # a different late write still loses
        store.update_trial("run-a", "g0000-t0000", expected_attempt=0, status="Failed")
