"""The value codec of traces: Python values as canonical JSON data, and back.

Over 600 lines: the one place a recorded value's format is defined; the decoder of
untrusted files checks every tag the encoder writes (kept beside it so they cannot
drift), and the snapshot of a value follows the same kinds.

:func:`encode` turns a Python value into JSON data and :func:`decode` turns it back;
:func:`canonical_json` is a value's canonical JSON text; :func:`digest_form` is its
comparison form and :func:`digest_of` the SHA-256 of that form. ``_trace`` builds trace
entries, trace files and ``Trace.digest`` on them.

The encoding
------------
Values JSON holds map to themselves: ``None``, ``bool``, ``int``, ``str``, a finite ``float``,
a ``list``, and a ``dict`` whose keys are all ``str`` not starting with ``"$"``. Everything
else becomes an object tagged by a key that starts with ``"$"`` (the prefix is reserved: a
dict with such a key is itself written as ``$dict``):

==================================  =========================================================
value                               encoding
==================================  =========================================================
tuple (a namedtuple too)            ``{"$tuple": [item, ...]}``
bytes, bytearray, memoryview        ``{"$bytes": "<base64>"}`` (decodes to ``bytes``)
NaN, inf, -inf                      ``{"$float": "nan" | "inf" | "-inf"}``
int of more than 10000 bits         ``{"$int": "<hex>"}`` (JSON text of it would be too long)
complex                             ``{"$complex": [real, imag]}``
dict with a non-str or ``$`` key    ``{"$dict": [[key, value], ...]}``
set, frozenset                      ``{"$set": [item, ...]}``, ``{"$frozenset": [item, ...]}``
numpy array                         ``{"$ndarray": {"dtype": "<i8", "shape": [2, 3],``
                                    ``"data": "<base64>"}}``
numpy object array                  ``{"$ndarray": {"dtype": "|O", "shape": [...],``
                                    ``"items": [item, ...]}}``
numpy scalar                        ``{"$npscalar": {"dtype": "<f4", "value": value}}``
dataclass instance                  ``{"$dataclass": "module:QualName", "fields": {...}}``
enum member                         ``{"$enum": "module:QualName", "value": value}``
anything else                       ``{"$repr": "<its repr>"}`` (not reversible)
==================================  =========================================================

Items, keys and values inside are encoded the same way, recursively. Array data is the
little-endian, C-order bytes of the array (``dtype`` is the little-endian dtype string; a
datetime64 scalar's ``value`` is its int64 count of units). Subclasses of ``int``, ``float``,
``str``, ``list`` and ``dict`` that are neither enums nor numpy types are written as the
builtin. ``$dict`` pairs and ``$set`` items are sorted by their canonical JSON, so equal
dicts and sets encode alike. A ``$repr`` drops memory addresses (``" at 0x7f..."``), so an
object with the default repr encodes the same in every run. A container that contains itself
is written as its ``$repr`` where it recurs.

The *canonical JSON* of a value is ``json.dumps(encode(value), sort_keys=True,
separators=(",", ":"), ensure_ascii=True)``: the same value gives the same bytes on every
run, machine and supported Python (floats are written by ``repr``, which is exact).

Decoding
--------
Encoded data may come from anywhere (a trace file is data, not code), so decoding imports no
module but numpy and runs no code of a class the data names: it never looks a tag's
``module:QualName`` up. It rebuilds every tagged kind, except:

* ``$ndarray`` and ``$npscalar`` need numpy, imported (by its fixed name) when such a tag is
  met;
* ``$dataclass`` and ``$enum`` are rebuilt only through a class the caller allows
  (``decode(obj, classes=(Point, Colour))``, ``Trace.load(path, classes=...)``): the tag's
  path must be the class's ``module:QualName`` exactly, as the encoder writes it, and then
  the class runs (``cls(**fields)``, ``cls(value)``), as it would for ``yaml.safe_load``'s
  registered types;
* what is not allowed or cannot be rebuilt (numpy missing, the class changed, its constructor
  failing) decodes to an :class:`Undecoded`: the tagged dict as read, which encodes back to
  the same JSON, so a loaded trace still equals, digests and dumps as the recorded one;
* ``$repr`` decodes to a :class:`Repr`, a ``str`` that encodes back to the same ``$repr``.

A tagged object with an unknown tag or wrong keys is a ``ValueError``.

Limits
------
Decoding also bounds what data can cost, whatever it holds:

* JSON arrays and objects nest at most :data:`MAX_DEPTH` (100) levels, in a trace line
  (checked on the text before parsing) and in the data given to :func:`decode`; deeper is a
  ValueError, never a RecursionError. Each tagged value takes two levels (the tag's object
  and its list or object), so a trace's values can nest about 49 tuples deep;
* the numpy arrays and scalars of a line (or of the data given to :func:`decode`) take at
  most :data:`ALLOCATION_FACTOR` (8) bytes per byte of its JSON text plus
  :data:`ALLOCATION_ALLOWANCE` (64 KiB): element count times item size (a zero-size item
  counts one byte, an object array's item eight) is checked against what is left before
  numpy allocates, so a short line cannot ask for a wide string dtype or a huge shape with
  no data. An array's data is in the line, so real arrays always fit; a scalar of a string
  dtype may be up to 64 KiB wider than its text;
* dtypes are those the encoder writes (bool, integer, float, complex, datetime, timedelta,
  bytes and str kinds; ``|O`` with items), shapes at most 64 sizes each below 2**63;
* everything else is built from what the text spells out: the Python objects of parsed and
  decoded JSON take a few dozen bytes per byte of text at worst (a line of nested empty
  lists, about 80 while both the parsed and the decoded copy are alive);
* whatever is malformed is a ValueError saying what is wrong with which value.

Time is linear in the text's length, except that building a set or dict is quadratic for
items crafted to collide in Python's (fixed, unsalted) hash of numbers, as for any set built
from untrusted numbers.

Comparison forms and digests
----------------------------
The *comparison form* of a value (:func:`digest_form`) is its encoding, except that a finite
float with an integral value is written as an int (so ``2`` and ``2.0`` have the same form,
as they are equal in Python). Trace entries are equal when the comparison forms of their
fields are, so entries holding numpy arrays or NaN compare without raising (arrays by dtype,
shape and bytes; NaN equals NaN). Where Python's ``==`` is looser, the encodings decide:
``True`` differs from ``1``, an ``IntEnum`` member from its int, a set from a frozenset and a
numpy scalar from the Python number (a tuple differs from a list, as in Python).
``Trace.digest`` and :func:`digest_of` hash the canonical JSON of comparison forms, so equal
values have equal digests.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import enum
import hashlib
import importlib
import json
import math
import re
import reprlib
from collections.abc import Iterable
from typing import Any, Final, TypeAlias, cast

__all__ = [
    "JSONValue",
    "Repr",
    "Undecoded",
    "canonical_json",
    "decode",
    "digest_form",
    "digest_of",
    "encode",
    "snapshot",
]

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"

_BIG_INT_BITS: Final = 10_000
_ADDRESS: Final = re.compile(r" at 0x[0-9A-Fa-f]+")
_BYTES_KINDS: Final = frozenset("biufcmMSU")
_SORTED_TAGS: Final = frozenset({"$set", "$frozenset", "$dict"})
_TAG_KEYS: Final[dict[str, frozenset[str]]] = {
    "$tuple": frozenset({"$tuple"}),
    "$bytes": frozenset({"$bytes"}),
    "$float": frozenset({"$float"}),
    "$int": frozenset({"$int"}),
    "$complex": frozenset({"$complex"}),
    "$dict": frozenset({"$dict"}),
    "$set": frozenset({"$set"}),
    "$frozenset": frozenset({"$frozenset"}),
    "$ndarray": frozenset({"$ndarray"}),
    "$npscalar": frozenset({"$npscalar"}),
    "$dataclass": frozenset({"$dataclass", "fields"}),
    "$enum": frozenset({"$enum", "value"}),
    "$repr": frozenset({"$repr"}),
}


class Repr(str):
    """What a ``$repr`` decodes to: the repr text of a value the codec cannot rebuild.

    A ``str`` whose own repr is the text itself (so a formatted trace shows the original
    value's repr), and which encodes back to the same ``{"$repr": ...}``.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return str.__str__(self)


class Undecoded(dict[str, Any]):
    """A tagged object that was not rebuilt here: the JSON object exactly as read.

    Decoding gives one for a ``$dataclass`` or ``$enum`` whose class the caller did not
    allow (``classes=``) or that no longer fits the fields, for a set or dict whose items
    cannot be hashed, and for ``$ndarray`` / ``$npscalar`` when numpy is not installed. Inert
    data: nothing of the class it names runs. Encoding writes it back unchanged, so a loaded
    trace that holds one still equals, dumps and digests like the recorded trace.
    """

    __slots__ = ()


def json_text(obj: JSONValue) -> str:
    """The canonical text of JSON data: sorted keys, no spaces, ASCII only, no NaN."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _numpy_kind(cls: type) -> str | None:
    """``"ndarray"`` or ``"generic"`` (a numpy scalar) by the class's bases, without numpy
    (remembered per class: asked for every value encoded or snapshotted)."""
    try:
        return _NUMPY_KINDS[cls]
    except KeyError:
        pass
    kind = _find_numpy_kind(cls)
    if len(_NUMPY_KINDS) < 4096:  # (classes made on the fly must not grow it forever)
        _NUMPY_KINDS[cls] = kind
    return kind


_NUMPY_KINDS: dict[type, str | None] = {}


def _find_numpy_kind(cls: type) -> str | None:
    for base in cls.__mro__:
        if base.__module__ == "numpy":
            if base.__name__ == "ndarray":
                return "ndarray"
            if base.__name__ == "generic":
                return "generic"
    return None


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class _Unsupported(Exception):
    """The value has a kind the codec writes as its repr (e.g. a structured numpy array)."""


class Encoder:
    """One encoding pass; ``compare=True`` gives the comparison form (integral floats as ints).

    Not thread-safe (it tracks the containers being encoded): one per pass and thread.
    """

    __slots__ = ("active", "compare")

    def __init__(self, compare: bool) -> None:
        self.compare = compare
        self.active: set[int] = set()  # ids of the containers being encoded (cycle guard)

    def encode(self, value: object) -> JSONValue:
        if value is None:
            return None
        cls = type(value)
        if cls is str or cls is bool:
            return cast(JSONValue, value)
        if isinstance(value, int) and cls is int:
            return self.integer(value)
        if isinstance(value, float) and cls is float:
            return self.real(value)
        kind = _numpy_kind(cls)
        if kind is not None:
            return self.guarded(value, self.ndarray if kind == "ndarray" else self.npscalar)
        if isinstance(value, Repr):
            return {"$repr": str.__str__(value)}
        if isinstance(value, Undecoded):
            return self.raw(value)
        if isinstance(value, enum.Enum):
            return self.guarded(value, self.enum_member)
        if isinstance(value, list | tuple | dict | set | frozenset):
            return self.guarded(value, self.container)
        if isinstance(value, memoryview):
            return {"$bytes": base64.b64encode(value.tobytes()).decode("ascii")}
        if isinstance(value, bytes | bytearray):
            return {"$bytes": base64.b64encode(value).decode("ascii")}
        if isinstance(value, complex):
            return {"$complex": [self.real(value.real), self.real(value.imag)]}
        if isinstance(value, int):
            return self.integer(int.__index__(value))
        if isinstance(value, float):
            return self.real(float.__float__(value))
        if isinstance(value, str):
            return str.__str__(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self.guarded(value, self.dataclass)
        return self.repr(value)

    def guarded(self, value: Any, how: Any) -> JSONValue:
        """``how(value)``, or the value's ``$repr`` if it recurs or cannot be encoded."""
        key = id(value)
        if key in self.active:
            return self.repr(value)
        self.active.add(key)
        try:
            return cast(JSONValue, how(value))
        except _Unsupported:
            return self.repr(value)
        except Exception:  # a failing property, a numpy oddity: still give an encoding
            return self.repr(value)
        finally:
            self.active.discard(key)

    def repr(self, value: object) -> JSONValue:
        try:
            text = repr(value)
        except Exception as exc:
            text = f"<{type(value).__qualname__} object; repr() raised {type(exc).__name__}>"
        return {"$repr": _ADDRESS.sub("", text)}

    def integer(self, value: int) -> JSONValue:
        if value.bit_length() > _BIG_INT_BITS:
            return {"$int": format(value, "x")}
        return value

    def real(self, value: float) -> JSONValue:
        if math.isfinite(value):
            if self.compare and value.is_integer():
                return self.integer(int(value))
            return value
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}

    def sorted_items(self, values: Iterable[object]) -> list[JSONValue]:
        encoded = [self.encode(v) for v in values]
        return [item for _, item in sorted(((json_text(e), e) for e in encoded), key=_first)]

    def container(self, value: Any) -> JSONValue:
        if isinstance(value, list):
            return [self.encode(item) for item in cast(list[object], value)]
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(item) for item in cast(tuple[object, ...], value)]}
        if isinstance(value, dict):
            mapping = cast(dict[object, object], value)
            if all(type(k) is str and not k.startswith("$") for k in mapping):
                return {cast(str, k): self.encode(v) for k, v in mapping.items()}
            pairs = [[self.encode(k), self.encode(v)] for k, v in mapping.items()]
            pairs.sort(key=_text_of_pair)
            return {"$dict": cast(list[JSONValue], pairs)}
        tag = "$frozenset" if isinstance(value, frozenset) else "$set"
        return {tag: self.sorted_items(cast(Iterable[object], value))}

    def enum_member(self, value: enum.Enum) -> JSONValue:
        return {"$enum": _class_path(type(value)), "value": self.encode(value.value)}

    def dataclass(self, value: Any) -> JSONValue:
        cls = cast(type[object], type(value))
        fields = {f.name: self.encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$dataclass": _class_path(cls), "fields": cast(JSONValue, fields)}

    def ndarray(self, value: Any) -> JSONValue:
        dtype = value.dtype
        shape: list[JSONValue] = [int(n) for n in value.shape]
        if dtype.kind == "O":
            items = [self.encode(item) for item in value.reshape(-1)]
            return {"$ndarray": {"dtype": "|O", "shape": shape, "items": items}}
        if dtype.kind not in _BYTES_KINDS or dtype.fields is not None:
            raise _Unsupported
        little = dtype.newbyteorder("<")
        if little != dtype:
            value = value.astype(little)
        data = base64.b64encode(value.tobytes(order="C")).decode("ascii")
        return {"$ndarray": {"dtype": str(little.str), "shape": shape, "data": data}}

    def npscalar(self, value: Any) -> JSONValue:
        dtype = value.dtype
        kind: str = dtype.kind
        size: int = dtype.itemsize
        if kind in "mM":
            item: object = value.astype("<i8").item()
        elif kind in "biuSU" or (kind == "f" and size <= 8) or (kind == "c" and size <= 16):
            item = value.item()
        else:  # long double, void, object: no exact Python value
            raise _Unsupported
        little = str(dtype.newbyteorder("<").str)
        return {"$npscalar": {"dtype": little, "value": self.encode(item)}}

    def raw(self, value: object) -> JSONValue:
        """JSON data as read (an :class:`Undecoded`), integral floats normalised if comparing.

        When comparing, the items of a ``$set`` or ``$frozenset`` and the pairs of a ``$dict``
        are sorted again by their comparison forms, as :meth:`sorted_items` sorts a set's:
        the order in the file is by the written forms, where ``2.0`` is not ``2``.
        """
        if isinstance(value, dict):
            mapping = cast(dict[object, object], value)
            encoded = {str(k): self.raw(v) for k, v in mapping.items()}
            if self.compare and len(encoded) == 1:
                tag, body = next(iter(encoded.items()))
                if tag in _SORTED_TAGS and isinstance(body, list):
                    encoded[tag] = sorted(body, key=json_text)
            return encoded
        if isinstance(value, list):
            return [self.raw(v) for v in cast(list[object], value)]
        return self.encode(value)


def _first(pair: tuple[str, JSONValue]) -> str:
    return pair[0]


def _text_of_pair(pair: list[JSONValue]) -> str:
    return json_text(pair)


def encode(value: object) -> JSONValue:
    """``value`` as JSON data, by the codec in this module's docstring. Never raises.

    Safe to call from any thread; the result is a fresh structure of dicts, lists, strs, ints,
    finite floats, bools and None (serialize it with ``sort_keys=True`` for the canonical
    JSON).
    """
    return Encoder(compare=False).encode(value)


def canonical_json(value: object) -> str:
    """The canonical JSON text of ``value``: ``encode(value)`` with sorted keys, no spaces,
    ASCII only. Byte-identical on every run, machine and supported Python."""
    return json_text(encode(value))


def digest_form(value: object) -> JSONValue:
    """``value``'s comparison form: its encoding with integral floats written as ints.

    Values with equal forms are equal for traces (see the module docstring): ``2`` and
    ``2.0`` have one form, ``True`` and ``1`` two. Any thread; never raises; the result is a
    fresh structure of JSON data.
    """
    return Encoder(compare=True).encode(value)


def digest_of(value: object) -> str:
    """The SHA-256 of the canonical JSON of ``value``'s :func:`digest_form`, as 64 hex digits.

    The same on every run, machine and supported Python for values with the same form. Any
    thread; never raises.
    """
    return hashlib.sha256(json_text(digest_form(value)).encode("ascii")).hexdigest()


# -- decoding -------------------------------------------------------------------------------

#: How deep JSON arrays and objects may nest in a trace line, or in the data given to
#: :func:`decode`; deeper is a ValueError (not a RecursionError).
MAX_DEPTH: Final = 100

#: The numpy arrays and scalars decoded from one trace line (or from the data given to
#: :func:`decode`) take at most this many bytes per byte of the line's text, plus
#: :data:`ALLOCATION_ALLOWANCE`; more is a ValueError, raised before numpy allocates.
ALLOCATION_FACTOR: Final = 8

#: What the numpy values of a line may take beyond :data:`ALLOCATION_FACTOR` per byte.
ALLOCATION_ALLOWANCE: Final = 65_536

_MAX_DIMS: Final = 64  # numpy's limit on the number of an array's dimensions
_MAX_SIZE: Final = 2**63  # a dimension numpy can hold is below this
_JSON_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET: Final = re.compile(r"[^\[\]{}]+")
_SCALAR_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "b": (bool,),
    "i": (int,),
    "u": (int,),
    "m": (int,),
    "M": (int,),
    "f": (float, int),
    "c": (complex, float, int),
    "S": (bytes,),
    "U": (str,),
}
_SHORT: Final = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxtuple = 8
_SHORT.maxlevel = 3


