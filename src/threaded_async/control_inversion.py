"""threaded_async 1.4 import path: ``threaded_async.control_inversion``."""

from ._control import Client, ExecutionRequest, Server, UnknownRequestError
from ._trace import TraceEntry

__all__ = ["Client", "ExecutionRequest", "Server", "TraceEntry", "UnknownRequestError"]
