"""One measurement in a fresh process: ``python _worker.py SYSTEM SCENARIO N``.

Prints one JSON object: ``{"value": float | null, "capped": bool}`` (``capped``: the
value is a lower bound, the run hit its time cap). Runs with the project's
python (ours, floor, stdlib) or with the peers' venv python (the peer systems), so it
imports nothing from the repository and peer libraries only by name at run time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import gc
import importlib
import itertools
import json
import os
import queue
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

PRODUCERS = 8


def _ta() -> Any:
    """Our library, or threaded_async 1.4 in the peers' venv: same import name."""
    return importlib.import_module("threaded_async")


def _ci() -> Any:
    return importlib.import_module("threaded_async.control_inversion")


class _LoopThread:
    """A plain asyncio loop in a daemon thread (for stdlib glue and loop-less peers)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


# -- queue pairs: (sync put, sync get, async get, async put, start, stop) -------------------
class _Pair:
    """A thread→loop queue and a loop→thread queue of one system."""

    def __init__(self, system: str) -> None:
        self.system = system
        self.lt: _LoopThread | None = None
        self.runner: Any = None
        if system in ("ours", "ta14"):
            self.runner = _ta().AsyncRunner()
            self.runner.__enter__()
            q_in: Any = _ta().Queue(self.runner)
            q_out: Any = _ta().Queue(self.runner)
            self.put = q_in.put_nowait if system == "ours" else q_in.put_wait
            self.get = q_out.get_wait
            self.aget = q_in.get
            self.aput = q_out.put
            return
        self.lt = _LoopThread()
        if system == "stdlib":
            loop = self.lt.loop
            aq_in: Any = self.lt.run(_make_asyncio_queue())
            tq_out: queue.Queue[Any] = queue.Queue()

            def put(item: Any) -> None:
                loop.call_soon_threadsafe(aq_in.put_nowait, item)

            async def aput(item: Any) -> None:
                tq_out.put(item)

            self.put, self.get, self.aget, self.aput = put, tq_out.get, aq_in.get, aput
        elif system == "aiologic":
            mod = importlib.import_module("aiologic")
            a: Any = mod.SimpleQueue()
            b: Any = mod.SimpleQueue()
            self.put, self.aget = a.put, a.async_get
            self.get, self.aput = b.green_get, _as_async(b.put)
        elif system in ("culsans", "janus"):
            mod = importlib.import_module(system)
            a = self.lt.run(_call_async(mod.Queue))
            b = self.lt.run(_call_async(mod.Queue))
            self.put, self.aget = a.sync_q.put, a.async_q.get
            self.get, self.aput = b.sync_q.get, b.async_q.put
        elif system == "anyio":
            raise NotImplementedError
        else:
            raise ValueError(system)

    def spawn(self, coro: Any) -> Callable[[], Any]:
        """Start ``coro`` on the loop; return a blocking ``wait``."""
        if self.runner is not None:
            task = self.runner.create_task(coro)
            return lambda: task.wait(None)
        assert self.lt is not None
        fut = asyncio.run_coroutine_threadsafe(coro, self.lt.loop)
        return fut.result

    def close(self) -> None:
        if self.runner is not None:
            self.runner.__exit__(None, None, None)
        if self.lt is not None:
            self.lt.close()


async def _make_asyncio_queue() -> asyncio.Queue[Any]:
    return asyncio.Queue()


async def _call_async(fn: Callable[[], Any]) -> Any:
    return fn()


def _as_async(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    async def wrapper(item: Any) -> None:
        fn(item)

    return wrapper


# -- scenarios ---------------------------------------------------------------------------
def rtt(system: str, n: int) -> float:
    """µs per round trip thread → coroutine → thread."""
    if system == "floor":
        a: queue.Queue[Any] = queue.Queue()
        b: queue.Queue[Any] = queue.Queue()

        def echo() -> None:
            for _ in range(n):
                b.put(a.get())

        t = threading.Thread(target=echo)
        t.start()
        t0 = time.perf_counter()
        for i in range(n):
            a.put(i)
            b.get()
        dt = time.perf_counter() - t0
        t.join()
        return dt / n * 1e6
    p = _Pair(system)
    try:

        async def echo_async() -> None:
            for _ in range(n):
                await p.aput(await p.aget())

        wait = p.spawn(echo_async())
        t0 = time.perf_counter()
        for i in range(n):
            p.put(i)
            p.get()
        dt = time.perf_counter() - t0
        wait()
        return dt / n * 1e6
    finally:
        p.close()


def _throughput(system: str, n: int, producers: int) -> float:
    """Items per second from ``producers`` threads into one coroutine (count, sum checked)."""
    per = n // producers
    total = per * producers
    expected = producers * (per * (per - 1) // 2)
    start = threading.Barrier(producers + 1)

    def produce(put: Callable[[Any], Any]) -> None:
        start.wait()
        for i in range(per):
            put(i)

    if system == "floor":
        q: queue.Queue[Any] = queue.Queue()
        got = [0, 0]

        def consume() -> None:
            s = 0
            for _ in range(total):
                s += q.get()
            got[:] = [total, s]

        threads = [threading.Thread(target=produce, args=(q.put,)) for _ in range(producers)]
        c = threading.Thread(target=consume)
        c.start()
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        c.join()
        dt = time.perf_counter() - t0
        for t in threads:
            t.join()
        if got != [total, expected]:
            raise AssertionError(f"lost items: {got} != {[total, expected]}")
        return total / dt
    p = _Pair(system)
    try:

        async def consume_async() -> tuple[int, int]:
            s = 0
            for _ in range(total):
                s += await p.aget()
            return total, s

        wait = p.spawn(consume_async())
        threads = [threading.Thread(target=produce, args=(p.put,)) for _ in range(producers)]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        result = wait()
        dt = time.perf_counter() - t0
        for t in threads:
            t.join()
        if tuple(result) != (total, expected):
            raise AssertionError(f"lost items: {result} != {(total, expected)}")
        return total / dt
    finally:
        p.close()


def oneway(system: str, n: int) -> float:
    """Items per second, one thread → one coroutine."""
    return _throughput(system, n, 1)


def producers8(system: str, n: int) -> float:
    """Items per second, 8 threads → one coroutine."""
    return _throughput(system, n, PRODUCERS)


async def _trivial() -> int:
    return 1


def run(system: str, n: int) -> float:
    """µs per ``run(trivial coroutine)`` from a thread."""
    if system == "floor":
        a: queue.Queue[Any] = queue.Queue()
        b: queue.Queue[Any] = queue.Queue()

        def serve() -> None:
            while (f := a.get()) is not None:
                b.put(f())

        t = threading.Thread(target=serve)
        t.start()
        t0 = time.perf_counter()
        for _ in range(n):
            a.put(int)
            b.get()
        dt = time.perf_counter() - t0
        a.put(None)
        t.join()
        return dt / n * 1e6
    if system in ("ours", "ta14"):
        with _ta().AsyncRunner() as runner:
            t0 = time.perf_counter()
            for _ in range(n):
                runner.run(_trivial())
            return (time.perf_counter() - t0) / n * 1e6
    if system == "stdlib":
        lt = _LoopThread()
        try:
            t0 = time.perf_counter()
            for _ in range(n):
                asyncio.run_coroutine_threadsafe(_trivial(), lt.loop).result()
            return (time.perf_counter() - t0) / n * 1e6
        finally:
            lt.close()
    if system == "anyio":
        from_thread: Any = importlib.import_module("anyio.from_thread")
        with from_thread.start_blocking_portal() as portal:
            t0 = time.perf_counter()
            for _ in range(n):
                portal.call(_trivial)
            return (time.perf_counter() - t0) / n * 1e6
    raise NotImplementedError


def _server(system: str, clients: int) -> Any:
    ci = _ci()

    class Srv(ci.Server):  # type: ignore[misc, valid-type]
        def _handle_request(self, request: Any, future: Any) -> None:
            future.set_result(request.args[0] + 1)

    return Srv(queue_size=clients + 10)


def _inc(x: int) -> int:
    return x + 1


def step(system: str, n: int) -> float:
    """µs per control-inversion step: one client, ``n`` sequential requests."""
    if system == "floor":
        return rtt("floor", n)
    if system == "stdlib":
        return _glue_clients(1, n)
    if system not in ("ours", "ta14"):
        raise NotImplementedError
    with _server(system, 1) as server:
        client = server.create_client()

        async def agent() -> None:
            for i in range(n):
                await client.execute(_inc, i)

        task = server.create_background_task(agent())
        t0 = time.perf_counter()
        answered = 0
        while answered < n:
            if server.process():
                answered += 1
        dt = time.perf_counter() - t0
        task.wait(None)
        return dt / n * 1e6


def _glue_clients(clients: int, per: int) -> float:
    """Stdlib glue: coroutines post (request, asyncio future) to a queue.Queue, host answers."""
    lt = _LoopThread()
    loop = lt.loop
    requests: queue.Queue[Any] = queue.Queue()

    async def client() -> None:
        for i in range(per):
            fut = loop.create_future()
            requests.put((i, fut))
            await fut

    async def spawn() -> list[concurrent.futures.Future[Any]]:
        return [asyncio.run_coroutine_threadsafe(client(), loop) for _ in range(clients)]

    try:
        futs: list[concurrent.futures.Future[Any]] = lt.run(spawn())
        total = clients * per
        t0 = time.perf_counter()
        for _ in range(total):
            i, fut = requests.get()
            loop.call_soon_threadsafe(fut.set_result, i + 1)
        dt = time.perf_counter() - t0
        for f in futs:
            f.result()
        return dt / total * 1e6
    finally:
        lt.close()


def clients(system: str, n: int) -> float:
    """µs per request: ``n`` clients each issue 10 requests; the host drains them."""
    per = 10
    if system == "stdlib":
        return _glue_clients(n, per)
    if system not in ("ours", "ta14"):
        raise NotImplementedError
    with _server(system, n) as server:

        async def agent(client: Any) -> None:
            for i in range(per):
                await client.execute(_inc, i)

        tasks = [server.create_background_task(agent(server.create_client())) for _ in range(n)]
        total = n * per
        t0 = time.perf_counter()
        answered = 0
        while answered < total:
            if server.process():
                answered += 1
        dt = time.perf_counter() - t0
        for t in tasks:
            t.wait(None)
        return dt / total * 1e6


def mem_item(system: str, n: int) -> float:
    """Bytes per item sitting in a queue (tracemalloc)."""
    p = _Pair(system) if system != "floor" else None
    try:
        q_put: Callable[[Any], Any]
        if p is None:
            fq: queue.Queue[Any] = queue.Queue()
            q_put = fq.put
        else:
            q_put = p.put
        items = list(range(10_000, 10_000 + n))  # preallocated: count only the queue
        if p is not None and p.runner is not None and system == "ours":
            q_put(-1)  # bind lazily before measuring
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for it in items:
            q_put(it)
        time.sleep(0.05)  # let cross-thread puts (stdlib glue) land
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        return (after - before) / n
    finally:
        if p is not None:
            p.close()


def mem_request(system: str, n: int) -> float:
    """Bytes per pending control-inversion request (client coroutine included)."""
    if system not in ("ours", "ta14"):
        raise NotImplementedError
    with _server(system, n) as server:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]

        async def agent(client: Any) -> None:
            await client.execute(_inc, 1)

        tasks = [server.create_background_task(agent(server.create_client())) for _ in range(n)]
        time.sleep(0.3)  # not a synchronisation: lets every client park on its request
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        answered = 0
        while answered < n:
            if server.process():
                answered += 1
        for t in tasks:
            t.wait(None)
        return (after - before) / n


# -- hosting agents (SPEC §5/§7) ---------------------------------------------------------
class Capped(float):
    """A lower bound: the measurement was cut short by its time cap (reported as ">= x")."""


THINK_SECONDS = 0.001  # the busy agent computes this long between sleep(0)s
REQUEST_EVERY = 0.02  # the requesting agent's pause between requests


async def _thinker() -> None:
    """An agent that thinks cooperatively: ~1 ms of computing between ``sleep(0)``s."""
    clock = time.perf_counter
    while True:
        end = clock() + THINK_SECONDS
        while clock() < end:
            pass
        await asyncio.sleep(0)


class _Frames:
    """Times ``n`` calls of a host function under a wall-clock cap for the whole run.

    A watchdog thread reports a :class:`Capped` lower bound and ends the process if the
    cap passes first: the median of the calls done so far and of the one in progress
    (counted up to now), each a lower bound of its true time.
    """

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.times: list[float] = []
        self.current: float | None = None
        self._lock = threading.Lock()
        self._done = False
        threading.Thread(target=self._watch, daemon=True).start()

    def run(self, call: Callable[[], object], n: int) -> None:
        clock = time.perf_counter
        for _ in range(n):
            t0 = clock()
            self.current = t0
            call()
            self.times.append(clock() - t0)
            self.current = None

    def finish(self) -> float:
        with self._lock:
            self._done = True
        return statistics.median(self.times) * 1e3

    def _watch(self) -> None:
        time.sleep(self.cap)
        with self._lock:
            if self._done:
                return
            times = list(self.times)
            current = self.current
            capped = current is not None or not times
            if current is not None:
                times.append(time.perf_counter() - current)
            value = statistics.median(times) * 1e3 if times else self.cap * 1e3
            _report(Capped(value) if capped else value)
            os._exit(0)


def busy(system: str, n: int) -> float:
    """Median host ms per frame beside a busy agent: ours/1.4 ``Server.process()`` (a
    second agent requests now and then), stdlib ``run_coroutine_threadsafe(...).result()``
    of a trivial coroutine. ``n`` frames (at most n // 10 for 1.4 and stdlib); the whole
    run of one system is capped at n / 10 seconds."""
    cap = n / 10
    if system == "stdlib":
        lt = _LoopThread()
        asyncio.run_coroutine_threadsafe(_thinker(), lt.loop)
        frames = _Frames(cap)

        def call() -> None:
            asyncio.run_coroutine_threadsafe(_trivial(), lt.loop).result()

        frames.run(call, max(1, n // 10))
        return frames.finish()  # the loop thread is a daemon: no teardown to wait for
    if system not in ("ours", "ta14"):
        raise NotImplementedError
    server = _server(system, 1)
    server.__enter__()
    client = server.create_client()
    runner = server.runner if system == "ours" else server._runner

    async def requester() -> None:
        i = 0
        while True:
            i = await client.execute(_inc, i)
            await asyncio.sleep(REQUEST_EVERY)

    # Not create_background_task, the same for both systems: beside a never-idle loop 1.4's
    # waits 1,000 iterations for the loop to catch up, ~1 s (ours gives up after ~10 ms).
    # The server is not stopped either (main() ends the process): 1.4's exit beside a
    # never-idle loop takes its whole exit timeout.
    runner.create_task(requester())
    runner.create_task(_thinker())
    frames = _Frames(cap)
    frames.run(server.process, n if system == "ours" else max(1, n // 10))
    return frames.finish()


def _frame_count(n: int) -> int:
    """Frames for ``n`` agents: ~50,000 agent-steps, 5 to 100 frames."""
    return max(5, min(100, 50_000 // n))


def frame(system: str, n: int) -> float:
    """µs per agent per frame: ``n`` agents each have a request queued; the host answers
    all of them in one batch and waits until every agent has issued its next one."""
    frames = _frame_count(n)
    if system == "stdlib":
        return _glue_frame(n, frames)
    if system != "ours":
        raise NotImplementedError
    ta = _ta()
    # 2.0's own API: a handler keyed by the requested function (not 1.4's _handle_request
    # override, which the step and clients rows measure against 1.4).
    with ta.Server(handlers={_inc: _inc}) as server:
        clients = [server.create_client() for _ in range(n)]

        async def agent(client: Any) -> None:
            for i in range(frames + 1):
                await client.execute(_inc, i)

        async def spawn() -> None:
            async with asyncio.TaskGroup() as tg:
                for c in clients:
                    tg.create_task(agent(c))

        # Returns once the loop is idle: every agent has its first request queued.
        task = server.create_background_task(spawn())
        short: list[int] = []
        t0 = time.perf_counter()
        for _ in range(frames):
            count = server.process_all()
            if count != n:
                short.append(count)
        dt = time.perf_counter() - t0
        while server.process_all():  # the last requests: let the agents end
            pass
        task.wait(None)
        if short:
            raise AssertionError(f"process_all() answered {short[:5]} of {n} agents")
        return dt / (frames * n) * 1e6


def _glue_frame(n: int, frames: int) -> float:
    """Stdlib glue for one frame: agents post (args, loop future) to a SimpleQueue; the
    host takes n and answers them all in one call_soon_threadsafe."""
    lt = _LoopThread()
    loop = lt.loop
    requests: queue.SimpleQueue[tuple[int, asyncio.Future[int]]] = queue.SimpleQueue()

    async def agent() -> None:
        for i in range(frames + 1):
            fut: asyncio.Future[int] = loop.create_future()
            requests.put((i, fut))
            await fut

    async def spawn() -> list[asyncio.Task[None]]:
        return [asyncio.create_task(agent()) for _ in range(n)]

    def answer(batch: list[tuple[int, asyncio.Future[int]]]) -> None:
        def answer_all() -> None:
            for i, fut in batch:
                fut.set_result(i + 1)

        loop.call_soon_threadsafe(answer_all)

    try:
        tasks: list[asyncio.Task[None]] = lt.run(spawn())
        get = requests.get
        batch = [get() for _ in range(n)]
        t0 = time.perf_counter()
        for _ in range(frames):
            answer(batch)
            batch = [get() for _ in range(n)]  # until every agent posted its next request
        dt = time.perf_counter() - t0
        answer(batch)
        lt.run(asyncio.wait(tasks))
        return dt / (frames * n) * 1e6
    finally:
        lt.close()


VTIME_SLEEPS = 100


def _delay(i: int) -> float:
    return (i % 7 + 1) * 0.01


def vtime(system: str, n: int) -> float:
    """Events (sleeps completed) per wall second: ``n`` tasks x 100 sleeps of varied
    delays, virtual time with autojump (ours) or SimPy ``env.timeout``s."""
    events = n * VTIME_SLEEPS
    end = max(_delay(i) for i in range(n)) * VTIME_SLEEPS
    if system == "simpy":
        simpy: Any = importlib.import_module("simpy")
        env = simpy.Environment()

        def proc(delay: float) -> Any:
            for _ in range(VTIME_SLEEPS):
                yield env.timeout(delay)

        t0 = time.perf_counter()
        for i in range(n):
            env.process(proc(_delay(i)))
        env.run()
        dt = time.perf_counter() - t0
        _check_end(env.now, end)
        return events / dt
    if system != "ours":
        raise NotImplementedError
    ta = _ta()
    clock = ta.VirtualClock(autojump=True)
    with ta.AsyncRunner(clock=clock) as runner:

        async def sleeper(delay: float) -> None:
            for _ in range(VTIME_SLEEPS):
                await asyncio.sleep(delay)

        async def main() -> None:
            await asyncio.gather(*(sleeper(_delay(i)) for i in range(n)))

        t0 = time.perf_counter()
        runner.run(main())
        dt = time.perf_counter() - t0
        _check_end(clock.time(), end)
    return events / dt


def hour(system: str, n: int) -> float:
    """Wall ms for one task doing ``n`` x ``sleep(1)`` (n = 3,600: a simulated hour) with
    autojump (ours) or one SimPy process yielding ``n`` ``env.timeout(1)``s."""
    if system == "simpy":
        simpy: Any = importlib.import_module("simpy")
        env = simpy.Environment()

        def proc() -> Any:
            for _ in range(n):
                yield env.timeout(1)

        t0 = time.perf_counter()
        env.process(proc())
        env.run()
        dt = time.perf_counter() - t0
        _check_end(env.now, n)
        return dt * 1e3
    if system != "ours":
        raise NotImplementedError
    ta = _ta()
    clock = ta.VirtualClock(autojump=True)
    with ta.AsyncRunner(clock=clock) as runner:

        async def main() -> None:
            for _ in range(n):
                await asyncio.sleep(1)

        t0 = time.perf_counter()
        runner.run(main())
        dt = time.perf_counter() - t0
        _check_end(clock.time(), n)
    return dt * 1e3


def _check_end(now: float, end: float) -> None:
    if abs(now - end) > 1e-6 * max(1.0, end):
        raise AssertionError(f"virtual time ended at {now!r}, expected {end!r}")


# -- run_episodes: the engines against a plain loop ------------------------------------------

#: System name -> (engine, workers) of ``run_episodes``.
ENGINES = {
    "local": ("local", 1),
    "process1": ("process", 1),
    "process2": ("process", 2),
    "ray1": ("ray", 1),
    "ray2": ("ray", 2),
}


def _push(observation: Any) -> int:
    """CartPole's policy: push the cart towards where the pole leans."""
    return int(observation[2] > 0)


async def _balance(env: Any) -> int:
    observation, _ = await env.reset()
    steps = 0
    while True:
        observation, _, terminated, truncated, _ = await env.step(_push(observation))
        steps += 1
        if terminated or truncated:
            return steps


def cartpole_episode(seed: int) -> Any:
    """One short CartPole episode (~40 steps) on its own host; it also returns, in
    ``Episode.results`` (not in the digest), when it started and ended on the
    ``perf_counter`` of the process that ran it."""
    envs = importlib.import_module("threaded_async.envs")
    t0 = time.perf_counter()
    with envs.GymHost("CartPole-v1") as host:
        episode = host.run_episode(_balance, seed=seed)
    t1 = time.perf_counter()
    return dataclasses.replace(episode, results={**episode.results, "span": (t0, t1)})


def _gym_episode(gym: Any, seed: int) -> None:
    """The same episode without our host: Gymnasium driven by a plain loop."""
    env = gym.make("CartPole-v1")
    _run_plain_episode(env, seed)
    env.close()


def _start_ray() -> Any:
    """A local Ray cluster of 2 CPUs (its start, 10-25 s, is not measured)."""
    os.environ.update(
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled"
    )
    ray: Any = importlib.import_module("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024 * 1024,
        log_to_driver=False,
    )
    return ray


def _run_engine(system: str, n: int) -> tuple[list[Any], float]:
    """``n`` CartPole episodes on the system's engine: (episodes, wall seconds)."""
    envs = importlib.import_module("threaded_async.envs")
    engine, workers = ENGINES[system]
    ray = _start_ray() if engine == "ray" else None
    try:
        # Warm the imports of this process (the engines' workers pay their own).
        cartpole_episode(0)
        t0 = time.perf_counter()
        episodes = envs.run_episodes(cartpole_episode, range(n), engine=engine, workers=workers)
        dt = time.perf_counter() - t0
    finally:
        if ray is not None:
            ray.shutdown()
    return episodes, dt


def episodes(system: str, n: int) -> float:
    """Episodes per wall second: ``n`` short CartPole episodes, each building its own host,
    run by a plain ``for`` loop, by Gymnasium without a host ("gym"), or by
    ``run_episodes`` on an engine (start-up of its workers included)."""
    if system == "gym":
        gym: Any = importlib.import_module("gymnasium")
        _gym_episode(gym, 0)
        t0 = time.perf_counter()
        for seed in range(n):
            _gym_episode(gym, seed)
        return n / (time.perf_counter() - t0)
    if system == "loop":
        cartpole_episode(0)
        t0 = time.perf_counter()
        for seed in range(n):
            cartpole_episode(seed)
        return n / (time.perf_counter() - t0)
    if system not in ENGINES:
        raise NotImplementedError
    done, dt = _run_engine(system, n)
    assert len(done) == n
    return n / dt


def episode_cost(system: str, n: int) -> float:
    """µs an engine adds per episode, with one worker, start-up excluded: the median gap
    between the end of one episode and the start of the next on that worker (handing
    back the episode, taking the next seed). The plain loop's gap is ~0."""
    if system not in ENGINES or ENGINES[system][1] != 1:
        raise NotImplementedError
    done, _ = _run_engine(system, n)
    spans = [episode.results["span"] for episode in done]
    gaps = [start - end for (_, end), (start, _) in itertools.pairwise(spans)]
    return statistics.median(gaps) * 1e6


# -- hosting environments: the host's cost per step (issue 15) -------------------------------

#: Steps of the untimed warm-up run each env-step measurement makes first (imports, the env
#: checker's first calls, the first runner).
ENV_WARMUP_STEPS = 100


async def _balance_for(env: Any, steps: int) -> int:
    """Step CartPole ``steps`` times with :func:`_push`, resetting whenever an episode
    ends (the first reset gets the run's seed); return the number of episodes begun."""
    observation, _ = await env.reset()
    episodes = 1
    for _ in range(steps):
        observation, _, terminated, truncated, _ = await env.step(_push(observation))
        if terminated or truncated:
            observation, _ = await env.reset()
            episodes += 1
    return episodes


def _plain_steps(env: Any, steps: int, seed: int) -> int:
    """The same steps as :func:`_balance_for`, ``env.step`` called in a plain loop."""
    observation, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    episodes = 1
    for _ in range(steps):
        observation, _, terminated, truncated, _ = env.step(_push(observation))
        if terminated or truncated:
            observation, _ = env.reset()
            episodes += 1
    return episodes


def _vector_steps(vec: Any, steps: int, seed: int) -> int:
    """The same steps on a one-env ``AsyncVectorEnv`` (same-step autoreset: an episode's
    last step returns the next episode's first observation)."""
    observations, _ = vec.reset(seed=seed)
    episodes = 1
    for _ in range(steps):
        observations, _, terminated, truncated, _ = vec.step([_push(observations[0])])
        if terminated[0] or truncated[0]:
            episodes += 1
    return episodes


def env_step(system: str, n: int) -> float:
    """µs per CartPole step over ``n`` steps (resetting whenever an episode ends): a plain
    loop ("gym"), one GymHost ``run_episode`` of one agent coroutine ("gymhost": its
    runner's start and stop are in the time, amortized over the ``n`` steps;
    "gymhost_inline": the same host stepping inline), or a
    one-env ``gymnasium.vector.AsyncVectorEnv`` ("vector", its subprocess started
    before the clock). Making the env is not timed; the first reset is."""
    if system == "floor":  # the reference of the GymHost row: one floor round trip
        return rtt("floor", n)
    gym: Any = importlib.import_module("gymnasium")
    seed = 0
    if system == "gym":
        env = gym.make("CartPole-v1")
        _plain_steps(env, ENV_WARMUP_STEPS, seed)
        t0 = time.perf_counter()
        episodes = _plain_steps(env, n, seed)
        dt = time.perf_counter() - t0
        env.close()
    elif system in ("gymhost", "gymhost_inline"):
        envs = importlib.import_module("threaded_async.envs")
        with envs.GymHost("CartPole-v1", inline=system == "gymhost_inline") as host:
            host.run_episode(functools.partial(_balance_for, steps=ENV_WARMUP_STEPS), seed=seed)
            agent = functools.partial(_balance_for, steps=n)
            t0 = time.perf_counter()
            episode = host.run_episode(agent, seed=seed)
            dt = time.perf_counter() - t0
        if episode.error is not None or len(episode.records) != n:
            ran = len(episode.records)
            raise AssertionError(f"GymHost ran {ran} of {n} steps: {episode.error}")
        episodes = episode.results["agent"]
    elif system == "vector":
        vector: Any = importlib.import_module("gymnasium.vector")
        vec = vector.AsyncVectorEnv(
            [functools.partial(gym.make, "CartPole-v1")],
            autoreset_mode=vector.AutoresetMode.SAME_STEP,
        )
        try:
            _vector_steps(vec, ENV_WARMUP_STEPS, seed)
            t0 = time.perf_counter()
            episodes = _vector_steps(vec, n, seed)
            dt = time.perf_counter() - t0
        finally:
            vec.close()
    else:
        raise NotImplementedError
    if episodes < 2:
        raise AssertionError(f"{system}: {n} steps ran within one episode")
    return dt / n * 1e6


async def _reset_only(env: Any) -> None:
    await env.reset()


def env_episode(system: str, n: int) -> float:
    """µs per short CartPole episode (~40 steps, seeds ``0..n-1``), as users write it: one
    ``run_episode`` per episode on one GymHost ("gymhost": each starts and stops a
    runner), an agent that only resets ("gymhost_reset": that start and stop alone), or
    a plain loop ("gym"). The env is made once, untimed."""
    if system == "gym":
        gym: Any = importlib.import_module("gymnasium")
        env = gym.make("CartPole-v1")
        _run_plain_episode(env, 0)
        t0 = time.perf_counter()
        for seed in range(n):
            _run_plain_episode(env, seed)
        dt = time.perf_counter() - t0
        env.close()
        return dt / n * 1e6
    agent = {"gymhost": _balance, "gymhost_reset": _reset_only}.get(system)
    if agent is None:
        raise NotImplementedError
    envs = importlib.import_module("threaded_async.envs")
    with envs.GymHost("CartPole-v1") as host:
        host.run_episode(agent, seed=0)
        t0 = time.perf_counter()
        for seed in range(n):
            host.run_episode(agent, seed=seed)
        dt = time.perf_counter() - t0
    return dt / n * 1e6


def _run_plain_episode(env: Any, seed: int) -> None:
    """One CartPole episode of Gymnasium alone, with the pole-balancing policy."""
    observation, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    while True:
        observation, _, terminated, truncated, _ = env.step(_push(observation))
        if terminated or truncated:
            return


# -- a 20-agent PettingZoo parallel env in lockstep ---------------------------------------

CROWD_AGENTS = 20


def _crowd_env(agents: int) -> Any:
    """A synthetic PettingZoo parallel env: ``agents`` agents with trivial dynamics (each
    observes a bit, acts 0 or 1, is rewarded its action), truncated after ``max_steps``
    steps (set before each reset), so the time measured is the host's, not the env's."""
    spaces: Any = importlib.import_module("gymnasium.spaces")
    pettingzoo: Any = importlib.import_module("pettingzoo")

    class Crowd(pettingzoo.ParallelEnv):
        metadata = {"name": "crowd_v0"}

        def __init__(self) -> None:
            self.possible_agents = [f"agent_{i}" for i in range(agents)]
            self.agents = []
            self.max_steps = 1
            self._t = 0
            self._index = {name: i for i, name in enumerate(self.possible_agents)}
            self._actions = {name: spaces.Discrete(2) for name in self.possible_agents}
            self._observations = {name: spaces.Discrete(2) for name in self.possible_agents}

        def action_space(self, agent: str) -> Any:
            return self._actions[agent]

        def observation_space(self, agent: str) -> Any:
            return self._observations[agent]

        def reset(
            self, seed: int | None = None, options: dict[str, Any] | None = None
        ) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
            self._t = 0
            self.agents = list(self.possible_agents)
            return {a: self._index[a] % 2 for a in self.agents}, {a: {} for a in self.agents}

        def step(self, actions: dict[str, int]) -> tuple[Any, ...]:
            self._t += 1
            t = self._t
            done = t >= self.max_steps
            names = self.agents
            index = self._index
            observations = {a: (t + index[a]) % 2 for a in names}
            rewards = {a: float(actions[a]) for a in names}
            terminations = dict.fromkeys(names, False)
            truncations = dict.fromkeys(names, done)
            infos: dict[str, dict[str, Any]] = {a: {} for a in names}
            if done:
                self.agents = []
            return observations, rewards, terminations, truncations, infos

    return Crowd()


async def _crowd_agent(env: Any) -> int:
    """Act on the observation (0 or 1) until truncated; return the steps taken."""
    observation, _ = await env.reset()
    steps = 0
    while True:
        observation, _, terminated, truncated, _ = await env.step(observation)
        steps += 1
        if terminated or truncated:
            return steps


def _crowd_plain(env: Any, steps: int) -> int:
    """The same episode driven by a plain loop: ``env.step(actions)`` for every agent."""
    env.max_steps = steps
    observations, _ = env.reset(seed=0)
    done = 0
    while env.agents:
        observations, _, _, _, _ = env.step({a: observations[a] for a in env.agents})
        done += 1
    return done


def parallel20(system: str, n: int) -> float:
    """µs per agent-step: ``n`` lockstep steps of a 20-agent synthetic parallel env, by a
    plain loop ("pz") or by one ``ParallelHost.run_episode`` of 20 agent coroutines
    ("parallel": its runner's start and stop are in the time, amortized over the steps;
    "parallel_inline": the same host stepping inline)."""
    env = _crowd_env(CROWD_AGENTS)
    if system == "pz":
        _crowd_plain(env, ENV_WARMUP_STEPS)
        t0 = time.perf_counter()
        done = _crowd_plain(env, n)
        dt = time.perf_counter() - t0
    elif system in ("parallel", "parallel_inline"):
        envs = importlib.import_module("threaded_async.envs")
        host = envs.ParallelHost(env, inline=system == "parallel_inline")
        env.max_steps = ENV_WARMUP_STEPS
        host.run_episode(_crowd_agent, seed=0)
        env.max_steps = n
        t0 = time.perf_counter()
        episode = host.run_episode(_crowd_agent, seed=0)
        dt = time.perf_counter() - t0
        if episode.error is not None:
            raise AssertionError(f"ParallelHost: {episode.error}")
        done = len(episode.records)
        if set(episode.results.values()) != {n}:
            raise AssertionError(f"ParallelHost: agents took {set(episode.results.values())}")
    else:
        raise NotImplementedError
    if done != n:
        raise AssertionError(f"{system}: {done} of {n} steps")
    return dt / (n * CROWD_AGENTS) * 1e6


# -- seeded schedules (SPEC §12) -----------------------------------------------------------
def _explore_env() -> tuple[Any, dict[Any, Any]]:
    """The scripted harness's client class and answers for the exploring rows."""
    ta = _ta()

    class Env(ta.Client):  # pyright: ignore[reportUntypedBaseClass]
        @ta.request
        async def look(self) -> int: ...

        @ta.request
        async def move(self, dx: int) -> int: ...

    return Env, {Env.look: lambda: 0, Env.move: _same}


def _same(dx: int) -> int:
    return dx


def _walkers(env_class: Any, agents: int, requests: int) -> Callable[[Any], Any]:
    """Client code for run_scripted: ``agents`` agents, each looks and moves ``requests``
    times, sleeping a virtual second every fifth."""

    async def code(server: Any) -> None:
        async def agent(env: Any) -> None:
            for i in range(requests):
                await env.look()
                if i % 5 == 0:
                    await asyncio.sleep(1)
                await env.move(1)

        await asyncio.gather(*(agent(env_class(server, name=f"a{k}")) for k in range(agents)))

    return code


def seeded(system: str, n: int) -> float:
    """µs per scripted run (3 agents x 25 look+move, sleeps between), ``n`` runs: unseeded
    ("unseeded") or each under its own seeded schedule ("seeded": seeds 1..n)."""
    if system not in ("unseeded", "seeded"):
        raise NotImplementedError
    ta = _ta()
    from threaded_async.testing import run_scripted

    env_class, answers = _explore_env()
    code = _walkers(env_class, 3, 25)
    for seed in range(1, 4):  # warm up both paths
        run_scripted(code, answers, schedule=ta.Schedule(seed) if system == "seeded" else None)
    started = time.perf_counter()
    for i in range(n):
        run_scripted(code, answers, schedule=ta.Schedule(i + 1) if system == "seeded" else None)
    return (time.perf_counter() - started) / n * 1e6


def explore_rate(system: str, n: int) -> float:
    """Schedules per second that ``testing.explore`` runs over ``n`` seeds of a passing
    run: "scripted" (2 agents x 5 look+move) or "cartpole" (a short CartPole episode on
    GymHost, answers up to 20 ms late)."""
    ta = _ta()
    from threaded_async.testing import explore

    if system == "scripted":
        env_class, answers = _explore_env()
        code = _walkers(env_class, 2, 5)
        started = time.perf_counter()
        report = explore(code, answers, seeds=n)
    elif system == "cartpole":
        from threaded_async.envs import GymHost

        async def push(env: Any) -> int:
            observation, _ = await env.reset()
            steps = 0
            while True:
                observation, _, terminated, truncated, _ = await env.step(_push(observation))
                steps += 1
                if terminated or truncated:
                    return steps

        def episode(schedule: Any) -> Any:
            with GymHost("CartPole-v1") as host:
                return host.run_episode(push, seed=1, schedule=schedule)

        episode(ta.Schedule(0))  # imports and makes the env once before timing
        started = time.perf_counter()
        report = explore(episode=episode, seeds=n, limits=ta.ScheduleLimits(max_delay=0.02))
    else:
        raise NotImplementedError
    elapsed = time.perf_counter() - started
    if report is not None:
        raise AssertionError(f"a passing run failed under a schedule: {report}")
    return n / elapsed


SCENARIOS: dict[str, Callable[[str, int], float]] = {
    "rtt": rtt,
    "oneway": oneway,
    "producers8": producers8,
    "run": run,
    "step": step,
    "clients": clients,
    "mem_item": mem_item,
    "mem_request": mem_request,
    "busy": busy,
    "frame": frame,
    "vtime": vtime,
    "hour": hour,
    "episodes": episodes,
    "episodes:cost": episode_cost,
    "env_step": env_step,
    "env_step:episode": env_episode,
    "parallel20": parallel20,
    "seeded": seeded,
    "explore_rate": explore_rate,
}


def _report(value: float | None) -> None:
    print(json.dumps({"value": value, "capped": isinstance(value, Capped)}), flush=True)


def main() -> None:
    """``_worker.py SYSTEM SCENARIO[@FLAGS] N``: FLAGS (``+``-separated) ``cpu0`` pins the
    process to one CPU (its threads share it: no idle-CPU wake-ups between them), ``nogc``
    turns the cyclic garbage collector off."""
    system, scenario, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    scenario, _, flag_text = scenario.partition("@")
    flags = set(flag_text.split("+")) - {""}
    if "cpu0" in flags:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if "nogc" in flags:
        gc.disable()
    try:
        value: float | None = SCENARIOS[scenario](system, n)
    except NotImplementedError:
        value = None
    _report(value)
    # Nothing left to clean up that matters; do not let a daemon thread (a busy agent's
    # loop) or an interpreter-exit hook stretch the run.
    os._exit(0)


if __name__ == "__main__":
    main()
