"""Events and futures that both a thread and a coroutine can wait on.

``Event(runner)``: the main thread ``set()``s it and a coroutine waiting on
``as_async_event()`` wakes; ``wait(timeout)`` blocks a thread. ``set()`` and ``is_set()``
from a thread run on the loop (as in 1.4), so the woken coroutine has already run by the
time ``is_set()`` returns. ``Future[T](runner)``: a
coroutine ``await``s ``result()`` while the main thread calls ``set_result``; or the other
way round with ``result_wait()``.
"""

# Mirrors: seed 001, "synchronization primitives: Event, Queue and Future"

from __future__ import annotations

import threaded_async


def main() -> None:
    with threaded_async.AsyncRunner() as runner:
        go = threaded_async.Event(runner)
        answer = threaded_async.Future[str](runner)
        reply = threaded_async.Future[str](runner)

        async def coroutine_side() -> None:
            await go.as_async_event().wait()
            print("coroutine: got the go signal")
            question = await answer.result()
            print(f"coroutine: received {question!r}")
            reply.set_result(question.upper())

        task = runner.create_task(coroutine_side())
        print(f"thread: event set before? {go.is_set()}")
        go.set()
        print(f"thread: event set after? {go.is_set()}")
        answer.set_result("hello")
        print(f"thread: reply is {reply.result_wait(10)!r}")
        task.wait()
        print(f"thread: go.wait() returns {go.wait(0)}")


if __name__ == "__main__":
    main()

# Expected output:
# thread: event set before? False
# coroutine: got the go signal
# thread: event set after? True
# coroutine: received 'hello'
# thread: reply is 'HELLO'
# thread: go.wait() returns True
