"""A complete in-process counter server: a loop-owning service, a request channel, replies
through a RequestRegistry, in-flight tracking, and a close that nobody can miss.

Client threads call ``server.call("add", n)``: the request goes into a ``Queue`` that the
server coroutine reads with ``async for``; the reply comes back through the registry.
Closing the server shuts the inbox, fails every waiting client with the reason, refuses
new calls, and stops the loop thread.
"""

# Mirrors: seed 002, "Everything together" (examples/counter_server.py)

from __future__ import annotations

import itertools
import threading
from types import TracebackType

import threaded_async as ta


class CounterServer:
    def __init__(self) -> None:
        self.runner = ta.AsyncRunner(name="counter-server")
        self.inbox: ta.Queue[tuple[int, str, int]] = ta.Queue()
        self.replies: ta.RequestRegistry[int, int] = ta.RequestRegistry()
        self.in_flight = ta.WorkTracker()
        self._ids = itertools.count()
        self._ids_lock = threading.Lock()
        self._value = 0

    # -- loop side -----------------------------------------------------------------------
    async def _serve(self) -> None:
        async for msg_id, op, amount in self.inbox:  # ends when the inbox is shut down
            async with self.in_flight:
                if op == "add":
                    self._value += amount
                    self.replies.resolve(msg_id, self._value)
                elif op == "get":
                    self.replies.resolve(msg_id, self._value)
                else:
                    self.replies.reject(msg_id, ValueError(f"unknown operation {op!r}"))

    # -- any thread ----------------------------------------------------------------------
    def call(self, op: str, amount: int = 0) -> int:
        with self._ids_lock:
            msg_id = next(self._ids)
        return self.replies.request(
            msg_id, send=lambda p: self.inbox.put_nowait((p.key, op, amount)), timeout=10
        )

    def close(self, reason: str) -> None:
        self.inbox.shutdown(immediate=True)
        self.replies.fail_all(ConnectionAbortedError(reason))
        self.runner.stop()

    def __enter__(self) -> CounterServer:
        self.runner.start()
        self.runner.create_task(self._serve())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close("server stopped")


def main() -> None:
    with CounterServer() as server:

        def client() -> None:
            for _ in range(25):
                server.call("add", 1)

        clients = [threading.Thread(target=client) for _ in range(4)]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        print("counter:", server.call("get"))
        try:
            server.call("multiply", 2)
        except ValueError as exc:
            print("error reply:", exc)
        server.in_flight.wait_idle(timeout=5)
        print("requests handled:", server.in_flight.total)

    try:
        server.call("get")
    except ta.RegistryClosedError as exc:
        print("after close:", exc.__cause__)
    print("server thread:", server.runner.shutdown_type.name)


if __name__ == "__main__":
    main()

# Expected output:
# counter: 100
# error reply: unknown operation 'multiply'
# requests handled: 102
# after close: server stopped
# server thread: STOPPED
