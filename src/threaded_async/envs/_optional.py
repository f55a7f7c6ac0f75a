"""The optional packages of ``threaded_async[envs]`` and ``threaded_async[ray]``, imported
only when they are needed."""

from __future__ import annotations

import importlib
from typing import Any

EXTRA = 'pip install "threaded_async[envs]"'


def require(module: str, what: str, extra: str = EXTRA) -> Any:
    """Import ``module`` for ``what``; ImportError naming the extra if it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.partition(".")[0]
        raise ImportError(f"{what} needs the {package} package: {extra}") from exc


class Progress:
    """A tqdm progress bar counting ``unit``s (out of ``total`` if known), labelled
    ``description``; nothing when the description is None (no progress wanted) or tqdm is
    not installed."""

    def __init__(
        self, description: str | None, *, unit: str = "step", total: int | None = None
    ) -> None:
        self._bar: Any = None
        if description is None:
            return
        try:
            tqdm = importlib.import_module("tqdm")
        except ImportError:
            return
        self._bar = tqdm.tqdm(desc=description, unit=unit, total=total)

    def update(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
