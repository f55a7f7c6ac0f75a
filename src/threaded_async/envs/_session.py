"""What every host shares: the agents' client, and one episode's server, agents and records."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import functools
import inspect
import time
import traceback
from collections.abc import Awaitable, Callable, Generator, Mapping
from types import TracebackType
from typing import Any, Self, SupportsFloat, cast

from .. import (
    AsyncRunner,
    BackgroundTask,
    Client,
    EventLoopTimeoutError,
    Request,
    Schedule,
    Server,
    VirtualClock,
    request,
)
from .._codec import snapshot
from ..testing import answer_frame
from ._episode import AgentError, Episode, StepRecord, step_record
from ._optional import Progress, require

__all__ = [
    "AgentFn",
    "Answers",
    "EnvClient",
    "EnvHost",
    "Session",
    "action_of",
    "agents_by_id",
    "copied",
    "is_async_function",
    "make_env",
    "outcome",
]

#: What a step answers: ``(observation, reward, terminated, truncated, info)``.
StepResult = tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]

#: Answers a host gives together: each request, its value, or the exception to fail it
#: with (else None).
Answers = list[tuple[Request[Any], Any, BaseException | None]]


class EnvClient(Client):
    """An agent's handle on the environment: its requests go to the host thread.

    Made by the hosts, one per agent (its :attr:`~threaded_async.Client.name` is the
    agent id: ``"agent"`` for a :class:`~threaded_async.envs.GymHost`, the PettingZoo
    agent id otherwise). Its coroutines must be awaited on the host's loop, i.e. by the
    agent function the host runs; each waits until the host answers: at once for a
    GymHost, when every agent has acted (lockstep), when the frame is due (real time) or
    when it is the agent's turn again (:class:`~threaded_async.envs.TurnHost`). They raise
    what the environment raised for the request, and CancelledError when the host stops
    the episode (another agent raised, the episode ended, a timeout).
    """

    def __init__(
        self, server: Server, name: str, action_space: Any, observation_space: Any
    ) -> None:
        super().__init__(server, name)
        self._action_space = action_space
        self._observation_space = observation_space

    @property
    def action_space(self) -> Any:
        """The agent's action space (a ``gymnasium.spaces.Space``), seeded by the host
        when the episode has a seed, so ``action_space.sample()`` is reproducible."""
        return self._action_space

    @property
    def observation_space(self) -> Any:
        """The agent's observation space (a ``gymnasium.spaces.Space``)."""
        return self._observation_space

    @request
    async def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the environment; returns ``(observation, info)``. Keyword-only, as
        Gymnasium's ``Env.reset``.

        GymHost: calls ``env.reset(seed=..., options=...)`` (the episode's seed for the
        first reset without one). PettingZoo hosts reset the environment themselves with
        the episode's seed: this returns the agent's own first observation and info
        (TurnHost: at its first turn), and ``seed``/``options`` must be left out.
        """
        ...

    @request
    async def step(self, action: Any) -> StepResult:
        """Act; returns ``(observation, reward, terminated, truncated, info)``, exactly
        what the environment gives this agent for the step."""
        ...


#: An agent: an async function that takes its client and runs until it is done.
AgentFn = Callable[[EnvClient], Awaitable[Any]]


def action_of(req: Request[Any]) -> Any:
    """The action of a ``step`` request, passed positionally or as ``action=``."""
    return req.args[0] if req.args else req.kwargs["action"]


#: What a host made with ``inline=None`` does: threaded, except where run_episodes runs
#: the episode in one of its workers (process, Ray actor), which only host.
_inline_default: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "threaded_async_inline_default", default=False
)


@contextlib.contextmanager
def inline_by_default(inline: bool) -> Generator[None]:
    """Within: hosts made with ``inline=None`` step inline (True) or threaded (False)."""
    token = _inline_default.set(inline)
    try:
        yield
    finally:
        _inline_default.reset(token)


class EnvHost:
    """What the hosts share: an environment owned by the host thread, made from an id or
    given, closed by :meth:`close` if the host made it."""

    def __init__(
        self,
        env: Any,
        made: bool,
        timeout: float,
        record_frames: bool,
        inline: bool | None = None,
    ) -> None:
        if inline is not None and not isinstance(inline, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            if made:
                env.close()
            raise TypeError(f"inline must be True, False or None, not {inline!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if record_frames and getattr(env, "render_mode", None) != "rgb_array":
            if made:
                env.close()
            raise ValueError('record_frames=True needs an env made with render_mode="rgb_array"')
        self._env = env
        self._made = made
        self._closed = False
        self._timeout = timeout
        self._record_frames = record_frames
        self._inline_choice = inline

    @property
    def inline(self) -> bool:
        """Whether the next episode steps inline: the host thread runs the agents' loop
        while it waits for their requests (see ``inline=`` of the hosts). Resolved when
        read: ``inline=None`` means threaded, except in run_episodes' process and Ray
        workers."""
        choice = self._inline_choice
        return _inline_default.get() if choice is None else choice

    def check_open(self) -> None:
        """RuntimeError if the host was closed (it runs no more episodes)."""
        if self._closed:
            raise RuntimeError(f"this {type(self).__name__} is closed: create a new one")

    @property
    def env(self) -> Any:
        """The environment. Use it on the host thread only."""
        return self._env

    def close(self) -> None:
        """Close the host: it runs no more episodes (``run_episode`` raises RuntimeError),
        and the environment is closed if the host made it from an id (else it is the
        caller's to close). Host thread; idempotent."""
        self._closed = True
        if self._made:
            self._made = False
            self._env.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def make_env(
    env: Any,
    make_kwargs: dict[str, Any],
    module: str,
    make: Callable[[Any], Any],
    record_frames: bool,
    kind: str,
) -> tuple[Any, bool]:
    """``(env, False)`` for an env object; ``(make(module), True)`` for an id (a str), with
    ``module`` imported lazily (ImportError naming the extra if it is missing). An env
    made to record frames renders ``"rgb_array"`` unless ``make_kwargs`` says otherwise.
    A given env must be of ``kind`` (see :func:`check_env_kind`)."""
    if isinstance(env, str):
        if record_frames:
            make_kwargs.setdefault("render_mode", "rgb_array")
        return make(require(module, f"making the env {env!r}")), True
    if make_kwargs:
        raise TypeError(
            f"the keyword arguments {sorted(make_kwargs)} are for making an env from an id"
        )
    check_env_kind(env, kind)
    return env, False


#: What each host needs: (the kind's name, attributes it must have, an attribute it must
#: not have, and what to say of an env that has it).
_KINDS: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "gymnasium": (
        "a Gymnasium env",
        ("reset", "step", "action_space"),
        "possible_agents",
        "this looks like a PettingZoo env: use ParallelHost or TurnHost",
    ),
    "parallel": (
        "a PettingZoo ParallelEnv",
        ("reset", "step", "possible_agents"),
        "last",
        "this looks like a PettingZoo AEC env: use TurnHost",
    ),
    "aec": ("a PettingZoo AEC env", ("reset", "step", "possible_agents", "last"), "", ""),
}


