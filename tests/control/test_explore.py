"""testing.explore (SPEC §12): find the first failing schedule among many seeds, shrink it
to the choices that matter, replay it from the report or from a saved file."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import threaded_async as ta
from threaded_async.testing import (
    ExplorationReport,
    ScriptRun,
    default_check,
    explore,
    replay_schedule,
    run_scripted,
)

pytestmark = pytest.mark.stdlib_loop


class Env(ta.Client):
    @ta.request
    async def walk(self) -> int: ...

    @ta.request
    async def mine(self) -> int: ...


def miners(server: ta.Server, *, careful: bool = False) -> Any:
    """Two miners deposit into one bank; bob walks one more step than ann. The careless
    one reads the balance, mines (an await), then writes: a deposit made meanwhile is
    lost. That happens only if bob's walk is answered before ann's."""
    bank = {"gold": 0}

    async def miner(env: Env, walks: int) -> None:
        for _ in range(walks):
            await env.walk()
        if careful:
            found = await env.mine()
            bank["gold"] += found  # read and write with no await between
        else:
            gold = bank["gold"]
            found = await env.mine()
            bank["gold"] = gold + found

    async def both() -> int:
        await asyncio.gather(miner(Env(server, name="ann"), 1), miner(Env(server, name="bob"), 2))
        assert bank["gold"] == 20, f"lost update: the bank has {bank['gold']} gold, not 20"
        return bank["gold"]

    return both()


def careful_miners(server: ta.Server) -> Any:
    return miners(server, careful=True)


MINE: dict[Any, Any] = {Env.walk: lambda: 0, Env.mine: lambda: 10}


def test_the_default_order_passes_and_explore_finds_the_lost_update() -> None:
    assert run_scripted(miners, MINE).result == 20  # the one order the loop picks: fine
    report = explore(miners, MINE, seeds=50)
    assert report is not None
    assert report.seed > 0
    # (pytest's assertion rewriting adds its explanation after the message)
    assert report.failure.splitlines()[0] == "lost update: the bank has 10 gold, not 20"
    assert isinstance(report.error, AssertionError)
    # bob's walk before ann's walk, or before ann's dig: either lets bob read too early.
    (described,) = report.describe()
    assert re.fullmatch(
        r"at t=0: bob's Env\.walk answered before ann's Env\.(walk|mine)", described
    )
    assert report.reproduced
    assert report.trace_lines[0] in ("t=0 ann: Env.walk() -> 0", "t=0 bob: Env.walk() -> 0")
    assert len(report.trace_lines) == 5
    text = str(report)
    assert f"failed under schedule seed {report.seed}" in text
    assert "the choice that matters:" in text
    assert "replay_schedule(report)" in text


def test_the_fixed_agents_pass_every_seed() -> None:
    limits = ta.ScheduleLimits(max_delay=1.0, late_rate=0.5)
    assert explore(careful_miners, MINE, seeds=100, limits=limits) is None


def test_a_report_replays_exactly_in_process_and_from_a_file(tmp_path: Path) -> None:
    report = explore(miners, MINE, seeds=50)
    assert report is not None
    with pytest.raises(AssertionError, match="lost update"):
        replay_schedule(report)
    run = replay_schedule(report, raise_errors=False)
    assert isinstance(run, ScriptRun)
    assert run.trace == report.trace
    assert run.trace.digest() == report.trace.digest()
    path = tmp_path / "miners.schedule"
    report.save(path)
    loaded = ExplorationReport.load(path)
    assert loaded.choices == report.choices
    assert loaded.limits == report.limits
    assert (loaded.seed, loaded.failure, loaded.trace_lines) == (
        report.seed,
        report.failure,
        report.trace_lines,
    )
    assert loaded.rerun is None
    again = replay_schedule(path, miners, MINE, raise_errors=False)
    assert again.trace.digest() == report.trace.digest()
    assert isinstance(again.error, AssertionError)
    fixed = replay_schedule(path, careful_miners, MINE)  # the fix, under the same choices
    assert fixed.result == 20
    with pytest.raises(TypeError, match="client_code"):
        replay_schedule(path)  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue,reportArgumentType]


def test_a_failure_in_the_default_order_is_not_an_ordering_bug() -> None:
    async def broken(server: ta.Server) -> None:
        await Env(server, name="x").walk()
        raise ValueError("always")

    report = explore(broken, MINE, seeds=10)
    assert report is not None
    assert (report.seed, report.schedules_run, report.choices) == (0, 1, ())
    assert report.failure == "ValueError: always"
    assert "not an ordering bug" in str(report)


def test_a_check_judges_each_run() -> None:
    async def walkers(server: ta.Server) -> list[str]:
        order: list[str] = []

        async def walk(env: Env) -> None:
            await env.walk()
            order.append(env.name)

        await asyncio.gather(*(walk(Env(server, name=n)) for n in ("a", "b")))
        return order

    def a_first(run: ScriptRun[Any]) -> bool:
        return run.result == ["a", "b"]

    report = explore(walkers, MINE, check=a_first)
    assert report is not None
    assert report.failure == "the check returned False"
    assert report.describe() == ["at t=0: b's Env.walk answered before a's Env.walk"]

    def asserting(run: ScriptRun[Any]) -> None:
        assert run.result == ["a", "b"], f"b went first: {run.result}"

    report = explore(walkers, MINE, check=asserting)
    assert report is not None
    assert report.failure.splitlines()[0] == "b went first: ['b', 'a']"


def test_the_default_check_fails_a_run_that_leaves_a_request_unanswered() -> None:
    async def leaves_one(server: ta.Server) -> str:
        asyncio.get_running_loop().create_task(Env(server, name="helper").walk())
        await asyncio.sleep(0)
        return "done"

    run = run_scripted(leaves_one, MINE)
    with pytest.raises(AssertionError, match=r"unanswered: helper's Env\.walk"):
        default_check(run)
    report = explore(leaves_one, MINE, seeds=3)
    assert report is not None
    assert report.failure == "requests left unanswered: helper's Env.walk"


async def rounds_with_a_rare_bug(server: ta.Server) -> None:
    """Four agents take turns for six rounds (dozens of choices per seed); the bug needs
    only one: 'd' answered before 'a' in round 3."""
    seen: list[tuple[int, str]] = []

    async def agent(env: Env) -> None:
        for round_ in range(6):
            await env.walk()
            seen.append((round_, env.name))
            await asyncio.sleep(1)

    await asyncio.gather(*(agent(Env(server, name=n)) for n in "abcd"))
    third = [name for round_, name in seen if round_ == 3]
    assert third.index("a") < third.index("d"), f"round 3 went {third}"


def test_shrinking_keeps_only_the_deviation_that_matters() -> None:
    rounds = rounds_with_a_rare_bug
    report = explore(rounds, MINE, seeds=200)
    assert report is not None
    assert report.seed_deviations > 3
    assert 1 <= len(report.choices) <= 2  # (a ready order and an answer order may combine)
    assert max(choice.time for choice in report.choices) <= 3.0
    assert report.reproduced
    assert replay_schedule(report, raise_errors=False).trace == report.trace
    # 1-minimal: without any one of them, the run passes.
    for dropped in report.choices:
        rest = [choice for choice in report.choices if choice is not dropped]
        run = run_scripted(
            rounds,
            MINE,
            schedule=ta.Schedule.replaying(rest, limits=report.limits),
            raise_errors=False,
        )
        assert run.error is None


def test_shrinking_finds_the_smallest_delay_that_fails() -> None:
    """An agent that gives up after 0.25 s: any delay of 0.3 s or more breaks it."""

    async def impatient(server: ta.Server) -> None:
        env = Env(server, name="i")
        for _ in range(5):
            await asyncio.wait_for(env.walk(), 0.25)

    limits = ta.ScheduleLimits(max_delay=1.0, delay_step=0.1, late_rate=0.5)
    report = explore(impatient, MINE, limits=limits, seeds=100)
    assert report is not None
    assert report.failure == "TimeoutError"
    assert [c.kind for c in report.choices] == ["delay"]
    assert report.choices[0].delay == pytest.approx(0.3)
    assert report.describe()[0].endswith("i's Env.walk answered 0.3 s late")


def test_shrinking_bisects_a_delay_within_its_runs() -> None:
    """A million delay levels, a failure from 50 s late: one level at a time would need
    half a million runs (and walked every level even once the runs were spent)."""

    async def patient(server: ta.Server) -> None:
        async with asyncio.timeout(50):
            await Env(server, name="p").walk()

    limits = ta.ScheduleLimits(max_delay=100.0, delay_step=1e-4, late_rate=1.0)
    report = explore(patient, MINE, limits=limits, seeds=50, shrink_runs=40)
    assert report is not None
    (late,) = report.choices
    assert late.delay == pytest.approx(50.0, abs=2e-4)  # the smallest that fails
    assert report.shrink_runs <= 25  # (log2 of a million levels: 20)
    assert report.shrink_stopped is None
    assert "stopped" not in str(report)


def test_shrinking_stops_when_its_runs_are_spent() -> None:
    runs: list[int] = []

    def count(run: ScriptRun[Any]) -> None:
        runs.append(1)
        default_check(run)

    limits = ta.ScheduleLimits(max_delay=100.0, delay_step=1e-4, late_rate=1.0)

    async def patient(server: ta.Server) -> None:
        async with asyncio.timeout(50):
            await asyncio.gather(*(Env(server, name=n).walk() for n in "abc"))

    report = explore(patient, MINE, limits=limits, seeds=50, shrink_runs=3, check=count)
    assert report is not None
    assert report.shrink_runs == 3
    assert report.shrink_stopped == "shrink_runs"
    assert "shrinking stopped when its shrink_runs were used up" in str(report)
    assert len(runs) == report.schedules_run + 3 + 1  # (+1: the replay that labels it)


def test_the_time_limit_bounds_shrinking_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run takes one (fake) second: the time limit runs out while shrinking, which
    stops there and reports what it found so far."""
    now = [0.0]
    monkeypatch.setattr("threaded_async._explore._monotonic", lambda: now[0])
    monkeypatch.setattr("threaded_async.testing._monotonic", lambda: now[0])

    def tick(run: ScriptRun[Any]) -> None:
        now[0] += 1.0
        default_check(run)

    unlimited = explore(rounds_with_a_rare_bug, MINE, seeds=200, check=tick)
    assert unlimited is not None
    assert unlimited.shrink_runs > 3
    assert unlimited.shrink_stopped is None
    seeds = unlimited.schedules_run
    report = explore(rounds_with_a_rare_bug, MINE, seeds=200, check=tick, time_limit=seeds + 2.5)
    assert report is not None
    assert report.seed == unlimited.seed
    assert report.shrink_runs == 3  # started at t = seeds, seeds + 1 and seeds + 2
    assert report.shrink_stopped == "time_limit"
    assert report.reproduced  # (the replay that labels it still runs)
    assert "shrinking stopped when the time_limit ran out" in str(report)


