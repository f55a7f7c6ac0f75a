"""Fetch many pages concurrently from synchronous code, without a pool of threads.

The guide starts with ``ThreadPoolExecutor`` + ``as_completed``: one thread per request.
With a runner, the synchronous program hands coroutines to one loop thread with
``submit()``; the returned ``concurrent.futures.Future`` objects work with
``concurrent.futures.as_completed`` exactly like an executor's.
"""

# Mirrors: seed 003, "Python's relationship with threading" (ThreadPoolExecutor + requests)

from __future__ import annotations

import asyncio
import concurrent.futures

import threaded_async as ta

URLS = ["https://example.com/a", "https://example.com/bb", "https://example.com/ccc"]


async def request(url: str, timeout: float) -> bytes:
    """Stand-in for an async HTTP GET (no network in a recipe)."""
    async with asyncio.timeout(timeout):
        await asyncio.sleep(0)
        return b"<html>" + url.encode() + b"</html>"


def main() -> None:
    with ta.AsyncRunner() as runner:
        future_to_url = {runner.submit(request(url, timeout=60)): url for url in URLS}
        lines: list[str] = []
        for future in concurrent.futures.as_completed(future_to_url):
            url = future_to_url[future]
            data = future.result()
            lines.append(f"{url} page returned {len(data)} bytes")
    for line in sorted(lines):  # completion order varies; print in a stable order
        print(line)


if __name__ == "__main__":
    main()

# Expected output:
# https://example.com/a page returned 34 bytes
# https://example.com/bb page returned 35 bytes
# https://example.com/ccc page returned 36 bytes
