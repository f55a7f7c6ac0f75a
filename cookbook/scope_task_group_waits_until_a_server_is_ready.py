"""Start a server task and wait until it is ready; stop the whole group from another thread.

``await group.start(serve, ...)`` returns the value the server passes to
``task_status.started()`` (here: its address), so clients never race the server's setup.
``group.cancel()`` may come from any thread: the server and its handlers are cancelled and
the ``async with`` block simply ends.
"""

from __future__ import annotations

import asyncio

import threaded_async as ta


async def serve(
    name: str, *, task_status: ta.TaskStatus[tuple[str, int]] = ta.TASK_STATUS_IGNORED
) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    async with server:
        port: int = server.sockets[0].getsockname()[1]
        task_status.started((name, port))  # the start() call returns now
        await server.serve_forever()


async def main_coro(group: ta.TaskGroup, ready: ta.Event) -> str:
    async with group:
        name, port = await group.start(serve, "echo")
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()
        print(f"{name} server accepted a client")
        ready.set_nowait()
    return f"group cancelled from another thread: {group.cancelled_caught}"


def main() -> None:
    with ta.AsyncRunner() as runner:
        group = ta.TaskGroup()
        ready = ta.Event(runner)
        outcome = runner.create_task(main_coro(group, ready))
        ready.wait(5)
        group.cancel("shutting down")  # from the main thread
        print(outcome.wait(5))


if __name__ == "__main__":
    main()

# Expected output:
# echo server accepted a client
# group cancelled from another thread: True
