"""Drive asyncio streams (a TCP echo server and client) from sync code through a runner.

The server is started on the runner's loop (127.0.0.1, port 0) and keeps serving between
sync calls; each ``runner.run(_echo(...))`` opens a connection, sends a line and returns
the echoed reply. Two clients started with ``create_task`` talk to it at the same time.
"""

from __future__ import annotations

import asyncio

import threaded_async as ta


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            writer.write(b"echo: " + line)
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


async def _echo(port: int, text: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(text.encode() + b"\n")
        await writer.drain()
        return (await reader.readline()).decode().rstrip("\n")
    finally:
        writer.close()
        await writer.wait_closed()


async def _stop(server: asyncio.Server) -> None:
    server.close()
    await server.wait_closed()


def main() -> None:
    with ta.AsyncRunner(call_in_loop_timeout=10.0) as runner:
        server = runner.run(asyncio.start_server(_handle, "127.0.0.1", 0))
        port: int = server.sockets[0].getsockname()[1]
        try:
            print(runner.run(_echo(port, "hello")))
            tasks = [runner.create_task(_echo(port, f"client {n}")) for n in (1, 2)]
            for task in tasks:
                print(task.wait())
        finally:
            runner.run(_stop(server))
    print("server closed")


if __name__ == "__main__":
    main()

# Expected output:
# echo: hello
# echo: client 1
# echo: client 2
# server closed
