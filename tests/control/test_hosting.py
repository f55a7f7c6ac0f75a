"""Hosting agents (SPEC §7): named clients, @request stubs, request handles (take,
next_request, dispatch, requests), lockstep gather, frame budgets, autojump holds,
statistics."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from typing import Any

import pytest

import threaded_async as ta
from threaded_async import request

BOUND = 10.0


def _same(dx: int) -> int:
    return dx


def _double(dx: int) -> int:
    return dx * 2


def _wall(far: bool = False) -> str:
    return "wall"


def _plus_100(dx: int) -> int:
    return dx + 100


class Env(ta.Client):
    @request
    async def move(self, dx: int) -> int: ...

    @request
    async def look(self, *, far: bool = False) -> str: ...


class Handwritten(ta.Client):
    async def move(self, dx: int) -> int:
        return await self.execute(Handwritten.move, dx)


# -- names -----------------------------------------------------------------------------
def test_clients_get_unique_default_names_and_requests_carry_them() -> None:
    with ta.Server(handlers={Env.move: _same}, record_trace=True) as server:
        a, b = Env(server), Env(server)
        plain = server.create_client()
        named = Env(server, name="rover")
        assert (a.name, b.name, plain.name, named.name) == ("Env-1", "Env-2", "Client-1", "rover")
        with pytest.raises(ValueError, match="rover"):
            Env(server, name="rover")
        seen: list[str | None] = []
        task = server.create_background_task(named.move(3))
        (req,) = server.requests()
        seen.append(req.client)
        seen.append(server.pending[0].client)
        assert server.process()
        assert task.wait(BOUND) == 3
        assert seen == ["rover", "rover"]
        assert server.trace[0].client == "rover"
    with ta.Server() as other:
        assert Env(other).name == "Env-1"  # counted per server


def test_execution_request_keeps_its_1_4_shape() -> None:
    plain = ta.ExecutionRequest(Env.move, (1,), {})
    assert plain.client is None
    named = ta.ExecutionRequest(Env.move, (1,), {}, "rover")
    assert named == plain  # the client takes no part in equality...
    assert repr(named) == repr(plain)  # ...nor in the repr, as in 1.4
    assert named.client == "rover"


# -- @request --------------------------------------------------------------------------
def test_request_stub_forwards_to_execute_with_itself_as_the_key() -> None:
    assert inspect.iscoroutinefunction(Env.move)
    assert Env.move.__qualname__ == "Env.move"
    assert list(inspect.signature(Env.move).parameters) == ["self", "dx"]
    with ta.Server(handlers={Env.move: _double, "look": _wall}) as s:
        env = Env(s)

        async def agent() -> tuple[int, str]:
            return await env.move(21), await env.look(far=True)

        task = s.create_background_task(agent())
        while not task.done():
            s.process()
        assert task.wait(BOUND) == (42, "wall")


class Mover(ta.Client):
    @request
    async def move(self, dx: int, dy: int = 0, *, run: bool = False) -> str: ...


def test_request_stub_passes_arguments_as_the_hand_written_stub_would() -> None:
    """Keywords for positional parameters become positional (whatever the handler calls
    them), keyword-only ones stay keywords, as ``self.execute(Mover.move, dx)`` would
    pass them; a call the stub cannot take raises at once and issues nothing."""

    def handler(x: int, y: int = 0, *, run: bool = False) -> str:
        return f"{x},{y},{run}"

    with ta.Server(handlers={Mover.move: handler}, record_trace=True) as s:
        mover = Mover(s)

        async def agent() -> list[str]:
            with pytest.raises(TypeError):
                await mover.move(1, 2, 3)  # type: ignore[misc]  # pyright: ignore[reportCallIssue]
            return [await mover.move(dx=4), await mover.move(5, dy=6, run=True)]

        task = s.create_background_task(agent())
        while not task.done():
            s.process()
        assert task.wait(BOUND) == ["4,0,False", "5,6,True"]
        assert [(e.args, e.kwargs) for e in s.trace] == [((4,), {}), ((5, 6), {"run": True})]


def test_request_refuses_a_sync_function() -> None:
    def move(self: ta.Client, dx: int) -> int: ...

    with pytest.raises(TypeError, match="async def"):
        request(move)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def test_a_handler_that_cannot_take_the_stubs_arguments_is_refused_at_registration() -> None:
    def no_args() -> int:
        return 0

    with pytest.raises(TypeError, match=r"no_args.*Env\.move"):
        ta.Server(handlers={Env.move: no_args})
    server = ta.Server()
    with pytest.raises(TypeError, match="far"):
        server.handler(Env.look)(lambda: "x")  # cannot take far=

    # what fits is accepted: extra defaults, *args, **kwargs
    def extra_default(dx: int, extra: int = 1) -> int:
        return dx

    def any_keywords(**kw: object) -> str:
        return "x"

    def any_positional(*args: object) -> int:
        return 0

    server.handler(Env.move)(extra_default)
    server.handler(Env.look)(any_keywords)
    server.handler(Handwritten.move)(any_positional)
    # a hand-written stub may pass anything to execute(): not checked
    server.handler(Handwritten.move)(extra_default)


# -- request handles -------------------------------------------------------------------
def test_take_answer_later_from_another_thread() -> None:
    clock = ta.VirtualClock(start=5.0)
    with ta.Server(clock=clock) as server:
        a, b = Env(server), Env(server)

        async def agent(env: Env, n: int) -> int:
            return await env.move(n)

        ta_task = server.create_background_task(agent(a, 1))
        tb_task = server.create_background_task(agent(b, 2))
        assert [r.client for r in server.requests()] == ["Env-1", "Env-2"]
        assert [r.args for r in server.requests(client=b)] == [(2,)]
        req_b = server.take(client="Env-2")
        assert req_b is not None
        assert (req_b.name, req_b.fun, req_b.args, req_b.kwargs) == ("Env.move", Env.move, (2,), {})
        assert req_b.issued_at == 5.0
        assert req_b.taken
        assert not req_b.done()
        assert [r.client for r in server.requests()] == ["Env-1"]
        assert server.take(fun=Env.look) is None
        answered = threading.Thread(target=lambda: req_b.answer(20))
        answered.start()
        answered.join(BOUND)
        assert tb_task.wait(BOUND) == 20
        assert req_b.done()
        with pytest.raises(ta.InvalidStateError):
            req_b.answer(21)
        req_a = server.take()
        assert req_a is not None
        assert req_a.fail(KeyError("no such cell"))
        with pytest.raises(KeyError):
            ta_task.wait(BOUND)


def test_answering_a_request_whose_client_gave_up_returns_false() -> None:
    with ta.Server() as server:
        env = Env(server)
        task = server.create_background_task(env.move(1))
        req = server.take()
        assert req is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            task.wait(BOUND)
        assert req.cancelled()
        assert req.answer(1) is False
        assert req.fail(RuntimeError()) is False


def test_dispatch_answers_a_taken_request_like_process() -> None:
    with ta.Server(handlers={Env.move: _plus_100}, record_trace=True) as server:
        task = server.create_background_task(Env(server).move(1))
        req = server.take()
        assert req is not None
        server.dispatch(req)
        assert task.wait(BOUND) == 101
        assert [e.result for e in server.trace] == [101]


def test_dispatch_of_an_answered_request_refuses_to_run_the_handler_again() -> None:
    calls: list[int] = []

    def handler(dx: int) -> int:
        calls.append(dx)
        return dx

    with ta.Server(handlers={Env.move: handler}) as server:
        task = server.create_background_task(Env(server).move(1))
        req = server.take()
        assert req is not None
        server.dispatch(req)
        assert task.wait(BOUND) == 1
        with pytest.raises(ta.InvalidStateError, match="already answered"):
            server.dispatch(req)
        assert calls == [1]


def test_next_request_blocks_until_one_arrives() -> None:
    with ta.Server() as server:
        env = Env(server)
        got: list[ta.Request[Any] | None] = []
        waiting = threading.Event()

        def host() -> None:
            waiting.set()
            got.append(server.next_request(BOUND))

        thread = threading.Thread(target=host)
        thread.start()
        waiting.wait(BOUND)
        while not server.statistics().waiting_hosts:
            thread.join(0.001)
        task = server.runner.create_task(env.move(7))
        thread.join(BOUND)
        (req,) = got
        assert req is not None
        assert req.args == (7,)
        req.answer(70)
        assert task.wait(BOUND) == 70
        assert server.next_request(0) is None  # nothing queued: the timeout passes
        assert server.next_request(0.01, client=env) is None


def test_next_request_raises_when_the_server_stops_and_refuses_the_loop_thread() -> None:
    server = ta.Server()
    server.__enter__()
    errors: list[BaseException] = []

    def host() -> None:
        try:
            server.next_request(None)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=host)
    thread.start()
    while not server.statistics().waiting_hosts:
        thread.join(0.001)
    with pytest.raises(RuntimeError, match="deadlock"):
        server.runner.call_in_loop(lambda: server.next_request(0))
    server.__exit__(None, None, None)
    thread.join(BOUND)
    assert len(errors) == 1
    assert isinstance(errors[0], ta.RunnerClosedError)


# -- lockstep --------------------------------------------------------------------------
def test_gather_takes_one_request_per_live_client_in_creation_order() -> None:
    with ta.Server() as server:
        clients = [Env(server) for _ in range(3)]
        log: list[tuple[str, int]] = []

        async def agent(env: Env, steps: int) -> None:
            for n in range(steps):
                log.append((env.name, await env.move(n)))

        tasks = [
            server.runner.create_task(agent(env, steps))
            for env, steps in zip(clients, (3, 1, 2), strict=True)
        ]
        rounds: list[list[str | None]] = []
        while True:
            batch = server.gather(timeout=BOUND)
            if not batch:
                break
            rounds.append([r.client for r in batch])
            for r in reversed(batch):  # answering order does not change the next batch
                r.answer(r.args[0])
        for task in tasks:
            task.wait(BOUND)
        assert rounds == [["Env-1", "Env-2", "Env-3"], ["Env-1", "Env-3"], ["Env-1"]]


def test_gather_with_autojump_reaches_a_sleeping_agent() -> None:
    """A lockstep barrier under autojump: one agent's request is queued while the other
    still sleeps in virtual time; the clock must jump to wake it (it used to freeze)."""
    clock = ta.VirtualClock(autojump=True)
    with ta.Server(clock=clock) as server:
        fast, slow = Env(server), Env(server)

        async def agent(env: Env, pause: float) -> float:
            await asyncio.sleep(pause)
            await env.move(1)
            return clock.time()

        t1 = server.runner.create_task(agent(fast, 0.0))
        t2 = server.runner.create_task(agent(slow, 30.0))
        batch = server.gather(timeout=BOUND)
        assert [r.client for r in batch] == ["Env-1", "Env-2"]
        assert clock.time() == 30.0
        for r in batch:
            r.answer(0)
        assert (t1.wait(BOUND), t2.wait(BOUND)) == (30.0, 30.0)
        assert server.gather(timeout=BOUND) == []  # both agents ended


def _lockstep_rounds(with_ticker: bool) -> tuple[list[tuple[float, list[float | None]]], Any]:
    """Two agents guarded by asyncio.timeout(10), stepped in lockstep under autojump,
    optionally beside a task whose timer fires every 0.25 s."""
    clock = ta.VirtualClock(autojump=True)
    with ta.Server(clock=clock) as server:
        agents = [Env(server, name="a"), Env(server, name="b")]

        async def agent(env: Env) -> list[str]:
            out: list[str] = []
            for i in range(3):
                await asyncio.sleep(1)
                try:
                    async with asyncio.timeout(10):
                        await env.move(i)
                    out.append("ok")
                except TimeoutError:
                    out.append(f"timed out at {clock.time()}")
            return out

        async def ticker() -> None:
            while True:
                await asyncio.sleep(0.25)

        if with_ticker:
            server.runner.create_task(ticker())
        tasks = [server.runner.create_task(agent(env)) for env in agents]
        rounds: list[tuple[float, list[float | None]]] = []
        while batch := server.gather(agents, timeout=BOUND):
            rounds.append((clock.time(), [r.issued_at for r in batch]))
            for r in batch:
                r.answer(0)
        return rounds, [t.wait(BOUND) for t in tasks]


@pytest.mark.parametrize("with_ticker", [False, True], ids=["alone", "beside a ticking timer"])
def test_time_stands_still_once_what_gather_waits_for_has_arrived(with_ticker: bool) -> None:
    """Autojump may move time while gather() waits, but not once every request it waits
    for is queued: however late the host thread wakes, it takes them at the time they
    were issued (the jumps used to go on until the host took them: agents' timeouts
    fired, and a run beside another timer differed every time)."""
    for _ in range(3):
        rounds, results = _lockstep_rounds(with_ticker)
        assert rounds == [(1.0, [1.0, 1.0]), (2.0, [2.0, 2.0]), (3.0, [3.0, 3.0])]
        assert results == [["ok"] * 3, ["ok"] * 3]


def test_next_request_takes_a_request_at_the_time_it_was_issued() -> None:
    clock = ta.VirtualClock(autojump=True)
    with ta.Server(clock=clock) as server:
        env = Env(server, name="a")

        async def ticker() -> None:
            while True:
                await asyncio.sleep(0.25)

        async def agent() -> int:
            await asyncio.sleep(1)
            return await env.move(1)

        server.runner.create_task(ticker())
        task = server.runner.create_task(agent())
        request = server.next_request(BOUND, client="a")
        assert request is not None
        assert (request.issued_at, clock.time()) == (1.0, 1.0)
        request.answer(5)
        assert task.wait(BOUND) == 5


def test_gather_refuses_foreign_clients_and_times_out() -> None:
    with ta.Server() as server, ta.Server() as other:
        mine, theirs = Env(server), Env(other)
        with pytest.raises(ValueError, match="another server"):
            server.gather([mine, theirs], timeout=0)
        with pytest.raises(ValueError, match="not a client"):
            server.gather(["nobody"], timeout=0)
        with pytest.raises(ta.EventLoopTimeoutError, match="Env-1"):
            server.gather([mine], timeout=0.01)
        with pytest.raises(RuntimeError, match="deadlock"):
            server.runner.call_in_loop(lambda: server.gather(timeout=0))


# -- frame budgets ---------------------------------------------------------------------
@pytest.mark.stdlib_loop
def test_a_busy_agent_does_not_stretch_process() -> None:
    """An agent that computes 1 ms between sleep(0)s never lets the loop idle; process()
    must not wait for it by iterations alone (1.4 waited ~1,000 iterations)."""
    stop = threading.Event()

    async def busy() -> None:
        while not stop.is_set():
            end = time.perf_counter() + 0.001
            while time.perf_counter() < end:
                pass
            await asyncio.sleep(0)

    with ta.Server() as server:
        loop = server.runner.loop
        assert isinstance(loop, ta.SteppingEventLoop)
        server.runner.create_task(busy())
        try:
            before = loop.iteration
            for _ in range(5):
                assert server.process() is False
            per_call = (loop.iteration - before) / 5
            assert per_call < 200, f"{per_call} loop iterations per process()"
            before = loop.iteration
            assert server.process(budget=0) is False
            assert loop.iteration - before < 50
        finally:
            stop.set()


def test_negative_budget_is_a_value_error() -> None:
    with ta.Server() as server:
        with pytest.raises(ValueError, match="budget"):
            server.process(budget=-1)
        with pytest.raises(ValueError, match="budget"):
            server.process_all(budget=-0.5)


@pytest.mark.stdlib_loop
def test_process_that_answered_returns_true_even_if_the_catch_up_times_out() -> None:
    stop = threading.Event()

    async def agent(env: Env) -> None:
        await env.move(1)
        while not stop.is_set():  # reacts to the answer by never idling again
            await asyncio.sleep(0)

    with ta.Server(handlers={Env.move: _same}) as server:
        server.catch_up_iterations = 10**9  # only the timeout can end the catch-up
        server.catch_up_seconds = 10**9
        server.create_background_task(agent(Env(server)))
        try:
            assert server.process(timeout=0.05) is True
            with pytest.raises(ta.EventLoopTimeoutError):
                server.process(timeout=0.05)  # nothing queued: the wait itself times out
        finally:
            stop.set()


# -- autojump and the outside world ----------------------------------------------------
def test_autojump_waits_for_executor_work() -> None:
    clock = ta.VirtualClock(autojump=True)

    async def agent() -> str:
        try:
            # Real work in a thread, with a virtual-time timeout around it: the clock must
            # not jump to the timeout while the thread works.
            return await asyncio.wait_for(asyncio.to_thread(time.sleep, 0.05), 1.0) or "done"
        except TimeoutError:
            return "timed out in virtual time"

    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=BOUND) as runner:
        assert runner.run(agent()) == "done"
        assert clock.time() < 1.0


def test_clock_hold_stops_autojumps_while_real_io_is_awaited() -> None:
    clock = ta.VirtualClock(autojump=True)
    done = threading.Event()

    async def real_io() -> None:
        await asyncio.get_running_loop().run_in_executor(None, done.wait, BOUND)

    async def agent() -> float:
        async with clock.hold():
            # not executor work here: a plain future set from another thread
            fut = asyncio.get_running_loop().create_future()
            loop = asyncio.get_running_loop()
            threading.Timer(0.05, lambda: loop.call_soon_threadsafe(fut.set_result, None)).start()
            try:
                await asyncio.wait_for(fut, 1.0)
            except TimeoutError:
                return -1.0
        return clock.time()

    with ta.AsyncRunner(clock=clock, call_in_loop_timeout=BOUND) as runner:
        assert runner.run(agent()) < 1.0
        done.set()
        runner.run(real_io())
    with pytest.raises(RuntimeError, match="running"), clock.hold():
        pass


# -- statistics ------------------------------------------------------------------------
def test_statistics() -> None:
    clock = ta.VirtualClock(start=2.0)
    with ta.Server(clock=clock) as server:
        a, b = Env(server, name="a"), Env(server, name="b")
        server.create_background_task(a.move(1))
        stats = server.statistics()
        assert stats.queued == 1
        assert stats.queued_per_client == {"a": 1}
        assert stats.clients == ("a", "b")
        assert stats.live_clients == ("a", "b")
        assert stats.virtual_time == 2.0
        assert stats.jump_holds == 1
        assert stats.runner.running
        del b


def test_answer_after_lets_virtual_time_pass_under_autojump() -> None:
    clock = ta.VirtualClock(autojump=True)
    with ta.Server(clock=clock) as server:
        env = Env(server)

        async def agent() -> tuple[int, float]:
            answer = await env.move(1)
            return answer, clock.time()

        task = server.create_background_task(agent())
        req = server.take()
        assert req is not None
        req.answer_after(2.5, 11)
        assert task.wait(BOUND) == (11, 2.5)
        with pytest.raises(ValueError, match="seconds"):
            req.answer_after(-1, 0)


def test_trace_entries_compare_without_the_fields_a_hand_written_one_lacks() -> None:
    recorded = ta.TraceEntry("Env.move", (1,), {}, result=2, time=0.5, client="a", answered_at=1.0)
    assert recorded == ta.TraceEntry("Env.move", (1,), {}, result=2)
    assert recorded == ta.TraceEntry("Env.move", (1,), {}, result=2, client="a")
    assert recorded != ta.TraceEntry("Env.move", (1,), {}, result=2, client="b")
    assert recorded != ta.TraceEntry("Env.move", (1,), {}, result=3)
    assert hash(recorded) == hash(ta.TraceEntry("Env.move", (1,), {}, result=2))


@pytest.mark.stdlib_loop
def test_a_batch_of_answers_wakes_the_loop_once_at_the_end() -> None:
    with ta.Server() as server:
        clients = [Env(server) for _ in range(3)]
        tasks = [server.runner.create_task(c.move(n)) for n, c in enumerate(clients)]
        server.runner.wait_until_idle()
        loop = server.runner.loop
        assert isinstance(loop, ta.SteppingEventLoop)
        batch = server.gather(timeout=BOUND)
        before = loop.iteration
        with server.batch():
            for req in batch:
                req.answer(req.args[0] * 2)
            assert loop.iteration == before  # the sleeping loop was not woken meanwhile
            assert not any(t.done() for t in tasks)
        assert [t.wait(BOUND) for t in tasks] == [0, 2, 4]


@pytest.mark.parametrize("wait", ["next_request", "gather", "process", "wait_until_idle"])
def test_a_wait_inside_a_batch_does_not_stall(wait: str) -> None:
    """A wait flushes the batch's deferred wake-ups before it parks (as Condition.wait
    releases before it parks): waiting for the agents' reaction inside the batch works."""
    with ta.Server(handlers={Env.move: _same}) as server:
        env = Env(server, name="a")

        async def agent() -> None:
            await env.move(1)
            await env.move(2)

        task = server.runner.create_task(agent())
        first = server.next_request(BOUND)
        assert first is not None
        start = time.monotonic()
        with server.batch():
            first.answer(1)
            if wait == "next_request":
                second = server.next_request(BOUND)
                assert second is not None
                second.answer(2)
            elif wait == "gather":
                (second,) = server.gather(timeout=BOUND)
                second.answer(2)
            elif wait == "process":
                assert server.process(timeout=BOUND) is True
            else:
                server.runner.wait_until_idle(BOUND)
                second = server.take()
                assert second is not None
                second.answer(2)
        assert time.monotonic() - start < BOUND / 2  # not the timeout
        task.wait(BOUND)


def test_a_batch_defers_only_its_own_threads_wake_ups() -> None:
    """Another thread's plain answer() wakes the loop at once, batch or not."""
    with ta.Server() as server:
        env = Env(server, name="a")
        task = server.runner.create_task(env.move(1))
        req = server.next_request(BOUND)
        assert req is not None
        with server.batch():
            answering = threading.Thread(target=req.answer, args=(5,))
            answering.start()
            answering.join(BOUND)
            assert task.wait(BOUND) == 5  # answered while this thread's batch is open


def test_dispatch_refuses_a_request_of_another_server() -> None:
    with ta.Server(handlers={Env.move: _same}) as a, ta.Server(handlers={Env.move: _double}) as b:
        env = Env(a, name="mine")
        task = a.runner.create_task(env.move(3))
        req = a.next_request(BOUND)
        assert req is not None
        with pytest.raises(ValueError, match="another server"):
            b.dispatch(req)
        assert not req.done()
        a.dispatch(req)
        assert task.wait(BOUND) == 3
