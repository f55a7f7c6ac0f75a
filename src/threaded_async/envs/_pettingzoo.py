"""PettingZoo hosts: ParallelHost (lockstep or real-time frames) and TurnHost (AEC turns)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .. import Request, Schedule, VirtualClock
from ._episode import Episode
from ._session import (
    AgentFn,
    Answers,
    EnvClient,
    EnvHost,
    Session,
    action_of,
    agents_by_id,
    episode_clock,
    make_env,
    outcome,
)

__all__ = ["ParallelHost", "TurnHost"]


def _session(
    env: Any,
    clock: VirtualClock | None,
    seed: int | None,
    *,
    timeout: float,
    record_frames: bool,
    progress: bool,
    inline: bool,
) -> Session:
    ids: list[str] = list(env.possible_agents)
    spaces = {name: (env.action_space(name), env.observation_space(name)) for name in ids}
    try:
        description = str(env.metadata["name"])
    except (AttributeError, KeyError, TypeError):
        description = type(env).__name__
    return Session(
        env,
        spaces,
        clock=clock,
        seed=seed,
        timeout=timeout,
        record_frames=record_frames,
        progress=description if progress else None,
        inline=inline,
    )


def _reset_answer(req: Request[Any], observation: Any, info: Any) -> tuple[Any, Exception | None]:
    """What a PettingZoo agent's ``reset()`` gets: its own observation and info, or the
    error of a reset that asks for a seed or options."""
    if any(value is not None for value in (*req.args, *req.kwargs.values())):
        return None, ValueError(
            f"{req.client}: the host resets the env with the episode's seed "
            "(run_episode(seed=...)); call reset() without seed or options"
        )
    return (observation, info), None


def _answer_reset(session: Session, req: Request[Any], observation: Any, info: Any) -> None:
    """Answer a PettingZoo agent's ``reset()`` with its own observation and info."""
    session.answer(req, *_reset_answer(req, observation, info))


