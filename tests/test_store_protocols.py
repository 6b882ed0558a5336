"""Each consumer's store Protocol is met by the one `Store` the wiring passes (issue 10 item 1):
mypy checks the assignments below, the test checks every listed method is the repository's."""

from __future__ import annotations

import inspect

import pytest

from bot.deliver.actions import RefStore
from bot.deliver.sender import SenderStore
from bot.due import InstantCounts
from bot.operations import OperationsStore
from bot.store import Store
from bot.subscriptions import SubscriptionsStore
from bot.telegram.admin import StatusStore
from bot.telegram.latest import LatestStore
from bot.telegram.subscriptions import SubscriptionStore
from bot.telegram.timing import TimingStore

PROTOCOLS = [
    RefStore,
    SenderStore,
    InstantCounts,
    OperationsStore,
    SubscriptionsStore,
    StatusStore,
    LatestStore,
    SubscriptionStore,
    TimingStore,
]


def test_store_satisfies_every_consumer_protocol() -> None:
    store = Store.open(":memory:")
    typed: tuple[
        RefStore,
        SenderStore,
        InstantCounts,
        OperationsStore,
        SubscriptionsStore,
        StatusStore,
        LatestStore,
        SubscriptionStore,
        TimingStore,
    ] = (store, store, store, store, store, store, store, store, store)
    assert len(typed) == len(PROTOCOLS)
    store.close()


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_protocol_lists_store_methods_with_their_parameters(protocol: type) -> None:
    """A Protocol method that drifted from the repository's (renamed, a parameter added)."""
    names = [n for n in vars(protocol) if not n.startswith("_") and callable(vars(protocol)[n])]
    assert names, protocol
    for name in names:
        declared = inspect.signature(vars(protocol)[name])
        actual = inspect.signature(getattr(Store, name))
        assert list(declared.parameters) == list(actual.parameters), (protocol, name)