def decode(obj: object, *, classes: Iterable[type] = ()) -> Any:
    """The Python value that ``obj`` (JSON data, as ``json.loads`` gives) encodes.

    Rebuilds tuples, bytes, special floats, dicts with any keys, sets, numpy arrays and
    scalars (if numpy is installed), and the dataclasses and enums of ``classes``; imports no
    module but numpy and runs no code of a class that ``obj`` names. See the module docstring
    for what comes back otherwise (an :class:`Undecoded` for a dataclass or enum not allowed).
    ``obj`` may nest :data:`MAX_DEPTH` levels of lists and dicts, and the numpy values it
    decodes to may take :data:`ALLOCATION_FACTOR` bytes per byte of its JSON text, plus
    :data:`ALLOCATION_ALLOWANCE`.

    Any thread; never blocks on anything but the work itself.

    Args:
        obj: JSON data.
        classes: The dataclasses and enums that may be rebuilt, matched to a tag by their
            ``"module:QualName"`` path exactly as :func:`encode` writes it.

    Raises:
        TypeError: ``classes`` is not a collection of dataclasses and enum classes.
        ValueError: ``obj`` is not JSON data, nests too deep (or contains itself), holds a
            malformed tagged object (an unknown ``$`` tag, wrong keys, bad base64, data that
            does not fit its shape or dtype) or a numpy value larger than its text allows.
    """
    allowed = allowed_classes(classes)
    return Decoder(allowed, json_size(obj)).decode(obj)


