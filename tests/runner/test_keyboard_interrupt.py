"""Ctrl-C: a main thread blocked in any wait gets KeyboardInterrupt promptly.

Each case runs a small program in a subprocess: its main thread blocks in one wait and
says so on stdout; the test then sends it SIGINT (what Ctrl-C does) and expects the
program to stop with KeyboardInterrupt — and the runner to close cleanly after it —
instead of hanging.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

BOUND = 20.0

PROGRAM = textwrap.dedent(
    """
    import asyncio
    import sys
    import threading
    import time

    import threaded_async as ta

    mode, timeout_text = sys.argv[1], sys.argv[2]
    timeout = None if timeout_text == "none" else float(timeout_text)

    async def forever():
        await asyncio.get_running_loop().create_future()

    async def never_idle():
        while True:
            await asyncio.sleep(0)

    with ta.AsyncRunner() as runner:
        queue = ta.Queue(runner, maxsize=1)
        future = ta.Future(runner)
        event = ta.Event(runner)
        task = runner.create_task(forever())
        waits = {
            "task.wait": lambda: task.wait(timeout),
            "run": lambda: runner.run(forever(), timeout),
            "get_wait": lambda: queue.get_wait(timeout),
            "put_wait": lambda: (queue.put_nowait(0), queue.put_wait(1, timeout)),
            "result_wait": lambda: future.result_wait(timeout),
            "event.wait": lambda: event.wait(timeout),
            "wait_until_idle": lambda: (
                runner.create_task(never_idle()), runner.wait_until_idle(timeout)
            ),
        }
        def announce():
            # Say "ready" only once the main thread is parked in the wait.
            while not runner.statistics().parked_threads:
                time.sleep(0.001)
            print("ready", flush=True)

        threading.Thread(target=announce, daemon=True).start()
        try:
            waits[mode]()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            raise
        finally:
            print("leaving", flush=True)
    """
)

MODES = [
    "task.wait",
    "run",
    "get_wait",
    "put_wait",
    "result_wait",
    "event.wait",
    "wait_until_idle",
]


def _interrupt(mode: str, timeout: str) -> tuple[int, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PROGRAM, mode, timeout],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first == "ready\n", first + (proc.stderr.read() if proc.stderr else "")
        # "ready" means the main thread is parked in the wait (see ``announce``).
        os.kill(proc.pid, signal.SIGINT)
        rest, err = proc.communicate(timeout=BOUND)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, first + rest, err


@pytest.mark.parametrize("mode", MODES)
def test_sigint_interrupts_a_main_thread_blocked_forever(mode: str) -> None:
    code, out, err = _interrupt(mode, "none")
    assert out.splitlines() == ["ready", "interrupted", "leaving"], (out, err)
    assert "KeyboardInterrupt" in err
    assert code != 0
    assert "Traceback" in err
    # The runner closed cleanly after the interrupt: nothing else went wrong.
    assert "Error" not in err.replace("KeyboardInterrupt", ""), err


@pytest.mark.parametrize("mode", ["get_wait", "task.wait"])
def test_sigint_interrupts_a_wait_with_a_timeout(mode: str) -> None:
    code, out, err = _interrupt(mode, "600")
    assert out.splitlines() == ["ready", "interrupted", "leaving"], (out, err)
    assert "KeyboardInterrupt" in err
    assert code != 0
