"""Put racing ``shutdown(immediate=False)``: a put either raises QueueShutDown or its item
is delivered before any consumer sees QueueShutDown. Nothing is lost, nothing duplicated.

Each round starts producers (``put_nowait`` and ``put_wait``), thread consumers
(``get_wait``) and a coroutine consumer (``async for``) together on a barrier, with forced
thread switching, and shuts the queue down from the main thread while they run. The items
the consumers received must be exactly those whose put returned normally.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator

import pytest

import threaded_async as ta

ROUNDS = 500
ITEMS_PER_PRODUCER = 20
BOUND = 60.0  # seconds for all rounds together (a hang fails, not waits)


@pytest.fixture
def fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _round(runner: ta.AsyncRunner, maxsize: int, seed: int) -> None:
    queue: ta.Queue[tuple[int, int]] = ta.Queue(runner, maxsize=maxsize)
    accepted: list[tuple[int, int]] = []
    received: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(5)

    def producer(pid: int, blocking: bool) -> None:
        start.wait()
        for n in range(ITEMS_PER_PRODUCER):
            item = (pid, n)
            try:
                if blocking:
                    queue.put_wait(item, timeout=10)
                else:
                    queue.put_nowait(item)
            except ta.QueueShutDown:
                return
            except ta.QueueFull:
                continue
            except BaseException as exc:
                errors.append(exc)
                return
            accepted.append(item)

    def consumer() -> None:
        start.wait()
        while True:
            try:
                received.append(queue.get_wait(timeout=10))
            except ta.QueueShutDown:
                return
            except BaseException as exc:
                errors.append(exc)
                return

    async def async_consumer() -> None:
        async for item in queue:
            received.append(item)

    consuming = runner.create_task(async_consumer())
    threads = [
        threading.Thread(target=producer, args=(0, False)),
        threading.Thread(target=producer, args=(1, True)),
        threading.Thread(target=consumer),
        threading.Thread(target=consumer),
    ]
    for thread in threads:
        thread.start()
    start.wait()
    for _ in range(seed % 7):  # shut down at a different moment each round
        time.sleep(0)
    queue.shutdown(immediate=False)
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive(), "a producer or consumer hung across the shutdown"
    consuming.wait(10)
    assert errors == []
    assert len(received) == len(set(received)), "an item was delivered twice"
    lost = set(accepted) - set(received)
    assert not lost, f"put returned normally but never delivered: {sorted(lost)[:5]}"
    assert set(received) <= set(accepted), "delivered an item whose put raised"


@pytest.mark.usefixtures("fast_switching")
@pytest.mark.parametrize("maxsize", [0, 1, 3])
def test_a_put_racing_shutdown_is_delivered_or_raises(maxsize: int) -> None:
    deadline = time.monotonic() + BOUND
    with ta.AsyncRunner(call_in_loop_timeout=10) as runner:
        for seed in range(ROUNDS):
            _round(runner, maxsize, seed)
            assert time.monotonic() < deadline, f"only {seed} rounds within {BOUND} s"


def test_put_raced_by_shutdown_in_one_coroutine_order() -> None:
    """Deterministic corner: shutdown lands between a put's check and its push (simulated
    by shutting down from the loop while a coroutine put waits for room)."""

    async def main() -> list[int]:
        queue: ta.Queue[int] = ta.Queue(maxsize=1)
        queue.put_nowait(1)
        putter = asyncio.ensure_future(queue.put(2))
        await asyncio.sleep(0)
        queue.shutdown()
        with pytest.raises(ta.QueueShutDown):
            await putter
        return [item async for item in queue]

    assert asyncio.run(main()) == [1]
