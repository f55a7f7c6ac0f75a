"""The README's first command: `python -m threaded_async.demo` plays a PettingZoo game.

Three async agent scripts play Knights Archers Zombies in lockstep and in real time. The
demo runs headless in a subprocess (as a user runs it), twice at once: both print the same
table and digests (pinned here, so this file run on 3.11, 3.12 and 3.13 checks they agree),
and each writes a GIF that decodes. The grid-world game loop the demo used to be is the
recipe ``cookbook/control_grid_world_game_loop.py``, whose frames tests/test_cookbook.py pins.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from threaded_async import demo

TABLE = """\
Knights Archers Zombies (butterfly/knights_archers_zombies-v11), seed 0

                                       lockstep              real time
agent     script          reward  steps  missed  reward  steps  missed
archer_0  sharpshooter         5    300       0      12    300       0
archer_1  thinker              7    300       0       1    300     225
knight_0  knight               2    300       0       0     89       0

lockstep: 300 steps in 75 s of virtual time, time up
  digest eed22bce8dc899345f871483b57d9c040d0ba70c129c15753838a6ca76a7efbc
real time: 300 steps in 20 s of virtual time, time up; knight_0 caught at step 89
  digest cc3ea8b1c5fe6e167a4a21902edc3e8dc6c0806e7d4dca5eeaef59d86cde5e33

The thinker awaits a 0.25 s model call (virtual time) before each move. In lockstep
every step waits for all agents; in real time a frame comes every 1/15 s, and an agent
whose move is not queued in time misses the frame: it does nothing in that frame.
"""

#: Real seconds a run may take here; it takes a few (a slow CI machine gets room).
RUN_TIMEOUT = 50


class Run:
    """One `python -m threaded_async.demo --gif PATH` in a subprocess, without a display."""

    def __init__(self, gif: Path) -> None:
        self.gif = gif
        env = {k: v for k, v in os.environ.items() if k not in ("SDL_VIDEODRIVER", "DISPLAY")}
        env.pop("PYTHONWARNINGS", None)
        self._process = subprocess.Popen(
            [sys.executable, "-W", "error", "-m", "threaded_async.demo", "--gif", str(gif)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.stdout = ""
        self.stderr = ""
        self.returncode: int | None = None

    def wait(self) -> Run:
        try:
            self.stdout, self.stderr = self._process.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            raise
        self.returncode = self._process.returncode
        return self


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Run]:
    """The demo run twice, at the same time, each writing its own GIF."""
    folder = tmp_path_factory.mktemp("demo")
    started = [Run(folder / "first.gif"), Run(folder / "second.gif")]
    return [run.wait() for run in started]


def test_the_demo_prints_the_table_and_the_digests(runs: list[Run]) -> None:
    run = runs[0]
    assert run.returncode == 0, run.stderr
    assert run.stdout == TABLE + f"GIF of both runs (lockstep on the left): {run.gif}\n"
    assert run.stderr == ""  # no progress bar without a terminal, no warning, no banner


def test_two_runs_print_the_same_output(runs: list[Run]) -> None:
    first, second = (run.stdout.replace(str(run.gif), "GIF") for run in runs)
    assert first == second
    assert first.count("  digest ") == 2


def test_the_gif_shows_both_runs(runs: list[Run]) -> None:
    import imageio.v3 as iio

    for run in runs:
        frames = iio.imread(run.gif, index=None)  # pyright: ignore[reportUnknownMemberType]
        assert frames.shape == (101, 216, 768, 3)  # steps 0, 3, ..., 300; two panels wide
        assert not np.array_equal(frames[0], frames[-1])
        assert run.gif.stat().st_size < 1_000_000


def test_the_agent_policies() -> None:
    def seeing(zombie: tuple[float, float] | None, heading: tuple[float, float] = (0, -1)) -> Any:
        rows = np.zeros((25, 5))  # KAZ with 2 archers, 1 knight: the last 10 rows are zombies
        rows[0] = [0, 0.5, 0.8, *heading]
        if zombie is not None:
            dx, dy = zombie  # offset in pixels
            rows[-10] = [np.hypot(dx / 1280, dy / 720) / np.sqrt(2), dx / 1280, dy / 720, 0, 1]
        return rows

    assert demo.aim(seeing(None)) == demo.NOTHING
    assert demo.aim(seeing((0, -300))) == demo.ATTACK  # straight ahead
    assert demo.aim(seeing((200, -200))) == demo.TURN_CW  # ahead, to the right
    assert demo.aim(seeing((-200, -200))) == demo.TURN_CCW
    assert demo.aim(seeing((300, 0), heading=(0, 1))) == demo.TURN_CCW  # facing down
    assert demo.charge(seeing((0, -300))) == demo.FORWARD
    assert demo.charge(seeing((0, -80))) == demo.ATTACK
    assert demo.charge(seeing((200, -200))) == demo.TURN_CW


def test_help_names_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        demo.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--seed", "--steps", "--gif"):
        assert option in out
    assert "threaded_async_demo.gif" in out  # the default GIF, in the temporary directory


def test_bad_options_are_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        demo.main(["--steps", "0"])
    assert "--steps must be >= 1" in capsys.readouterr().err


def test_importing_the_demo_imports_no_optional_package() -> None:
    code = (
        "import sys, threaded_async.demo\n"
        "loaded = {'gymnasium', 'pettingzoo', 'imageio', 'pygame', 'PIL'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
