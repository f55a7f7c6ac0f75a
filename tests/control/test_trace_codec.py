"""The trace codec (``_codec.py``), entries and traces on disk (``_trace.py``): round trips,
equality, digests."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from threaded_async._codec import digest_form, digest_of
from threaded_async._trace import (
    FIELDS,
    Repr,
    Trace,
    TraceDifference,
    TraceEntry,
    Undecoded,
    canonical_json,
    decode,
    encode,
)

# -- values used by the tests ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: float


@dataclasses.dataclass
class Labelled:
    label: str
    points: list[Point]
    extra: dict[int, tuple[int, ...]] = dataclasses.field(
        default_factory=dict[int, tuple[int, ...]]
    )
    count: int = dataclasses.field(default=0, init=False)


class Colour(enum.Enum):
    RED = "red"
    GREEN = (0, 255, 0)


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Pair(NamedTuple):
    a: int
    b: int


class Opaque:
    """No dataclass, no enum: encoded as its repr."""

    def __repr__(self) -> str:
        return "Opaque(7)"


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


#: The classes of this module that decoding may rebuild.
CLASSES = (Point, Labelled, Colour, Level)


def roundtrip(value: object) -> Any:
    """``decode(encode(value))`` through real JSON text, rebuilding this module's classes."""
    return decode(json.loads(json.dumps(encode(value))), classes=CLASSES)


def same(a: object, b: object) -> bool:
    return canonical_json(a) == canonical_json(b)


# -- the codec ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -7, 2**62, "", "héllo", 1.5, -0.0, 1e300, [], [1, "a", None], {}],
)
def test_json_values_encode_as_themselves(value: object) -> None:
    assert encode(value) == value
    assert type(encode(value)) is type(value)
    assert roundtrip(value) == value


def test_str_keyed_dicts_stay_plain_and_nest() -> None:
    value = {"b": [1, {"c": None}], "a": 2.5}
    assert encode(value) == value
    assert canonical_json(value) == '{"a":2.5,"b":[1,{"c":null}]}'


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ((1, 2), {"$tuple": [1, 2]}),
        ((), {"$tuple": []}),
        (b"\x00\xff", {"$bytes": "AP8="}),
        (float("nan"), {"$float": "nan"}),
        (float("inf"), {"$float": "inf"}),
        (float("-inf"), {"$float": "-inf"}),
        (1 + 2j, {"$complex": [1.0, 2.0]}),
        ({1: "a"}, {"$dict": [[1, "a"]]}),
        ({"$ref": 1}, {"$dict": [["$ref", 1]]}),
        ({3, 1, 2}, {"$set": [1, 2, 3]}),
        (frozenset({"b", "a"}), {"$frozenset": ["a", "b"]}),
        (Colour.RED, {"$enum": f"{__name__}:Colour", "value": "red"}),
        (Point(1, 2.0), {"$dataclass": f"{__name__}:Point", "fields": {"x": 1, "y": 2.0}}),
        (Opaque(), {"$repr": "Opaque(7)"}),
    ],
)
def test_tagged_encodings(value: object, encoded: object) -> None:
    assert encode(value) == encoded


