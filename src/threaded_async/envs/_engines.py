"""run_episodes: many seeded episodes, in this process, in worker processes or on Ray actors.

Over 600 lines: the engines share one scheduler (seeds queued per worker, deaths, time
limits, start-up failures, Ctrl-C) and one wire format for what comes back, and each
backend is small beside them; splitting would spread one protocol over several files.
"""

from __future__ import annotations

import collections
import dataclasses
import importlib
import io
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, Literal, Self, TypeVar, overload

from ._episode import Episode
from ._optional import Progress, require
from ._session import inline_by_default

__all__ = ["EpisodeFailure", "RunEpisodesError", "run_episodes"]

#: What ``run_episodes`` runs: a picklable function that builds its own host, env and
#: agents and returns the episode of one seed.
EpisodeFn = Callable[[int], Episode]

#: Why an episode did not come back (:attr:`EpisodeFailure.reason`).
FailureReason = Literal["raised", "died", "timed out"]

RAY_EXTRA = 'pip install "threaded_async[ray]"'
#: How worker processes start: a fresh interpreter, safe with the loop threads of the
#: parent (``fork`` is not: a child forked from a process with running threads can
#: deadlock, and Python 3.12+ warns about it). The same on Linux, macOS and Windows.
START_METHOD = "spawn"
#: Real seconds a worker gets to exit after its last episode before it is killed.
STOP_TIMEOUT = 10.0
#: Real seconds the workers killed on Ctrl-C (or another error) get to be reaped before
#: the exception reaches the caller (a killed process is gone in milliseconds).
ABORT_TIMEOUT = 1.0
#: Real seconds to wait for the answer of a Ray task that ``ray.wait`` reported ready.
RAY_GET_TIMEOUT = 60.0
#: Real seconds a new worker may take to start (a fresh interpreter and its imports, a Ray
#: actor waiting for a CPU) while no other worker is ready, before the seeds not run yet
#: are failed; and how many workers may die in a row while starting.
START_TIMEOUT = 120.0
START_FAILURES = 3


class EpisodeFailure(Exception):
    """A seed whose episode did not come back from :func:`run_episodes`.

    One per failed seed, in :attr:`RunEpisodesError.exceptions`. ``str()`` of it names
    the seed and what happened.

    Attributes:
        seed: The seed whose episode failed.
        reason: ``"raised"``: ``episode_fn(seed)`` raised (an agent's error, which
            ``run_episode`` raises by default, or any other; or it returned something
            that is not an :class:`Episode`, or an episode that could not be sent back
            from the worker); ``"died"``: the worker process or Ray actor running it died
            (a crash, ``os._exit``, a kill, the machine lost); ``"timed out"``: it ran
            longer than ``timeout`` and its worker was killed.
        type: The class name of the exception (``"raised"``; for ``"died"`` on Ray, the
            Ray error's), else ``""``.
        message: ``str()`` of the exception, or what happened to the worker.
        traceback: The formatted traceback, as Python prints it, from the process that
            ran the episode (``""`` when there is none).
        exception: The exception itself when there is one and it could be brought back
            from the worker (by pickle), else None. Not kept when the failure is pickled.
        episode: The episode recorded until the failure, when the exception carried one
            as its ``episode`` attribute (as ``run_episode`` attaches it to an agent's
            error): its steps, trace and :attr:`Episode.error` (whose ``exception`` is a
            RuntimeError of the same text if the agent's could not be pickled back from
            the worker). Else None. Kept when the failure is pickled.
    """

    def __init__(
        self,
        seed: int,
        reason: FailureReason,
        type: str,
        message: str,
        traceback: str = "",
        exception: BaseException | None = None,
        episode: Episode | None = None,
    ) -> None:
        super().__init__(seed, reason, type, message, traceback)
        self.seed = seed
        self.reason: FailureReason = reason
        self.type = type
        self.message = message
        self.traceback = traceback
        self.exception = exception
        self.episode = episode

    def __str__(self) -> str:
        what = f"{self.type}: {self.message}" if self.type else self.message
        episode = self.episode
        if episode is not None and episode.error is not None:
            what += f" (agent {episode.error.agent!r}, after {episode.steps} steps)"
        return f"seed {self.seed} {self.reason}: {what}"

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.seed, self.reason, self.type, self.message, self.traceback)
        return (self.__class__, (*args, None, self.episode))


