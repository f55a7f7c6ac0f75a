"""Host Gymnasium and PettingZoo environments for agent coroutines (control inversion).

The environment stays on the host thread (the thread that creates the host and calls
``run_episode``: SDL, MuJoCo and Gymnasium's renderers require it); each agent is an async
function on the loop thread that talks to it through an :class:`EnvClient`
(``await env.reset()``, ``await env.step(action)``). The host decides when each request is
answered:

* :class:`GymHost`: one Gymnasium env, one agent, answered at once;
* :class:`ParallelHost`: a PettingZoo parallel env, one agent per agent id, in lockstep
  or at a fixed frame rate with default actions for agents that miss a frame;
* :class:`TurnHost`: a PettingZoo AEC env, where only the agent whose turn it is gets
  its answer.

``run_episode`` returns an :class:`Episode`: step records, total rewards, missed frames,
the request trace, optional frames (``save_gif``) and a ``digest()`` that is the same for
the same seed and agents on every run. :func:`run_episodes` runs many seeded episodes,
in this process, in worker processes or on Ray actors, with the same digests. Gymnasium,
PettingZoo, imageio and tqdm (or rich) are imported only when needed:
``pip install "threaded_async[envs]"``; Ray too: ``pip install "threaded_async[ray]"``.
"""

from ._engines import EpisodeFailure, RunEpisodesError, run_episodes
from ._episode import AgentError, Episode, StepRecord
from ._gym import GymHost
from ._pettingzoo import ParallelHost, TurnHost
from ._session import EnvClient

__all__ = [
    "AgentError",
    "EnvClient",
    "Episode",
    "EpisodeFailure",
    "GymHost",
    "ParallelHost",
    "RunEpisodesError",
    "StepRecord",
    "TurnHost",
    "run_episodes",
]


# Public objects report threaded_async.envs (reprs, pickles of episodes and failures that
# cross processes, the trace codec's type tags), however the private modules move.
def _fixup_module_metadata() -> None:
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith(f"{__name__}._"):
            obj.__module__ = __name__


_fixup_module_metadata()