class ParallelHost(EnvHost):
    """Hosts a PettingZoo ``ParallelEnv`` on the calling thread, one agent coroutine per
    PettingZoo agent, stepped in lockstep or at a fixed frame rate.

    ``env`` is a parallel env object, or an id such as
    ``"butterfly/knights_archers_zombies-v11"`` that the host makes with
    ``pettingzoo.make("parallel", env, **make_kwargs)`` (and closes in :meth:`close`).
    Each agent gets an :class:`EnvClient` named by its agent id; ``await env.reset()``
    gives it its first ``(observation, info)`` (the host resets the env with the
    episode's seed before the agents start) and ``await env.step(action)`` its own
    ``(observation, reward, terminated, truncated, info)`` for the step its action went
    into.

    **Lockstep** (the default): each step waits until every live agent has a ``step``
    request queued (:meth:`threaded_async.Server.gather`), puts all the actions into one
    ``env.step(actions)`` and answers each agent. An agent that has returned while the
    env still lists it gets ``default_action``; without one the episode ends there.

    **Real time** (``fps=``): a frame every ``1 / fps`` seconds; at each frame the host
    takes the ``step`` requests that are queued, gives every other agent
    ``default_action`` (a value, or a callable ``(agent_id, observation) -> action``
    given the agent's latest observation) and steps the env. An agent still running
    whose request was not queued in time *missed* the frame: its request goes into a
    later frame, the miss is listed in the step's :attr:`StepRecord.missed` and counted
    in :attr:`Episode.missed_frames`. On virtual time (the default) frame ``k`` is at
    exactly ``k / fps`` virtual seconds and the host advances the clock one frame per
    step: only virtual time counts (an agent misses frames by awaiting across them, e.g.
    ``await asyncio.sleep(3 / fps)``, not by computing, nor by real work in an executor
    or inside :func:`threaded_async.hold_virtual_time`, which takes no virtual time: the
    frame waits for it), so a run is deterministic. With ``real_time=True`` frames are
    due at wall-clock times and an agent that computes or waits for a model too long
    misses them (not reproducible).

    **Threads.** The env, its renderer and any window stay on the host thread: the
    thread that creates the host and calls :meth:`run_episode`, where every ``reset``,
    ``step`` and ``render`` runs (SDL/pygame and other renderers require it). The agents
    run on the loop thread of a fresh runner per episode (with ``inline=True``, on the
    host thread while it waits for them). A host runs one episode at a time.

    An agent that is done (terminated or truncated) should return; a request it makes
    afterwards is not answered, and it is cancelled when the episode ends. The episode
    ends when the env has no agent left, or no agent function is running any more.

    Args:
        env: The parallel env, or a PettingZoo id to make one.
        fps: Frames per second for real-time mode; None for lockstep.
        default_action: The action of an agent that missed a frame or has returned: a
            value, or a callable ``(agent_id, observation) -> action``. Required with
            ``fps``.
        real_time: Use the real clock (lockstep: agents' sleeps are real; frames: due at
            wall-clock times) instead of virtual time.
        timeout: Real seconds the host waits for an agent's request or for the loop
            before it gives up with EventLoopTimeoutError.
        record_frames: Render a frame after the reset and after every step (the env must
            render ``"rgb_array"``; with an id, ``render_mode`` defaults to it).
        progress: Show a progress bar of the steps on stderr: tqdm's, or rich's if tqdm
            is not installed (none if neither is).
        inline: Inline stepping: the host thread runs the agents' loop itself while it
            waits for their requests: no loop thread, no thread switch per step, the
            same episode and digest. An agent that blocks (a sync call that never
            returns) then blocks the host, and the host's ``timeout`` cannot interrupt
            it. None (default): threaded, except in the workers of ``run_episodes``'
            ``"process"`` and ``"ray"`` engines. See docs/inline.md.
        make_kwargs: Passed to ``pettingzoo.make`` (only with an id).

    Raises:
        ImportError: an id was given and PettingZoo is not installed
            (``pip install "threaded_async[envs]"``).
        TypeError: not an env of the host's kind (the message says which to use), or
            ``make_kwargs`` given with an env object.
        ValueError: ``fps`` not positive or without ``default_action``; ``record_frames``
            with an env that does not render ``"rgb_array"``; a timeout not positive.
    """

    def __init__(
        self,
        env: Any,
        *,
        fps: float | None = None,
        default_action: Any = None,
        real_time: bool = False,
        timeout: float = 10.0,
        record_frames: bool = False,
        progress: bool = False,
        inline: bool | None = None,
        **make_kwargs: Any,
    ) -> None:
        if fps is not None:
            if not fps > 0:
                raise ValueError(f"fps must be positive, not {fps!r}")
            if default_action is None:
                raise ValueError("real time (fps=) needs a default_action for missed frames")
        made_env, made = make_env(
            env,
            make_kwargs,
            "pettingzoo",
            lambda pz: pz.make("parallel", env, **make_kwargs),
            record_frames,
            "parallel",
        )
        super().__init__(made_env, made, timeout, record_frames, inline)
        self._fps = fps
        self._default_action = default_action
        self._real_time = real_time
        self._progress = progress
        self._observations: dict[str, Any] = {}
        self._infos: dict[str, Any] = {}

    def run_episode(
        self,
        agents: Mapping[str, AgentFn] | AgentFn,
        *,
        seed: int | None = None,
        raise_errors: bool = True,
        schedule: Schedule | int | None = None,
        schedule_seed: int | None = None,
    ) -> Episode:
        """Reset the env with ``seed``, run one agent function per agent id until the
        env has no agent left (or the episode stops), and return the episode.

        ``agents``: one async function for every agent, or a mapping from each agent id
        of ``env.possible_agents`` to its function. ``seed`` also seeds each agent's
        action space (with ``seed + i`` for the ``i``-th agent). Call it on the host
        thread; it blocks until the episode is over. An agent that raises ends the
        episode (the others are cancelled) and its exception is raised, with the
        recorded episode attached as ``exception.episode``; with ``raise_errors=False``
        the episode is returned with :attr:`Episode.error` set instead. Raises
        TypeError before anything runs for an agent that is not an async function,
        ValueError if ``agents`` does not cover exactly the env's agent ids,
        RuntimeError if the host is closed, EventLoopTimeoutError if an agent issues no
        request and does not return within ``timeout`` (lockstep) or the loop does not
        settle within it (virtual frames); the agents are cancelled first. What
        ``env.step`` raises goes to the agents whose actions were in it (and out of
        ``run_episode`` if there were none).

        ``schedule`` (SPEC §12): a seeded :class:`~threaded_async.Schedule` (or its seed;
        0 or None: the default order; ``schedule_seed=7`` is ``schedule=7``)
        for the episode's loop and its answers: the order
        in which a step's answers reach the agents (by default, the order of the
        agents), and how late each comes, within the schedule's limits (a frame,
        ``1 / fps``, is a natural ``delay_step``). The same seed and schedule give the
        same episode and digest every run; :attr:`Episode.schedule` keeps its choices.
        ValueError with ``real_time=True``.
        """
        self.check_open()
        env = self._env
        functions = agents_by_id(agents, list(env.possible_agents))
        # Lockstep: autojump reaches sleeping agents; frames: the host moves the clock.
        clock = episode_clock(self._real_time, schedule, schedule_seed, autojump=self._fps is None)
        with _session(
            env,
            clock,
            seed,
            timeout=self._timeout,
            record_frames=self._record_frames,
            progress=self._progress,
            inline=self.inline,
        ) as session:
            observations, infos = env.reset(seed=seed)
            self._observations = dict(observations)
            self._infos = dict(infos)
            session.frame()
            session.start(functions)
            if self._fps is None:
                self._lockstep(session)
            else:
                self._frames(session, self._fps)
            episode = session.finish()
        return outcome(episode, raise_errors)

    def _lockstep(self, session: Session) -> None:
        env = self._env
        while env.agents and session.error is None:
            requests = self._gather_steps(session)
            if session.error is not None or not session.running:
                return
            actions: dict[str, Any] = {}
            for name in env.agents:
                if name in requests:
                    actions[name] = action_of(requests[name])
                elif self._default_action is not None:
                    actions[name] = self._default(name)
                else:
                    return  # an agent ended while the env still waits for its action
            self._step(session, actions, requests, ())

    def _gather_steps(self, session: Session) -> dict[str, Request[Any]]:
        """One ``step`` request from every live agent of the env (answering resets)."""
        requests: dict[str, Request[Any]] = {}
        while True:
            waiting = [
                name
                for name in self._env.agents
                if name not in requests and session.clients[name].live
            ]
            if not waiting:
                return requests
            resets: Answers = []
            for req in session.server.gather(waiting, timeout=self._timeout):
                name = str(req.client)
                if req.fun is EnvClient.step:
                    requests[name] = req
                else:  # resets taken together are answered together
                    value, error = _reset_answer(req, self._observations[name], self._infos[name])
                    resets.append((req, value, error))
            if resets:
                session.answer_all(resets)

    def _frames(self, session: Session, fps: float) -> None:
        env = self._env
        server = session.server
        if session.clock is not None:
            # Every agent's first requests (its reset) are in before frame 1 answers them:
            # on virtual time they are all made at time 0, however the agents started.
            server.runner.wait_until_idle(self._timeout)
        start = time.monotonic()
        frame = 0
        while env.agents and session.error is None:
            frame += 1
            self._wait_for_frame(session, frame / fps, start)
            if session.error is not None or not session.running:
                return
            requests: dict[str, Request[Any]] = {}
            actions: dict[str, Any] = {}
            missed: list[str] = []
            for name in env.agents:
                req = server.take(client=name, fun=EnvClient.step)
                if req is not None:
                    requests[name] = req
                    actions[name] = action_of(req)
                else:
                    actions[name] = self._default(name)
                    if session.clients[name].live:
                        missed.append(name)
            self._step(session, actions, requests, tuple(missed))

    def _wait_for_frame(self, session: Session, due: float, start: float) -> None:
        """Answer resets until frame time ``due``: virtual (the host advances the clock
        there, and the loop settles) or real (seconds since ``start``)."""
        server = session.server
        self._answer_queued_resets(session)
        if session.clock is not None:
            session.clock.advance_to(due, self._timeout)
            return
        deadline = start + due
        while (remaining := deadline - time.monotonic()) > 0:
            req = server.next_request(remaining, fun=EnvClient.reset)
            if req is not None:
                name = str(req.client)
                _answer_reset(session, req, self._observations[name], self._infos[name])

    def _answer_queued_resets(self, session: Session) -> None:
        while (req := session.server.take(fun=EnvClient.reset)) is not None:
            name = str(req.client)
            _answer_reset(session, req, self._observations[name], self._infos[name])

    def _default(self, name: str) -> Any:
        default = self._default_action
        return default(name, self._observations[name]) if callable(default) else default

    def _step(
        self,
        session: Session,
        actions: dict[str, Any],
        requests: dict[str, Request[Any]],
        missed: tuple[str, ...],
    ) -> None:
        try:
            observations, rewards, terminations, truncations, infos = self._env.step(actions)
        except Exception as exc:
            if not requests:
                raise
            session.answer_all([(req, None, exc) for req in requests.values()])
            return
        self._observations.update(observations)
        self._infos.update(infos)
        session.record(actions, rewards, terminations, truncations, missed)
        session.answer_all(  # one wake-up of the loop for the whole step
            [
                (
                    req,
                    (
                        observations[name],
                        rewards[name],
                        terminations[name],
                        truncations[name],
                        infos[name],
                    ),
                    None,
                )
                for name, req in requests.items()
            ]
        )


