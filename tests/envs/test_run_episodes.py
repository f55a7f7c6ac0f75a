"""run_episodes (SPEC §10) on the "local" and "process" engines: the same digests, and
every failure (a raise, a dead worker, a timeout, a worker that cannot start) reported
with its seed while the other episodes come back. The Ray engine: test_envs_ray.py."""

from __future__ import annotations

import pickle
import sys
import time
from typing import assert_type

import pytest

import threaded_async as ta
from tests import _episode_fns as fns
from threaded_async.envs import Episode, EpisodeFailure, RunEpisodesError, _engines, run_episodes

SEEDS = list(range(8))


@pytest.fixture(scope="module")
def local_digests() -> list[str]:
    return [episode.digest() for episode in run_episodes(fns.frozen_lake, SEEDS)]


def test_local_runs_the_seeds_in_order(local_digests: list[str]) -> None:
    episodes = run_episodes(fns.frozen_lake, SEEDS)
    assert [episode.seed for episode in episodes] == SEEDS
    assert [episode.digest() for episode in episodes] == local_digests
    assert len(set(local_digests)) > 1  # the seeds make different episodes
    assert all(episode.error is None for episode in episodes)
    assert run_episodes(fns.frozen_lake, [5, 1, 5]) == [episodes[5], episodes[1], episodes[5]]


@pytest.mark.parametrize("workers", [1, 2])
def test_process_gives_the_local_digests(local_digests: list[str], workers: int) -> None:
    # The parent has a loop thread running: the workers are spawned, not forked.
    with ta.AsyncRunner():
        episodes = run_episodes(fns.frozen_lake, SEEDS, engine="process", workers=workers)
    assert [episode.seed for episode in episodes] == SEEDS
    assert [episode.digest() for episode in episodes] == local_digests


def test_hosts_step_inline_in_workers_and_threaded_locally(local_digests: list[str]) -> None:
    episodes = run_episodes(fns.frozen_lake_inline_by_default, SEEDS, engine="process", workers=1)
    assert [episode.digest() for episode in episodes] == local_digests
    local = run_episodes(fns.frozen_lake_inline_by_default, [0], raise_errors=False)
    assert isinstance(local[0], EpisodeFailure)
    assert "threaded" in local[0].message


def test_no_seeds_no_episodes() -> None:
    assert run_episodes(fns.frozen_lake, []) == []
    assert run_episodes(fns.frozen_lake, [], engine="process") == []


def test_local_reports_an_episode_that_raises(local_digests: list[str]) -> None:
    with pytest.raises(RunEpisodesError) as caught:
        run_episodes(fns.flaky, range(5))
    group = caught.value
    assert str(group).startswith("1 of 5 episodes failed (seeds 3)")
    [failure] = group.failures
    assert group.exceptions == (failure,)
    assert (failure.seed, failure.reason, failure.type) == (fns.RAISES, "raised", "ValueError")
    assert failure.message == "no episode for seed 3"
    assert str(failure) == "seed 3 raised: ValueError: no episode for seed 3"
    assert 'in flaky\n    raise ValueError(f"no episode for seed {seed}")' in failure.traceback
    assert isinstance(failure.exception, ValueError)
    assert failure.__cause__ is failure.exception
    assert [type(result).__name__ for result in group.results] == ["Episode"] * 3 + [
        "EpisodeFailure",
        "Episode",
    ]
    assert [episode.digest() for episode in group.episodes] == [
        local_digests[seed] for seed in (0, 1, 2, 4)
    ]


def test_except_star_keeps_the_episodes() -> None:
    caught: list[BaseException] = []
    try:
        run_episodes(fns.flaky, range(4))
    except* EpisodeFailure as group:
        caught.append(group)
    [group] = caught
    assert isinstance(group, RunEpisodesError)
    assert [episode.seed for episode in group.episodes] == [0, 1, 2]


def test_a_result_that_is_not_an_episode_is_a_failure() -> None:
    with pytest.raises(RunEpisodesError) as caught:
        run_episodes(fns.not_an_episode, [1])
    [failure] = caught.value.failures
    assert (failure.reason, failure.type) == ("raised", "TypeError")
    assert (
        failure.message
        == "episode_fn(1) returned int, not an Episode (return host.run_episode(...))"
    )


def test_a_failure_pickles() -> None:
    failure = EpisodeFailure(4, "died", "", "the worker process (pid 1) exited with code 1")
    copy = pickle.loads(pickle.dumps(failure))
    assert (copy.seed, copy.reason, copy.message, str(copy)) == (
        4,
        "died",
        failure.message,
        "seed 4 died: the worker process (pid 1) exited with code 1",
    )


