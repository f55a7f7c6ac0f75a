"""Every cookbook recipe runs and prints exactly its trailing ``# Expected output:`` block."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COOKBOOK = ROOT / "cookbook"
RECIPES = sorted(p for p in COOKBOOK.glob("*.py") if not p.name.startswith("__"))
MARKER = "# Expected output:"


def expected_output(path: Path) -> str | None:
    """The stdout a recipe promises: its trailing comment block after ``MARKER``."""
    lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    try:
        start = len(lines) - 1 - lines[::-1].index(MARKER)
    except ValueError:
        return None
    out: list[str] = []
    for line in lines[start + 1 :]:
        if line == "#":
            out.append("")
        elif line.startswith("# "):
            out.append(line[2:])
        else:
            raise AssertionError(f"{path.name}: non-comment line after {MARKER!r}: {line!r}")
    return "".join(text + "\n" for text in out)


def expected_lines(stem: str) -> list[str]:
    expected = expected_output(COOKBOOK / f"{stem}.py")
    assert expected is not None
    return expected.splitlines()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    env.pop("PYTHONWARNINGS", None)
    return env


def test_there_are_recipes() -> None:
    assert len(RECIPES) >= 6


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_is_documented(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc, f"{path.name} needs a module docstring saying what it shows"
    assert expected_output(path) is not None, f"{path.name} must end with {MARKER!r}"
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "main" in names, f"{path.name} needs a main()"


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_prints_its_expected_output(path: Path) -> None:
    expected = expected_output(path)
    assert expected is not None
    proc = subprocess.run(
        [sys.executable, str(path)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stderr}"
    assert proc.stdout == expected


def test_python_m_cookbook_runs_a_recipe() -> None:
    target = "runner_deploy_a_coroutine"  # cheap: one recipe, selected by name
    proc = subprocess.run(
        [sys.executable, "-m", "cookbook", target],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"=== {target} ===" in proc.stdout
    assert proc.stdout.splitlines()[1:] == [*expected_lines(target), "1 of 1 recipes passed"]


def test_python_m_cookbook_fails_on_unknown_recipe() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cookbook", "no_such_recipe_anywhere"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
