"""A host-stepped agent: ordinary async scripts, a game loop that owns every request and tick.

Run it with ``uv run python -m threaded_async.demo [--frames N] [--delay SECONDS]``.

Two agent scripts are plain async code: a rover that walks to the goal
(``await env.move(1, 0)``, ``await asyncio.sleep(0.5)``) and a bat that patrols a column on
its own rhythm. They run on a :class:`~threaded_async.Server` loop in a background thread.
The host thread is a game loop: each frame it answers the requests queued so far
(``server.process_all()``), moves virtual time on by one frame
(``clock.advance(FRAME_TIME)``) and draws the world. Nothing moves between frames, no
real time is spent sleeping, and the output is the same on every run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence

from ._control import Client, Server
from ._core import VirtualClock

__all__ = [
    "DEFAULT_FRAMES",
    "FRAME_TIME",
    "MAP",
    "Env",
    "World",
    "bat",
    "main",
    "rover",
    "simulate",
]

#: Virtual seconds per frame.
FRAME_TIME = 0.25

#: Frames simulated by default: the rover gets home a few frames before the end.
DEFAULT_FRAMES = 36

MAP = (
    "################",
    "#R...#....*....#",
    "#..*.#..##.....#",
    "#.......#.B*..G#",
    "################",
)
"""The world: ``#`` wall, ``*`` coin, ``G`` goal, ``R`` the rover's start, ``B`` the bat's."""

Pos = tuple[int, int]


class World:
    """The host's state. Only the host thread touches it (handlers run inside process)."""

    def __init__(self, rows: Sequence[str] = MAP) -> None:
        self.walls: set[Pos] = set()
        self.coins: set[Pos] = set()
        self.actors: dict[str, Pos] = {}
        self.goal: Pos = (0, 0)
        self.width: int = len(rows[0])
        self.height: int = len(rows)
        self.log: list[str] = []
        self.score: int = 0
        for y, row in enumerate(rows):
            for x, cell in enumerate(row):
                if cell == "#":
                    self.walls.add((x, y))
                elif cell == "*":
                    self.coins.add((x, y))
                elif cell == "G":
                    self.goal = (x, y)
                elif cell == "R":
                    self.actors["rover"] = (x, y)
                elif cell == "B":
                    self.actors["bat"] = (x, y)

    # -- request handlers (called by the server with the request's arguments) ---------
    def move(self, who: str, dx: int, dy: int) -> Pos:
        """Move ``who`` one cell unless a wall is in the way; return where it is now."""
        x, y = self.actors[who]
        target = (x + dx, y + dy)
        if target in self.walls:
            self.log.append(f"{who} bumps into a wall")
            return (x, y)
        self.actors[who] = target
        if who == "rover" and target in self.coins:
            self.coins.discard(target)
            self.score += 1
            self.log.append(f"rover picks up a coin ({self.score})")
        return target

    def scan(self, who: str) -> tuple[Pos, frozenset[Pos], list[Pos], Pos]:
        """What ``who`` can see: its position, the walls, the coins (sorted), the goal."""
        return self.actors[who], frozenset(self.walls), sorted(self.coins), self.goal

    def say(self, who: str, text: str) -> None:
        """Show ``text`` as said by ``who`` in the next frame's log (host thread)."""
        self.log.append(f'{who}: "{text}"')

    # -- drawing ------------------------------------------------------------------------
    def render(self) -> list[str]:
        """The grid as text lines, one character per cell (host thread)."""
        marks = {pos: name[0].upper() for name, pos in self.actors.items()}
        lines: list[str] = []
        for y in range(self.height):
            row: list[str] = []
            for x in range(self.width):
                pos = (x, y)
                if pos in marks:
                    row.append(marks[pos])
                elif pos in self.walls:
                    row.append("#")
                elif pos in self.coins:
                    row.append("*")
                elif pos == self.goal:
                    row.append("G")
                else:
                    row.append(".")
            lines.append("".join(row))
        return lines


class Env(Client):
    """What an agent script sees: every call is a request the host answers in its frame."""

    def __init__(self, server: Server, name: str) -> None:
        super().__init__(server, name)

    async def move(self, dx: int, dy: int) -> Pos:
        """Try to move one cell; returns the new position (unchanged if blocked)."""
        return await self.execute(Env.move, self.name, dx, dy)

    async def scan(self) -> tuple[Pos, frozenset[Pos], list[Pos], Pos]:
        """Where am I, where are the walls, the coins and the goal."""
        return await self.execute(Env.scan, self.name)

    async def say(self, text: str) -> None:
        """Ask the host to show ``text`` in this agent's name (answered at its next step)."""
        await self.execute(Env.say, self.name, text)


