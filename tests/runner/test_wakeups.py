"""Never hang: every thread blocked on a runner wakes when the runner closes or its loop dies.

Each wake-up path (``BackgroundTask.wait``, ``run``, ``Queue.get_wait``/``put_wait``,
``Future.result_wait``, ``Event.wait``, ``Server.process``, ``wait_until_idle``) is tested
with TWO threads parked in it at the moment the runner closes, for each way a runner can
close: an orderly stop, a forced stop of a stuck loop, and an exception escaping the loop
(the loop thread dies). Every parked thread must wake within a second of the close with
``CancelledError`` (where threaded_async 1.4 gives it: a waited-on task) or
``RunnerClosedError``. A lost wake-up would hang forever, so the join bound catches it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import threaded_async as ta
from tests._support import wait_for

#: The guarantee: parked threads wake within a second of the runner closing.
WAKE_BOUND = 1.0
#: How long a test waits for its threads to park (only ever reached on a failure).
PARK_BOUND = 10.0


class LoopKiller(SystemExit):
    """Escapes ``run_forever`` (asyncio re-raises SystemExit), killing the loop thread."""


async def _forever() -> None:
    await asyncio.get_running_loop().create_future()


async def _poller() -> None:
    """Keeps the loop from ever being idle until cancelled (a client polling with sleep(0))."""
    while True:
        await asyncio.sleep(0)


@dataclass
class Blocked:
    """Threads parked in one blocking call; records what each one raised."""

    call: Callable[[], object]
    count: int = 2
    errors: list[BaseException | None] = field(default_factory=lambda: [])
    threads: list[threading.Thread] = field(default_factory=lambda: [])
    woke_at: list[float] = field(default_factory=lambda: [])
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _body(self) -> None:
        try:
            self.call()
        except BaseException as exc:
            outcome: BaseException | None = exc
        else:
            outcome = None
        with self._lock:
            self.errors.append(outcome)
            self.woke_at.append(time.monotonic())

    def start(self) -> None:
        for i in range(self.count):
            t = threading.Thread(target=self._body, name=f"blocked-{i}", daemon=True)
            self.threads.append(t)
            t.start()

    def join(self, closed_at: float) -> list[BaseException | None]:
        for t in self.threads:
            t.join(WAKE_BOUND + 5.0)  # generous: a lost wake-up never returns at all
        alive = [t.name for t in self.threads if t.is_alive()]
        assert not alive, f"threads still blocked after the runner closed: {alive}"
        late = [round(w - closed_at, 3) for w in self.woke_at if w - closed_at > WAKE_BOUND]
        assert not late, f"woke later than {WAKE_BOUND}s after close: {late}"
        return list(self.errors)


# -- the wake-up paths -------------------------------------------------------------------
# Each path builds the blocking call for a running runner. ``expected`` is the exception
# type every parked thread must see.


@dataclass
class WaitPath:
    name: str
    make: Callable[[ta.AsyncRunner], Callable[[], object]]
    expected: type[BaseException]


def _task_wait(runner: ta.AsyncRunner) -> Callable[[], object]:
    task = runner.create_task(_forever())
    return lambda: task.wait(None)


def _run(runner: ta.AsyncRunner) -> Callable[[], object]:
    return lambda: runner.run(_forever(), None)


def _get_wait(runner: ta.AsyncRunner) -> Callable[[], object]:
    queue: ta.Queue[int] = ta.Queue(runner)
    return lambda: queue.get_wait(None)


def _put_wait(runner: ta.AsyncRunner) -> Callable[[], object]:
    queue: ta.Queue[int] = ta.Queue(runner, maxsize=1)
    queue.put_nowait(0)
    return lambda: queue.put_wait(1, None)


def _result_wait(runner: ta.AsyncRunner) -> Callable[[], object]:
    future: ta.Future[int] = ta.Future(runner)
    return lambda: future.result_wait(None)


def _event_wait(runner: ta.AsyncRunner) -> Callable[[], object]:
    event = ta.Event(runner)
    return lambda: event.wait(None)


def _process(runner: ta.AsyncRunner) -> Callable[[], object]:
    server = ta.Server(runner=runner)
    return lambda: server.process(None)


def _wait_until_idle(runner: ta.AsyncRunner) -> Callable[[], object]:
    return lambda: runner.wait_until_idle(None)


PATHS = [
    WaitPath("BackgroundTask.wait", _task_wait, asyncio.CancelledError),
    WaitPath("AsyncRunner.run", _run, asyncio.CancelledError),
    WaitPath("Queue.get_wait", _get_wait, ta.RunnerClosedError),
    WaitPath("Queue.put_wait", _put_wait, ta.RunnerClosedError),
    WaitPath("Future.result_wait", _result_wait, ta.RunnerClosedError),
    WaitPath("Event.wait", _event_wait, ta.RunnerClosedError),
    WaitPath("Server.process", _process, ta.RunnerClosedError),
    WaitPath("AsyncRunner.wait_until_idle", _wait_until_idle, ta.RunnerClosedError),
]
PATH_IDS = [p.name for p in PATHS]


def _parked(runner: ta.AsyncRunner, count: int) -> bool:
    return runner.statistics().parked_threads >= count


def _check(errors: list[BaseException | None], path: WaitPath) -> None:
    assert len(errors) == 2
    for exc in errors:
        assert isinstance(exc, path.expected), f"{path.name}: got {exc!r}"
        if isinstance(exc, ta.RunnerClosedError):
            assert "closed" in str(exc) or "died" in str(exc), str(exc)


@pytest.fixture
def quiet_runner() -> Iterator[ta.AsyncRunner]:
    runner = ta.AsyncRunner(exit_timeout=0.3, log_forced_shutdown_stack_trace=False)
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()


# -- orderly stop --------------------------------------------------------------------------


# Server.process() is left out here: during an orderly stop the loop is allowed to catch
# up, and a process() that sees it catch up answers False as usual (it cannot stay parked
# through the stop's own catch-up, which has the same iteration bound). It is covered by
# the forced-stop and loop-death tests, where the loop never catches up.
ORDERLY_PATHS = [p for p in PATHS if p.name != "Server.process"]


@pytest.mark.parametrize("path", ORDERLY_PATHS, ids=[p.name for p in ORDERLY_PATHS])
def test_orderly_stop_wakes_two_blocked_threads(path: WaitPath) -> None:
    # A generous exit_timeout: the stop must be orderly even on a loaded machine.
    runner = ta.AsyncRunner(exit_timeout=5.0)
    runner.start()
    # A loop that never goes idle keeps wait_until_idle() parked too.
    runner.create_task(_poller())
    blocked = Blocked(path.make(runner))
    blocked.start()
    wait_for(lambda: _parked(runner, 2), "two threads to park")
    runner.stop()
    closed_at = time.monotonic()
    assert runner.shutdown_type == ta.ShutdownType.STOPPED
    _check(blocked.join(closed_at), path)


# -- forced stop of a stuck loop -----------------------------------------------------------


@pytest.mark.parametrize("path", PATHS, ids=PATH_IDS)
def test_forced_stop_wakes_two_blocked_threads(
    quiet_runner: ta.AsyncRunner, path: WaitPath
) -> None:
    runner = quiet_runner
    blocked = Blocked(path.make(runner))
    stuck = threading.Event()

    def block_the_loop() -> None:
        stuck.set()
        while True:  # stuck in blocking code; only ForcedThreadShutdown gets it out
            time.sleep(0.002)

    runner.call_soon(block_the_loop)
    assert stuck.wait(PARK_BOUND)
    blocked.start()
    wait_for(lambda: _parked(runner, 2), "two threads to park")
    runner.stop()
    closed_at = time.monotonic()
    assert runner.shutdown_type == ta.ShutdownType.FORCE_STOPPED
    _check(blocked.join(closed_at), path)


# -- an exception escapes the loop: the loop thread dies ----------------------------------


@pytest.mark.parametrize("path", PATHS, ids=PATH_IDS)
def test_loop_thread_death_wakes_two_blocked_threads(
    quiet_runner: ta.AsyncRunner, path: WaitPath, caplog: pytest.LogCaptureFixture
) -> None:
    runner = quiet_runner
    blocked = Blocked(path.make(runner))
    gate = threading.Event()

    def die_when_told() -> None:
        while not gate.is_set():  # keeps the loop busy: process()/idle waits stay parked
            time.sleep(0.002)
        raise LoopKiller("boom")

    runner.call_soon(die_when_told)
    blocked.start()
    wait_for(lambda: _parked(runner, 2), "two threads to park")
    closed = threading.Event()
    runner.add_stop_callback(closed.set)
    gate.set()
    assert closed.wait(PARK_BOUND), "the runner did not close after its loop thread died"
    closed_at = time.monotonic()
    errors = blocked.join(closed_at)
    _check(errors, path)
    assert not runner.is_running
    assert "died" in caplog.text
    for exc in errors:
        if isinstance(exc, ta.RunnerClosedError):
            assert isinstance(exc.__cause__, LoopKiller | ta.RunnerClosedError), exc.__cause__


@pytest.mark.stdlib_loop  # uvloop: wait_until_idle does not park on a never-idle loop
def test_all_paths_blocked_at_once_wake_on_orderly_stop() -> None:
    """Fourteen threads parked in seven different calls all wake from one close."""
    runner = ta.AsyncRunner(exit_timeout=5.0)
    runner.start()
    runner.create_task(_poller())
    groups = [(path, Blocked(path.make(runner))) for path in ORDERLY_PATHS]
    for _, group in groups:
        group.start()
    wait_for(lambda: _parked(runner, 2 * len(ORDERLY_PATHS)), "every thread to park")
    runner.stop()
    closed_at = time.monotonic()
    for path, group in groups:
        _check(group.join(closed_at), path)


# -- calls after close ---------------------------------------------------------------------


def _after_close_calls(
    runner: ta.AsyncRunner,
    queue: ta.Queue[int],
    future: ta.Future[int],
    event: ta.Event,
    server: ta.Server,
) -> dict[str, Callable[[], object]]:
    def create_task() -> object:
        coro = _forever()
        try:
            return runner.create_task(coro)
        finally:
            coro.close()

    def run() -> object:
        coro = _forever()
        try:
            return runner.run(coro, None)
        finally:
            coro.close()

    def submit() -> object:
        coro = _forever()
        try:
            return runner.submit(coro)
        finally:
            coro.close()

    return {
        "create_task": create_task,
        "run": run,
        "submit": submit,
        "call_in_loop": lambda: runner.call_in_loop(lambda: 1, None),
        "call_soon": lambda: runner.call_soon(lambda: None),
        "wait_for_next_eventloop_iteration": lambda: runner.wait_for_next_eventloop_iteration(None),
        "wait_until_idle": lambda: runner.wait_until_idle(None),
        "Queue.get_wait": lambda: queue.get_wait(None),
        "Queue.put_wait": lambda: queue.put_wait(1, None),
        "Queue.get_nowait": queue.get_nowait,
        "Queue.put_nowait": lambda: queue.put_nowait(1),
        "Future.result_wait": lambda: future.result_wait(None),
        "Future.set_result": lambda: future.set_result(1),
        "Event.wait": lambda: event.wait(None),
        "Event.set": lambda: event.set(None),
        "Server.process": lambda: server.process(None),
        "Server.process_all": lambda: server.process_all(None),
    }


@pytest.mark.parametrize("how", ["stopped", "forced", "died"])
def test_calls_after_close_raise_runner_closed_at_once(how: str) -> None:
    runner = ta.AsyncRunner(exit_timeout=0.3, log_forced_shutdown_stack_trace=False)
    runner.start()
    queue: ta.Queue[int] = ta.Queue(runner)
    queue.put_nowait(7)  # an item left behind must not be handed out after close
    future: ta.Future[int] = ta.Future(runner)
    event = ta.Event(runner)
    server = ta.Server(runner=runner)
    if how == "forced":
        stuck = threading.Event()

        def block_the_loop() -> None:
            stuck.set()
            while True:
                time.sleep(0.002)

        runner.call_soon(block_the_loop)
        assert stuck.wait(PARK_BOUND)
        runner.stop()
        assert runner.shutdown_type == ta.ShutdownType.FORCE_STOPPED
    elif how == "died":
        closed = threading.Event()
        runner.add_stop_callback(closed.set)

        def die() -> None:
            raise LoopKiller("boom")

        runner.call_soon(die)
        assert closed.wait(PARK_BOUND)
        runner.stop()  # stopping a dead runner is allowed and does not hang
    else:
        runner.stop()
    assert not runner.is_running
    wrong: dict[str, str] = {}
    for name, call in _after_close_calls(runner, queue, future, event, server).items():
        started = time.monotonic()
        try:
            result = call()
        except ta.RunnerClosedError:
            if time.monotonic() - started > WAKE_BOUND:
                wrong[name] = "raised RunnerClosedError, but not at once"
        except BaseException as exc:
            wrong[name] = f"raised {exc!r}"
        else:
            wrong[name] = f"returned {result!r}"
    assert not wrong, wrong
    runner.stop()  # idempotent


def test_calls_before_start_raise_runner_closed() -> None:
    runner = ta.AsyncRunner()
    with pytest.raises(ta.RunnerClosedError, match="not been started"):
        runner.call_in_loop(lambda: 1)
    coro = _forever()
    with pytest.raises(ta.RunnerClosedError, match="not been started"):
        runner.create_task(coro)
    assert coro.cr_frame is None  # the refused coroutine was closed: no "never awaited"
    with pytest.raises(ta.RunnerClosedError, match="not been started"):
        runner.wait_until_idle(None)
    runner.stop()
    with pytest.raises(ta.RunnerClosedError, match="closed"):
        runner.call_in_loop(lambda: 1)


def test_done_task_result_is_still_readable_after_close() -> None:
    """What finished before the close keeps its result (1.4: ``wait`` on a done task)."""
    with ta.AsyncRunner() as runner:

        async def answer() -> int:
            return 42

        task = runner.create_task(answer())
        assert task.wait(None) == 42
    assert task.wait(None) == 42
    assert task.done()


def test_task_pending_at_close_raises_cancelled_for_late_waiters() -> None:
    with ta.AsyncRunner() as runner:
        task = runner.create_task(_forever())
    assert task.done()
    assert task.cancelled()
    with pytest.raises(asyncio.CancelledError):
        task.wait(None)


def test_client_pending_at_server_exit_sees_cancelled() -> None:
    seen: list[str] = []

    async def client(server: ta.Server) -> None:
        try:
            await ta.Client(server).execute(print, "never answered")
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    with ta.Server() as server:
        task = server.create_background_task(client(server))
        assert len(server.pending) == 1
    assert seen == ["cancelled"]
    with pytest.raises(asyncio.CancelledError):
        task.wait(None)


# -- a hang fails loudly ---------------------------------------------------------------------

HANGING_TEST = """
import threaded_async as ta


