"""The demo: three async agent scripts play a PettingZoo game, in lockstep and in real time.

Run it with ``uv run python -m threaded_async.demo [--seed N] [--steps N] [--gif PATH]``.

The game is Knights Archers Zombies (``butterfly/knights_archers_zombies-v11``): zombies
walk down the screen, two archers and a knight kill them (a point per zombie). Each hero
is an ordinary ``async def`` agent script that calls ``await env.step(action)``:

* ``archer_0`` runs :func:`sharpshooter`: it turns to the nearest zombie and shoots, at once;
* ``archer_1`` runs :func:`thinker`: before each move it awaits :func:`ask_model`, a
  stand-in for an LLM call that takes :data:`THINKING_TIME` seconds (virtual time);
* ``knight_0`` runs :func:`knight`: it walks up to the nearest zombie and swings its mace.

A :class:`~threaded_async.envs.ParallelHost` owns the env on this (the host) thread and runs
the game twice with the same seed. In **lockstep** every step waits for all three agents, so
the thinker never misses a move (the world just waits). In **real time** frames come at
:data:`FPS` per virtual second whether an agent is ready or not: the thinker misses most
frames and gets the default action (do nothing). The clock is virtual either way, so the
runs take a few seconds and print the same digests every time. The demo prints a table
of both runs and writes them side by side to one GIF, rendered headless.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from .envs import EnvClient, Episode, ParallelHost

__all__ = [
    "ATTACK",
    "BACKWARD",
    "DEFAULT_GIF",
    "DEFAULT_SEED",
    "DEFAULT_STEPS",
    "ENV_ID",
    "FORWARD",
    "FPS",
    "NOTHING",
    "SCRIPTS",
    "THINKING_TIME",
    "TURN_CCW",
    "TURN_CW",
    "aim",
    "ask_model",
    "charge",
    "knight",
    "main",
    "play",
    "sharpshooter",
    "thinker",
]

#: The PettingZoo game.
ENV_ID = "butterfly/knights_archers_zombies-v11"

#: Frames per virtual second in the real-time run (the game's own speed).
FPS = 15

#: Virtual seconds the thinker's simulated model call takes (almost four frames).
THINKING_TIME = 0.25

#: Steps per run unless ``--steps`` says otherwise (20 s of game at :data:`FPS`).
DEFAULT_STEPS = 300

#: The seed of both runs unless ``--seed`` says otherwise.
DEFAULT_SEED = 0

#: Where the GIF goes unless ``--gif`` says otherwise: the system's temporary directory.
DEFAULT_GIF = os.path.join(tempfile.gettempdir(), "threaded_async_demo.gif")

# The game's actions (its action space is Discrete(6)).
FORWARD = 0
BACKWARD = 1
TURN_CCW = 2
TURN_CW = 3
ATTACK = 4
#: Do nothing: also what an agent that misses a frame gets.
NOTHING = 5

_WIDTH, _HEIGHT = 1280, 720  # the game's screen, which normalizes the observations
_ZOMBIES = 10  # the observation's last rows: one per zombie (all zeros if there is none)
_PANEL = (384, 216)  # one run's picture in the GIF: 30% of the screen's width and height
_STRIDE = 3  # a GIF frame every third step: 5 a second, in real time


# -- the agents' side: plain policies and async scripts ------------------------------------


def _nearest_zombie(observation: Any) -> tuple[float, float, float] | None:
    """The nearest zombie as ``(turn, dx, dy)``: the angle in degrees to turn (clockwise
    positive) to face it, and its offset in pixels; None if there is no zombie."""
    rows: list[list[float]] = observation.tolist()
    zombies = [row for row in rows[-_ZOMBIES:] if row[0] > 0]
    if not zombies:
        return None
    _, rx, ry, _, _ = min(zombies)  # rows start with the distance
    dx, dy = rx * _WIDTH, ry * _HEIGHT
    hx, hy = rows[0][3], rows[0][4]  # the agent's own heading
    return math.degrees(math.atan2(hx * dy - hy * dx, hx * dx + hy * dy)), dx, dy


def _turn(angle: float) -> int:
    return TURN_CW if angle > 0 else TURN_CCW


def aim(observation: Any) -> int:
    """An archer's move: turn towards the nearest zombie, shoot once it is in line."""
    zombie = _nearest_zombie(observation)
    if zombie is None:
        return NOTHING
    angle = zombie[0]
    return ATTACK if abs(angle) <= 5 else _turn(angle)


def charge(observation: Any) -> int:
    """A knight's move: face the nearest zombie, walk up to it, swing the mace."""
    zombie = _nearest_zombie(observation)
    if zombie is None:
        return NOTHING
    angle, dx, dy = zombie
    if abs(angle) > 10:
        return _turn(angle)
    return ATTACK if math.hypot(dx, dy) < 110 else FORWARD


