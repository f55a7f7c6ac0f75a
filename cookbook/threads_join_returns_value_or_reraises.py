"""Run blocking work in a named, supervised thread; ``join()`` returns its value or
re-raises its exception in the parent, and ``release()`` hands failures to logging.

Every supervised thread receives a ``please_stop`` signal it is expected to honour; a join
that times out raises ``ThreadJoinTimeoutError`` instead of returning as if all were well.
"""

# Mirrors: seed 004, "join() vs release()"

from __future__ import annotations

import logging
import sys

import threaded_async as ta


def add(a: int, b: int, *, please_stop: ta.Signal) -> int:
    return a + b


def divide(a: int, b: int, *, please_stop: ta.Signal) -> float:
    return a / b


def wait_for_stop(*, please_stop: ta.Signal) -> str:
    please_stop.wait()
    return "stopped on request"


class OneLineFormatter(logging.Formatter):
    def formatException(self, ei: logging._SysExcInfoType) -> str:  # pyright: ignore[reportPrivateUsage]
        return f"  ({ei[1]!r})"


def main() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(OneLineFormatter("log: %(message)s"))
    logging.getLogger("threaded_async").addHandler(handler)

    # Declared and run in one line (mo-threads' Thread.run("name", function, p1, p2)).
    thread = ta.SupervisedThread("adder", add, 1, 2).start()
    print("join:", thread.join(timeout=5))

    failing = ta.SupervisedThread("divider", divide, 1, 0).start()
    try:
        failing.join(timeout=5)
    except ZeroDivisionError as exc:
        print("join re-raised:", repr(exc))

    released = ta.SupervisedThread("released", divide, 2, 0).start()
    released.release()  # nobody will join: its failure is logged, not lost
    released.stopped.wait(5)

    waiter = ta.SupervisedThread("waiter", wait_for_stop).start()
    try:
        waiter.join(timeout=0.01)
    except ta.ThreadJoinTimeoutError:
        print("join timed out: reported, not ignored")
    waiter.stop()
    print("join:", waiter.join(timeout=5))


if __name__ == "__main__":
    main()

# Expected output:
# join: 3
# join re-raised: ZeroDivisionError('division by zero')
# log: released thread 'released' failed
#   (ZeroDivisionError('division by zero'))
# join timed out: reported, not ignored
# join: stopped on request