def test_an_agent_that_raises_is_a_failure_that_keeps_its_episode() -> None:
    """The agent of odd seeds raises after 3 steps; run_episode raises its error with the
    episode attached: the seed fails with reason "raised", and the failure keeps the
    recorded episode."""
    with pytest.raises(RunEpisodesError) as caught:
        run_episodes(fns.stumbling, range(4))
    group = caught.value
    assert str(group).startswith("2 of 4 episodes failed (seeds 1, 3)")
    first, _ = group.failures
    assert (first.seed, first.reason, first.type, first.message) == (
        1,
        "raised",
        "Stumbled",
        "fell over after 3 steps",
    )
    assert str(first) == (
        "seed 1 raised: Stumbled: fell over after 3 steps (agent 'agent', after 3 steps)"
    )
    episode = first.episode
    assert episode is not None
    assert (episode.seed, episode.steps) == (1, fns.STUMBLES_AFTER)
    assert episode.error is not None
    assert (episode.error.agent, episode.error.type) == ("agent", "Stumbled")
    assert first.exception is episode.error.exception
    assert [episode.seed for episode in group.episodes] == [0, 2]
    assert [type(result).__name__ for result in group.results] == ["Episode", "EpisodeFailure"] * 2


def _digest(result: Episode | EpisodeFailure) -> str:
    """An episode's digest, or that of the episode a failure recorded."""
    episode = result.episode if isinstance(result, EpisodeFailure) else result
    assert episode is not None
    return episode.digest()


def test_raise_errors_false_returns_each_seeds_outcome_from_every_engine() -> None:
    """raise_errors=False: one Episode or EpisodeFailure per seed, in order, no raise; the
    episodes recorded by failing agents come back from worker processes too, the same
    as here (an agent error that cannot be pickled back is replaced by a RuntimeError
    of the same text, the episode kept)."""
    local = run_episodes(fns.stumbling, range(6), raise_errors=False)
    remote = run_episodes(fns.stumbling, range(6), engine="process", workers=2, raise_errors=False)
    assert_type(remote, list[Episode | EpisodeFailure])
    for results in (local, remote):
        assert [type(result).__name__ for result in results] == ["Episode", "EpisodeFailure"] * 3
        assert [_digest(result).isalnum() for result in results] == [True] * 6
    assert [_digest(result) for result in remote] == [_digest(result) for result in local]
    stumbled, unpicklable = remote[3], remote[5]
    assert isinstance(stumbled, EpisodeFailure)
    assert isinstance(stumbled.exception, fns.Stumbled)
    assert getattr(stumbled.exception, "episode", None) is stumbled.episode
    assert isinstance(unpicklable, EpisodeFailure)
    assert (unpicklable.type, unpicklable.exception) == ("Unpicklable", None)
    assert unpicklable.episode is not None
    assert unpicklable.episode.error is not None
    assert repr(unpicklable.episode.error.exception) == (
        "RuntimeError('Unpicklable: cannot go on at step 3')"
    )
    assert "raise Unpicklable(steps" in unpicklable.traceback


def test_a_failure_pickles_with_its_episode() -> None:
    [failure] = run_episodes(fns.stumbling, [3], raise_errors=False)
    assert isinstance(failure, EpisodeFailure)
    copy = pickle.loads(pickle.dumps(failure))
    assert copy.episode is not None
    assert copy.episode.digest() == _digest(failure)
    assert str(copy) == str(failure)
    assert_type(run_episodes(fns.frozen_lake, []), list[Episode])


def test_process_reports_a_raise_a_dead_worker_and_a_timeout(local_digests: list[str]) -> None:
    """Seed 3 raises, seed 5 kills its worker with os._exit(7), seed 9 hangs past the
    timeout: each is reported with its seed, and every other episode comes back."""
    seeds = [*SEEDS, fns.HANGS]  # the hanging seed last: no replacement worker to wait for
    start = time.monotonic()
    with pytest.raises(RunEpisodesError) as caught:
        run_episodes(fns.flaky, seeds, engine="process", workers=2, timeout=3.0)
    assert time.monotonic() - start < 20
    group = caught.value
    assert [(f.seed, f.reason) for f in group.failures] == [
        (fns.RAISES, "raised"),
        (fns.DIES, "died"),
        (fns.HANGS, "timed out"),
    ]
    raised, died, hung = group.failures
    assert 'raise ValueError(f"no episode for seed {seed}")' in raised.traceback
    assert isinstance(raised.exception, ValueError)
    assert "_RemoteTraceback" in type(raised.__cause__).__name__
    assert died.message.endswith("exited with code 7")
    assert died.message.startswith("the worker process (pid ")
    assert hung.message == "it ran longer than 3 s; its worker process was killed"
    ok = [seed for seed in seeds if seed not in (fns.RAISES, fns.DIES, fns.HANGS)]
    assert [episode.digest() for episode in group.episodes] == [local_digests[s] for s in ok]


def test_process_reports_an_episode_fn_that_cannot_be_loaded() -> None:
    with pytest.raises(RunEpisodesError) as caught:
        run_episodes(fns.unloadable, [0, 1], engine="process", workers=1)
    assert [(f.seed, f.reason, f.type) for f in caught.value.failures] == [
        (0, "raised", "ModuleNotFoundError"),
        (1, "raised", "ModuleNotFoundError"),
    ]
    assert "this module is not on the worker" in caught.value.failures[0].traceback