def allowed_classes(classes: Iterable[type]) -> dict[str, type]:
    """``classes`` by the path their tags name them with (``"module:QualName"``).

    Raises TypeError if ``classes`` is a single class (or a string) rather than a collection,
    or holds anything but dataclasses and enum classes; ValueError if two classes have the
    same path (two local classes of one name).
    """
    if isinstance(classes, type | str | bytes):
        raise TypeError(
            f"classes is a collection of classes, not {classes!r} (write classes=(C,) for one)"
        )
    allowed: dict[str, type] = {}
    for cls in classes:
        if not isinstance(cls, type) or not (  # pyright: ignore[reportUnnecessaryIsInstance]
            dataclasses.is_dataclass(cls) or issubclass(cls, enum.Enum)
        ):
            raise TypeError(
                f"classes holds the dataclasses and enums a trace may rebuild, not {cls!r}"
            )
        path = _class_path(cls)
        if allowed.setdefault(path, cls) is not cls:
            raise ValueError(
                f"two of the classes have the path {path!r}; tags cannot tell them apart"
            )
    return allowed


def parse_line(text: str) -> object:
    """The JSON data of one line of text (a trace line).

    Raises ValueError if the line nests arrays and objects deeper than :data:`MAX_DEPTH`
    (checked before parsing, so a deep line cannot exhaust the stack), is not JSON, or holds
    ``NaN`` or ``Infinity`` (the codec writes ``{"$float": ...}``).
    """
    if text.count("[") + text.count("{") > MAX_DEPTH:  # else it cannot nest that deep
        depth = 0
        for char in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
            if char in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    raise ValueError(_too_deep())
            else:
                depth -= 1
    return json.loads(text, parse_constant=_reject_constant)


