"""Episode.replay: re-run agents against a recorded episode's answers, without the env."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .. import Server
from ..testing import ScriptRun, replay
from ._episode import Episode
from ._session import AgentFn, EnvClient, agents_by_id, copied

__all__ = ["replay_episode"]


def replay_episode(
    episode: Episode, agents: Mapping[str, AgentFn] | AgentFn, *, timeout: float | None = 10.0
) -> ScriptRun[Any]:
    """See :meth:`Episode.replay`."""
    if not episode.spaces:
        raise ValueError(
            "this episode does not know its agents' spaces (it was made by an older "
            "version): replay it with threaded_async.testing.replay(episode.trace, ...)"
        )
    names = list(episode.spaces)
    functions = agents_by_id(agents, names)

    def client_code(server: Server) -> Any:
        clients = {name: EnvClient(server, name, *copied(episode.spaces[name])) for name in names}

        async def agent(name: str) -> Any:
            task = asyncio.current_task()
            assert task is not None
            clients[name].bind_task(task)
            return await functions[name](clients[name])

        async def all_agents() -> dict[str, Any]:
            results = await asyncio.gather(*(agent(name) for name in names))
            return dict(zip(names, results, strict=True))

        return all_agents()

    return replay(episode.trace, client_code, timeout=timeout)
