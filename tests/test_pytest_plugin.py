"""The pytest plugin (SPEC §12): registered by entry point, its fixtures, and
``@pytest.mark.schedules`` running a test under many schedules, printing the shrunk one
and replaying it. Each case runs pytest in a fresh process on a small test file."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MINERS = """
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

@pytest.mark.schedules(30)
def test_careless(scripted):
    run = scripted.run(lambda server: miners(server, False), ANSWERS)
    assert run.result == 20, f"lost update: {run.result} gold"

@pytest.mark.schedules(30)
def test_careful(scripted):
    run = scripted.run(lambda server: miners(server, True), ANSWERS)
    assert run.result == 20
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
"""


def _pytest(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_subject.py").write_text(source, encoding="utf-8")
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args, "test_subject.py"],
        cwd=tmp_path,
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
    assert "a positive number of seeds" in done.stdout


@pytest.mark.parametrize("module", ["threaded_async.pytest_plugin"])
def test_the_plugin_module_lists_its_hooks_and_fixtures(module: str) -> None:
    plugin = importlib.import_module(module)
    for name in ("virtual_clock", "async_runner", "scripted_server", "scripted", "schedule"):
        assert name in plugin.__all__
