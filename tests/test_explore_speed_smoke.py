"""Smoke test: tests/explore_speed.py (the seeded/unseeded A/B and the schedules-per-second
figures of SPEC §12) runs end to end, small. No timing is asserted: a shared machine's
timings are not a test's business; the figures are in the commit that measured them."""

from __future__ import annotations

import pytest

from tests import explore_speed

pytestmark = pytest.mark.stdlib_loop


def test_the_speed_script_runs_small() -> None:
    figures = explore_speed.ab(rounds=2)
    assert figures["wall_unseeded_ms"] > 0
    assert figures["wall_seeded_ms"] > 0
    assert explore_speed.scripted_rate(seeds=3) > 0
    assert explore_speed.cartpole_rate(seeds=2) > 0
