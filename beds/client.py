"""The one protocol client: run the helper's executable as docker does and read what it said.

Docker starts the helper with a verb in argv, writes the request to its stdin, closes it and
reads both outputs to the end. Every run here does the same, with a bounded timeout so that a
hang fails instead of blocking. The executable is a parameter; by default it is the one in the
venv of the interpreter running this code (tests/run.sh writes it as install.sh does).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from beds.values import CANARY, ECR_HOST, NOT_FOUND, store_body

PROGRAM = "docker-credential-codespaces"
#: The executable under test unless a caller names another (the bench's `--helper`).
HELPER = Path(sys.executable).parent / PROGRAM
#: No run may take longer than this; a hang fails instead of blocking CI.
RUN_TIMEOUT = 60.0


def run_helper(
    env: dict[str, str],
    *args: str,
    stdin: bytes | None = b"",
    timeout: float = RUN_TIMEOUT,
    helper: Path = HELPER,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run the helper the way docker does: argv, bytes on stdin, both outputs captured; in
    `cwd` when given (docker's working directory is the user's project)."""
    return run_command([str(helper), *args], env, stdin, timeout, cwd)


def run_command(
    argv: list[str],
    env: dict[str, str],
    stdin: bytes | None,
    timeout: float = RUN_TIMEOUT,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command with bytes on stdin (None: no stdin at all), capturing both outputs."""
    return subprocess.run(
        argv,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env=env,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


def run_text(
    argv: list[str],
    env: dict[str, str],
    stdin: str | None = None,
    timeout: float = RUN_TIMEOUT,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`run_command` with text in and out, for the clients' words (undecodable bytes
    replaced); without `stdin`, no stdin at all."""
    done = run_command(argv, env, None if stdin is None else stdin.encode(), timeout, cwd)
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
    )


# -- the verbs as the tests ask them, and what the helper answered ----------------------------


