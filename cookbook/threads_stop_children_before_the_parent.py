"""Worker threads owned by a runner: each gets ``please_stop``; at exit they are stopped
and joined newest first, before the loop stops, and their failures reach the parent.

A writer thread depends on a reader thread, so the reader (started first) must outlive
it; starting them in dependency order gives the right shutdown order for free.
"""

# Mirrors: seed 004, "Shutdown order is deterministic and explicit"

from __future__ import annotations

import queue

import threaded_async as ta


def reader(log: list[str], lines: queue.Queue[str], *, please_stop: ta.Signal) -> int:
    ta.SupervisedThread.current().started()  # readiness handshake
    count = 0
    while True:
        line = lines.get()
        if line == "":
            log.append(f"reader: read {count} lines, exiting")
            return count
        count += 1


def writer(log: list[str], lines: queue.Queue[str], *, please_stop: ta.Signal) -> None:
    ta.SupervisedThread.current().started()
    for i in range(3):
        lines.put(f"line {i}")
    please_stop.wait()  # until the parent stops us
    lines.put("")  # tell the reader we are done
    log.append("writer: stopped")


def main() -> None:
    log: list[str] = []
    lines: queue.Queue[str] = queue.Queue()
    with ta.AsyncRunner(exit_timeout=5) as runner:
        read = runner.start_thread(reader, log, lines, name="reader", wait_started=True)
        runner.start_thread(writer, log, lines, name="writer", wait_started=True)
        print("both threads ready")
    # Leaving the block stopped the writer first, then the reader, then the loop.
    print("\n".join(log))
    print("reader returned:", read.join(0))


if __name__ == "__main__":
    main()

# Expected output:
# both threads ready
# writer: stopped
# reader: read 3 lines, exiting
# reader returned: 3
