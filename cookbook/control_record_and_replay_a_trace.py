"""Record a run's requests to disk, then replay the agent against the recording.

``Server(record_trace=True)`` keeps every answered request: who asked (the client's
name), what, the answer, and the virtual times it was issued and answered. ``trace.dump``
writes it as JSON lines and ``Trace.load`` reads it back; ``digest()`` is the same for the
same run on every machine. ``threaded_async.testing.replay`` runs agent code again against
the recorded answers (no host needed) and names the first request that differs, so a
change in an agent's behaviour shows up as a precise error.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import threaded_async as ta
from threaded_async import request
from threaded_async.testing import ScriptError, replay


class Maze(ta.Client):
    @request
    async def look(self) -> str: ...

    @request
    async def move(self, direction: str) -> tuple[int, int]: ...


async def explorer(maze: Maze, prefer: str = "north") -> tuple[int, int]:
    position = (0, 0)
    for _ in range(3):
        seen = await maze.look()
        await asyncio.sleep(0.5)  # virtual time: the recording keeps it
        position = await maze.move(prefer if seen == "open" else "east")
    return position


def record(path: Path) -> ta.Trace:
    views = iter(["open", "wall", "open"])
    position = [0, 0]

    def move(direction: str) -> tuple[int, int]:
        position[0 if direction == "east" else 1] += 1
        return (position[0], position[1])

    handlers: dict[Callable[..., Any] | str, Callable[..., Any]] = {
        Maze.look: lambda: next(views),
        Maze.move: move,
    }
    with ta.Server(handlers=handlers, clock=ta.VirtualClock(autojump=True), record_trace=True) as s:
        task = s.create_background_task(explorer(Maze(s, name="explorer")))
        while not task.done():
            s.process()
        print(f"recorded run ended at {task.wait(10)}")
        s.trace.dump(path)
        return s.trace


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.jsonl"
        recorded = record(path)
        loaded = ta.Trace.load(path)
        print(f"{len(loaded)} requests on disk; same as recorded: {loaded == recorded}")
        for entry in loaded[:2]:
            print(
                f"  {entry.client} {entry.request}{entry.args} -> {entry.result!r} "
                f"(t={entry.issued_at:g}..{entry.answered_at:g})"
            )
        run = replay(loaded, lambda server: explorer(Maze(server, name="explorer")))
        print(f"replayed: {run.result}, same digest: {run.trace.digest() == recorded.digest()}")
        try:
            replay(loaded, lambda server: explorer(Maze(server, name="explorer"), "south"))
        except ScriptError as error:
            what, how = str(error).splitlines()[0].split(" differs from the recording: ", 1)
            print(f"changed agent: {what}\n  differs from the recording: {how}")


if __name__ == "__main__":
    main()

# Expected output:
# recorded run ended at (1, 2)
# 6 requests on disk; same as recorded: True
#   explorer Maze.look() -> 'open' (t=0..0)
#   explorer Maze.move('north',) -> (0, 1) (t=0.5..0.5)
# replayed: (1, 2), same digest: True
# changed agent: request #2 of client 'explorer' (Maze.move #1 in the recording)
#   differs from the recording: it asked Maze.move('south'), the recording has Maze.move('north')
