"""Supervised threads: please_stop, join returns or re-raises, reverse-order stop, loud timeouts."""

from __future__ import annotations

import threading
import traceback

import pytest

import threaded_async as ta


def worker(n: int, *, please_stop: ta.Signal) -> int:
    please_stop.wait(10)
    return n * 2


def test_join_returns_the_value() -> None:
    t = ta.SupervisedThread("w", worker, 21).start()
    t.stop()
    assert t.join(10) == 42
    assert t.stopped


def test_join_reraises_the_exception_with_traceback() -> None:
    def failing(*, please_stop: ta.Signal) -> None:
        raise KeyError("lost")

    t = ta.SupervisedThread("f", failing).start()
    with pytest.raises(KeyError, match="lost") as info:
        t.join(10)
    assert any(f.name == "failing" for f in traceback.extract_tb(info.value.__traceback__))


def test_join_timeout_is_raised_not_ignored() -> None:
    t = ta.SupervisedThread("slow", worker, 1).start()
    with pytest.raises(ta.ThreadJoinTimeoutError, match="slow"):
        t.join(0.01)
    t.stop()
    assert t.join(10) == 2


def test_readiness_handshake_and_startup_failure() -> None:
    def ready(*, please_stop: ta.Signal) -> str:
        ta.SupervisedThread.current().started()
        please_stop.wait(10)
        return "served"

    def broken(*, please_stop: ta.Signal) -> None:
        raise ConnectionError("port in use")

    with ta.ThreadGroup() as group:
        t = group.start(ready, name="server", wait_started=True)
        assert not t.stopped
        with pytest.raises(ConnectionError, match="port in use") as info:
            group.start(broken, name="broken", wait_started=True)
        assert any(f.name == "broken" for f in traceback.extract_tb(info.value.__traceback__))
        group.threads[-1].release()  # its failure was seen already
    assert t.join(0) == "served"


def test_group_stops_in_reverse_order_and_reports_failures() -> None:
    order: list[str] = []

    def named(label: str, *, please_stop: ta.Signal) -> None:
        please_stop.wait(10)
        order.append(label)
        if label == "b":
            raise RuntimeError("b failed")

    group = ta.ThreadGroup()
    for label in "abc":
        group.start(named, label, name=label)
    with pytest.raises(ta.TAExceptionGroup) as info:
        group.stop_and_join()
    assert order == ["c", "b", "a"]
    assert [str(e) for e in info.value.exceptions] == ["b failed"]
    with pytest.raises(RuntimeError, match="stopped"):
        group.start(named, "d")


def test_group_join_timeout_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()

    def deaf(*, please_stop: ta.Signal) -> None:
        release.wait(10)  # ignores please_stop

    group = ta.ThreadGroup(join_timeout=0.01)
    t = group.start(deaf, name="deaf")
    with pytest.raises(ta.TAExceptionGroup) as info:
        group.stop_and_join()
    assert isinstance(info.value.exceptions[0], ta.ThreadJoinTimeoutError)
    assert "deaf" in caplog.text
    release.set()
    assert t.join(10) is None


def test_runner_stops_its_threads_before_the_loop() -> None:
    seen: list[str] = []

    def uses_loop(runner: ta.AsyncRunner, *, please_stop: ta.Signal) -> None:
        please_stop.wait(10)
        seen.append(runner.call_in_loop(lambda: "loop still up", timeout=10))

    with ta.AsyncRunner() as runner:
        first = runner.start_thread(uses_loop, runner, name="first")
        second = runner.start_thread(worker, 5, name="second")
    assert seen == ["loop still up"]
    assert second.join(0) == 10
    assert first.stopped


def test_runner_exit_raises_thread_failures() -> None:
    def failing(*, please_stop: ta.Signal) -> None:
        raise ValueError("worker failed")

    runner = ta.AsyncRunner()
    with pytest.raises(ta.TAExceptionGroup) as info, runner:
        runner.start_thread(failing)
    assert "worker failed" in str(info.value.exceptions[0])
    assert not runner.is_running


def test_join_on_itself_and_current_outside_are_refused() -> None:
    with pytest.raises(RuntimeError):
        ta.SupervisedThread.current()
    errors: list[BaseException] = []

    def self_join(*, please_stop: ta.Signal) -> None:
        try:
            ta.SupervisedThread.current().join(1)
        except RuntimeError as exc:
            errors.append(exc)

    t = ta.SupervisedThread("self", self_join).start()
    t.join(10)
    assert "cannot join itself" in str(errors[0])


def _fail(*, please_stop: ta.Signal) -> None:
    raise ValueError("worker failed")


def _fail_before_ready(*, please_stop: ta.Signal) -> None:
    raise KeyError("could not start")


def test_a_failure_join_already_raised_is_not_raised_again_at_exit() -> None:
    runner = ta.AsyncRunner().start()
    thread = runner.start_thread(_fail)
    with pytest.raises(ValueError, match="worker failed"):
        thread.join(10)
    runner.stop()  # delivered once, to the caller of join(): no group at exit


def test_a_startup_failure_wait_started_raised_is_not_raised_again_at_exit() -> None:
    runner = ta.AsyncRunner().start()
    with pytest.raises(KeyError, match="could not start"):
        runner.start_thread(_fail_before_ready, wait_started=True)
    runner.stop()


def test_a_failure_nobody_retrieved_is_still_raised_at_exit() -> None:
    runner = ta.AsyncRunner().start()
    thread = runner.start_thread(_fail)
    assert thread.stopped.wait(10)
    with pytest.raises(ta.TAExceptionGroup) as info:
        runner.stop()
    assert [type(e) for e in info.value.exceptions] == [ValueError]
