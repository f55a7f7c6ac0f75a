"""The trace a server records: one row per answered request, a snapshot taken when it is
answered (the agent or the env may reuse the objects of its arguments and answer)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .._codec import snapshot
from .._core import CANCELLED, EXCEPTION, VirtualClock
from .._trace import Trace, TraceEntry

if TYPE_CHECKING:
    from ._request import Request

__all__ = ["Recorder", "Row"]

#: One answered request: (request, args, kwargs, result, error, issued_at, client,
#: answered_at), what a TraceEntry is made of.
Row = tuple[
    str,
    tuple[Any, ...],
    dict[str, Any],
    Any,
    "str | None",
    "float | None",
    "str | None",
    "float | None",
]


class Recorder:
    """Rows appended by the answering threads (any thread, cheap); made into
    :class:`TraceEntry` objects when the trace is read."""

    __slots__ = ("_clock", "_entries", "_lock", "_rows")

    def __init__(self, clock: VirtualClock | None) -> None:
        self._clock = clock
        self._rows: list[Row] = []
        self._entries: list[TraceEntry] = []
        self._lock = threading.Lock()

    def row(self, item: Request[Any], state: int, value: Any) -> Row:
        """The row of ``item`` answered with ``(state, value)``, its values snapshotted
        now (call it before the answer is given: the client may change them after)."""
        result: Any = None
        error: str | None = None
        if state == CANCELLED:
            error = "cancelled"
        elif state == EXCEPTION:
            error = f"{type(value).__name__}: {value}"
        else:
            result = snapshot(value)
        clock = self._clock
        return (
            item.name,
            snapshot(item.args),
            snapshot(item.kwargs),
            result,
            error,
            item.issued_at,
            item.client,
            clock.time() if clock is not None else None,
        )

    def append(self, row: Row) -> None:
        """Record an answered request (any thread)."""
        self._rows.append(row)

    def trace(self) -> Trace:
        """Every row so far, as a fresh :class:`Trace` (any thread)."""
        rows = self._rows
        with self._lock:
            entries = self._entries
            for row in rows[len(entries) : len(rows)]:
                request, args, kwargs, result, error, issued_at, client, answered_at = row
                entries.append(
                    TraceEntry(
                        request,
                        args,
                        kwargs,
                        result,
                        error,
                        issued_at,
                        client=client,
                        answered_at=answered_at,
                    )
                )
            return Trace(entries)