class TurnHost(EnvHost):
    """Hosts a PettingZoo ``AECEnv`` (turn-based) on the calling thread, one agent
    coroutine per PettingZoo agent: only the agent whose turn it is gets its answer.

    ``env`` is an AEC env object, or an id such as ``"classic/tictactoe-v3"`` that the
    host makes with ``pettingzoo.make("aec", env, **make_kwargs)`` (and closes in
    :meth:`close`). The host resets the env with the episode's seed, then plays the
    turns of ``env.agent_selection``. Each agent gets an :class:`EnvClient` named by
    its agent id:

    * ``await env.reset()`` returns ``(observation, info)`` at the agent's first turn;
    * ``await env.step(action)`` plays the action at once, and returns
      ``(observation, reward, terminated, truncated, info)`` when it is the agent's turn
      again: what ``env.last()`` gives it then (its reward since its previous turn).

    So an agent's code is a plain loop, and it waits while the others play::

        async def player(env: EnvClient) -> None:
            observation, info = await env.reset()
            while True:
                action = choose(observation)
                observation, reward, terminated, truncated, info = await env.step(action)
                if terminated or truncated:
                    return

    A done agent's turn is played by the host with ``env.step(None)`` (as PettingZoo
    requires), after answering its last request with ``terminated``/``truncated`` set;
    it should then return (a later request is not answered, and it is cancelled when
    the episode ends). If an agent returns while the env still waits for its move, the
    episode ends there.

    **Threads.** The env and its renderer stay on the host thread (the one that creates
    the host and calls :meth:`run_episode`); the agents run on the loop thread of a
    fresh runner per episode (with ``inline=True``, on the host thread while it waits
    for them), on a ``VirtualClock(autojump=True)`` unless ``real_time=True``.

    Args:
        env: The AEC env, or a PettingZoo id to make one.
        real_time: Run the agents on the real clock instead of virtual time.
        timeout: Real seconds the host waits for the agent whose turn it is (or for the
            loop) before it gives up with EventLoopTimeoutError.
        record_frames: Render a frame after the reset and after every turn (the env must
            render ``"rgb_array"``; with an id, ``render_mode`` defaults to it).
        progress: Show a progress bar of the turns on stderr: tqdm's, or rich's if tqdm
            is not installed (none if neither is).
        inline: Inline stepping: the host thread runs the agents' loop itself while it
            waits for their requests: no loop thread, no thread switch per step, the
            same episode and digest. An agent that blocks (a sync call that never
            returns) then blocks the host, and the host's ``timeout`` cannot interrupt
            it. None (default): threaded, except in the workers of ``run_episodes``'
            ``"process"`` and ``"ray"`` engines. See docs/inline.md.
        make_kwargs: Passed to ``pettingzoo.make`` (only with an id).

    Raises:
        ImportError: an id was given and PettingZoo is not installed
            (``pip install "threaded_async[envs]"``).
        TypeError: not an env of the host's kind (the message says which to use), or
            ``make_kwargs`` given with an env object.
        ValueError: ``record_frames`` with an env that does not render ``"rgb_array"``;
            a timeout not positive.
    """

    def __init__(
        self,
        env: Any,
        *,
        real_time: bool = False,
        timeout: float = 10.0,
        record_frames: bool = False,
        progress: bool = False,
        inline: bool | None = None,
        **make_kwargs: Any,
    ) -> None:
        made_env, made = make_env(
            env,
            make_kwargs,
            "pettingzoo",
            lambda pz: pz.make("aec", env, **make_kwargs),
            record_frames,
            "aec",
        )
        super().__init__(made_env, made, timeout, record_frames, inline)
        self._real_time = real_time
        self._progress = progress

    def run_episode(
        self,
        agents: Mapping[str, AgentFn] | AgentFn,
        *,
        seed: int | None = None,
        raise_errors: bool = True,
        schedule: Schedule | int | None = None,
        schedule_seed: int | None = None,
    ) -> Episode:
        """Reset the env with ``seed`` and play turns until no agent is left (or the
        episode stops); return the episode (one :class:`StepRecord` per turn).

        ``agents``: one async function for every agent, or a mapping from each agent id
        of ``env.possible_agents`` to its function. ``seed`` also seeds each agent's
        action space (``seed + i`` for the ``i``-th agent). Call it on the host thread;
        it blocks until the episode is over. An agent that raises ends the episode (the
        others are cancelled) and its exception is raised with the recorded episode
        attached as ``exception.episode`` (``raise_errors=False``: returned, with
        :attr:`Episode.error` set). What ``env.step`` raises for an action goes to the
        agent that asked (its turn goes on). Raises TypeError before anything runs for
        an agent that is not an async function, ValueError if ``agents`` does not cover
        exactly the env's agent ids, RuntimeError if the host is closed,
        EventLoopTimeoutError if the agent whose turn it is issues no request and does
        not return within ``timeout`` (the agents are cancelled first).

        ``schedule`` (SPEC §12): a seeded :class:`~threaded_async.Schedule` (or its seed;
        0 or None: the default order; ``schedule_seed=7`` is ``schedule=7``)
        for the episode's loop and its answers, each of
        which may come late within the schedule's limits. The same seed and schedule
        give the same episode and digest every run; :attr:`Episode.schedule` keeps its
        choices. ValueError with ``real_time=True``.
        """
        self.check_open()
        env = self._env
        functions = agents_by_id(agents, list(env.possible_agents))
        clock = episode_clock(self._real_time, schedule, schedule_seed)
        with _session(
            env,
            clock,
            seed,
            timeout=self._timeout,
            record_frames=self._record_frames,
            progress=self._progress,
            inline=self.inline,
        ) as session:
            env.reset(seed=seed)
            session.frame()
            session.start(functions)
            owed: dict[str, Request[Any]] = {}  # step requests answered at the next turn
            while env.agents and session.error is None:
                name: str = env.agent_selection
                observation, reward, terminated, truncated, info = env.last()
                req = owed.pop(name, None)
                if req is not None:
                    session.answer(req, (observation, reward, terminated, truncated, info), None)
                if terminated or truncated:
                    env.step(None)
                    session.record(
                        {name: None}, {name: reward}, {name: terminated}, {name: truncated}
                    )
                    continue
                req = self._next_step(session, name, observation, info)
                if req is None:
                    break  # the agent ended while the env waits for its move
                action = action_of(req)
                try:
                    env.step(action)
                except Exception as exc:
                    session.answer(req, None, exc)
                    continue
                owed[name] = req
                session.record({name: action}, {name: reward}, {name: False}, {name: False})
            episode = session.finish()
        return outcome(episode, raise_errors)

    def _next_step(
        self, session: Session, name: str, observation: Any, info: Any
    ) -> Request[Any] | None:
        """The next ``step`` request of agent ``name`` (answering its resets with this
        turn's observation), or None once it has ended."""
        client = session.clients[name]
        while batch := session.server.gather([client], timeout=self._timeout):
            req = batch[0]
            if req.fun is EnvClient.step:
                return req
            _answer_reset(session, req, observation, info)
        return None