class RunEpisodesError(ExceptionGroup[EpisodeFailure]):
    """Some episodes of :func:`run_episodes` failed; the others came back.

    Raised once every seed has been run (none is abandoned because another failed). An
    :class:`ExceptionGroup` of one :class:`EpisodeFailure` per failed seed, in the order
    of the seeds, so ``except* EpisodeFailure`` works; :attr:`results` has every seed's
    outcome in order, :attr:`episodes` the episodes that came back (a failed seed's
    recorded episode, if any, is its failure's :attr:`EpisodeFailure.episode`).
    """

    def __new__(
        cls,
        message: str,
        failures: Sequence[EpisodeFailure],
        results: Sequence[Episode | EpisodeFailure] = (),
    ) -> Self:
        return super().__new__(cls, message, failures)

    def __init__(
        self,
        message: str,
        failures: Sequence[EpisodeFailure],
        results: Sequence[Episode | EpisodeFailure] = (),
    ) -> None:
        super().__init__(message, failures)
        self._results = tuple(results)

    def derive(self, excs: Sequence[EpisodeFailure]) -> RunEpisodesError:  # pyright: ignore[reportIncompatibleMethodOverride]
        """A group with the same message and results and ``excs`` (for ``split`` and
        ``subgroup``, i.e. ``except*``)."""
        return RunEpisodesError(self.message, excs, self._results)

    @property
    def results(self) -> list[Episode | EpisodeFailure]:
        """One outcome per seed, in the order of the seeds: its :class:`Episode`, or its
        :class:`EpisodeFailure`."""
        return list(self._results)

    @property
    def episodes(self) -> list[Episode]:
        """The episodes that came back, in the order of their seeds."""
        return [result for result in self._results if isinstance(result, Episode)]

    @property
    def failures(self) -> list[EpisodeFailure]:
        """The failed seeds' failures, in the order of the seeds (as ``exceptions``)."""
        return [exc for exc in self.exceptions if isinstance(exc, EpisodeFailure)]


@overload
def run_episodes(
    episode_fn: Callable[[int], Episode],
    seeds: Iterable[int],
    *,
    engine: Literal["local", "process", "ray"] = "local",
    workers: int | None = None,
    progress: bool = False,
    timeout: float | None = 600.0,
    ray_options: Mapping[str, Any] | None = None,
    raise_errors: Literal[True] = True,
) -> list[Episode]: ...


@overload
def run_episodes(
    episode_fn: Callable[[int], Episode],
    seeds: Iterable[int],
    *,
    engine: Literal["local", "process", "ray"] = "local",
    workers: int | None = None,
    progress: bool = False,
    timeout: float | None = 600.0,
    ray_options: Mapping[str, Any] | None = None,
    raise_errors: Literal[False],
) -> list[Episode | EpisodeFailure]: ...


@overload
def run_episodes(
    episode_fn: Callable[[int], Episode],
    seeds: Iterable[int],
    *,
    engine: Literal["local", "process", "ray"] = "local",
    workers: int | None = None,
    progress: bool = False,
    timeout: float | None = 600.0,
    ray_options: Mapping[str, Any] | None = None,
    raise_errors: bool,
) -> list[Episode] | list[Episode | EpisodeFailure]: ...


