"""Finding a bug that needs a late answer: an agent's timeout that fires one frame late.

A CartPole agent allows each step half a frame (``asyncio.wait_for``); on time, the answer
always comes at once, so the timeout never fires and its branch was never run. With
``ScheduleLimits(max_delay=FRAME, delay_step=FRAME)`` a seeded schedule may hold an answer
back by one frame of virtual time, and the branch runs: it forgot that ``terminated`` is
only set by an answer. ``explore`` finds it, shrinks it to the one late answer, and the
report names it. (When a later answer is late, the hasty agent gives up on a step the env
has taken and may step past the episode's end: Gymnasium's warning about it is the same
bug, silenced here.) The patient agent notes that the answer is late and still takes it.
"""

from __future__ import annotations

import asyncio
import warnings

import threaded_async as ta
from threaded_async.envs import EnvClient, Episode, GymHost
from threaded_async.testing import explore

FRAME = 0.02  # CartPole's own time step: 50 frames a second


def push(observation: object) -> int:
    """Push the cart towards the side the pole leans to."""
    return 1 if float(observation[2]) > 0 else 0  # type: ignore[index]  # pyright: ignore[reportIndexIssue]


async def hasty(env: EnvClient) -> int:
    observation, _ = await env.reset()
    steps = 0
    while True:
        try:
            observation, _, terminated, truncated, _ = await asyncio.wait_for(
                env.step(push(observation)), timeout=FRAME / 2
            )
        except TimeoutError:
            pass  # late: act on the observation we have (but terminated is not set yet)
        steps += 1
        # An UnboundLocalError if the first step was late (pyright sees it too; a test
        # of the default order never does).
        if terminated or truncated:  # pyright: ignore[reportPossiblyUnboundVariable]
            return steps


async def patient(env: EnvClient) -> int:
    observation, _ = await env.reset()
    steps = late = 0
    while True:
        step = asyncio.ensure_future(env.step(push(observation)))
        done, _ = await asyncio.wait([step], timeout=FRAME / 2)
        late += not done  # note the late answer, and still take it
        observation, _, terminated, truncated, _ = await step
        steps += 1
        if terminated or truncated:
            return steps


def episode(agent: object, schedule: ta.Schedule) -> Episode:
    with GymHost("CartPole-v1") as host:
        return host.run_episode(agent, seed=1, schedule=schedule, raise_errors=False)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


LIMITS = ta.ScheduleLimits(max_delay=FRAME, delay_step=FRAME)


def main() -> None:
    warnings.filterwarnings("ignore", message=".*already returned terminated")
    print("on time:", episode(hasty, ta.Schedule(0)).results)
    report = explore(episode=lambda s: episode(hasty, s), limits=LIMITS, seeds=50)
    assert report is not None
    print(f"seed {report.seed} fails: {type(report.error).__name__} in the agent")
    for line in report.describe():
        print(" ", line)
    fine = explore(episode=lambda s: episode(patient, s), limits=LIMITS, seeds=50)
    print("patient agent, 50 schedules:", fine)


if __name__ == "__main__":
    main()

# Expected output:
# on time: {'agent': 51}
# seed 1 fails: UnboundLocalError in the agent
#   at t=0: agent's EnvClient.step answered 0.02 s late
# patient agent, 50 schedules: None
