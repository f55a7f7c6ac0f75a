"""A Flask (sync WSGI) app whose request handlers call async code through one shared runner.

The app owns one ``AsyncRunner`` for its whole life; async state (here a counter guarded
by an ``asyncio.Lock``) lives on the runner's loop, and every request handler, whichever
WSGI worker thread runs it, calls it with ``runner.run(...)``. ``main()`` drives the app
with Flask's test client, so no port is opened; a real deployment stops the runner at
process exit (``atexit.register(runner.stop)``).
"""

from __future__ import annotations

import asyncio

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

import threaded_async as ta


class VisitCounter:
    """Async state that lives on the runner's loop."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._counts: dict[str, int] = {}

    async def visit(self, page: str) -> int:
        async with self._lock:
            await asyncio.sleep(0)  # stands in for real async I/O
            self._counts[page] = self._counts.get(page, 0) + 1
            return self._counts[page]


def create_app(runner: ta.AsyncRunner) -> Flask:
    app = Flask(__name__)
    counter = VisitCounter()

    @app.get("/visit/<page>")
    def visit(page: str) -> ResponseReturnValue:  # pyright: ignore[reportUnusedFunction]
        count = runner.run(counter.visit(page), timeout=5.0)
        return jsonify(page=page, visits=count)

    return app


def main() -> None:
    with ta.AsyncRunner(name="flask-async") as runner:
        app = create_app(runner)
        client = app.test_client()
        for page in ("home", "home", "about"):
            response = client.get(f"/visit/{page}")
            data = response.get_json()
            print(response.status_code, data["page"], data["visits"])


if __name__ == "__main__":
    main()

# Expected output:
# 200 home 1
# 200 home 2
# 200 about 1
