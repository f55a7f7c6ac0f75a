"""Combine signals: stop workers on a user cancel *or* a timeout (``|``), and wait until
*both* workers have stopped (``&``).
"""

# Mirrors: seed 004, "Signal Class" (combining with | and &)

from __future__ import annotations

import threaded_async as ta


def worker(name: str, please_stop: ta.Signal) -> str:
    ta.SupervisedThread.current().started()
    while not please_stop:
        please_stop.wait(1)  # do a slice of work, then look at please_stop again
    return f"{name} stopped"


def main() -> None:
    user_cancel = ta.Signal("user_cancel")
    deadline = ta.Till(seconds=360)

    def run(name: str, *, please_stop: ta.Signal) -> str:
        # The thread's own please_stop, the user's cancel, or the deadline: whichever first.
        return worker(name, please_stop | user_cancel | deadline)

    with ta.ThreadGroup() as group:
        a = group.start(run, "A", name="A", wait_started=True)
        b = group.start(run, "B", name="B", wait_started=True)
        both = a.stopped & b.stopped
        print("both stopped before cancel:", both.is_set())
        user_cancel.go()
        print("both stopped:", both.wait(5))
        print("deadline reached:", deadline.is_set())
        deadline.cancel()  # not needed any more: withdraw the timer
        print(a.join(5), "/", b.join(5))


if __name__ == "__main__":
    main()

# Expected output:
# both stopped before cancel: False
# both stopped: True
# deadline reached: False
# A stopped / B stopped
