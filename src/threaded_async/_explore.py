"""Exploring schedules (SPEC §12): run code under many seeds, shrink the first failure to
the few choices that matter, report it, and save and load the report.

This part knows nothing of what is run: :func:`threaded_async.testing.explore` gives it a
function that runs the code once under a :class:`Schedule` and says how it went (an
:class:`Attempt`). Shrinking is delta debugging over the run's *deviations* (its
non-default choices), as hypothesis shrinks its choice sequence: drop as many
deviations as possible while the run still fails, then make each one that is left
simpler (fewer items out of their default place, smaller delays). A candidate is run by
replaying it (:meth:`Schedule.replaying`); what that run actually decided becomes the
next candidate, so the result is always a schedule that was seen to fail.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Literal, cast

from ._codec import json_text, parse_line, short_repr
from ._core import CHOICE_KINDS, Choice, Schedule, ScheduleLimits
from ._trace import Trace

__all__ = [
    "Attempt",
    "ExplorationReport",
    "Runner",
    "SeededEpisode",
    "explain",
    "explore_seeds",
    "failure_text",
    "report_first_failure",
    "shrink",
]


@dataclasses.dataclass(frozen=True)
class Attempt:
    """How one run under a schedule went.

    Attributes:
        failure: What failed (``"TypeName: message"``), or None if the run passed.
        error: The exception behind the failure, if any.
        trace: The run's trace (as far as it got).
        trace_lines: The trace as text lines.
        choices: Every decision the run's schedule made.
        result: What the run returned (a ScriptRun, an Episode), if it returned.
    """

    failure: str | None
    error: BaseException | None
    trace: Trace
    trace_lines: tuple[str, ...]
    choices: tuple[Choice, ...]
    result: Any = None

    @property
    def failed(self) -> bool:
        """Whether the run failed."""
        return self.failure is not None

    @property
    def deviations(self) -> tuple[Choice, ...]:
        """The run's non-default choices."""
        return tuple(choice for choice in self.choices if not choice.is_default)


_monotonic = time.monotonic

#: Runs the explored code once under a schedule and says how it went.
Runner = Callable[[Schedule], Attempt]


def failure_text(error: BaseException) -> str:
    """``"TypeName: message"`` (the message alone for a plain AssertionError with one)."""
    message = str(error)
    if type(error) is AssertionError and message:
        return message
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def explore_seeds(
    run: Runner,
    seeds: Iterable[int],
    limits: ScheduleLimits,
    time_limit: float | None,
) -> tuple[int, int, Attempt] | None:
    """Run each seed in turn (in this process) until one fails: ``(seed, how many seeds
    were run, its attempt)``, or None if all passed (or ``time_limit`` real seconds ran
    out first, after at least one seed)."""
    started = _monotonic()
    for count, seed in enumerate(seeds, start=1):
        attempt = run(Schedule(seed, limits=limits, explain=False))
        if attempt.failed:
            return seed, count, attempt
        if time_limit is not None and _monotonic() - started >= time_limit:
            return None
    return None


#: Why shrinking stopped before it was done: it used all its runs (``"shrink_runs"``),
#: or the exploration's ``time_limit`` ran out (``"time_limit"``).
ShrinkStop = Literal["shrink_runs", "time_limit"]


_Key = tuple[tuple[int, str, tuple[int, ...], float], ...]


def _key(choices: list[Choice]) -> _Key:
    """Choices as a key (what replaying them does, without their labels)."""
    return tuple((c.index, c.kind, c.order, c.delay) for c in choices)


