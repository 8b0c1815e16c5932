"""A semaphore that lets work already under way go first.

A publish on many sources at once (or a daemon's restart) queues a request for every
source; each new item's article page is fetched after its feed. In one first-come queue
those pages waited behind every feed poll still queued, so their alerts did too, and the
page workers sat idle until the last feed was in. Here a follow-up (an article page, a
listing's next page, a redirect's next hop) waits only for the follow-ups before it.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Slots:
    """``size`` slots for the tasks of one event loop: follow-ups first, then everyone
    else, each queue first come first served. A new poll waits while follow-ups keep
    coming, which is bounded: each poll has only so many pages to follow.

    A slot is free only while no live waiter is queued (``release`` hands a slot to one
    before it frees any), so a free slot may be taken at once without looking at the
    queues, which also hold the futures of waiters cancelled there, skipped later."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"Slots needs at least one slot, not {size}")
        self.size = size
        self._free = size
        self._follow_ups: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    @property
    def free(self) -> int:
        """Slots no one holds, nor has been handed (what the tests look at)."""
        return self._free

    async def acquire(self, *, follow_up: bool = False) -> None:
        """Wait for a slot; give it back with ``release``."""
        if self._free:
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._follow_ups if follow_up else self._others).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if not waiter.cancelled():  # handed a slot as it was cancelled: pass the slot on
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back: to the first follow-up waiting, else the first other waiter."""
        for queue in (self._follow_ups, self._others):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():  # not cancelled while it waited
                    waiter.set_result(None)
                    return
        if self._free == self.size:
            raise RuntimeError("Slots released more often than acquired")
        self._free += 1
