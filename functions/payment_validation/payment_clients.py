"""AWS SDK clients created on first use instead of at import, and how such objects are created.

Creating a client loads and parses botocore's JSON models (over 100 ms for this function's
three services, docs/payment-validation.md), so clients built at import make every cold start
pay for all five, although a payment uses three of them and a health check the two probe
clients and the Secrets Manager one. All clients come from boto3's default session: the two
DynamoDB and the two S3 clients share its loader, which parses each service's model once.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config


class LazyClient:
    """Stands in for a boto3 client, creates it on first use, then hands everything to it.

    `lazy.put_item(...)` and `lazy.meta.config` reach the real client (creating it if need be).
    Event handlers registered on `lazy.meta.events` before the client exists (Powertools does so
    at construction, to tag the user agent of the clients it is given) are kept and registered on
    the client when it is created, so the client ends up exactly as if it had been passed in.
    """

    def __init__(self, create: Callable[[], Any]) -> None:
        self._create = create
        self._client: Any = None
        self._early_handlers: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def created(self) -> Any:
        """The real client, created now if it was not yet."""
        if self._client is None:
            with long_lived():
                client = self._create()
            for args, kwargs in self._early_handlers:
                client.meta.events.register(*args, **kwargs)
            self._client = client
        return self._client

    @property
    def meta(self) -> Any:
        return _EarlyMeta(self) if self._client is None else self._client.meta

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the LazyClient itself lacks: the client's methods and attributes.
        # Special names are what copy, pickle and introspection probe for: they create nothing.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.created(), name)


class _EarlyMeta:
    """`meta` of a client not created yet: `events.register` waits for it, anything else creates it."""

    def __init__(self, lazy: LazyClient) -> None:
        self._lazy = lazy
        self.events = _EarlyEvents(lazy)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lazy.created().meta, name)


class _EarlyEvents:
    """`meta.events` of a client not created yet."""

    def __init__(self, lazy: LazyClient) -> None:
        self._lazy = lazy

    def register(self, *args: Any, **kwargs: Any) -> None:
        if self._lazy._client is None:
            self._lazy._early_handlers.append((args, kwargs))
        else:
            self._lazy._client.meta.events.register(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lazy.created().meta.events, name)


@contextmanager
def long_lived() -> Iterator[None]:
    """Around the creation of objects kept for the environment's lifetime (clients, modules).

    What app.py does for the whole init, for what is created later: no cyclic collection while
    they are created (it would only rescan them: 10-30 ms of a first payment, measured), and
    what exists afterwards is frozen out of later collections. Frozen objects are still freed
    when their last reference goes; those of the request in flight that end in a reference cycle
    are not (some 500 objects once per environment, measured).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def lazy_client(service: str, region: str, config: Config) -> LazyClient:
    """A client of `service` in `region` with `config`, created from the default session on first use."""
    return LazyClient(lambda: boto3.client(service, region_name=region, config=config))