def shrink(
    run: Runner,
    limits: ScheduleLimits,
    failing: Attempt,
    max_runs: int,
    *,
    deadline: float | None = None,
) -> tuple[Attempt, int, ShrinkStop | None]:
    """The simplest failing schedule found from ``failing`` in at most ``max_runs`` runs,
    and before ``deadline`` (``time.monotonic()``) if one is given: ``(its attempt, runs
    used, why it stopped early or None if it finished)``. Fewest deviations first, then
    the simplest each. Every loop stops as soon as the budget is spent: what is found by
    then is returned (it failed; it may not be minimal)."""
    best = failing
    runs = 0
    stopped: ShrinkStop | None = None
    tried: set[_Key] = set()
    #: For a delay's bisection, by the other choices: the most steps seen to pass.
    passing_levels: dict[_Key, int] = {}
    current = list(best.deviations)

    def fails(candidate: list[Choice]) -> bool:
        """Run ``candidate``; True (and it becomes ``best`` and ``current``) if it fails."""
        nonlocal best, runs, stopped, current
        key = _key(candidate)
        if key in tried:
            return False
        if runs >= max_runs:
            stopped = "shrink_runs"
            return False
        if deadline is not None and _monotonic() >= deadline:
            stopped = "time_limit"
            return False
        tried.add(key)
        runs += 1
        attempt = run(Schedule.replaying(candidate, limits=limits, explain=False))
        if attempt.failed:
            best = attempt
            current = list(attempt.deviations)
            return True
        return False

    def fails_with(position: int, simpler: Choice) -> bool:
        """Whether the run fails with ``current[position]`` made ``simpler``."""
        rest = current[:position] + current[position + 1 :]
        candidate = rest if simpler.is_default else [*rest, simpler]
        return fails(sorted(candidate, key=lambda c: c.index))

    def smaller_delay(position: int) -> bool:
        """Bisect the delay at ``position`` down to the fewest steps that still fail
        (failing is taken to grow with the delay); True if it became smaller."""
        choice = current[position]
        step = limits.step
        if step <= 0:
            return False
        # (0: on time, as when it is dropped; a bisection done before under the same
        # other choices left its lower bound)
        low = passing_levels.get(_key(current[:position] + current[position + 1 :]), 0)
        high = round(choice.delay / step)
        smaller = False
        while high - low > 1 and stopped is None:
            middle = (low + high) // 2
            if not fails_with(position, dataclasses.replace(choice, delay=middle * step)):
                low = middle
                continue
            smaller = True
            # Follow the choice into what the failing run decided (it replays exactly).
            found = [p for p, c in enumerate(current) if c.index == choice.index]
            if not found or current[found[0]].kind != "delay":
                return True
            position = found[0]
            choice = current[position]
            high = min(middle, round(choice.delay / step))
        passing_levels[_key(current[:position] + current[position + 1 :])] = low
        return smaller

    if current and fails([]):
        return best, runs, stopped
    # Drop deviations, in chunks that halve (ddmin), down to single ones.
    chunks = 2
    while current and stopped is None:
        size = math.ceil(len(current) / chunks)
        dropped = False
        for start in range(0, len(current), size):
            if fails(current[:start] + current[start + size :]):
                chunks = max(chunks - 1, 2)
                dropped = True
                break
            if stopped is not None:
                break
        if not dropped:
            if size == 1:
                break
            chunks = min(len(current), chunks * 2)
    # Make each deviation that is left simpler.
    simplified = True
    while simplified and stopped is None:
        simplified = False
        for position, choice in enumerate(current):
            if choice.kind == "delay":
                simplified = smaller_delay(position)
            else:
                for simpler in _simpler_orders(choice):
                    if fails_with(position, simpler):
                        simplified = True
                        break
                    if stopped is not None:
                        break
            if simplified or stopped is not None:
                break
    return best, runs, stopped


def _simpler_orders(choice: Choice) -> Iterator[Choice]:
    """Simpler versions of an order, simplest first: one adjacent pair fewer out of its
    default place."""
    order = list(choice.order)
    for k in range(len(order) - 1):
        if order[k] > order[k + 1]:
            swapped = [*order[:k], order[k + 1], order[k], *order[k + 2 :]]
            yield dataclasses.replace(choice, order=tuple(swapped))


def explain(run: Runner, limits: ScheduleLimits, choices: Iterable[Choice]) -> Attempt:
    """Replay ``choices`` once more, labelling what each decision ordered."""
    return run(Schedule.replaying(choices, limits=limits, explain=True))


