"""Handler dispatch: answer each stub method with its own function, no if/else chain.

The 1.4 README's control-inversion example, with handlers instead of an overridden
``_handle_request`` (which still works). Handlers are keyed by the stub method, given as
a dict or with the ``@server.handler(...)`` decorator; they may be sync or async (async
handlers run on a private event loop of the host thread, inside ``process()``). A
handler's exception reaches the client as that exception; a request nobody handles fails
the client with ``UnknownRequestError`` naming the method. ``pending`` lists what waits
and ``process_all()`` answers all of it.
"""

# Mirrors: seed 001, "Control inversion"

from __future__ import annotations

import asyncio

import threaded_async as ta


class Stub(ta.Client):
    """The interface between async coroutine and main thread."""

    async def increment(self, number: int) -> int:
        return await self.execute(Stub.increment, number)

    async def lookup(self, key: str) -> str:
        return await self.execute(Stub.lookup, key)

    async def launch(self) -> None:
        await self.execute(Stub.launch)


def increment(number: int) -> int:
    return number + 1


async def client_code(client: Stub) -> None:
    for i in range(3):
        print(f"Client got: {await client.increment(i)}")
    print(f"Client got: {await client.lookup('colour')}")
    try:
        await client.lookup("size")
    except KeyError as exc:
        print(f"Client caught KeyError: {exc}")
    try:
        await client.launch()
    except ta.UnknownRequestError as exc:
        reason, registered = str(exc).split("; ")
        print(f"Client caught UnknownRequestError: {reason}")
        print(f"  ({registered})")


async def many(server: ta.Server) -> list[int]:
    return list(await asyncio.gather(*(Stub(server).increment(n) for n in (10, 20, 30))))


def main() -> None:
    server = ta.Server(handlers={Stub.increment: increment})

    @server.handler(Stub.lookup)
    async def lookup(key: str) -> str:  # an async handler, run on the host thread
        await asyncio.sleep(0)
        return {"colour": "green"}[key]

    with server:
        task = server.create_background_task(client_code(Stub(server)))
        while not task.done():
            print("Processing new client requests")
            server.process()

        batch = server.create_background_task(many(server))
        print(f"pending: {[(r.name, r.args) for r in server.pending]}")
        print(f"process_all() answered {server.process_all()}")
        print(f"batch result: {batch.wait()}")


if __name__ == "__main__":
    main()

# Expected output:
# Processing new client requests
# Client got: 1
# Processing new client requests
# Client got: 2
# Processing new client requests
# Client got: 3
# Processing new client requests
# Client got: green
# Processing new client requests
# Client caught KeyError: 'size'
# Processing new client requests
# Client caught UnknownRequestError: no handler for request Stub.launch
#   (registered handlers: Stub.increment, Stub.lookup)
# pending: [('Stub.increment', (10,)), ('Stub.increment', (20,)), ('Stub.increment', (30,))]
# process_all() answered 3
# batch result: [11, 21, 31]
