"""Seeded schedules (SPEC §12): the orders a virtual-time run may take, chosen from a seed.

A run on a :class:`~threaded_async.VirtualClock` is exactly repeatable: the loop runs the
callbacks that became ready in one iteration first in, first out, timers due at the same
time fire in the order they were scheduled, and the hosts answer a frame of requests
oldest first. Code that works only in that one order has an *ordering bug*. A
:class:`Schedule` makes those orders vary, from a seed, within limits
(:class:`ScheduleLimits`), and records every choice it makes (:class:`Choice`), so a
failing run can be replayed exactly from its choices and shrunk to the few that matter.

Three kinds of choice, each taken at a *decision point* (numbered in the order the run
reaches them):

* ``"ready"`` (the loop): the order in which the handles that became ready in one loop
  iteration run. Not every order is allowed: the callbacks of one task keep their
  order, so do the done-callbacks of one future, and so do the callbacks registered by
  one caller (asyncio's FIFO promise for ``call_soon``: what one running callback or
  task step scheduled, or what other threads scheduled, stays in its order); the timers
  due at the same virtual time are independent of each other. A decision point is an
  iteration with more than one allowed order.
* ``"answers"`` (the scripted harness, the env hosts): the order in which a frame of
  requests taken together is answered (handled, and seen by the agents).
* ``"delay"`` (the same hosts): how many virtual seconds one answer comes late.

The loop's side of the contract is two calls from ``SteppingEventLoop._run_once`` (see
:meth:`Schedule.mark_timers` and :meth:`Schedule.run_ready`); everything else is here.
Decisions are made by one thread at a time: the loop thread while it runs, a host thread
while the loop is idle (the seeded hosts answer only then), which is what makes a seeded
run repeatable.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, cast

__all__ = [
    "CHOICE_KINDS",
    "Choice",
    "ChoiceKind",
    "Schedule",
    "ScheduleLimits",
    "as_schedule",
    "describe_task",
]

#: What a :class:`Choice` decided.
ChoiceKind = Literal["ready", "answers", "delay"]
CHOICE_KINDS: tuple[ChoiceKind, ...] = ("ready", "answers", "delay")


@dataclasses.dataclass(frozen=True)
class ScheduleLimits:
    """What a seeded :class:`Schedule` may vary, and by how much.

    Attributes:
        tasks: Reorder the tasks (and other callbacks) that became ready in the same loop
            iteration, within asyncio's promises (see :class:`Schedule`).
        timers: Reorder the timers due at the same virtual time (``asyncio.sleep``,
            ``call_later``, timeouts): each is independent of the others.
        answers: Reorder the answers of a frame: the requests the scripted harness finds
            queued together, a lockstep step of :class:`~threaded_async.envs.ParallelHost`.
        max_delay: Virtual seconds an answer may come late (0: never). Only the scripted
            harness and the env hosts delay answers.
        delay_step: Late answers are late by a whole number of these seconds, up to
            ``max_delay`` (default: ``max_delay`` itself, i.e. late by exactly that much).
            A frame (``1 / fps``) is a natural step.
        late_rate: The chance that one answer comes late, when ``max_delay`` allows it.

    Raises:
        TypeError: a flag that is not a bool, a number that is not a number.
        ValueError: a negative or infinite delay, a ``delay_step`` that is not positive or
            larger than ``max_delay``, a ``late_rate`` outside [0, 1].
    """

    tasks: bool = True
    timers: bool = True
    answers: bool = True
    max_delay: float = 0.0
    delay_step: float | None = None
    late_rate: float = 0.25

    def __post_init__(self) -> None:
        for name in ("tasks", "timers", "answers"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise TypeError(f"ScheduleLimits.{name} must be a bool, not {value!r}")
        _check_number(self.max_delay, "max_delay")
        _check_number(self.late_rate, "late_rate")
        if not 0 <= self.max_delay < math.inf:
            raise ValueError(f"max_delay must be >= 0 seconds and finite, not {self.max_delay!r}")
        if not 0 <= self.late_rate <= 1:
            raise ValueError(f"late_rate must be between 0 and 1, not {self.late_rate!r}")
        if self.delay_step is not None:
            _check_number(self.delay_step, "delay_step")
            if not 0 < self.delay_step < math.inf:
                raise ValueError(f"delay_step must be a positive number, not {self.delay_step!r}")
            if self.delay_step > self.max_delay:
                raise ValueError(
                    f"delay_step ({self.delay_step!r}) is larger than max_delay "
                    f"({self.max_delay!r}): no delay would fit"
                )

    @property
    def step(self) -> float:
        """The delay unit: ``delay_step``, or ``max_delay`` when it is not given."""
        return self.max_delay if self.delay_step is None else self.delay_step

    @property
    def delay_levels(self) -> int:
        """How many late delays there are to choose from (``step``, ``2 * step``, ... up
        to ``max_delay``); 0 when answers are never late."""
        if self.max_delay <= 0:
            return 0
        return max(1, math.floor(self.max_delay / self.step + 1e-9))

    def to_dict(self) -> dict[str, Any]:
        """The limits as a JSON-ready dict (what a saved schedule keeps)."""
        return dataclasses.asdict(self)


def _check_number(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"ScheduleLimits.{name} must be a number, not {value!r}")


@dataclasses.dataclass(frozen=True)
class Choice:
    """One decision a seeded run made (an entry of :attr:`Schedule.choices`).

    Attributes:
        index: The decision point's number in the run (0 for the first one reached).
        kind: ``"ready"`` (the order of a loop iteration's ready callbacks),
            ``"answers"`` (the order of a frame's answers) or ``"delay"`` (an answer
            held back).
        time: The virtual time of the decision.
        order: For ``"ready"`` and ``"answers"``: the default positions, in the order
            chosen (``(1, 0)``: the second ran first); the identity is the default.
        delay: For ``"delay"``: the virtual seconds the answer came late (0: on time).
        labels: What was ordered, in the default order (the tasks, timers or requests),
            or the request that was delayed; for people, not for replaying, and not
            compared (empty when the schedule was not asked to explain itself).
    """

    index: int
    kind: ChoiceKind
    time: float
    order: tuple[int, ...] = ()
    delay: float = 0.0
    labels: tuple[str, ...] = dataclasses.field(default=(), compare=False)

    @property
    def is_default(self) -> bool:
        """Whether this is what a run without a schedule does (no deviation)."""
        if self.kind == "delay":
            return self.delay == 0
        return all(position == index for index, position in enumerate(self.order))

    @property
    def size(self) -> int:
        """How many things were ordered (1 for a delay)."""
        return 1 if self.kind == "delay" else len(self.order)

    def describe(self) -> str:
        """The choice as a sentence: ``"at t=2: b's Env.move answered before a's Env.move"``."""
        at = f"at t={self.time:g}"
        if self.kind == "delay":
            what = self.labels[0] if self.labels else "an answer"
            if self.delay == 0:
                return f"{at}: {what} answered on time"
            return f"{at}: {what} answered {self.delay:g} s late"
        verb = "answered" if self.kind == "answers" else "ran"
        names = [
            self.labels[i] if i < len(self.labels) else f"#{i}" for i in range(len(self.order))
        ]
        if self.is_default:
            return f"{at}: {', '.join(names)} {verb} in their default order"
        passes = _passes(self.order)
        if len(passes) == 1:
            item, passed = passes[0]
            return f"{at}: {names[item]} {verb} before {_and(names[j] for j in passed)}"
        chosen = ", ".join(names[i] for i in self.order)
        return f"{at}: {verb} in the order {chosen} (default: {', '.join(names)})"

    def to_dict(self) -> dict[str, Any]:
        """The choice as a JSON-ready dict (what a saved schedule keeps)."""
        data: dict[str, Any] = {"index": self.index, "kind": self.kind, "time": self.time}
        if self.kind == "delay":
            data["delay"] = self.delay
        else:
            data["order"] = list(self.order)
        data["labels"] = list(self.labels)
        return data


def _passes(order: tuple[int, ...]) -> list[tuple[int, list[int]]]:
    """For each item that runs ahead of items it follows by default: ``(item, those
    items)``, in the order chosen (``(2, 0, 1)``: ``[(2, [0, 1])]``)."""
    found: list[tuple[int, list[int]]] = []
    for k, item in enumerate(order):
        passed = sorted(j for j in order[k + 1 :] if j < item)
        if passed:
            found.append((item, passed))
    return found


def _and(names: Iterable[str]) -> str:
    items = list(names)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


#: A recorded decision, kept lean while the run goes: (index, kind, time, order, delay,
#: labels); made into a Choice when asked for.
_Record = tuple[int, ChoiceKind, float, tuple[int, ...], float, tuple[str, ...]]


class Schedule:
    """The ordering choices of one virtual-time run: made from a seed, or replayed.

    ``Schedule(seed)`` chooses at random (from ``seed``, with Python's ``random.Random``,
    whose ``random()`` sequence is the same on every supported Python) within ``limits``;
    seed 0 makes every choice the default, which is the order of a run without a
    schedule. :meth:`replaying` makes a schedule that takes recorded choices at their
    decision points and the default everywhere else. Either way :attr:`choices` records
    what was decided, in order, so ``Schedule.replaying(schedule.choices)`` (or
    :meth:`replay`) repeats the run exactly.

    Give it to ``VirtualClock(schedule=...)`` (the loop's orders), to
    :func:`threaded_async.testing.run_scripted` or to an env host's ``run_episode`` (the
    loop's orders, and the answers'). A schedule drives the virtual-time runs it is given
    to one after another (its decision points are numbered across them); two loops
    running at the same time must not share one.

    What may vary (``ScheduleLimits``): the order of the callbacks that became ready in the
    same loop iteration, within asyncio's promises: a task's own steps keep their order,
    so do the done-callbacks of one future and the callbacks that one caller (a task step,
    a callback, or the other threads) registered, as ``call_soon`` promises; the timers
    due at the same virtual time are each on their own. Then, in the scripted harness and
    the env hosts, the order of a frame's answers and how late each answer comes.

    Args:
        seed: Where the random choices come from (any int; 0: the default order).
        limits: What may vary; default ``ScheduleLimits()`` (every order, no delays).
        explain: Label each non-default choice with what it ordered (task, timer or
            request names) for :meth:`describe`; costs a little per deviation.

    Raises:
        TypeError: a seed that is not an int, limits that are not ScheduleLimits.
    """

    def __init__(
        self, seed: int, *, limits: ScheduleLimits | None = None, explain: bool = True
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"a schedule seed must be an int, not {seed!r}")
        self._setup(seed, limits, explain, None)

    @classmethod
    def replaying(
        cls,
        choices: Iterable[Choice],
        *,
        limits: ScheduleLimits | None = None,
        explain: bool = True,
    ) -> Schedule:
        """A schedule that makes the given choices at their decision points (matched by
        :attr:`Choice.index`) and the default choice everywhere else.

        A recorded choice is taken only where it still fits: the same kind, as many
        things to order, and (``"ready"``) an order asyncio's promises allow; otherwise
        that point gets the default. Pass the ``limits`` the choices were made under
        (they decide where the decision points are). TypeError for anything that is not a
        Choice; ValueError for two choices with one index.
        """
        replay: dict[int, Choice] = {}
        for choice in choices:
            if not isinstance(choice, Choice):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(f"a schedule replays Choice objects, not {choice!r}")
            if choice.index in replay:
                raise ValueError(f"two choices for decision point {choice.index}")
            replay[choice.index] = choice
        schedule = cls.__new__(cls)
        schedule._setup(None, limits, explain, replay)
        return schedule

    def _setup(
        self,
        seed: int | None,
        limits: ScheduleLimits | None,
        explain: bool,
        replay: dict[int, Choice] | None,
    ) -> None:
        if limits is None:
            limits = ScheduleLimits()
        elif not isinstance(limits, ScheduleLimits):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"limits must be ScheduleLimits, not {limits!r}")
        self._seed = seed
        self._limits = limits
        self._explain = explain
        self._replay = replay
        #: Whether choices are drawn at random (a non-zero seed).
        self._random = seed is not None and seed != 0
        self._rng = random.Random(seed if seed is not None else 0)
        self._records: list[_Record] = []
        self._time: Callable[[], float] = _no_time
        #: Handles appended while a handle ran: id(handle) -> what registered it (kept
        #: alive here until the handle runs, so ids stay unique).
        self._tags: dict[int, object] = {}
        #: How many handles were ready before this iteration's due timers were added.
        self._mark = 0
        self._levels = limits.delay_levels
        self._step = limits.step

    def __repr__(self) -> str:
        source = "replaying" if self._replay is not None else f"seed={self._seed}"
        deviations = sum(1 for c in self.choices if not c.is_default)
        return f"<Schedule {source}: {len(self._records)} decisions, {deviations} deviating>"

    def __getstate__(self) -> dict[str, Any]:
        # A schedule travels (in an Episode, between processes) as its record: the clock
        # it reads and the loop's bookkeeping stay behind.
        state = dict(self.__dict__)
        state["_time"] = _no_time
        state["_tags"] = {}
        state["_mark"] = 0
        return state

    # -- what it is, what it did ---------------------------------------------------------
    @property
    def seed(self) -> int | None:
        """The seed, or None for a schedule that replays recorded choices."""
        return self._seed

    @property
    def limits(self) -> ScheduleLimits:
        """What the schedule may vary."""
        return self._limits

    @property
    def choices(self) -> tuple[Choice, ...]:
        """Every decision made so far, in order (``choices[i].index == i``): what
        :meth:`replaying` takes to repeat the run. Any thread, once the run is over."""
        return tuple(
            Choice(index, kind, time, order, delay, labels)
            for index, kind, time, order, delay, labels in list(self._records)
        )

    @property
    def deviations(self) -> tuple[Choice, ...]:
        """The choices that differ from the default order: replaying only these repeats
        the run as well (every other point gets the default)."""
        return tuple(choice for choice in self.choices if not choice.is_default)

    def describe(self) -> list[str]:
        """Each deviation as a sentence (see :meth:`Choice.describe`)."""
        return [choice.describe() for choice in self.deviations]

    def replay(self) -> Schedule:
        """A fresh schedule that repeats this one's choices (for another run)."""
        return Schedule.replaying(self.deviations, limits=self._limits, explain=self._explain)

    # -- the clock's side -----------------------------------------------------------------
    def use_time(self, time: Callable[[], float]) -> None:
        """Internal (the VirtualClock given this schedule): where decisions read the
        virtual time they are made at."""
        self._time = time

    # -- the hosts' side (a host thread, while the loop is idle) -------------------------
    def answer_order(self, labels: Sequence[str]) -> list[int]:
        """The order in which to answer a frame of ``len(labels)`` requests (the default
        order is oldest first): positions into the frame. A decision point when there
        are two or more and ``limits.answers`` allows it."""
        n = len(labels)
        if n < 2 or not self._limits.answers:
            return list(range(n))
        index = len(self._records)
        order: tuple[int, ...] | None = None
        if self._replay is not None:
            recorded = self._replay.get(index)
            if (
                recorded is not None
                and recorded.kind == "answers"
                and sorted(recorded.order) == list(range(n))
            ):
                order = recorded.order
        elif self._random:
            items = list(range(n))
            rng = self._rng.random
            for i in range(n - 1, 0, -1):  # Fisher-Yates, from random() only
                j = int(rng() * (i + 1))
                items[i], items[j] = items[j], items[i]
            order = tuple(items)
        if order is None:
            order = tuple(range(n))
        shown = tuple(labels) if self._explain else ()
        self._records.append((index, "answers", self._time(), order, 0.0, shown))
        return list(order)

    def answer_delay(self, label: str) -> float:
        """How many virtual seconds late to give one answer (0: on time). A decision
        point for every answer when ``limits.max_delay`` is above 0."""
        levels = self._levels
        if not levels:
            return 0.0
        index = len(self._records)
        delay = 0.0
        if self._replay is not None:
            recorded = self._replay.get(index)
            if recorded is not None and recorded.kind == "delay":
                delay = recorded.delay
        elif self._random:
            rng = self._rng.random
            if rng() < self._limits.late_rate:
                delay = (1 + int(rng() * levels)) * self._step
        shown = (label,) if self._explain else ()
        self._records.append((index, "delay", self._time(), (), delay, shown))
        return delay

    # -- the loop's side (the loop thread) -------------------------------------------------
    def mark_timers(self, ready_count: int) -> None:
        """Internal (``SteppingEventLoop._run_once``, before it moves the due timers to
        the ready queue): how many handles were ready before them."""
        self._mark = ready_count

    def run_ready(
        self, ready: Any, run_debug: Callable[[asyncio.Handle], None] | None = None
    ) -> None:
        """Internal (``SteppingEventLoop._run_once``, instead of its own loop over the
        batch): take the handles ready now out of ``ready``, choose their order and run
        them (with ``run_debug`` in asyncio's debug mode), noting who registered the
        handles each one adds. What an interrupted batch did not run is put back."""
        n = len(ready)
        if not n:
            return
        tags = self._tags
        new_tags: dict[int, object] = {}
        self._tags = new_tags
        popleft = ready.popleft
        batch = [popleft()] if n == 1 else self._order([popleft() for _ in range(n)], tags)
        for position, handle in enumerate(batch):
            if handle._cancelled:  # asyncio's own test, as _run_once
                continue
            before = len(ready)
            try:
                if run_debug is None:
                    handle._run()  # as _run_once does
                else:
                    run_debug(handle)
            except BaseException:
                ready.extendleft(reversed(batch[position + 1 :]))
                raise
            after = len(ready)
            if after != before:
                # What it registered keeps its order: one caller (its task, or itself).
                owner = getattr(handle._callback, "__self__", None)
                origin: object = owner if isinstance(owner, asyncio.Future) else handle
                for i in range(before, after):
                    new_tags.setdefault(id(ready[i]), origin)  # (a noted handle keeps its tag)

    def _order(self, batch: list[asyncio.Handle], tags: dict[int, object]) -> list[asyncio.Handle]:
        """``batch`` in the order chosen for it (the default when nothing may move).

        What other threads (or the loop's own I/O) scheduled runs first, in its own order,
        and takes no part in the decision: in a repeatable run it only ever arrives while
        the loop is idle (alone in its batch), and a wake-up that arrives mid-run at a
        moment set by another thread (``advance()``'s) must not change what is decided.
        """
        mark = self._mark
        if mark >= len(batch) and not tags:
            return batch  # all from other threads (answers given while the loop slept)
        first: list[asyncio.Handle] = []
        tagged: list[asyncio.Handle] = []
        due: list[asyncio.Handle] = []
        for position, handle in enumerate(batch):
            if handle._cancelled:  # never run: not ordered
                continue
            if position < mark:
                if id(handle) in tags and not _is_wakeup(handle):
                    tagged.append(handle)
                else:
                    first.append(handle)
            elif (
                isinstance(handle, asyncio.TimerHandle) or _is_future_callback(handle)
            ) and not _is_wakeup(handle):
                due.append(handle)  # a due timer, or what firing it woke
            else:
                first.append(handle)  # scheduled by another thread meanwhile
        limits = self._limits
        if not limits.tasks:
            # Only the due timers may move, among themselves.
            if limits.timers and len(due) > 1:
                due = self._order_units(due, tags, 0)
            return first + tagged + due
        if len(tagged) + len(due) < 2:
            return first + tagged + due
        return first + self._order_units(tagged + due, tags, len(tagged))

    def _order_units(
        self, units: list[asyncio.Handle], tags: dict[int, object], mark: int
    ) -> list[asyncio.Handle]:
        """``units`` (the first ``mark`` registered by handles of the last batch, the
        rest due timers and what they woke) in the order chosen for them."""
        m = len(units)
        timers = self._limits.timers
        last: dict[int, int] = {}
        succ: list[list[int]] = [[] for _ in range(m)]
        npred = [0] * m
        for u, handle in enumerate(units):
            keys: list[int] = []
            owner = getattr(handle._callback, "__self__", None)  # whose it is
            if isinstance(owner, asyncio.Future):
                keys.append(id(cast("object", owner)))  # a task's steps, a future's methods
            args = handle._args  # (the handle's arguments)
            if args and isinstance(args[0], asyncio.Future):
                keys.append(id(cast("object", args[0])))  # a future's done-callbacks
            if u < mark:
                keys.append(id(tags[id(handle)]))  # what one caller registered: FIFO
            elif not timers:
                keys.append(_TIMERS)  # the due timers keep their order
            for key in keys:
                p = last.get(key)
                if p is not None and p != u:
                    succ[p].append(u)
                    npred[u] += 1
                last[key] = u
        # One order only when each unit must precede the next: no decision to make.
        if all(u + 1 in succ[u] for u in range(m - 1)):
            return units
        index = len(self._records)
        order: tuple[int, ...] | None = None
        if self._replay is not None:
            recorded = self._replay.get(index)
            if (
                recorded is not None
                and recorded.kind == "ready"
                and len(recorded.order) == m
                and _allowed(recorded.order, succ)
            ):
                order = recorded.order
        elif self._random:
            order = self._random_order(succ, npred)
        if order is None or order == _identity(m):
            self._records.append((index, "ready", self._time(), _identity(m), 0.0, ()))
            return units
        shown = tuple(_describe_handle(h) for h in units) if self._explain else ()
        self._records.append((index, "ready", self._time(), order, 0.0, shown))
        return [units[i] for i in order]

    def _random_order(self, succ: list[list[int]], npred: list[int]) -> tuple[int, ...]:
        """A random order that keeps every ``succ`` edge (a random topological sort)."""
        npred = list(npred)
        available = [u for u in range(len(npred)) if not npred[u]]
        rng = self._rng.random
        order: list[int] = []
        while available:
            if len(available) == 1:
                u = available.pop()
            else:
                u = available.pop(int(rng() * len(available)))
            order.append(u)
            for s in succ[u]:
                npred[s] -= 1
                if not npred[s]:
                    available.append(s)
        return tuple(order)


def _allowed(order: tuple[int, ...], succ: list[list[int]]) -> bool:
    """Whether ``order`` is a permutation that keeps every ``succ`` edge."""
    m = len(succ)
    if sorted(order) != list(range(m)):
        return False
    position = [0] * m
    for k, u in enumerate(order):
        position[u] = k
    return all(position[u] < position[s] for u in range(m) for s in succ[u])


_identity_cache: dict[int, tuple[int, ...]] = {}


def _identity(m: int) -> tuple[int, ...]:
    found = _identity_cache.get(m)
    if found is None:
        found = _identity_cache[m] = tuple(range(m))
    return found


#: The chain key of the due timers when they may not move (negative: no id() equals it).
_TIMERS = -2


def _no_time() -> float:
    return 0.0


def _is_wakeup(handle: asyncio.Handle) -> bool:
    """Whether ``handle`` is a bare wake-up of the loop (``SteppingEventLoop.wake``: it
    runs nothing), which other threads send at moments of their own."""
    callback = handle._callback  # what it runs
    return getattr(callback, "__qualname__", None) == "_noop" and (
        getattr(callback, "__module__", None) == _LOOP_MODULE
    )


_LOOP_MODULE = __name__.rpartition(".")[0] + "._loop"


def _is_future_callback(handle: asyncio.Handle) -> bool:
    """Whether ``handle`` is a task's step or a future's done-callback (what a due timer
    of ``asyncio.sleep`` wakes, when the loop sets its future directly)."""
    if isinstance(getattr(handle._callback, "__self__", None), asyncio.Future):
        return True
    args = handle._args
    return bool(args) and isinstance(args[0], asyncio.Future)


def as_schedule(schedule: Schedule | int | None) -> Schedule | None:
    """``schedule`` as a Schedule: an int is a seed (0: None, the default order).
    TypeError for anything else."""
    if schedule is None or isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, bool) or not isinstance(schedule, int):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"schedule must be a Schedule, a seed (int) or None, not {schedule!r}")
    return Schedule(schedule) if schedule else None