class SeededEpisode:
    """``episode_fn(Schedule(seed, limits=...))`` as a function of the seed alone: what
    :func:`threaded_async.envs.run_episodes` runs when exploring through its engines
    (picklable when ``episode_fn`` is)."""

    def __init__(self, episode_fn: Callable[[Schedule], Any], limits: ScheduleLimits) -> None:
        self.episode_fn = episode_fn
        self.limits = limits

    def __call__(self, seed: int) -> Any:
        return self.episode_fn(Schedule(seed, limits=self.limits, explain=False))


# -- the report -------------------------------------------------------------------------
FORMAT: Final = "threaded_async_schedule"
VERSION: Final = 1
#: The largest schedule file :meth:`ExplorationReport.load` reads (bytes).
MAX_FILE_BYTES: Final = 16 * 1024 * 1024
#: The most items a schedule file's lists may hold (choices, labels, an order...).
MAX_ITEMS: Final = 100_000
#: The longest text a schedule file may hold in one string.
MAX_TEXT: Final = 100_000


@dataclasses.dataclass(frozen=True)
class ExplorationReport:
    """The first schedule under which explored code failed, shrunk (what
    :func:`threaded_async.testing.explore` returns).

    ``str(report)`` says it all: the seed, the few choices that matter, the failure, the
    trace and how to replay it. Replay it with
    :func:`threaded_async.testing.replay_schedule` (``replay_schedule(report)`` in this
    process, or from a file written by :meth:`save`).

    Attributes:
        seed: The schedule seed that failed first (0: the default order itself).
        choices: The shrunk schedule: its deviations from the default order (replaying
            them, with the default everywhere else, fails again).
        failure: What failed: ``"TypeName: message"``, or the check's message.
        trace: The trace of the shrunk run (empty for a report read from a file).
        trace_lines: The same trace as text lines.
        limits: What the schedules were allowed to vary (replaying needs them).
        schedules_run: How many seeds were run, the failing one included.
        seed_deviations: How many deviations the failing seed's run had before shrinking.
        shrink_runs: How many runs shrinking took.
        reproduced: Whether the last replay of the shrunk schedule failed as well (False
            means the code is not repeatable under a schedule: real threads or I/O).
        shrink_stopped: Why shrinking stopped before it was done, or None if it finished:
            ``"shrink_runs"`` (it used them all) or ``"time_limit"`` (``explore``'s
            ``time_limit`` ran out). The choices then failed, but fewer or simpler ones
            may fail too (not saved).
        error: The exception behind the failure, if any (not saved).
        result: What the shrunk run returned (a ScriptRun or Episode; not saved).
        rerun: Re-runs the explored code under a schedule, in this process (None for a
            report read from a file): what ``replay_schedule(report)`` calls.
    """

    seed: int
    choices: tuple[Choice, ...]
    failure: str
    trace: Trace
    trace_lines: tuple[str, ...]
    limits: ScheduleLimits
    schedules_run: int
    seed_deviations: int
    shrink_runs: int
    reproduced: bool
    shrink_stopped: ShrinkStop | None = dataclasses.field(default=None, compare=False)
    error: BaseException | None = dataclasses.field(default=None, compare=False, repr=False)
    result: Any = dataclasses.field(default=None, compare=False, repr=False)
    rerun: Callable[[Schedule], Any] | None = dataclasses.field(
        default=None, compare=False, repr=False
    )

    def describe(self) -> list[str]:
        """The choices that matter, one sentence each (``"at t=2: b's Env.move answered
        before a's Env.move"``); empty when the code fails in the default order."""
        return [choice.describe() for choice in self.choices]

    def schedule(self) -> Schedule:
        """A fresh :class:`Schedule` that makes the shrunk choices (for one more run)."""
        return Schedule.replaying(self.choices, limits=self.limits)

    def __str__(self) -> str:
        lines = [
            f"failed under schedule seed {self.seed} "
            f"(the {_ordinal(self.schedules_run)} schedule tried)"
        ]
        if self.choices:
            lines.append(
                f"shrunk from {_count(self.seed_deviations, 'deviation')} from the default "
                f"order to {len(self.choices)} in {_count(self.shrink_runs, 'run')}; the "
                f"{'choice that matters' if len(self.choices) == 1 else 'choices that matter'}:"
            )
            lines.extend(f"  {text}" for text in self.describe())
            if self.shrink_stopped == "time_limit":
                lines.append("(shrinking stopped when the time_limit ran out: fewer or simpler")
                lines.append(" choices may fail too)")
            elif self.shrink_stopped == "shrink_runs":
                lines.append("(shrinking stopped when its shrink_runs were used up: fewer or")
                lines.append(" simpler choices may fail too)")
        else:
            lines.append("it fails in the default order too: not an ordering bug")
        if not self.reproduced:
            lines.append("(the shrunk schedule did not fail again when replayed: the code is")
            lines.append(" not repeatable under a schedule, e.g. it waits for real threads or I/O)")
        lines.append(f"failure: {self.failure}")
        lines.append("trace:")
        lines.extend(f"  {line}" for line in self.trace_lines or ("(no request answered)",))
        lines.append("replay: threaded_async.testing.replay_schedule(report)")
        lines.append("    or: report.save(path), then replay_schedule(path, client_code, answers)")
        return "\n".join(lines)

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the report to ``path`` as JSON lines: a header, the seed, limits, failure
        and trace (as text), then one line per choice. What a replay needs: the choices
        and limits. Any thread; replaces an existing file; OSError if it cannot write."""
        meta: dict[str, Any] = {
            "seed": self.seed,
            "limits": self.limits.to_dict(),
            "failure": self.failure,
            "trace": list(self.trace_lines),
            "trace_digest": self.trace.digest() if self.trace else None,
            "schedules_run": self.schedules_run,
            "seed_deviations": self.seed_deviations,
            "shrink_runs": self.shrink_runs,
            "reproduced": self.reproduced,
        }
        lines = [json_text({FORMAT: VERSION}), json_text(meta)]
        lines.extend(json_text(choice.to_dict()) for choice in self.choices)
        with open(path, "w", encoding="utf-8", newline="\n") as file:
            file.write("\n".join(lines) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ExplorationReport:
        """Read a report written by :meth:`save`. The file is treated as hostile input:
        nothing in it is imported or run, its size and every list and string in it are
        bounded, and anything malformed (a field missing or of the wrong type, a delay
        longer than its limits' ``max_delay``...) is a ValueError naming the line and
        what is wrong. The loaded report has no ``trace`` entries (its ``trace_lines`` are
        kept), no ``error`` and no ``rerun``.

        Any thread; blocks while it reads. Raises ValueError for a malformed file,
        OSError if it cannot be read.
        """
        name = os.fspath(path)
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"{name}: larger than {MAX_FILE_BYTES} bytes: not a schedule file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{name}: not UTF-8 text ({exc.reason})") from None
        raw_lines = text.split("\n")
        if raw_lines and raw_lines[-1] == "":
            raw_lines.pop()
        if not raw_lines:
            raise ValueError(f"{name}, line 1: empty file, not a threaded_async schedule")
        if len(raw_lines) > MAX_ITEMS + 2:
            raise ValueError(f"{name}: more than {MAX_ITEMS} choices")
        choices: list[Choice] = []
        meta: _Meta | None = None
        for number, line in enumerate(raw_lines, start=1):
            try:
                obj = parse_line(line)
                if number == 1:
                    _check_header(obj)
                elif number == 2:
                    meta = _meta(obj)
                else:
                    assert meta is not None
                    choices.append(_choice(obj, meta.limits))
            except ValueError as exc:
                raise ValueError(f"{name}, line {number}: {exc}") from None
            except Exception as exc:  # a case the checks missed: still the file's fault
                raise ValueError(
                    f"{name}, line {number}: malformed ({type(exc).__name__}: {exc})"
                ) from exc
        if meta is None:
            raise ValueError(f"{name}, line 2: missing (the report's seed, limits, failure)")
        indexes = [choice.index for choice in choices]
        if len(set(indexes)) != len(indexes):
            raise ValueError(f"{name}: two choices for one decision point")
        return cls(
            seed=meta.seed,
            choices=tuple(sorted(choices, key=lambda c: c.index)),
            failure=meta.failure,
            trace=Trace(),
            trace_lines=meta.trace_lines,
            limits=meta.limits,
            schedules_run=meta.schedules_run,
            seed_deviations=meta.seed_deviations,
            shrink_runs=meta.shrink_runs,
            reproduced=meta.reproduced,
        )


def report_first_failure(
    attempt: Runner,
    limits: ScheduleLimits,
    found: tuple[int, int, Attempt],
    shrink_runs: int,
    rerun: Callable[[Schedule], Any] | None = None,
    *,
    deadline: float | None = None,
) -> ExplorationReport:
    """The report of what :func:`explore_seeds` found, ``(seed, schedules run, failing
    attempt)``: its schedule shrunk (at most ``shrink_runs`` runs, and none once
    ``deadline``, a ``time.monotonic()`` time, has passed), the shrunk choices replayed
    once more to explain them, and the run shown (the replay's if it failed again, else
    the shrunk one: the code does not repeat under a schedule).

    That last replay is made even past the deadline, and even when the failing run had
    no deviations (nothing to label): it is what ``reproduced`` says, whether the
    failure repeats at all (a failure in the default order that does not is a flaky
    test, not a bug of the code's order; the shrinking runs do not tell, as none ran).
    """
    seed, count, failing = found
    if failing.deviations:
        shrunk, runs, stopped = shrink(attempt, limits, failing, shrink_runs, deadline=deadline)
    else:
        shrunk, runs, stopped = failing, 0, None
    final = explain(attempt, limits, shrunk.deviations)
    shown = final if final.failed else shrunk
    return ExplorationReport(
        seed=seed,
        choices=shown.deviations,
        failure=shown.failure or "",
        trace=shown.trace,
        trace_lines=shown.trace_lines,
        limits=limits,
        schedules_run=count,
        seed_deviations=len(failing.deviations),
        shrink_runs=runs,
        reproduced=final.failed,
        shrink_stopped=stopped,
        error=shown.error,
        result=shown.result,
        rerun=rerun,
    )


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_META_KEYS = (
    "seed",
    "limits",
    "failure",
    "trace",
    "trace_digest",
    "schedules_run",
    "seed_deviations",
    "shrink_runs",
    "reproduced",
)
_CHOICE_KEYS = ("index", "kind", "time", "order", "delay", "labels")
_LIMIT_KEYS = tuple(field.name for field in dataclasses.fields(ScheduleLimits))


def _check_header(obj: object) -> None:
    if not isinstance(obj, dict) or FORMAT not in obj:
        raise ValueError(f'expected the header {{"{FORMAT}":{VERSION}}}')
    header = cast(dict[str, object], obj)
    version = header[FORMAT]
    if len(header) != 1 or type(version) is not int or version != VERSION:
        raise ValueError(
            f"unsupported schedule format version {short_repr(version)} (this version "
            f"reads {VERSION})"
        )


@dataclasses.dataclass(frozen=True)
class _Meta:
    """A schedule file's line 2, checked."""

    seed: int
    failure: str
    trace_lines: tuple[str, ...]
    limits: ScheduleLimits
    schedules_run: int
    seed_deviations: int
    shrink_runs: int
    reproduced: bool


def _meta(obj: object) -> _Meta:
    """Line 2: every field present (``trace_digest`` may be null) and of its type."""
    fields = _object(obj, "the report", _META_KEYS, _META_KEYS)
    digest = fields["trace_digest"]
    if digest is not None:
        _text(digest, "trace_digest")
    return _Meta(
        seed=_int(fields["seed"], "seed"),
        failure=_text(fields["failure"], "failure"),
        trace_lines=tuple(_text(line, "a trace line") for line in _list(fields["trace"], "trace")),
        limits=_limits(fields["limits"]),
        schedules_run=_int(fields["schedules_run"], "schedules_run"),
        seed_deviations=_int(fields["seed_deviations"], "seed_deviations"),
        shrink_runs=_int(fields["shrink_runs"], "shrink_runs"),
        reproduced=_bool(fields["reproduced"], "reproduced"),
    )


def _object(
    obj: object, what: str, keys: tuple[str, ...], required: tuple[str, ...]
) -> dict[str, object]:
    """``obj`` as a JSON object with only ``keys`` and every one of ``required``."""
    if not isinstance(obj, dict):
        raise ValueError(f"{what} must be a JSON object, not {short_repr(obj)}")
    mapping = cast(dict[str, object], obj)
    unknown = sorted(set(mapping) - set(keys))
    if unknown:
        raise ValueError(f"{what} has unknown fields {short_repr(unknown)}")
    missing = [key for key in required if key not in mapping]
    if missing:
        raise ValueError(f"{what} lacks {missing}")
    return mapping


def _int(value: object, what: str, *, low: int = 0, high: int = 2**63) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{what} must be an int from {low} to {high}, not {short_repr(value)}")
    return value


def _float(value: object, what: str, *, high: float = 1e15) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, not {short_repr(value)}")
    number = float(value)
    if not -high <= number <= high:  # also refuses NaN
        raise ValueError(f"{what} must be a finite number, not {short_repr(value)}")
    return number


def _bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, not {short_repr(value)}")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"{what} must be a string of at most {MAX_TEXT} characters")
    return value


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list, not {short_repr(value)}")
    items = cast(list[object], value)
    if len(items) > MAX_ITEMS:
        raise ValueError(f"{what} has more than {MAX_ITEMS} items")
    return items


def _limits(value: object) -> ScheduleLimits:
    fields = _object(value, "limits", _LIMIT_KEYS, _LIMIT_KEYS)
    step = fields["delay_step"]
    try:
        return ScheduleLimits(
            tasks=_bool(fields["tasks"], "limits.tasks"),
            timers=_bool(fields["timers"], "limits.timers"),
            answers=_bool(fields["answers"], "limits.answers"),
            max_delay=_float(fields["max_delay"], "limits.max_delay"),
            delay_step=None if step is None else _float(step, "limits.delay_step"),
            late_rate=_float(fields["late_rate"], "limits.late_rate"),
        )
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def _choice(obj: object, limits: ScheduleLimits) -> Choice:
    fields = _object(obj, "a choice", _CHOICE_KEYS, ("index", "kind", "time", "labels"))
    kind = fields["kind"]
    if kind not in CHOICE_KINDS:
        raise ValueError(f"a choice's kind must be one of {CHOICE_KINDS}, not {short_repr(kind)}")
    index = _int(fields["index"], "a choice's index", high=10**9)
    at = _float(fields["time"], "a choice's time", high=1.8e308)
    labels = tuple(_text(label, "a label") for label in _list(fields["labels"], "labels"))
    if kind == "delay":
        if "order" in fields or "delay" not in fields:
            raise ValueError("a delay choice has a 'delay' and no 'order'")
        delay = _float(fields["delay"], "a delay", high=1e15)
        if delay < 0:
            raise ValueError(f"a delay must be >= 0, not {short_repr(delay)}")
        # (a chosen delay is a whole number of steps: allow for its rounding)
        if delay > limits.max_delay * (1 + 1e-9):
            raise ValueError(
                f"a delay of {delay:g} s is longer than the limits' max_delay "
                f"({limits.max_delay:g} s)"
            )
        return Choice(index, kind, at, (), delay, labels)
    if "delay" in fields or "order" not in fields:
        raise ValueError(f"an {kind!r} choice has an 'order' and no 'delay'")
    raw = _list(fields["order"], "an order")
    order = tuple(_int(item, "an order's item", high=MAX_ITEMS) for item in raw)
    if sorted(order) != list(range(len(order))) or len(order) < 2:
        raise ValueError(f"an order must be a permutation of 0..n-1 (n >= 2), not {order[:20]}")
    if labels and len(labels) != len(order):
        raise ValueError("an order's labels must name each item once")
    return Choice(index, kind, at, order, 0.0, labels)
