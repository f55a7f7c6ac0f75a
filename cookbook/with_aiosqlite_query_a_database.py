"""Call an async database driver (aiosqlite) from a sync app through one shared runner.

The connection is opened on the runner's loop and kept there; each sync call hands one
coroutine to ``runner.run`` and blocks until it is done. The database is a real file in a
temporary directory, reopened at the end to show the rows were committed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import aiosqlite

import threaded_async as ta


async def _create(db: aiosqlite.Connection) -> None:
    await db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    await db.commit()


async def _add(db: aiosqlite.Connection, text: str) -> int:
    cursor = await db.execute("INSERT INTO notes (text) VALUES (?)", (text,))
    await db.commit()
    row_id = cursor.lastrowid
    await cursor.close()
    assert row_id is not None
    return row_id


async def _all_notes(path: Path) -> list[tuple[int, str]]:
    async with (
        aiosqlite.connect(path) as db,
        db.execute("SELECT id, text FROM notes ORDER BY id") as cursor,
    ):
        return [(int(row[0]), str(row[1])) async for row in cursor]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, ta.AsyncRunner(call_in_loop_timeout=10.0) as runner:
        path = Path(tmp) / "notes.db"
        db = runner.run(aiosqlite.connect(path))
        try:
            runner.run(_create(db))
            for text in ("buy milk", "write tests", "ship it"):
                print(f"added note {runner.run(_add(db, text))}: {text}")
        finally:
            runner.run(db.close())
        for row_id, text in runner.run(_all_notes(path)):
            print(f"read back {row_id}: {text}")


if __name__ == "__main__":
    main()

# Expected output:
# added note 1: buy milk
# added note 2: write tests
# added note 3: ship it
# read back 1: buy milk
# read back 2: write tests
# read back 3: ship it
