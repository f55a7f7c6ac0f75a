"""The optional packages of ``threaded_async[envs]`` and ``threaded_async[ray]``, imported
only when they are needed."""

from __future__ import annotations

import importlib
import time
from typing import Any

EXTRA = 'pip install "threaded_async[envs]"'


def require(module: str, what: str, extra: str = EXTRA) -> Any:
    """Import ``module`` for ``what``; ImportError naming the extra if it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.partition(".")[0]
        raise ImportError(f"{what} needs the {package} package: {extra}") from exc


def optional(module: str) -> Any:
    """Import ``module`` if it is installed; None if it is not."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


class Progress:
    """A progress bar on stderr counting ``unit``s (out of ``total`` if known), labelled
    ``description``: tqdm's if tqdm is installed, else rich's if rich is; nothing when
    the description is None (no progress wanted) or neither is installed.

    Used by one thread at a time (the one that runs the episodes: the host thread, or
    the caller of ``run_episodes``); never starts a thread of its own and leaves
    ``sys.stdout``/``sys.stderr`` alone. :meth:`update` does not block (the bar is
    redrawn at most every ``REFRESH`` seconds); :meth:`close` draws it a last time.
    """

    #: Seconds between two redraws of a rich bar (tqdm has its own rate).
    REFRESH = 0.1

    def __init__(
        self, description: str | None, *, unit: str = "step", total: int | None = None
    ) -> None:
        self._bar: Any = None
        self._rich: Any = None
        #: Whether a bar is shown (so a caller on a hot path can skip :meth:`update`).
        self.active = False
        self._task: Any = None
        self._drawn = 0.0
        if description is None:
            return
        tqdm = optional("tqdm")
        if tqdm is not None:
            self._bar = tqdm.tqdm(desc=description, unit=unit, total=total)
            self.active = True
            return
        rich = optional("rich.progress")
        if rich is None:
            return
        console = importlib.import_module("rich.console").Console(stderr=True)
        self._rich = rich.Progress(
            rich.TextColumn("{task.description}"),
            rich.BarColumn(),
            rich.MofNCompleteColumn(),
            rich.TextColumn(f"{unit}s"),
            rich.TimeElapsedColumn(),
            console=console,
            auto_refresh=False,  # no refresh thread: update() redraws
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._rich.add_task(description, total=total)
        self._rich.start()
        self._drawn = time.monotonic()
        self.active = True

    def update(self) -> None:
        """One more ``unit`` done."""
        if self._bar is not None:
            self._bar.update(1)
        elif self._rich is not None:
            self._rich.advance(self._task)
            now = time.monotonic()
            if now - self._drawn >= self.REFRESH:
                self._drawn = now
                self._rich.refresh()

    def close(self) -> None:
        """Draw the bar a last time and leave it on stderr; idempotent."""
        self.active = False
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._rich is not None:
            rich, self._rich = self._rich, None
            rich.refresh()
            rich.stop()