@pytest.mark.parametrize(
    "value",
    [
        (1, 2),
        (),
        ((1, (2, (3,))), [4, (5,)]),
        [(1, 2), {"k": (3, [4, (5,)])}],
        {"k": (1, 2)},
        b"",
        b"\x00binary\xff",
        2**20000 + 1,
        -(2**20000),
        1 - 0.5j,
        {1: "int key", (1, 2): "tuple key", None: "none", 2.5: "float", b"k": "bytes"},
        {"$ref": 1, "plain": 2},
        {frozenset({1, 2}): {3, 4}},
        {"a", "b", "c"},
        frozenset({(1, 2), (3, 4)}),
        Colour.RED,
        Colour.GREEN,
        Level.HIGH,
        Point(1, 2.5),
        Labelled("l", [Point(1, 2.0), Point(3, 4.0)], {1: (2, 3)}),
        [Point(0, 0.0), {"p": Point(1, 1.0)}],
    ],
    ids=lambda value: type(value).__name__,
)
def test_round_trips(value: object) -> None:
    back = roundtrip(value)
    assert back == value
    assert type(back) is type(value)
    assert same(back, value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_special_floats_round_trip(value: float) -> None:
    back = roundtrip(value)
    assert type(back) is float
    assert (math.isnan(back) and math.isnan(value)) or back == value


def test_bytearray_and_memoryview_come_back_as_bytes() -> None:
    assert roundtrip(bytearray(b"ab")) == b"ab"
    assert roundtrip(memoryview(b"cd")) == b"cd"


def test_namedtuples_and_builtin_subclasses_come_back_as_the_builtin() -> None:
    assert encode(Pair(1, 2)) == {"$tuple": [1, 2]}
    assert roundtrip(Pair(1, 2)) == (1, 2)
    assert roundtrip(OrderedDict[str, int](b=1, a=2)) == {"a": 2, "b": 1}

    class Name(str):
        pass

    assert encode(Name("x")) == "x"
    assert type(encode(Name("x"))) is str


def test_non_init_dataclass_fields_are_restored() -> None:
    value = Labelled("l", [])
    value.count = 5
    back = roundtrip(value)
    assert isinstance(back, Labelled)
    assert back.count == 5


def test_equal_dicts_and_sets_encode_alike_whatever_their_order() -> None:
    assert canonical_json({1: "a", 2: "b"}) == canonical_json({2: "b", 1: "a"})
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})
    assert canonical_json({"pear", "apple", "fig"}) == '{"$set":["apple","fig","pear"]}'


def test_anything_else_becomes_its_repr_and_decodes_to_a_repr() -> None:
    back = roundtrip(Opaque())
    assert isinstance(back, Repr)
    assert back == "Opaque(7)"
    assert repr(back) == "Opaque(7)"  # a formatted trace shows the original repr
    assert encode(back) == {"$repr": "Opaque(7)"}


def test_reprs_drop_memory_addresses() -> None:
    first, second = object(), object()
    assert encode(first) == {"$repr": "<object object>"}
    assert canonical_json(first) == canonical_json(second)


def test_encoding_never_raises() -> None:
    assert encode(BadRepr()) == {"$repr": "<BadRepr object; repr() raised RuntimeError>"}
    cycle: list[object] = [1]
    cycle.append(cycle)
    assert encode(cycle) == [1, {"$repr": "[1, [...]]"}]


def test_the_dollar_prefix_is_reserved() -> None:
    tricky = {"$tuple": [1, 2]}
    assert encode(tricky) == {"$dict": [["$tuple", [1, 2]]]}
    assert roundtrip(tricky) == tricky


def test_a_dataclass_not_allowed_stays_a_tagged_dict() -> None:
    @dataclasses.dataclass
    class Local:
        n: int

    encoded = encode(Local(3))
    assert encoded == {"$dataclass": f"{__name__}:{Local.__qualname__}", "fields": {"n": 3}}
    back = decode(encoded)
    assert isinstance(back, Undecoded)
    assert back == encoded
    assert encode(back) == encoded  # so a loaded trace still equals the recorded one
    assert decode(encoded, classes=(Local,)) == Local(3)  # a local class, allowed


def test_an_undecoded_value_compares_and_digests_like_the_value() -> None:
    """Its sets and ``$dict`` pairs are sorted again by their comparison forms, as the value's
    are (``[2.0,1]`` sorts after ``[2,3]``, ``[2,1]`` before it)."""

    @dataclasses.dataclass(frozen=True)
    class Local:
        items: frozenset[tuple[float, int]]
        table: dict[tuple[float, int], int]

    value = Local(frozenset({(2.0, 1), (2, 3)}), {(2.0, 1): 1, (2, 3): 2})
    back = decode(json.loads(canonical_json(value)))
    assert isinstance(back, Undecoded)
    assert encode(back) == encode(value)
    assert digest_form(back) == digest_form(value)
    assert digest_of(back) == digest_of(value)
    assert TraceEntry("f", (back,), {}) == TraceEntry("f", (value,), {})


@pytest.mark.parametrize(
    "obj",
    [
        {"$dataclass": "no_such_module_xyz:Thing", "fields": {"a": 1}},
        {"$dataclass": f"{__name__}:Point", "fields": {"x": 1}},  # the class changed
        {"$dataclass": f"{__name__}:Colour", "fields": {}},  # not a dataclass
        {"$enum": f"{__name__}:Colour", "value": "blue"},  # no such member
        {"$enum": f"{__name__}:Point", "value": 1},  # not an enum
    ],
)
def test_what_cannot_be_rebuilt_decodes_to_undecoded(obj: dict[str, Any]) -> None:
    back = decode(obj, classes=CLASSES)
    assert isinstance(back, Undecoded)
    assert back == obj
    assert encode(back) == obj


