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
:class:`~threaded_async.ScheduleLimits`; ``shrink_runs``: an int >= 0). A run fails if the
test raises an exception (an ``assert``) or fails the pytest way (``pytest.fail()``, a
``pytest.raises`` that saw nothing): that failure is explored and shrunk like any other.
``pytest.skip()`` or ``pytest.xfail()`` in a run ends the whole test at once with that
outcome (the runs before it passed; no later seed runs), and ``KeyboardInterrupt``,
``SystemExit`` and ``pytest.exit()`` stop it as usual. The first failing schedule is
shrunk to the few choices that matter, saved to a file, and the test fails with an
:class:`~threaded_async.testing.ExplorationError` that prints them, the failure, the
trace and how to replay it from the directory pytest was started in::

    pytest tests/test_game.py::test_two_miners --schedule-replay=<file>

The file is saved in pytest's cache directory, or, with the cache off, in a directory of
the system's temporary one that only the current user may write (made afresh by
``tempfile.mkdtemp`` if the usual one is not such a directory); it is written to a new
file there and renamed into place, so nothing planted at its name is written through.

The marker runs plain (``def``) tests, whose body it calls once per run: an ``async def``
test under it fails at once, saying so (run coroutines inside the test with the
``scripted`` or ``async_runner`` fixtures, or drop the marker).

Other fixtures of the test are made once and shared by its runs (as hypothesis does):
keep per-run state in the plugin's fixtures or inside the test. Command-line options:
``--schedules=N`` (N >= 1) runs every marked test under N seeds instead of its own count;
``--schedule-replay=FILE`` runs the marked test(s) once, under the saved schedule.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import shlex
import stat
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
    """Register the ``schedules`` marker (so ``--strict-markers`` knows it); refuse a
    ``--schedules`` below 1 (it would run no schedule, and every marked test would pass)."""
    count = config.getoption("--schedules")
    if count is not None and count < 1:
        raise pytest.UsageError(f"--schedules=N: a positive number of seeds, not {count}")
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


_NOT_SYNC = (
    "@pytest.mark.schedules runs plain (def) tests: {name} is {what}, and calling it would "
    "only make {made} that never runs. Run the async code inside a def test with the "
    "scripted or async_runner fixtures (scripted.run(client_code, answers), "
    "async_runner.run(coro)), or drop the marker."
)


class _NotSync(Exception):
    """A marked test that turned out to give an awaitable (refused, never a pass)."""


def _refuse_async(function: Callable[..., object], name: str) -> None:
    """Fail at once for an ``async def`` test: the marker would drop its coroutine unrun."""
    __tracebackhide__ = True
    if inspect.iscoroutinefunction(function):
        pytest.fail(
            _NOT_SYNC.format(name=name, what="an async def function", made="a coroutine"),
            pytrace=False,
        )
    if inspect.isasyncgenfunction(function):
        pytest.fail(
            _NOT_SYNC.format(
                name=name, what="an async generator function", made="an async generator"
            ),
            pytrace=False,
        )


def _drop_awaitable(result: object, name: str) -> None:
    """Close what a test returned if it is a coroutine or async generator, and refuse it."""
    if hasattr(result, "__await__") or hasattr(result, "__aiter__"):
        close = getattr(result, "close", None)
        if inspect.iscoroutine(result) and callable(close):
            close()  # no "never awaited" warning
        raise _NotSync(
            _NOT_SYNC.format(name=name, what="a function that returned one", made=repr(result))
        )


#: What a run lets through instead of counting it as the run's failure: the test's own
#: choice to skip or xfail, pytest.exit(), and a refused async test (KeyboardInterrupt and
#: SystemExit are not caught at all).
_PASS_THROUGH: tuple[type[BaseException], ...] = (
    pytest.skip.Exception,
    pytest.xfail.Exception,
    pytest.exit.Exception,
    _NotSync,
)

