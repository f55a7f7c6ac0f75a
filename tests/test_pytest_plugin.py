"""The pytest plugin (SPEC §12): registered by entry point, its fixtures, and
``@pytest.mark.schedules`` running a test under many schedules, printing the shrunk one
and replaying it. Each case runs pytest in a fresh process on a small test file."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from threaded_async.pytest_plugin import _private_directory

ROOT = Path(__file__).resolve().parent.parent

MINES = """
import asyncio
import pytest
import threaded_async as ta

class Env(ta.Client):
    @ta.request
    async def walk(self) -> int: ...
    @ta.request
    async def mine(self) -> int: ...

def miners(server, careful):
    bank = {"gold": 0}
    async def miner(env, walks):
        for _ in range(walks):
            await env.walk()
        if careful:
            found = await env.mine()
            bank["gold"] += found
        else:
            gold = bank["gold"]
            bank["gold"] = gold + await env.mine()
    async def both():
        await asyncio.gather(miner(Env(server, name="ann"), 1), miner(Env(server, name="bob"), 2))
        return bank["gold"]
    return both()

ANSWERS = {Env.walk: lambda: 0, Env.mine: lambda: 10}
"""

MINERS = (
    MINES
    + """
@pytest.mark.schedules(30)
def test_careless(scripted):
    run = scripted.run(lambda server: miners(server, False), ANSWERS)
    assert run.result == 20, f"lost update: {run.result} gold"

@pytest.mark.schedules(30)
def test_careful(scripted):
    run = scripted.run(lambda server: miners(server, True), ANSWERS)
    assert run.result == 20
"""
)

OUTCOMES = (
    MINES
    + """
@pytest.mark.schedules(30)
def test_fail(scripted):
    run = scripted.run(lambda server: miners(server, False), ANSWERS)
    if run.result != 20:
        pytest.fail(f"lost update: {run.result} gold")

@pytest.mark.schedules(30)
def test_did_not_raise(scripted):
    run = scripted.run(lambda server: miners(server, False), ANSWERS)
    with pytest.raises(ValueError):
        if run.result == 20:
            raise ValueError("all the gold")

@pytest.mark.schedules(30)
def test_skip(scripted):
    run = scripted.run(lambda server: miners(server, False), ANSWERS)
    if run.result != 20:
        pytest.skip("a lost update: skipped")

@pytest.mark.schedules(30)
def test_xfail(scripted):
    run = scripted.run(lambda server: miners(server, False), ANSWERS)
    if run.result != 20:
        pytest.xfail("a lost update: known")
"""
)

QUOTED = (
    MINES
    + """
@pytest.mark.schedules(30)
@pytest.mark.parametrize("who", ["it's"])
def test_careless(scripted, who):
    run = scripted.run(lambda server: miners(server, False), ANSWERS)
    assert run.result == 20, f"lost update: {run.result} gold"
"""
)

ASYNC = """
import pytest

@pytest.mark.schedules(5)
async def test_async(scripted):
    assert False, "never runs"
"""

FIXTURES = """
import asyncio
import pytest
import threaded_async as ta
from threaded_async.testing import ScriptedServer, ScriptHarness

SEEN = []

@pytest.mark.schedules(5)
def test_fresh_per_run(schedule, virtual_clock, async_runner, scripted_server, scripted):
    assert isinstance(schedule, ta.Schedule)
    assert virtual_clock.schedule is schedule
    assert async_runner.is_running and async_runner.clock.schedule is schedule
    assert isinstance(scripted_server, ScriptedServer)
    assert scripted_server.virtual_clock.schedule is schedule
    assert isinstance(scripted, ScriptHarness)
    SEEN.append((schedule.seed, id(virtual_clock)))

def test_the_runs_were_fresh():
    assert [seed for seed, _ in SEEN] == [0, 1, 2, 3, 4] or len(SEEN) == 3
    assert len({clock for _, clock in SEEN}) == len(SEEN)

def test_plain(schedule, virtual_clock, async_runner, scripted_server, scripted):
    assert schedule is None
    assert virtual_clock.schedule is None and virtual_clock.autojump
    assert async_runner.is_running
    assert async_runner.run(asyncio.sleep(3600, "an hour")) == "an hour"

    class Env(ta.Client):
        @ta.request
        async def look(self) -> str: ...

    scripted_server.handler(Env.look)(lambda: "wall")
    assert scripted_server.run(lambda s: Env(s).look()).result == "wall"
    assert scripted.run(lambda s: Env(s).look(), {Env.look: ["door"]}).result == "door"
"""

MISUSED = """
import pytest

@pytest.mark.schedules(0)
def test_no_seeds(schedule):
    pass

@pytest.mark.schedules(3, shrink_runs="many")
def test_bad_shrink_runs(schedule):
    pass

