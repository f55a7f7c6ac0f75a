"""The README's Python examples run as written, one after the other in one process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_examples() -> None:
    assert len(python_blocks()) >= 2


def test_readme_examples_run_and_print_what_their_comments_say() -> None:
    # The control-inversion block reuses the imports of the first block, like a reader would.
    script = "\n".join(python_blocks()) + "\nprint('agent done:', task.done(), clock.time())\n"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "42",
        "2",
        "4",
        "on the loop thread",
        "agent done: True 60.0",
    ]
