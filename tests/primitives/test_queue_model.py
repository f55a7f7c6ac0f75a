"""A stateful model test: Queue (bounded, unbounded, LIFO) against a plain deque.

Hypothesis drives random sequences of puts and gets from the thread face (``*_nowait``,
``*_wait``) and the coroutine face (``await put()/get()`` on the runner's loop), blocked
waiters on either face woken by the other, and ``shutdown`` (immediate or not); after
every step the queue must agree with the model: same items in the same order, same
errors. Deterministic: derandomized, no example database, bounded example counts.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import threaded_async as ta
from tests._support import wait_for

BOUND = 10.0
SETTINGS = settings(
    max_examples=50,
    stateful_step_count=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

items = st.integers(min_value=0, max_value=1_000)


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("ok", call())
    except ta.QueueShutDown:
        return ("shutdown", None)
    except ta.QueueEmpty:
        return ("empty", None)
    except ta.QueueFull:
        return ("full", None)
    except ta.EventLoopTimeoutError:
        return ("timeout", None)


class QueueModel(RuleBasedStateMachine):
    """Subclasses set the queue class and maxsize; ``runner`` is set by the test."""

    runner: ClassVar[ta.AsyncRunner]
    queue_class: ClassVar[type[ta.Queue[Any]]] = ta.Queue
    maxsize: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        self.queue: ta.Queue[int] = self.queue_class(self.runner, maxsize=self.maxsize)
        self.model: deque[int] = deque()
        self.shut = False

    # -- the model ----------------------------------------------------------------------
    def _full(self) -> bool:
        return 0 < self.maxsize <= len(self.model)

    def _model_put(self, item: int) -> tuple[str, Any]:
        if self.shut:
            return ("shutdown", None)
        if self._full():
            return ("full", None)
        self.model.append(item)
        return ("ok", None)

    def _model_take(self) -> int:
        return self.model.pop() if self.queue_class is ta.LifoQueue else self.model.popleft()

    def _model_get(self, empty: str) -> tuple[str, Any]:
        if self.model:
            return ("ok", self._model_take())
        if self.shut:
            return ("shutdown", None)
        return (empty, None)

    # -- the async face, run on the runner's loop ---------------------------------------
    def _run(self, coro_fn: Callable[[], Any]) -> tuple[str, Any]:
        async def body() -> tuple[str, Any]:
            try:
                return ("ok", await coro_fn())
            except ta.QueueShutDown:
                return ("shutdown", None)

        return self.runner.run(body(), BOUND)

    # -- rules: thread face ---------------------------------------------------------------
    @initialize(prefill=st.lists(items, max_size=3))
    def prefill(self, prefill: list[int]) -> None:
        for item in prefill:
            assert _outcome(lambda i=item: self.queue.put_nowait(i)) == self._model_put(item)

    @rule(item=items)
    def put_nowait(self, item: int) -> None:
        assert _outcome(lambda: self.queue.put_nowait(item)) == self._model_put(item)

    @rule()
    def get_nowait(self) -> None:
        expected = self._model_get("empty")
        assert _outcome(self.queue.get_nowait) == expected

    @rule(item=items)
    def put_wait_no_time(self, item: int) -> None:
        expected = self._model_put(item)
        if expected[0] == "full":
            expected = ("timeout", None)
        assert _outcome(lambda: self.queue.put_wait(item, 0)) == expected

    @rule()
    def get_wait_no_time(self) -> None:
        expected = self._model_get("timeout")
        assert _outcome(lambda: self.queue.get_wait(0)) == expected

    # -- rules: async face ----------------------------------------------------------------
    @precondition(lambda self: self.shut or not self._full())
    @rule(item=items)
    def async_put(self, item: int) -> None:
        expected = self._model_put(item)
        assert self._run(lambda: self.queue.put(item)) == expected

    @precondition(lambda self: self.shut or bool(self.model))
    @rule()
    def async_get(self) -> None:
        expected = self._model_get("never")
        assert self._run(self.queue.get) == expected

    # -- rules: a waiter on one face woken by the other ------------------------------------
    @precondition(lambda self: not self.shut and not self.model)
    @rule(item=items)
    def parked_coroutine_get_woken_by_thread_put(self, item: int) -> None:
        task = self.runner.create_task(self.queue.get())
        wait_for(lambda: self.queue.statistics().waiting_getters == 1, "a waiter to park")
        self.queue.put_nowait(item)
        assert task.wait(BOUND) == item

    @precondition(lambda self: not self.shut and not self.model)
    @rule(item=items)
    def parked_thread_get_woken_by_coroutine_put(self, item: int) -> None:
        got: list[int] = []
        t = threading.Thread(target=lambda: got.append(self.queue.get_wait(BOUND)))
        t.start()
        wait_for(lambda: self.queue.statistics().waiting_getters == 1, "a waiter to park")
        assert self._run(lambda: self.queue.put(item)) == ("ok", None)
        t.join(BOUND)
        assert got == [item]

    @precondition(lambda self: not self.shut and self._full())
    @rule(item=items)
    def parked_thread_put_woken_by_coroutine_get(self, item: int) -> None:
        result: list[tuple[str, Any]] = []
        t = threading.Thread(
            target=lambda: result.append(_outcome(lambda: self.queue.put_wait(item, BOUND)))
        )
        t.start()
        wait_for(lambda: self.queue.statistics().waiting_putters == 1, "a waiter to park")
        assert self._run(self.queue.get) == ("ok", self._model_take())
        t.join(BOUND)
        assert result == [("ok", None)]
        self.model.append(item)

    @precondition(lambda self: not self.shut and not self.model)
    @rule(immediate=st.booleans())
    def parked_getters_woken_by_shutdown(self, immediate: bool) -> None:
        result: list[tuple[str, Any]] = []
        t = threading.Thread(
            target=lambda: result.append(_outcome(lambda: self.queue.get_wait(BOUND)))
        )
        t.start()
        task = self.runner.create_task(self.queue.get())
        wait_for(lambda: self.queue.statistics().waiting_getters == 2, "a waiter to park")
        self.queue.shutdown(immediate)
        self.shut = True
        t.join(BOUND)
        assert result == [("shutdown", None)]
        with pytest.raises(ta.QueueShutDown):
            task.wait(BOUND)

    @rule(immediate=st.booleans())
    def shutdown(self, immediate: bool) -> None:
        self.queue.shutdown(immediate)
        self.shut = True
        if immediate:
            self.model.clear()

    # -- after every step -----------------------------------------------------------------
    @invariant()
    def agrees_with_the_model(self) -> None:
        queue = self.queue
        assert queue.qsize() == len(self.model)
        assert queue.empty() == (not self.model)
        assert queue.full() == self._full()
        assert queue.is_shutdown() == self.shut
        stats = queue.statistics()
        assert stats.waiting_getters == 0
        assert stats.waiting_putters == 0


class Unbounded(QueueModel):
    maxsize = 0


class BoundedOne(QueueModel):
    maxsize = 1


class BoundedThree(QueueModel):
    maxsize = 3


class Lifo(QueueModel):
    queue_class = ta.LifoQueue
    maxsize = 0


class LifoBounded(QueueModel):
    queue_class = ta.LifoQueue
    maxsize = 2


@pytest.mark.parametrize(
    "machine", [Unbounded, BoundedOne, BoundedThree, Lifo, LifoBounded], ids=lambda m: m.__name__
)
def test_queue_agrees_with_a_deque_model(machine: type[QueueModel]) -> None:
    with ta.AsyncRunner(call_in_loop_timeout=BOUND) as runner:
        machine.runner = runner
        run_state_machine_as_test(machine, settings=SETTINGS)
