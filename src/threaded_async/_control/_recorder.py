"""The trace a server records: one entry per answered request, a snapshot taken when it
is answered (the agent or the env may reuse the objects of its arguments and answer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._codec import snapshot
from .._core import CANCELLED, EXCEPTION, VirtualClock
from .._trace import Trace, TraceEntry, recorded_entry

if TYPE_CHECKING:
    from ._request import Request

__all__ = ["Recorder", "Row"]

#: One answered request, as recorded (made by :meth:`Recorder.row`).
Row = TraceEntry


class Recorder:
    """Entries appended by the answering threads (any thread, cheap). Each is made when
    its request is answered (one object per answer, kept for the trace: not a row first
    and an entry later, which would keep twice the objects for the cyclic GC to walk)."""

    __slots__ = ("_clock", "_entries")

    def __init__(self, clock: VirtualClock | None) -> None:
        self._clock = clock
        self._entries: list[TraceEntry] = []

    def row(self, item: Request[Any], state: int, value: Any) -> Row:
        """The entry of ``item`` answered with ``(state, value)``, its values snapshotted
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
        return recorded_entry(
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
        self._entries.append(row)

    def trace(self) -> Trace:
        """Every entry so far, as a fresh :class:`Trace` (any thread)."""
        return Trace(self._entries)  # (a list copy: atomic under the GIL)
