"""Run by ``tests/envs/test_run_episodes_subprocess.py`` as ``python -m
tests._interrupt_child once|twice``: ``run_episodes(engine="process")`` on two workers
with slow episodes (each worker prints ``running <pid>`` once it runs one), which the
test interrupts with SIGINT. Prints ``interrupted`` when the KeyboardInterrupt reaches
this caller, then stays alive (the test looks for leftover workers meanwhile) until a
line comes on stdin, and exits by raising the KeyboardInterrupt again.

``twice``: the first kill, terminate or join of a worker process after the interrupt
(the cleanup) first sends this process a second SIGINT and prints ``second SIGINT``, as
a user pressing Ctrl-C again while waiting would.
"""

from __future__ import annotations

import os
import signal
import sys
from multiprocessing.process import BaseProcess
from typing import Any

from tests import _episode_fns as fns
from threaded_async.envs import run_episodes


def interrupt_again_during_cleanup() -> None:
    sent = False

    def wrap(name: str) -> None:
        original = getattr(BaseProcess, name)

        def wrapper(self: BaseProcess, *args: Any, **kwargs: Any) -> Any:
            nonlocal sent
            if not sent:
                sent = True
                print("second SIGINT", flush=True)
                os.kill(os.getpid(), signal.SIGINT)
            return original(self, *args, **kwargs)

        setattr(BaseProcess, name, wrapper)

    for name in ("kill", "terminate", "join"):
        wrap(name)


def main() -> None:
    if sys.argv[1:] == ["twice"]:
        interrupt_again_during_cleanup()
    try:
        run_episodes(fns.slow, range(4), engine="process", workers=2, timeout=None)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.stdin.readline()
        raise
    print("finished without an interrupt", flush=True)


if __name__ == "__main__":
    main()
