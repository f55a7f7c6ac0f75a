"""Real async libraries driven from sync code through the runner (no mocks).

Each test starts its own real peer on 127.0.0.1 (port 0) or a real database file in
``tmp_path`` and calls the async library only through ``runner.run`` /
``runner.create_task(...).wait()``, the way a sync application would. They run on the
stdlib loop and, with ``pytest --loop=uvloop``, on uvloop.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import aiosqlite
import httpx
import pytest

import threaded_async as ta


class _EchoPathHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"path={self.path} thread={threading.current_thread().name}".encode()
        status = 404 if self.path.startswith("/missing") else 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)[::-1]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_base_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoPathHandler)
    thread = threading.Thread(target=server.serve_forever, name="test-http-server")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10.0)


def test_httpx_from_sync_code(runner: ta.AsyncRunner, http_base_url: str) -> None:
    client = httpx.AsyncClient(base_url=http_base_url, timeout=10.0)
    try:
        response = runner.run(client.get("/hello"))
        assert response.status_code == 200
        assert response.text.startswith("path=/hello ")

        posted = runner.run(client.post("/echo", content=b"abc"))
        assert posted.content == b"cba"

        missing = runner.run(client.get("/missing"))
        assert missing.status_code == 404
        with pytest.raises(httpx.HTTPStatusError):
            missing.raise_for_status()

        tasks = [runner.create_task(client.get(f"/n/{n}")) for n in range(8)]
        texts = [task.wait(10.0).text for task in tasks]
        assert [t.split()[0] for t in texts] == [f"path=/n/{n}" for n in range(8)]
    finally:
        runner.run(client.aclose())


def test_httpx_connection_error_reaches_the_sync_caller(runner: ta.AsyncRunner) -> None:
    # A port that was just free: bind, read the port, close, then connect to it.
    probe = http.server.HTTPServer(("127.0.0.1", 0), _EchoPathHandler)
    port = probe.server_address[1]
    probe.server_close()

    async def fetch() -> int:
        async with httpx.AsyncClient(timeout=5.0) as client:
            return (await client.get(f"http://127.0.0.1:{port}/")).status_code

    with pytest.raises(httpx.ConnectError):
        runner.run(fetch())


def test_aiosqlite_writes_and_reads_a_real_file(runner: ta.AsyncRunner, tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    db = runner.run(aiosqlite.connect(path))
    try:
        runner.run(db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)"))
        for n in range(5):
            runner.run(db.execute("INSERT INTO kv VALUES (?, ?)", (f"key{n}", n * n)))
        runner.run(db.commit())

        async def duplicate() -> None:
            await db.execute("INSERT INTO kv VALUES ('key0', 0)")

        with pytest.raises(aiosqlite.IntegrityError):
            runner.run(duplicate())
    finally:
        runner.run(db.close())
    assert path.stat().st_size > 0

    async def read_back() -> list[tuple[str, int]]:
        async with (
            aiosqlite.connect(path) as conn,
            conn.execute("SELECT k, v FROM kv ORDER BY k") as cursor,
        ):
            return [(str(row[0]), int(row[1])) for row in await cursor.fetchall()]

    # Read back on a second runner: the rows are on disk, not in the first connection.
    with ta.AsyncRunner(call_in_loop_timeout=10.0) as other:
        rows = other.create_task(read_back()).wait(10.0)
    assert rows == [(f"key{n}", n * n) for n in range(5)]


async def _echo_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


async def _roundtrip(port: int, lines: list[bytes]) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        replies: list[bytes] = []
        for line in lines:
            writer.write(line + b"\n")
            await writer.drain()
            replies.append((await reader.readline()).rstrip(b"\n"))
        return replies
    finally:
        writer.close()
        await writer.wait_closed()


async def _close_server(server: asyncio.Server) -> None:
    server.close()
    await server.wait_closed()


def test_asyncio_streams_echo_over_loopback(runner: ta.AsyncRunner) -> None:
    server = runner.run(asyncio.start_server(_echo_handler, "127.0.0.1", 0))
    try:
        port: int = server.sockets[0].getsockname()[1]
        assert runner.run(_roundtrip(port, [b"a", b"bc"])) == [b"A", b"BC"]
        tasks = [runner.create_task(_roundtrip(port, [f"c{n}".encode()] * 3)) for n in range(10)]
        for n, task in enumerate(tasks):
            assert task.wait(10.0) == [f"C{n}".encode()] * 3
    finally:
        runner.run(_close_server(server))
    assert not server.is_serving()


def test_stream_server_left_open_is_closed_by_runner_exit() -> None:
    # The runner's teardown closes the loop; a server still open must not leak a socket
    # (filterwarnings=error turns a ResourceWarning into a failure).
    with ta.AsyncRunner(call_in_loop_timeout=10.0) as runner:
        server = runner.run(asyncio.start_server(_echo_handler, "127.0.0.1", 0))
        port: int = server.sockets[0].getsockname()[1]
        assert runner.run(_roundtrip(port, [b"x"])) == [b"X"]
        runner.run(_close_server(server))
    assert not runner.is_running
