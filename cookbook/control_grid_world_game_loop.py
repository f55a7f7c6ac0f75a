"""A game loop steps two agent scripts through a grid world, frame by frame, in virtual time.

The agents are plain async scripts: a rover that collects the coins and walks to the goal
(``await env.move(1, 0)``, ``await asyncio.sleep(0.25)``) and a bat that flaps up and down
its column on its own rhythm. They run on a :class:`threaded_async.Server` loop in a
background thread; the world lives on the host thread, and the requests' handlers run there.
Each frame the game loop answers the requests queued so far (``server.process_all()``),
draws the world, and moves virtual time on by one frame (``clock.advance(FRAME_TIME)``), so
due sleeps wake up. Nothing moves between frames, no real time is spent sleeping, and the
output is the same on every run. It prints the first and the last frame in full and, in
between, the frames where something happened. (This was the package's demo before the demo
played a PettingZoo game: ``python -m threaded_async.demo``.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import threaded_async as ta

FRAME_TIME = 0.25  # virtual seconds per frame
FRAMES = 34  # the rover gets home in frame 33

MAP = (
    "################",
    "#R...#....*....#",
    "#..*.#..##.....#",
    "#.......#.B*..G#",
    "################",
)  # wall, coin, goal, the rover's start, the bat's start

Pos = tuple[int, int]


class World:
    """The host's state. Only the host thread touches it (handlers run inside process)."""

    def __init__(self, rows: Sequence[str] = MAP) -> None:
        self.walls: set[Pos] = set()
        self.coins: set[Pos] = set()
        self.actors: dict[str, Pos] = {}
        self.goal: Pos = (0, 0)
        self.log: list[str] = []
        self.score = 0
        self.rows = len(rows)
        self.columns = len(rows[0])
        for y, row in enumerate(rows):
            for x, cell in enumerate(row):
                if cell == "#":
                    self.walls.add((x, y))
                elif cell == "*":
                    self.coins.add((x, y))
                elif cell == "G":
                    self.goal = (x, y)
                elif cell in "RB":
                    self.actors["rover" if cell == "R" else "bat"] = (x, y)

    # The request handlers: called with the request's arguments, on the host thread.
    def move(self, who: str, dx: int, dy: int) -> Pos:
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
        return self.actors[who], frozenset(self.walls), sorted(self.coins), self.goal

    def say(self, who: str, text: str) -> None:
        self.log.append(f'{who}: "{text}"')

    def render(self) -> list[str]:
        marks = {pos: name[0].upper() for name, pos in self.actors.items()}
        lines: list[str] = []
        for y in range(self.rows):
            row = ""
            for x in range(self.columns):
                pos = (x, y)
                if pos in marks:
                    row += marks[pos]
                elif pos in self.walls:
                    row += "#"
                elif pos in self.coins:
                    row += "*"
                else:
                    row += "G" if pos == self.goal else "."
            lines.append(row)
        return lines


class Env(ta.Client):
    """What an agent script sees: every call is a request the host answers in a frame."""

    async def move(self, dx: int, dy: int) -> Pos:
        return await self.execute(Env.move, self.name, dx, dy)

    async def scan(self) -> tuple[Pos, frozenset[Pos], list[Pos], Pos]:
        return await self.execute(Env.scan, self.name)

    async def say(self, text: str) -> None:
        await self.execute(Env.say, self.name, text)


def shortest_path(walls: frozenset[Pos], start: Pos, goal: Pos) -> list[Pos]:
    """The cells to step on from ``start`` to ``goal`` (breadth-first search)."""
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
    """Collect every coin (nearest first), then walk to the goal; one step per frame."""
    here, walls, coins, goal = await env.scan()
    await env.say(f"{len(coins)} coins to find")
    steps = 0
    while True:
        targets = sorted(coins, key=lambda c: (len(shortest_path(walls, here, c)), c))
        target = targets[0] if targets else goal
        for x, y in shortest_path(walls, here, target):
            here = await env.move(x - here[0], y - here[1])
            steps += 1
            await asyncio.sleep(FRAME_TIME)  # virtual time: the host's clock decides
        if target == goal:
            break
        coins.remove(target)
        await env.say("got one, resting 1 s")
        await asyncio.sleep(1.0)
    await env.say(f"home in {steps} steps")
    return steps


async def bat(env: Env) -> None:
    """Flap up and down its column, a move every 0.75 s, forever."""
    direction = -1
    while True:
        await asyncio.sleep(0.75)
        _, y = await env.move(0, direction)
        if y in (1, 3):
            direction = -direction


def main() -> None:
    world = World()
    clock = ta.VirtualClock()
    with ta.Server(
        handlers={Env.move: world.move, Env.scan: world.scan, Env.say: world.say}, clock=clock
    ) as server:
        task = server.create_background_task(rover(Env(server, "rover")))
        server.create_background_task(bat(Env(server, "bat")))
        answered = 0
        for frame in range(FRAMES):
            world.log.clear()
            answered += server.process_all()  # answer what the scripts asked for so far
            head = f"frame {frame:2d}  t={clock.time():5.2f}s"
            if frame in (0, FRAMES - 1):  # draw the first and the last frame in full
                notes = [f"rover at {world.actors['rover']}, coins {world.score}"]
                notes += [f"bat at {world.actors['bat']}", *world.log]
                if task.done():
                    notes.append(f"rover script returned {task.wait()}")
                print(head)
                for i, row in enumerate(world.render()):
                    print(f"  {row}   {notes[i] if i < len(notes) else ''}".rstrip())
            elif world.log:  # in between, only the frames where something happened
                print(f"{head}  {'; '.join(world.log)}")
            clock.advance(FRAME_TIME)  # one frame of virtual time: due sleeps wake up
    print(f"{FRAMES} frames, {clock.time():g} s of virtual time, {answered} requests answered")


if __name__ == "__main__":
    main()

# Expected output:
# frame  0  t= 0.00s
#   ################   rover at (1, 1), coins 0
#   #R...#....*....#   bat at (10, 3)
#   #..*.#..##.....#
#   #.......#.B*..G#
#   ################
# frame  1  t= 0.25s  rover: "3 coins to find"
# frame  4  t= 1.00s  rover picks up a coin (1)
# frame  5  t= 1.25s  rover: "got one, resting 1 s"
# frame 18  t= 4.50s  rover picks up a coin (2)
# frame 19  t= 4.75s  rover: "got one, resting 1 s"
# frame 25  t= 6.25s  rover picks up a coin (3)
# frame 26  t= 6.50s  rover: "got one, resting 1 s"
# frame 33  t= 8.25s
#   ################   rover at (14, 3), coins 3
#   #....#.........#   bat at (10, 2)
#   #....#..##B....#   rover: "home in 19 steps"
#   #.......#.....R#   rover script returned 19
#   ################
# 34 frames, 8.5 s of virtual time, 36 requests answered