def json_size(obj: object) -> int:
    """About how many characters the JSON text of ``obj`` has (what its decoding may cost).

    Raises ValueError if ``obj`` nests lists and dicts deeper than :data:`MAX_DEPTH` (or
    contains itself). Walks ``obj`` without recursion; what is not JSON data counts as a
    number (the decoder refuses it).
    """
    size = 0
    pending: list[tuple[object, int]] = [(obj, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, int):
            size += item.bit_length() * 3 // 10 + 2  # digits, and a separator
        elif isinstance(item, list | dict):
            if depth == MAX_DEPTH:
                raise ValueError(_too_deep())
            if isinstance(item, dict):
                mapping = cast(dict[object, object], item)
                size += 2 + sum(len(k) + 4 if isinstance(k, str) else 8 for k in mapping)
                pending.extend((value, depth + 1) for value in mapping.values())
            else:
                items = cast(list[object], item)
                size += 2 + len(items)
                pending.extend((value, depth + 1) for value in items)
        else:
            size += 8  # a float, true, false, null (or not JSON: the decoder says so)
    return size


def short_repr(value: object) -> str:
    """A repr of ``value`` short enough for an error message (a file's values can be huge)."""
    try:
        return _SHORT.repr(value)
    except Exception:  # an int too long for str(), say
        return f"<{type(value).__qualname__}>"


def _too_deep() -> str:
    return f"the data nests deeper than {MAX_DEPTH} levels of JSON arrays and objects"


def _reject_constant(name: str) -> Any:
    raise ValueError(f'{name} is not JSON (the codec writes {{"$float": ...}})')


class Decoder:
    """One decoding pass: JSON data to values, rebuilding only the allowed classes, within a
    memory budget.

    ``classes`` maps tag paths to the dataclasses and enums that may be rebuilt (as
    :func:`allowed_classes` gives). Nothing else a tag names is looked up: no import, no
    attribute of a module, no constructor. ``size`` is the length of the JSON text the data
    was read from: the numpy values of the pass may take :data:`ALLOCATION_FACTOR` bytes per
    byte of it plus :data:`ALLOCATION_ALLOWANCE`, checked before numpy allocates. The
    data must nest at most :data:`MAX_DEPTH` levels (:func:`parse_line` and
    :func:`json_size` check it). Not thread-safe: one per pass and thread.
    """

    __slots__ = ("budget", "classes")

    def __init__(self, classes: dict[str, type], size: int) -> None:
        self.classes = classes
        self.budget = ALLOCATION_FACTOR * size + ALLOCATION_ALLOWANCE

    def charge(self, nbytes: int, what: str) -> None:
        """Take ``nbytes`` from the budget, or raise ValueError naming ``what`` needs them."""
        if nbytes > self.budget:
            raise ValueError(
                f"{what} takes {nbytes} bytes, more than the {self.budget} left of what its "
                f"JSON text allows ({ALLOCATION_FACTOR} bytes per byte, plus "
                f"{ALLOCATION_ALLOWANCE})"
            )
        self.budget -= nbytes

    def decode(self, obj: object) -> Any:
        """The value ``obj`` encodes (see :func:`decode`)."""
        if obj is None or isinstance(obj, bool | int | float | str):
            return obj
        if isinstance(obj, list):
            return [self.decode(item) for item in cast(list[object], obj)]
        if isinstance(obj, dict):
            mapping = cast(dict[object, object], obj)
            tag: str | None = None
            for key in mapping:
                if not isinstance(key, str):
                    raise ValueError(f"a JSON object key must be a str, not {short_repr(key)}")
                if key.startswith("$") and tag is None:
                    tag = key
            if tag is None:
                return {cast(str, k): self.decode(v) for k, v in mapping.items()}
            return self.tagged(tag, cast(dict[str, object], mapping))
        raise ValueError(f"not JSON data: {type(obj).__qualname__} {short_repr(obj)}")

    def tagged(self, tag: str, obj: dict[str, object]) -> Any:
        expected = _TAG_KEYS.get(tag)
        if expected is None:
            raise ValueError(f"unknown tag {short_repr(tag)} (keys starting with '$' are reserved)")
        if frozenset(obj) != expected:
            keys = short_repr(sorted(obj))
            raise ValueError(f"a {tag} object has the keys {sorted(expected)}, not {keys}")
        body = obj[tag]
        if tag == "$tuple":
            return tuple(self.decode(item) for item in _list(tag, body))
        if tag == "$bytes":
            return _base64(tag, body)
        if tag == "$float":
            if body not in ("nan", "inf", "-inf"):
                raise ValueError(f"a $float is 'nan', 'inf' or '-inf', not {short_repr(body)}")
            return float(cast(str, body))
        if tag == "$int":
            try:
                return int(_str(tag, body), 16)
            except ValueError:
                raise ValueError(f"a $int holds a hex string, not {short_repr(body)}") from None
        if tag == "$complex":
            parts = [self.decode(p) for p in _list(tag, body)]
            if len(parts) == 2 and all(_is_number(p) for p in parts):
                try:
                    return complex(parts[0], parts[1])
                except OverflowError:  # an int too large for a float
                    pass
            raise ValueError(f"a $complex holds [real, imag] floats, not {short_repr(body)}")
        if tag == "$dict":
            return self.pairs(obj, body)
        if tag in ("$set", "$frozenset"):
            items = [self.decode(item) for item in _list(tag, body)]
            try:
                return frozenset(items) if tag == "$frozenset" else set(items)
            except Exception:  # an item that cannot be rebuilt hashable (an Undecoded)
                return Undecoded(obj)
        if tag == "$ndarray":
            return self.ndarray(obj, body)
        if tag == "$npscalar":
            return self.npscalar(obj, body)
        if tag == "$dataclass":
            return self.dataclass(obj, body)
        if tag == "$enum":
            return self.enum_member(obj, body)
        return Repr(_str(tag, body))  # "$repr"

    def pairs(self, obj: dict[str, object], body: object) -> Any:
        pairs: list[tuple[Any, Any]] = []
        for item in _list("$dict", body):
            pair = cast(list[object], item) if isinstance(item, list) else None
            if pair is None or len(pair) != 2:
                raise ValueError(
                    f"a $dict holds [key, value] pairs, not {short_repr(cast(object, item))}"
                )
            key, value = pair
            pairs.append((self.decode(key), self.decode(value)))
        try:
            return dict(pairs)
        except Exception:  # a key that cannot be rebuilt hashable (an Undecoded)
            return Undecoded(obj)

    def ndarray(self, obj: dict[str, object], body: object) -> Any:
        with_items = _has_key(body, "items")
        fields = _object("$ndarray", body, ("dtype", "shape", "items" if with_items else "data"))
        dtype = _str("$ndarray dtype", fields["dtype"])
        shape = _shape(fields["shape"])
        count = math.prod(shape)
        what = f"a $ndarray of shape {list(shape)} and dtype {short_repr(dtype)}"
        if with_items:
            if dtype != "|O":
                raise ValueError(
                    f"a $ndarray with items has the dtype '|O', not {short_repr(dtype)}"
                )
            raw = _list("$ndarray items", fields["items"])
            if len(raw) != count:
                raise ValueError(f"a $ndarray of shape {list(shape)} holds {len(raw)} items")
            self.charge(8 * count, what)  # a pointer per item (the items are charged as read)
            items = [self.decode(item) for item in raw]
            np = _import_numpy()
            if np is None:
                return Undecoded(obj)
            return _build(what, _object_array, np, items, shape)
        data = _base64("$ndarray data", fields["data"])
        np = _import_numpy()
        if np is None:
            return Undecoded(obj)
        little = _numpy_dtype(np, "$ndarray", dtype)
        if len(data) != count * little.itemsize:
            raise ValueError(f"{what} needs {count * little.itemsize} bytes, not {len(data)}")
        self.charge(count * max(little.itemsize, 1), what)  # numpy gives a 0-size item a byte
        return _build(what, _data_array, np, data, little, shape)

    def npscalar(self, obj: dict[str, object], body: object) -> Any:
        fields = _object("$npscalar", body, ("dtype", "value"))
        dtype = _str("$npscalar dtype", fields["dtype"])
        value = self.decode(fields["value"])
        np = _import_numpy()
        if np is None:
            return Undecoded(obj)
        little = _numpy_dtype(np, "$npscalar", dtype)
        what = f"a $npscalar of dtype {short_repr(dtype)}"
        self.charge(max(little.itemsize, 1), what)
        if not isinstance(value, _SCALAR_TYPES[little.kind]) or (
            isinstance(value, bool) and little.kind != "b"
        ):
            raise ValueError(f"{what} cannot hold {short_repr(value)}")
        try:
            if little.kind in "mM":
                array = np.array(value, dtype="<i8").view(little)
                return array.astype(little.newbyteorder("="))[()]
            return np.array(value, dtype=little.newbyteorder("="))[()]
        except Exception:  # out of range for the dtype, say
            raise ValueError(f"{what} cannot hold {short_repr(value)}") from None

    def dataclass(self, obj: dict[str, object], body: object) -> Any:
        path = _str("$dataclass", body)
        raw = obj["fields"]
        if not isinstance(raw, dict):
            raise ValueError(f"a $dataclass's fields are an object, not {short_repr(raw)}")
        values = {str(k): self.decode(v) for k, v in cast(dict[object, object], raw).items()}
        cls = self.classes.get(path)
        if cls is None or not dataclasses.is_dataclass(cls):
            return Undecoded(obj)  # not allowed: nothing the file names is looked up
        fields = dataclasses.fields(cls)
        if {f.name for f in fields} != set(values):
            return Undecoded(obj)  # the class changed since the trace was recorded
        try:
            instance = cls(**{f.name: values[f.name] for f in fields if f.init})
            for f in fields:
                if not f.init:
                    object.__setattr__(instance, f.name, values[f.name])
        except Exception:  # its constructor refuses the recorded fields
            return Undecoded(obj)
        return instance

    def enum_member(self, obj: dict[str, object], body: object) -> Any:
        path = _str("$enum", body)
        value = self.decode(obj["value"])
        cls = self.classes.get(path)
        if cls is None or not issubclass(cls, enum.Enum):
            return Undecoded(obj)  # not allowed: nothing the file names is looked up
        try:
            return cls(value)
        except Exception:  # no such member any more
            return Undecoded(obj)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _list(tag: str, body: object) -> list[object]:
    if not isinstance(body, list):
        raise ValueError(f"a {tag} holds a list, not {short_repr(body)}")
    return cast(list[object], body)


def _str(tag: str, body: object) -> str:
    if not isinstance(body, str):
        raise ValueError(f"a {tag} holds a string, not {short_repr(body)}")
    return body


def _object(tag: str, body: object, keys: Iterable[str]) -> dict[str, object]:
    mapping = cast(dict[str, object], body) if isinstance(body, dict) else None
    if mapping is None or set(mapping) != set(keys):
        shown = short_repr(cast(object, body))
        raise ValueError(f"a {tag} holds an object with the keys {sorted(keys)}, not {shown}")
    return mapping


def _base64(tag: str, body: object) -> bytes:
    try:
        return base64.b64decode(_str(tag, body), validate=True)
    except binascii.Error:
        raise ValueError(f"a {tag} holds base64 data, not {short_repr(body)}") from None


def _has_key(body: object, key: str) -> bool:
    return isinstance(body, dict) and key in cast(dict[str, object], body)


def _shape(body: object) -> tuple[int, ...]:
    shape = _list("$ndarray shape", body)
    if len(shape) > _MAX_DIMS or not all(type(n) is int and 0 <= n < _MAX_SIZE for n in shape):
        raise ValueError(
            f"a $ndarray shape is a list of at most {_MAX_DIMS} sizes, not {short_repr(shape)}"
        )
    return tuple(cast(list[int], shape))


def _import_numpy() -> Any:
    """numpy, the one module decoding imports (its name is ours, never the file's)."""
    try:
        return importlib.import_module("numpy")
    except ImportError:
        return None


def _numpy_dtype(np: Any, tag: str, text: str) -> Any:
    """The numpy dtype ``text`` names, if it is one the codec writes (not object, void,
    structured or subarray dtypes); else ValueError."""
    try:
        dtype = np.dtype(text)
    except Exception:  # TypeError mostly; a deprecated alias under warnings-as-errors
        raise ValueError(f"a {tag} has an unknown dtype {short_repr(text)}") from None
    if dtype.kind not in _BYTES_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"a {tag} has an unsupported dtype {short_repr(text)}")
    return dtype


