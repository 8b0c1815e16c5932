"""Slots: follow-ups are served before other waiters, cancellation loses no slot."""

from __future__ import annotations

import asyncio

import pytest

from monitor.slots import Slots


async def _settle() -> None:
    """Let every task that can run take its step."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_follow_ups_go_before_earlier_waiters_and_each_queue_keeps_its_order() -> None:
    """With the one slot held, waiters a, b, then follow-ups x, y are served x, y, a, b."""
    async def run() -> list[str]:
        slots, served = Slots(1), []
        await slots.acquire()

        async def wait(name: str, follow_up: bool) -> None:
            await slots.acquire(follow_up=follow_up)
            served.append(name)
            slots.release()

        tasks = []
        for name, follow_up in [("a", False), ("b", False), ("x", True), ("y", True)]:
            tasks.append(asyncio.create_task(wait(name, follow_up)))
            await _settle()  # each queues in this order
        slots.release()
        await asyncio.gather(*tasks)
        return served

    assert asyncio.run(run()) == ["x", "y", "a", "b"]


def test_a_free_slot_is_taken_at_once_and_none_is_made_up() -> None:
    """Below the size, acquire does not wait; at it, a third waiter waits for a release."""
    async def run() -> tuple[int, bool, int]:
        slots = Slots(2)
        await slots.acquire()
        await slots.acquire(follow_up=True)
        third = asyncio.create_task(slots.acquire())
        await _settle()
        waiting = not third.done()
        slots.release()
        await third
        free_while_held = slots.free
        slots.release()
        slots.release()
        return free_while_held, waiting, slots.free

    assert asyncio.run(run()) == (0, True, 2)


def test_a_waiter_cancelled_in_the_queue_takes_no_slot() -> None:
    """A cancelled waiter is skipped: the release goes to the next one, and later the slot is free."""
    async def run() -> tuple[bool, int]:
        slots = Slots(1)
        await slots.acquire()
        gone = asyncio.create_task(slots.acquire(follow_up=True))
        later = asyncio.create_task(slots.acquire())
        await _settle()
        gone.cancel()
        await _settle()
        slots.release()
        await asyncio.wait_for(later, 1)
        slots.release()
        return gone.cancelled(), slots.free

    assert asyncio.run(run()) == (True, 1)


def test_a_waiter_cancelled_after_being_handed_the_slot_passes_it_on() -> None:
    """Handed the slot and cancelled before it ran: the slot goes to the next waiter, not lost."""
    async def run() -> tuple[bool, bool, int]:
        slots = Slots(1)
        await slots.acquire()
        first = asyncio.create_task(slots.acquire())
        second = asyncio.create_task(slots.acquire())
        await _settle()
        slots.release()  # hands the slot to first, which has not run yet
        first.cancel()
        await asyncio.wait_for(second, 1)
        slots.release()
        return first.cancelled(), second.done(), slots.free

    assert asyncio.run(run()) == (True, True, 1)


def test_a_free_slot_waits_for_nobody_once_the_queue_is_only_cancelled_waiters() -> None:
    """After every waiter was cancelled, a new acquire takes the freed slot at once."""
    async def run() -> int:
        slots = Slots(1)
        await slots.acquire()
        waiters = [asyncio.create_task(slots.acquire()) for _ in range(3)]
        await _settle()
        for waiter in waiters:
            waiter.cancel()
        await _settle()
        slots.release()
        await asyncio.wait_for(slots.acquire(), 1)
        return slots.free

    assert asyncio.run(run()) == 0


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        Slots(0)


def test_a_slot_freed_while_a_cancelled_waiter_has_not_run_yet_is_taken_at_once() -> None:
    """A waiter cancelled in the queue, whose task has not run since, does not keep the next
    acquire (a redirect's next hop, in the same step as its release) from a free slot."""
    async def run() -> int:
        slots = Slots(1)
        await slots.acquire()
        gone = asyncio.create_task(slots.acquire())
        await _settle()
        gone.cancel()
        slots.release()
        await asyncio.wait_for(slots.acquire(), 1)
        return slots.free

    assert asyncio.run(run()) == 0


def test_releasing_more_often_than_acquiring_is_an_error() -> None:
    async def run() -> None:
        slots = Slots(1)
        await slots.acquire()
        slots.release()
        slots.release()

    with pytest.raises(RuntimeError, match="released more often than acquired"):
        asyncio.run(run())
