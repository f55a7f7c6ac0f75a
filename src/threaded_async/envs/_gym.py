"""GymHost: one Gymnasium environment on the host thread, one agent coroutine on the loop."""

from __future__ import annotations

from typing import Any

from .. import Schedule
from ._episode import Episode
from ._session import (
    AgentFn,
    EnvClient,
    EnvHost,
    Session,
    action_of,
    check_agent,
    episode_clock,
    make_env,
    outcome,
)

__all__ = ["GymHost"]

AGENT = "agent"


class GymHost(EnvHost):
    """Hosts one Gymnasium environment on the calling thread for an agent coroutine.

    ``env`` is an env object (anything with Gymnasium's ``reset``/``step``/``render``,
    ``action_space`` and ``observation_space``), or an id such as ``"CartPole-v1"``
    that the host makes with ``gymnasium.make(env, **make_kwargs)`` (and closes in
    :meth:`close`; with ``record_frames=True`` it defaults ``render_mode`` to
    ``"rgb_array"``)::

        async def agent(env: EnvClient) -> None:
            observation, info = await env.reset()
            done = False
            while not done:
                action = env.action_space.sample()
                observation, reward, terminated, truncated, info = await env.step(action)
                done = terminated or truncated

        with GymHost("CartPole-v1") as host:
            episode = host.run_episode(agent, seed=42)

    **Threads.** The env, its renderer and any window it opens stay on the host thread:
    the thread that creates the host and calls :meth:`run_episode`, which is where every
    ``reset``, ``step`` and ``render`` runs (SDL/pygame, MuJoCo and Gymnasium's renderers
    require that). The agent runs on the loop thread of a fresh runner per episode and
    only sends requests (with ``inline=True``, on the host thread itself, while the host
    waits for its next request). A host runs one episode at a time.

    **Time.** By default the loop runs on a ``VirtualClock(autojump=True)``: an agent may
    ``await asyncio.sleep(...)`` and virtual time jumps there at once, so an episode is
    deterministic and fast. Real work takes no virtual time: while an agent's job in an
    executor (``asyncio.to_thread``) or its real I/O inside
    :func:`threaded_async.hold_virtual_time` is in flight, the clock stands still, so a
    model call under the agent's own timeout is not timed out by virtual time.
    ``real_time=True`` uses the real clock instead.

    Args:
        env: The env, or a Gymnasium id to make one.
        real_time: Run the agent on the real clock instead of virtual time.
        timeout: Real seconds the host waits for the agent's next request (or for the
            loop) before it gives up with EventLoopTimeoutError.
        record_frames: Render a frame after every reset and step (the env must render
            ``"rgb_array"``); the episode keeps them (:meth:`Episode.save_gif`).
        progress: Show a progress bar of the steps on stderr: tqdm's, or rich's if tqdm
            is not installed (none if neither is).
        inline: Inline stepping: the host thread runs the agents' loop itself while it
            waits for their requests: no loop thread, no thread switch per step, the
            same episode and digest. An agent that blocks (a sync call that never
            returns) then blocks the host, and the host's ``timeout`` cannot interrupt
            it. None (default): threaded, except in the workers of ``run_episodes``'
            ``"process"`` and ``"ray"`` engines. See docs/inline.md.
        make_kwargs: Passed to ``gymnasium.make`` (only with an id).

    Raises:
        ImportError: an id was given and Gymnasium is not installed
            (``pip install "threaded_async[envs]"``).
        TypeError: not an env of the host's kind (the message says which to use), or
            ``make_kwargs`` given with an env object.
        ValueError: ``record_frames`` with an env that does not render ``"rgb_array"``,
            or a timeout that is not positive.
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
            "gymnasium",
            lambda gym: gym.make(env, **make_kwargs),
            record_frames,
            "gymnasium",
        )
        super().__init__(made_env, made, timeout, record_frames, inline)
        self._real_time = real_time
        self._progress = progress

    def run_episode(
        self,
        agent: AgentFn,
        *,
        seed: int | None = None,
        raise_errors: bool = True,
        schedule: Schedule | int | None = None,
        schedule_seed: int | None = None,
    ) -> Episode:
        """Run ``agent`` against the env until the agent returns; return the episode.

        Call it on the host thread; it blocks until the agent has returned (or raised).
        Each request is answered at once, on this thread: ``reset`` calls
        ``env.reset(seed=..., options=...)`` (the first reset without a seed gets
        ``seed``), ``step`` calls ``env.step(action)``; what the env returns, or raises,
        goes back to the agent. ``seed`` also seeds the action space. The agent may run
        several episodes of the env (each ``reset`` starts one); every step is recorded.

        Raises the agent's own exception if it raised (the recorded episode attached as
        ``exception.episode``), unless ``raise_errors=False``: then the episode is
        returned with :attr:`Episode.error` set. Raises EventLoopTimeoutError if the agent
        issues no request and does not return within ``timeout`` real seconds (it is
        cancelled first); RuntimeError if the host is closed, or if called on an event
        loop thread of this library; TypeError, before anything runs, for an agent that
        is not an async function (the message says what to write) or a seed that is not
        an int.

        ``schedule`` (SPEC §12): a seeded :class:`~threaded_async.Schedule` (or its seed;
        0 or None: the default order; ``schedule_seed=7`` is ``schedule=7``)
        for the episode's loop, and for its answers: each
        may come late, within the schedule's limits. The same seed and schedule give the
        same episode and digest every run; :attr:`Episode.schedule` keeps its choices.
        ValueError with ``real_time=True``.
        """
        self.check_open()
        check_agent(agent)
        env = self._env
        clock = episode_clock(self._real_time, schedule, schedule_seed)
        session = Session(
            env,
            {AGENT: (env.action_space, env.observation_space)},
            clock=clock,
            seed=seed,
            timeout=self._timeout,
            record_frames=self._record_frames,
            progress=_describe(env) if self._progress else None,
            inline=self.inline,
        )
        with session:
            session.start({AGENT: agent})
            self._serve(session)
            episode = session.finish()
        return outcome(episode, raise_errors)

    def _serve(self, session: Session) -> None:
        """Answer the agent's requests until it ends: take, step the env, record, answer."""
        env = self._env
        server = session.server
        client = session.clients[AGENT]
        first_reset = True
        while batch := server.gather([client], timeout=self._timeout):
            req = batch[0]
            try:
                if req.fun is EnvClient.step:
                    action = action_of(req)
                    result = env.step(action)
                    _, reward, terminated, truncated, _ = result
                    session.record_one(AGENT, action, reward, terminated, truncated)
                else:
                    seed = req.kwargs.get("seed")
                    if seed is None and first_reset:
                        seed = session.seed
                    first_reset = False
                    result = env.reset(seed=seed, options=req.kwargs.get("options"))
                    session.frame()
            except Exception as exc:  # what the env raised goes to the agent
                session.answer(req, None, exc)
            else:
                session.answer(req, result, None)


def _describe(env: Any) -> str:
    """The env's id for a progress bar."""
    spec = getattr(env, "spec", None)
    name = getattr(spec, "id", None)
    return name if isinstance(name, str) else type(env).__name__
