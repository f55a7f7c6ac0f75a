"""Smoke test: the hosting-environment benchmark rows (issue 15) run with tiny N: µs per
CartPole step under GymHost, a plain loop and AsyncVectorEnv, GymHost's cost per short
episode, and a 20-agent PettingZoo env under ParallelHost in lockstep."""

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
            "gym,gymhost,gymhost_reset,vector,pz,parallel",
            "--only",
            "env_step,parallel20",
            "--output",
            str(out),
        ]
    )
    # --only env_step selects the per-step and the per-episode rows
    assert set(results) == {"env_step", "env_episode", "parallel20"}
    for key, systems in (
        ("env_step", ("gym", "gymhost", "vector")),
        ("env_episode", ("gym", "gymhost", "gymhost_reset")),
        ("parallel20", ("pz", "parallel")),
    ):
        for system in systems:
            assert results[key][system][0] > 0, (key, system)
    text = out.read_text()
    assert "per step over the plain loop: GymHost +" in text
    assert "runner start/stop alone:" in text
    assert "ParallelHost adds +" in text
    refs = {s.key: s.ref for s in SCENARIOS}
    assert (refs["env_step"], refs["env_episode"], refs["parallel20"]) == ("gym", "gym", "pz")
