"""Control inversion: coroutines issue requests, the host thread answers them when it chooses.

The client side is a coroutine on the server's loop: ``await env.move(1)`` queues a
:class:`Request` and waits for its answer. The host side is any thread: it answers the
oldest request (``process``), takes requests as handles to answer now or later
(``take``, ``next_request``, ``gather`` for lockstep), and decides when virtual time moves.

The parts, lowest first (``tests/test_layers.py`` checks the order): ``_request`` (one
request and its handle), ``_handlers`` (the handler table, signature checks, the host
threads' loops for async handlers), ``_inbox`` (queued requests, parked hosts, lockstep
takes), ``_recorder`` (the trace), ``_futures`` (1.4's Futures around the one path),
``_client`` (clients and ``@request`` stubs), ``_server`` (the server: issuing, and the
one place that answers).
"""

from ._client import Client, request
from ._request import ExecutionRequest, Request, UnknownRequestError
from ._server import Server, ServerStatistics

__all__ = [
    "Client",
    "ExecutionRequest",
    "Request",
    "Server",
    "ServerStatistics",
    "UnknownRequestError",
    "request",
]
