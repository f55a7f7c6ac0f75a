"""Pytest plugin: ``--loop=uvloop`` runs every runner of the suite on uvloop.

Loaded for the whole suite through ``addopts = ["-p", "tests._loop_option"]`` in
pyproject.toml. With ``--loop=uvloop`` the private default loop factory of
:class:`threaded_async.AsyncRunner` is switched to ``uvloop.new_event_loop``, so every
runner created without ``loop_factory`` or ``clock`` runs on uvloop. Tests that rely on the
stdlib loop's internals (the idle hook of :class:`SteppingEventLoop`, the virtual clock,
exact iteration counts) carry ``@pytest.mark.stdlib_loop`` and are skipped there, with
that marker's reason shown by ``-ra``.
"""

from __future__ import annotations

import pytest

from threaded_async import _runner

STDLIB_ONLY_REASON = (
    "depends on the stdlib SteppingEventLoop internals (idle hook, virtual clock or "
    "iteration counting) that uvloop does not have"
)


#: Single parameter sets of otherwise loop-neutral tests that need the stdlib loop: a
#: marker cannot be put on one case of a shared parameter list without changing it.
#: ``wait_until_idle`` on uvloop is approximated by a fixed number of loop hops, so a
#: loop that never idles does not keep it parked.
STDLIB_ONLY_CASES = frozenset(
    {
        "tests/runner/test_wakeups.py::test_orderly_stop_wakes_two_blocked_threads"
        "[AsyncRunner.wait_until_idle]",
    }
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--loop",
        choices=("stdlib", "uvloop"),
        default="stdlib",
        help="event loop that AsyncRunner uses by default in tests (default: stdlib)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--loop") == "uvloop":
        import uvloop

        _runner._default_loop_factory = uvloop.new_event_loop


def pytest_unconfigure(config: pytest.Config) -> None:
    _runner._default_loop_factory = None


def pytest_report_header(config: pytest.Config) -> str:
    return f"threaded_async test loop: {config.getoption('--loop')}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--loop") != "uvloop":
        return
    skip = pytest.mark.skip(reason=f"uvloop: {STDLIB_ONLY_REASON}")
    for item in items:
        if item.get_closest_marker("stdlib_loop") is not None or item.nodeid in STDLIB_ONLY_CASES:
            item.add_marker(skip)
