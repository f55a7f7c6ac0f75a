"""Smoke test: the run_episodes benchmark rows run with tiny N, without Ray or worker
processes (those engines are timed by ``python -m benchmarks --only episodes``)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.__main__ import SCENARIOS, main


def test_episodes_scenarios_quick(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    results = main(
        [
            "--quick",
            "--rounds",
            "1",
            "--no-warmup",
            "--systems",
            "gym,loop,local",
            "--only",
            "episodes",
            "--output",
            str(out),
        ]
    )
    assert set(results) == {"episodes", "episode_cost"}  # --only episodes selects both
    for system in ("gym", "loop", "local"):
        assert results["episodes"][system][0] > 0, system
    assert results["episode_cost"]["local"][0] > 0
    text = out.read_text()
    assert "an episode:" in text
    assert '"local": +' in text
    engines = {s.key: s.systems for s in SCENARIOS}
    assert {"process1", "process2", "ray1", "ray2"} <= set(engines["episodes"])