def test_ndarray_tags_without_numpy_stay_tagged_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now fails
    array = {"$ndarray": {"dtype": "<i8", "shape": [1], "data": "AQAAAAAAAAA="}}
    scalar = {"$npscalar": {"dtype": "<f8", "value": 1.5}}
    for obj in (array, scalar):
        back = decode(obj)
        assert isinstance(back, Undecoded)
        assert encode(back) == obj


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"$nope": 1}, "unknown tag '\\$nope'"),
        ({"$tuple": [1], "extra": 2}, "keys"),
        ({"$tuple": 1}, "holds a list"),
        ({"$bytes": "not base64!"}, "base64"),
        ({"$float": "NaN"}, "\\$float"),
        ({"$int": "xyz"}, "hex"),
        ({"$complex": [1]}, "real, imag"),
        ({"$dict": [[1, 2, 3]]}, "pairs"),
        ({"$ndarray": {"dtype": "<i8", "shape": [-1], "data": ""}}, "shape"),
        ({"$ndarray": {"dtype": "<i8"}}, "keys"),
        ({"$repr": 3}, "string"),
        ({"$dataclass": "m:C", "fields": []}, "fields"),
        ((1, 2), "not JSON data"),
        ({1: 2}, "key must be a str"),
    ],
)
def test_malformed_data_is_a_value_error(obj: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode(obj)


# -- entries ----------------------------------------------------------------------------------


def test_entry_fields_in_order() -> None:
    names = [f.name for f in dataclasses.fields(TraceEntry)]
    assert names == [
        "request",
        "args",
        "kwargs",
        "result",
        "error",
        "time",
        "client",
        "issued_at",
        "answered_at",
    ]


def test_time_and_issued_at_are_one_value() -> None:
    assert TraceEntry("f", (), {}, time=1.5).issued_at == 1.5
    assert TraceEntry("f", (), {}, issued_at=1.5).time == 1.5
    assert TraceEntry("f", (), {}, time=1.5, issued_at=1.5).time == 1.5
    assert TraceEntry("f", (), {}).time is None
    with pytest.raises(ValueError, match="time and issued_at"):
        TraceEntry("f", (), {}, time=1.0, issued_at=2.0)


def test_args_given_as_a_list_are_stored_as_a_tuple() -> None:
    entry = TraceEntry("f", [1, 2], {})  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert entry.args == (1, 2)


def test_entries_compare_by_encoding() -> None:
    nan = float("nan")
    assert TraceEntry("f", (nan,), {}, result=nan) == TraceEntry("f", (nan,), {}, result=nan)
    assert TraceEntry("f", (), {}, time=2) == TraceEntry("f", (), {}, time=2.0)
    assert TraceEntry("f", (1,), {}) != TraceEntry("f", (True,), {})
    assert TraceEntry("f", ((1, 2),), {}) != TraceEntry("f", ([1, 2],), {})
    assert TraceEntry("f", (), {}, client="a") != TraceEntry("f", (), {}, client="b")
    assert TraceEntry("f", (), {"a": 1, "b": 2}) == TraceEntry("f", (), {"b": 2, "a": 1})
    assert TraceEntry("f", (), {}) != ("f", (), {})


def test_entry_hash_agrees_with_equality() -> None:
    a = TraceEntry("f", ({1: [2]},), {}, result=float("nan"), time=2)
    b = TraceEntry("f", ({1: [2]},), {}, result=float("nan"), time=2.0)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, TraceEntry("g", (), {})}) == 2


# -- traces -----------------------------------------------------------------------------------


def sample_trace() -> Trace:
    """A small fixed trace; its digest is pinned below."""
    return Trace(
        [
            TraceEntry("Env.move", (1, 0), {}, result=(1, 0), time=0.0, client="a"),
            TraceEntry(
                "Env.look",
                (),
                {"far": True},
                result={"wall": b"\x01", 2: None},
                time=0.5,
                client="b",
                answered_at=0.75,
            ),
            TraceEntry(
                "Env.move",
                (2, float("inf")),
                {},
                error="ValueError: bad move",
                time=1.0,
                client="a",
                answered_at=1.0,
            ),
            TraceEntry("Env.tag", ({"x", "y"},), {}, result=Point(1, 2.5)),
        ]
    )


