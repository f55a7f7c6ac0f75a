"""Control inversion: the host thread decides when each client request is answered.

The client coroutine calls ``await client.increment(i)``; the request waits in the server
until the host calls ``server.process()``, which hands the oldest request and its ``Future``
to ``_handle_request``. Three ``process()`` calls give exactly three answers. This is
threaded_async 1.4's control inversion example, unchanged.
"""

# Mirrors: seed 001, "Control inversion"

from __future__ import annotations

import threaded_async
from threaded_async.control_inversion import ExecutionRequest
from threaded_async.threaded_async import Future


class Stub(threaded_async.Client):
    """The interface between async coroutine and main thread."""

    async def increment(self, number: int) -> int:
        return await self.execute(Stub.increment, number)


async def client_code(client: Stub) -> None:
    for i in range(10):
        print(f"Client got: {await client.increment(i)}")


class MyServer(threaded_async.Server):
    """A server that processes increment requests."""

    def _handle_request(self, request: ExecutionRequest[int], future: Future[int]) -> None:
        if request.fun == Stub.increment:
            # Handle increment request.
            (number,) = request.args
            future.set_result(number + 1)
        else:
            raise AssertionError(f"Unknown function {request.fun}")


def main() -> None:
    server = MyServer()
    with server:
        client = Stub(server)
        server.create_background_task(client_code(client))
        for _ in range(3):
            print("Processing new client requests")
            server.process()
    # Leaving the server cancels the client, still waiting for its fourth answer.


if __name__ == "__main__":
    main()

# Expected output:
# Processing new client requests
# Client got: 1
# Processing new client requests
# Client got: 2
# Processing new client requests
# Client got: 3
