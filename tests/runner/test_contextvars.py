"""contextvars set in the calling thread are visible in what it runs on the loop."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable

import threaded_async as ta

BOUND = 10.0

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


async def read_var() -> str:
    await asyncio.sleep(0)
    return request_id.get()


def read_var_sync() -> str:
    return request_id.get()


def _in_thread(fn: Callable[[], object]) -> object:
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join(BOUND)
    return out[0]


def test_run_sees_the_callers_context(runner: ta.AsyncRunner) -> None:
    token = request_id.set("main")
    try:
        assert runner.run(read_var(), BOUND) == "main"
    finally:
        request_id.reset(token)
    assert runner.run(read_var(), BOUND) == "unset"


def test_create_task_sees_the_callers_context(runner: ta.AsyncRunner) -> None:
    token = request_id.set("task")
    try:
        task = runner.create_task(read_var())
    finally:
        request_id.reset(token)
    assert task.wait(BOUND) == "task"  # captured at create_task time


def test_call_in_loop_sees_the_callers_context(runner: ta.AsyncRunner) -> None:
    token = request_id.set("call")
    try:
        assert runner.call_in_loop(read_var_sync, BOUND) == "call"
    finally:
        request_id.reset(token)


def test_submit_and_call_soon_see_the_callers_context(runner: ta.AsyncRunner) -> None:
    seen: list[str] = []
    done = threading.Event()

    def record() -> None:
        seen.append(request_id.get())
        done.set()

    token = request_id.set("soon")
    try:
        future = runner.submit(read_var())
        runner.call_soon(record)
    finally:
        request_id.reset(token)
    assert future.result(BOUND) == "soon"
    assert done.wait(BOUND)
    assert seen == ["soon"]


def test_each_thread_brings_its_own_context(runner: ta.AsyncRunner) -> None:
    def from_thread(value: str) -> Callable[[], object]:
        def body() -> object:
            request_id.set(value)
            return (
                runner.run(read_var(), BOUND),
                runner.create_task(read_var()).wait(BOUND),
                runner.call_in_loop(read_var_sync, BOUND),
            )

        return body

    assert _in_thread(from_thread("a")) == ("a", "a", "a")
    assert _in_thread(from_thread("b")) == ("b", "b", "b")
    assert request_id.get() == "unset"


def test_changes_on_the_loop_do_not_leak_back(runner: ta.AsyncRunner) -> None:
    async def change() -> str:
        request_id.set("changed on loop")
        return request_id.get()

    token = request_id.set("caller")
    try:
        assert runner.run(change(), BOUND) == "changed on loop"
        assert request_id.get() == "caller"
        assert runner.run(read_var(), BOUND) == "caller"
    finally:
        request_id.reset(token)
