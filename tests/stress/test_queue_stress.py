"""No item lost or duplicated, per-producer order kept, under forced thread switching.

8 producer threads put 100,000 items each into one bounded Queue (so producers also park
and get woken), released together by a barrier, with ``sys.setswitchinterval(1e-6)`` so
the interpreter switches threads as often as it can. Two coroutines on the runner's loop
and one plain thread consume. Afterwards: every item arrived exactly once, and each
consumer saw each producer's items in the order they were put.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator

import pytest

import threaded_async as ta

PRODUCERS = 8
ITEMS = 100_000
#: Items are ints: producer * STRIDE + sequence number.
STRIDE = 1_000_000
MAXSIZE = 1_000
BOUND = 120.0


@pytest.fixture
def forced_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)
    assert sys.getswitchinterval() == old


def _check_order(name: str, items: list[int]) -> None:
    last = [-1] * PRODUCERS
    for item in items:
        producer, seq = divmod(item, STRIDE)
        assert seq > last[producer], f"{name}: producer {producer} item {seq} after {last}"
        last[producer] = seq


def test_eight_producers_two_coroutines_and_a_thread_lose_nothing(
    forced_switching: None, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    with ta.AsyncRunner(call_in_loop_timeout=BOUND) as runner:
        queue: ta.Queue[int] = ta.Queue(runner, maxsize=MAXSIZE)
        barrier = threading.Barrier(PRODUCERS + 3, timeout=BOUND)
        errors: list[BaseException] = []

        def produce(producer: int) -> None:
            try:
                barrier.wait()
                base = producer * STRIDE
                put_wait = queue.put_wait
                put_nowait = queue.put_nowait
                for seq in range(ITEMS):
                    if seq % 2:
                        put_wait(base + seq, BOUND)
                    else:
                        try:
                            put_nowait(base + seq)
                        except ta.QueueFull:
                            put_wait(base + seq, BOUND)
            except BaseException as exc:
                errors.append(exc)

        async def consume_async() -> list[int]:
            got: list[int] = []
            await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
            try:
                while True:
                    got.append(await queue.get())
            except ta.QueueShutDown:
                return got

        thread_got: list[int] = []

        def consume_thread() -> None:
            try:
                barrier.wait()
                append = thread_got.append
                get_wait = queue.get_wait
                while True:
                    append(get_wait(BOUND))
            except ta.QueueShutDown:
                pass
            except BaseException as exc:
                errors.append(exc)

        consumers = [runner.create_task(consume_async()) for _ in range(2)]
        threads = [threading.Thread(target=produce, args=(p,)) for p in range(PRODUCERS)]
        reader = threading.Thread(target=consume_thread)
        for t in [*threads, reader]:
            t.start()
        for t in threads:
            t.join(BOUND)
        assert not any(t.is_alive() for t in threads), "a producer hung"
        queue.shutdown()  # not immediate: consumers drain what is left, then stop
        reader.join(BOUND)
        assert not reader.is_alive(), "the consumer thread hung"
        per_consumer = [c.wait(BOUND) for c in consumers] + [thread_got]
    elapsed = time.perf_counter() - started
    assert not errors, errors

    total = sum(len(items) for items in per_consumer)
    assert total == PRODUCERS * ITEMS, f"{total} items delivered"
    everything = {item for items in per_consumer for item in items}
    expected = {p * STRIDE + s for p in range(PRODUCERS) for s in range(ITEMS)}
    assert everything == expected  # with the count above: each exactly once
    for name, items in zip(["coroutine-1", "coroutine-2", "thread"], per_consumer, strict=True):
        _check_order(name, items)
    # Every kind of consumer took part (a starved face would hide bugs on that path).
    assert all(per_consumer), [len(items) for items in per_consumer]
    with capsys.disabled():
        shares = "/".join(str(len(items)) for items in per_consumer)
        print(f"\n[stress] {total} items in {elapsed:.1f}s, consumer shares {shares}")