def _build(what: str, build: Any, *args: Any) -> Any:
    """``build(*args)``: numpy refusing the shape (too big for its index type, say) is a
    ValueError naming ``what``."""
    try:
        return build(*args)
    except Exception as exc:
        raise ValueError(f"{what} cannot be built: {exc}") from None


def _object_array(np: Any, items: list[object], shape: tuple[int, ...]) -> Any:
    array = np.empty(len(items), dtype=object)
    for index, item in enumerate(items):
        array[index] = item
    return array.reshape(shape)


def _data_array(np: Any, data: bytes, little: Any, shape: tuple[int, ...]) -> Any:
    native = little.newbyteorder("=")
    if little.itemsize == 0:
        return np.zeros(shape, dtype=native)
    return np.frombuffer(data, dtype=little).reshape(shape).astype(native)


# -- snapshots ------------------------------------------------------------------------------
# What a trace or an episode keeps of an argument or answer: the agent or the env may reuse
# those objects afterwards (an action list mutated for the next step, an observation buffer
# written in place, as Gymnasium's vector envs do), and a record must not change with them.

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
    cls: type[Any] = type(value)  # pyright: ignore[reportUnknownVariableType]  # (value: Any)
    if cls in _ATOMS:
        return value
    if cls is tuple:  # (a request's arguments: often atoms only, kept as they are)
        for item in value:
            if type(item) not in _ATOMS:
                return _take(value, {})
        return value
    if cls is dict and not value:  # (a request's keyword arguments, mostly)
        return {}
    return _take(value, {})