SAMPLE_DIGEST = "2b3258d95a8b5b2d05913ee47eaa57ebcfd53c35401fbd51f76997344ceb22c0"


def test_digest_is_pinned() -> None:
    """A change of the canonical encoding changes this digest: update it on purpose only."""
    assert sample_trace().digest() == SAMPLE_DIGEST


def test_digest_form_is_the_encoding_with_integral_floats_as_ints() -> None:
    assert digest_form((1, 2.0, 2.5)) == {"$tuple": [1, 2, 2.5]}
    assert encode((1, 2.0, 2.5)) == {"$tuple": [1, 2.0, 2.5]}
    assert digest_form({"n": float("nan")}) == {"n": {"$float": "nan"}}
    assert digest_form(True) is True


def test_digest_of_hashes_the_canonical_comparison_form() -> None:
    value = {"b": {1, 2}, "a": (1.0, None)}
    text = json.dumps(digest_form(value), sort_keys=True, separators=(",", ":"))
    assert digest_of(value) == hashlib.sha256(text.encode("ascii")).hexdigest()
    assert digest_of(value) == "0784978bddc1df8bc87cc268ebf33f35512b6e250331cf25492db76bb6244066"
    assert digest_of({"a": (1, None), "b": {2, 1}}) == digest_of(value)
    assert digest_of(1) == digest_of(1.0)
    assert digest_of(1) != digest_of(True)
    assert digest_of((1,)) != digest_of([1])


def test_trace_digest_is_the_digest_of_its_entries_fields() -> None:
    """What episodes can reuse: ``digest_of`` a list of field dicts is ``Trace.digest``."""
    trace = sample_trace()
    fields = [
        {f: list(entry.args) if f == "args" else getattr(entry, f) for f in FIELDS}
        for entry in trace
    ]
    assert digest_of(fields) == trace.digest() == SAMPLE_DIGEST


def test_digest_does_not_depend_on_the_hash_seed() -> None:
    """Sets and dicts are sorted by their encoding, not by hash order."""
    code = "from tests.control.test_trace_codec import sample_trace; print(sample_trace().digest())"
    root = Path(__file__).resolve().parents[2]
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        env["PYTHONPATH"] = os.pathsep.join([str(root / "src"), str(root)])
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == SAMPLE_DIGEST


def test_digest_follows_equality() -> None:
    trace = sample_trace()
    same_values = sample_trace()
    same_values[0] = dataclasses.replace(trace[0], time=0, issued_at=0)  # int for 0.0
    same_values[3] = dataclasses.replace(trace[3], args=(set(["y", "x", "y"]),))
    assert same_values == trace
    assert same_values.digest() == trace.digest()
    changed = sample_trace()
    changed[0] = dataclasses.replace(changed[0], result=(1, 1))
    assert changed != trace
    assert changed.digest() != trace.digest()
    assert Trace().digest() != trace.digest()


def test_dump_then_load_gives_an_equal_trace(tmp_path: Path) -> None:
    trace = sample_trace()
    path = tmp_path / "trace.jsonl"
    assert trace.dump(path) is None
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == '{"threaded_async_trace":1}'
    assert lines[-1] == ""
    assert len(lines) == len(trace) + 2
    assert json.loads(lines[1]) == {
        "answered_at": None,
        "args": [1, 0],
        "client": "a",
        "error": None,
        "issued_at": 0.0,
        "kwargs": {},
        "request": "Env.move",
        "result": {"$tuple": [1, 0]},
        "time": 0.0,
    }
    loaded = Trace.load(str(path), classes=CLASSES)
    assert isinstance(loaded, Trace)
    assert loaded == trace
    assert loaded.digest() == trace.digest()
    assert loaded[3].result == Point(1, 2.5)
    assert Trace.load(path)[3].result == {
        "$dataclass": f"{__name__}:Point",
        "fields": {"x": 1, "y": 2.5},
    }
    again = tmp_path / "again.jsonl"
    loaded.dump(again)
    assert again.read_bytes() == path.read_bytes()


