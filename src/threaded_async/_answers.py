"""Answering a frame of requests on a seeded schedule (SPEC §12): the scripted harness and
the env hosts share this.

A seeded run must make the same decisions every time, so its host answers only while the
loop is idle, and hands a whole frame of answers to the loop in one callback: the agents
then see their answers in the order the schedule chose (one caller's callbacks keep
their order), however the host thread and the loop thread happen to interleave.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from ._control import Request, Server
from ._core import USE_DEFAULT_TIMEOUT, InvalidStateError, Schedule

__all__ = ["Answer", "deliver", "frame_order", "request_label"]

#: One answer to give: the request, its value, the exception to fail it with instead (or
#: None), and how many virtual seconds late to give it.
Answer = tuple[Request[Any], Any, BaseException | None, float]


def request_label(req: Request[Any]) -> str:
    """``"b's Env.move"``: who asked what, for a schedule's choices."""
    return f"{req.client}'s {req.name}" if req.client is not None else req.name


def frame_order(schedule: Schedule, frame: Sequence[Request[Any]]) -> list[int]:
    """The order (positions into ``frame``) in which to answer a frame of requests."""
    return schedule.answer_order([request_label(req) for req in frame])


def deliver(
    server: Server,
    answers: Sequence[Answer],
    timeout: float | None = USE_DEFAULT_TIMEOUT,
    *,
    wait: bool = True,
) -> None:
    """Once the server's loop is idle (``wait``: wait for it; else the caller knows),
    give ``answers`` in their order: all at once, before the loop runs again (an answer
    with a delay is given that many virtual seconds later; one whose client gave up
    meanwhile is dropped). Returns once they are given (or queued for the loop): wait
    for the loop (``wait_until_idle``) to see their effects.

    Without delays the answers are set from this thread in one batch while the loop
    sleeps (their wake-ups reach the loop together, in this order, as a plain host's
    do); with one, the whole frame is handed to the loop in one callback, so that the
    late answers' timers are set at a moment that does not depend on this thread.

    A host thread; blocks while it waits for idle. Raises EventLoopTimeoutError if the
    loop does not go idle within ``timeout`` (an agent that never stops computing),
    RunnerClosedError if the server is not running.
    """
    runner = server.runner
    if wait:
        runner.wait_until_idle(timeout)
    if all(delay <= 0 for _, _, _, delay in answers):
        with server.batch():  # one wake-up, once every answer is set
            _give(answers)
        return
    runner.call_soon(_give, answers)


def _give(answers: Sequence[Answer]) -> None:
    """Give a frame's answers in order. One that cannot be given (``answer_after``
    refusing its delay, say) must not cost the others theirs, nor leave its own client
    waiting for an answer that never comes (a run that then looks stuck): its request is
    failed with the error instead, the rest of the frame is given, and then the first
    such error is raised, to the host thread for a frame it gives itself, or to the
    loop's exception handler (which logs it) for a frame the loop gives."""
    error: Exception | None = None
    for req, value, exception, delay in answers:
        try:
            if delay > 0:
                req.answer_after(delay, value, exception=exception)
            elif exception is not None:
                req.fail(exception)
            else:
                req.answer(value)
        except InvalidStateError:  # answered meanwhile
            pass
        except Exception as exc:
            with contextlib.suppress(Exception):  # (answered meanwhile, or the runner closed)
                req.fail(exc)
            if error is None:
                error = exc
    if error is not None:
        raise error
