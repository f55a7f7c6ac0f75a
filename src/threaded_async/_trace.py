"""Request traces that compare, hash and go to disk: entries, traces and the trace file.

A :class:`TraceEntry` records one answered request; a :class:`Trace` is the list of them that
``Server(record_trace=True)`` keeps. ``Trace.dump`` writes JSON lines and ``Trace.load`` reads
them back; ``Trace.digest`` hashes the trace's canonical encoding; ``Trace.diff`` finds the
first difference per client.

Values (arguments, answers) are written by the codec of ``_codec`` (its module docstring
describes the encoding, decoding and the comparison forms that equality and digests use);
its public names are re-exported here.

The file
--------
UTF-8 JSON lines, each ending in ``\n``: the header ``{"threaded_async_trace":1}``, then one
line per entry, the canonical JSON of an object with the entry's fields (``args`` a list of
encoded values, every other field encoded).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable
from typing import Any, Final, cast

from ._codec import (
    Decoder,
    Encoder,
    JSONValue,
    Repr,
    Undecoded,
    allowed_classes,
    canonical_json,
    decode,
    digest_form,
    encode,
    json_text,
    parse_line,
    short_repr,
)

__all__ = [
    "JSONValue",
    "Repr",
    "Trace",
    "TraceDifference",
    "TraceEntry",
    "Undecoded",
    "canonical_json",
    "decode",
    "encode",
]

#: The first line of a dumped trace.
HEADER: Final[dict[str, JSONValue]] = {"threaded_async_trace": 1}

#: An entry's fields, in the order of :class:`TraceEntry`.
FIELDS: Final = (
    "request",
    "args",
    "kwargs",
    "result",
    "error",
    "time",
    "client",
    "issued_at",
    "answered_at",
)


_new_entry: Any = object.__new__
_set = object.__setattr__


def recorded_entry(
    request: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    result: Any,
    error: str | None,
    issued_at: float | None,
    client: str | None,
    answered_at: float | None,
) -> TraceEntry:
    """``TraceEntry(...)`` of a recorded request (a server's, once per answer), made
    without the frozen dataclass's ``__init__`` and ``__post_init__``: its arguments are
    what those would make them (a tuple, a dict, ``time`` equal to ``issued_at``)."""
    entry: TraceEntry = _new_entry(TraceEntry)
    _set(entry, "request", request)
    _set(entry, "args", args)
    _set(entry, "kwargs", kwargs)
    _set(entry, "result", result)
    _set(entry, "error", error)
    _set(entry, "time", issued_at)
    _set(entry, "client", client)
    _set(entry, "issued_at", issued_at)
    _set(entry, "answered_at", answered_at)
    return entry


def _same_time(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)  # NaN is NaN (an int too big for a float is not)


@dataclasses.dataclass(frozen=True, eq=False)
class TraceEntry:
    """One answered request, as recorded by ``Server(record_trace=True)``.

    Two runs of the same client code with the same answers and clock steps record equal
    traces (exceptions are recorded as ``"TypeName: message"`` so they compare). Equality
    compares the entries' canonical encodings (``_codec`` describes them) and never raises:
    entries holding numpy arrays, NaN or other values whose ``==`` is not a bool compare
    fine, and hash consistently with it.

    The where-and-when fields (``client``, ``time``/``issued_at``, ``answered_at``) are
    compared only when both entries have them, so an entry written by hand without them
    (as before they existed) equals the recorded one; two recorded entries always have
    them. :meth:`Trace.digest` covers every field.

    Attributes:
        request: The requested function's qualified name (``"Stub.move"``).
        args: The request's positional arguments (a list given here is stored as a tuple).
        kwargs: The request's keyword arguments.
        result: The answer, if the request succeeded (else None).
        error: ``"TypeName: message"`` if the request failed, ``"cancelled"`` if it was
            cancelled, else None.
        time: The virtual time the request was issued at (None without a virtual clock);
            the 1.4 name of :attr:`issued_at`, always equal to it.
        client: The name of the client that issued the request (None if unnamed).
        issued_at: The virtual time the request was issued at; giving either ``time`` or
            ``issued_at`` sets both, giving both with different values is a ValueError.
        answered_at: The virtual time the answer was given (None without a virtual clock).
    """

    request: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any = None
    error: str | None = None
    time: float | None = None
    client: str | None = None
    issued_at: float | None = None
    answered_at: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.args, tuple):  # pyright: ignore[reportUnnecessaryIsInstance]
            object.__setattr__(self, "args", tuple(self.args))
        if not isinstance(self.kwargs, dict):  # pyright: ignore[reportUnnecessaryIsInstance]
            object.__setattr__(self, "kwargs", dict(self.kwargs))
        if self.issued_at is None:
            object.__setattr__(self, "issued_at", self.time)
        elif self.time is None:
            object.__setattr__(self, "time", self.issued_at)
        elif not _same_time(self.time, self.issued_at):
            raise ValueError(
                f"time and issued_at name the same moment; got time={self.time!r} and "
                f"issued_at={self.issued_at!r} (give one of them)"
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TraceEntry):
            return NotImplemented
        if _what_key(self) != _what_key(other):
            return False
        for mine, theirs in (
            (self.client, other.client),
            (self.issued_at, other.issued_at),
            (self.answered_at, other.answered_at),
        ):
            if mine is not None and theirs is not None and _key(mine) != _key(theirs):
                return False
        return True

    def __hash__(self) -> int:
        return hash(_what_key(self))


def _entry_object(entry: TraceEntry, encoder: Encoder) -> dict[str, JSONValue]:
    """An entry as the JSON object of one trace line: ``args`` is a list, the rest encoded."""
    return {
        "request": encoder.encode(entry.request),
        "args": [encoder.encode(arg) for arg in entry.args],
        "kwargs": encoder.encode(entry.kwargs),
        "result": encoder.encode(entry.result),
        "error": encoder.encode(entry.error),
        "time": encoder.encode(entry.time),
        "client": encoder.encode(entry.client),
        "issued_at": encoder.encode(entry.issued_at),
        "answered_at": encoder.encode(entry.answered_at),
    }


_WHERE_AND_WHEN = ("time", "client", "issued_at", "answered_at")


def _what_key(entry: TraceEntry) -> str:
    """The comparison form of what was asked and answered (not by whom, nor when)."""
    fields = _entry_object(entry, Encoder(compare=True))
    for name in _WHERE_AND_WHEN:
        del fields[name]
    return json_text(fields)


def _key(value: object) -> str:
    return json_text(digest_form(value))


def _optional_str(field: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{field} is a string or null, not {short_repr(value)}")
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _optional_time(field: str, value: object) -> float | None:
    if value is not None and not _is_number(value):
        raise ValueError(f"{field} is a number or null, not {short_repr(value)}")
    return cast(float | None, value)


def _entry_from_object(obj: object, decoder: Decoder) -> TraceEntry:
    if not isinstance(obj, dict):
        raise ValueError(f"an entry is a JSON object, not {short_repr(obj)}")
    fields = cast(dict[str, object], obj)
    missing = [f for f in FIELDS if f not in fields]
    if missing:
        raise ValueError(f"the entry has no {', '.join(map(repr, missing))}")
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValueError(f"the entry has unknown fields {unknown}")
    request = fields["request"]
    if not isinstance(request, str):
        raise ValueError(f"request is a string, not {short_repr(request)}")
    args = fields["args"]
    if not isinstance(args, list):
        raise ValueError(f"args is a list, not {short_repr(args)}")
    kwargs = decoder.decode(fields["kwargs"])
    if not isinstance(kwargs, dict) or isinstance(kwargs, Undecoded):
        raise ValueError(f"kwargs is an object, not {short_repr(fields['kwargs'])}")
    return TraceEntry(
        request,
        tuple(decoder.decode(arg) for arg in cast(list[object], args)),
        cast(dict[str, Any], kwargs),
        decoder.decode(fields["result"]),
        _optional_str("error", decoder.decode(fields["error"])),
        _optional_time("time", decoder.decode(fields["time"])),
        _optional_str("client", decoder.decode(fields["client"])),
        _optional_time("issued_at", decoder.decode(fields["issued_at"])),
        _optional_time("answered_at", decoder.decode(fields["answered_at"])),
    )


@dataclasses.dataclass(frozen=True)
class TraceDifference:
    """Where two traces part for one client: the first entry of its sequence that differs.

    Attributes:
        client: The client's name (None for requests of unnamed clients).
        index: The position in that client's own sequence of entries (0 is its first).
        expected: The entry of the trace ``diff`` was called on, or None if that trace has
            fewer entries for this client.
        actual: The entry of the trace given to ``diff``, or None if it has fewer.
    """

    client: str | None
    index: int
    expected: TraceEntry | None
    actual: TraceEntry | None


def _check_entries(entries: Iterable[object]) -> list[TraceEntry]:
    checked: list[TraceEntry] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, TraceEntry):
            raise TypeError(f"trace item {index} is a {type(entry).__qualname__}, not a TraceEntry")
        checked.append(entry)
    return checked


def _by_client(entries: Iterable[TraceEntry]) -> dict[str | None, list[TraceEntry]]:
    groups: dict[str | None, list[TraceEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.client, []).append(entry)
    return groups


class Trace(list[TraceEntry]):
    """The answered requests of a server, in the order answered (``server.trace``).

    A list of :class:`TraceEntry`, so ``trace == [...]`` compares entry by entry; it adds
    saving and loading (:meth:`dump`, :meth:`load`), a digest that is the same on every run,
    machine and supported Python (:meth:`digest`), and a per-client comparison (:meth:`diff`).
    Not thread-safe: the server hands out a fresh copy each time.
    """

    def dump(self, path: str | os.PathLike[str]) -> None:
        """Write the trace to ``path`` (UTF-8, ``\\n`` line ends) as JSON lines.

        The first line is the header ``{"threaded_async_trace":1}``; then one line per entry,
        the canonical JSON of an object with the entry's fields (``args`` as a list, every
        value encoded by the codec of ``_codec``). Equal traces give
        byte-identical files. Replaces an existing file. Raises TypeError if an item is not a
        TraceEntry, OSError if the file cannot be written.
        """
        encoder = Encoder(compare=False)
        lines = [json_text(HEADER)]
        lines.extend(json_text(_entry_object(entry, encoder)) for entry in _check_entries(self))
        with open(path, "w", encoding="utf-8", newline="\n") as file:
            file.write("\n".join(lines) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, classes: Iterable[type] = ()) -> Trace:
        """Read a trace written by :meth:`dump`. A trace file is data from anywhere, and
        loading treats it so: it imports no module the file names and runs no code of a class
        it names, allocates in proportion to the file, and fails only with ValueError.

        Values are decoded as :func:`decode` does: numpy arrays and scalars need numpy (the
        one module loading may import); a dataclass or enum is rebuilt only if its class is
        in ``classes``, else it comes back as an :class:`Undecoded` (the tagged object as
        read), as does what cannot be rebuilt; either way the loaded trace still compares,
        digests and dumps as recorded. The file is read a line at a time; a line may nest
        JSON arrays and objects ``MAX_DEPTH`` (100) levels deep, and the numpy values it
        decodes to may take ``ALLOCATION_FACTOR`` (8) bytes per byte of the line plus
        ``ALLOCATION_ALLOWANCE`` (64 KiB), checked before numpy allocates (``_codec``
        describes the limits). A trace whose values nest deeper dumps but does not load.

        Any thread; blocks while it reads the file. Not atomic: a file being written
        meanwhile may be read half-written (a ValueError, or a prefix of the trace).

        Args:
            path: The file to read.
            classes: The dataclasses and enums that may be rebuilt (their constructors run),
                matched to a tag by their ``"module:QualName"`` path exactly as the trace
                was written; a class named by the file and not listed here is never looked
                up. List every class to rebuild, those of nested values too.

        Raises:
            TypeError: ``classes`` is not a collection of dataclasses and enum classes
                (checked before the file is opened).
            ValueError: The file is not a trace, as ``"<path>, line <n>: <what is wrong>"``
                (no header, a line that is not UTF-8 or not JSON, nested too deep, an entry
                missing a field or holding a malformed value, a numpy value larger than its
                line allows). Nothing else a file holds makes loading raise another type.
            OSError: The file cannot be read.
        """
        allowed = allowed_classes(classes)
        name = os.fspath(path)
        trace = cls()
        number = 0
        with open(path, "rb") as file:
            for number, raw in enumerate(file, start=1):
                try:
                    obj = parse_line(raw.removesuffix(b"\n").decode("utf-8"))
                    if number == 1:
                        _check_header(obj)
                    else:
                        trace.append(_entry_from_object(obj, Decoder(allowed, len(raw))))
                except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError included
                    raise ValueError(f"{name}, line {number}: {exc}") from None
                except Exception as exc:  # a case the checks missed: still the file's fault
                    what = f"{type(exc).__name__}: {exc}"
                    raise ValueError(f"{name}, line {number}: malformed ({what})") from exc
        if number == 0:
            raise ValueError(f"{name}, line 1: empty file, not a threaded_async trace")
        return trace

    def digest(self) -> str:
        """The SHA-256 of the trace's canonical encoding, as 64 hex digits.

        Traces whose entries agree in every field have equal digests, on every run,
        machine and supported Python; a trace and its dumped-and-loaded copy too. The
        digest covers every field: where ``==`` lets a time or client that one entry lacks
        (``None``, as in an entry written by hand) match anything, the digests of the two
        traces differ. Raises TypeError if an item is not a TraceEntry.
        """
        encoder = Encoder(compare=True)
        text = json_text([_entry_object(entry, encoder) for entry in _check_entries(self)])
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def diff(self, other: Iterable[TraceEntry]) -> dict[str | None, TraceDifference]:
        """The first difference per client between this trace (expected) and ``other``.

        Each client's entries are compared in their own order, so clients interleaving
        differently is no difference. Returns ``{client: TraceDifference}`` for every client
        whose sequences differ (in order of first appearance, this trace's clients first);
        an empty dict if the traces agree for every client. Raises TypeError if an item of
        either trace is not a TraceEntry.
        """
        mine = _by_client(_check_entries(self))
        theirs = _by_client(_check_entries(other))
        clients = [*mine, *(client for client in theirs if client not in mine)]
        differences: dict[str | None, TraceDifference] = {}
        for client in clients:
            expected = mine.get(client, [])
            actual = theirs.get(client, [])
            for index in range(max(len(expected), len(actual))):
                left = expected[index] if index < len(expected) else None
                right = actual[index] if index < len(actual) else None
                if left is None or right is None or left != right:
                    differences[client] = TraceDifference(client, index, left, right)
                    break
        return differences


def _check_header(obj: object) -> None:
    if not isinstance(obj, dict) or "threaded_async_trace" not in obj:
        raise ValueError(
            f"expected the header {json_text(HEADER)}, not a trace entry or other JSON"
        )
    header = cast(dict[str, object], obj)
    version = header["threaded_async_trace"]
    if len(header) != 1 or type(version) is not int or version != 1:
        raise ValueError(
            f"unsupported trace format version {short_repr(version)} (this version reads 1)"
        )