def test_an_empty_trace_dumps_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    Trace().dump(path)
    assert Trace.load(path) == []


def test_a_trace_is_a_list_of_entries() -> None:
    trace = sample_trace()
    assert trace == list(trace)
    assert trace[:1] == [TraceEntry("Env.move", (1, 0), {}, result=(1, 0), time=0, client="a")]
    with pytest.raises(TypeError, match="trace item 0 is a str"):
        Trace(["x"]).digest()  # type: ignore[list-item]  # pyright: ignore[reportArgumentType]


HEADER = '{"threaded_async_trace":1}'
GOOD = (
    '{"answered_at":null,"args":[],"client":null,"error":null,"issued_at":null,'
    '"kwargs":{},"request":"f","result":null,"time":null}'
)


def _bad(old: str, new: str) -> str:
    """A file with the header and GOOD with ``old`` replaced by ``new``."""
    assert old in GOOD
    return f"{HEADER}\n{GOOD.replace(old, new)}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"line 1: empty file"),
        (GOOD + "\n", r"line 1: expected the header"),
        ('{"threaded_async_trace":2}\n', r"line 1: unsupported trace format version 2"),
        ('{"threaded_async_trace":true}\n', r"line 1: unsupported trace format version True"),
        (f"{HEADER}\n{GOOD}\n{{not json\n", r"line 3: Expecting property name"),
        (_bad(',"error":null', ""), r"line 2: the entry has no 'error'"),
        (_bad('"time":null', '"time":null,"extra":1'), r"line 2: the entry has unknown fields"),
        (f"{HEADER}\n[1]\n", r"line 2: an entry is a JSON object"),
        (_bad('"time":null', '"time":NaN'), r"line 2: NaN is not JSON"),
        (_bad('"result":null', '"result":{"$x":1}'), r"line 2: unknown tag"),
        (_bad('"args":[]', '"args":{}'), r"line 2: args is a list"),
        (_bad('"time":null', '"time":"x"'), r"line 2: time is a number"),
        (_bad('"error":null', '"error":1'), r"line 2: error is a string"),
        (
            _bad('"time":null', '"time":1,"issued_at":2').replace('"issued_at":null,', ""),
            "line 2: time and issued_at",
        ),
    ],
)
def test_loading_a_malformed_file_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        Trace.load(path)
    assert str(path) in str(info.value)


def test_loading_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(HEADER.encode() + b"\n\xff\xfe\n")
    with pytest.raises(ValueError, match="line 2: 'utf-8' codec"):
        Trace.load(path)


def _entry(client: str | None, n: int) -> TraceEntry:
    return TraceEntry("f", (n,), {}, client=client)


def test_diff_of_equal_traces_is_empty() -> None:
    assert sample_trace().diff(sample_trace()) == {}


def test_diff_compares_each_clients_own_sequence() -> None:
    expected = Trace([_entry("a", 0), _entry("b", 0), _entry("a", 1), _entry("b", 1)])
    interleaved = Trace([_entry("b", 0), _entry("b", 1), _entry("a", 0), _entry("a", 1)])
    assert expected.diff(interleaved) == {}

    actual = Trace([_entry("a", 0), _entry("b", 0), _entry("a", 9), _entry("b", 1)])
    assert expected.diff(actual) == {"a": TraceDifference("a", 1, _entry("a", 1), _entry("a", 9))}


def test_diff_reports_a_shorter_side_and_new_clients() -> None:
    expected = Trace([_entry("a", 0), _entry("a", 1), _entry(None, 0)])
    actual = [_entry("a", 0), _entry(None, 0), _entry(None, 1), _entry("c", 0)]
    assert expected.diff(actual) == {
        "a": TraceDifference("a", 1, _entry("a", 1), None),
        None: TraceDifference(None, 1, None, _entry(None, 1)),
        "c": TraceDifference("c", 0, None, _entry("c", 0)),
    }
    assert list(expected.diff(actual)) == ["a", None, "c"]


# -- numpy (runs once numpy is installed) -----------------------------------------------------


