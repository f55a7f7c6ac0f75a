"""Trace files are hostile input: ``Trace.load`` and ``decode`` import no module a file names,
run no code of a class it names (unless the caller allows the class), allocate no more than
the file's bytes justify, bound nesting, and raise only ValueError naming the line."""

from __future__ import annotations

import base64
import dataclasses
import enum
import importlib
import json
import sys
import tempfile
import tracemalloc
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threaded_async._trace import FIELDS, Trace, TraceEntry, Undecoded, decode

HEADER = '{"threaded_async_trace":1}'


def entry_line(result: str) -> str:
    """One trace line: an entry answering ``f()`` with ``result`` (JSON text)."""
    return (
        '{"answered_at":null,"args":[],"client":null,"error":null,"issued_at":null,'
        f'"kwargs":{{}},"request":"f","result":{result},"time":null}}'
    )


def write_trace(folder: Path, *results: str) -> Path:
    """A trace file with the header and one entry per result (JSON text)."""
    path = folder / f"trace-{uuid.uuid4().hex}.jsonl"
    path.write_text("\n".join([HEADER, *map(entry_line, results)]) + "\n", encoding="utf-8")
    return path


def peak_bytes(fn: Any, *args: Any, **kwargs: Any) -> tuple[object, int]:
    """``fn(*args, **kwargs)`` (or the exception it raised) and the peak memory it took."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        try:
            outcome: object = fn(*args, **kwargs)
        except Exception as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


# -- no import, no code of a class the file names ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: float


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


BUILT: list[object] = []


@dataclasses.dataclass
class Recorder:
    """A dataclass whose construction leaves a mark."""

    n: int

    def __post_init__(self) -> None:
        BUILT.append(self.n)


class Noisy(enum.Enum):
    """An enum whose lookup of an unknown value leaves a mark."""

    ONE = 1

    @classmethod
    def _missing_(cls, value: object) -> None:
        BUILT.append(value)
        return None


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A module on sys.path (its name, and the file its top-level code creates)."""
    name = f"planted_{uuid.uuid4().hex}"
    marker = tmp_path / "the planted module ran"
    folder = tmp_path / "modules"
    folder.mkdir()
    (folder / f"{name}.py").write_text(
        "import dataclasses, enum, pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "@dataclasses.dataclass\n"
        "class Thing:\n"
        "    n: int\n"
        "class Kind(enum.Enum):\n"
        "    A = 1\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys, "path", [str(folder), *sys.path])
    importlib.invalidate_caches()
    yield name, marker
    sys.modules.pop(name, None)


@pytest.mark.parametrize(
    "tagged",
    [
        {"$dataclass": "{module}:Thing", "fields": {"n": 1}},
        {"$enum": "{module}:Kind", "value": 1},
    ],
    ids=["dataclass", "enum"],
)
def test_a_tag_does_not_import_the_module_it_names(
    tmp_path: Path, planted: tuple[str, Path], tagged: dict[str, Any]
) -> None:
    name, marker = planted
    tag = next(iter(tagged))
    obj = {**tagged, tag: tagged[tag].format(module=name)}
    loaded = Trace.load(write_trace(tmp_path, json.dumps(obj)))
    assert isinstance(loaded[0].result, Undecoded)
    assert loaded[0].result == obj
    assert isinstance(decode(obj), Undecoded)
    assert name not in sys.modules
    assert not marker.exists()


def test_the_unittest_main_tag_runs_no_test_discovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing ``unittest.__main__`` discovers and runs test files in the working directory,
    then raises SystemExit: a tag naming it must do none of that."""
    marker = tmp_path / "the planted test ran"
    planted = f"test_planted_{uuid.uuid4().hex}"
    (tmp_path / f"{planted}.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["python -m unittest"])
    monkeypatch.delitem(sys.modules, "unittest.__main__", raising=False)
    try:
        loaded = Trace.load(
            write_trace(tmp_path, '{"$dataclass":"unittest.__main__:TestProgram","fields":{}}')
        )
        assert isinstance(loaded[0].result, Undecoded)
        assert "unittest.__main__" not in sys.modules
        assert not marker.exists()
    finally:
        sys.modules.pop(planted, None)


def test_a_tag_looks_nothing_up_in_an_imported_module(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []

    def module_getattr(name: str) -> object:
        looked_up.append(name)
        raise AttributeError(name)

    module = types.ModuleType("watched_module")
    setattr(module, "__getattr__", module_getattr)  # noqa: B010
    monkeypatch.setitem(sys.modules, "watched_module", module)
    tagged: list[dict[str, object]] = [
        {"$dataclass": "watched_module:Thing", "fields": {}},
        {"$enum": "watched_module:Kind", "value": 1},
    ]
    for obj in tagged:
        assert decode(obj) == obj
        assert isinstance(decode(obj), Undecoded)
    assert looked_up == []


def test_classes_named_by_the_file_are_not_constructed_unless_allowed(tmp_path: Path) -> None:
    BUILT.clear()
    recorder = json.dumps({"$dataclass": f"{__name__}:Recorder", "fields": {"n": 7}})
    noisy = json.dumps({"$enum": f"{__name__}:Noisy", "value": 99})
    loaded = Trace.load(write_trace(tmp_path, recorder, noisy))
    assert [type(entry.result) for entry in loaded] == [Undecoded, Undecoded]
    assert BUILT == []
    allowed = Trace.load(write_trace(tmp_path, recorder, noisy), classes=(Recorder, Noisy))
    assert allowed[0].result == Recorder(7)
    assert isinstance(allowed[1].result, Undecoded)  # no member 99: the lookup ran, failed
    assert BUILT == [7, 99, 7]


def test_allowed_classes_are_rebuilt_and_the_others_stay_undecoded(tmp_path: Path) -> None:
    @dataclasses.dataclass
    class Local:
        inner: object

    trace = Trace(
        [
            TraceEntry("f", (Point(1, 2.0), Colour.BLUE), {}, result=Local(Point(3, 4.5))),
            TraceEntry("g", (), {"c": [Colour.RED]}, result={Point(0, 0.0): "origin"}),
        ]
    )
    path = tmp_path / "trace.jsonl"
    trace.dump(path)

    plain = Trace.load(path)
    assert plain == trace
    assert plain.digest() == trace.digest()
    assert isinstance(plain[0].args[0], Undecoded)
    assert isinstance(plain[0].args[1], Undecoded)
    assert isinstance(plain[1].result, Undecoded)  # an Undecoded key: the dict stays as read

    some = Trace.load(path, classes=[Colour, Local])
    assert some == trace
    assert some.digest() == trace.digest()
    assert some[0].args[1] is Colour.BLUE
    assert isinstance(some[0].args[0], Undecoded)
    assert isinstance(some[0].result, Local)
    assert isinstance(some[0].result.inner, Undecoded)  # Point is not allowed
    assert some[1].kwargs == {"c": [Colour.RED]}

    every = Trace.load(path, classes=(Point, Colour, Local))
    assert every[0].args == (Point(1, 2.0), Colour.BLUE)
    assert every[0].result == Local(Point(3, 4.5))
    assert every[1].result == {Point(0, 0.0): "origin"}
    again = tmp_path / "again.jsonl"
    every.dump(again)
    assert again.read_bytes() == path.read_bytes()


def test_decode_takes_the_same_allow_list() -> None:
    obj = {"$dataclass": f"{__name__}:Point", "fields": {"x": 1, "y": 2.5}}
    assert isinstance(decode(obj), Undecoded)
    assert decode(obj, classes=(Point,)) == Point(1, 2.5)
    assert isinstance(decode(obj, classes=(Colour,)), Undecoded)
    assert decode({"$enum": f"{__name__}:Colour", "value": "red"}, classes={Colour}) is Colour.RED


def test_a_tag_matches_a_class_by_its_exact_path() -> None:
    assert isinstance(
        decode({"$enum": "tests.Colour", "value": "red"}, classes=(Colour,)), Undecoded
    )
    assert isinstance(
        decode({"$enum": f"{__name__}:colour", "value": "red"}, classes=(Colour,)), Undecoded
    )
    assert isinstance(
        decode({"$enum": f"{__name__}.Colour:Colour", "value": "red"}, classes=(Colour,)),
        Undecoded,
    )


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        (Point, "a collection of classes"),
        ((int,), "dataclasses and enums"),
        (("tests:Point",), "dataclasses and enums"),
        ((Point(1, 2.0),), "dataclasses and enums"),
    ],
)
def test_classes_that_cannot_be_allowed_are_a_type_error(
    tmp_path: Path, classes: Any, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        decode(None, classes=classes)
    with pytest.raises(TypeError, match=message):
        Trace.load(tmp_path / "not read: the classes are checked first", classes=classes)


def test_loading_imports_no_module_but_numpy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("numpy")
    names = ["colorsys", "tabnanny", "xml.dom.minidom"]
    for name in names:
        monkeypatch.delitem(sys.modules, name, raising=False)
    path = write_trace(
        tmp_path,
        '{"$dataclass":"colorsys:X","fields":{}}',
        '{"$enum":"tabnanny:NannyNag","value":1}',
        '{"$dataclass":"xml.dom.minidom:Node","fields":{}}',
        '{"$ndarray":{"dtype":"<i8","shape":[1],"data":"AQAAAAAAAAA="}}',
        '{"$npscalar":{"dtype":"<M8[D]","value":3}}',
        '{"$ndarray":{"dtype":"|O","shape":[1],"items":[{"$tuple":[]}]}}',
    )
    before = set(sys.modules)
    Trace.load(path)
    with pytest.raises(ValueError, match="line 2"):
        Trace.load(write_trace(tmp_path, '{"$npscalar":{"dtype":"<zz","value":1}}'))
    imported = sorted(set(sys.modules) - before)
    assert [name for name in imported if name.split(".")[0] != "numpy"] == []


# -- memory and malformed input -------------------------------------------------------------


def test_a_huge_width_numpy_scalar_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    path = write_trace(tmp_path, '{"$npscalar":{"dtype":"<U5000000","value":""}}')
    outcome, peak = peak_bytes(Trace.load, path)
    assert isinstance(outcome, ValueError)
    assert f"{path}, line 2: a $npscalar of dtype '<U5000000' takes 20000000 bytes" in str(outcome)
    assert peak < 1 << 20


def test_a_zero_itemsize_array_of_a_huge_shape_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    path = write_trace(tmp_path, '{"$ndarray":{"dtype":"|S0","shape":[10000000],"data":""}}')
    outcome, peak = peak_bytes(Trace.load, path)
    assert isinstance(outcome, ValueError)
    assert f"{path}, line 2: a $ndarray of shape [10000000]" in str(outcome)
    assert peak < 1 << 20


def test_the_allocation_budget_grows_with_the_line(tmp_path: Path) -> None:
    """A line's numpy values may take 8 bytes per byte of the line plus 64 KiB: a str scalar
    20,000 characters wide (80,000 bytes) needs a line of about 1,800 bytes."""
    pytest.importorskip("numpy")
    width = 20_000
    for filler, fits in ((0, False), (1_400, False), (2_200, True)):
        value = json.dumps({"$npscalar": {"dtype": f"<U{width}", "value": "x" * filler}})
        line_bytes = len(entry_line(value)) + 1
        assert (8 * line_bytes + 65_536 >= 4 * width) == fits
        path = write_trace(tmp_path, value)
        if fits:
            assert Trace.load(path)[0].result == "x" * filler
        else:
            with pytest.raises(ValueError, match="takes 80000 bytes, more than the"):
                Trace.load(path)


def test_the_budget_is_shared_by_the_values_of_a_line(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    one = '{"$npscalar":{"dtype":"<U10000","value":""}}'  # 40,000 bytes from 45
    assert Trace.load(write_trace(tmp_path, one, one))[1].result == ""  # a line each
    with pytest.raises(ValueError, match="line 2: a \\$npscalar of dtype '<U10000' takes"):
        Trace.load(write_trace(tmp_path, f"[{one},{one}]"))


def test_real_arrays_always_fit(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    trace = Trace([TraceEntry("obs", (), {}, result=np.arange(300_000, dtype=np.uint8))])
    trace.dump(tmp_path / "big.jsonl")
    loaded = Trace.load(tmp_path / "big.jsonl")
    assert np.array_equal(loaded[0].result, trace[0].result)


@pytest.mark.parametrize(
    "array",
    [
        '{"dtype":"|S0","shape":[4611686018427387904],"data":""}',
        '{"dtype":"|U0","shape":[1099511627776,1099511627776],"data":""}',
    ],
)
def test_an_absurd_shape_is_a_value_error(tmp_path: Path, array: str) -> None:
    pytest.importorskip("numpy")
    path = write_trace(tmp_path, f'{{"$ndarray":{array}}}')
    with pytest.raises(ValueError, match=r"line 2: a \$ndarray of shape") as info:
        Trace.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "array",
    [
        '{"dtype":"<i8","shape":[18446744073709551616,0],"data":""}',
        '{"dtype":"<i8","shape":[4611686018427387904,4611686018427387904,0],"data":""}',
        '{"dtype":"|O","shape":[0,4611686018427387904,4611686018427387904],"items":[]}',
        '{"dtype":"<i8","shape":' + "[1" + ",1" * 99 + '],"data":"AQAAAAAAAAA="}',
        '{"dtype":"|O","shape":[1000000000000],"items":[]}',
    ],
)
def test_other_shapes_numpy_cannot_build_are_value_errors(tmp_path: Path, array: str) -> None:
    pytest.importorskip("numpy")
    with pytest.raises(ValueError, match=r"line 2: a \$ndarray"):
        Trace.load(write_trace(tmp_path, f'{{"$ndarray":{array}}}'))


@pytest.mark.parametrize("depth", [101, 5_000, 100_000])
def test_deep_nesting_is_a_value_error_naming_the_line(tmp_path: Path, depth: int) -> None:
    """The entry object is one level, so a result of ``depth - 1`` lists nests ``depth``."""
    path = write_trace(tmp_path, "[]", "[" * (depth - 1) + "]" * (depth - 1))
    with pytest.raises(ValueError, match=r"line 3: .* nests deeper than 100 levels") as info:
        Trace.load(path)
    assert str(path) in str(info.value)


def test_nesting_up_to_the_limit_loads(tmp_path: Path) -> None:
    deep = "[" * 99 + "]" * 99
    tuples = '{"$tuple":[' * 49 + "]}" * 49  # two levels each: 99 with the entry
    loaded = Trace.load(write_trace(tmp_path, deep, tuples))
    assert loaded[0].result == json.loads(deep)
    value: Any = loaded[1].result
    for _ in range(48):
        value = value[0]
    assert value == ()
    # brackets inside strings do not count, escaped quotes or not
    for text in ("[" * 500, '\\"' + "[" * 500, '"\\' + "{" * 500):
        assert Trace.load(write_trace(tmp_path, json.dumps(text)))[0].result == text


def test_decode_bounds_nesting_too() -> None:
    deep: list[object] = []
    for _ in range(99):
        deep = [deep]
    assert decode(deep) == deep  # 100 levels
    with pytest.raises(ValueError, match="nests deeper than 100 levels"):
        decode([deep])
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(ValueError, match="nests deeper than 100 levels"):
        decode(deep)
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="nests deeper than 100 levels"):
        decode(cycle)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (entry_line('{"$complex":[1' + "0" * 400 + ",0]}"), "a \\$complex"),
        (
            entry_line("null")
            .replace('"time":null', '"time":1' + "0" * 400)
            .replace('"issued_at":null', '"issued_at":2' + "0" * 400),
            "time and issued_at",
        ),
        (entry_line('{"$npscalar":{"dtype":"<f8","value":{"$tuple":[1,2]}}}'), "cannot hold"),
        (entry_line('{"$npscalar":{"dtype":"a","value":{"$bytes":""}}}'), "dtype 'a'"),
        (entry_line('{"$npscalar":{"dtype":"|O","value":1}}'), "unsupported dtype"),
        (entry_line('{"$ndarray":{"dtype":"|V4","shape":[1],"data":"AAAAAA=="}}'), "unsupported"),
        (entry_line('{"$npscalar":{"dtype":"(2,)<i8","value":1}}'), "unsupported dtype"),
    ],
)
def test_malformed_values_raise_only_value_error_naming_the_line(
    tmp_path: Path, line: str, message: str
) -> None:
    pytest.importorskip("numpy")
    path = tmp_path / "bad.jsonl"
    path.write_text(f"{HEADER}\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"line 2: .*{message}") as info:
        Trace.load(path)
    assert str(path) in str(info.value)


# -- fuzzing --------------------------------------------------------------------------------

try:
    import numpy as np
except ImportError:  # pragma: no cover - numpy is in the dev group
    np = None

#: What a load (and a digest of what it loaded) may take: a fixed allowance, plus a multiple
#: of the file's size (the Python objects a JSON line parses and decodes into take up to about
#: 80 bytes per byte, for nested empty lists; numpy values at most ALLOCATION_FACTOR).
MEMORY_BASE = 4 << 20
MEMORY_PER_BYTE = 100

FUZZ = settings(
    max_examples=120,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: The classes a fuzzed load may be allowed to rebuild.
ALLOWED = (Point, Colour, Recorder, Noisy)


def sample_file() -> bytes:
    """A dumped trace holding every kind of value the codec writes."""
    values: list[object] = [
        (1, 2.5),
        b"\x00\xff",
        float("nan"),
        2**20000,
        1 - 2j,
        {1: "a", (2, 3): None},
        {"x", "y"},
        frozenset({4}),
        Point(1, 2.0),
        Colour.RED,
        object(),
    ]
    if np is not None:
        values += [
            np.arange(6, dtype=np.int64).reshape(2, 3),
            np.array(["ab", "c"]),
            np.array([1, "a", None], dtype=object),
            np.float32(0.5),
            np.str_("hi"),
            np.datetime64("2020-01-01"),
        ]
    trace = Trace(
        TraceEntry("Env.step", (value,), {"k": [value]}, result=value, time=1.0, client="a")
        for value in values
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sample.jsonl"
        trace.dump(path)
        return path.read_bytes()


SAMPLE = sample_file()
SAMPLE_LINES = SAMPLE.split(b"\n")[:-1]

TAGS = [
    "$tuple",
    "$bytes",
    "$float",
    "$int",
    "$complex",
    "$dict",
    "$set",
    "$frozenset",
    "$ndarray",
    "$npscalar",
    "$dataclass",
    "$enum",
    "$repr",
]
HUGE_NUMBERS = [
    "-1",
    "0",
    "1e400",
    "4611686018427387904",
    "18446744073709551616",
    "1" + "0" * 400,
    "1" + "0" * 5000,
]
DTYPE_TEXTS = [
    "<i8",
    "<f4",
    "|b1",
    "<U2",
    "|S3",
    "<M8[D]",
    "<m8[s]",
    "<c16",
    "<f16",
    ">i4",
    "float64",
    "|O",
    "|S0",
    "<U0",
    "|V4",
    "a",
    "<zz",
    "i8,i8",
    "(2,)<i8",
    "<U999999999",
    "|S2000000",
    "<U" + "9" * 30,
]
REPLACEMENTS: list[tuple[str, list[str]]] = [
    *((f'"{tag}"', [f'"{t}"' for t in TAGS if t != tag]) for tag in TAGS),
    ("1", HUGE_NUMBERS),
    ("2", HUGE_NUMBERS),
    ("6", HUGE_NUMBERS),
    ("1.0", HUGE_NUMBERS),
    ('"<i8"', [f'"{t}"' for t in DTYPE_TEXTS]),
    ('"<U2"', [f'"{t}"' for t in DTYPE_TEXTS]),
    ('"<f4"', [f'"{t}"' for t in DTYPE_TEXTS]),
    ('"|O"', [f'"{t}"' for t in DTYPE_TEXTS]),
    ("[2,3]", ["[4611686018427387904,0]", "[4611686018427387904]", "[-1]", "[0,0]", "[1.5]"]),
    ("[3]", ["[1099511627776]", "[]", "[[3]]", "[0]"]),
    ("null", ["[" * 150 + "]" * 150, '{"$tuple":[' * 60 + "]}" * 60, "NaN", "1e400", "{}"]),
    ('"a"', ['"\\ud800"', '"\\u0000"', "[" * 3000, '"' + "[" * 300 + '"']),
    ('"AP8="', ['"!!"', '"' + "A" * 4000 + '"', '""', '"AP8"']),
    ('"fields":{', ['"fields":[', '"fields":{"extra":1,']),
    (f'"{__name__}:', ['"os:', '"unittest.__main__:', '"', f'"{__name__}.x:']),
]


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    """The sample file with one to three of its lines changed (a line at a time, so the rest
    still parses and the decoder sees the change)."""
    lines = list(SAMPLE_LINES)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        line = lines[at]
        how = draw(st.sampled_from(["replace"] * 6 + ["flip", "truncate", "nest", "drop"]))
        if how == "flip" and line:
            byte = draw(st.integers(0, len(line) - 1))
            line = (
                line[:byte] + bytes([line[byte] ^ 1 << draw(st.integers(0, 7))]) + line[byte + 1 :]
            )
        elif how == "truncate":
            line = line[: draw(st.integers(0, len(line)))]
        elif how == "nest":
            depth = draw(st.sampled_from([99, 100, 101, 5000]))
            line = line.replace(b'"result":', b'"result":' + b"[" * depth, 1) + b"]" * depth
        elif how == "drop":
            del lines[at]
            continue
        else:
            old, news = draw(st.sampled_from(REPLACEMENTS))
            found = line.count(old.encode())
            if found:
                nth = draw(st.integers(0, found - 1))
                index = -1
                for _ in range(nth + 1):
                    index = line.index(old.encode(), index + 1)
                line = (
                    line[:index] + draw(st.sampled_from(news)).encode() + line[index + len(old) :]
                )
        lines[at] = line
    return b"".join(line + b"\n" for line in lines)


LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([-1, 0, 2**62, 2**63, 2**64, 10**400])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
PATHS = st.sampled_from(
    [
        *(f"{cls.__module__}:{cls.__qualname__}" for cls in ALLOWED),
        "os:system",
        "unittest.__main__:TestProgram",
        "m:C",
        "",
        ":",
    ]
)
SHAPES = st.lists(st.sampled_from([0, 1, 2, 3, 2**40, 2**62, 2**63, 2**64, -1]), max_size=4)
DATA = st.sampled_from(["", "AQAAAAAAAAA=", "AAAA", "!!"]) | st.binary(max_size=24).map(
    lambda raw: base64.b64encode(raw).decode()
)
DTYPES = st.sampled_from(DTYPE_TEXTS)


@st.composite
def tagged(draw: st.DrawFn, inner: st.SearchStrategy[object]) -> dict[str, object]:
    """A tagged object, well-formed or nearly, holding ``inner`` values."""
    items = st.lists(inner, max_size=3)
    tag = draw(st.sampled_from(TAGS))
    if tag in ("$tuple", "$set", "$frozenset"):
        return {tag: draw(items)}
    if tag == "$dict":
        return {tag: draw(st.lists(st.lists(inner, min_size=2, max_size=2), max_size=3))}
    if tag == "$complex":
        return {tag: draw(st.lists(st.floats() | inner, max_size=3))}
    if tag == "$bytes":
        return {tag: draw(DATA)}
    if tag == "$float":
        return {tag: draw(st.sampled_from(["nan", "inf", "-inf", "NaN"]))}
    if tag == "$int":
        return {tag: draw(st.sampled_from(["ff", "-1", "xyz", "f" * 3000]))}
    if tag == "$repr":
        return {tag: draw(st.text(max_size=5) | inner)}
    if tag == "$ndarray":
        last = draw(st.sampled_from(["data", "items"]))
        body = draw(DATA) if last == "data" else draw(items)
        return {tag: {"dtype": draw(DTYPES), "shape": draw(SHAPES), last: body}}
    if tag == "$npscalar":
        return {tag: {"dtype": draw(DTYPES), "value": draw(inner)}}
    if tag == "$dataclass":
        fields = st.dictionaries(st.sampled_from(["x", "y", "n"]), inner, max_size=2)
        return {tag: draw(PATHS), "fields": draw(fields)}
    return {tag: draw(PATHS), "value": draw(inner)}  # "$enum"


KEYS = st.sampled_from([*TAGS, *FIELDS, "dtype", "shape", "data", "items", "value", "fields"])
JSON = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(KEYS | st.text(max_size=3), inner, max_size=3)
        | tagged(inner)
        | tagged(inner)
    ),
    max_leaves=12,
)
TIMES = st.none() | st.floats(allow_nan=False) | st.integers() | st.sampled_from([10**400])


@st.composite
def entries(draw: st.DrawFn) -> dict[str, object]:
    """An entry object whose values are random JSON (tagged or not); now and then a field
    missing, an extra one, or a field of the wrong kind."""
    entry: dict[str, object] = {
        "request": draw(st.text(max_size=5)),
        "args": draw(st.lists(JSON, max_size=3)),
        "kwargs": draw(st.dictionaries(st.text(max_size=3), JSON, max_size=2)),
        "result": draw(JSON),
        "error": draw(st.none() | st.text(max_size=5)),
        "time": draw(TIMES),
        "client": draw(st.none() | st.text(max_size=3)),
        "issued_at": draw(TIMES),
        "answered_at": draw(TIMES),
    }
    change = draw(st.sampled_from(["none"] * 5 + ["drop", "add", "wrong"]))
    if change == "drop":
        del entry[draw(st.sampled_from(FIELDS))]
    elif change == "add":
        entry[draw(KEYS)] = draw(JSON)
    elif change == "wrong":
        entry[draw(st.sampled_from(FIELDS))] = draw(JSON)
    return entry


def check_load(path: Path, classes: tuple[type, ...] = ()) -> None:
    """``Trace.load(path)`` gives a Trace (that digests) or a ValueError naming the line, within
    the memory bound."""

    def load_and_digest() -> Trace:
        trace = Trace.load(path, classes=classes) if classes else Trace.load(path)
        trace.digest()
        return trace

    outcome, peak = peak_bytes(load_and_digest)
    if isinstance(outcome, ValueError):
        assert str(outcome).startswith(f"{path}, line "), outcome
    else:
        assert isinstance(outcome, Trace), outcome
    assert peak <= MEMORY_BASE + MEMORY_PER_BYTE * path.stat().st_size


@FUZZ
@given(st.binary(max_size=400), st.booleans())
def test_fuzz_random_bytes(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, header: bool
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "t.jsonl"
    path.write_bytes((HEADER.encode() + b"\n" if header else b"") + data)
    check_load(path)


@FUZZ
@given(st.lists(entries(), min_size=1, max_size=3), st.booleans())
def test_fuzz_random_json_lines(
    tmp_path_factory: pytest.TempPathFactory, entries: list[object], allow: bool
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "t.jsonl"
    lines = [HEADER, *(json.dumps(entry) for entry in entries)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    check_load(path, ALLOWED if allow else ())


@FUZZ
@given(mutated_samples(), st.booleans())
def test_fuzz_mutations_of_a_real_trace(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, allow: bool
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "t.jsonl"
    path.write_bytes(data)
    check_load(path, ALLOWED if allow else ())


def test_the_fuzzed_sample_loads_as_written(tmp_path: Path) -> None:
    path = tmp_path / "sample.jsonl"
    path.write_bytes(SAMPLE)
    loaded = Trace.load(path, classes=(Point, Colour))
    assert len(loaded) >= 11
    again = tmp_path / "again.jsonl"
    loaded.dump(again)
    assert again.read_bytes() == SAMPLE