def get(
    env: dict[str, str], server: str = ECR_HOST, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    """`get` for `server` (by default the ECR registry of the `ecr_env` fixture)."""
    return run_helper(env, "get", stdin=server.encode(), **kwargs)


def answer(env: dict[str, str], server: str) -> tuple[str, str] | None:
    """The user and secret `get` answers for `server`, or None for docker's not-found line."""
    result = get(env, server)
    if result.returncode:
        assert result.stdout == NOT_FOUND
        return None
    body = json.loads(result.stdout)
    return body["Username"], body["Secret"]


def ecr_password(result: subprocess.CompletedProcess[bytes]) -> str:
    """The token of an AWS login that a successful `get` answered."""
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(result.stdout)
    assert found["Username"] == "AWS"
    return str(found["Secret"])


def store(
    env: dict[str, str], server: str, user: str, secret: str
) -> subprocess.CompletedProcess[bytes]:
    """`store` a login, as docker asks it."""
    return run_helper(env, "store", stdin=store_body(server, user, secret))


def configured(env: dict[str, str]) -> dict[str, str]:
    """`env`, once `configure` has wired docker's config.json to the helper."""
    assert run_helper(env, "configure").returncode == 0
    return env


def run_doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    """`doctor` with `args`: no traceback, and never the canary (`beds.values.CANARY`)."""
    result = run_helper(env, "doctor", *args, stdin=None)
    assert b"Traceback" not in result.stderr
    assert CANARY.encode() not in result.stdout + result.stderr
    return result


def doctor(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    """`doctor --json` with `args`: its exit code and its report."""
    result = run_doctor(env, "--json", *args)
    return result.returncode, json.loads(result.stdout)


def doctor_text(env: dict[str, str], *args: str) -> tuple[int, str]:
    """`doctor` with `args`, as people read it: its exit code and its text."""
    result = run_doctor(env, *args)
    return result.returncode, result.stdout.decode()


def run_in_session(
    argv: list[str], env: dict[str, str], stdin: bytes | None, timeout: float = RUN_TIMEOUT
) -> tuple[subprocess.CompletedProcess[bytes], list[int]]:
    """Run a command as `run_command` does, but in a session of its own, and answer with the
    pids of that session still alive once the command returned: what it left behind (then
    killed). Past `timeout` the whole session is killed and TimeoutExpired raised, so a
    command that forks without end cannot outlive the test that ran it."""
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_session(process.pid)
            raise
        left = session_members(process.pid)
        kill_session(process.pid)
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr), left


def _live(field: int, value: int) -> list[int]:
    """The live processes (zombies aside) whose /proc stat field `field` (after the command's
    closing parenthesis: 2 the process group, 3 the session) is `value`."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[field]) == value and fields[0] != b"Z":
            members.append(int(entry))
    return sorted(members)


def session_members(session: int) -> list[int]:
    """The live processes (zombies aside) of a session, by /proc."""
    return _live(3, session)


def group_members(pgid: int) -> list[int]:
    """The live processes (zombies aside) of a process group, by /proc."""
    return _live(2, pgid)


def kill_session(session: int) -> None:
    """Kill every process of a session, again until none is left (one may be forking)."""
    for _ in range(100):
        members = session_members(session)
        if not members:
            return
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    raise AssertionError(f"session {session} still has processes after 100 rounds of kills")


def wait_for_refreshers(env: dict[str, str], timeout: float = RUN_TIMEOUT) -> None:
    """Wait until no ECR refresher that a `get` started behind its answer is still at work.

    A refresher holds its cache key's lock, taken before the `get` answered, so once every
    lock in the cache directory can be had, none is left. Tests call this before they look at
    the cache, count AWS calls or move the clock; past `timeout` it fails the test.
    """
    directory = Path(env["XDG_CACHE_HOME"]) / PROGRAM
    deadline = time.monotonic() + timeout
    for lock in sorted(directory.glob("*.lock")) if directory.is_dir() else []:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"a refresher still holds {lock}") from None
                    time.sleep(0.01)
        finally:
            os.close(fd)


def spawn(
    env: dict[str, str], verb: str, stdin: bytes, helper: Path = HELPER
) -> subprocess.Popen[bytes]:
    """Start the helper without waiting, its request already written and stdin closed, for
    runs of many at once; collect each with communicate(timeout=...)."""
    process = subprocess.Popen(
        [str(helper), verb],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.close()
    process.stdin = None  # written and closed: communicate() must not touch it
    return process


def interpreter_command(wrapper: Path = HELPER) -> list[str]:
    """The interpreter and options that an executable script starts, to run it with more.

    The launcher's wrapper runs Python with -I, which ignores PYTHONPROFILEIMPORTTIME and the
    like; a caller that needs them passes `-X importtime` through this command instead. Both
    of the launcher's forms are read: a `#!` line, and /bin/sh's exec line for an interpreter
    path that a `#!` line cannot hold.
    """
    lines = wrapper.read_text().splitlines()
    if lines[0] == "#!/bin/sh":
        words = shlex.split(lines[1])  # the shell reads: exec '<python>' -IS "$0" "$@"
        assert words[0] == "exec" and words[-2:] == ["$0", "$@"], lines[1]
        return words[1:-2]
    assert lines[0].startswith("#!"), lines[0]
    # As the kernel reads it: the interpreter ends at the first blank or tab (no other white
    # space), and the rest, trimmed, is one argument.
    line = lines[0][2:].strip(" \t")
    end = min((i for i in (line.find(" "), line.find("\t")) if i >= 0), default=len(line))
    argument = line[end:].strip(" \t")
    return [line[:end], argument] if argument else [line[:end]]


def imported_modules(
    env: dict[str, str], *args: str, wrapper: Path = HELPER, stdin: bytes | None = b""
) -> set[str]:
    """The modules an executable imports for one invocation, as `python -X importtime` lists."""
    argv = [*interpreter_command(wrapper), "-X", "importtime", str(wrapper), *args]
    result = run_command(argv, env, stdin)
    modules = set()
    for line in result.stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    assert modules, result.stderr
    return modules


def verb_recorder(directory: Path, log: Path, helper: Path = HELPER) -> Path:
    """A stand-in of the helper, by its name, that writes each run's verb to `log`, then runs it.

    Put `directory` first on a client's PATH to learn which verbs the client ran, in order
    (podman's login: `get`, `get`, `store`). Only argv[1] is written: never stdin, which
    carries the secret of a `store`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    recorder = directory / PROGRAM
    recorder.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$1" >>{shlex.quote(str(log))}\n'
        f'exec {shlex.quote(str(helper))} "$@"\n'
    )
    recorder.chmod(0o755)
    return recorder


def recorded_verbs(log: Path) -> list[str]:
    """The verbs `verb_recorder` saw, in order, and start the record afresh."""
    try:
        verbs = log.read_text().split()
    except FileNotFoundError:
        return []
    log.unlink()
    return verbs


def ended(pid: int, within: float = 5.0) -> bool:
    """Whether the process `pid` ends within `within` seconds: no longer there, or a zombie
    that only waits for init to reap it. For processes the helper started and must not leave
    behind."""
    deadline = time.monotonic() + within
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