def run_episodes(
    episode_fn: Callable[[int], Episode],
    seeds: Iterable[int],
    *,
    engine: Literal["local", "process", "ray"] = "local",
    workers: int | None = None,
    progress: bool = False,
    timeout: float | None = 600.0,
    ray_options: Mapping[str, Any] | None = None,
    raise_errors: bool = True,
) -> list[Episode] | list[Episode | EpisodeFailure]:
    """Run ``episode_fn(seed)`` for every seed; return the episodes in the order of
    ``seeds`` (or, with ``raise_errors=False``, each seed's episode or failure).

    ``episode_fn`` builds its own host, env and agents and returns the episode, e.g.::

        def cartpole(seed: int) -> Episode:
            with GymHost("CartPole-v1") as host:
                return host.run_episode(balance, seed=seed)

        episodes = run_episodes(cartpole, range(100), engine="process", workers=4)

    Each call of ``episode_fn`` is on the thread that hosts the env (the host thread of
    its episode). Engines:

    * ``"local"``: one after the other, on the calling thread.
    * ``"process"``: ``workers`` worker processes (default: ``os.cpu_count()``), started
      with the ``"spawn"`` method (a fresh interpreter: safe beside running loop
      threads), each running one episode at a time on its main thread; ``episode_fn`` is
      sent by pickle, so it must be a module-level function (or a ``functools.partial``
      of one) of an importable module, and a script's must be under
      ``if __name__ == "__main__":``. Where the workers cannot import ``__main__``
      (a notebook, ``python -c``), what ``episode_fn`` needs from it is sent by value
      with cloudpickle (installed with Gymnasium), or refused with a TypeError without
      it; code read from stdin (``python -``) is refused. The workers ignore
      Ctrl-C: a KeyboardInterrupt in the calling thread (or any other exception
      there) kills them at once (SIGKILL; a second Ctrl-C meanwhile is held back until
      they are) and reaches the caller within about a second, the episodes they ran
      lost. After the last seed they are asked to exit, and killed after 10 s.
    * ``"ray"``: ``workers`` Ray actors (default: the cluster's CPUs), each asking for
      one CPU and running one episode at a time on the actor thread that runs its sync
      methods (our loop runs in its own thread beside it). ``ray.init()`` is yours to
      call before (a local cluster or ``ray.init(address=...)``); ``episode_fn`` is sent
      with cloudpickle, and ``ray_options`` go to the actors' ``.options()`` (e.g.
      ``num_cpus``, ``num_gpus``, ``runtime_env``).

    The engine changes where an episode runs, not what happens in it: each episode's
    :meth:`Episode.digest` is the same whichever engine and number of workers ran it.
    In the ``"process"`` and ``"ray"`` workers, hosts made without ``inline=`` step
    inline (the worker's thread runs the agents' loop while it waits for them: faster,
    and the worker has nothing else to do; the engine's ``timeout`` still ends an
    episode whose agent blocks); on the ``"local"`` engine they stay threaded.

    Failures: an episode that raises, whose worker dies or that runs out of ``timeout``
    does not stop the others. Once every seed has run, :class:`RunEpisodesError` is
    raised, with one :class:`EpisodeFailure` (seed, reason, traceback) per failed seed
    and the episodes that came back; with ``raise_errors=False`` the list of every
    seed's :class:`Episode` or :class:`EpisodeFailure` is returned instead. An agent
    that raises is a failure too (``"raised"``): ``run_episode`` raises its error by
    default, with the episode recorded until then attached, which the failure keeps as
    :attr:`EpisodeFailure.episode` (from workers and Ray actors too); an
    ``episode_fn`` that calls ``run_episode(..., raise_errors=False)`` gets that episode
    back, with :attr:`Episode.error` set, and returns it as a success. A dead worker is
    replaced for the remaining seeds.

    Blocks the calling thread until every seed has run; any thread may call it.

    Args:
        episode_fn: ``episode_fn(seed) -> Episode``.
        seeds: The seeds, one episode each (ints; repeats run again).
        engine: ``"local"``, ``"process"`` or ``"ray"``.
        workers: How many episodes run at once (``"local"``: 1, the only choice).
        progress: Show a progress bar of the episodes on stderr: tqdm's, or rich's if
            tqdm is not installed (none if neither is).
        timeout: Real seconds one episode may run on a worker before its worker is
            killed and the seed reported as ``"timed out"``; None for no limit. It
            counts from when the worker starts the episode, so a worker's start-up does
            not count (start-up has its own bound: workers that die while starting,
            three in a row, or none of which is ready within 120 s, fail the seeds not
            run yet). The ``"local"`` engine cannot interrupt the calling thread: there
            it is not applied (the hosts' own ``timeout`` bounds every wait for an
            agent).
        ray_options: Options for the Ray actors (engine ``"ray"`` only); defaults
            ``num_cpus=1``, ``max_restarts=0``.
        raise_errors: True (default): raise :class:`RunEpisodesError` if any episode
            failed. False: return ``list[Episode | EpisodeFailure]``, one per seed in
            order, and raise for none of them.

    Returns:
        The episodes in the order of the seeds; with ``raise_errors=False``, each
        seed's episode or :class:`EpisodeFailure`.

    Raises:
        RunEpisodesError: one or more episodes failed (all the others ran), unless
            ``raise_errors=False``.
        KeyboardInterrupt: Ctrl-C while it runs; the workers are killed first (the
            episodes that came back are lost).
        ImportError: ``engine="ray"`` without Ray (``pip install "threaded_async[ray]"``).
        RuntimeError: ``engine="ray"`` before ``ray.init()``.
        TypeError: ``episode_fn`` cannot be pickled (``"process"``, ``"ray"``); for
            ``"process"``, it needs functions of a ``__main__`` the workers cannot
            import (a notebook, ``python -c``) and cloudpickle is not installed, or the
            code was read from stdin; or a seed is not an int. Raised before any worker
            starts.
        ValueError: an unknown engine, ``workers`` below 1 (or above 1 for
            ``"local"``), a timeout that is not positive, or ``ray_options`` for another
            engine.
    """
    seed_list = _seeds(seeds)
    if engine not in ("local", "process", "ray"):
        raise ValueError(f'engine must be "local", "process" or "ray", not {engine!r}')
    if workers is not None and (isinstance(workers, bool) or not workers >= 1):
        raise ValueError(f"workers must be a positive int, not {workers!r}")
    if engine == "local" and workers not in (None, 1):
        raise ValueError('the "local" engine runs one episode at a time: workers must be 1')
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
    if ray_options is not None and engine != "ray":
        raise ValueError('ray_options are for engine="ray"')
    backend: _Backend[Any] | None = None
    if engine == "process":
        backend = _Processes(_process_blob(episode_fn))
        workers = workers or os.cpu_count() or 1
    elif engine == "ray":
        backend, workers = _ray_backend(episode_fn, workers, ray_options or {})
    label = f"episodes ({engine})" if progress else None
    bar = Progress(label, unit="episode", total=len(seed_list))
    try:
        if backend is None:
            results = _run_local(episode_fn, seed_list, bar)
        else:
            results = _Scheduler[Any](backend, seed_list, timeout, bar).run(workers or 1)
    finally:
        bar.close()
    if not raise_errors:
        return results
    failures = [result for result in results if isinstance(result, EpisodeFailure)]
    if failures:
        listed = ", ".join(str(failure.seed) for failure in failures[:10])
        more = ", ..." if len(failures) > 10 else ""
        raise RunEpisodesError(
            f"{len(failures)} of {len(results)} episodes failed (seeds {listed}{more})",
            failures,
            results,
        )
    return [result for result in results if isinstance(result, Episode)]


def _seeds(seeds: Iterable[int]) -> list[int]:
    listed = list(seeds)
    for seed in listed:
        if isinstance(seed, bool) or not isinstance(seed, int):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"seeds must be ints, not {type(seed).__name__} ({seed!r})")
    return listed


