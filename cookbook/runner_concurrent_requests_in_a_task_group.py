"""Run many async requests concurrently in a task group, on a runner's loop.

The guide's asyncio version of the page fetcher: a ``TaskGroup`` makes sure every request
finished (or all are cancelled if one fails) before the block ends. Here the group runs on
a background runner, and the synchronous caller gets the whole batch with ``run()``.
"""

# Mirrors: seed 003, "That's why we have asyncio" (httpx.AsyncClient + asyncio.TaskGroup)

from __future__ import annotations

import asyncio

import threaded_async as ta

URLS = ["https://example.com/a", "https://example.com/bb", "https://example.com/ccc"]


async def make_request(url: str, timeout: float) -> bytes:
    """Stand-in for ``client.get(url)`` (no network in a recipe)."""
    async with asyncio.timeout(timeout):
        await asyncio.sleep(0)
        return b"<html>" + url.encode() + b"</html>"


async def fetch_all() -> list[str]:
    lines: list[str] = []
    async with ta.TaskGroup() as tg:
        tasks_to_url = {tg.create_task(make_request(url, timeout=60)): url for url in URLS}
    for task, url in tasks_to_url.items():
        data = await task
        lines.append(f"{url} page returned {len(data)} bytes")
    return lines


def main() -> None:
    with ta.AsyncRunner() as runner:
        for line in runner.run(fetch_all()):
            print(line)


if __name__ == "__main__":
    main()

# Expected output:
# https://example.com/a page returned 34 bytes
# https://example.com/bb page returned 35 bytes
# https://example.com/ccc page returned 36 bytes
