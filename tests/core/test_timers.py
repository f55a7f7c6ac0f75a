"""threaded_async.timers.TimeoutTimer (1.4)."""

from __future__ import annotations

import pytest

from threaded_async import USE_DEFAULT_TIMEOUT
from threaded_async.timers import TimeoutTimer


def test_remaining_counts_down_and_never_goes_below_zero() -> None:
    with TimeoutTimer(100.0) as timer:
        first = timer.remaining
        assert first is not None
        assert 0.0 < first <= 100.0
        second = timer.remaining
        assert second is not None
        assert second <= first
    with TimeoutTimer(0.0) as expired:
        assert expired.remaining == 0.0


@pytest.mark.parametrize("timeout", [None, USE_DEFAULT_TIMEOUT, -5.0])
def test_none_and_negative_timeouts_pass_through(timeout: float | None) -> None:
    with TimeoutTimer(timeout) as timer:
        assert timer.remaining == timeout


def test_remaining_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = TimeoutTimer(1.0).remaining


def test_cannot_reenter() -> None:
    timer = TimeoutTimer(1.0)
    with timer, pytest.raises(RuntimeError, match="already started"), timer:
        pass
