"""Run every SPEC §5 scenario for every system and write ``benchmarks/RESULTS.md``.

Usage::

    uv run python -m benchmarks [--rounds 5] [--quick] [--only rtt,step,frame] [--no-peers]
                                [--systems ours,floor,stdlib] [--output PATH]

Each figure comes from a fresh subprocess (``benchmarks/_worker.py``). Our system, the
floor (two plain threads + ``queue.Queue``) and the stdlib glue run with this python; the
peers (threaded_async 1.4 from PyPI, aiologic, culsans, janus, anyio, SimPy) run with the
python of ``benchmarks/.peers``, a venv this command creates with ``uv``. One warm-up
round, then ``--rounds`` rounds; within a round every system runs each scenario in turn, so
drift hits all alike. Reported: median, min-max, and the median of per-round ratios to the
scenario's reference (the floor unless the scenario names another). ``--only`` takes
scenario keys or worker names (``frame`` selects frame100, frame1000 and frame10000;
``episodes`` selects the ``run_episodes`` rows: episodes/s and the cost per episode of each
engine, Ray's on a local 2-CPU cluster that each Ray measurement starts, 10-25 s;
``env_step`` selects the env_step and env_episode rows: µs per CartPole step under
``GymHost``, a plain loop and Gymnasium's ``AsyncVectorEnv``, and GymHost's cost per short
episode; ``parallel20``: µs per agent-step of a 20-agent PettingZoo env under
``ParallelHost`` in lockstep against a plain loop).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_worker.py"
PEERS_DIR = HERE / ".peers"
PEER_PACKAGES = ["threaded_async==1.4", "aiologic", "culsans", "janus", "anyio", "simpy>=4,<5"]
LOCAL = ("ours", "floor", "stdlib")
#: run_episodes (SPEC §10): a plain loop, Gymnasium without a host, and each engine.
ENGINES = ("gym", "loop", "local", "process1", "process2", "ray1", "ray2")
#: Hosting environments (issue 15): GymHost, ParallelHost, Gymnasium's AsyncVectorEnv and
#: a plain PettingZoo loop (the plain Gymnasium loop is "gym" above).
HOSTS = (
    "gymhost",
    "gymhost_inline",
    "gymhost_reset",
    "vector",
    "pz",
    "parallel",
    "parallel_inline",
)
#: Seeded schedules (SPEC §12): run_scripted with and without one, and explore's rate.
EXPLORE = ("unseeded", "seeded", "scripted", "cartpole")
PEERS = ("ta14", "aiologic", "culsans", "janus", "anyio", "simpy")
LABEL = {
    "ours": "threaded_async (this repo)",
    "floor": "floor: 2 threads + queue.Queue",
    "stdlib": "stdlib glue",
    "ta14": "threaded_async 1.4 (PyPI)",
    "aiologic": "aiologic",
    "culsans": "culsans",
    "janus": "janus",
    "anyio": "anyio blocking portal",
    "simpy": "SimPy 4",
    "gym": "Gymnasium alone, plain loop (no host)",
    "loop": "plain loop: for seed: episode_fn(seed)",
    "local": 'run_episodes, "local"',
    "process1": 'run_episodes, "process", 1 worker',
    "process2": 'run_episodes, "process", 2 workers',
    "ray1": 'run_episodes, "ray", 1 actor',
    "ray2": 'run_episodes, "ray", 2 actors',
    "gymhost": "GymHost, one agent coroutine",
    "gymhost_inline": "GymHost(inline=True), one agent coroutine",
    "gymhost_reset": "GymHost, an agent that only resets (runner start/stop)",
    "vector": "Gymnasium AsyncVectorEnv, 1 env (subprocess)",
    "pz": "PettingZoo env alone, plain loop (no host)",
    "parallel": "ParallelHost, lockstep, 20 agent coroutines",
    "parallel_inline": "ParallelHost(inline=True), lockstep, 20 agent coroutines",
    "unseeded": "run_scripted, no schedule",
    "seeded": "run_scripted, a seeded schedule per run",
    "scripted": "testing.explore, scripted harness (2 agents x 5 requests)",
    "cartpole": "testing.explore, a short CartPole episode on GymHost",
}
FRAME_60FPS_MS = 1000 / 60


@dataclass(frozen=True)
class Scenario:
    """One row group of the table: worker scenario name, size, unit, reference."""

    key: str
    worker: str
    n: int
    quick_n: int
    # "us", "ms" (lower is better), "items/s", "events/s", "episodes/s", "schedules/s"
    # (higher is better), "B" (bytes)
    unit: str
    title: str
    systems: tuple[str, ...]
    ref: str = "floor"  # the system the "x ref" column divides by (same round)
    ref_value: float | None = None  # or a constant reference, in the scenario's unit

    @property
    def group(self) -> str:
        """What ``--only`` also selects it by: its worker, without a ``:variant`` or
        ``@flags`` (so ``--only env_step`` selects the pinned env_step rows too)."""
        return self.worker.partition("@")[0].partition(":")[0]


SCENARIOS = [
    Scenario(
        "rtt",
        "rtt",
        3000,
        200,
        "us",
        "round trip thread → coroutine → thread (Queue)",
        ("floor", "stdlib", "ours", "ta14", "aiologic", "culsans", "janus"),
    ),
    Scenario(
        "oneway",
        "oneway",
        100_000,
        2000,
        "items/s",
        "one-way throughput thread → coroutine",
        ("floor", "stdlib", "ours", "ta14", "aiologic", "culsans", "janus"),
    ),
    Scenario(
        "producers8",
        "producers8",
        100_000,
        2000,
        "items/s",
        "8 producer threads → 1 coroutine (count+sum checked)",
        ("floor", "stdlib", "ours", "ta14", "aiologic", "culsans", "janus"),
    ),
    Scenario(
        "run",
        "run",
        3000,
        200,
        "us",
        "runner.run(trivial coroutine)",
        ("floor", "stdlib", "ours", "ta14", "anyio"),
    ),
    Scenario(
        "step",
        "step",
        3000,
        200,
        "us",
        "control-inversion step (1 client, N requests)",
        ("floor", "stdlib", "ours", "ta14"),
    ),
    Scenario(
        "clients10",
        "clients",
        10,
        10,
        "us",
        "10 clients x 10 requests (µs/request)",
        ("floor", "stdlib", "ours", "ta14"),
    ),
    Scenario(
        "clients1000",
        "clients",
        1000,
        50,
        "us",
        "1,000 clients x 10 requests (µs/request)",
        ("floor", "stdlib", "ours", "ta14"),
    ),
    Scenario(
        "clients10000",
        "clients",
        10_000,
        100,
        "us",
        "10,000 clients x 10 requests (µs/request)",
        ("floor", "stdlib", "ours"),
    ),
    Scenario(
        "mem_item",
        "mem_item",
        10_000,
        1000,
        "B",
        "memory per queued item (bytes)",
        ("floor", "stdlib", "ours", "ta14", "aiologic", "culsans", "janus"),
    ),
    Scenario(
        "mem_request",
        "mem_request",
        1000,
        50,
        "B",
        "memory per pending request (bytes, incl. client task)",
        ("ours", "ta14"),
    ),
    Scenario(
        "busy",
        "busy",
        50,
        10,
        "ms",
        "agent computing 1 ms between sleep(0)s: host time per frame "
        "(ref: one 60 fps frame, 16.7 ms)",
        ("stdlib", "ours", "ta14"),
        ref_value=FRAME_60FPS_MS,
    ),
    Scenario(
        "frame100",
        "frame",
        100,
        20,
        "us",
        "one frame for 100 agents, process_all() (µs/agent; ref: stdlib glue)",
        ("stdlib", "ours"),
        ref="stdlib",
    ),
    Scenario(
        "frame1000",
        "frame",
        1000,
        50,
        "us",
        "one frame for 1,000 agents (µs/agent; ref: stdlib glue)",
        ("stdlib", "ours"),
        ref="stdlib",
    ),
    Scenario(
        "frame10000",
        "frame",
        10_000,
        100,
        "us",
        "one frame for 10,000 agents (µs/agent; ref: stdlib glue)",
        ("stdlib", "ours"),
        ref="stdlib",
    ),
    Scenario(
        "frame10000_nogc",
        "frame@nogc",
        10_000,
        100,
        "us",
        "one frame for 10,000 agents, cyclic GC off in both (µs/agent; ref: stdlib glue)",
        ("stdlib", "ours"),
        ref="stdlib",
    ),
    Scenario(
        "vtime",
        "vtime",
        1000,
        50,
        "events/s",
        "virtual time: 1,000 tasks x 100 sleeps, autojump (sleeps/s; ref: SimPy)",
        ("simpy", "ours"),
        ref="simpy",
    ),
    Scenario(
        "hour",
        "hour",
        3600,
        3600,
        "ms",
        "one simulated hour: 3,600 x sleep(1), autojump (wall ms; ref: SimPy)",
        ("simpy", "ours"),
        ref="simpy",
    ),
    Scenario(
        "episodes",
        "episodes",
        200,
        20,
        "episodes/s",
        "run_episodes: short CartPole episodes (~40 steps, own host each), workers' "
        "start-up included (episodes/s; ref: plain loop; Ray: local 2-CPU cluster, "
        "its start not counted)",
        ("gym", "loop", "local", "process1", "process2", "ray1", "ray2"),
        ref="loop",
    ),
    Scenario(
        "episode_cost",
        "episodes:cost",
        200,
        20,
        "us",
        "run_episodes: µs an engine adds per episode, 1 worker, start-up excluded "
        "(median gap between episodes on the worker; plain loop: ~0; ref: local)",
        ("local", "process1", "ray1"),
        ref="local",
    ),
    Scenario(
        "env_step",
        "env_step",
        10_000,
        500,
        "us",
        "CartPole-v1, N steps, reset when an episode ends (µs/step; GymHost: one "
        "run_episode, its runner start/stop amortized; AsyncVectorEnv: same-step "
        "autoreset, its subprocess start not counted; floor: one round trip of two "
        "plain threads, the GymHost target's unit; ref: plain loop)",
        ("gym", "floor", "gymhost", "gymhost_inline", "vector"),
        ref="gym",
    ),
    Scenario(
        "env_step_cpu0",
        "env_step@cpu0",
        10_000,
        500,
        "us",
        "the same, every process pinned to one CPU (no idle-CPU wake-up per hand-off)",
        ("gym", "floor", "gymhost", "gymhost_inline"),
        ref="gym",
    ),
    Scenario(
        "env_episode",
        "env_step:episode",
        200,
        10,
        "us",
        "GymHost per short CartPole episode (~40 steps): one run_episode per episode, "
        "runner start/stop included (µs/episode; ref: plain loop)",
        ("gym", "gymhost", "gymhost_reset"),
        ref="gym",
    ),
    Scenario(
        "parallel20",
        "parallel20",
        2000,
        50,
        "us",
        "20-agent synthetic PettingZoo parallel env, lockstep (µs/agent-step; "
        "ParallelHost: one run_episode, its runner start/stop amortized; ref: plain loop)",
        ("pz", "parallel", "parallel_inline"),
        ref="pz",
    ),
    Scenario(
        "parallel20_cpu0",
        "parallel20@cpu0",
        2000,
        50,
        "us",
        "the same, pinned to one CPU",
        ("pz", "parallel", "parallel_inline"),
        ref="pz",
    ),
    Scenario(
        "seeded",
        "seeded",
        60,
        3,
        "us",
        "a scripted run (3 agents x 25 requests, virtual sleeps), unseeded and seeded "
        "(µs per run; ref: unseeded)",
        ("unseeded", "seeded"),
        ref="unseeded",
    ),
    Scenario(
        "explore_rate",
        "explore_rate",
        100,
        3,
        "schedules/s",
        "schedules per second that testing.explore runs (a passing run, so every seed runs)",
        ("scripted", "cartpole"),
        ref="scripted",
    ),
    Scenario(
        "rtt_cpu0",
        "rtt@cpu0",
        3000,
        200,
        "us",
        "round trip thread → coroutine → thread (Queue), pinned to one CPU",
        ("floor", "stdlib", "ours", "aiologic"),
    ),
    Scenario(
        "step_cpu0",
        "step@cpu0",
        3000,
        200,
        "us",
        "control-inversion step, pinned to one CPU",
        ("floor", "stdlib", "ours", "ta14"),
    ),
]


def peers_python() -> Path:
    """Create (once) the peers' venv and return its python."""
    py = PEERS_DIR / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    marker = PEERS_DIR / "installed.txt"
    wanted = "\n".join(PEER_PACKAGES) + "\n"
    if not marker.exists() or marker.read_text() != wanted:  # (re)install a changed list
        if not py.exists():
            subprocess.run(["uv", "venv", "-q", str(PEERS_DIR)], check=True)
        env = dict(os.environ, VIRTUAL_ENV=str(PEERS_DIR))
        subprocess.run(["uv", "pip", "install", "-q", *PEER_PACKAGES], check=True, env=env)
        marker.write_text(wanted)
    return py