def check_env_kind(env: Any, kind: str) -> None:
    """TypeError at once, saying what was expected, if ``env`` is not of the host's kind."""
    name, needs, other, other_hint = _KINDS[kind]
    missing = [attribute for attribute in needs if not hasattr(env, attribute)]
    if not missing and not (other and hasattr(env, other)):
        return
    if missing and callable(env) and not hasattr(env, "reset"):
        hint = "a function or class was given: call it to make the env"
    elif missing == ["last"]:
        hint = "this looks like a PettingZoo ParallelEnv: use ParallelHost"
    elif not missing:
        hint = other_hint
    else:
        hint = f"it has no {', '.join(missing)}"
    raise TypeError(f"expected {name} or its id, not {env!r} ({hint})")


def check_agent(agent: object, name: str | None = None) -> None:
    """TypeError at once, saying what to write, unless ``agent`` is an async function of
    an EnvClient (an ``async def`` function or method, a ``functools.partial`` of one,
    or an object whose ``__call__`` is ``async def``)."""
    if is_async_function(agent):
        return
    what = f"the agent for {name!r}" if name is not None else "the agent"
    if inspect.iscoroutine(agent):
        agent.close()  # never run: no "never awaited" warning on top of the error
        hint = "a coroutine object was given: pass the async function itself (no call)"
    elif callable(agent):
        hint = (
            "it is a plain function: write it as `async def agent(env: EnvClient): ...` and "
            "await the env's calls (`await env.reset()`, `await env.step(action)`); a "
            "lambda or def that returns a coroutine is not one either: use `async def` "
            "or functools.partial(agent, ...)"
        )
    else:
        hint = "it is not callable"
    raise TypeError(f"{what} must be an async function taking an EnvClient, not {agent!r} ({hint})")