def _path(walls: frozenset[Pos], start: Pos, goal: Pos) -> list[Pos]:
    """Shortest path from ``start`` to ``goal`` (breadth-first), as the steps to take."""
    came_from: dict[Pos, Pos] = {start: start}
    frontier = [start]
    while frontier and goal not in came_from:
        following: list[Pos] = []
        for x, y in frontier:
            for step in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                if step not in walls and step not in came_from:
                    came_from[step] = (x, y)
                    following.append(step)
        frontier = following
    path: list[Pos] = []
    node = goal
    while node != start:
        path.append(node)
        node = came_from[node]
    return path[::-1]


async def rover(env: Env) -> int:
    """The agent script: collect every coin (nearest first), then walk to the goal.

    Ordinary async code: each ``await env.move(...)`` is a request the host answers in
    some frame, each ``asyncio.sleep`` waits for the host's virtual clock.
    """
    here, walls, coins, goal = await env.scan()
    await env.say(f"{len(coins)} coins to find")
    steps = 0
    while True:
        targets = sorted(coins, key=lambda c: (len(_path(walls, here, c)), c))
        target = targets[0] if targets else goal
        for x, y in _path(walls, here, target):
            here = await env.move(x - here[0], y - here[1])
            steps += 1
            await asyncio.sleep(FRAME_TIME)  # one step per frame
        if target == goal:
            break
        coins.remove(target)
        await env.say("got one, resting 1 s")
        await asyncio.sleep(1.0)
    await env.say(f"home in {steps} steps")
    return steps


async def bat(env: Env) -> None:
    """A second script on its own rhythm: flap up and down its column every 0.75 s."""
    direction = -1
    while True:
        await asyncio.sleep(0.75)
        _, y = await env.move(0, direction)
        if y in (1, 3):
            direction = -direction


def simulate(frames: int, *, delay: float = 0.0, out: list[str] | None = None) -> list[str]:
    """Run the demo for ``frames`` frames; print each frame (and return all lines).

    Blocks the calling thread. With ``out`` given, lines are appended there instead of
    being printed. ``delay`` real seconds are slept between frames (for watching live).
    """
    lines: list[str] = [] if out is None else out

    def emit(text: str = "") -> None:
        if out is None:
            print(text, flush=delay > 0)
        lines.append(text)

    world = World()
    clock = VirtualClock()
    server = Server(
        handlers={Env.move: world.move, Env.scan: world.scan, Env.say: world.say},
        clock=clock,
        record_trace=True,
    )
    with server:
        task = server.create_background_task(rover(Env(server, "rover")))
        server.create_background_task(bat(Env(server, "bat")))
        home_frame: int | None = None
        for frame in range(frames):
            world.log.clear()
            answered = server.process_all()  # answer what the scripts asked for so far
            emit(f"frame {frame:2d}  t={clock.time():5.2f}s  requests answered: {answered}")
            rover_at, bat_at = world.actors["rover"], world.actors["bat"]
            notes = [f"rover at {rover_at}, coins {world.score}", f"bat at {bat_at}"]
            notes.extend(world.log)
            if task.done() and home_frame is None:
                home_frame = frame
                notes.append(f"rover script returned {task.wait()}")
            for i, row in enumerate(world.render()):
                note = notes[i] if i < len(notes) else ""
                emit(f"  {row}   {note}".rstrip())
            emit()
            clock.advance(FRAME_TIME)  # one frame of virtual time: due sleeps wake up
            if delay > 0:
                time.sleep(delay)
        answered_total = len(server.trace)
    home = "not home yet" if home_frame is None else f"home at frame {home_frame}"
    emit(
        f"{frames} frames, {clock.time():g} s of virtual time, {answered_total} requests "
        f"answered; rover {home} with {world.score} coins"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point: ``python -m threaded_async.demo [--frames N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m threaded_async.demo",
        description="A host game loop steps two async agent scripts frame by frame.",
    )
    parser.add_argument(
        "--frames",
        type=int,
        default=DEFAULT_FRAMES,
        help=f"frames to simulate (default: {DEFAULT_FRAMES})",
    )
    parser.add_argument(
        "--delay", type=float, default=0.0, help="real seconds to pause between frames"
    )
    options = parser.parse_args(argv)
    if options.frames < 0:
        parser.error("--frames must be >= 0")
    if options.delay < 0:
        parser.error("--delay must be >= 0")
    try:
        simulate(options.frames, delay=options.delay)
        sys.stdout.flush()
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit does not fail again
        sys.exit(1)


if __name__ == "__main__":
    main()
