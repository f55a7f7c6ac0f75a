"""run_episodes(engine="ray") on a real local Ray cluster (SPEC §10), started once for the
module (ray.init takes 10-25 s here; the tests then take a few seconds each): the
digests of the "local" engine with one actor, and with two actors while failures are
reported with their seeds (a raise, an actor whose process dies, a timeout) and the
other episodes come back."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

# Before Ray is imported, and inherited by its processes: everything on 127.0.0.1, no
# usage statistics, no token authentication (a local test cluster), and under `uv run`
# the actors use this virtualenv (not a copy of the working directory and a second
# virtualenv built by `uv run` in each actor), as docs/envs.md says.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

ray: Any = pytest.importorskip("ray")

from tests import _episode_fns as fns  # noqa: E402
from threaded_async.envs import Episode, EpisodeFailure, RunEpisodesError, run_episodes  # noqa: E402

SEEDS = list(range(6))
#: ray.init() takes 10-25 s on a busy 2-CPU machine.
pytestmark = pytest.mark.timeout(120)


def test_ray_needs_ray_init_first() -> None:
    """Runs before the cluster fixture: the engine does not start a cluster by itself."""
    assert not ray.is_initialized()
    with pytest.raises(RuntimeError, match=r"call ray.init\(\) first"):
        run_episodes(fns.frozen_lake, SEEDS, engine="ray")


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A local Ray cluster of 2 CPUs, for the whole module."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024 * 1024,
        log_to_driver=False,
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def local_digests() -> dict[int, str]:
    seeds = [*SEEDS, fns.HANGS]
    return {
        seed: episode.digest()
        for seed, episode in zip(seeds, run_episodes(fns.frozen_lake, seeds), strict=True)
    }


@pytest.mark.usefixtures("cluster")
def test_ray_gives_the_local_digests(local_digests: dict[int, str]) -> None:
    # On the actors the hosts step inline (they refuse otherwise), the local ones threaded.
    episodes = run_episodes(fns.frozen_lake_inline_by_default, SEEDS, engine="ray", workers=1)
    assert [episode.seed for episode in episodes] == SEEDS
    assert [episode.digest() for episode in episodes] == [local_digests[s] for s in SEEDS]


@pytest.mark.usefixtures("cluster")
def test_ray_reports_a_raise_a_dead_actor_and_a_timeout(local_digests: dict[int, str]) -> None:
    """On two actors (the cluster's CPUs): seed 3 raises, seed 5 kills its actor's
    process with os._exit(7), seed 9 hangs past the timeout. Each is reported with its
    seed; the others come back with the local digests."""
    seeds = [*SEEDS, fns.HANGS]
    start = time.monotonic()
    with pytest.raises(RunEpisodesError) as caught:
        run_episodes(fns.flaky, seeds, engine="ray", timeout=3.0, ray_options={"num_cpus": 1})
    assert time.monotonic() - start < 60
    group = caught.value
    assert [(f.seed, f.reason) for f in group.failures] == [
        (fns.RAISES, "raised"),
        (fns.DIES, "died"),
        (fns.HANGS, "timed out"),
    ]
    raised, died, hung = group.failures
    assert raised.type == "ValueError"
    assert 'raise ValueError(f"no episode for seed {seed}")' in raised.traceback
    assert died.exception is None
    assert died.type == "ActorDiedError"
    assert "The actor died unexpectedly" in died.message
    assert hung.message == "it ran longer than 3 s; its Ray actor was killed"
    assert {episode.seed: episode.digest() for episode in group.episodes} == {
        seed: local_digests[seed] for seed in (0, 1, 2, 4)
    }


@pytest.mark.usefixtures("cluster")
def test_ray_brings_back_the_episode_of_an_agent_that_raised() -> None:
    """raise_errors=False on Ray: every seed's outcome in order; an agent's error (odd
    seeds) is a failure whose recorded episode came back from the actor, the same as
    here (seed 5's error cannot be pickled: a RuntimeError of its text stands in)."""
    seeds = list(range(6))
    local = run_episodes(fns.stumbling, seeds, raise_errors=False)
    remote = run_episodes(fns.stumbling, seeds, engine="ray", raise_errors=False)
    assert [type(result).__name__ for result in remote] == ["Episode", "EpisodeFailure"] * 3

    def digest(result: Episode | EpisodeFailure) -> str:
        episode = result.episode if isinstance(result, EpisodeFailure) else result
        assert episode is not None
        return episode.digest()

    assert [digest(result) for result in remote] == [digest(result) for result in local]
    stumbled, unpicklable = remote[1], remote[5]
    assert isinstance(stumbled, EpisodeFailure)
    assert isinstance(stumbled.exception, fns.Stumbled)
    assert stumbled.episode is not None
    assert stumbled.episode.steps == fns.STUMBLES_AFTER
    assert isinstance(unpicklable, EpisodeFailure)
    assert unpicklable.episode is not None
    assert unpicklable.episode.error is not None
    assert type(unpicklable.episode.error.exception) is RuntimeError