def _take(value: Any, memo: dict[int, Any]) -> Any:
    """:func:`snapshot`'s walk; ``memo`` maps the id of a value met before to its copy
    (shared or cyclic structures)."""
    cls: type[Any] = type(value)  # pyright: ignore[reportUnknownVariableType]  # (value: Any)
    if cls in _ATOMS:
        return value
    key = id(value)
    if key in memo:
        return memo[key]
    if cls is tuple:
        old: tuple[Any, ...] = value
        items: list[Any] = []
        changed = False
        for item in old:
            new_item = item if type(item) in _ATOMS else _take(item, memo)
            changed = changed or new_item is not item
            items.append(new_item)
        result: Any = tuple(items) if changed else old
        memo[key] = result
        return result
    if cls is list:
        copied: list[Any] = []
        memo[key] = copied
        for item in value:
            copied.append(item if type(item) in _ATOMS else _take(item, memo))
        return copied
    if cls is dict:
        mapping: dict[Any, Any] = {}
        memo[key] = mapping
        for k, v in value.items():
            mapping[k if type(k) in _ATOMS else _take(k, memo)] = (
                v if type(v) in _ATOMS else _take(v, memo)
            )
        return mapping
    kind = _numpy_kind(cls)
    if kind == "ndarray":
        try:
            result = copy.deepcopy(value) if value.dtype.kind == "O" else value.copy()
        except Exception:
            result = value
        memo[key] = result
        return result
    if kind == "generic" or cls is frozenset or isinstance(value, enum.Enum):
        return value  # immutable (a numpy scalar; hashable items)
    if cls is set:
        result = {_take(i, memo) for i in value}
    elif cls is bytearray:
        result = bytearray(value)
    else:
        try:
            result = copy.deepcopy(value, memo)
        except Exception:  # a lock, a socket, a generator...: keep the object itself
            result = value
    memo[key] = result
    return result
