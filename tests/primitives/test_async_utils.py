"""threaded_async.async_utils (1.4): wait_for_or_cancel and run_or_raise."""

from __future__ import annotations

import asyncio

import pytest

from threaded_async.async_utils import run_or_raise, wait_for_or_cancel


async def _value(v: int) -> int:
    await asyncio.sleep(0)
    return v


async def _forever() -> int:
    await asyncio.Event().wait()
    return 0


def test_wait_for_or_cancel_returns_the_result() -> None:
    async def main() -> int:
        return await wait_for_or_cancel(_value(5), asyncio.Event())

    assert asyncio.run(main()) == 5


def test_wait_for_or_cancel_cancels_when_the_event_is_set() -> None:
    saw: list[str] = []

    async def watched() -> int:
        try:
            return await _forever()
        except asyncio.CancelledError:
            saw.append("cancelled")
            raise

    async def main() -> None:
        cancel = asyncio.Event()
        asyncio.get_running_loop().call_soon(cancel.set)
        with pytest.raises(asyncio.CancelledError):
            await wait_for_or_cancel(watched(), cancel)

    asyncio.run(main())
    assert saw == ["cancelled"]


def test_wait_for_or_cancel_times_out() -> None:
    async def main() -> None:
        with pytest.raises(TimeoutError):
            await wait_for_or_cancel(_forever(), asyncio.Event(), timeout=0.01)

    asyncio.run(main())


def test_wait_for_or_cancel_propagates_errors() -> None:
    async def boom() -> int:
        raise KeyError("x")

    async def main() -> None:
        with pytest.raises(KeyError):
            await wait_for_or_cancel(boom(), asyncio.Event(), timeout=5)

    asyncio.run(main())


def test_run_or_raise_returns_the_result() -> None:
    async def main() -> int:
        return await run_or_raise(_value(3), _forever())

    assert asyncio.run(main()) == 3


def test_run_or_raise_reraises_and_cancels() -> None:
    saw: list[str] = []

    async def work() -> int:
        try:
            return await _forever()
        except asyncio.CancelledError:
            saw.append("work cancelled")
            raise

    async def watchdog() -> None:
        await asyncio.sleep(0)
        raise ConnectionError("lost")

    async def main() -> None:
        with pytest.raises(ConnectionError, match="lost"):
            await run_or_raise(work(), watchdog())

    asyncio.run(main())
    assert saw == ["work cancelled"]


def test_run_or_raise_watcher_finishing_quietly_still_returns() -> None:
    async def quiet() -> None:
        return None

    async def slow_value() -> int:
        for _ in range(3):
            await asyncio.sleep(0)
        return 9

    async def main() -> int:
        return await run_or_raise(slow_value(), quiet())

    assert asyncio.run(main()) == 9
