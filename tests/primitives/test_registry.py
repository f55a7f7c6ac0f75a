"""RequestRegistry: register, wait, resolve from a reader thread, fail_all."""

from __future__ import annotations

import asyncio
import threading

import pytest

import threaded_async as ta
from threaded_async import PendingRequest, RegistryClosedError, RequestRegistry

WAIT = 10.0


def test_resolve_from_a_reader_thread_wakes_the_blocked_requester() -> None:
    reg: RequestRegistry[int, str] = RequestRegistry()
    pending = reg.register(7)
    assert 7 in reg
    assert len(reg) == 1
    reader = threading.Thread(target=reg.resolve, args=(7, "seven"))
    reader.start()
    assert pending.wait(WAIT) == "seven"
    reader.join()
    assert pending.done()
    assert 7 not in reg
    assert pending.wait(0) == "seven"  # waiting again returns the same reply


def test_request_helper_registers_before_sending() -> None:
    reg: RequestRegistry[str, int] = RequestRegistry()

    def send(pending: PendingRequest[str, int]) -> None:
        # the reply can even arrive before send() returns
        reg.resolve(pending.key, 42)

    assert reg.request("q", send, timeout=WAIT) == 42
    assert len(reg) == 0


def test_reply_of_none_is_a_reply() -> None:
    reg: RequestRegistry[int, None] = RequestRegistry()
    pending = reg.register(1)
    assert reg.resolve(1, None)
    assert pending.wait(0) is None


def test_reject_raises_in_the_waiter() -> None:
    reg: RequestRegistry[int, str] = RequestRegistry()
    pending = reg.register(1)
    assert reg.reject(1, KeyError("no such thing"))
    with pytest.raises(KeyError, match="no such thing"):
        pending.wait(WAIT)
    assert not reg.reject(1, KeyError("again"))
    with pytest.raises(TypeError):
        reg.reject(1, "not an exception")  # type: ignore[arg-type]


def test_duplicate_key_is_a_clear_error() -> None:
    reg: RequestRegistry[int, str] = RequestRegistry()
    reg.register(3)
    with pytest.raises(ValueError, match="already pending"):
        reg.register(3)
    reg.resolve(3, "x")
    reg.register(3)  # free again once answered


def test_unknown_and_late_replies_are_dropped() -> None:
    reg: RequestRegistry[int, str] = RequestRegistry()
    assert reg.resolve(99, "nobody asked") is False
    pending = reg.register(5)
    with pytest.raises(TimeoutError, match="reply to 5"):
        pending.wait(0.01)
    assert 5 in reg  # a timed-out wait keeps the request
    assert pending.discard()
    assert not pending.discard()
    assert reg.resolve(5, "late") is False


def test_request_timeout_discards_the_request() -> None:
    reg: RequestRegistry[int, str] = RequestRegistry()
    sent: list[int] = []
    with pytest.raises(ta.EventLoopTimeoutError):
        reg.request(1, lambda p: sent.append(p.key), timeout=0.01)
    assert sent == [1]
    assert 1 not in reg


def test_send_failure_discards_the_request() -> None:
    reg: RequestRegistry[int, str] = RequestRegistry()

    def broken_send(pending: PendingRequest[int, str]) -> None:
        raise OSError("socket closed")

    with pytest.raises(OSError, match="socket closed"):
        reg.request(1, broken_send, timeout=WAIT)
    assert len(reg) == 0


def test_fail_all_wakes_every_blocked_waiter_and_refuses_new_requests() -> None:
    reg: RequestRegistry[int, str] = RequestRegistry()
    n = 5
    pendings = [reg.register(i) for i in range(n)]
    errors: list[BaseException] = []
    parked = threading.Barrier(n + 1, timeout=WAIT)

    def requester(p: PendingRequest[int, str]) -> None:
        parked.wait()
        try:
            p.wait(WAIT)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=requester, args=(p,)) for p in pendings]
    for t in threads:
        t.start()
    parked.wait()
    cause = ConnectionError("reader died")
    assert reg.fail_all(cause) == n
    for t in threads:
        t.join(WAIT)
    assert len(errors) == n
    assert all(e is cause for e in errors)
    assert reg.closed
    with pytest.raises(RegistryClosedError, match="reader died") as info:
        reg.register(100)
    assert info.value.__cause__ is cause
    assert reg.fail_all(RuntimeError("second")) == 0
    assert reg.resolve(0, "too late") is False


def test_await_from_a_coroutine_on_the_runner(runner: ta.AsyncRunner) -> None:
    reg: RequestRegistry[str, int] = RequestRegistry()

    async def requester() -> int:
        pending = reg.register("a")
        asyncio.get_running_loop().call_soon(
            lambda: threading.Thread(target=reg.resolve, args=("a", 1)).start()
        )
        return await pending

    assert runner.run(requester()) == 1

    async def via_helper() -> int:
        def send(p: PendingRequest[str, int]) -> None:
            threading.Thread(target=reg.resolve, args=(p.key, 2)).start()

        return await reg.request_async("b", send)

    assert runner.run(via_helper()) == 2


def test_fail_all_wakes_async_waiters(runner: ta.AsyncRunner) -> None:
    reg: RequestRegistry[int, int] = RequestRegistry()
    pending = reg.register(1)

    async def waiter() -> int:
        return await pending.wait_async()

    task = runner.create_task(waiter())
    runner.wait_until_idle()
    reg.fail_all(EOFError("gone"))
    with pytest.raises(EOFError):
        task.wait(WAIT)


def test_cancelled_async_request_is_discarded(runner: ta.AsyncRunner) -> None:
    reg: RequestRegistry[int, int] = RequestRegistry()

    async def impatient() -> None:
        async with asyncio.timeout(0):
            await reg.request_async(1, lambda p: None)

    with pytest.raises(TimeoutError):
        runner.run(impatient())
    assert len(reg) == 0


def test_blocking_wait_on_a_loop_thread_is_refused(runner: ta.AsyncRunner) -> None:
    reg: RequestRegistry[int, int] = RequestRegistry()

    async def wrong() -> None:
        pending = reg.register(1)
        pending.wait(1)

    with pytest.raises(RuntimeError, match="await pending"):
        runner.run(wrong())
    assert "pending=1" in repr(reg)
    assert reg.pending_keys() == [1]
    assert "PendingRequest 2 pending" in repr(reg.register(2))