def measure(python: str, system: str, worker: str, n: int) -> tuple[float | None, bool]:
    """Run one measurement in a fresh process: (value, whether it is a capped lower bound)."""
    proc = subprocess.run(
        [python, str(WORKER), system, worker, str(n)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        print(f"  ! {system}/{worker}: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None, False
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    value = out["value"]
    return (None if value is None else float(value)), bool(out.get("capped", False))


def fmt(value: float, unit: str, capped: bool = False) -> str:
    text = _fmt_value(value, unit)
    return f"≥ {text}" if capped else text


def _fmt_value(value: float, unit: str) -> str:
    if unit == "items/s":
        return f"{value / 1e6:.3f} M/s"
    if unit == "events/s":
        return f"{value / 1e3:.0f} k/s"
    if unit in ("episodes/s", "schedules/s"):
        return f"{value:.0f} /s"
    if unit == "B":
        return f"{value:.0f} B"
    if unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:.1f} µs"


#: Per scenario key and system, one flag per measured round: the value is a lower bound
#: (the run hit its time cap, see _worker.busy).
Capped = dict[str, dict[str, list[bool]]]


def main(argv: list[str] | None = None) -> dict[str, dict[str, list[float]]]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (after warm-up)")
    parser.add_argument("--quick", action="store_true", help="tiny N (smoke test)")
    parser.add_argument("--only", default="", help="comma-separated scenario keys")
    parser.add_argument("--systems", default="", help="comma-separated systems to run")
    parser.add_argument("--no-peers", action="store_true", help="skip the peers' venv")
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"), help="'-' for none")
    args = parser.parse_args(argv)

    only = {s for s in args.only.split(",") if s}
    chosen = {s for s in args.systems.split(",") if s}
    unknown = only - {s.key for s in SCENARIOS} - {s.group for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenario(s) in --only: {', '.join(sorted(unknown))}")
    scenarios = [s for s in SCENARIOS if not only or s.key in only or s.group in only]
    every = (*LOCAL, *ENGINES, *HOSTS, *EXPLORE, *PEERS)
    systems = [s for s in every if not chosen or s in chosen]
    if args.no_peers:
        systems = [s for s in systems if s not in PEERS]
    py_peers = str(peers_python()) if any(s in PEERS for s in systems) else ""

    results: dict[str, dict[str, list[float]]] = {s.key: {} for s in scenarios}
    capped: Capped = {s.key: {} for s in scenarios}
    rounds = args.rounds + (0 if args.no_warmup else 1)
    for r in range(rounds):
        warm = r == 0 and not args.no_warmup
        print(f"round {r}{' (warm-up)' if warm else ''}", file=sys.stderr)
        for sc in scenarios:
            n = sc.quick_n if args.quick else sc.n
            for system in systems:
                if system not in sc.systems:
                    continue
                python = py_peers if system in PEERS else sys.executable
                # threaded_async 1.4 moves ~10k items/s: a tenth of the items keeps the run short.
                size = n // 10 if system == "ta14" and sc.unit == "items/s" else n
                value, cut = measure(python, system, sc.worker, size)
                if value is not None and not warm:
                    results[sc.key].setdefault(system, []).append(value)
                    capped[sc.key].setdefault(system, []).append(cut)
    if args.output != "-":
        Path(args.output).write_text(render(results, scenarios, args, capped))
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(render(results, scenarios, args, capped))
    return results


def _ratio(results: dict[str, list[float]], a: str, b: str) -> float | None:
    """Median over rounds of results[a][i] / results[b][i] (same round)."""
    xs, ys = results.get(a, []), results.get(b, [])
    pairs = [x / y for x, y in zip(xs, ys, strict=False) if y]
    return statistics.median(pairs) if pairs else None


def _diff(results: dict[str, list[float]], a: str, b: str) -> float | None:
    """Median over rounds of results[a][i] - results[b][i] (same round)."""
    pairs = [x - y for x, y in zip(results.get(a, []), results.get(b, []), strict=False)]
    return statistics.median(pairs) if pairs else None


def _ref_ratio(sc: Scenario, results: dict[str, list[float]], system: str) -> float | None:
    """The "x ref" figure of one row: median per-round ratio to the scenario's reference."""
    if sc.ref_value is not None:
        xs = results.get(system, [])
        return statistics.median(x / sc.ref_value for x in xs) if xs else None
    if system == sc.ref:
        return None
    return _ratio(results, system, sc.ref)


def _fmt(ratio: float | None, digits: int) -> str:
    """A ratio for the target column, or "not measured" when a system was not run."""
    return "not measured" if ratio is None else f"{ratio:.{digits}f}x"


def targets(
    results: dict[str, dict[str, list[float]]], capped: Capped | None = None
) -> dict[str, tuple[str, bool | None]]:
    """Target text and verdict per scenario key."""
    out: dict[str, tuple[str, bool | None]] = {}
    capped = capped or {}

    def check(key: str, text: str, conds: list[float | None], ok: list[bool]) -> None:
        out[key] = (text, None if any(c is None for c in conds) else all(ok))

    for key in ("rtt", "rtt_cpu0"):
        r = results.get(key, {})
        a, b = _ratio(r, "ours", "floor"), _ratio(r, "ours", "aiologic")
        check(
            key,
            f"≤1.25x floor ({_fmt(a, 2)}), ≤ aiologic ({_fmt(b, 2)})",
            [a, b],
            [a is not None and a <= 1.25, b is not None and b <= 1.0],
        )
    for key in ("oneway", "producers8"):
        x = _ratio(results.get(key, {}), "ours", "aiologic")
        check(key, f"≥3x aiologic ({_fmt(x, 2)})", [x], [x is not None and x >= 3])
    x = _ratio(results.get("run", {}), "ours", "stdlib")
    check(
        "run",
        f"≤0.7x run_coroutine_threadsafe ({_fmt(x, 2)})",
        [x],
        [x is not None and x <= 0.7],
    )
    for key in ("step", "step_cpu0"):
        s = results.get(key, {})
        a, b = _ratio(s, "ours", "floor"), _ratio(s, "ta14", "ours")
        check(
            key,
            f"≤1.25x floor ({_fmt(a, 2)}), ≥4x faster than 1.4 ({_fmt(b, 1)})",
            [a, b],
            [a is not None and a <= 1.25, b is not None and b >= 4],
        )
    x = _ratio(results.get("clients1000", {}), "ours", "stdlib")
    check(
        "clients1000",
        f"≤0.75x stdlib glue ({_fmt(x, 2)})",
        [x],
        [x is not None and x <= 0.75],
    )
    lo = results.get("clients10", {}).get("ours")
    hi = results.get("clients10000", {}).get("ours")
    if lo and hi:
        f = statistics.median(hi) / statistics.median(lo)
        out["clients10000"] = (f"flat: 10,000 vs 10 clients ({f:.2f}x, ≤1.5x)", f <= 1.5)
    busy = results.get("busy", {}).get("ours")
    if busy:
        m = statistics.median(busy)
        cut = any(capped.get("busy", {}).get("ours", []))
        out["busy"] = (
            f"≤17 ms per call ({fmt(m, 'ms', cut)} = {m / FRAME_60FPS_MS:.2f} frames)",
            m <= 17 and not cut,
        )
    for key, most in (("frame100", 1.0), ("frame1000", 1.5), ("frame10000", 1.5)):
        x = _ratio(results.get(key, {}), "ours", "stdlib")
        check(key, f"≤{most:.1f}x stdlib glue ({_fmt(x, 2)})", [x], [x is not None and x <= most])
    per_agent = results.get("frame10000", {}).get("ours")
    if per_agent and "frame10000" in out:
        m = statistics.median(per_agent)
        text, ok = out["frame10000"]
        out["frame10000"] = (
            f"{text}, ≤10 µs/agent ({m:.1f} µs)",
            None if ok is None else ok and m <= 10,
        )
    x = _ratio(results.get("frame10000_nogc", {}), "ours", "stdlib")
    if x is not None:
        out["frame10000_nogc"] = (f"none: reported ({x:.2f}x the glue with GC off)", None)
    x = _ratio(results.get("vtime", {}), "ours", "simpy")
    check("vtime", f"≥0.5x SimPy's events/s ({_fmt(x, 2)})", [x], [x is not None and x >= 0.5])
    x = _ratio(results.get("hour", {}), "ours", "simpy")
    most = 4.0 if sys.version_info < (3, 12) else 3.0
    check(
        "hour",
        f"≤{most:.0f}x SimPy's time on Python {sys.version_info[0]}.{sys.version_info[1]} "
        f"({_fmt(x, 2)})",
        [x],
        [x is not None and x <= most],
    )
    episodes = results.get("episodes", {})
    if episodes.get("loop"):
        per = 1e3 / statistics.median(episodes["loop"])
        out["episodes"] = (f"none (an episode: {per:.1f} ms in the plain loop)", None)
    costs = {k: statistics.median(v) for k, v in results.get("episode_cost", {}).items() if v}
    if costs:
        text = ", ".join(f"{LABEL[k].split(', ')[1]}: +{v / 1e3:.2f} ms" for k, v in costs.items())
        out["episode_cost"] = (f"none (per episode: {text})", None)
    for key in ("env_step", "env_step_cpu0"):
        env = results.get(key, {})
        host = _added_per_floor(env, "gymhost", "gym")
        inline = _diff(env, "gymhost_inline", "gym")
        texts = [
            f"GymHost adds ≤1.5x a floor round trip ({_fmt(host, 2)})",
            "inline: adds ≤20 µs per step ("
            + ("not measured" if inline is None else f"+{inline:.1f} µs")
            + ")",
        ]
        vector = _diff(env, "vector", "gym")
        if vector is not None:
            texts.append(f"AsyncVectorEnv adds +{vector:.1f} µs (no target)")
        check(
            key,
            "; ".join(texts),
            [host, inline],
            [host is not None and host <= 1.5, inline is not None and inline <= 20],
        )
    ep = results.get("env_episode", {})
    host, alone = _diff(ep, "gymhost", "gym"), ep.get("gymhost_reset")
    if host is not None:
        text = f"none (GymHost adds +{host / 1e3:.2f} ms per episode"
        if alone:
            text += f"; runner start/stop alone: {statistics.median(alone) / 1e3:.2f} ms"
        out["env_episode"] = (text + ")", None)
    for key in ("parallel20", "parallel20_cpu0"):
        res = results.get(key, {})
        d, inline = _diff(res, "parallel", "pz"), _diff(res, "parallel_inline", "pz")
        check(
            key,
            "inline: adds ≤20 µs per agent-step ("
            + ("not measured" if inline is None else f"+{inline:.1f} µs")
            + ")"
            + ("" if d is None else f"; threaded adds +{d:.1f} µs (no target)"),
            [inline],
            [inline is not None and inline <= 20],
        )
    x = _ratio(results.get("seeded", {}), "seeded", "unseeded")
    check("seeded", f"≤1.2x an unseeded run ({_fmt(x, 2)})", [x], [x is not None and x <= 1.2])
    rates = {k: statistics.median(v) for k, v in results.get("explore_rate", {}).items() if v}
    if rates:
        text = ", ".join(f"{k}: {v:.0f} schedules/s" for k, v in rates.items())
        out["explore_rate"] = (f"none: reported ({text})", None)
    return out


def _added_per_floor(results: dict[str, list[float]], host: str, plain: str) -> float | None:
    """Median over rounds of (host - plain) / floor round trip, all of the same round."""
    rows = zip(
        results.get(host, []), results.get(plain, []), results.get("floor", []), strict=False
    )
    ratios = [(h - p) / f for h, p, f in rows if f]
    return statistics.median(ratios) if ratios else None


def render(
    results: dict[str, dict[str, list[float]]],
    scenarios: list[Scenario],
    args: argparse.Namespace,
    capped: Capped | None = None,
) -> str:
    capped = capped or {}
    verdicts = targets(results, capped)
    lines = [
        "# Benchmark results",
        "",
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {platform.platform()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs ({platform.processor() or 'unknown processor'})",
        f"- Python: {platform.python_implementation()} {platform.python_version()}",
        f"- Rounds: {args.rounds} measured{'' if args.no_warmup else ' after 1 warm-up'}, "
        f"systems interleaved per round{'; QUICK sizes' if args.quick else ''}",
        f"- Command: `{' '.join(['uv run python -m benchmarks', *sys.argv[1:]])}`",
        "",
        "Figures: median (min-max) over rounds; *x ref* is the median of per-round ratios "
        "to the scenario's reference: the floor unless the scenario names another (for "
        "throughput and events/s, >1 is faster than the reference). *≥ x*: a run cut short "
        "by its time cap, so a lower bound.",
        "",
        "| scenario | system | median | min-max | x ref | target | target met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for sc in scenarios:
        res = results.get(sc.key, {})
        text, ok = verdicts.get(sc.key, ("—", None))
        first = True
        for system in sc.systems:
            vals = res.get(system)
            if not vals:
                continue
            cuts = capped.get(sc.key, {}).get(system) or [False] * len(vals)
            lo, hi = min(zip(vals, cuts, strict=True)), max(zip(vals, cuts, strict=True))
            ratio = _ref_ratio(sc, res, system)
            cells = [
                sc.title if first else "",
                LABEL[system],
                fmt(statistics.median(vals), sc.unit, any(cuts)),
                f"{fmt(lo[0], sc.unit, lo[1])} - {fmt(hi[0], sc.unit, hi[1])}",
                f"{'≥ ' if any(cuts) else ''}{ratio:.2f}x" if ratio is not None else "",
                text if first else "",
                ("yes" if ok else "**no**" if ok is not None else "") if first else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
            first = False
    lines.append("")
    notes = HERE / "NOTES.md"  # hand-written analysis (profiles, unmet targets), kept across runs
    if notes.exists():
        lines.append(notes.read_text())
    return "\n".join(lines)


if __name__ == "__main__":
    main()