def test_explore_refuses_to_pass_having_run_nothing() -> None:
    nothing: list[int | Iterable[int]] = [0, -3, [], iter(())]
    for seeds in nothing:
        with pytest.raises(ValueError, match="seed"):
            explore(miners, MINE, seeds=seeds)
    with pytest.raises(ValueError, match="shrink_runs must be >= 0"):
        explore(miners, MINE, shrink_runs=-5)
    with pytest.raises(ValueError, match="time_limit must be >= 0"):
        explore(miners, MINE, time_limit=-1.0)
    with pytest.raises(TypeError, match="shrink_runs must be an int"):
        explore(miners, MINE, shrink_runs=2.5)  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType]
    assert explore(careful_miners, MINE, seeds=iter([3, 4])) is None  # (a generator: fine)


def test_seeds_can_be_listed_and_time_limited() -> None:
    assert explore(miners, MINE, seeds=[0]) is None  # the default order passes
    seeds = list(range(30, 0, -1))
    report = explore(miners, MINE, seeds=seeds)
    assert report is not None
    assert report.schedules_run == seeds.index(report.seed) + 1
    assert explore(careful_miners, MINE, seeds=10_000, time_limit=0.2) is None  # stops early


def test_explore_refuses_what_it_cannot_run() -> None:
    with pytest.raises(TypeError, match="one"):
        explore()  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue]
    with pytest.raises(TypeError, match="lambda server"):
        explore(miners(ta.Server()), MINE)  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="engine"):
        explore(miners, MINE, engine="process")  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue]


