"""Run every cookbook recipe, each in its own subprocess, in sorted order.

``uv run python -m cookbook`` runs them all; ``uv run python -m cookbook NAME ...`` runs only
the recipes whose file stem contains one of the given names. Exits non-zero if any fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def recipes() -> list[Path]:
    """Every recipe file, sorted by name."""
    return sorted(p for p in HERE.glob("*.py") if not p.name.startswith("__"))


def main(argv: list[str] | None = None) -> int:
    """Run the selected recipes; return the process exit code (0 if all passed)."""
    names = sys.argv[1:] if argv is None else argv
    selected = [p for p in recipes() if not names or any(n in p.stem for n in names)]
    if not selected:
        print(f"no recipe matches {names}", file=sys.stderr)
        return 2
    failed: list[str] = []
    for path in selected:
        print(f"=== {path.stem} ===", flush=True)
        proc = subprocess.run(
            [sys.executable, str(path)],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            sys.stdout.write(proc.stderr)
            print(f"--- {path.stem} FAILED (exit code {proc.returncode})")
            failed.append(path.stem)
        sys.stdout.flush()
    print(f"{len(selected) - len(failed)} of {len(selected)} recipes passed")
    if failed:
        print("failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
