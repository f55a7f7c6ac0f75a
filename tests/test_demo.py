"""The README's first command: `python -m threaded_async.demo` steps two agent scripts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from threaded_async import demo

FIRST_FRAME = """\
frame  0  t= 0.00s  requests answered: 1
  ################   rover at (1, 1), coins 0
  #R...#....*....#   bat at (10, 3)
  #..*.#..##.....#
  #.......#.B*..G#
  ################
"""

HOME_FRAME = """\
frame 33  t= 8.25s  requests answered: 2
  ################   rover at (14, 3), coins 3
  #....#.........#   bat at (10, 2)
  #....#..##B....#   rover: "home in 19 steps"
  #.......#.....R#   rover script returned 19
  ################
"""

SUMMARY = (
    "36 frames, 9 s of virtual time, 36 requests answered; rover home at frame 33 with 3 coins"
)


def test_default_run_matches_the_golden_frames(capsys: pytest.CaptureFixture[str]) -> None:
    demo.main([])
    out = capsys.readouterr().out
    assert out.startswith(FIRST_FRAME)
    assert HOME_FRAME in out
    assert out.endswith(SUMMARY + "\n")
    assert out.count("\nframe ") + 1 == demo.DEFAULT_FRAMES
    assert "rover picks up a coin (1)" in out
    assert "rover picks up a coin (3)" in out


def test_two_runs_print_the_same_output() -> None:
    first = demo.simulate(demo.DEFAULT_FRAMES, out=[])
    second = demo.simulate(demo.DEFAULT_FRAMES, out=[])
    assert first == second
    assert len(first) == 7 * demo.DEFAULT_FRAMES + 1


def test_frames_option_limits_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    demo.main(["--frames", "3"])
    out = capsys.readouterr().out
    assert out.count("\nframe ") + 1 == 3
    assert out.splitlines()[-1] == (
        "3 frames, 0.75 s of virtual time, 3 requests answered; rover not home yet with 0 coins"
    )


def test_a_longer_run_keeps_going_after_the_rover_is_home() -> None:
    lines = demo.simulate(50, out=[])
    assert lines[-1].startswith("50 frames, 12.5 s of virtual time")
    assert lines[-1].endswith("rover home at frame 33 with 3 coins")


def test_bad_options_are_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        demo.main(["--frames", "-1"])
    assert "--frames must be >= 0" in capsys.readouterr().err


def test_the_module_runs_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "threaded_async.demo", "--frames", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.startswith(FIRST_FRAME)
    assert done.stdout.splitlines()[-1].startswith("2 frames, 0.5 s of virtual time")
    assert done.stderr == ""
