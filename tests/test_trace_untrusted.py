"""Trace files are hostile input: ``Trace.load`` and ``decode`` import no module a file names,
run no code of a class it names (unless the caller allows the class), allocate no more than
the file's bytes justify, bound nesting, and raise only ValueError naming the line."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import json
import sys
import tracemalloc
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from threaded_async._trace import Trace, TraceEntry, Undecoded, decode

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
