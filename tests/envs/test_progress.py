"""progress=True (SPEC §9): a tqdm bar, else a rich one when tqdm is not installed, else
nothing. tqdm's is checked in test_envs_run_episodes.py; here tqdm is made unimportable."""

from __future__ import annotations

import re
import sys
import threading

import pytest

from tests import _episode_fns as fns
from threaded_async.envs import GymHost, run_episodes


def test_without_tqdm_rich_draws_the_bar(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On stderr (not a terminal here: rich draws the finished bar once, at the end),
    counting the episodes of run_episodes and the steps of a host (total unknown); no
    refresh thread is left behind. Without rich either: no bar, and no error."""
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm raises ImportError
    monkeypatch.setenv("COLUMNS", "120")  # rich's width off a terminal: one line per bar
    threads = set(threading.enumerate())
    assert len(run_episodes(fns.frozen_lake, range(3), progress=True)) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("episodes (local) ━")
    assert re.search(r" 3/3 episodes \d+:\d\d:\d\d$", line)
    with GymHost("FrozenLake-v1", progress=True) as host:
        episode = host.run_episode(fns.wander, seed=1)
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("FrozenLake-v1 ━")
    assert re.search(rf" {episode.steps}/\? steps \d+:\d\d:\d\d$", line)
    assert set(threading.enumerate()) <= threads

    monkeypatch.setitem(sys.modules, "rich", None)
    monkeypatch.setitem(sys.modules, "rich.progress", None)
    assert len(run_episodes(fns.frozen_lake, range(2), progress=True)) == 2
    assert capsys.readouterr() == ("", "")
