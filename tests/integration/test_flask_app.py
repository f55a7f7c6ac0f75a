"""The Flask cookbook recipe's app, tested with Flask's test client and real threads."""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

import threaded_async as ta

_COOKBOOK = Path(__file__).resolve().parents[2] / "cookbook"
_RECIPE = _COOKBOOK / "with_flask_call_async_code_from_views.py"


def _load_recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("with_flask_call_async_code_from_views", _RECIPE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_request_handler_calls_async_code(runner: ta.AsyncRunner) -> None:
    app = _load_recipe().create_app(runner)
    client = app.test_client()
    assert client.get("/visit/a").get_json() == {"page": "a", "visits": 1}
    assert client.get("/visit/a").get_json() == {"page": "a", "visits": 2}
    assert client.get("/visit/b").get_json() == {"page": "b", "visits": 1}
    assert client.get("/nope").status_code == 404


def test_many_request_threads_share_one_runner(runner: ta.AsyncRunner) -> None:
    app = _load_recipe().create_app(runner)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        client = app.test_client()  # one client per thread, like WSGI worker threads
        for _ in range(10):
            status = client.get("/visit/shared").status_code
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30.0)
    assert statuses == [200] * 60
    # The async lock on the loop serialised every increment: none lost.
    assert app.test_client().get("/visit/shared").get_json()["visits"] == 61