def test_report_files_round_trip_their_choices(tmp_path: Path) -> None:
    report = ExplorationReport(
        seed=4,
        choices=(
            ta.Choice(2, "answers", 1.5, (2, 0, 1), labels=("a", "b", "c")),
            ta.Choice(5, "delay", 2.0, delay=0.5, labels=("a's Env.walk",)),
            ta.Choice(9, "ready", 3.0, (1, 0)),
        ),
        failure="ValueError: x",
        trace=ta.Trace(),
        trace_lines=("t=0 a: Env.walk() -> 0",),
        limits=ta.ScheduleLimits(max_delay=1.0, delay_step=0.5),
        schedules_run=5,
        seed_deviations=7,
        shrink_runs=12,
        reproduced=True,
    )
    path = tmp_path / "r.schedule"
    report.save(path)
    loaded = ExplorationReport.load(path)
    assert loaded == report
    assert [c.labels for c in loaded.choices] == [c.labels for c in report.choices]


# -- a saved schedule is hostile input ----------------------------------------------------
HEADER = '{"threaded_async_schedule":1}'
META = json.dumps(
    {
        "seed": 1,
        "limits": {
            "tasks": True,
            "timers": True,
            "answers": True,
            "max_delay": 0.0,
            "delay_step": None,
            "late_rate": 0.25,
        },
        "failure": "x",
        "trace": [],
        "trace_digest": None,
        "schedules_run": 1,
        "seed_deviations": 0,
        "shrink_runs": 0,
        "reproduced": True,
    }
)


