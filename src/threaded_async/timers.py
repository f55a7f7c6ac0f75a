"""threaded_async 1.4 import path: ``threaded_async.timers``."""

from ._core import TimeoutTimer

__all__ = ["TimeoutTimer"]