async def ask_model(observation: Any) -> int:
    """A stand-in for an LLM call: ``THINKING_TIME`` seconds of (virtual) waiting, then
    the move :func:`aim` would make for ``observation``."""
    await asyncio.sleep(THINKING_TIME)
    return aim(observation)


async def sharpshooter(env: EnvClient) -> float:
    """Archer script: aim and shoot, one move per step, no waiting. Returns its score."""
    observation, _ = await env.reset()
    score = 0.0
    while True:
        observation, reward, terminated, truncated, _ = await env.step(aim(observation))
        score += float(reward)
        if terminated or truncated:
            return score


async def thinker(env: EnvClient) -> float:
    """Archer script that asks a (simulated) model before every move. Returns its score."""
    observation, _ = await env.reset()
    score = 0.0
    while True:
        action = await ask_model(observation)
        observation, reward, terminated, truncated, _ = await env.step(action)
        score += float(reward)
        if terminated or truncated:
            return score


async def knight(env: EnvClient) -> float:
    """Knight script: charge the nearest zombie, one move per step. Returns its score."""
    observation, _ = await env.reset()
    score = 0.0
    while True:
        observation, reward, terminated, truncated, _ = await env.step(charge(observation))
        score += float(reward)
        if terminated or truncated:
            return score


#: Which script plays which hero of the game.
SCRIPTS = {"archer_0": sharpshooter, "archer_1": thinker, "knight_0": knight}


# -- the host's side: one run of the game -----------------------------------------------


class _SmallFrames:
    """The parallel env, with a cheap ``render()`` for the GIF: a picture every
    ``_STRIDE`` steps at 30% of the screen's width and height, and the previous picture
    again in between. (The host renders after every step and keeps every frame; the
    game's own full-size frames take 16 ms and 2.7 MB apiece.)"""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.render_mode = "rgb_array"  # what ParallelHost(record_frames=True) checks
        self.metadata = env.metadata
        self.possible_agents: list[str] = list(env.possible_agents)
        self._renders = 0
        self._picture: Any = None

    @property
    def agents(self) -> list[str]:
        return list(self.env.agents)

    def action_space(self, agent: str) -> Any:
        return self.env.action_space(agent)

    def observation_space(self, agent: str) -> Any:
        return self.env.observation_space(agent)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        return self.env.reset(seed=seed, options=options)

    def step(self, actions: dict[str, Any]) -> Any:
        return self.env.step(actions)

    def render(self) -> Any:
        if self._renders % _STRIDE == 0:
            import pygame  # the game's renderer, installed with PettingZoo's butterfly games

            game = self.env.unwrapped
            game.draw()  # the screen, as the game's own render() draws it
            small = pygame.transform.smoothscale(game.screen, _PANEL)
            self._picture = pygame.surfarray.array3d(small).transpose(1, 0, 2)
        self._renders += 1
        return self._picture

    def close(self) -> None:
        self.env.close()


def play(*, real_time: bool, seed: int = DEFAULT_SEED, steps: int = DEFAULT_STEPS) -> Episode:
    """Run the game once with :data:`SCRIPTS` and return the episode (with small frames).

    ``real_time``: frames at :data:`FPS` per virtual second, where an agent whose move is
    not queued in time gets ``NOTHING``; otherwise lockstep. ``steps``: the game's
    ``max_cycles``. Call it on the thread that should own the game and its renderer; it
    blocks until the episode is over (a progress bar on stderr if that is a terminal).
    Needs ``threaded_async[envs]`` (ImportError otherwise). Sets ``SDL_VIDEODRIVER=dummy``
    if unset, so it runs without a display.
    """
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    pettingzoo: Any = importlib.import_module("pettingzoo")  # optional: threaded_async[envs]
    game = pettingzoo.make(
        "parallel",
        ENV_ID,
        render_mode="rgb_array",
        num_archers=2,
        num_knights=1,
        max_cycles=steps,
    )
    try:
        host = ParallelHost(
            _SmallFrames(game),
            fps=FPS if real_time else None,
            default_action=NOTHING,
            record_frames=True,
            progress=sys.stderr.isatty(),
        )
        return host.run_episode(SCRIPTS, seed=seed)
    finally:
        game.close()


# -- the output: a table and a GIF ---------------------------------------------------------


def _table(runs: dict[str, Episode]) -> list[str]:
    """Per agent and run: total reward, steps taken part in, frames missed."""
    columns = "".join(f"{'reward':>8}{'steps':>7}{'missed':>8}" for _ in runs)
    lines = [
        f"{'':24}" + "".join(f"{mode:>23}" for mode in runs),
        f"{'agent':10}{'script':14}{columns}",
    ]
    for name, script in SCRIPTS.items():
        cells = f"{name:10}{script.__name__:14}"
        for episode in runs.values():
            steps = _steps(episode, name)
            reward, missed = episode.total_rewards[name], episode.missed_frames[name]
            cells += f"{reward:>8g}{steps:>7}{missed:>8}"
        lines.append(cells)
    return lines