def _meta(**changes: Any) -> str:
    data = json.loads(META)
    data.update(changes)
    return json.dumps(data)


def _meta_without(*keys: str) -> str:
    data = json.loads(META)
    for key in keys:
        del data[key]
    return json.dumps(data)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"[1, 2", "line 1"),
        (b'{"threaded_async_trace":1}\n', "expected the header"),
        (b'{"threaded_async_schedule":2}\n' + META.encode(), "version 2"),
        (b'{"threaded_async_schedule":true}\n' + META.encode(), "version True"),
        (HEADER.encode(), "line 2: missing"),
        (f"{HEADER}\n[]".encode(), "line 2: the report must be a JSON object"),
        (f"{HEADER}\n{_meta(extra=1)}".encode(), "unknown fields"),
        (f"{HEADER}\n{_meta(seed=-1)}".encode(), "seed must be an int"),
        (f"{HEADER}\n{_meta(seed=True)}".encode(), "seed must be an int"),
        (f"{HEADER}\n{_meta(trace='text')}".encode(), "trace must be a list"),
        (f"{HEADER}\n{_meta(trace=[1])}".encode(), "a trace line must be a string"),
        (f"{HEADER}\n{_meta(reproduced=1)}".encode(), "reproduced must be true or false"),
        # a field missing (was a KeyError), or of the wrong type
        (f'{HEADER}\n{{"seed": 1}}'.encode(), r"line 2: the report lacks \['limits', 'failure'"),
        (f"{HEADER}\n{_meta_without('trace')}".encode(), r"line 2: the report lacks \['trace'\]"),
        (
            f"{HEADER}\n{_meta_without('reproduced')}\n{{}}".encode(),
            r"line 2: the report lacks \['reproduced'\]",
        ),
        (f"{HEADER}\n{_meta(trace_digest=5)}".encode(), "line 2: trace_digest must be a string"),
        (f"{HEADER}\n{_meta(limits=[])}".encode(), "line 2: limits must be a JSON object"),
        (
            f"{HEADER}\n{_meta()}".replace('"max_delay": 0.0', '"max_delay": 1e12').encode(),
            "line 2: max_delay must be >= 0 seconds and at most",
        ),
        (
            f"{HEADER}\n{_meta(limits={'tasks': True})}".encode(),
            "limits lack",
        ),
        (
            f"{HEADER}\n{_meta()}".replace('"max_delay": 0.0', '"max_delay": -1').encode(),
            "max_delay",
        ),
        (
            f"{HEADER}\n{_meta()}".replace('"delay_step": null', '"delay_step": 5').encode(),
            "delay_step",
        ),
        (f"{HEADER}\n{META}\n{{}}".encode(), "a choice lacks"),
        (
            f'{HEADER}\n{META}\n{{"index":0,"kind":"shuffle","time":0,"labels":[]}}'.encode(),
            "kind must be one of",
        ),
        (
            f'{HEADER}\n{META}\n{{"index":-1,"kind":"delay","time":0,"delay":1,"labels":[]}}'.encode(),
            "index must be an int",
        ),
        (
            f'{HEADER}\n{META}\n{{"index":0,"kind":"delay","time":0,"delay":-1,"labels":[]}}'.encode(),
            "a delay must be >= 0",
        ),
        (
            f'{HEADER}\n{META}\n{{"index":0,"kind":"delay","time":NaN,"delay":1,"labels":[]}}'.encode(),
            "NaN is not JSON",
        ),
        (  # the limits (max_delay 0) allow no late answer
            f'{HEADER}\n{META}\n{{"index":0,"kind":"delay","time":0,"delay":1,"labels":[]}}'.encode(),
            "line 3: a delay of 1 s is longer than the limits' max_delay",
        ),
        (
            f'{HEADER}\n{META}\n{{"index":0,"kind":"ready","time":0,"order":[0,0],"labels":[]}}'.encode(),
            "permutation",
        ),
        (
            f'{HEADER}\n{META}\n{{"index":0,"kind":"ready","time":0,"order":[1,0],"delay":1,'
            f'"labels":[]}}'.encode(),
            "no 'delay'",
        ),
        (
            f'{HEADER}\n{META}\n{{"index":0,"kind":"ready","time":0,"order":[1,0],'
            f'"labels":[1,2]}}'.encode(),
            "a label must be a string",
        ),
        (
            f'{HEADER}\n{META}\n{{"index":0,"kind":"ready","time":0,"order":[1,0],'
            f'"labels":["a"]}}'.encode(),
            "name each item once",
        ),
        (
            f'{HEADER}\n{META}\n{{"index":0,"kind":"delay","time":0,"delay":0,"labels":[]}}\n'
            f'{{"index":0,"kind":"ready","time":0,"order":[1,0],"labels":[]}}'.encode(),
            "two choices for one decision point",
        ),
        (
            f"{HEADER}\n{META}\n" + "[" * 200 + "]" * 200,
            "nests deeper",
        ),
    ],
)
def test_a_malformed_schedule_file_is_a_value_error(
    tmp_path: Path, content: bytes | str, message: str
) -> None:
    path = tmp_path / "bad.schedule"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValueError, match=message):
        ExplorationReport.load(path)


