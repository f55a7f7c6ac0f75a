"""Turn-based: the host answers only the player whose turn it is (deferred answers).

Two players of a take-away game ask for their next move at any time; the host answers a
request only when it is that player's turn (``server.next_request(client=...)`` blocks,
parked, until that player's request is queued). The other player's request stays queued
until its turn comes: its ``await`` simply takes longer.
"""

from __future__ import annotations

import threaded_async as ta
from threaded_async import request


class Player(ta.Client):
    @request
    async def take(self, stones: int) -> int: ...


async def greedy(player: Player) -> None:
    left = 10
    while left > 0:
        left = await player.take(min(3, left))


async def careful(player: Player) -> None:
    left = 10
    while left > 0:
        left = await player.take(1)


def main() -> None:
    with ta.Server() as server:
        players = [Player(server, name="greedy"), Player(server, name="careful")]
        tasks = [
            server.runner.create_task(script(player))
            for player, script in zip(players, (greedy, careful), strict=True)
        ]
        stones, turn = 10, 0
        while stones > 0:
            player = players[turn % 2]
            req = server.next_request(timeout=10, client=player)
            assert req is not None
            taken = min(req.args[0], stones)
            stones -= taken
            print(f"{player.name} takes {taken}, {stones} left")
            if stones == 0:
                print(f"{player.name} wins")
            req.answer(stones)
            turn += 1
        loser = players[turn % 2]  # it asks once more: tell it the game is over
        last = server.next_request(timeout=10, client=loser)
        assert last is not None
        last.answer(0)
        for task in tasks:
            task.wait(10)


if __name__ == "__main__":
    main()

# Expected output:
# greedy takes 3, 7 left
# careful takes 1, 6 left
# greedy takes 3, 3 left
# careful takes 1, 2 left
# greedy takes 2, 0 left
# greedy wins
