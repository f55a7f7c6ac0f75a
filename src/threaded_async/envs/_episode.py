"""What an episode leaves behind: its step records, totals, request trace, frames and digest."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import Schedule, Trace
from .._codec import digest_of
from ._optional import require

if TYPE_CHECKING:
    from ..testing import ScriptRun
    from ._session import EnvClient

    AgentFn = Callable[[EnvClient], Awaitable[Any]]

__all__ = ["AgentError", "Episode", "StepRecord", "step_record"]


@dataclasses.dataclass(frozen=True)
class StepRecord:
    """One step of the environment, as the host made it.

    Attributes:
        time: The virtual time of the step (None when the host runs in real time).
        actions: The action of each agent that acted, by agent id. For a real-time
            :class:`~threaded_async.envs.ParallelHost`, an agent that missed the frame has
            its default action here.
        rewards: Each agent's reward for the step (as a float).
        terminations: Each agent's ``terminated`` flag after the step.
        truncations: Each agent's ``truncated`` flag after the step.
        missed: The agents that were still running but had no action queued when the
            frame was due (real-time ParallelHost only; empty otherwise).

    A :class:`~threaded_async.envs.TurnHost` records one step per turn: the agent whose
    turn it was, the reward and flags ``env.last()`` gave it at that turn (what it earned
    since its previous turn), and the action it took (None for a done agent).
    """

    time: float | None
    actions: dict[str, Any]
    rewards: dict[str, float]
    terminations: dict[str, bool]
    truncations: dict[str, bool]
    missed: tuple[str, ...] = ()


_new_record: Any = object.__new__
_set = object.__setattr__


def step_record(
    time: float | None,
    actions: dict[str, Any],
    rewards: dict[str, float],
    terminations: dict[str, bool],
    truncations: dict[str, bool],
    missed: tuple[str, ...] = (),
) -> StepRecord:
    """``StepRecord(...)`` without the frozen dataclass's ``__init__`` and its Python
    frame: the same record, made once per step of every host. (Set field by field, not
    through ``__dict__``: reading that would make a dict object per record, one more
    object for the cyclic GC to walk for as long as the episode lives.)"""
    record: StepRecord = _new_record(StepRecord)
    _set(record, "time", time)
    _set(record, "actions", actions)
    _set(record, "rewards", rewards)
    _set(record, "terminations", terminations)
    _set(record, "truncations", truncations)
    _set(record, "missed", missed)
    return record


@dataclasses.dataclass(frozen=True)
class AgentError:
    """An agent that raised: the host reports it here and cancels the other agents.

    Attributes:
        agent: The agent's id (its client's name).
        type: The exception's class name.
        message: ``str()`` of the exception.
        traceback: The formatted traceback, as Python prints it.
        exception: The exception itself (not compared).
    """

    agent: str
    type: str
    message: str
    traceback: str
    exception: BaseException = dataclasses.field(compare=False, repr=False)


@dataclasses.dataclass(frozen=True)
class Episode:
    """One episode run by a host: what happened at each step and what the agents asked.

    Returned by ``run_episode`` of :class:`~threaded_async.envs.GymHost`,
    :class:`~threaded_async.envs.ParallelHost` and :class:`~threaded_async.envs.TurnHost`.
    An immutable record; any thread may read it.

    Attributes:
        seed: The seed the episode was run with (None if not seeded).
        records: One :class:`StepRecord` per step of the environment, in order.
        total_rewards: The sum of each agent's rewards over the episode.
        missed_frames: For each agent, how many frames it missed (real-time
            ParallelHost; zero otherwise).
        results: What each agent function returned, for the agents that returned.
        trace: Every request the agents issued, with its answer (a
            :class:`threaded_async.Trace`).
        error: The first agent that raised, or None.
        frames: The rendered frames (numpy arrays) when the host records frames: one after
            the reset and one after each step (not compared).
        spaces: Each agent's ``(action_space, observation_space)`` as the agent got them
            at the start (seeded), by agent id: what :meth:`replay` rebuilds the agents'
            clients from (not compared).
        schedule: The seeded :class:`~threaded_async.Schedule` the episode ran under, with
            the choices it made (None: the default order; not compared nor in the
            digest, which covers what happened).
    """

    seed: int | None
    records: tuple[StepRecord, ...]
    total_rewards: dict[str, float]
    missed_frames: dict[str, int]
    results: dict[str, Any]
    trace: Trace
    error: AgentError | None = None
    frames: tuple[Any, ...] = dataclasses.field(default=(), repr=False, compare=False)
    spaces: dict[str, tuple[Any, Any]] = dataclasses.field(
        default_factory=dict[str, tuple[Any, Any]], repr=False, compare=False
    )
    schedule: Schedule | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def agents(self) -> list[str]:
        """The agent ids of the episode, in the order the host made their clients."""
        return list(self.spaces) or list(self.total_rewards)

    @property
    def steps(self) -> int:
        """How many steps the environment made (``len(records)``)."""
        return len(self.records)

    def digest(self) -> str:
        """The SHA-256 (64 hex digits) of the episode's canonical encoding (the trace
        codec's comparison form, as :meth:`threaded_async.Trace.digest` hashes).

        Covers the seed, the records, the totals, the missed frames, the error (agent,
        type and message: not the traceback) and the trace (by its own
        :meth:`~threaded_async.Trace.digest`); not the agents' return values nor the
        frames. The same seed and agents on a virtual clock give the same digest on every
        run, machine and supported Python. Any thread; never blocks.
        """
        error = None
        if self.error is not None:
            error = [self.error.agent, self.error.type, self.error.message]
        return digest_of(
            {
                "seed": self.seed,
                "records": [_fields(record) for record in self.records],
                "total_rewards": self.total_rewards,
                "missed_frames": self.missed_frames,
                "error": error,
                "trace": self.trace.digest(),
            }
        )

    def replay(
        self, agents: Mapping[str, AgentFn] | AgentFn, *, timeout: float | None = 10.0
    ) -> ScriptRun[Any]:
        """Re-run agent code against this episode's recorded answers, on virtual time;
        return the run. When the agents did the same, its trace agrees with the episode's
        client by client, times included (``run.trace.diff(episode.trace) == {}``; with
        one agent the traces are equal).

        The agents' clients are rebuilt from the episode: the same names (agent ids) and
        copies of the same seeded spaces, so ``env.action_space.sample()`` draws what it
        drew in the episode. Each agent's requests are answered, in order, with what it
        got in the episode, at the same virtual delays; the env is not used. ``agents``
        as for ``run_episode``: one async function for all, or one per agent id.

        Call it from any thread that runs no event loop of this library; it blocks until
        the agents are done. Raises :class:`threaded_async.testing.ScriptError` naming the
        first request (agent and step) that differs from the episode, or a recorded
        request the agents did not make; the agents' own exception otherwise (as in the
        episode, if an agent raised there); TypeError for an agent that is not an async
        function; ValueError if the episode does not know its agents' spaces (an episode
        pickled by an older version).
        """
        from ._replay import replay_episode

        return replay_episode(self, agents, timeout=timeout)

    def save_gif(self, path: str | os.PathLike[str], *, fps: float = 30.0) -> None:
        """Write the recorded frames to ``path`` as an animated GIF (looping), ``fps``
        frames per second.

        Any thread; blocks while it encodes. Raises ValueError if no frame was recorded
        (create the host with ``record_frames=True``), ImportError naming the
        ``threaded_async[envs]`` extra if imageio is not installed, OSError if the file
        cannot be written.
        """
        if not self.frames:
            raise ValueError("no frames were recorded: create the host with record_frames=True")
        if not fps > 0:
            raise ValueError(f"fps must be positive, not {fps!r}")
        iio = require("imageio.v3", "Episode.save_gif()")
        iio.imwrite(path, list(self.frames), duration=1000.0 / fps, loop=0)


def _fields(record: StepRecord) -> dict[str, Any]:
    return {field.name: getattr(record, field.name) for field in dataclasses.fields(record)}
