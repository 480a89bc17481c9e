"""AWS adapters of the Lambda handlers: botocore clients, the run store, and the pieces that talk to
SageMaker (``training``), CloudWatch Logs (``logs``), S3 (``results``) and earlier runs
(``warm_start``).

Clients are made on first use and kept for the life of the process (a warm Lambda reuses them). Every
client retries with botocore's ``standard`` mode: throttling and transient errors are retried with
exponential backoff and jitter by botocore itself, never by a loop of ours. Configuration comes from the
environment, read when a client or the store is first needed:

* ``BYOHPO_TABLE``: the DynamoDB table of runs and trials (``byohpo.store.dynamodb``);
* ``BYOHPO_BUCKET``: the bucket Finalize writes results to; ``BYOHPO_RESULTS_PREFIX`` (default ``runs/``);
* ``BYOHPO_EVENT_BUDGET``: see ``byohpo.handlers``;
* ``BYOHPO_STACK``: the deploying stack's name, tagged on every training job (``byohpo:stack``), which
  the stack's IAM conditions on (:func:`stack_name`);
* ``BYOHPO_PASSABLE_ROLES``: the role ARNs (comma-separated) the stack lets its state machine pass to
  SageMaker; Start refuses a request naming another (unset: no check).

botocore is imported here, never by the pure core: the local engine runs without it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from botocore.config import Config

from byohpo import __version__
from byohpo.store.base import Store

#: Standard retry mode on every client: retries throttling (``ThrottlingException``,
#: ``ProvisionedThroughputExceededException``), 5xx and connection errors with backoff, and shares a
#: retry quota per client so that an outage does not multiply the load.
RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    connect_timeout=10,
    read_timeout=60,
    user_agent_extra=f"byohpo/{__version__}",
)


class ConfigurationError(RuntimeError):
    """The Lambda's environment lacks a setting it needs (a deployment bug, not a run's)."""


def env(name: str, default: str | None = None) -> str:
    """An environment setting, or :class:`ConfigurationError` naming it when it is unset."""
    value = os.environ.get(name, default)
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


class Clients:
    """The botocore clients and the store one Lambda process uses, each made on first use.

    Args:
        store: the run store; default a ``DynamoDBStore`` on ``BYOHPO_TABLE``. Tests and other drivers
            may pass any :class:`~byohpo.store.base.Store`.
        session: the botocore session clients come from; default a new one (region and credentials
            from the environment, as in Lambda).
    """

    def __init__(self, *, store: Store | None = None, session: Any = None) -> None:
        self._store = store
        self._session = session
        self._clients: dict[str, Any] = {}
        # Handlers are single-threaded; tests drive them from threads. Reentrant: the store asks for a client.
        self._lock = threading.RLock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                if self._session is None:
                    import botocore.session

                    self._session = botocore.session.get_session()
                self._clients[service] = self._session.create_client(service, config=RETRY_CONFIG)
            return self._clients[service]

    @property
    def sagemaker(self) -> Any:
        return self.client("sagemaker")

    @property
    def logs(self) -> Any:
        return self.client("logs")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def stepfunctions(self) -> Any:
        return self.client("stepfunctions")

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from byohpo.store.dynamodb import DynamoDBStore

                self._store = DynamoDBStore(env("BYOHPO_TABLE"), client=self.client("dynamodb"))
            return self._store


def stack_name() -> str | None:
    """``BYOHPO_STACK``, or None when the deployment does not set it."""
    return os.environ.get("BYOHPO_STACK") or None


_current = Clients()


def clients() -> Clients:
    """The process's clients (module scope, so a warm Lambda reuses its connections)."""
    return _current


def configure(*, store: Store | None = None, session: Any = None) -> Clients:
    """Replace the process's clients: a fresh set (new environment, a new moto mock), or a given
    store. Returns the new set."""
    global _current
    _current = Clients(store=store, session=session)
    return _current


__all__ = ["RETRY_CONFIG", "Clients", "ConfigurationError", "clients", "configure", "env", "stack_name"]
