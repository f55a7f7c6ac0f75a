"""Errors of background tasks: re-raised by wait(), or raised together at exit.

``BackgroundTask.wait()`` re-raises the task's exception. Exceptions that nobody retrieved
are raised from the runner's exit as one ``TAExceptionGroup`` (a builtin ``ExceptionGroup``,
so ``except*`` works), with 1.4's ``exceptions``, ``tracebacks`` and ``exception_details``.
"""

# Mirrors: seed 001, "More information: error handling"

from __future__ import annotations

import asyncio

import threaded_async
from threaded_async.threaded_async import TAExceptionGroup


async def divide(a: int, b: int) -> float:
    await asyncio.sleep(0)
    return a / b


async def fail(message: str) -> None:
    raise ValueError(message)


def main() -> None:
    # 1. wait() re-raises the task's exception (as often as it is called).
    with threaded_async.AsyncRunner() as runner:
        task = runner.create_task(divide(1, 0))
        for _ in range(2):
            try:
                task.wait()
            except ZeroDivisionError as exc:
                print(f"wait() raised ZeroDivisionError: {exc}")
    print("retrieved errors are not raised again at exit")

    # 2. Errors nobody retrieved come out of the with block as one group.
    try:
        with threaded_async.AsyncRunner() as runner:
            first = runner.create_task(fail("first"))
            second = runner.create_task(fail("second"))
            while not (first.done() and second.done()):
                runner.wait_for_next_eventloop_iteration()
    except TAExceptionGroup as group:
        print(f"exit raised {type(group).__name__} with {len(group.exceptions)} errors:")
        for details in sorted(group.exception_details, key=lambda d: str(d.exception)):
            last_line = details.traceback.strip().splitlines()[-1]
            print(f"  {last_line}")

    # 3. except* picks the errors by type.
    try:
        with threaded_async.AsyncRunner() as runner:
            task = runner.create_task(fail("picked by except*"))
            while not task.done():
                runner.wait_for_next_eventloop_iteration()
    except* ValueError as group:
        print(f"except* ValueError caught: {[str(e) for e in group.exceptions]}")


if __name__ == "__main__":
    main()

# Expected output:
# wait() raised ZeroDivisionError: division by zero
# wait() raised ZeroDivisionError: division by zero
# retrieved errors are not raised again at exit
# exit raised TAExceptionGroup with 2 errors:
#   ValueError: first
#   ValueError: second
# except* ValueError caught: ['picked by except*']
