"""run_episodes(engine="process") seen from outside, in a subprocess of its own: Ctrl-C
reaches the caller at once and leaves no worker behind, even when pressed twice; an
episode_fn defined in ``python -c`` (as in a notebook) is sent by value, and code read
from stdin is refused at once, saying why."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT and /proc are POSIX")


class Child:
    """A Python subprocess whose stdout lines arrive on a queue (read by a thread), so
    that the test waits for a line with a bound instead of sleeping."""

    def __init__(self, *args: str, stdin_text: str | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if stdin_text is not None:
            assert self.process.stdin is not None
            self.process.stdin.write(stdin_text)
            self.process.stdin.close()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self, timeout: float) -> str:
        """The next line of stdout; fails the test after ``timeout`` s or at its end."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no line from the child within {timeout} s")
        if line is None:
            self.finish(10)
            pytest.fail(f"the child ended (code {self.process.returncode}):\n{self.stderr}")
        return line

    def finish(self, timeout: float) -> int:
        """Close stdin, wait for the exit (bounded) and collect stderr; the exit code."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.write("\n")
            self.process.stdin.close()
        assert self.process.stderr is not None
        self.stderr = self.process.stderr.read()  # ends when the child does
        return self.process.wait(timeout)

    def close(self, workers: list[int]) -> None:
        """Kill the child if it still runs and its ``workers`` left alive (they hold
        its stdout open), and close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._reader.join(10)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


@pytest.mark.parametrize("presses", ["once", "twice"])
def test_ctrl_c_kills_the_workers_at_once(presses: str) -> None:
    """SIGINT to the caller while both workers run a minute-long episode: the
    KeyboardInterrupt reaches it within 2 s (it was 10 s: the workers were asked to stop
    and waited for), and no worker is left alive while the caller lives on. ``twice``: a
    second SIGINT during that cleanup (it left the workers running)."""
    child = Child("-m", "tests._interrupt_child", presses)
    workers: list[int] = []
    try:
        while len(workers) < 2:
            word, pid = child.line(timeout=50).split()
            assert word == "running"
            workers.append(int(pid))
        start = time.monotonic()
        child.process.send_signal(signal.SIGINT)
        lines = [child.line(timeout=15)]
        if presses == "twice":
            lines.append(child.line(timeout=15))
        elapsed = time.monotonic() - start
        assert lines == (["second SIGINT"] if presses == "twice" else []) + ["interrupted"]
        assert elapsed < 2.0
        assert [pid for pid in workers if alive(pid)] == []
        assert child.finish(10) == -signal.SIGINT
        assert "KeyboardInterrupt" in child.stderr
    finally:
        child.close(workers)


#: A session whose episode_fn, agent and agent's result class are defined in __main__
#: (no file: ``python -c``, stdin, a notebook). Prints whether the process engine gave
#: the local digests and results, or the TypeError and how many workers were started.
INLINE = textwrap.dedent(
    """
    import dataclasses, multiprocessing, sys
    if sys.argv[1:] == ["no-cloudpickle"]:
        sys.modules["cloudpickle"] = None
    from threaded_async.envs import GymHost, run_episodes

    @dataclasses.dataclass
    class Walked:
        steps: int

    async def walk(env):
        await env.reset()
        steps = 0
        while True:
            _, _, terminated, truncated, _ = await env.step(env.action_space.sample())
            steps += 1
            if terminated or truncated:
                return Walked(steps)

    def lake(seed):
        with GymHost("FrozenLake-v1") as host:
            return host.run_episode(walk, seed=seed)

    local = run_episodes(lake, range(4))
    try:
        remote = run_episodes(lake, range(4), engine="process", workers=2)
    except TypeError as error:
        print(f"{len(multiprocessing.active_children())} workers; {error}")
    else:
        print([episode.digest() for episode in remote] == [e.digest() for e in local])
        print([episode.results for episode in remote] == [e.results for e in local])
        print(all(isinstance(episode.results["agent"], Walked) for episode in remote))
    """
)


def run_inline(*args: str, stdin: str | None = None) -> list[str]:
    """Run a Python child (bounded), check it succeeded, and return its stdout lines."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_an_episode_fn_of_python_c_is_sent_by_value() -> None:
    """Functions and classes defined in __main__ without a file (``python -c``, a
    notebook) cannot be imported by a spawned worker: they go by value (cloudpickle),
    and the agent's result of a __main__ class comes back as that class."""
    assert run_inline("-c", INLINE) == ["True", "True", "True"]


def test_without_cloudpickle_an_episode_fn_of_python_c_is_refused_at_once() -> None:
    [line] = run_inline("-c", INLINE, "no-cloudpickle")
    assert line.startswith(
        '0 workers; engine="process" cannot send episode_fn to its workers: it needs lake, '
        "defined in __main__ here"
    )
    assert "Move it into a module (a .py file) and import it from there" in line
    assert 'or use engine="local" or engine="ray"' in line


def test_code_read_from_stdin_is_refused_at_once() -> None:
    """``python -``: a spawned worker would run the main module's file '<stdin>' again
    and die; refused before any worker starts (it blamed a missing __main__ guard)."""
    [line] = run_inline("-", stdin=INLINE)
    assert line == (
        '0 workers; engine="process" cannot start workers from code read from stdin: each '
        'worker is a fresh interpreter ("spawn") that first runs the main module\'s file '
        "again, and it has none. Put the code in a .py file and run that (its work under "
        '`if __name__ == "__main__":`), or use engine="local" or engine="ray"'
    )
