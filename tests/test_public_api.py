"""Pin the public surface: ``__all__`` of the package and of every public submodule.

Like anyio's ``test_all_attributes``: every name in ``__all__`` exists, and every public
attribute that is not a module is listed in ``__all__``. Public submodules are discovered
with pkgutil, so new ones are checked as soon as they are added.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
import types
from typing import TypeVar

import pytest

import threaded_async

PUBLIC_MODULES = [
    "threaded_async",
    *sorted(
        f"threaded_async.{info.name}"
        for info in pkgutil.iter_modules(threaded_async.__path__)
        if not info.name.startswith("_") and info.name != "demo"
    ),
]

# Names that are public attributes by convention but not API.
_IGNORED = {"annotations", "TYPE_CHECKING", "logger"}


def _module(name: str) -> types.ModuleType:
    return importlib.import_module(name)


def _all(module: types.ModuleType) -> list[str]:
    exported = vars(module).get("__all__")
    assert isinstance(exported, list), f"{module.__name__} has no __all__ list"
    return [str(n) for n in exported]  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]


def test_the_1_4_modules_are_discovered() -> None:
    for name in ("async_utils", "control_inversion", "threaded_async", "timers"):
        assert f"threaded_async.{name}" in PUBLIC_MODULES


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_exist(name: str) -> None:
    module = _module(name)
    exported: list[str] = _all(module)
    assert len(exported) == len(set(exported)), f"duplicates in {name}.__all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ lists missing names {missing}"


def _is_api(module_name: str, value: object) -> bool:
    """Whether a public attribute of ``module_name`` must be listed in its ``__all__``.

    In the package itself: everything that comes from threaded_async. In a submodule: what it
    defines itself (names it merely imports for its own use, TypeVars and pytest fixture
    objects are not API).
    """
    if isinstance(value, types.ModuleType | TypeVar):
        return False
    if type(value).__module__.startswith(("_pytest", "pytest")):
        return False
    origin = getattr(value, "__module__", None)
    if not isinstance(origin, str):
        return module_name == "threaded_async"  # constants: only checked at the top level
    if module_name == "threaded_async":
        return origin.startswith("threaded_async")
    return origin == module_name


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_public_attribute_is_in_all(name: str) -> None:
    module = _module(name)
    exported = set(_all(module))
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_") and attr not in _IGNORED and _is_api(name, value)
    }
    unlisted = sorted(public - exported)
    assert not unlisted, f"{name} has public names not in __all__: {unlisted}"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_are_importable_from_the_top_level(name: str) -> None:
    module = _module(name)
    not_top = [n for n in _all(module) if not hasattr(threaded_async, n)]
    if name in (
        "threaded_async.threaded_async",
        "threaded_async.control_inversion",
        "threaded_async.async_utils",
        "threaded_async.timers",
    ):
        assert not not_top, f"1.4 names missing from the top level: {not_top}"


SPEC_1 = {
    "threaded_async.threaded_async": [
        "AsyncRunner",
        "BackgroundTask",
        "Event",
        "Future",
        "Queue",
        "EventLoopTimeoutError",
        "USE_DEFAULT_TIMEOUT",
        "ShutdownType",
        "ForcedThreadShutdown",
        "ExceptionDetails",
        "TAExceptionGroup",
        "ExceptionGroup",
    ],
    "threaded_async.control_inversion": ["ExecutionRequest", "Client", "Server"],
    "threaded_async.async_utils": ["wait_for_or_cancel", "run_or_raise"],
    "threaded_async.timers": ["TimeoutTimer"],
}


@pytest.mark.parametrize("name", sorted(SPEC_1))
def test_spec_1_import_paths_export_the_1_4_names(name: str) -> None:
    module = _module(name)
    for attr in SPEC_1[name]:
        assert attr in module.__all__, f"{name}.{attr} not exported"
        assert getattr(module, attr) is getattr(threaded_async, attr), attr


def test_1_4_module_level_import_style() -> None:
    from threaded_async import async_utils, control_inversion, timers
    from threaded_async import threaded_async as ta

    assert ta.ExceptionGroup is ta.TAExceptionGroup
    assert issubclass(ta.TAExceptionGroup, ExceptionGroup)
    assert control_inversion.Server is threaded_async.Server
    assert timers.TimeoutTimer is threaded_async.TimeoutTimer
    assert async_utils.run_or_raise is threaded_async.run_or_raise
    assert threaded_async.ExceptionGroup is threaded_async.TAExceptionGroup


def test_a_plain_import_reaches_the_1_4_modules_as_attributes() -> None:
    """1.4 code writes ``import threaded_async`` then ``threaded_async.control_inversion.X``;
    checked in a fresh interpreter, where no test has imported the submodules yet."""
    code = (
        "import threaded_async as t\n"
        "assert t.threaded_async.AsyncRunner is t.AsyncRunner\n"
        "assert t.control_inversion.Server is t.Server\n"
        "assert t.async_utils.run_or_raise is t.run_or_raise\n"
        "assert t.timers.TimeoutTimer is t.TimeoutTimer\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _public_objects(module: types.ModuleType) -> list[tuple[str, object]]:
    return [
        (name, getattr(module, name))
        for name in _all(module)
        if isinstance(getattr(module, name), type) or inspect.isfunction(getattr(module, name))
    ]


@pytest.mark.parametrize("name", ["threaded_async", "threaded_async.envs"])
def test_public_objects_report_their_public_module(name: str) -> None:
    """Reprs, pickles, tracebacks and the trace codec's tags say threaded_async.X, not
    the private module the object lives in (trio's fixup_module_metadata)."""
    module = _module(name)
    wrong = [
        f"{n}: {obj.__module__}"  # type: ignore[attr-defined]
        for n, obj in _public_objects(module)
        if obj.__module__ != name  # type: ignore[attr-defined]
        and not (name == "threaded_async" and n == "ExceptionGroup")
    ]
    assert not wrong, wrong
    assert repr(threaded_async.Server) == "<class 'threaded_async.Server'>"
    assert threaded_async.Server.process.__qualname__ == "Server.process"


def test_public_objects_pickle_by_their_public_names() -> None:
    import pickle

    entry = threaded_async.TraceEntry("Env.move", (1,), {}, result=2, client="a")
    data = pickle.dumps(entry)
    assert b"threaded_async._" not in data
    assert pickle.loads(data) == entry
    error = threaded_async.EventLoopTimeoutError("the loop", 1.5, "a stack")
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.timeout, again.loop_stack) == (str(error), 1.5, "a stack")
    assert b"threaded_async._" not in pickle.dumps(threaded_async.ShutdownType.STOPPED)
