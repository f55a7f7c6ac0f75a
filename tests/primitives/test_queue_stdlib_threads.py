"""CPython's ``queue`` conformance tests, run against the THREAD face of ``ta.Queue``,
``ta.LifoQueue`` and ``ta.PriorityQueue`` through :class:`StdQueue`, a thin adapter that
gives the ``queue.Queue`` API.

Ported from CPython 3.13.0, ``Lib/test/test_queue.py``
(https://github.com/python/cpython/blob/v3.13.0/Lib/test/test_queue.py, the file the
3.13.0 release ships). Copyright (c) 2001-2024 Python Software Foundation; All Rights
Reserved. Licensed under the PSF License Agreement
(https://docs.python.org/3/license.html#psf-license).

Changes made (one line per kind of change):

* ``queue.Queue(n)`` (Py and C classes) → ``StdQueue(ta.<Kind>(runner, n))`` on a started
  runner, and ``StdQueue(ta.<Kind>(maxsize=n))`` without one: one pytest class
  parametrized over kind x runner instead of the Py/C x Queue/Lifo/Priority subclasses
  (test_basic, which sleeps 0.8 s in its trigger threads, runs without a runner for
  ta.Queue only).
* ``q.put(x, block=False)`` / ``q.get(block=False)`` → adapter → ``put_nowait`` /
  ``get_nowait`` (ta has no ``block=`` parameter).
* ``q.put(x, timeout=t)`` / ``q.get(timeout=t)`` (and blocking calls without a timeout) →
  adapter → ``put_wait(x, t)`` / ``get_wait(t)``, ``None`` passed on as "no limit".
* A timed-out ``put_wait``/``get_wait`` raises ``ta.EventLoopTimeoutError`` (a
  ``TimeoutError``, 1.4's convention) → the adapter re-raises it as ``queue.Full`` /
  ``queue.Empty`` (``ta.QueueFull`` / ``ta.QueueEmpty``).
* ``q.maxsize = n`` (test_shrinking_queue) → adapter → the ``ta.Queue.maxsize`` setter.
* ``q.join()`` → adapter → ``join_wait(None)``; ``q.is_shutdown`` (an attribute in the
  stdlib) → adapter property → ``is_shutdown()``.
* ``timeout=-1`` → ``timeout=-2`` in test_negative_timeout_raises_exception: ``-1`` is
  ``ta.USE_DEFAULT_TIMEOUT`` ("the runner's default"); every other negative number is a
  ValueError.
* ``self.queue.Full`` / ``Empty`` → ``queue.Full`` / ``queue.Empty``; ``self.queue.ShutDown``
  → ``queue.ShutDown`` on 3.13+, ``ta.QueueShutDown`` before (ta raises the latter, which
  is a ``queue.ShutDown`` on 3.13).
* ``q.__class__.__name__`` → ``type(q.wrapped).__name__`` (the adapter's wrapped queue).
* unittest assertions → ``assert`` / ``pytest.raises`` (``match=`` on ValueError, for
  ruff); two nested ``if`` merged (ruff SIM102); ``self.fail`` → ``pytest.fail``;
  ``threading_helper.join_thread`` → the local ``join_thread`` (SHORT_TIMEOUT, 30 s).
* ``setUp`` → ``setup_method``; type annotations added.

Left out (one line each):

* ``CQueueTest``, ``CLifoQueueTest``, ``CPriorityQueueTest``, ``CFailingQueueTest``: test
  the C ``_queue`` accelerator; ta has one implementation.
* ``FailingQueueTest``: subclasses ``queue.Queue`` to override its ``_put``/``_get``
  hooks; that subclassing API belongs to the ``queue`` module's internals.
* ``BaseSimpleQueueTest`` / ``PySimpleQueueTest`` / ``CSimpleQueueTest`` (including
  ``test_is_default`` and ``test_reentrancy``): ta has no ``SimpleQueue``.
* ``BlockingTestMixin.do_exceptional_blocking_test``: only FailingQueueTest uses it.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar

import pytest

import threaded_async as ta

T = TypeVar("T")

if sys.version_info >= (3, 13):
    ShutDown = queue.ShutDown
else:
    ShutDown = ta.QueueShutDown
Full = queue.Full
Empty = queue.Empty

QUEUE_SIZE = 5
# Borrowed from test.support.
SHORT_TIMEOUT = 30.0


class StdQueue(Generic[T]):
    """The ``queue.Queue`` API on the thread face of a ta queue (see the module docstring)."""

    def __init__(self, wrapped: ta.Queue[T]) -> None:
        self.wrapped = wrapped

    @property
    def maxsize(self) -> float:
        return self.wrapped.maxsize

    @maxsize.setter
    def maxsize(self, value: float) -> None:
        self.wrapped.maxsize = value

    @property
    def unfinished_tasks(self) -> int:
        return self.wrapped.unfinished_tasks

    @property
    def is_shutdown(self) -> bool:
        return self.wrapped.is_shutdown()

    def qsize(self) -> int:
        return self.wrapped.qsize()

    def empty(self) -> bool:
        return self.wrapped.empty()

    def full(self) -> bool:
        return self.wrapped.full()

    def put(self, item: T, block: bool | int = True, timeout: float | None = None) -> None:
        if not block:
            self.wrapped.put_nowait(item)
            return
        try:
            self.wrapped.put_wait(item, timeout)
        except ta.EventLoopTimeoutError as exc:
            raise ta.QueueFull() from exc

    def get(self, block: bool | int = True, timeout: float | None = None) -> T:
        if not block:
            return self.wrapped.get_nowait()
        try:
            return self.wrapped.get_wait(timeout)
        except ta.EventLoopTimeoutError as exc:
            raise ta.QueueEmpty() from exc

    def put_nowait(self, item: T) -> None:
        self.wrapped.put_nowait(item)

    def get_nowait(self) -> T:
        return self.wrapped.get_nowait()

    def task_done(self) -> None:
        self.wrapped.task_done()

    def join(self) -> None:
        self.wrapped.join_wait(None)

    def shutdown(self, immediate: bool = False) -> None:
        self.wrapped.shutdown(immediate)


class MakeQueue(Protocol):
    """``self.type2test``: builds an adapted queue of the kind under test."""

    def __call__(self, maxsize: float = 0) -> StdQueue[Any]: ...


KINDS: dict[str, type[ta.Queue[Any]]] = {
    "Queue": ta.Queue,
    "LifoQueue": ta.LifoQueue,
    "PriorityQueue": ta.PriorityQueue,
}
PARAMS = [(kind, bound) for kind in KINDS for bound in (True, False)]
# test_basic sleeps 0.8 s: without a runner it runs for ta.Queue only.
BASIC_PARAMS = [(kind, bound) for kind, bound in PARAMS if bound or kind == "Queue"]


def _ids(params: list[tuple[str, bool]]) -> list[str]:
    return [f"{kind}-{'runner' if bound else 'no_runner'}" for kind, bound in params]


@pytest.fixture(params=PARAMS, ids=_ids(PARAMS))
def type2test(request: pytest.FixtureRequest) -> Iterator[MakeQueue]:
    kind_name, bound = request.param
    kind = KINDS[kind_name]
    if not bound:

        def make_unbound(maxsize: float = 0) -> StdQueue[Any]:
            return StdQueue(kind(maxsize=maxsize))

        yield make_unbound
        return
    with ta.AsyncRunner() as runner:

        def make_bound(maxsize: float = 0) -> StdQueue[Any]:
            return StdQueue(kind(runner, maxsize))

        yield make_bound


def qfull(q: StdQueue[Any]) -> bool:
    return q.maxsize > 0 and q.qsize() == q.maxsize


# Borrowed from test.support.threading_helper.
def join_thread(thread: threading.Thread, timeout: float | None = None) -> None:
    """Join a thread. Raise an AssertionError if the thread is still alive after timeout
    seconds."""
    if timeout is None:
        timeout = SHORT_TIMEOUT
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"failed to join the thread in {timeout:.1f} seconds")


# A thread to run a function that unclogs a blocked Queue.
class _TriggerThread(threading.Thread):
    def __init__(self, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.startedEvent = threading.Event()
        threading.Thread.__init__(self)

    def run(self) -> None:
        # The sleep isn't necessary, but is intended to give the blocking
        # function in the main thread a chance at actually blocking before
        # we unclog it.  But if the sleep is longer than the timeout-based
        # tests wait in their blocking functions, those tests will fail.
        # So we give them much longer timeout values compared to the
        # sleep here (I aimed at 10 seconds for blocking functions --
        # they should never actually wait that long - they should make
        # progress as soon as we call self.fn()).
        time.sleep(0.1)
        self.startedEvent.set()
        self.fn(*self.args)


# Execute a function that blocks, and in a separate thread, a function that
# triggers the release.  Returns the result of the blocking function.  Caution:
# block_func must guarantee to block until trigger_func is called, and
# trigger_func must guarantee to change queue state so that block_func can make
# enough progress to return.
def do_blocking_test(
    block_func: Callable[..., object],
    block_args: tuple[Any, ...],
    trigger_func: Callable[..., object],
    trigger_args: tuple[Any, ...],
) -> object:
    thread = _TriggerThread(trigger_func, trigger_args)
    thread.start()
    try:
        result = block_func(*block_args)
        # If block_func returned before our thread made the call, we failed!
        if not thread.startedEvent.is_set():
            pytest.fail(f"blocking function {block_func!r} appeared not to block")
        return result
    finally:
        join_thread(thread)  # make sure the thread terminates


class TestBaseQueue:
    """``BaseQueueTestMixin`` (run by the stdlib as QueueTest, LifoQueueTest and
    PriorityQueueTest): every test runs for each kind, with and without a runner."""

    cum: int
    cumlock: threading.Lock

    def setup_method(self) -> None:
        self.cum = 0
        self.cumlock = threading.Lock()

    def basic_queue_test(self, q: StdQueue[Any]) -> None:
        if q.qsize():
            raise RuntimeError("Call this function with an empty queue")
        assert q.empty()
        assert not q.full()
        # I guess we better check things actually queue correctly a little :)
        q.put(111)
        q.put(333)
        q.put(222)
        target_order = dict(
            Queue=[111, 333, 222], LifoQueue=[222, 333, 111], PriorityQueue=[111, 222, 333]
        )
        actual_order = [q.get(), q.get(), q.get()]
        assert actual_order == target_order[type(q.wrapped).__name__], (
            "Didn't seem to queue the correct data!"
        )
        for i in range(QUEUE_SIZE - 1):
            q.put(i)
            assert q.qsize(), "Queue should not be empty"
        assert not qfull(q), "Queue should not be full"
        last = 2 * QUEUE_SIZE
        full = 3 * 2 * QUEUE_SIZE
        q.put(last)
        assert qfull(q), "Queue should be full"
        assert not q.empty()
        assert q.full()
        try:
            q.put(full, block=0)
            pytest.fail("Didn't appear to block with a full queue")
        except Full:
            pass
        try:
            q.put(full, timeout=0.01)
            pytest.fail("Didn't appear to time-out with a full queue")
        except Full:
            pass
        # Test a blocking put
        do_blocking_test(q.put, (full,), q.get, ())
        do_blocking_test(q.put, (full, True, 10), q.get, ())
        # Empty it
        for _ in range(QUEUE_SIZE):
            q.get()
        assert not q.qsize(), "Queue should be empty"
        try:
            q.get(block=0)
            pytest.fail("Didn't appear to block with an empty queue")
        except Empty:
            pass
        try:
            q.get(timeout=0.01)
            pytest.fail("Didn't appear to time-out with an empty queue")
        except Empty:
            pass
        # Test a blocking get
        do_blocking_test(q.get, (), q.put, ("empty",))
        do_blocking_test(q.get, (True, 10), q.put, ("empty",))

    def worker(self, q: StdQueue[int]) -> None:
        while True:
            x = q.get()
            if x < 0:
                q.task_done()
                return
            with self.cumlock:
                self.cum += x
            q.task_done()

    def queue_join_test(self, q: StdQueue[int]) -> None:
        self.cum = 0
        threads: list[threading.Thread] = []
        for _ in (0, 1):
            thread = threading.Thread(target=self.worker, args=(q,))
            thread.start()
            threads.append(thread)
        for i in range(100):
            q.put(i)
        q.join()
        assert self.cum == sum(range(100)), "q.join() did not block until all tasks were done"
        for _ in (0, 1):
            q.put(-1)  # instruct the threads to close
        q.join()  # verify that you can join twice
        for thread in threads:
            thread.join()

    def test_queue_task_done(self, type2test: MakeQueue) -> None:
        # Test to make sure a queue task completed successfully.
        q = type2test()
        try:
            q.task_done()
        except ValueError:
            pass
        else:
            pytest.fail("Did not detect task count going negative")

    def test_queue_join(self, type2test: MakeQueue) -> None:
        # Test that a queue join()s successfully, and before anything else
        # (done twice for insurance).
        q = type2test()
        self.queue_join_test(q)
        self.queue_join_test(q)
        try:
            q.task_done()
        except ValueError:
            pass
        else:
            pytest.fail("Did not detect task count going negative")

    @pytest.mark.parametrize("type2test", BASIC_PARAMS, ids=_ids(BASIC_PARAMS), indirect=True)
    def test_basic(self, type2test: MakeQueue) -> None:
        # Do it a couple of times on the same queue.
        # Done twice to make sure works with same instance reused.
        q = type2test(QUEUE_SIZE)
        self.basic_queue_test(q)
        self.basic_queue_test(q)

    def test_negative_timeout_raises_exception(self, type2test: MakeQueue) -> None:
        q = type2test(QUEUE_SIZE)
        # ta change: -1 is ta.USE_DEFAULT_TIMEOUT, so the stdlib's -1 becomes -2.
        with pytest.raises(ValueError, match="timeout"):
            q.put(1, timeout=-2)
        with pytest.raises(ValueError, match="timeout"):
            q.get(1, timeout=-2)

    def test_nowait(self, type2test: MakeQueue) -> None:
        q = type2test(QUEUE_SIZE)
        for _ in range(QUEUE_SIZE):
            q.put_nowait(1)
        with pytest.raises(Full):
            q.put_nowait(1)

        for _ in range(QUEUE_SIZE):
            q.get_nowait()
        with pytest.raises(Empty):
            q.get_nowait()

    def test_shrinking_queue(self, type2test: MakeQueue) -> None:
        # issue 10110
        q = type2test(3)
        q.put(1)
        q.put(2)
        q.put(3)
        with pytest.raises(Full):
            q.put_nowait(4)
        assert q.qsize() == 3
        q.maxsize = 2  # shrink the queue
        with pytest.raises(Full):
            q.put_nowait(4)

    def test_shutdown_empty(self, type2test: MakeQueue) -> None:
        q = type2test()
        q.shutdown()
        with pytest.raises(ShutDown):
            q.put("data")
        with pytest.raises(ShutDown):
            q.get()

    def test_shutdown_nonempty(self, type2test: MakeQueue) -> None:
        q = type2test()
        q.put("data")
        q.shutdown()
        q.get()
        with pytest.raises(ShutDown):
            q.get()

    def test_shutdown_immediate(self, type2test: MakeQueue) -> None:
        q = type2test()
        q.put("data")
        q.shutdown(immediate=True)
        with pytest.raises(ShutDown):
            q.get()

    def test_shutdown_allowed_transitions(self, type2test: MakeQueue) -> None:
        # allowed transitions would be from alive via shutdown to immediate
        q = type2test()
        assert not q.is_shutdown

        q.shutdown()
        assert q.is_shutdown

        q.shutdown(immediate=True)
        assert q.is_shutdown

        q.shutdown(immediate=False)

    def _shutdown_all_methods_in_one_thread(self, type2test: MakeQueue, immediate: bool) -> None:
        q = type2test(2)
        q.put("L")
        q.put_nowait("O")
        q.shutdown(immediate)

        with pytest.raises(ShutDown):
            q.put("E")
        with pytest.raises(ShutDown):
            q.put_nowait("W")
        if immediate:
            with pytest.raises(ShutDown):
                q.get()
            with pytest.raises(ShutDown):
                q.get_nowait()
            with pytest.raises(ValueError, match="too many times"):
                q.task_done()
            q.join()
        else:
            assert q.get() in "LO"
            q.task_done()
            assert q.get() in "LO"
            q.task_done()
            q.join()
            # on shutdown(immediate=False)
            # when queue is empty, should raise ShutDown Exception
            with pytest.raises(ShutDown):
                q.get()  # p.get(True)
            with pytest.raises(ShutDown):
                q.get_nowait()  # p.get(False)
            with pytest.raises(ShutDown):
                q.get(True, 1.0)

    def test_shutdown_all_methods_in_one_thread(self, type2test: MakeQueue) -> None:
        return self._shutdown_all_methods_in_one_thread(type2test, False)

    def test_shutdown_immediate_all_methods_in_one_thread(self, type2test: MakeQueue) -> None:
        return self._shutdown_all_methods_in_one_thread(type2test, True)

    def _write_msg_thread(
        self,
        q: StdQueue[Any],
        n: int,
        results: list[bool],
        i_when_exec_shutdown: int,
        event_shutdown: threading.Event,
        barrier_start: threading.Barrier,
    ) -> None:
        # All `write_msg_threads`
        # put several items into the queue.
        for i in range(0, i_when_exec_shutdown // 2):
            q.put((i, "LOYD"))
        # Wait for the barrier to be complete.
        barrier_start.wait()

        for i in range(i_when_exec_shutdown // 2, n):
            try:
                q.put((i, "YDLO"))
            except ShutDown:
                results.append(False)
                break

            # Trigger queue shutdown.
            # Only one thread should call shutdown().
            if i == i_when_exec_shutdown and not event_shutdown.is_set():
                event_shutdown.set()
                results.append(True)

    def _read_msg_thread(
        self, q: StdQueue[Any], results: list[bool], barrier_start: threading.Barrier
    ) -> None:
        # Get at least one item.
        q.get(True)
        q.task_done()
        # Wait for the barrier to be complete.
        barrier_start.wait()
        while True:
            try:
                q.get(False)
                q.task_done()
            except ShutDown:
                results.append(True)
                break
            except Empty:
                pass

    def _shutdown_thread(
        self, q: StdQueue[Any], results: list[bool], event_end: threading.Event, immediate: bool
    ) -> None:
        event_end.wait()
        q.shutdown(immediate)
        results.append(q.qsize() == 0)

    def _join_thread(self, q: StdQueue[Any], barrier_start: threading.Barrier) -> None:
        # Wait for the barrier to be complete.
        barrier_start.wait()
        q.join()

    def _shutdown_all_methods_in_many_threads(self, type2test: MakeQueue, immediate: bool) -> None:
        # Run a 'multi-producers/consumers queue' use case,
        # with enough items into the queue.
        # When shutdown, all running threads will be joined.
        q = type2test()
        ps: list[threading.Thread] = []
        res_puts: list[bool] = []
        res_gets: list[bool] = []
        res_shutdown: list[bool] = []
        write_threads = 4
        read_threads = 6
        join_threads = 2
        nb_msgs = 1024 * 64
        nb_msgs_w = nb_msgs // write_threads
        when_exec_shutdown = nb_msgs_w // 2
        # Use of a Barrier to ensure that
        # - all write threads put all their items into the queue,
        # - all read thread get at least one item from the queue,
        #   and keep on running until shutdown.
        # The join thread is started only when shutdown is immediate.
        nparties = write_threads + read_threads
        if immediate:
            nparties += join_threads
        barrier_start = threading.Barrier(nparties)
        ev_exec_shutdown = threading.Event()
        lprocs: list[tuple[Callable[..., None], int, tuple[Any, ...]]] = [
            (
                self._write_msg_thread,
                write_threads,
                (q, nb_msgs_w, res_puts, when_exec_shutdown, ev_exec_shutdown, barrier_start),
            ),
            (self._read_msg_thread, read_threads, (q, res_gets, barrier_start)),
            (self._shutdown_thread, 1, (q, res_shutdown, ev_exec_shutdown, immediate)),
        ]
        if immediate:
            lprocs.append((self._join_thread, join_threads, (q, barrier_start)))
        # start all threads.
        for func, n, args in lprocs:
            for _ in range(n):
                ps.append(threading.Thread(target=func, args=args))
                ps[-1].start()
        for thread in ps:
            thread.join()

        assert True in res_puts
        assert res_gets.count(True) == read_threads
        if immediate:
            assert res_shutdown == [True]
            assert q.empty()

    def test_shutdown_all_methods_in_many_threads(self, type2test: MakeQueue) -> None:
        return self._shutdown_all_methods_in_many_threads(type2test, False)

    def test_shutdown_immediate_all_methods_in_many_threads(self, type2test: MakeQueue) -> None:
        return self._shutdown_all_methods_in_many_threads(type2test, True)

    def _get(
        self, q: StdQueue[Any], go: threading.Event, results: list[bool], shutdown: bool = False
    ) -> bool:
        go.wait()
        try:
            q.get()
            results.append(not shutdown)
            return not shutdown
        except ShutDown:
            results.append(shutdown)
            return shutdown

    def _get_shutdown(self, q: StdQueue[Any], go: threading.Event, results: list[bool]) -> bool:
        return self._get(q, go, results, True)

    def _get_task_done(self, q: StdQueue[Any], go: threading.Event, results: list[bool]) -> object:
        go.wait()
        try:
            msg = q.get()
            q.task_done()
            results.append(True)
            return msg
        except ShutDown:
            results.append(False)
            return False

    def _put(
        self,
        q: StdQueue[Any],
        msg: object,
        go: threading.Event,
        results: list[bool],
        shutdown: bool = False,
    ) -> bool:
        go.wait()
        try:
            q.put(msg)
            results.append(not shutdown)
            return not shutdown
        except ShutDown:
            results.append(shutdown)
            return shutdown

    def _put_shutdown(
        self, q: StdQueue[Any], msg: object, go: threading.Event, results: list[bool]
    ) -> bool:
        return self._put(q, msg, go, results, True)

    def _join(self, q: StdQueue[Any], results: list[bool], shutdown: bool = False) -> bool:
        try:
            q.join()
            results.append(not shutdown)
            return not shutdown
        except ShutDown:
            results.append(shutdown)
            return shutdown

    def _join_shutdown(self, q: StdQueue[Any], results: list[bool]) -> bool:
        return self._join(q, results, True)

    def _shutdown_get(self, type2test: MakeQueue, immediate: bool) -> None:
        q = type2test(2)
        results: list[bool] = []
        go = threading.Event()
        q.put("Y")
        q.put("D")
        # queue full

        thrds: tuple[tuple[Callable[..., object], tuple[Any, ...]], ...]
        if immediate:
            thrds = (
                (self._get_shutdown, (q, go, results)),
                (self._get_shutdown, (q, go, results)),
            )
        else:
            thrds = (
                # on shutdown(immediate=False)
                # one of these threads shoud raise Shutdown
                (self._get, (q, go, results)),
                (self._get, (q, go, results)),
                (self._get, (q, go, results)),
            )
        threads: list[threading.Thread] = []
        for func, params in thrds:
            threads.append(threading.Thread(target=func, args=params))
            threads[-1].start()
        q.shutdown(immediate)
        go.set()
        for t in threads:
            t.join()
        if immediate:
            assert results == [True, True]
        else:
            assert sorted(results) == [False] + [True] * (len(thrds) - 1)

    def test_shutdown_get(self, type2test: MakeQueue) -> None:
        return self._shutdown_get(type2test, False)

    def test_shutdown_immediate_get(self, type2test: MakeQueue) -> None:
        return self._shutdown_get(type2test, True)

    def _shutdown_put(self, type2test: MakeQueue, immediate: bool) -> None:
        q = type2test(2)
        results: list[bool] = []
        go = threading.Event()
        q.put("Y")
        q.put("D")
        # queue fulled

        thrds = (
            (self._put_shutdown, (q, "E", go, results)),
            (self._put_shutdown, (q, "W", go, results)),
        )
        threads: list[threading.Thread] = []
        for func, params in thrds:
            threads.append(threading.Thread(target=func, args=params))
            threads[-1].start()
        q.shutdown()
        go.set()
        for t in threads:
            t.join()

        assert results == [True] * len(thrds)

    def test_shutdown_put(self, type2test: MakeQueue) -> None:
        return self._shutdown_put(type2test, False)

    def test_shutdown_immediate_put(self, type2test: MakeQueue) -> None:
        return self._shutdown_put(type2test, True)

    def _shutdown_join(self, type2test: MakeQueue, immediate: bool) -> None:
        q = type2test()
        results: list[bool] = []
        q.put("Y")
        go = threading.Event()
        nb = q.qsize()

        thrds = (
            (self._join, (q, results)),
            (self._join, (q, results)),
        )
        threads: list[threading.Thread] = []
        for func, params in thrds:
            threads.append(threading.Thread(target=func, args=params))
            threads[-1].start()
        if not immediate:
            res: list[bool] = []
            for _ in range(nb):
                threads.append(threading.Thread(target=self._get_task_done, args=(q, go, res)))
                threads[-1].start()
        q.shutdown(immediate)
        go.set()
        for t in threads:
            t.join()

        assert results == [True] * len(thrds)

    def test_shutdown_immediate_join(self, type2test: MakeQueue) -> None:
        return self._shutdown_join(type2test, True)

    def test_shutdown_join(self, type2test: MakeQueue) -> None:
        return self._shutdown_join(type2test, False)

    def _shutdown_put_join(self, type2test: MakeQueue, immediate: bool) -> None:
        q = type2test(2)
        results: list[bool] = []
        go = threading.Event()
        q.put("Y")
        # queue not fulled

        thrds: tuple[tuple[Callable[..., object], tuple[Any, ...]], ...] = (
            (self._put_shutdown, (q, "E", go, results)),
            (self._join, (q, results)),
        )
        threads: list[threading.Thread] = []
        for func, params in thrds:
            threads.append(threading.Thread(target=func, args=params))
            threads[-1].start()
        assert q.unfinished_tasks == 1

        q.shutdown(immediate)
        go.set()

        if immediate:
            with pytest.raises(ShutDown):
                q.get_nowait()
        else:
            result = q.get()
            assert result == "Y"
            q.task_done()

        for t in threads:
            t.join()

        assert results == [True] * len(thrds)

    def test_shutdown_immediate_put_join(self, type2test: MakeQueue) -> None:
        return self._shutdown_put_join(type2test, True)

    def test_shutdown_put_join(self, type2test: MakeQueue) -> None:
        return self._shutdown_put_join(type2test, False)

    def test_shutdown_get_task_done_join(self, type2test: MakeQueue) -> None:
        q = type2test(2)
        results: list[bool] = []
        go = threading.Event()
        q.put("Y")
        q.put("D")
        assert q.unfinished_tasks == q.qsize()

        thrds: tuple[tuple[Callable[..., object], tuple[Any, ...]], ...] = (
            (self._get_task_done, (q, go, results)),
            (self._get_task_done, (q, go, results)),
            (self._join, (q, results)),
            (self._join, (q, results)),
        )
        threads: list[threading.Thread] = []
        for func, params in thrds:
            threads.append(threading.Thread(target=func, args=params))
            threads[-1].start()
        go.set()
        q.shutdown(False)
        for t in threads:
            t.join()

        assert results == [True] * len(thrds)

    def test_shutdown_pending_get(self, type2test: MakeQueue) -> None:
        def get() -> None:
            try:
                results.append(q.get())
            except Exception as e:
                results.append(e)

        q = type2test()
        results: list[object] = []
        get_thread = threading.Thread(target=get)
        get_thread.start()
        q.shutdown(immediate=False)
        get_thread.join(timeout=10.0)
        assert not get_thread.is_alive()
        assert len(results) == 1
        assert isinstance(results[0], ShutDown)
