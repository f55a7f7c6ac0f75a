"""The pytest plugin of threaded_async: fixtures, and tests run under many schedules.

Installed with the package and registered by its entry point (``pytest11``): no
``pytest_plugins`` line is needed. The library itself never imports pytest; only this
module does, and pytest loads it.

Fixtures (function scope):

* ``virtual_clock``: a ``VirtualClock(autojump=True)``;
* ``async_runner``: a started :class:`~threaded_async.AsyncRunner` on its own autojump
  virtual clock (stopped after the test);
* ``scripted_server``: a started :class:`~threaded_async.testing.ScriptedServer` (register
  answers with ``scripted_server.handler(Stub.method)``, run with ``.run(client_code)``);
* ``scripted``: a :class:`~threaded_async.testing.ScriptHarness`
  (``scripted.run(client_code, answers)``);
* ``schedule``: the :class:`~threaded_async.Schedule` of the current run (None outside
  ``@pytest.mark.schedules``).

The marker ``@pytest.mark.schedules(n=100, *, limits=None, seeds=None, shrink_runs=200)``
runs the test once per seed (``range(n)``, or ``seeds``; seed 0 is the default order),
each time with the fixtures above made afresh on that seed's schedule (``limits``: a
:class:`~threaded_async.ScheduleLimits`). A run fails if the test raises (an ``assert``).
The first failing schedule is shrunk to the few choices that matter, saved to a file,
and the test fails with an :class:`~threaded_async.testing.ExplorationError` that prints
them, the failure, the trace and how to replay it::

    pytest 'tests/test_game.py::test_two_miners' --schedule-replay=<file>

Other fixtures of the test are made once and shared by its runs (as hypothesis does):
keep per-run state in the plugin's fixtures or inside the test. Command-line options:
``--schedules=N`` runs every marked test under N seeds instead of its own count;
``--schedule-replay=FILE`` runs the marked test(s) once, under the saved schedule.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from ._core import Schedule, ScheduleLimits, VirtualClock
from ._explore import (
    Attempt,
    ExplorationReport,
    explore_seeds,
    failure_text,
    report_first_failure,
)
from ._runner import AsyncRunner
from ._trace import Trace
from .testing import ExplorationError, ScriptedServer, ScriptHarness, report_lines

__all__ = [
    "PER_RUN_FIXTURES",
    "async_runner",
    "pytest_addoption",
    "pytest_configure",
    "pytest_pyfunc_call",
    "schedule",
    "scripted",
    "scripted_server",
    "virtual_clock",
]

#: The fixtures made afresh for each run of a test under ``@pytest.mark.schedules``.
PER_RUN_FIXTURES = ("schedule", "virtual_clock", "async_runner", "scripted_server", "scripted")

#: Real seconds any single wait for a fixture's loop may take (the runner's timeout).
LOOP_TIMEOUT = 10.0


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line options."""
    group = parser.getgroup("threaded_async", "threaded_async schedules")
    group.addoption(
        "--schedules",
        type=int,
        default=None,
        metavar="N",
        help="run tests marked @pytest.mark.schedules under N seeded schedules each",
    )
    group.addoption(
        "--schedule-replay",
        default=None,
        metavar="FILE",
        help="run tests marked @pytest.mark.schedules once, under the schedule saved in FILE",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``schedules`` marker (so ``--strict-markers`` knows it)."""
    config.addinivalue_line(
        "markers",
        "schedules(n=100, *, limits=None, seeds=None, shrink_runs=200): run the test under "
        "n seeded schedules (threaded_async); on failure, print the shrunk schedule",
    )


class _PerRun:
    """What a per-run fixture gives a marked test outside its runs (never used by it)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<the {self.name} fixture: made for each run under @pytest.mark.schedules>"


def _marked(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("schedules") is not None


@pytest.fixture
def schedule(request: pytest.FixtureRequest) -> Schedule | None:
    """The Schedule of the current run (None for a test not marked ``schedules``)."""
    return cast("Schedule", _PerRun("schedule")) if _marked(request) else None


@pytest.fixture
def virtual_clock(request: pytest.FixtureRequest) -> VirtualClock:
    """A ``VirtualClock(autojump=True)`` (on the run's schedule under the marker)."""
    if _marked(request):
        return cast("VirtualClock", _PerRun("virtual_clock"))
    return VirtualClock(autojump=True)


@pytest.fixture
def async_runner(request: pytest.FixtureRequest) -> Iterator[AsyncRunner]:
    """A started AsyncRunner on an autojump virtual clock; stopped after the test."""
    if _marked(request):
        yield cast("AsyncRunner", _PerRun("async_runner"))
        return
    with _runner(None) as runner:
        yield runner


@pytest.fixture
def scripted_server(request: pytest.FixtureRequest) -> Iterator[ScriptedServer]:
    """A started ScriptedServer (answers from ``.handler(...)``); stopped after the test."""
    if _marked(request):
        yield cast("ScriptedServer", _PerRun("scripted_server"))
        return
    with ScriptedServer(timeout=LOOP_TIMEOUT) as server:
        yield server


@pytest.fixture
def scripted(request: pytest.FixtureRequest) -> ScriptHarness:
    """A ScriptHarness: ``scripted.run(client_code, answers={...})``."""
    if _marked(request):
        return cast("ScriptHarness", _PerRun("scripted"))
    return ScriptHarness()


@contextlib.contextmanager
def _runner(schedule: Schedule | None) -> Generator[AsyncRunner]:
    clock = VirtualClock(autojump=True, schedule=schedule)
    with AsyncRunner(clock=clock, call_in_loop_timeout=LOOP_TIMEOUT) as runner:
        yield runner


class _ScheduledHarness(ScriptHarness):
    """The ``scripted`` fixture of one run: its runs take the run's schedule, one after
    another (a schedule numbers its decisions across them)."""

    def __init__(self, run_schedule: Schedule) -> None:
        super().__init__()
        self._schedule = run_schedule

    def run(self, client_code: Any, answers: Any = None, **options: Any) -> Any:
        if "clock" in options:
            clock = options["clock"]
            if isinstance(clock, VirtualClock) and clock.schedule is None:
                options["clock"] = VirtualClock(
                    clock.time(), autojump=clock.autojump, schedule=self._schedule
                )
        else:
            options.setdefault("schedule", self._schedule)
        return super().run(client_code, answers, **options)


@contextlib.contextmanager
def _per_run_values(names: Iterable[str], run_schedule: Schedule) -> Generator[dict[str, Any]]:
    """Fresh values of the plugin's fixtures that a test asks for, on ``run_schedule``."""
    with contextlib.ExitStack() as stack:
        values: dict[str, Any] = {}
        for name in names:
            if name == "schedule":
                values[name] = run_schedule
            elif name == "virtual_clock":
                values[name] = VirtualClock(autojump=True, schedule=run_schedule)
            elif name == "async_runner":
                values[name] = stack.enter_context(_runner(run_schedule))
            elif name == "scripted_server":
                server = ScriptedServer(timeout=LOOP_TIMEOUT, schedule=run_schedule)
                values[name] = stack.enter_context(server)
            elif name == "scripted":
                values[name] = _ScheduledHarness(run_schedule)
        yield values


def _trace_of(values: dict[str, Any]) -> Trace:
    """The trace a run left in the plugin's fixtures (the last scripted run's)."""
    harness = values.get("scripted")
    if isinstance(harness, ScriptHarness) and harness.runs:
        return harness.runs[-1].trace
    server = values.get("scripted_server")
    if isinstance(server, ScriptedServer):
        with contextlib.suppress(RuntimeError):
            return server.trace
    return Trace()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run a test marked ``schedules`` under its seeds (None: not marked, pytest runs it)."""
    __tracebackhide__ = True
    marker = pyfuncitem.get_closest_marker("schedules")
    if marker is None:
        return None
    options = _marker_options(marker)
    function: Callable[..., object] = pyfuncitem.obj
    parameters = inspect.signature(function).parameters
    shared = {
        name: value
        for name, value in pyfuncitem.funcargs.items()
        if name in parameters and name not in PER_RUN_FIXTURES
    }
    fresh = [name for name in PER_RUN_FIXTURES if name in parameters]

    def run_once(run_schedule: Schedule) -> Attempt:
        try:
            with _per_run_values(fresh, run_schedule) as values:
                try:
                    function(**shared, **values)
                except Exception as exc:
                    trace = _trace_of(values)
                    return Attempt(
                        failure_text(exc), exc, trace, report_lines(trace), run_schedule.choices
                    )
                trace = _trace_of(values)
        except Exception as exc:  # a fixture's teardown (a runner that would not stop)
            return Attempt(failure_text(exc), exc, Trace(), (), run_schedule.choices)
        return Attempt(None, None, trace, report_lines(trace), run_schedule.choices)

    config = pyfuncitem.config
    limits: ScheduleLimits = options["limits"]
    replay_file = config.getoption("--schedule-replay")
    if replay_file is not None:
        saved = ExplorationReport.load(replay_file)
        attempt = run_once(Schedule.replaying(saved.choices, limits=saved.limits))
        if attempt.error is not None:
            raise attempt.error
        return True
    count = config.getoption("--schedules")
    seeds: Iterable[int] = options["seeds"] if count is None else range(count)
    if options["seeds"] is None and count is None:
        seeds = range(options["n"])
    found = explore_seeds(run_once, seeds, limits, None)
    if found is None:
        return True
    report = report_first_failure(run_once, limits, found, options["shrink_runs"])
    path = _save(pyfuncitem, report)
    text = str(report).rsplit("\nreplay:", 1)[0]
    text += (
        f"\nsaved to {path}; replay it with:\n"
        f"  pytest '{pyfuncitem.nodeid}' --schedule-replay={path}"
    )
    raise ExplorationError(report, text) from report.error


def _marker_options(marker: pytest.Mark) -> dict[str, Any]:
    """The marker's arguments, checked: ``schedules(n=100, *, limits, seeds, shrink_runs)``."""
    known = {"n", "limits", "seeds", "shrink_runs"}
    unknown = sorted(set(marker.kwargs) - known)
    if unknown or len(marker.args) > 1:
        raise TypeError(
            f"@pytest.mark.schedules takes (n=100, *, limits=None, seeds=None, "
            f"shrink_runs=200), not {marker.args!r} {unknown}"
        )
    n = marker.args[0] if marker.args else marker.kwargs.get("n", 100)
    limits = marker.kwargs.get("limits") or ScheduleLimits()
    shrink_runs = marker.kwargs.get("shrink_runs", 200)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise TypeError(f"@pytest.mark.schedules(n): a positive number of seeds, not {n!r}")
    if not isinstance(limits, ScheduleLimits):
        raise TypeError(f"@pytest.mark.schedules(limits=...) takes ScheduleLimits, not {limits!r}")
    seeds = marker.kwargs.get("seeds")
    return {
        "n": n,
        "limits": limits,
        "seeds": None if seeds is None else list(seeds),
        "shrink_runs": shrink_runs,
    }


def _save(item: pytest.Function, report: ExplorationReport) -> Path:
    """Save the report where the user can find it: pytest's cache directory, or a
    directory under the system's temporary one when the cache is off."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid).strip("_")[:150] + ".schedule"
    cache = getattr(item.config, "cache", None)
    if cache is not None:
        directory = Path(cache.mkdir("threaded_async_schedules"))
    else:
        directory = Path(tempfile.gettempdir()) / "threaded_async-schedules"
        directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    report.save(path)
    return path