# -- labels: what a handle is, for people ------------------------------------------------
_INTERNAL = ("asyncio", "threaded_async.", "contextlib", "concurrent.")


def _describe_handle(handle: asyncio.Handle) -> str:
    """A short name for what ``handle`` runs: the task (by its agent's client and
    function), or the callback (a timer's too)."""
    callback = handle._callback  # what it runs
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        return describe_task(cast("asyncio.Task[Any]", owner))
    name = _qualname(callback)
    if isinstance(handle, asyncio.TimerHandle):
        request = _request_in(callback)
        return f"the late answer to {request}" if request is not None else f"timer {name}"
    args = handle._args  # (the handle's arguments)
    if args and isinstance(args[0], asyncio.Task):
        done = describe_task(cast("asyncio.Task[Any]", args[0]))
        return f"{name} (task {done} done)"
    return name


def describe_task(task: asyncio.Task[Any]) -> str:
    """``"b: walk"``: the client the task acts for (a ``Client`` in its innermost frames)
    and its innermost function outside asyncio and this library; else its name."""
    frames: list[Any] = []
    coro: Any = task.get_coro()
    for _ in range(64):  # an await chain, innermost last
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        if coro is None:
            break
    function: str | None = None
    client: str | None = None
    for frame in reversed(frames):
        module = str(frame.f_globals.get("__name__", ""))
        if function is None and not module.startswith(_INTERNAL):
            function = frame.f_code.co_name
        if client is None:
            client = _client_in(frame)
        if function is not None and client is not None:
            break
    if function is None:
        coro_name = _qualname(task.get_coro())
        function = task.get_name()
        if not frames and not coro_name.startswith("_"):
            function = f"{coro_name} ({function})"  # a finished task
    return function if client is None else f"{client}: {function}"