def test_replaying_a_file_that_lacks_a_field_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "short.schedule"
    path.write_text(f'{HEADER}\n{{"seed": 1}}\n')
    with pytest.raises(ValueError, match="line 2: the report lacks"):
        replay_schedule(path, miners, MINE)


def test_a_huge_schedule_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "huge.schedule"
    with open(path, "wb") as file:
        file.write(HEADER.encode() + b"\n")
        file.truncate(17 * 1024 * 1024)  # sparse: quick to make
    with pytest.raises(ValueError, match="larger than"):
        ExplorationReport.load(path)


def test_a_failure_that_does_not_repeat_is_reported_as_such() -> None:
    calls: list[int] = []

    def flaky(run: ScriptRun[Any]) -> None:
        calls.append(1)
        assert len(calls) > 1, "failed once"  # as a run that waits for a real thread may

    report = explore(miners, MINE, seeds=5, check=flaky)
    assert report is not None
    assert report.seed == 0
    assert not report.reproduced
    assert "not repeatable under a schedule" in str(report)


def test_stepped_time_is_explored_too() -> None:
    async def stepping(server: ta.Server) -> None:
        env = Env(server, name="s")
        for _ in range(3):
            await env.walk()
            await asyncio.sleep(0.5)

    assert explore(stepping, MINE, seeds=5, step=0.25) is None
    report = explore(stepping, MINE, seeds=5, step=0.25, check=lambda run: run.time < 1.0)
    assert report is not None
    assert report.seed == 0
