"""Smoke test: the seeded-schedule benchmark rows (SPEC §12) run with tiny N: a scripted
run unseeded and seeded (the ≤1.2x target), and the schedules per second that exploring
runs on the scripted harness and on a short CartPole episode. No timing is asserted."""

from __future__ import annotations

from pathlib import Path

from benchmarks.__main__ import main


def test_explore_scenarios_quick(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    results = main(
        [
            "--quick",
            "--rounds",
            "1",
            "--no-warmup",
            "--systems",
            "unseeded,seeded,scripted,cartpole",
            "--only",
            "seeded,explore_rate",
            "--output",
            str(out),
        ]
    )
    assert set(results) == {"seeded", "explore_rate"}
    for key, systems in (
        ("seeded", ("unseeded", "seeded")),
        ("explore_rate", ("scripted", "cartpole")),
    ):
        for system in systems:
            assert results[key][system][0] > 0, (key, system)
    text = out.read_text()
    assert "≤1.2x an unseeded run (" in text
    assert "schedules/s" in text
