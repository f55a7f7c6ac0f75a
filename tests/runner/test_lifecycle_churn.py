"""Starting and stopping runners over and over leaves nothing behind: no thread, no file
descriptor, no ResourceWarning — also under ``python -X dev -W error``."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import threaded_async as ta

CYCLES = 1_000
ROOT = Path(__file__).resolve().parents[2]


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _thread_idents() -> set[int | None]:
    return {t.ident for t in threading.enumerate()}


async def _work(queue: ta.Queue[int]) -> int:
    await queue.put(1)
    await asyncio.sleep(0)
    return await queue.get()


def test_a_thousand_start_stop_cycles_leave_nothing_behind() -> None:
    # Warm up once (imports, logging handlers, lazily created module state).
    with ta.AsyncRunner() as runner:
        runner.run(asyncio.sleep(0))
    gc.collect()
    fds_before = _fds()
    threads_before = _thread_idents()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(CYCLES):
            runner = ta.AsyncRunner(name=f"churn-{i}")
            if i % 2:
                runner.start()
                queue: ta.Queue[int] = ta.Queue(runner)
                assert runner.run(_work(queue), 10.0) == 1
                runner.create_task(asyncio.sleep(3600))  # cancelled by stop
                runner.stop()
            else:
                with runner:
                    assert runner.call_in_loop(lambda: 2, 10.0) == 2
            assert runner.shutdown_type == ta.ShutdownType.STOPPED
            assert not runner.is_running
        gc.collect()
    assert [str(w.message) for w in caught] == []
    leaked_threads = [
        t.name for t in threading.enumerate() if t.ident not in threads_before and t.is_alive()
    ]
    assert leaked_threads == []
    assert _fds() == fds_before


def test_async_with_churn_inside_another_loop_leaves_nothing_behind() -> None:
    async def cycles() -> None:
        for _ in range(50):
            async with ta.AsyncRunner() as runner:
                assert await asyncio.wrap_future(runner.submit(asyncio.sleep(0, "x"))) == "x"

    asyncio.run(cycles())  # warm-up: the outer loop's executor, imports
    gc.collect()
    fds_before = _fds()
    threads_before = _thread_idents()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(cycles())
        gc.collect()
    assert [str(w.message) for w in caught] == []
    assert _thread_idents() <= threads_before
    assert _fds() == fds_before


CHURN_SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, os, threading, time
    import threaded_async as ta

    def fds():
        return set(os.listdir("/proc/self/fd"))

    async def forever():
        await asyncio.get_running_loop().create_future()

    with ta.AsyncRunner() as r:
        r.run(asyncio.sleep(0))
    gc.collect()
    before, threads = fds(), threading.active_count()
    for i in range(100):
        with ta.AsyncRunner() as r:
            q = ta.Queue(r, maxsize=1)
            r.create_task(q.put(i))
            assert q.get_wait(10) == i
            r.create_task(forever())
    # A stuck loop, force-stopped; and a task created while it is stuck.
    r = ta.AsyncRunner(exit_timeout=0.2, log_forced_shutdown_stack_trace=False).start()
    stuck = threading.Event()
    def block():
        stuck.set()
        while True:
            time.sleep(0.002)
    r.call_soon(block)
    stuck.wait(10)
    t = r.create_task(forever())
    r.stop()
    assert r.shutdown_type == ta.ShutdownType.FORCE_STOPPED, r.shutdown_type
    try:
        t.wait(1)
    except asyncio.CancelledError:
        pass
    r._thread.join(10)  # the forced loop thread finishes its last line after closing
    del t, r
    gc.collect()
    assert fds() == before, (before, fds())
    assert threading.active_count() == threads, threading.enumerate()
    print("churn ok")
    """
)


def _run_dev(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_churn_script_is_clean_under_dev_mode_with_warnings_as_errors() -> None:
    """Dev mode: asyncio debug, ResourceWarning on; -W error: any warning is fatal, and an
    'Exception ignored' (a warning raised in a finalizer) shows on stderr."""
    proc = _run_dev(["-c", CHURN_SCRIPT], timeout=50)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "churn ok\n"
    assert "Warning" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr


def test_part_of_the_suite_passes_under_dev_mode() -> None:
    proc = _run_dev(
        [
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/primitives/test_cancel.py",
            "tests/primitives/test_queue_shutdown.py",
            "tests/runner/test_contextvars.py",
            "tests/primitives/test_fresh_primitives.py",
        ],
        timeout=55,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert " passed" in proc.stdout
    assert "Exception ignored" not in proc.stdout + proc.stderr