def is_async_function(obj: object) -> bool:
    """Whether calling ``obj`` makes a coroutine by its definition: an ``async def``
    function or method, a ``functools.partial`` of one, or an object whose ``__call__``
    is ``async def``."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    if inspect.isfunction(obj) or inspect.ismethod(obj) or not callable(obj):
        return False
    return inspect.iscoroutinefunction(type(obj).__call__)


def check_seed(seed: object) -> None:
    """TypeError at once unless ``seed`` is None or an int."""
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise TypeError(f"seed must be an int or None, not {seed!r}")


def episode_clock(
    real_time: bool,
    schedule: Schedule | int | None,
    schedule_seed: int | None = None,
    *,
    autojump: bool = True,
) -> VirtualClock | None:
    """The clock of an episode: None for real time, else a VirtualClock carrying the
    seeded schedule (if any; ``schedule_seed`` is the SPEC's spelling of an int seed).
    TypeError for a schedule that is not one (or a seed), or both spellings at once;
    ValueError for a schedule on real time (only virtual time repeats)."""
    if real_time:
        # (the clock checks both spellings: TypeError for what is not a schedule)
        if VirtualClock(schedule=schedule, schedule_seed=schedule_seed).schedule is not None:
            raise ValueError("a schedule needs virtual time: drop real_time=True (or the schedule)")
        return None
    return VirtualClock(autojump=autojump, schedule=schedule, schedule_seed=schedule_seed)


class Session:
    """One episode on the host thread: a server (fresh loop, virtual or real clock) whose
    clients are the agents, the agent tasks, and what becomes the :class:`Episode`."""

    def __init__(
        self,
        env: Any,
        spaces: Mapping[str, tuple[Any, Any]],
        *,
        clock: VirtualClock | None,
        seed: int | None,
        timeout: float,
        record_frames: bool,
        progress: str | None,
        inline: bool = False,
    ) -> None:
        check_seed(seed)
        self.env = env
        self.clock = clock
        self.seed = seed
        self.timeout = timeout
        #: The seeded schedule of the episode (SPEC §12), or None: the default order.
        self.schedule: Schedule | None = None if clock is None else clock.schedule
        runner = AsyncRunner(call_in_loop_timeout=timeout, clock=clock, inline=inline)
        self.server = Server(runner=runner, record_trace=True)
        self.clients: dict[str, EnvClient] = {
            name: EnvClient(self.server, name, action, observation)
            for name, (action, observation) in spaces.items()
        }
        if seed is not None:
            for index, (action_space, _) in enumerate(spaces.values()):
                action_space.seed(seed + index)
        #: The spaces as the agents get them (seeded), kept for Episode.replay.
        self.spaces: dict[str, tuple[Any, Any]] = {
            name: copied(pair) for name, pair in spaces.items()
        }
        #: When the episode started, for the step times of a real-clock episode.
        self._started = time.monotonic()
        self.records: list[StepRecord] = []
        self.totals: dict[str, float] = dict.fromkeys(spaces, 0.0)
        self.missed: dict[str, int] = dict.fromkeys(spaces, 0)
        self.frames: list[Any] = []
        self._record_frames = record_frames
        self._progress = Progress(progress)
        self._tasks: list[BackgroundTask[None]] = []
        self._results: dict[str, Any] = {}
        self._errors: list[AgentError] = []
        #: The agents' own tasks (loop thread only).
        self._agent_tasks: list[asyncio.Task[None]] = []

    def __enter__(self) -> Self:
        self.server.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.server.__exit__(exc_type, exc, tb)
        finally:
            self._progress.close()

    @property
    def running(self) -> bool:
        """Whether an agent function is still running (or has not started yet)."""
        return any(client.live for client in self.clients.values())

    @property
    def error(self) -> AgentError | None:
        """The first agent that raised so far (any thread)."""
        return self._errors[0] if self._errors else None

    def start(self, agents: Mapping[str, AgentFn]) -> None:
        """Start every agent on the loop, in the order of the clients."""
        for name, client in self.clients.items():
            coroutine = self._run_agent(client, agents[name])
            self._tasks.append(self.server.runner.create_task(coroutine))

    async def _run_agent(self, client: EnvClient, agent: AgentFn) -> None:
        task = asyncio.current_task()
        assert task is not None
        # The client belongs to this task and the tasks the agent spawns: it is live
        # while they run (gather() waits for it), also before its first request.
        client.bind_task(task)
        self._agent_tasks.append(task)
        try:
            coroutine = agent(client)
            if not inspect.isawaitable(coroutine):
                raise TypeError(
                    f"the agent for {client.name!r} returned {coroutine!r}, not a coroutine: "
                    "write it as `async def agent(env: EnvClient): ...`"
                )
            result = await coroutine
        except asyncio.CancelledError:
            raise  # the host ended the episode
        except BaseException as exc:
            text = "".join(traceback.format_exception(exc))
            self._errors.append(AgentError(client.name, type(exc).__name__, str(exc), text, exc))
            # The episode ends here: cancel the other agents now (this is the loop thread),
            # so a host waiting for their next requests is not kept waiting for them.
            for other in self._agent_tasks:
                if other is not task:
                    other.cancel()
        else:
            self._results[client.name] = result

    def answer(self, req: Request[Any], value: Any, error: BaseException | None) -> None:
        """Answer one request with ``value``, or fail it with ``error`` (not None): at
        once, or under the episode's schedule as :meth:`answer_all` does. Host thread."""
        if self.schedule is not None:
            answer_frame(
                self.server, [(req, value, error)], schedule=self.schedule, timeout=self.timeout
            )
        elif error is not None:
            req.fail(error)
        else:
            req.answer(value)

    def answer_all(self, answers: Answers) -> None:
        """Answer requests taken together (a step of several agents), as
        :func:`threaded_async.testing.answer_frame` does: in one batch, one wake-up of the
        loop; under the episode's schedule in the order it chooses, each as late as it
        says, once the loop is idle. Host thread; EventLoopTimeoutError if the loop does
        not go idle within ``timeout``."""
        answer_frame(self.server, answers, schedule=self.schedule, timeout=self.timeout)

    def frame(self) -> None:
        """Render a frame on this (the host) thread, if the host records frames."""
        if self._record_frames:
            self.frames.append(self.env.render())

    def record(
        self,
        actions: dict[str, Any],
        rewards: Mapping[str, SupportsFloat],
        terminations: Mapping[str, Any],
        truncations: Mapping[str, Any],
        missed: tuple[str, ...] = (),
    ) -> None:
        """Record one step of the environment (then render its frame)."""
        floats = {name: float(rewards[name]) for name in actions}
        totals = self.totals
        for name, reward in floats.items():
            totals[name] = totals.get(name, 0.0) + reward
        for name in missed:
            self.missed[name] += 1
        clock = self.clock
        self.records.append(
            step_record(
                clock.time() if clock is not None else time.monotonic() - self._started,
                snapshot(actions),  # the agents may reuse their action objects
                floats,
                {name: bool(terminations[name]) for name in actions},
                {name: bool(truncations[name]) for name in actions},
                missed,
            )
        )
        if self._record_frames:
            self.frame()
        if self._progress.active:
            self._progress.update()

    def record_one(
        self, name: str, action: Any, reward: SupportsFloat, terminated: Any, truncated: Any
    ) -> None:
        """Record one step of one agent's environment: :meth:`record`, for a GymHost's
        every step, without the mappings."""
        value = float(reward)
        totals = self.totals
        totals[name] = totals.get(name, 0.0) + value
        clock = self.clock
        self.records.append(
            step_record(
                clock.time() if clock is not None else time.monotonic() - self._started,
                {name: snapshot(action)},
                {name: value},
                {name: bool(terminated)},
                {name: bool(truncated)},
            )
        )
        if self._record_frames:
            self.frame()
        if self._progress.active:
            self._progress.update()

    def finish(self) -> Episode:
        """End the episode: without an error, let the agents react to their last answers
        (until the loop is idle, at most ``timeout``); then cancel the agents still
        running and wait for them to finish. Returns the episode; see :meth:`outcome`."""
        if self.error is None:
            try:
                self.server.runner.wait_until_idle(self.timeout)
            except EventLoopTimeoutError:
                pass  # an agent that never idles: cancelled below
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                task.wait(self.timeout)
            except asyncio.CancelledError:
                pass
        return Episode(
            seed=self.seed,
            records=tuple(self.records),
            total_rewards=dict(self.totals),
            missed_frames=dict(self.missed),
            results=dict(self._results),
            trace=self.server.trace,
            error=self.error,
            frames=tuple(self.frames),
            spaces=self.spaces,
            schedule=self.schedule,
        )


def outcome(episode: Episode, raise_errors: bool) -> Episode:
    """``episode``, or (``raise_errors``) the exception of its agent that raised, with the
    episode attached as ``exception.episode`` and a note saying so."""
    error = episode.error
    if error is None or not raise_errors:
        return episode
    exc = error.exception
    exc.episode = episode  # type: ignore[attr-defined]
    exc.add_note(
        f"(agent {error.agent!r} raised in the episode of seed {episode.seed}; the "
        "recorded episode is attached as .episode; pass raise_errors=False to get it "
        "returned with episode.error set instead)"
    )
    raise exc


def copied(value: Any) -> Any:
    """A copy that later changes to ``value`` do not reach (spaces keep their RNG state)."""
    try:
        return copy.deepcopy(value)
    except Exception:  # an object that cannot be copied: keep it
        return value


def agents_by_id(agents: Mapping[str, AgentFn] | AgentFn, ids: list[str]) -> dict[str, AgentFn]:
    """One agent function per agent id: the same function for all, or a complete mapping."""
    if not isinstance(agents, Mapping):
        check_agent(agents)
        return dict.fromkeys(ids, agents)
    mapping = cast("Mapping[str, AgentFn]", agents)
    missing = [name for name in ids if name not in mapping]
    unknown = [name for name in mapping if name not in ids]
    if missing or unknown:
        raise ValueError(
            f"agents must map every agent id of the env ({ids}) to a function; "
            f"missing {missing}, unknown {unknown}"
        )
    for name in ids:
        check_agent(mapping[name], name)
    return {name: mapping[name] for name in ids}
