"""Smoke test: the hosting-environment benchmark rows (issue 15) run with tiny N: µs per
CartPole step under GymHost, a plain loop and AsyncVectorEnv, GymHost's cost per short
episode, and a 20-agent PettingZoo env under ParallelHost in lockstep; threaded, inline
and pinned to one CPU."""

from __future__ import annotations

from pathlib import Path

from benchmarks.__main__ import SCENARIOS, main


def test_env_scenarios_quick(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    results = main(
        [
            "--quick",
            "--rounds",
            "1",
            "--no-warmup",
            "--systems",
            "gym,floor,gymhost,gymhost_inline,gymhost_reset,vector,pz,parallel,parallel_inline",
            "--only",
            "env_step,parallel20",
            "--output",
            str(out),
        ]
    )
    # --only env_step selects the per-step, the pinned and the per-episode rows
    assert set(results) == {
        "env_step",
        "env_step_cpu0",
        "env_episode",
        "parallel20",
        "parallel20_cpu0",
    }
    for key, systems in (
        ("env_step", ("gym", "floor", "gymhost", "gymhost_inline", "vector")),
        ("env_step_cpu0", ("gym", "floor", "gymhost", "gymhost_inline")),
        ("env_episode", ("gym", "gymhost", "gymhost_reset")),
        ("parallel20", ("pz", "parallel", "parallel_inline")),
        ("parallel20_cpu0", ("pz", "parallel", "parallel_inline")),
    ):
        for system in systems:
            assert results[key][system][0] > 0, (key, system)
    text = out.read_text()
    assert "GymHost adds ≤1.5x a floor round trip (" in text
    assert "inline: adds ≤20 µs per step (+" in text
    assert "inline: adds ≤20 µs per agent-step (+" in text
    assert "runner start/stop alone:" in text
    refs = {s.key: s.ref for s in SCENARIOS}
    assert (refs["env_step"], refs["env_episode"], refs["parallel20"]) == ("gym", "gym", "pz")