@pytest.mark.schedules(3, shrink_runs=-1)
def test_negative_shrink_runs(schedule):
    pass

@pytest.mark.schedules(seeds=[])
def test_empty_seeds(schedule):
    pass
"""


def _pytest(
    tmp_path: Path,
    source: str,
    *args: str,
    where: str = "test_subject.py",
    env_extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run pytest in ``tmp_path`` on ``source`` written to ``where`` (a path under it)."""
    (tmp_path / where).write_text(source, encoding="utf-8")
    return _run_pytest(tmp_path, *args, where, env_extra=env_extra)


def _run_pytest(
    cwd: Path, *args: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )


def test_the_plugin_is_registered_by_entry_point() -> None:
    points = importlib.metadata.entry_points(group="pytest11")
    assert [p.value for p in points if p.name == "threaded_async"] == [
        "threaded_async.pytest_plugin"
    ]


def test_the_library_never_imports_pytest() -> None:
    code = (
        "import sys, threaded_async, threaded_async.testing, threaded_async.envs\n"
        "assert 'pytest' not in sys.modules and '_pytest' not in sys.modules\n"
        "assert 'threaded_async.pytest_plugin' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_marked_test_fails_with_the_shrunk_schedule_and_replays_it(tmp_path: Path) -> None:
    done = _pytest(tmp_path, MINERS, "-p", "no:cacheprovider")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "1 failed, 1 passed" in out  # the careful miners pass every seed
    assert "ExplorationError" in out
    assert "the choice that matters:" in out
    assert re.search(r"at t=0: bob's Env\.walk answered before ann's Env\.(walk|mine)", out)
    assert "failure: lost update: 10 gold" in out
    assert "t=0 bob: Env.walk() -> 0" in out
    found = re.search(r"--schedule-replay=(\S+)", out)
    assert found is not None, out
    saved = Path(found.group(1))
    assert saved.is_file()
    again = _pytest(
        tmp_path, MINERS, "-p", "no:cacheprovider", f"--schedule-replay={saved}", "-k", "careless"
    )
    assert again.returncode == 1
    assert "AssertionError: lost update: 10 gold" in again.stdout  # the original failure
    assert "ExplorationError" not in again.stdout
    fixed = _pytest(
        tmp_path, MINERS, "-p", "no:cacheprovider", f"--schedule-replay={saved}", "-k", "careful"
    )
    assert fixed.returncode == 0, fixed.stdout


def test_with_the_cache_the_schedule_is_saved_in_it(tmp_path: Path) -> None:
    done = _pytest(tmp_path, MINERS, "-k", "careless")
    assert done.returncode == 1
    saved = list((tmp_path / ".pytest_cache").rglob("*.schedule"))
    assert len(saved) == 1
    assert f"--schedule-replay={saved[0]}" in done.stdout


def test_the_fixtures_are_fresh_for_every_run_and_plain_without_the_marker(
    tmp_path: Path,
) -> None:
    done = _pytest(tmp_path, FIXTURES, "-p", "no:cacheprovider")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
    fewer = _pytest(tmp_path, FIXTURES, "-p", "no:cacheprovider", "--schedules=3")
    assert fewer.returncode == 0, fewer.stdout + fewer.stderr


def test_a_misused_marker_says_what_it_takes(tmp_path: Path) -> None:
    done = _pytest(tmp_path, MISUSED, "-p", "no:cacheprovider")
    assert done.returncode == 1
    assert "4 failed" in done.stdout
    assert "a positive number of seeds, not 0" in done.stdout
    assert "a number of runs >= 0, not 'many'" in done.stdout
    assert "a number of runs >= 0, not -1" in done.stdout
    assert "some seeds (ints), not []" in done.stdout


@pytest.mark.parametrize("count", ["0", "-2"])
def test_schedules_below_one_is_a_usage_error(tmp_path: Path, count: str) -> None:
    # It used to run no schedule at all: every marked test passed, the careless one too.
    done = _pytest(tmp_path, MINERS, "-p", "no:cacheprovider", f"--schedules={count}")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert f"--schedules=N: a positive number of seeds, not {count}" in done.stderr


def test_an_async_test_under_the_marker_fails_at_once(tmp_path: Path) -> None:
    # Calling an async def test only made a coroutine: it was dropped and the test passed.
    done = _pytest(tmp_path, ASYNC, "-p", "no:cacheprovider")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "1 failed" in out
    assert "passed" not in out
    assert "@pytest.mark.schedules runs plain (def) tests" in out
    assert "test_async is an async def function" in out
    assert "scripted or async_runner fixtures" in out
    assert "ExplorationError" not in out  # refused before any run, not explored


def test_pytest_failures_in_a_run_are_explored_and_skips_end_the_test(tmp_path: Path) -> None:
    # pytest.fail and pytest.raises raise Failed, a BaseException: it escaped the first
    # failing seed unexplored, with no shrunk schedule and no replay command.
    done = _pytest(tmp_path, OUTCOMES, "-p", "no:cacheprovider", "-rsx")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "2 failed, 1 skipped, 1 xfailed" in out
    assert out.count("ExplorationError: failed under schedule seed") == 2
    assert "failure: Failed: lost update: 10 gold" in out
    assert "failure: Failed: DID NOT RAISE" in out
    assert out.count("the choice that matters:") == 2
    assert "SKIPPED [1] test_subject.py" in out
    assert "a lost update: skipped" in out
    assert "XFAIL test_subject.py::test_xfail - a lost update: known" in out
    found = re.search(r"--schedule-replay=(\S+test_fail\.schedule)", out)
    assert found is not None, out
    again = _run_pytest(
        tmp_path,
        "-p",
        "no:cacheprovider",
        f"--schedule-replay={found.group(1)}",
        "test_subject.py::test_fail",
    )
    assert again.returncode == 1, again.stdout
    assert "Failed: lost update: 10 gold" in again.stdout
    assert "ExplorationError" not in again.stdout


def test_the_replay_command_is_quoted_and_works_from_where_pytest_ran(tmp_path: Path) -> None:
    # The node id was printed in bare single quotes (broken by an id with a quote) and
    # relative to the rootdir (not found from another directory).
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    done = _pytest(tmp_path, QUOTED, "-p", "no:cacheprovider", where="sub/test_subject.py")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "/test_subject.py_test_careless_it_s" in out  # the node id is sub-relative
    found = re.search(r"replay it with:\n\s*(pytest .*)\n", out)
    assert found is not None, out
    command = shlex.split(found.group(1))
    assert command[1] == "sub/test_subject.py::test_careless[it's]"
    again = _run_pytest(tmp_path, "-p", "no:cacheprovider", *command[1:])
    assert again.returncode == 1, again.stdout + again.stderr
    assert "1 failed" in again.stdout
    assert "AssertionError: lost update: 10 gold" in again.stdout


def test_without_the_cache_the_schedule_is_not_written_through_a_planted_symlink(
    tmp_path: Path,
) -> None:
    # The schedule went to a predictable shared directory, through whatever symlink
    # another user had planted at its name there.
    temporary = tmp_path / "tmp"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    shared = temporary / "threaded_async-schedules"  # where it used to go
    private = temporary / f"threaded_async-schedules-{os.getuid()}"
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    private.mkdir(mode=0o700)
    name = "test_subject.py_test_careless.schedule"
    for directory in (shared, private):
        (directory / name).symlink_to(victim)
    done = _pytest(
        tmp_path,
        MINERS,
        "-p",
        "no:cacheprovider",
        "-k",
        "careless",
        env_extra={"TMPDIR": str(temporary)},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert victim.read_text(encoding="utf-8") == "precious"
    found = re.search(r"--schedule-replay=(\S+)", done.stdout)
    assert found is not None, done.stdout
    saved = Path(found.group(1))
    assert saved == private / name  # the symlink replaced by the file, not followed
    assert saved.is_file()
    assert not saved.is_symlink()
    assert saved.read_text(encoding="utf-8").startswith('{"threaded_async_schedule"')
    assert [p.name for p in private.iterdir()] == [name]  # no temporary file left


def test_the_private_directory_is_made_0o700_and_refused_if_not_private(tmp_path: Path) -> None:
    made = _private_directory(str(tmp_path))
    assert made == tmp_path / f"threaded_async-schedules-{os.getuid()}"
    assert stat.S_IMODE(made.stat().st_mode) & 0o077 == 0
    assert _private_directory(str(tmp_path)) == made  # reused: it is ours and private

    made.chmod(0o777)  # anyone may write: a fresh mkdtemp directory instead
    other = _private_directory(str(tmp_path))
    assert other != made
    assert other.parent == tmp_path
    assert stat.S_IMODE(other.stat().st_mode) == 0o700

    made.rmdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    made.symlink_to(elsewhere)  # a symlink, even to a private directory: refused
    assert _private_directory(str(tmp_path)) not in (made, elsewhere)


@pytest.mark.skipif(
    not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown a directory"
)
def test_a_private_directory_another_user_owns_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / f"threaded_async-schedules-{os.getuid()}"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 4242, 4242)
    mine = _private_directory(str(tmp_path))
    assert mine != theirs
    assert mine.parent == tmp_path
    assert mine.stat().st_uid == os.getuid()


@pytest.mark.parametrize("module", ["threaded_async.pytest_plugin"])
def test_the_plugin_module_lists_its_hooks_and_fixtures(module: str) -> None:
    plugin = importlib.import_module(module)
    for name in ("virtual_clock", "async_runner", "scripted_server", "scripted", "schedule"):
        assert name in plugin.__all__
