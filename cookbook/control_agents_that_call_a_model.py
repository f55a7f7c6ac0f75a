"""LLM-style agents on every host: a model called over async HTTP, a tool run in a thread,
each under the agent's own timeout.

A local "model" (an HTTP server on loopback that thinks for a real 10 ms before it
answers) picks each action; the agents call it with httpx, then run a "tool" that checks
the action in ``asyncio.to_thread``. The same agent code runs on a GymHost (CartPole), a
ParallelHost in lockstep (rock-paper-scissors) and a TurnHost (tic-tac-toe).

The one rule: **on virtual time, real work takes no virtual time.** A job in an executor
(``asyncio.to_thread``, ``run_in_executor``) holds the virtual clock by itself; other real
I/O (an HTTP call, a socket) is held by ``async with threaded_async.hold_virtual_time():``.
So the agents' own timeouts (5 s for the model, 2 s for the tool) never fire because
virtual time raced ahead, and every run repeats exactly: the same digest each time.
On the real clock (``real_time=True``) real work takes the time it takes: a real-time
host at 20 frames per second lets a slow model miss frames. Needs the extra
``pip install "threaded_async[envs]"`` and httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import threading
from collections.abc import Callable, Generator
from typing import Any

import httpx
import numpy as np

import threaded_async as ta
from threaded_async.envs import EnvClient, Episode, GymHost, ParallelHost, TurnHost

MODEL_DELAY = 0.01  # real seconds the "model" thinks per call


def choose(observation: Any) -> int:
    """The model's policy: lean into CartPole's pole, take the first free square of
    tic-tac-toe, play rock-paper-scissors by the opponent's last move."""
    if isinstance(observation, dict):  # tic-tac-toe: {"observation": ..., "action_mask": ...}
        mask: Any = observation["action_mask"]  # pyright: ignore[reportUnknownVariableType]
        return int(np.flatnonzero(np.asarray(mask, dtype=np.int8))[0])
    array = np.asarray(observation)
    if array.shape == (4,):  # CartPole: push the cart under the pole
        return int(array[2] + 0.5 * array[3] > 0)
    return (int(array) + 1) % 3  # rock-paper-scissors: beat the opponent's last move


class ModelHandler(http.server.BaseHTTPRequestHandler):
    delay = MODEL_DELAY

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        threading.Event().wait(self.delay)  # the model thinks, in real time
        reply = json.dumps({"action": choose(decoded(body["observation"]))}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        with contextlib.suppress(ConnectionError):  # the agent stopped waiting (episode over)
            self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


def encoded(observation: Any) -> Any:
    if isinstance(observation, dict):
        return {key: encoded(value) for key, value in observation.items()}  # pyright: ignore[reportUnknownVariableType]
    return np.asarray(observation).tolist()


def decoded(data: Any) -> Any:
    if isinstance(data, dict):
        fields: dict[str, Any] = data  # pyright: ignore[reportUnknownVariableType]
        return {key: np.asarray(value) for key, value in fields.items()}
    return np.asarray(data)


@contextlib.contextmanager
def model_server(delay: float = MODEL_DELAY) -> Generator[str]:
    """A local model on 127.0.0.1, served by threads; yields its URL."""
    handler = type("Handler", (ModelHandler,), {"delay": delay})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def check_action(action: int) -> int:
    """A blocking "tool" (it would call a validator, a database...): run in a thread."""
    threading.Event().wait(0.005)
    return action


def llm_agent(url: str) -> Callable[[EnvClient], Any]:
    async def agent(env: EnvClient) -> int:
        steps = 0
        async with httpx.AsyncClient(base_url=url, timeout=5.0) as model:
            observation, _ = await env.reset()
            while True:
                async with ta.hold_virtual_time():  # real I/O: no virtual time passes
                    reply = await model.post("/act", json={"observation": encoded(observation)})
                action = int(reply.json()["action"])
                action = await asyncio.wait_for(asyncio.to_thread(check_action, action), 2.0)
                observation, _, terminated, truncated, _ = await env.step(action)
                steps += 1
                if terminated or truncated:
                    return steps

    return agent


def show(title: str, run: Callable[[], Episode]) -> None:
    first, second = run(), run()
    print(f"{title}: {first.steps} steps, total rewards {first.total_rewards}")
    print(f"  same digest on a second run: {first.digest() == second.digest()}")


def main() -> None:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    with model_server() as url:
        agent = llm_agent(url)

        def cartpole() -> Episode:
            with GymHost("CartPole-v1", max_episode_steps=40) as host:
                return host.run_episode(agent, seed=1)

        def rock_paper_scissors() -> Episode:
            with ParallelHost("classic/rps-v2", max_cycles=3) as host:
                return host.run_episode(agent, seed=2)

        def tictactoe() -> Episode:
            with TurnHost("classic/tictactoe-v3") as host:
                return host.run_episode(agent, seed=3)

        show("GymHost, CartPole", cartpole)
        show("ParallelHost, lockstep", rock_paper_scissors)
        show("TurnHost, tic-tac-toe", tictactoe)

    with model_server(delay=0.2) as url:  # a slow model, on the real clock
        with ParallelHost(
            "classic/rps-v2", max_cycles=8, fps=20, default_action=0, real_time=True
        ) as host:
            episode = host.run_episode(llm_agent(url), seed=4)
        missed = sum(episode.missed_frames.values())
        print(
            f"real time at 20 fps: the agents missed frames while the model thought: {missed > 0}"
        )


if __name__ == "__main__":
    main()

# Expected output:
# GymHost, CartPole: 40 steps, total rewards {'agent': 40.0}
#   same digest on a second run: True
# ParallelHost, lockstep: 3 steps, total rewards {'player_0': 0.0, 'player_1': 0.0}
#   same digest on a second run: True
# TurnHost, tic-tac-toe: 9 steps, total rewards {'player_1': 1.0, 'player_2': -1.0}
#   same digest on a second run: True
# real time at 20 fps: the agents missed frames while the model thought: True