def _pickled(episode_fn: EpisodeFn, dumps: Callable[[Any], bytes], engine: str) -> bytes:
    """``episode_fn`` pickled for the workers; TypeError saying why it cannot be."""
    try:
        return dumps(episode_fn)
    except Exception as exc:
        raise TypeError(
            f"engine={engine!r} sends episode_fn to its workers, which needs pickling it "
            "(a function defined at module level of an importable module, or a "
            f"functools.partial of one): {type(exc).__name__}: {exc}"
        ) from exc


def _process_blob(episode_fn: EpisodeFn) -> bytes:
    """``episode_fn`` pickled for the spawned workers of the ``"process"`` engine.

    A spawned worker is a fresh interpreter: it imports the parent's ``__main__`` again
    (as multiprocessing.spawn does: by module name, else from its file), then unpickles
    ``episode_fn``, which names its functions and classes by module. When ``__main__``
    is not imported there (a notebook, ``python -c``, ``python -m package``) and
    ``episode_fn`` refers to things defined in it, those are sent by value with
    cloudpickle (a dependency of Gymnasium) if it is installed, else TypeError saying
    what to do. When ``__main__`` was read from stdin (``python -``), the workers would
    die reading its file: TypeError at once.
    """
    main = _main_in_workers()
    if main == "unreadable":
        raise TypeError(
            'engine="process" cannot start workers from code read from stdin: each worker '
            'is a fresh interpreter ("spawn") that first runs the main module\'s file '
            "again, and it has none. Put the code in a .py file and run that (its work "
            'under `if __name__ == "__main__":`), or use engine="local" or engine="ray"'
        )
    in_main: list[str] = []
    blob = _pickled(episode_fn, lambda fn: _dumps_noting_main(fn, in_main), "process")
    if not in_main or main == "imported":
        return blob
    cloudpickle = _cloudpickle()
    if cloudpickle is None:
        names = ", ".join(dict.fromkeys(in_main))
        raise TypeError(
            f'engine="process" cannot send episode_fn to its workers: it needs {names}, '
            "defined in __main__ here (a notebook, `python -c` or `python -m "
            'package`), and the workers, fresh interpreters ("spawn"), import '
            "episode_fn by module name, which finds nothing there. Move it into a module "
            "(a .py file) and import it from there, install cloudpickle (then it is sent "
            'by value), or use engine="local" or engine="ray" (which sends it by value '
            "with cloudpickle)"
        )
    return _pickled(episode_fn, cloudpickle.dumps, "process")


def _main_in_workers() -> Literal["imported", "absent", "unreadable"]:
    """What a spawned worker does with this process's ``__main__``, as
    multiprocessing.spawn decides it: imports it again (by its module name, or by
    running its file), does without it (no name, no file: a notebook, ``python -c``;
    or a package's ``__main__``), or fails reading a file that is not one (stdin)."""
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name is not None:
        return "absent" if name == "__main__" or name.endswith(".__main__") else "imported"
    path = getattr(main, "__file__", None)
    if not isinstance(path, str):
        return "absent"
    if os.path.splitext(os.path.basename(path))[0] == "ipython":
        return "absent"  # spawn skips an IPython session's main
    original_dir: Any = getattr(multiprocessing.process, "ORIGINAL_DIR", None)
    if not os.path.isabs(path) and isinstance(original_dir, str):
        path = os.path.join(original_dir, path)
    return "imported" if os.path.isfile(path) else "unreadable"


