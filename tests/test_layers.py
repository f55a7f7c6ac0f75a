"""The package's layering rule (ARCHITECTURE.md), checked by parsing every import.

Each module of ``src/threaded_async`` belongs to a layer; it may import only from lower
layers or from modules listed before it in its own layer, and from ``_core`` only through
the package (``from ._core import X``, never ``from ._core._loop import X``). The one
exception: a ``TYPE_CHECKING``-only import of ``AsyncRunner`` from ``_runner``, to annotate a
public ``runner`` parameter. Like trio's and anyio's export tests, this fails as soon as a
dependency points up, so the layers stay what ``docs/internals.md`` says they are.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "threaded_async"

#: Inside ``_core`` (L0): each module may import only the ones before it.
CORE_ORDER = [
    "_errors",
    "_timeouts",
    "_waiters",
    "_timer",
    "_outcome",
    "_schedule",
    "_clock",
    "_family",
    "_loop",
    "_vtime",
    "_token",
    "_view",
    "_idle",
]

#: Inside ``_control`` (L4): each part may import only the ones before it (a type-only
#: import of a later one, to annotate, is fine).
CONTROL_ORDER = ["_request", "_handlers", "_inbox", "_recorder", "_futures", "_client", "_server"]

#: Packages whose parts are checked against their own order.
ORDERED_PACKAGES = {"_core": CORE_ORDER, "_control": CONTROL_ORDER}

#: The package's layers, lowest first; within a layer, a module may import earlier ones.
LAYERS: list[list[str]] = [
    ["_core"],  # L0: waiting and waking, the loop and its time; knows no runner
    [  # L1: primitives, which reach a runner only through its LoopToken
        "_async_utils",
        "_codec",
        "_trace",
        "_signal",
        "_future",
        "_event",
        "_queue",
        "_work_tracker",
        "_request_registry",
        "_cancel",
        "_task",
    ],
    ["_taskgroup", "_threads"],  # L2: structure built on the primitives
    ["_runner"],  # L3: the runner: lifecycle, loop thread, teardown
    ["_control", "_actor", "_answers", "_explore"],  # L4: models built on a runner
    # L5: the public face: re-exports and public modules built on public names.
    ["threaded_async", "control_inversion", "async_utils", "timers", "__init__"],
    ["testing", "envs", "demo", "pytest_plugin"],
]

RANK = {
    name: (layer, index) for layer, names in enumerate(LAYERS) for index, name in enumerate(names)
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "_queue" or "_core._loop"
    target: str  # what it imports from, relative to the package, e.g. "_core" or "_runner"
    line: int
    type_only: bool
    #: Inside a function: made when it is called, not when the module is imported.
    deferred: bool = False


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _function_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        type_only = _type_checking_lines(tree)
        in_function = _function_lines(tree)
        package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
        if module == "__init__":
            package = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "threaded_async" or alias.name.startswith("threaded_async."):
                        found.append(
                            Import(module, alias.name, node.lineno, node.lineno in type_only)
                        )
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    name = node.module or ""
                    if name == "threaded_async" or name.startswith("threaded_async."):
                        target = name.removeprefix("threaded_async").lstrip(".") or "__init__"
                        found.append(Import(module, target, node.lineno, node.lineno in type_only))
                    continue
                deferred = node.lineno in in_function
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                if node.module:
                    target = ".".join([*base, node.module])
                    found.append(
                        Import(module, target, node.lineno, node.lineno in type_only, deferred)
                    )
                else:  # from . import x
                    for alias in node.names:
                        target = ".".join([*base, alias.name])
                        found.append(
                            Import(module, target, node.lineno, node.lineno in type_only, deferred)
                        )
    return found


IMPORTS = _imports()


def _violations() -> list[str]:
    return _check(IMPORTS)


def test_the_scan_sees_the_package() -> None:
    modules = {i.module for i in IMPORTS}
    assert {"_queue", "_runner", "_control", "_core._token", "__init__"} <= modules
    assert any(i.module == "_queue" and i.target == "_core" for i in IMPORTS)


def test_every_module_has_a_layer() -> None:
    top = {
        _module_name(p).split(".")[0]
        for p in PACKAGE.rglob("*.py")
        if not _module_name(p).startswith("_core.")
    }
    top.discard("_core")
    missing = sorted(top - set(RANK))
    assert not missing, f"modules without a layer in tests/test_layers.py: {missing}"
    for package, order in ORDERED_PACKAGES.items():
        parts = {p.stem for p in PACKAGE.glob(f"{package}/_*.py") if p.name != "__init__.py"}
        assert parts == set(order), f"{package} modules not in its order: {parts ^ set(order)}"


def _check(imports: list[Import]) -> list[str]:
    bad: list[str] = []
    for imp in imports:
        where = f"{imp.module} (line {imp.line}) imports {imp.target}"
        source_parts = imp.module.split(".")
        target_parts = imp.target.split(".")
        if source_parts[0] == "_core" and target_parts[0] != "_core":
            bad.append(f"{where}: _core must import nothing outside _core")
            continue
        order = ORDERED_PACKAGES.get(source_parts[0])
        if order is not None and target_parts[0] == source_parts[0]:
            if len(source_parts) > 1 and len(target_parts) > 1:
                src, dst = source_parts[1], target_parts[1]
                if order.index(dst) >= order.index(src) and not imp.type_only:
                    bad.append(
                        f"{where}: inside {source_parts[0]}, import only modules listed earlier"
                    )
            continue
        if target_parts[0] in ORDERED_PACKAGES and len(target_parts) > 1:
            bad.append(f"{where}: import from .{target_parts[0]}, not from its insides")
            continue
        source, target = source_parts[0], target_parts[0]
        if imp.type_only and target == "_runner":
            continue  # annotating a public `runner` parameter
        if source == "testing" and target == "envs" and (imp.type_only or imp.deferred):
            # testing.explore(episode=...) annotates with Episode and, for engine=, calls
            # run_episodes when it is called (envs imports testing at import time).
            continue
        if source == target and len(source_parts) + len(target_parts) > 2:
            continue  # inside one public package (envs): its own business
        if target not in RANK or source not in RANK:
            continue
        if RANK[target] >= RANK[source]:
            bad.append(f"{where}: a dependency that points up (layers in tests/test_layers.py)")
    return bad


def test_dependencies_point_down() -> None:
    bad = _violations()
    assert not bad, "layering violations:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("module", "target", "type_only", "allowed"),
    [
        ("_queue", "_core", False, True),
        ("_queue", "_core._loop", False, False),
        ("_core._loop", "_runner", True, False),
        ("_task", "_runner", False, False),
        ("_queue", "_runner", True, True),
        ("_runner", "_control", False, False),
        ("_control", "_runner", False, True),
        ("_core._clock", "_core._token", False, False),
        ("_control._server", "_control._request", False, True),
        ("_control._request", "_control._server", False, False),
        ("_control._request", "_control._server", True, True),
        ("_envs", "_control._server", False, False),
        ("_actor", "_control._server", False, False),
        ("testing", "envs", False, False),
        ("testing", "envs", True, True),
    ],
)
def test_the_rule_itself(module: str, target: str, type_only: bool, allowed: bool) -> None:
    """The checker would catch each kind of violation (and allow what is allowed)."""
    assert (not _check([Import(module, target, 1, type_only)])) == allowed


def test_testing_imports_envs_only_when_explore_runs_episodes() -> None:
    """The one upward edge: a deferred import inside a function, never at import time."""
    assert not _check([Import("testing", "envs", 1, False, deferred=True)])
    upward = [i for i in IMPORTS if i.module == "testing" and i.target == "envs"]
    assert upward
    assert all(i.type_only or i.deferred for i in upward)


# -- docs/internals.md shows this table ---------------------------------------------------------
DOC = PACKAGE.parents[1] / "docs" / "internals.md"
BEGIN, END = "<!-- layers: generated by tests/test_layers.py -->", "<!-- /layers -->"

#: What each layer is, for the table in docs/internals.md.
LAYER_ROLES = [
    "how threads and coroutines wait and wake; the event loop and its time. Knows no "
    "runner. Others import only `from ._core import X`.",
    "primitives; they reach a runner only through its `LoopToken`",
    "structure built on the primitives",
    "`AsyncRunner`: the lifecycle state machine, the loop thread, teardown; owns the token "
    "and its `ThreadGroup`",
    "models built on a runner: control inversion, actors",
    "the public face: re-exports only",
    "public modules built on public names",
]


def layer_table() -> str:
    """The layer table of docs/internals.md, made from LAYERS and the packages' orders."""
    rows = ["| layer | modules | what it is |", "|---|---|---|"]
    for number, (names, role) in enumerate(zip(LAYERS, LAYER_ROLES, strict=True)):
        shown: list[str] = []
        for name in names:
            order = ORDERED_PACKAGES.get(name)
            inside = f" (`{'`, `'.join(order)}`)" if order else ""
            shown.append(f"`{name}/`{inside}" if order else f"`{name}`")
        rows.append(f"| L{number} | {', '.join(shown)} | {role} |")
    return "\n".join(rows)


def test_docs_internals_shows_the_layer_table() -> None:
    """docs/internals.md's table is this file's (``python tests/test_layers.py`` writes it)."""
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    assert text[start:end].strip() == layer_table(), "run: python tests/test_layers.py"


if __name__ == "__main__":  # regenerate the table in docs/internals.md
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + layer_table() + "\n" + text[end:], encoding="utf-8")
