"""One-shot signals: set once, wait from threads and coroutines, combine, Till timeouts."""

from __future__ import annotations

import asyncio
import threading

import pytest

import threaded_async as ta


def test_go_is_one_shot_and_bool() -> None:
    s = ta.Signal("done")
    assert not s
    assert not s.is_set()
    s.go()
    s.go()
    assert s
    assert s.is_set()
    assert s.wait(0) is True


def test_wait_times_out_with_false() -> None:
    assert ta.Signal().wait(0.01) is False


def test_wait_is_woken_by_another_thread() -> None:
    s = ta.Signal()
    entered = threading.Event()
    got: list[bool] = []

    def waiter() -> None:
        entered.set()
        got.append(s.wait(10))

    t = threading.Thread(target=waiter)
    t.start()
    entered.wait(10)
    s.go()
    t.join(10)
    assert got == [True]


def test_await_from_a_foreign_loop_set_by_a_thread() -> None:
    s = ta.Signal()

    async def main() -> str:
        threading.Thread(target=s.go).start()
        await s
        await s.wait_async()  # already set: returns at once
        return "woken"

    assert asyncio.run(main()) == "woken"


def test_then_runs_once_and_immediately_when_already_set() -> None:
    s = ta.Signal()
    calls: list[str] = []
    s.then(lambda: calls.append("a")).then(lambda: calls.append("b"))
    s.go()
    s.go()
    s.then(lambda: calls.append("late"))
    assert calls == ["a", "b", "late"]


def test_failing_then_callback_does_not_stop_others() -> None:
    s = ta.Signal()
    calls: list[str] = []

    def boom() -> None:
        raise ValueError("boom")

    s.then(boom).then(lambda: calls.append("ran"))
    with pytest.raises(ValueError, match="boom"):
        s.go()
    assert calls == ["ran"]
    assert s.is_set()


def test_or_and_combinators() -> None:
    a, b = ta.Signal("a"), ta.Signal("b")
    either, both = a | b, a & b
    assert not either
    assert not both
    b.go()
    assert either
    assert not both
    a.go()
    assert both


def test_wait_on_a_loop_thread_is_refused() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="await signal"):
            ta.Signal().wait(1)

    asyncio.run(main())


def test_till_fires_and_timer_thread_ends() -> None:
    till = ta.Till(seconds=0.01)
    assert till.wait(10)
    _assert_timer_thread_gone()


def test_till_combined_with_a_cancel_signal() -> None:
    user_cancel = ta.Signal("cancel")
    long = ta.Till(seconds=3600)
    please_stop = user_cancel | long
    user_cancel.go()
    assert please_stop.wait(10)
    assert not long
    long.cancel()
    _assert_timer_thread_gone()


def test_till_in_the_past_is_already_set_and_arguments_checked() -> None:
    assert ta.Till(seconds=0)
    with pytest.raises(TypeError):
        ta.Till()


def _assert_timer_thread_gone() -> None:
    for t in threading.enumerate():
        if t.name == "threaded_async-timer":
            t.join(10)
            assert not t.is_alive()