def test_hangs() -> None:
    with ta.AsyncRunner() as runner:
        ta.Queue(runner).get_wait(None)  # nobody ever puts: hangs
"""


def test_pytest_config_makes_a_hang_fail_with_every_threads_stack(tmp_path: Path) -> None:
    """The suite's pytest config has a per-test timeout and a faulthandler dump before it;
    run a hanging test under that config (with both shortened) and check that it fails
    and that the stacks of the main thread and of the loop thread are printed."""
    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert float(config["faulthandler_timeout"]) < float(config["timeout"])
    assert "error" in config["filterwarnings"]
    (tmp_path / "test_hang.py").write_text(HANGING_TEST)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            str(root / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "-o",
            "faulthandler_timeout=1",
            "-o",
            "timeout=2",
            str(tmp_path / "test_hang.py"),
        ],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Timeout (0:00:01)!" in out  # faulthandler's dump of every thread...
    assert out.count("Thread 0x") >= 2  # ...main thread and loop thread
    assert "in get_wait" in out  # where the main thread hangs
    assert "Failed: Timeout" in out  # pytest-timeout fails the test
    assert "Stack of threaded_async-" in out  # ...and names the loop thread


# -- closing while other threads keep calling -------------------------------------------------


def test_calls_racing_with_close_either_work_or_raise_runner_closed() -> None:
    """Threads hammer the runner while it stops: every call returns normally, or raises
    RunnerClosedError (or CancelledError for a task the close cancelled); none hangs."""

    async def tick() -> int:
        await asyncio.sleep(0)
        return 1

    for _ in range(20):
        runner = ta.AsyncRunner(exit_timeout=2.0)
        runner.start()
        queue: ta.Queue[int] = ta.Queue(runner)
        barrier = threading.Barrier(5, timeout=PARK_BOUND)
        unexpected: list[BaseException] = []

        def hammer(
            kind: int,
            q: ta.Queue[int] = queue,
            r: ta.AsyncRunner = runner,
            barrier: threading.Barrier = barrier,
            unexpected: list[BaseException] = unexpected,
        ) -> None:
            barrier.wait()
            try:
                while True:
                    if kind == 0:
                        r.run(tick(), PARK_BOUND)
                    elif kind == 1:
                        r.create_task(tick()).wait(PARK_BOUND)
                    elif kind == 2:
                        r.call_in_loop(lambda: None, PARK_BOUND)
                    else:
                        q.put_nowait(1)
                        q.get_wait(PARK_BOUND)
            except (ta.RunnerClosedError, asyncio.CancelledError):
                pass
            except BaseException as exc:
                unexpected.append(exc)

        threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        barrier.wait()
        runner.stop()
        for t in threads:
            t.join(PARK_BOUND)
        assert not any(t.is_alive() for t in threads), "a caller hung across the close"
        assert unexpected == []


def test_create_task_that_loses_the_race_with_close_closes_its_coroutine() -> None:
    """White box: reopen the window between the running check and the hand-off to a loop
    that has just closed; the call must raise RunnerClosedError, not the loop's
    RuntimeError, and must close the coroutine (no 'never awaited' warning)."""
    runner = ta.AsyncRunner()
    runner.start()
    runner.stop()
    token = runner._token  # pyright: ignore[reportPrivateUsage]  # white box: reopen the window
    token.closed = False
    token.running = True
    try:
        coro = _forever()
        with pytest.raises(ta.RunnerClosedError):
            runner.create_task(coro)
        assert coro.cr_frame is None
        with pytest.raises(ta.RunnerClosedError):
            runner.call_in_loop(lambda: None, None)
        with pytest.raises(ta.RunnerClosedError):
            runner.call_soon(lambda: None)
    finally:
        token.closed = True
        token.running = False


def test_stopping_a_runner_that_never_started_wakes_threads_blocked_on_its_queue() -> None:
    runner = ta.AsyncRunner()
    queue: ta.Queue[int] = ta.Queue(runner)
    errors: list[BaseException] = []
    parked = threading.Event()

    def consume() -> None:
        parked.set()
        try:
            queue.get_wait(None)
        except BaseException as exc:
            errors.append(exc)

    consumer = threading.Thread(target=consume)
    consumer.start()
    parked.wait(PARK_BOUND)
    wait_for(lambda: queue.statistics().waiting_getters == 1, "the consumer to park")
    runner.stop()
    consumer.join(WAKE_BOUND)
    assert not consumer.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], ta.RunnerClosedError)


# -- coroutines on other loops are woken at close too (issue 18) ---------------------------
def _await_on_another_loop(make: Callable[[ta.AsyncRunner], Awaitable[object]]) -> BaseException:
    """Await ``make(runner)`` in a coroutine of a fresh loop in this thread, stop the runner
    from a worker thread while it waits, and return what the await raised."""
    runner = ta.AsyncRunner()
    runner.start()

    async def main() -> BaseException:
        waiting = asyncio.ensure_future(make(runner))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not waiting.done()
        await asyncio.get_running_loop().run_in_executor(None, runner.stop)
        try:
            await asyncio.wait_for(waiting, PARK_BOUND)
        except BaseException as exc:
            return exc
        raise AssertionError("the await returned normally")

    return asyncio.run(main())


def _full_queue(runner: ta.AsyncRunner) -> ta.Queue[int]:
    queue: ta.Queue[int] = ta.Queue(runner, maxsize=1)
    queue.put_nowait(0)
    return queue


FOREIGN_AWAITS: dict[str, Callable[[ta.AsyncRunner], Awaitable[object]]] = {
    "Queue.get": lambda r: ta.Queue[int](r).get(),
    "Queue.put": lambda r: _full_queue(r).put(1),
    "Future.result": lambda r: ta.Future[int](r).result(),
    "await Future": lambda r: _awaited(ta.Future[int](r)),
    "Event.wait_async": lambda r: ta.Event(r).wait_async(),
}


async def _awaited(future: ta.Future[int]) -> int:
    return await future


@pytest.mark.parametrize("name", sorted(FOREIGN_AWAITS))
def test_a_coroutine_on_another_loop_is_woken_when_the_runner_closes(name: str) -> None:
    error = _await_on_another_loop(FOREIGN_AWAITS[name])
    assert isinstance(error, ta.RunnerClosedError), repr(error)
