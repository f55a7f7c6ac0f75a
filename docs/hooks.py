"""MkDocs hook: build the cookbook page from the recipes in ``cookbook/``.

Each recipe's module docstring becomes its description and the file itself is shown, so the
page can never drift from the recipes that ``tests/test_cookbook.py`` runs.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

MARKER = "<!-- recipes -->"
COOKBOOK = Path(__file__).resolve().parent.parent / "cookbook"


def _recipe_section(path: Path) -> str:
    source = path.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source)) or ""
    title, _, rest = doc.partition("\n")
    mirrors = [
        line.removeprefix("# Mirrors:").strip()
        for line in source.splitlines()
        if line.startswith("# Mirrors:")
    ]
    parts = [f"## {path.stem}", "", f"**{title.strip()}**", ""]
    if rest.strip():
        parts += [rest.strip(), ""]
    if mirrors:
        parts += [f"*Mirrors:* {mirrors[0]}", ""]
    parts += [
        f"Run it with `uv run python cookbook/{path.name}`.",
        "",
        '??? example "Source and expected output"',
        "",
        "    ```python",
        *[f"    {line}" if line else "" for line in source.rstrip("\n").splitlines()],
        "    ```",
        "",
    ]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    recipes = sorted(
        p for p in COOKBOOK.glob("*.py") if p.name not in ("__init__.py", "__main__.py")
    )
    index = "\n".join(f"- [`{p.stem}`](#{p.stem})" for p in recipes)
    sections = "\n".join(_recipe_section(p) for p in recipes)
    return markdown.replace(MARKER, f"{index}\n\n{sections}")