class _MainSpotter(pickle.Pickler):
    """A pickler that notes the functions and classes of ``__main__`` it pickles by name."""

    def __init__(self, file: io.BytesIO, found: list[str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.found = found

    def reducer_override(self, obj: Any) -> Any:
        in_main = getattr(obj, "__module__", None) == "__main__"
        if in_main and isinstance(obj, type | types.FunctionType):
            self.found.append(getattr(obj, "__qualname__", repr(obj)))
        return NotImplemented


def _dumps_noting_main(value: object, found: list[str]) -> bytes:
    """``pickle.dumps(value)``; the qualified names of what it refers to in ``__main__``
    are appended to ``found``."""
    buffer = io.BytesIO()
    _MainSpotter(buffer, found).dump(value)
    return buffer.getvalue()


def _dumps(value: object) -> bytes:
    """``value`` pickled for the parent: by pickle, else (instances of classes that
    cloudpickle sent by value from ``__main__``) by cloudpickle if it is installed."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        cloudpickle = _cloudpickle()
        if cloudpickle is None:
            raise
        return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _cloudpickle() -> Any:
    """The cloudpickle module, or None if it is not installed."""
    try:
        return importlib.import_module("cloudpickle")
    except ImportError:
        return None


def _format(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def _checked(seed: int, value: object) -> Episode:
    """``value`` if it is an Episode; TypeError otherwise (episode_fn returned something
    else, which its annotation does not stop at run time)."""
    if isinstance(value, Episode):
        return value
    raise TypeError(
        f"episode_fn({seed}) returned {type(value).__name__}, not an Episode "
        "(return host.run_episode(...))"
    )


# -- local ----------------------------------------------------------------------------------


def _run_local(
    episode_fn: EpisodeFn, seeds: list[int], bar: Progress
) -> list[Episode | EpisodeFailure]:
    results: list[Episode | EpisodeFailure] = []
    for seed in seeds:
        try:
            episode = _checked(seed, episode_fn(seed))
        except Exception as exc:
            name, text = type(exc).__name__, _format(exc)
            failure = EpisodeFailure(seed, "raised", name, str(exc), text, exc, _episode_of(exc))
            failure.__cause__ = exc
            results.append(failure)
        else:
            results.append(episode)
        bar.update()
    return results


# -- in a worker: process or Ray actor ------------------------------------------------------


class _EpisodeRunner:
    """``episode_fn`` unpickled in a worker (or what unpickling it raised), and one
    episode run into the bytes the parent decodes with :func:`_decode`: a pickled
    ``("ok", episode)`` or ``("raised", type, message, traceback, exception or None,
    episode or None)``."""

    def __init__(self, blob: bytes) -> None:
        self._fn: EpisodeFn | None = None
        self._load_error = b""
        try:
            self._fn = pickle.loads(blob)
        except Exception as exc:
            self._load_error = _raised(exc)

    def attempt(self, seed: int) -> bytes:
        if self._fn is None:
            return self._load_error
        try:
            with inline_by_default(True):  # a worker only hosts: no loop thread needed
                episode = _checked(seed, self._fn(seed))
            try:
                return _dumps(("ok", _portable(episode)))
            except Exception as exc:
                raise TypeError(
                    f"the episode of seed {seed} cannot be sent back from the worker "
                    f"(pickle: {type(exc).__name__}: {exc}); keep Episode.results picklable"
                ) from exc
        except Exception as exc:
            return _raised(exc)


def _raised(exc: Exception) -> bytes:
    """The answer for an exception: its type, text, traceback, itself if it pickles, and
    the episode it carries (an agent's error) if that pickles (made portable)."""
    carried = exc if _round_trips(exc) else None
    episode = _episode_of(exc)
    if episode is not None:
        episode = _portable(episode)
        if not _round_trips(episode):
            episode = None
    payload = ("raised", type(exc).__name__, str(exc), _format(exc), carried, episode)
    return _dumps(payload)


def _episode_of(exc: BaseException) -> Episode | None:
    """The episode an exception carries as its ``episode`` attribute (``run_episode``
    attaches it to an agent's error), or None."""
    episode = getattr(exc, "episode", None)
    return episode if isinstance(episode, Episode) else None


def _round_trips(value: object) -> bool:
    """Whether ``value`` survives pickling (an exception whose ``__init__`` takes other
    arguments than its ``args`` does not)."""
    try:
        pickle.loads(_dumps(value))
    except Exception:
        return False
    return True


def _portable(episode: Episode) -> Episode:
    """``episode``, with its agent's exception replaced by a RuntimeError of the same text
    if that exception cannot be pickled (the digest does not cover it)."""
    error = episode.error
    if error is None or _round_trips(error.exception):
        return episode
    stand_in = RuntimeError(f"{error.type}: {error.message}")
    return dataclasses.replace(episode, error=dataclasses.replace(error, exception=stand_in))


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, as the cause of its failure."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text.rstrip()}\n"""'


def _decode(blob: bytes, seed: int) -> Episode | EpisodeFailure:
    """What a worker sent back for ``seed``."""
    try:
        payload: Any = pickle.loads(blob)
    except Exception as exc:
        failure = EpisodeFailure(
            seed,
            "raised",
            type(exc).__name__,
            f"what the worker sent back cannot be unpickled here: {exc}",
            _format(exc),
            exc,
        )
        failure.__cause__ = exc
        return failure
    if payload[0] == "ok":
        episode: Episode = payload[1]
        return episode
    _, type_name, message, text, exception, episode = payload
    failure = EpisodeFailure(seed, "raised", type_name, message, text, exception, episode)
    failure.__cause__ = _RemoteTraceback(text)
    return failure


# -- the workers' scheduler: process or Ray -------------------------------------------------


class _Event:
    """What a worker did: became ready, answered its oldest seed, or died."""

    def __init__(self, kind: Literal["ready", "answer", "died"], data: Any = None) -> None:
        self.kind = kind
        self.data = data


W = TypeVar("W")


class _Backend(Generic[W]):
    """Starts, feeds, watches and kills the workers of one engine. A worker runs the seeds
    it is given in order, one at a time, and answers them in that order."""

    #: The engine's words for a worker and for workers, in messages.
    noun, plural = "worker", "workers"
    #: What to check when workers die while starting.
    start_hint = ""
    #: Whether a worker that dies has surely sent every answer before the seed it was
    #: running. True for a pipe (what is written stays readable); not for Ray, where the
    #: reply of a finished call can be lost with the actor's process.
    exact_blame = True

    def start(self) -> W:
        """Start a worker; it reports ``ready`` once it can take seeds."""
        raise NotImplementedError

    def give(self, worker: W, seed: int) -> None:
        """Queue ``seed`` on a ready worker."""
        raise NotImplementedError

    def poll(self, workers: list[W], timeout: float | None) -> list[tuple[W, _Event]]:
        """Wait up to ``timeout`` (None: until one) for events of the workers, and return
        all that are there, in order per worker; a ``died`` event carries
        ``(exception type name or "", message)``."""
        raise NotImplementedError

    def kill(self, worker: W) -> None:
        """Stop a worker now (bounded)."""
        raise NotImplementedError

    def stop(self, workers: list[W]) -> None:
        """Stop the workers at the end (bounded: killed if they do not exit)."""
        for worker in workers:
            self.kill(worker)

    def abort(self, workers: list[W]) -> None:
        """Kill the workers at once, without waiting for their episodes: on Ctrl-C or
        an error (with Ctrl-C held back). Bounded by ``ABORT_TIMEOUT``; an error
        killing one does not spare the others."""
        for worker in workers:
            try:
                self.kill(worker)
            except Exception:
                pass  # the first exception is the one the caller gets


class _Slot(Generic[W]):
    """A worker of the scheduler and the seeds queued on it (indices into the seeds,
    oldest first: the one it runs, then the one it runs next). ``since``: when it
    started, or when its oldest seed did."""

    def __init__(self, worker: W) -> None:
        self.worker = worker
        self.ready = False
        self.queue: collections.deque[int] = collections.deque()
        self.since = time.monotonic()


class _Scheduler(Generic[W]):
    """Runs the seeds on ``count`` workers of a backend.

    Each ready worker has up to ``QUEUED`` seeds: the one it runs and the next, so it
    starts the next as soon as it has sent an episode back, without waiting for us. A
    seed goes to a worker once it is ready, so start-up (a new interpreter, imports, a
    Ray actor waiting for a CPU) never counts towards an episode's ``timeout``; a seed's
    time counts from when the worker answered the one before it. A worker that dies
    fails the seed it was running (``"died"``) and is replaced; one that runs a seed
    over ``timeout`` is killed, that seed ``"timed out"``, and replaced; either way the
    seed queued behind goes back to the others. When the backend cannot tell which of
    the queued seeds was running (``exact_blame``), they all go back as suspects, each
    to be run alone on a worker: the one that dies alone is the one reported. Workers
    that cannot start
    (``START_FAILURES`` deaths in a row before any is ready, or none ready within
    ``START_TIMEOUT``) fail the seeds not run yet, instead of being retried forever.
    """

    QUEUED = 2

    def __init__(
        self, backend: _Backend[W], seeds: list[int], timeout: float | None, bar: Progress
    ) -> None:
        self.backend = backend
        self.seeds = seeds
        self.timeout = timeout
        self.bar = bar
        self.results: list[Episode | EpisodeFailure | None] = [None] * len(seeds)
        self.pending = collections.deque(range(len(seeds)))
        self.slots: list[_Slot[W]] = []
        self.start_failures = 0
        self.last_start_error = ""
        self.suspects: set[int] = set()

    def run(self, count: int) -> list[Episode | EpisodeFailure]:
        """Run every seed; stop the workers politely at the end. On Ctrl-C (or any other
        exception, from here or from the backend) the workers are killed at once, with
        a second Ctrl-C held back meanwhile, and the exception goes on."""
        try:
            for _ in range(min(count, len(self.seeds))):
                self.slots.append(_Slot(self.backend.start()))
            while self.pending or any(slot.queue for slot in self.slots):
                self._step()
            self.backend.stop([slot.worker for slot in self.slots])
        except BaseException as exc:
            held = _HeldInterrupt()
            with held:
                self.backend.abort([slot.worker for slot in self.slots])
            if not isinstance(exc, KeyboardInterrupt):
                held.replay()  # a Ctrl-C during the kills, after another error
            raise
        complete = [result for result in self.results if result is not None]
        assert len(complete) == len(self.results)
        return complete

    def _step(self) -> None:
        deadlines: list[float] = []
        if self.timeout is not None:
            deadlines += [slot.since + self.timeout for slot in self.slots if slot.queue]
        starting = [slot for slot in self.slots if not slot.ready]
        if starting and len(starting) == len(self.slots):
            deadlines.append(min(slot.since for slot in starting) + START_TIMEOUT)
        wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        by_worker = {id(slot.worker): slot for slot in self.slots}
        for worker, event in self.backend.poll([slot.worker for slot in self.slots], wait):
            slot = by_worker[id(worker)]
            if slot in self.slots:  # not replaced by an earlier event of this batch
                self._on(slot, event)
        self._check_times()
        if self.start_failures >= START_FAILURES:
            self._fail_pending(
                f"{self.backend.plural} die while starting ({START_FAILURES} in a row; "
                f"the last: {self.last_start_error}){self.backend.start_hint}"
            )
        for slot in self.slots:
            while slot.ready and self.pending and len(slot.queue) < self.QUEUED:
                if slot.queue and (
                    self.pending[0] in self.suspects or slot.queue[0] in self.suspects
                ):
                    break  # a suspect runs alone
                if not slot.queue:
                    slot.since = time.monotonic()
                index = self.pending.popleft()
                slot.queue.append(index)
                self.backend.give(slot.worker, self.seeds[index])

    def _on(self, slot: _Slot[W], event: _Event) -> None:
        if event.kind == "ready":
            slot.ready = True
            self.start_failures = 0
        elif event.kind == "answer":
            index = slot.queue.popleft()
            self._done(index, _decode(event.data, self.seeds[index]))
            slot.since = time.monotonic()
        else:
            kind, message = event.data
            if len(slot.queue) > 1 and not self.backend.exact_blame:
                self.suspects.update(slot.queue)  # all go back, each to run alone
            elif slot.queue:
                index = slot.queue.popleft()
                self._done(index, EpisodeFailure(self.seeds[index], "died", kind, message))
            elif not slot.ready:
                self.start_failures += 1
                self.last_start_error = f"{kind}: {message}" if kind else message
            self._replace(slot)

    def _check_times(self) -> None:
        now = time.monotonic()
        timeout = self.timeout
        for slot in list(self.slots):
            if slot.queue and timeout is not None and now - slot.since >= timeout:
                index = slot.queue.popleft()
                message = f"it ran longer than {timeout:g} s; its {self.backend.noun} was killed"
                self._done(index, EpisodeFailure(self.seeds[index], "timed out", "", message))
                self._replace(slot)
        starting = [slot for slot in self.slots if not slot.ready]
        if (
            starting
            and len(starting) == len(self.slots)
            and now - min(slot.since for slot in starting) >= START_TIMEOUT
        ):
            self._fail_pending(f"no {self.backend.noun} started within {START_TIMEOUT:g} s")

    def _done(self, index: int, outcome: Episode | EpisodeFailure) -> None:
        self.results[index] = outcome
        self.bar.update()

    def _replace(self, slot: _Slot[W]) -> None:
        """Kill ``slot``'s worker, give back the seeds still queued on it, and start
        another worker in its place if seeds are waiting."""
        self.backend.kill(slot.worker)
        self.slots.remove(slot)
        self.pending.extendleft(reversed(slot.queue))
        slot.queue.clear()
        if self.pending:
            self.slots.append(_Slot(self.backend.start()))

    def _fail_pending(self, message: str) -> None:
        """Fail every seed not run yet (the workers cannot run them)."""
        while self.pending:
            index = self.pending.popleft()
            self.results[index] = EpisodeFailure(self.seeds[index], "died", "", message)
            self.bar.update()


class _HeldInterrupt:
    """Holds back Ctrl-C while the workers are killed, so that a second Ctrl-C cannot
    leave them running: on the main thread (the only one Python delivers SIGINT to), a
    callable SIGINT handler is swapped for one that only notes the signal, and put back
    on exit. :meth:`replay` then runs the held signal's handler (the default one raises
    KeyboardInterrupt). Elsewhere, or with SIG_IGN/SIG_DFL, it does nothing."""

    def __init__(self) -> None:
        self._previous: Callable[[int, Any], Any] | None = None
        self._held = False

    def __enter__(self) -> Self:
        if threading.current_thread() is not threading.main_thread():
            return self
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            try:
                signal.signal(signal.SIGINT, self._hold)
            except ValueError:  # not the main interpreter
                return self
            self._previous = handler
        return self

    def _hold(self, signum: int, frame: Any) -> None:
        self._held = True

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def replay(self) -> None:
        """Run the handler of a Ctrl-C that came while it was held (once)."""
        if self._held and self._previous is not None:
            self._held = False
            self._previous(signal.SIGINT, None)


# -- process --------------------------------------------------------------------------------


def _process_worker(conn: multiprocessing.connection.Connection, blob: bytes) -> None:
    """A worker process: say it is ready (an empty message), then run the seeds the parent
    sends, one at a time and in order, until ``None`` or until the parent is gone.
    Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    runner = _EpisodeRunner(blob)
    try:
        conn.send_bytes(b"")
        while (seed := conn.recv()) is not None:
            conn.send_bytes(runner.attempt(seed))
    except (EOFError, OSError):
        return


class _Process:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: Any, blob: bytes, number: int) -> None:
        parent, child = context.Pipe()
        self.conn: multiprocessing.connection.Connection = parent
        self._child_conn: multiprocessing.connection.Connection | None = child
        self.process: Any = context.Process(
            target=_process_worker,
            args=(child, blob),
            name=f"threaded_async-episodes-{number}",
            daemon=True,
        )
        self.closed = False

    def start(self) -> None:
        self.process.start()
        if self._child_conn is not None:
            self._child_conn.close()
            self._child_conn = None

    def death(self) -> str:
        """What happened to the process, once it has ended (bounded wait)."""
        self.process.join(STOP_TIMEOUT)
        code = self.process.exitcode
        pid = self.process.pid
        if code is None:
            return f"the worker process (pid {pid}) closed its pipe"
        if code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        return f"the worker process (pid {pid}) {how}"


class _Processes(_Backend[_Process]):
    """Worker processes started with START_METHOD, talking over pipes."""

    noun, plural = "worker process", "worker processes"
    start_hint = (
        "; see their stderr (a script that starts workers needs its work under "
        '`if __name__ == "__main__":`)'
    )

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.context = multiprocessing.get_context(START_METHOD)
        self.started = 0
        #: Every worker started and not closed yet, for abort(): one being started
        #: when Ctrl-C came is not the scheduler's yet.
        self.alive: list[_Process] = []

    def start(self) -> _Process:
        self.started += 1
        self.alive = [worker for worker in self.alive if not worker.closed]
        worker = _Process(self.context, self.blob, self.started)
        self.alive.append(worker)
        worker.start()
        return worker

    def give(self, worker: _Process, seed: int) -> None:
        try:
            worker.conn.send(seed)
        except OSError:
            pass  # it died: its sentinel says so at the next poll

    def poll(self, workers: list[_Process], timeout: float | None) -> list[tuple[_Process, _Event]]:
        handles: list[Any] = [w.conn for w in workers] + [w.process.sentinel for w in workers]
        ready = set(multiprocessing.connection.wait(handles, timeout))
        events: list[tuple[_Process, _Event]] = []
        for worker in workers:
            if worker.conn not in ready and worker.process.sentinel not in ready:
                continue
            try:
                while worker.conn.poll():
                    message = worker.conn.recv_bytes()
                    events.append((worker, _Event("answer" if message else "ready", message)))
            except (EOFError, OSError):
                events.append((worker, _Event("died", ("", worker.death()))))
                continue
            if worker.process.sentinel in ready:
                events.append((worker, _Event("died", ("", worker.death()))))
        return events

    def kill(self, worker: _Process) -> None:
        if worker.closed:
            return
        process = worker.process
        if process.is_alive():
            process.kill()
            process.join(STOP_TIMEOUT)
        worker.conn.close()
        if not process.is_alive():
            process.close()
            worker.closed = True

    def stop(self, workers: list[_Process]) -> None:
        for worker in workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        for worker in workers:
            self.kill(worker)

    def abort(self, workers: list[_Process]) -> None:
        """SIGKILL every worker first (none waits for another), then reap them within
        ``ABORT_TIMEOUT``: a worker is gone before the caller sees the exception."""
        doomed = [*workers, *(worker for worker in self.alive if worker not in workers)]
        for worker in doomed:
            if not worker.closed:
                try:
                    worker.process.kill()
                except Exception:
                    pass  # not started yet (Ctrl-C inside start()), or already reaped
        deadline = time.monotonic() + ABORT_TIMEOUT
        for worker in doomed:
            if worker.closed:
                continue
            try:
                worker.process.join(max(0.0, deadline - time.monotonic()))
            except Exception:
                pass  # never started
            worker.conn.close()
            if worker.process.exitcode is not None:
                worker.process.close()
                worker.closed = True


# -- Ray ------------------------------------------------------------------------------------


class _RayEpisodeWorker:
    """The Ray actor: owns one host at a time, on the actor thread that runs its (sync)
    methods; the host's loop runs in its own thread."""

    def __init__(self, blob: bytes) -> None:
        self._runner = _EpisodeRunner(blob)

    def ready(self) -> bool:
        return True

    def run(self, seed: int) -> bytes:
        return self._runner.attempt(seed)


class _Actor:
    """A Ray actor handle, the ref of its ``ready()`` while it starts, then the refs of
    the ``run(seed)`` calls queued on it, oldest first (an actor runs them in order)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.ready_ref: Any = handle.ready.remote()
        self.refs: collections.deque[Any] = collections.deque()


class _RayActors(_Backend[_Actor]):
    """Ray actors of one actor class (options applied)."""

    noun, plural = "Ray actor", "Ray actors"
    exact_blame = False

    def __init__(self, ray: Any, actor_class: Any, blob: bytes) -> None:
        self.ray = ray
        self.actor_class = actor_class
        self.blob = blob

    def start(self) -> _Actor:
        return _Actor(self.actor_class.remote(self.blob))

    def give(self, worker: _Actor, seed: int) -> None:
        worker.refs.append(worker.handle.run.remote(seed))

    def poll(self, workers: list[_Actor], timeout: float | None) -> list[tuple[_Actor, _Event]]:
        ray = self.ray
        watched = {_watched(worker): worker for worker in workers if _watched(worker) is not None}
        if not watched:
            return []
        refs = list(watched)
        done, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if done:  # and whatever else is done by now
            done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        events: list[tuple[_Actor, _Event]] = []
        for ref in done:
            worker = watched[ref]
            try:
                value: Any = ray.get(ref, timeout=RAY_GET_TIMEOUT)
            except ray.exceptions.RayError as exc:
                events.append((worker, _Event("died", (type(exc).__name__, str(exc)))))
                continue
            if worker.ready_ref is not None:
                worker.ready_ref = None
                events.append((worker, _Event("ready")))
            else:
                worker.refs.popleft()
                events.append((worker, _Event("answer", value)))
        return events

    def kill(self, worker: _Actor) -> None:
        self.ray.kill(worker.handle)


def _watched(worker: _Actor) -> Any:
    """The ref the scheduler waits for: the actor's ``ready()``, then its oldest seed."""
    if worker.ready_ref is not None:
        return worker.ready_ref
    return worker.refs[0] if worker.refs else None


def _ray_backend(
    episode_fn: EpisodeFn, workers: int | None, options: Mapping[str, Any]
) -> tuple[_RayActors, int]:
    """The Ray actors' backend, and how many (default: the cluster's CPUs)."""
    ray = require("ray", 'run_episodes(engine="ray")', RAY_EXTRA)
    if not ray.is_initialized():
        raise RuntimeError(
            'engine="ray" runs on the Ray cluster you connect to: call ray.init() first '
            '(a local cluster) or ray.init(address="auto" or "ray://host:10001")'
        )
    cloudpickle = require("ray.cloudpickle", 'run_episodes(engine="ray")', RAY_EXTRA)
    blob = _pickled(episode_fn, cloudpickle.dumps, "ray")
    if workers is None:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
    actor_class = ray.remote(_RayEpisodeWorker).options(
        **{"num_cpus": 1, "max_restarts": 0, **options}
    )
    return _RayActors(ray, actor_class, blob), workers
