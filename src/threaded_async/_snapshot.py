"""Snapshots of recorded values: what a trace or an episode keeps of an argument or answer.

A trace records a request's arguments and answer when it is answered; the agent or the
environment may reuse those objects afterwards (an action list mutated for the next step,
an observation buffer the env writes in place, as Gymnasium's vector envs do). A record
must not change with them, so it keeps a snapshot: the same value, with everything
mutable copied. Immutable values are kept as they are (no copy, no cost).
"""

from __future__ import annotations

import copy
import enum
from typing import Any, cast

__all__ = ["snapshot"]

#: Kinds that cannot change once made: kept as they are.
_ATOMS: frozenset[type] = frozenset(
    {type(None), bool, int, float, complex, str, bytes, range, type(Ellipsis)}
)


def snapshot(value: Any) -> Any:
    """``value`` with every mutable part copied, so later changes to the original do not
    show in the snapshot: lists, dicts, sets, bytearrays and numpy arrays are copied (their
    items snapshotted too), tuples and frozensets are rebuilt only if an item had to be
    copied, immutable values (numbers, strings, bytes, enum members, numpy scalars) are
    kept. Any other object is deep-copied (``copy.deepcopy``); one that cannot be copied
    is kept as it is. Any thread; never raises.
    """
    return _Snapshot().take(value)


class _Snapshot:
    __slots__ = ("memo",)

    def __init__(self) -> None:
        #: id -> copy, for values met twice (shared or cyclic structures).
        self.memo: dict[int, Any] = {}

    def take(self, value: Any) -> Any:
        cls = cast("type[Any]", type(value))
        if cls in _ATOMS or isinstance(value, enum.Enum):
            return value
        key = id(value)
        if key in self.memo:
            return self.memo[key]
        if cls is list:
            items: list[Any] = []
            self.memo[key] = items
            items.extend(self.take(item) for item in cast("list[Any]", value))
            return items
        if cls is dict:
            mapping: dict[Any, Any] = {}
            self.memo[key] = mapping
            for k, v in cast("dict[Any, Any]", value).items():
                mapping[self.take(k)] = self.take(v)
            return mapping
        if cls is tuple:
            old = cast("tuple[Any, ...]", value)
            new = tuple(self.take(item) for item in old)
            same = all(a is b for a, b in zip(old, new, strict=True))
            return self.memo.setdefault(key, old if same else new)
        if cls is set:
            return self.memo.setdefault(key, {self.take(i) for i in cast("set[Any]", value)})
        if cls is frozenset:
            return value  # hashable items: immutable in practice
        if cls is bytearray:
            return self.memo.setdefault(key, bytearray(value))
        kind = _numpy_kind(cls)
        if kind == "generic":
            return value  # a numpy scalar: immutable
        if kind == "ndarray":
            array: Any = value
            try:
                copied = copy.deepcopy(array) if array.dtype.kind == "O" else array.copy()
            except Exception:
                copied = array
            return self.memo.setdefault(key, copied)
        try:
            result = copy.deepcopy(value, self.memo)
        except Exception:  # a lock, a socket, a generator...: keep the object itself
            result = value
        return result


def _numpy_kind(cls: type) -> str | None:
    """``"ndarray"`` or ``"generic"`` (a numpy scalar) by the class's bases, without numpy."""
    for base in cls.__mro__:
        if base.__module__ == "numpy" and base.__name__ in ("ndarray", "generic"):
            return base.__name__
    return None