def _ending(episode: Episode) -> str:
    """How a run went: its steps, its virtual time and how it ended."""
    if episode.error is not None:
        return f"{episode.error.agent} raised {episode.error.type}: {episode.error.message}"
    last = episode.records[-1]
    text = f"{episode.steps} steps in {last.time or 0.0:g} s of virtual time, "
    text += "time up" if any(last.truncations.values()) else "the zombies won"
    for name in SCRIPTS:
        steps = _steps(episode, name)
        if steps < episode.steps:
            text += f"; {name} caught at step {steps}"
    return text


def _steps(episode: Episode, agent: str) -> int:
    """How many steps ``agent`` took part in (until a zombie caught it)."""
    return sum(1 for record in episode.records if agent in record.actions)


def _write_gif(path: str, runs: dict[str, Episode]) -> None:
    """Both runs side by side, a frame every ``_STRIDE`` steps, each labelled."""
    import numpy as np
    import pygame
    from PIL import Image

    pygame.font.init()
    font = pygame.font.Font(None, 18)
    length = max(len(episode.frames) for episode in runs.values())
    pictures: list[Any] = []
    for index in range(0, length, _STRIDE):
        panels: list[Any] = []
        for mode, episode in runs.items():
            step = min(index, len(episode.frames) - 1)
            seconds = 0.0 if step == 0 else episode.records[step - 1].time or 0.0
            text = f"{mode}: step {step}, {seconds:.1f} s"
            label = font.render(text, True, (255, 255, 255), (0, 0, 0))
            panel = np.array(episode.frames[step])
            panel[: label.get_height(), : label.get_width()] = pygame.surfarray.array3d(
                label
            ).transpose(1, 0, 2)
            panels.append(panel)
        pictures.append(np.concatenate(panels, axis=1))
    # One palette for every frame (from a few of them): quick, and no flicker.
    sample = Image.fromarray(np.concatenate(pictures[:: max(1, len(pictures) // 4)], axis=0))
    palette = sample.quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    images = [
        Image.fromarray(picture).quantize(palette=palette, dither=Image.Dither.NONE)
        for picture in pictures
    ]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=1000 * _STRIDE // FPS, loop=0
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point: ``python -m threaded_async.demo [--seed N] [--steps N]
    [--gif PATH]``. Plays both runs, prints the table and the digests, writes the GIF."""
    parser = argparse.ArgumentParser(
        prog="python -m threaded_async.demo",
        description=(
            "Three async agent scripts, one of them awaiting a slow (simulated) model call, "
            "play PettingZoo's Knights Archers Zombies: once in lockstep, once in real time "
            f"({FPS} frames per virtual second). Prints a table of both runs and their "
            "digests (the same on every run), then writes a GIF of both."
        ),
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        metavar="N",
        help=f"the game's seed (default: {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        metavar="N",
        help=f"the most steps a run takes (default: {DEFAULT_STEPS})",
    )
    parser.add_argument(
        "--gif",
        default=DEFAULT_GIF,
        metavar="PATH",
        help=f"where to write the GIF (default: {DEFAULT_GIF})",
    )
    options = parser.parse_args(argv)
    if options.steps < 1:
        parser.error("--steps must be >= 1")
    try:
        runs = {
            "lockstep": play(real_time=False, seed=options.seed, steps=options.steps),
            "real time": play(real_time=True, seed=options.seed, steps=options.steps),
        }
    except ImportError as exc:
        sys.exit(f'the demo needs the envs extra (pip install "threaded_async[envs]"): {exc}')
    lines = [
        f"Knights Archers Zombies ({ENV_ID}), seed {options.seed}",
        "",
        *_table(runs),
        "",
    ]
    for mode, episode in runs.items():
        lines.append(f"{mode}: {_ending(episode)}")
        lines.append(f"  digest {episode.digest()}")
    lines += [
        "",
        f"The thinker awaits a {THINKING_TIME:g} s model call (virtual time) before each move. "
        "In lockstep",
        f"every step waits for all agents; in real time a frame comes every 1/{FPS} s, and "
        "an agent",
        "whose move is not queued in time misses the frame: it does nothing in that frame.",
    ]
    try:
        print("\n".join(lines), flush=True)
        _write_gif(options.gif, runs)
        print(f"GIF of both runs (lockstep on the left): {options.gif}", flush=True)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit does not fail again
        sys.exit(1)
    except OSError as exc:
        sys.exit(f"cannot write the GIF: {exc}")


if __name__ == "__main__":
    main()
