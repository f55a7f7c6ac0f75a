"""Request traces: what was asked, with which arguments, what was answered, and when."""

from __future__ import annotations

import asyncio

import pytest

import threaded_async as ta


class Stub(ta.Client):
    async def report(self, who: str, step: int) -> str:
        return await self.execute(Stub.report, who, step)

    async def divide(self, a: int, b: int) -> float:
        return await self.execute(Stub.divide, a, b)


def _report(who: str, step: int) -> str:
    return f"{who}{step}"


def _divide(a: int, b: int) -> float:
    return a / b


async def _walker(stub: Stub, who: str, pause: float) -> list[str]:
    answers: list[str] = []
    for step in range(3):
        await asyncio.sleep(pause)
        answers.append(await stub.report(who, step))
    return answers


async def _three_walkers(server: ta.Server) -> list[list[str]]:
    walkers = await asyncio.gather(
        _walker(Stub(server), "a", 0.7),
        _walker(Stub(server), "b", 0.3),
        _walker(Stub(server), "c", 1.1),
    )
    return list(walkers)


def _run(autojump: bool) -> list[ta.TraceEntry]:
    clock = ta.VirtualClock(autojump=autojump)
    server = ta.Server(handlers={Stub.report: _report}, clock=clock, record_trace=True)
    server.event_loop_timeout = 10.0
    with server:
        task = server.create_background_task(_three_walkers(server))
        while not task.done():
            if autojump:
                server.process()
            else:
                server.process_all()
                clock.advance(0.25)
        assert task.wait(0) == [["a0", "a1", "a2"], ["b0", "b1", "b2"], ["c0", "c1", "c2"]]
        return server.trace


def test_trace_records_request_arguments_answer_error_and_time() -> None:
    clock = ta.VirtualClock(autojump=True)
    server = ta.Server(handlers={Stub.divide: _divide}, clock=clock, record_trace=True)

    async def client(stub: Stub) -> None:
        await stub.divide(1, 4)
        await asyncio.sleep(2.5)
        with pytest.raises(ZeroDivisionError):
            await stub.divide(1, 0)

    with server:
        task = server.create_background_task(client(Stub(server)))
        while not task.done():
            server.process()
        task.wait(0)
        assert server.trace == [
            ta.TraceEntry("Stub.divide", (1, 4), {}, result=0.25, time=0.0),
            ta.TraceEntry(
                "Stub.divide", (1, 0), {}, error="ZeroDivisionError: division by zero", time=2.5
            ),
        ]


def test_trace_without_a_clock_has_no_times() -> None:
    server = ta.Server(handlers={Stub.report: _report}, record_trace=True)

    async def client(stub: Stub) -> str:
        return await stub.report("x", 1)

    with server:
        task = server.create_background_task(client(Stub(server)))
        server.process()
        assert task.wait(10) == "x1"
        assert server.trace == [ta.TraceEntry("Stub.report", ("x", 1), {}, result="x1")]


def test_trace_is_off_unless_asked_for() -> None:
    with pytest.raises(RuntimeError, match="record_trace=True"):
        _ = ta.Server().trace


def test_host_stepped_runs_give_equal_traces_every_time() -> None:
    first = _run(autojump=False)
    # Each request carries the time it was made at (a sleep ends at its own due time
    # inside an advance); it is answered in the next frame, where its reply's sleep begins.
    assert [(e.args, e.time) for e in first] == [
        (("b", 0), 0.3),
        (("a", 0), 0.7),
        (("b", 1), 0.8),
        (("c", 0), 1.1),
        (("b", 2), 1.3),
        (("a", 1), 1.45),
        (("a", 2), 2.2),
        (("c", 1), 2.35),
        (("c", 2), 3.6),
    ]
    assert len(first) == 9
    for _ in range(50):
        assert _run(autojump=False) == first


def test_autojump_runs_give_equal_traces_every_time() -> None:
    first = _run(autojump=True)
    assert [(e.args, e.time) for e in first] == [
        (("b", 0), 0.3),
        (("b", 1), 0.6),
        (("a", 0), 0.7),
        (("b", 2), pytest.approx(0.9)),  # pyright: ignore[reportUnknownMemberType]
        (("c", 0), 1.1),
        (("a", 1), 1.4),
        (("a", 2), pytest.approx(2.1)),  # pyright: ignore[reportUnknownMemberType]
        (("c", 1), 2.2),
        (("c", 2), pytest.approx(3.3)),  # pyright: ignore[reportUnknownMemberType]
    ]
    for _ in range(50):
        assert _run(autojump=True) == first


class Actor(ta.Client):
    @ta.request
    async def act(self, action: list[int]) -> list[int]: ...


def test_a_trace_keeps_what_was_asked_and_answered_then_not_what_changed_later() -> None:
    """An agent that reuses its action list and an env that writes every answer into one
    buffer: the trace has each request's own values (snapshots taken when answered)."""
    buffer = [0]

    def answer(action: list[int]) -> list[int]:
        buffer[0] = action[0] * 10  # the env reuses one buffer for every answer
        return buffer

    async def agent(env: Actor) -> None:
        action = [0]
        for step in range(3):
            action[0] = step  # the agent reuses one list for every action
            await env.act(action)

    with ta.Server(handlers={Actor.act: answer}, record_trace=True) as server:
        task = server.create_background_task(agent(Actor(server)))
        while not task.done():
            server.process()
        trace = server.trace
    assert [(e.args, e.result) for e in trace] == [(([0],), [0]), (([1],), [10]), (([2],), [20])]


@pytest.mark.parametrize("how", ["answer", "fail", "answer_after", "dispatch"])
def test_requests_answered_through_handles_are_recorded(how: str) -> None:
    with ta.Server(handlers={Actor.act: list}, record_trace=True) as server:
        env = Actor(server, name="a")
        task = server.runner.create_task(env.act([1]))
        server.runner.wait_until_idle(10)
        (req,) = server.requests()
        if how == "answer":
            req.answer([2])
        elif how == "fail":
            req.fail(ValueError("no"))
        elif how == "answer_after":
            req.answer_after(0.01, [2])
        else:
            server.dispatch(req)
        try:
            task.wait(10)
        except ValueError:
            pass
        (entry,) = server.trace
    assert (entry.client, entry.request, entry.args) == ("a", "Actor.act", ([1],))
    if how == "fail":
        assert entry.error == "ValueError: no"
    else:
        assert entry.result == ([1] if how == "dispatch" else [2])
