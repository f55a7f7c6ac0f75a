"""Task families: a task and every task started from its context, counted while they run.

An agent is a task with children: the task a host (or the runner) started for it and the
tasks it spawns with ``asyncio.gather``, ``create_task``, a ``TaskGroup`` or, on Python
3.11, ``wait_for``. Which family a task belongs to travels in a context variable
(:data:`current_family`): every task runs in a copy of its creator's context, so the loop
adopts each new task into the family of the context it is created in
(:meth:`SteppingEventLoop.create_task`, or :func:`adopting_task_factory` on other loops).
Control inversion keeps a client live while its family runs (SPEC §7, "Agents are tasks,
with children").

Everything here runs on the loop thread, except reading :meth:`TaskFamily.running`.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["TaskFamily", "adopting_task_factory", "current_family", "family_of_context"]


class TaskFamily:
    """A root task and the tasks started from its context (transitively): :meth:`running`
    while any of them has not finished.

    A family may sit inside another (``parent``): a task adopted here is counted by every
    enclosing family too, so an agent that a bigger task runs is its own family and still
    part of the bigger one. Loop thread only, except :meth:`running` (any thread).
    """

    __slots__ = ("_listeners", "_live", "_parent")

    def __init__(self, parent: TaskFamily | None = None) -> None:
        self._live = 0
        self._parent = parent
        #: Called (loop thread) each time the family stops running.
        self._listeners: list[Callable[[], object]] = []

    def __repr__(self) -> str:
        return f"<TaskFamily live={self._live}>"

    def running(self) -> bool:
        """Whether a task of the family has not finished yet (any thread, never blocks)."""
        return self._live > 0

    def adopt(self, task: asyncio.Future[Any]) -> None:
        """Count ``task`` in this family and the families around it until it finishes."""
        family: TaskFamily | None = self
        while family is not None:
            family._live += 1
            task.add_done_callback(family._one_done)
            family = family._parent

    @classmethod
    def around(cls, task: asyncio.Task[Any]) -> TaskFamily:
        """A new family of ``task`` and the tasks it starts from now on (loop thread),
        inside the family ``task`` belongs to, if any."""
        current = asyncio.current_task()
        context = None if task is current else _context_of(task)
        if task is current:
            parent = family_of_context(None)
        else:
            parent = None if context is None else family_of_context(context)
        family = cls(parent=parent)
        family._live += 1  # the root: already counted by the families around it
        task.add_done_callback(family._one_done)
        if task is current:
            current_family.set(family)
        elif context is not None:
            context.run(current_family.set, family)
        return family

    def add_listener(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` (on the loop thread) whenever the family stops running."""
        self._listeners.append(callback)

    def _one_done(self, task: asyncio.Future[Any]) -> None:
        self._live -= 1
        if self._live == 0:
            for callback in tuple(self._listeners):
                callback()


#: The family that tasks created in this context join (None: no family).
current_family: contextvars.ContextVar[TaskFamily | None] = contextvars.ContextVar(
    "threaded_async_task_family", default=None
)

_current = current_family.get


def _context_of(task: asyncio.Task[Any]) -> contextvars.Context | None:
    """The context ``task`` runs in (Python 3.12+ says it; 3.11 keeps it privately)."""
    get_context = getattr(task, "get_context", None)
    if get_context is not None:
        return get_context()
    return getattr(task, "_context", None)


def family_of_context(context: contextvars.Context | None) -> TaskFamily | None:
    """The family a task created with ``context`` (None: the current one) joins."""
    if context is None:
        return _current()
    return context.get(current_family)


def adopting_task_factory(
    inner: Callable[..., asyncio.Future[Any]] | None,
) -> Callable[..., asyncio.Future[Any]]:
    """A task factory for loops other than ours (uvloop): make the task as ``inner`` (or
    asyncio) would, then adopt it into its family, as our loop's ``create_task`` does."""

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Future[Any]:
        if inner is not None:
            task = inner(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        family = family_of_context(kwargs.get("context"))
        if family is not None:
            family.adopt(task)
        return task

    return factory
