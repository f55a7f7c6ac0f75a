"""Smoke test: the benchmark suite runs end to end with tiny N (no peers, no timings)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.__main__ import SCENARIOS, main


def test_benchmark_quick_run_writes_table(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    results = main(
        [
            "--quick",
            "--rounds",
            "1",
            "--no-warmup",
            "--no-peers",
            "--only",
            "rtt,producers8,run,step,clients10,mem_item",
            "--output",
            str(out),
        ]
    )
    text = out.read_text()
    assert "| scenario | system |" in text
    assert "target met?" in text
    for key in ("rtt", "producers8", "run", "step", "clients10", "mem_item"):
        assert results[key]["ours"], key
        assert all(v > 0 for v in results[key]["ours"]), key
    assert results["rtt"]["floor"]
    assert results["run"]["stdlib"]
    assert {s.key for s in SCENARIOS} >= {"oneway", "clients1000", "clients10000", "mem_request"}


def test_benchmark_hosting_scenarios_quick(tmp_path: Path) -> None:
    """The SPEC §5 hosting scenarios (busy agent, frame, virtual time) run for our system."""
    out = tmp_path / "RESULTS.md"
    keys = ("busy", "frame100", "vtime", "hour")
    results = main(
        [
            "--quick",
            "--rounds",
            "1",
            "--no-warmup",
            "--systems",
            "ours",
            "--only",
            ",".join(keys),
            "--output",
            str(out),
        ]
    )
    text = out.read_text()
    for key in keys:
        assert results[key]["ours"], key
        assert all(v > 0 for v in results[key]["ours"]), key
    assert "60 fps frame" in text
    assert {s.key for s in SCENARIOS} >= {"frame1000", "frame10000"}
