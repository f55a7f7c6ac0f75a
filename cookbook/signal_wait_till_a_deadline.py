"""``Till``: a timeout that is a signal, so it can be waited on like ``sleep`` or
combined with other signals.
"""

# Mirrors: seed 004, "Till Class"

from __future__ import annotations

import time

import threaded_async as ta


def main() -> None:
    ta.Till(seconds=0.01).wait()
    print("slept via Till")

    soon = ta.Till(till=time.monotonic() + 0.01)  # an absolute (monotonic) deadline
    stop = ta.Signal("stop")
    print("first of stop | deadline:", (stop | soon).wait(5), "stop set:", stop.is_set())


if __name__ == "__main__":
    main()

# Expected output:
# slept via Till
# first of stop | deadline: True stop set: False