#: What counts as a run's failure: any Exception, and pytest's own failures
#: (``pytest.fail()``, a ``pytest.raises`` that saw nothing), which are BaseExceptions.
_FAILURES: tuple[type[BaseException], ...] = (Exception, pytest.fail.Exception)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run a test marked ``schedules`` under its seeds (None: not marked, pytest runs it)."""
    __tracebackhide__ = True
    marker = pyfuncitem.get_closest_marker("schedules")
    if marker is None:
        return None
    function: Callable[..., object] = pyfuncitem.obj
    _refuse_async(function, pyfuncitem.name)
    options = _marker_options(marker)
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
                    _drop_awaitable(function(**shared, **values), pyfuncitem.name)
                except _PASS_THROUGH:
                    raise
                except _FAILURES as exc:
                    trace = _trace_of(values)
                    return Attempt(
                        failure_text(exc), exc, trace, report_lines(trace), run_schedule.choices
                    )
                trace = _trace_of(values)
        except _PASS_THROUGH:
            raise
        except _FAILURES as exc:  # a fixture's teardown (a runner that would not stop)
            return Attempt(failure_text(exc), exc, Trace(), (), run_schedule.choices)
        return Attempt(None, None, trace, report_lines(trace), run_schedule.choices)

    config = pyfuncitem.config
    limits: ScheduleLimits = options["limits"]
    replay_file = config.getoption("--schedule-replay")
    if replay_file is not None:
        saved = ExplorationReport.load(replay_file)
        try:
            attempt = run_once(Schedule.replaying(saved.choices, limits=saved.limits))
        except _NotSync as exc:
            pytest.fail(str(exc), pytrace=False)
        if attempt.error is not None:
            raise attempt.error
        return True
    count = config.getoption("--schedules")
    seeds: Iterable[int] = options["seeds"] if count is None else range(count)
    if options["seeds"] is None and count is None:
        seeds = range(options["n"])
    try:
        found = explore_seeds(run_once, seeds, limits, None)
        if found is None:
            return True
        report = report_first_failure(run_once, limits, found, options["shrink_runs"])
    except _NotSync as exc:
        pytest.fail(str(exc), pytrace=False)
    path = _save(pyfuncitem, report)
    text = str(report).rsplit("\nreplay:", 1)[0]
    text += (
        f"\nsaved to {path}; replay it with:\n"
        f"  pytest {shlex.quote(_cwd_node_id(pyfuncitem))} "
        f"--schedule-replay={shlex.quote(str(path))}"
    )
    raise ExplorationError(report, text) from report.error


def _cwd_node_id(item: pytest.Function) -> str:
    """The test's node id with its file as seen from the directory pytest was started in
    (pytest's ``nodeid`` is relative to the rootdir, which may be another directory):
    relative to it, or absolute if there is no relative path (another drive)."""
    _, sep, rest = item.nodeid.partition("::")
    try:
        where = os.path.relpath(item.path, item.config.invocation_params.dir)
    except ValueError:
        where = str(item.path)
    return f"{Path(where).as_posix()}{sep}{rest}"


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
    if isinstance(shrink_runs, bool) or not isinstance(shrink_runs, int) or shrink_runs < 0:
        raise TypeError(
            f"@pytest.mark.schedules(shrink_runs=...): a number of runs >= 0, not {shrink_runs!r}"
        )
    if not isinstance(limits, ScheduleLimits):
        raise TypeError(f"@pytest.mark.schedules(limits=...) takes ScheduleLimits, not {limits!r}")
    seeds = marker.kwargs.get("seeds")
    if seeds is not None:
        seeds = list(seeds)
        if not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
            raise TypeError(f"@pytest.mark.schedules(seeds=...): some seeds (ints), not {seeds!r}")
    return {
        "n": n,
        "limits": limits,
        "seeds": seeds,
        "shrink_runs": shrink_runs,
    }


def _save(item: pytest.Function, report: ExplorationReport) -> Path:
    """Save the report where the user can find it: pytest's cache directory, or a private
    directory under the system's temporary one when the cache is off. Written to a new
    file in that directory, then renamed over the name: a symlink planted at the name is
    replaced, never written through."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid).strip("_")[:150] + ".schedule"
    cache = getattr(item.config, "cache", None)
    if cache is not None:
        directory = Path(cache.mkdir("threaded_async_schedules"))
    else:
        directory = _private_directory()
    path = directory / name
    handle, temporary = tempfile.mkstemp(prefix=".saving-", suffix=".tmp", dir=directory)
    os.close(handle)  # made with O_EXCL and mode 0o600, in a directory nobody else writes
    try:
        report.save(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def _private_directory(base: str | None = None) -> Path:
    """``<tmp>/threaded_async-schedules-<uid>``, made with mode 0o700 if missing and used
    only if it is a real directory (not a symlink) owned by the current user that no one
    else may write; else a fresh ``tempfile.mkdtemp`` directory. Where there are no uids
    (Windows: the temporary directory is the user's own), the name has no uid and the
    ownership check is left out."""
    base = tempfile.gettempdir() if base is None else base
    getuid = getattr(os, "getuid", None)
    uid = getuid() if callable(getuid) else None
    suffix = "" if uid is None else f"-{uid}"
    directory = Path(base) / f"threaded_async-schedules{suffix}"
    with contextlib.suppress(OSError):  # there already, or not ours to make: checked next
        directory.mkdir(mode=0o700)
    with contextlib.suppress(OSError):
        info = directory.lstat()
        private = stat.S_ISDIR(info.st_mode) and (
            uid is None or (info.st_uid == uid and not info.st_mode & 0o022)
        )
        if private:
            return directory
    return Path(tempfile.mkdtemp(prefix="threaded_async-schedules-", dir=base))