def _request_in(callback: object) -> str | None:
    """``"b's Env.move"`` if ``callback`` closes over a request (an object with a str
    ``client`` and a str ``name``, and a ``fun``): a late answer's delivery."""
    for cell in getattr(callback, "__closure__", None) or ():
        try:
            value: object = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        client = getattr(value, "client", None)
        name = getattr(value, "name", None)
        if isinstance(client, str) and isinstance(name, str) and hasattr(value, "fun"):
            return f"{client}'s {name}"
    return None


def _client_in(frame: Any) -> str | None:
    """The name of a client (an object with ``execute``, ``server`` and a str ``name``) a
    frame holds as ``self``, ``client``, ``env`` or another local."""
    try:
        values = list(frame.f_locals.values())
    except Exception:  # a frame whose locals cannot be read
        return None
    for value in values:
        if isinstance(value, str):
            continue
        kind: type[object] = type(cast("object", value))
        if hasattr(kind, "execute") and hasattr(value, "server"):
            name = getattr(value, "name", None)
            if isinstance(name, str):
                return name
    return None


def _qualname(callback: object) -> str:
    name = getattr(callback, "__qualname__", None)
    if isinstance(name, str):
        return name.replace(".<locals>", "")
    func = getattr(callback, "func", None)  # functools.partial
    if func is not None:
        return _qualname(func)
    return type(callback).__name__
