"""threaded_async 1.4 import path: ``threaded_async.async_utils``."""

from ._async_utils import run_or_raise, wait_for_or_cancel

__all__ = ["run_or_raise", "wait_for_or_cancel"]