def test_numpy_arrays_round_trip() -> None:
    np = pytest.importorskip("numpy")
    arrays = [
        np.arange(6, dtype=np.int64).reshape(2, 3),
        np.array([1.5, np.nan, -np.inf], dtype=np.float32),
        np.array([], dtype=np.uint8),
        np.zeros((2, 0, 3)),
        np.array(3.25),
        np.array([[True, False]]),
        np.array(["ab", "c"]),
        np.array([b"x", b"yz"]),
        np.array(["2020-01-01", "NaT"], dtype="datetime64[D]"),
        np.array([1 + 2j], dtype=np.complex64),
        np.array([1, "a", None, (2, 3)], dtype=object),
        np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)),
        np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2],  # not contiguous
    ]
    for array in arrays:
        back = roundtrip(array)
        assert isinstance(back, np.ndarray)
        assert back.dtype == array.dtype
        assert back.shape == array.shape
        if array.dtype != object:
            assert back.tobytes() == array.tobytes()
        assert same(back, array)
        back[...] = back  # writable
    encoded = encode(np.arange(6, dtype=np.int64).reshape(2, 3))
    assert encoded == {
        "$ndarray": {
            "dtype": "<i8",
            "shape": [2, 3],
            "data": "AAAAAAAAAAABAAAAAAAAAAIAAAAAAAAAAwAAAAAAAAAEAAAAAAAAAAUAAAAAAAAA",
        }
    }


def test_numpy_arrays_are_written_little_endian() -> None:
    np = pytest.importorskip("numpy")
    big = np.array([1, 2], dtype=">i4")
    little = np.array([1, 2], dtype="<i4")
    assert encode(big) == encode(little)
    assert encode(big) == {"$ndarray": {"dtype": "<i4", "shape": [2], "data": "AQAAAAIAAAA="}}
    assert np.array_equal(roundtrip(big), big)


def test_malformed_numpy_data_is_a_value_error() -> None:
    pytest.importorskip("numpy")
    with pytest.raises(ValueError, match="needs 16 bytes, not 8"):
        decode({"$ndarray": {"dtype": "<i8", "shape": [2], "data": "AQAAAAAAAAA="}})
    with pytest.raises(ValueError, match="unknown dtype"):
        decode({"$ndarray": {"dtype": "<zz", "shape": [0], "data": ""}})


def test_numpy_scalars_round_trip() -> None:
    np = pytest.importorskip("numpy")
    scalars = [
        np.float64(1.5),
        np.float32(0.1),
        np.float16(-2.0),
        np.float32("nan"),
        np.int8(-3),
        np.uint64(2**64 - 1),
        np.bool_(True),
        np.complex128(1 - 2j),
        np.str_("hi"),
        np.bytes_(b"yo"),
        np.datetime64("2020-01-01"),
        np.timedelta64(5, "s"),
    ]
    for scalar in scalars:
        back = roundtrip(scalar)
        assert type(back) is type(scalar)
        assert back.dtype == scalar.dtype
        assert same(back, scalar)
    assert encode(np.float32(0.5)) == {"$npscalar": {"dtype": "<f4", "value": 0.5}}
    assert encode(np.int64(7)) != encode(7)


def test_entries_holding_numpy_arrays_compare_and_hash() -> None:
    np = pytest.importorskip("numpy")
    a = TraceEntry("f", (np.arange(3),), {}, result=np.array([0.5, np.nan]))
    b = TraceEntry("f", (np.arange(3),), {}, result=np.array([0.5, np.nan]))
    c = TraceEntry("f", (np.arange(3),), {}, result=np.array([0.5, 1.0]))
    d = TraceEntry("f", (np.arange(3, dtype=np.int32),), {}, result=np.array([0.5, np.nan]))
    assert a == b
    assert hash(a) == hash(b)
    assert a != c
    assert a != d  # same values, another dtype
    assert Trace([a]) == [b]
    assert Trace([a]).diff([c]) == {None: TraceDifference(None, 0, a, c)}


def test_traces_holding_numpy_values_dump_and_load(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    trace = Trace(
        [
            TraceEntry("Env.step", (np.array([[1, 2]]),), {}, result=(np.float32(0.5), False)),
            TraceEntry("Env.obs", (), {"mask": np.array([True])}, result=np.zeros((2, 2))),
        ]
    )
    path = tmp_path / "np.jsonl"
    trace.dump(path)
    loaded = Trace.load(path)
    assert loaded == trace
    assert loaded.digest() == trace.digest()
    assert isinstance(loaded[1].result, np.ndarray)
