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

The module is over 600 lines because a schedule is one object whose parts share one
record of choices: the limits, the choices and their descriptions, the loop's ordering
(which handles may move, and the tags that say who registered what) and the hosts'
orders and delays all read and append to it, and a replay must walk the same record.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import threading
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

#: The longest answer delay a schedule may choose: what ``Request.answer_after`` accepts
#: (``threading.TIMEOUT_MAX``, about 292 years; a longer one means "never" there).
MAX_DELAY: float = threading.TIMEOUT_MAX
#: The most delay levels (``max_delay / delay_step``) limits may give: shrinking a delay
#: and choosing one work with levels, and more than this many is a step chosen by mistake.
MAX_DELAY_LEVELS = 1_000_000


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
        ValueError: a negative delay, or one longer than ``Request.answer_after`` takes
            (``threading.TIMEOUT_MAX``, about 292 years), a ``delay_step`` that is not
            positive, larger than ``max_delay``, or so small that there would be more than
            a million delay levels, a ``late_rate`` outside [0, 1].
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
        if not 0 <= self.max_delay <= MAX_DELAY:  # (also refuses NaN and infinity)
            raise ValueError(
                f"max_delay must be >= 0 seconds and at most {MAX_DELAY:g} (what "
                f"Request.answer_after takes), not {self.max_delay!r}"
            )
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
            if self.max_delay / self.delay_step > MAX_DELAY_LEVELS:  # (inf too: overflow)
                raise ValueError(
                    f"delay_step ({self.delay_step!r}) is too small for max_delay "
                    f"({self.max_delay!r}): more than {MAX_DELAY_LEVELS} delay levels"
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
    whose ``random()`` sequence is the same on every supported Python; one stream per
    kind of choice) within ``limits``;
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
        explain: Label each non-default ``"ready"`` choice with what it ordered (the
            tasks, by their agent's client and function; timers) for :meth:`describe`.
            It looks at the tasks' frames at every such deviation, which costs more than
            the choice itself, so it is off by default; answer and delay choices are
            always labelled (with the requests). :func:`~threaded_async.testing.explore`
            labels the schedule it reports.

    Raises:
        TypeError: a seed that is not an int, limits that are not ScheduleLimits.
    """

    def __init__(
        self, seed: int, *, limits: ScheduleLimits | None = None, explain: bool = False
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
        explain: bool = False,
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
        # One stream per kind of choice: what the loop decides does not shift what the
        # hosts decide (a loop with more decision points, as Python 3.11's wait_for
        # makes, or limits.tasks switched off, keeps a seed's answer orders and delays).
        self._rng_ready = _stream(seed, "ready")
        self._rng_answers = _stream(seed, "answers")
        self._rng_delay = _stream(seed, "delay")
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
            order = _shuffled(n, self._rng_answers.random)
        if order is None:
            order = tuple(range(n))
        self._records.append((index, "answers", self._time(), order, 0.0, tuple(labels)))
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
            rng = self._rng_delay.random
            if rng() < self._limits.late_rate:
                delay = (1 + int(rng() * levels)) * self._step
        self._records.append((index, "delay", self._time(), (), delay, (label,)))
        return delay

    # -- the loop's side (the loop thread) -------------------------------------------------
    def mark_timers(self, ready_count: int) -> None:
        """Internal (``SteppingEventLoop._run_once``, before it moves the due timers to
        the ready queue): how many handles were ready before them."""
        self._mark = ready_count

    def run_ready(
        self,
        ready: Any,
        run_debug: Callable[[asyncio.Handle], None] | None = None,
        report_error: Callable[[asyncio.Handle, BaseException], None] | None = None,
    ) -> None:
        """Internal (``SteppingEventLoop._run_once``, instead of its own loop over the
        batch): take the handles ready now out of ``ready``, choose their order and run
        them (with ``run_debug`` in asyncio's debug mode; else as ``Handle._run`` does,
        inline, when the loop gives ``report_error``, what ``Handle._run`` does with an
        exception), noting who registered the handles each one adds. What an interrupted
        batch did not run is put back."""
        n = len(ready)
        if not n:
            return
        tags = self._tags
        new_tags: dict[int, object] = {}
        self._tags = new_tags
        popleft = ready.popleft
        batch = [popleft()] if n == 1 else self._order([popleft() for _ in range(n)], tags)
        inline = run_debug is None and report_error is not None
        for position, handle in enumerate(batch):
            if handle._cancelled:  # asyncio's own test, as _run_once
                continue
            before = len(ready)
            try:
                if inline:
                    handle._context.run(handle._callback, *handle._args)  # Handle._run
                elif run_debug is None:
                    handle._run()  # as _run_once does
                else:
                    run_debug(handle)
            except (SystemExit, KeyboardInterrupt):
                ready.extendleft(reversed(batch[position + 1 :]))
                raise
            except BaseException as exc:
                if not inline:
                    ready.extendleft(reversed(batch[position + 1 :]))
                    raise
                assert report_error is not None
                report_error(handle, exc)  # as Handle._run: the loop's exception handler
            after = len(ready)
            if after != before:
                # What it registered keeps its order: one caller (its task, or itself).
                owner = getattr(handle._callback, "__self__", None)
                origin: object = owner if isinstance(owner, asyncio.Future) else handle
                if after == before + 1:
                    key = id(ready[before])
                    if key not in new_tags:  # (a noted handle keeps its tag)
                        new_tags[key] = origin
                else:
                    for i in range(before, after):
                        new_tags.setdefault(id(ready[i]), origin)

    def _order(self, batch: list[asyncio.Handle], tags: dict[int, object]) -> list[asyncio.Handle]:
        """``batch`` in the order chosen for it (the default when nothing may move).

        The handles registered by handles of the last batch (``tags`` says by whom) and
        the due timers (after ``self._mark``, with what firing them woke) are ordered: a
        random order that keeps each chain (a task's steps, a future's done-callbacks,
        one caller's registrations) in its order. What other threads (or the loop's own
        I/O) scheduled runs first, in its own order, and takes no part in the decision:
        in a repeatable run it only arrives while the loop is idle (alone in its batch),
        and a wake-up that arrives mid-run at a moment set by another thread
        (``advance()``'s) must not change what is decided.
        """
        mark = self._mark
        if mark >= len(batch) and not tags:
            return batch  # all from other threads (answers given while the loop slept)
        limits = self._limits
        timers = limits.timers
        tasks = limits.tasks
        first: list[asyncio.Handle] = []
        fixed: list[asyncio.Handle] = []  # (tasks=False: what was ready stays in order)
        units: list[asyncio.Handle] = []
        #: Per chain key, the last unit on it; an edge (earlier, later) per shared key.
        last: dict[int, int] = {}
        edges: list[tuple[int, int]] = []
        for position, handle in enumerate(batch):
            if handle._cancelled:  # never run: not ordered
                continue
            owner = getattr(handle._callback, "__self__", None)  # a task's step: the task
            if owner is None and _is_wakeup(handle):
                first.append(handle)
                continue
            args: Sequence[object] = handle._args  # (the handle's arguments)
            future: object = None
            if args and isinstance(args[0], asyncio.Future):
                future = cast("object", args[0])  # a done-callback of this future
            if position < mark:
                origin = tags.get(id(handle))
                if origin is None:
                    first.append(handle)  # from another thread, or the loop's I/O
                    continue
                if not tasks:
                    fixed.append(handle)
                    continue
                key = id(origin)  # what one caller registered: in its order
            elif (
                future is not None
                or isinstance(owner, asyncio.Future)
                or isinstance(handle, asyncio.TimerHandle)
            ):
                key = _NO_KEY if timers else _TIMERS  # a due timer, or what it woke
            else:
                first.append(handle)  # scheduled by another thread meanwhile
                continue
            u = len(units)
            units.append(handle)
            # The chains this unit is on: its caller's (or the due timers'), its task's,
            # its future's. An edge from the last unit on each.
            if key != _NO_KEY:
                p = last.get(key)
                if p is not None:
                    edges.append((p, u))
                last[key] = u
            if owner is not None and isinstance(owner, asyncio.Future):
                key = id(cast("object", owner))
                p = last.get(key)
                if p is not None and p != u:
                    edges.append((p, u))
                last[key] = u
            if future is not None:
                key = id(future)
                p = last.get(key)
                if p is not None and p != u:
                    edges.append((p, u))
                last[key] = u
        if len(units) < 2:
            return first + fixed + units
        return first + fixed + self._decide(units, edges)

    def _decide(
        self, units: list[asyncio.Handle], edges: list[tuple[int, int]]
    ) -> list[asyncio.Handle]:
        """``units`` in the order chosen for them, keeping every ``(earlier, later)`` edge;
        a decision point when more than one order keeps them."""
        m = len(units)
        succ: list[list[int]] | None = None
        if edges:
            succ = [[] for _ in range(m)]
            for p, u in edges:
                succ[p].append(u)
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
            order = self._random_order(m, succ)
        identity = _identity(m)
        if order is None or order == identity:
            self._records.append((index, "ready", self._time(), identity, 0.0, ()))
            return units
        shown = tuple(_describe_handle(h) for h in units) if self._explain else ()
        self._records.append((index, "ready", self._time(), order, 0.0, shown))
        return [units[i] for i in order]

    def _random_order(self, m: int, succ: list[list[int]] | None) -> tuple[int, ...]:
        """A random order of ``m`` units that keeps every ``succ`` edge: a shuffle when
        nothing constrains them, else a random topological sort."""
        rng = self._rng_ready.random
        if succ is None:
            return _shuffled(m, rng)
        npred = [0] * m
        for targets in succ:
            for s in targets:
                npred[s] += 1
        available = [u for u in range(m) if not npred[u]]
        order: list[int] = []
        while available:
            u = (
                available.pop()
                if len(available) == 1
                else available.pop(int(rng() * len(available)))
            )
            order.append(u)
            for s in succ[u]:
                npred[s] -= 1
                if not npred[s]:
                    available.append(s)
        return tuple(order)


def _shuffled(n: int, rng: Callable[[], float]) -> tuple[int, ...]:
    """A random order of ``range(n)``: Fisher-Yates drawing from ``random()`` only (its
    sequence is the same on every supported Python, ``shuffle``'s need not be)."""
    items = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rng() * (i + 1))
        items[i], items[j] = items[j], items[i]
    return tuple(items)


def _allowed(order: tuple[int, ...], succ: list[list[int]] | None) -> bool:
    """Whether ``order`` is a permutation that keeps every ``succ`` edge."""
    m = len(order)
    if sorted(order) != list(range(m)):
        return False
    if succ is None:
        return True
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


#: Chain keys no id() equals: the due timers when they may not move; none.
_TIMERS = -2
_NO_KEY = -3


def _no_time() -> float:
    return 0.0


def _stream(seed: int | None, kind: str) -> random.Random:
    """The random stream of one kind of choice for ``seed`` (seeding from a str is the
    same on every Python: its SHA-512; only ``random()`` is drawn from it, whose sequence
    Python keeps from version to version)."""
    return random.Random(f"threaded_async schedule {seed} {kind}")


def _is_wakeup(handle: asyncio.Handle) -> bool:
    """Whether ``handle`` is a bare wake-up of the loop (``SteppingEventLoop.wake``: it
    runs nothing), which other threads send at moments of their own."""
    callback = handle._callback  # what it runs
    return getattr(callback, "__name__", None) == "_noop" and (
        getattr(callback, "__module__", None) == _LOOP_MODULE
    )


_LOOP_MODULE = __name__.rpartition(".")[0] + "._loop"


def with_seed(schedule: Schedule | int | None, schedule_seed: int | None) -> Schedule | int | None:
    """``schedule``, or the SPEC's spelling ``schedule_seed=`` (an int seed) in its place.
    TypeError if both are given, or a ``schedule_seed`` that is not an int."""
    if schedule_seed is None:
        return schedule
    if isinstance(schedule_seed, bool) or not isinstance(schedule_seed, int):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"schedule_seed must be an int or None, not {schedule_seed!r}")
    if schedule is not None:
        raise TypeError("pass schedule= or schedule_seed=, not both")
    return schedule_seed


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
