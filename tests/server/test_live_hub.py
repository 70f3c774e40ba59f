"""The in-process hub of live changes: publishing never waits, a subscriber that falls
behind is told to resync instead of holding everything, a waiting subscriber wakes when
another thread publishes, and closing the hub ends every subscription."""

from __future__ import annotations

import asyncio
import threading
import time

from server.hut_state.hub import LiveHub
from server.storage.hut_states import HutView


def _view(n: int) -> HutView:
    return HutView(
        f"hut-{n}", True, True, None, "closed", "locked", "ok", None, n, None, (), None, None
    )


def test_a_subscriber_that_never_reads_neither_blocks_the_publisher_nor_grows() -> None:
    hub = LiveHub(limit=8)
    slow = hub.subscribe()
    started = time.monotonic()
    for n in range(20_000):
        hub.publish(_view(n))
    assert time.monotonic() - started < 5  # no wait on anyone
    assert slow.pending <= 8
    take = slow.take_now()
    assert take.resync and not take.closed
    assert take.changes[-1] == _view(19_999)  # what came after the loss
    assert slow.take_now().changes == []


def test_a_subscriber_that_keeps_up_gets_every_change_in_order() -> None:
    hub = LiveHub(limit=8)
    live = hub.subscribe()
    seen: list[HutView] = []
    for n in range(30):
        hub.publish(_view(n))
        if n % 5 == 4:
            take = live.take_now()
            assert not take.resync
            seen += [c for c in take.changes if isinstance(c, HutView)]
    assert [view.outbox for view in seen] == list(range(30))


def test_a_waiting_subscriber_wakes_when_another_thread_publishes() -> None:
    hub = LiveHub()
    live = hub.subscribe()

    async def wait() -> tuple[list[object], float]:
        started = time.monotonic()
        publisher = threading.Timer(0.05, hub.publish, args=(_view(1),))
        publisher.start()
        take = await live.take(timeout=30)
        publisher.join()
        return list(take.changes), time.monotonic() - started

    changes, waited = asyncio.run(wait())
    assert changes == [_view(1)]
    assert waited < 10  # woken, not timed out


def test_closing_the_hub_ends_every_subscription_waiting_or_to_come() -> None:
    hub = LiveHub()
    live = hub.subscribe()

    async def wait() -> bool:
        closer = threading.Timer(0.05, hub.close)
        closer.start()
        take = await live.take(timeout=30)
        closer.join()
        return take.closed

    assert asyncio.run(wait())
    assert hub.subscribers == 0
    assert hub.subscribe().take_now().closed
    hub.publish(_view(1))  # nobody left: nothing happens


def test_a_subscriber_that_leaves_gets_nothing_more() -> None:
    hub = LiveHub()
    live = hub.subscribe()
    assert hub.subscribers == 1
    live.close()
    assert hub.subscribers == 0
    hub.publish(_view(1))
    assert live.pending == 0
