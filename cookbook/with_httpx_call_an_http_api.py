"""Call an async HTTP client (httpx) from a sync app through one shared runner.

A sync program keeps one ``httpx.AsyncClient`` alive on the runner's loop, so its
connection pool is reused across calls: ``runner.run(...)`` makes one request and blocks
until the answer is there; ``runner.create_task(...)`` starts several at once and
``wait()`` collects them. The server is a plain ``http.server`` on 127.0.0.1, port 0.
"""

from __future__ import annotations

import http.server
import threading

import httpx

import threaded_async as ta


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello from {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep stdout deterministic


async def _get_text(client: httpx.AsyncClient, path: str) -> str:
    response = await client.get(path)
    response.raise_for_status()
    return response.text


def main() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    serving = threading.Thread(target=server.serve_forever, name="http-server")
    serving.start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with ta.AsyncRunner(call_in_loop_timeout=10.0) as runner:
            client = httpx.AsyncClient(base_url=base_url)
            try:
                # One request, from sync code, blocking until it is answered.
                print(runner.run(_get_text(client, "/one")))
                # Several at once: start them all, then wait for each.
                tasks = [runner.create_task(_get_text(client, f"/page/{n}")) for n in range(3)]
                for task in tasks:
                    print(task.wait())
            finally:
                runner.run(client.aclose())  # close on the loop that used it
    finally:
        server.shutdown()
        server.server_close()
        serving.join()
    print("client closed, server stopped")


if __name__ == "__main__":
    main()

# Expected output:
# hello from /one
# hello from /page/0
# hello from /page/1
# hello from /page/2
# client closed, server stopped