def test_process_gives_up_on_workers_that_cannot_start() -> None:
    """Workers that die before they are ready are retried a few times, not forever: the
    seeds are then reported, none of them having run."""
    start = time.monotonic()
    with pytest.raises(RunEpisodesError) as caught:
        run_episodes(fns.deadly, range(4), engine="process", workers=1)
    assert time.monotonic() - start < 20
    failures = caught.value.failures
    assert [(f.seed, f.reason) for f in failures] == [(seed, "died") for seed in range(4)]
    assert failures[0].message.startswith(
        "worker processes die while starting (3 in a row; the last: the worker process (pid "
    )
    assert "exited with code 3); see their stderr" in failures[0].message


def test_an_episode_fn_that_cannot_be_pickled_is_refused() -> None:
    with pytest.raises(TypeError, match="engine='process' sends episode_fn to its workers"):
        run_episodes(lambda seed: fns.frozen_lake(seed), [0], engine="process")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"engine": "threads"}, ValueError, "engine must be"),
        ({"engine": "process", "workers": 0}, ValueError, "workers must be a positive int"),
        ({"workers": 2}, ValueError, "workers must be 1"),
        ({"timeout": 0}, ValueError, "timeout must be a positive number"),
        ({"ray_options": {"num_cpus": 1}}, ValueError, 'ray_options are for engine="ray"'),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        run_episodes(fns.frozen_lake, [0], **kwargs)  # type: ignore[arg-type]


def test_seeds_must_be_ints() -> None:
    with pytest.raises(TypeError, match=r"seeds must be ints, not str \('1'\)"):
        run_episodes(fns.frozen_lake, ["1"])  # type: ignore[list-item]


def test_ray_missing_is_an_import_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r'pip install "threaded_async\[ray\]"'):
        run_episodes(fns.frozen_lake, [0], engine="ray")


def test_progress_bar_counts_episodes(capsys: pytest.CaptureFixture[str]) -> None:
    episodes: list[Episode] = run_episodes(fns.frozen_lake, range(3), progress=True)
    assert len(episodes) == 3
    assert "episodes (local): 100%" in capsys.readouterr().err


class _LossyBackend(_engines._Backend[int]):
    """A fake Ray: a worker that dies loses the reply of the seed it ran before (a Ray
    actor's process can die before its last reply is sent), so blame is not exact."""

    exact_blame = False

    def __init__(self, deadly: int) -> None:
        self.deadly = deadly
        self.queues: dict[int, list[int]] = {}
        self.ready: set[int] = set()

    def start(self) -> int:
        worker = len(self.queues)
        self.queues[worker] = []
        return worker

    def give(self, worker: int, seed: int) -> None:
        self.queues[worker].append(seed)

    def poll(self, workers: list[int], timeout: float | None) -> list[tuple[int, _engines._Event]]:
        events: list[tuple[int, _engines._Event]] = []
        for worker in workers:
            queue = self.queues[worker]
            if worker not in self.ready:
                self.ready.add(worker)
                events.append((worker, _engines._Event("ready")))
            elif self.deadly in queue[:2]:
                events.append((worker, _engines._Event("died", ("ActorDiedError", "gone"))))
            elif queue:
                episode = fns.frozen_lake(queue.pop(0))
                answer = pickle.dumps(("ok", episode))
                events.append((worker, _engines._Event("answer", answer)))
        return events

    def kill(self, worker: int) -> None:
        self.queues[worker] = []


def test_without_exact_blame_suspects_run_alone() -> None:
    """Seed 4 dies while seed 3's reply is lost with it: both go back and run alone,
    so seed 3 comes back and only seed 4 is reported."""
    seeds = list(range(6))
    bar = _engines.Progress(None)
    scheduler = _engines._Scheduler(_LossyBackend(deadly=4), seeds, 10.0, bar)
    results = scheduler.run(1)
    assert [type(result).__name__ for result in results] == ["Episode"] * 4 + [
        "EpisodeFailure",
        "Episode",
    ]
    failure = results[4]
    assert isinstance(failure, EpisodeFailure)
    assert (failure.seed, failure.reason, failure.type) == (4, "died", "ActorDiedError")


class _BrokenBackend(_LossyBackend):
    """A backend whose poll fails once the workers are ready (as Ctrl-C would)."""

    def __init__(self) -> None:
        super().__init__(deadly=-1)
        self.calls: list[str] = []

    def poll(self, workers: list[int], timeout: float | None) -> list[tuple[int, _engines._Event]]:
        if self.ready:
            raise RuntimeError("the backend broke")
        return super().poll(workers, timeout)

    def stop(self, workers: list[int]) -> None:
        self.calls.append(f"stop {workers}")

    def abort(self, workers: list[int]) -> None:
        self.calls.append(f"abort {workers}")


def test_an_error_while_running_kills_the_workers_instead_of_stopping_them() -> None:
    """Anything but a normal finish (an error, Ctrl-C) aborts the workers (kills them at
    once) rather than asking them to stop and waiting; the error goes on."""
    backend = _BrokenBackend()
    scheduler = _engines._Scheduler(backend, list(range(4)), 10.0, _engines.Progress(None))
    with pytest.raises(RuntimeError, match="the backend broke"):
        scheduler.run(2)
    assert backend.calls == ["abort [0, 1]"]
