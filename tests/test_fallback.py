"""The fallback store as a process: a store that leads back to this helper ends at once, and
one past its deadline goes with everything it started."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from beds.client import HELPER, ended, get, run_helper, run_in_session
from beds.environment import write_config
from beds.fake_store import ORPHAN, put_on_path
from beds.values import HUB, NOT_FOUND
from docker_credential_codespaces.fallback import FallbackStore
from docker_credential_codespaces.wire import HelperError

# The deepest a counting wrapper lets a chain of fallback calls go before it answers not
# found itself: the bound on a helper that forks without end.
LOOP_BOUND = 3


def counting_loop(env: dict[str, str], tmp_path: Path) -> Path:
    """`docker-credential-loop` on PATH: a wrapper around the helper under test that writes a
    line per invocation (the verb, and how many of it are above it), and answers not found
    itself past LOOP_BOUND, so a helper that forks without end is stopped and counted."""
    bin_dir = tmp_path / "loop-bin"
    bin_dir.mkdir()
    log = tmp_path / "loop.log"
    wrapper = bin_dir / "docker-credential-loop"
    wrapper.write_text(
        "#!/bin/sh\n"
        "depth=${LOOP_DEPTH:-0}\n"
        f'printf "%s %s\\n" "$1" "$depth" >>{shlex.quote(str(log))}\n'
        f'if [ "$depth" -ge {LOOP_BOUND} ]; then echo "{NOT_FOUND.decode().strip()}"; exit 1; fi\n'
        "LOOP_DEPTH=$((depth + 1))\n"
        "export LOOP_DEPTH\n"
        f'exec {shlex.quote(str(HELPER))} "$@"\n'
    )
    wrapper.chmod(0o755)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return log


def calls(log: Path) -> list[tuple[str, int]]:
    """The wrapper's invocations since the last look, as (verb, depth)."""
    try:
        lines = log.read_text().splitlines()
    except FileNotFoundError:
        return []
    log.unlink()
    return [(verb, int(depth)) for verb, depth in (line.split() for line in lines)]


def test_a_fallback_store_that_is_this_helper_starts_one_process_per_request(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`credsStore: loop`, a wrapper around the helper, made the fallback by configure: each
    request to it was answered by a helper that asked its own fallback, the same wrapper, and
    so on without end. Now the wrapper runs once per request, never from inside one, and the
    logins live in the helper's local store, as if no fallback store were recorded."""
    log = counting_loop(env, tmp_path)
    write_config(env, {"credsStore": "loop"})
    configured = run_helper(env, "configure")
    assert configured.returncode == 0, configured.stderr
    assert b"docker-credential-loop keeps its logins, as fallback" in configured.stdout
    calls(log)
    body = json.dumps({"ServerURL": "r.example", "Username": "u", "Secret": "CANARY-loop"})
    # Each run, and the fallback requests it makes (a miss asks the list for another spelling).
    runs = [
        (("get",), b"nowhere.example", ["get", "list"]),
        (("store",), body.encode(), ["store"]),
        (("get",), b"r.example", ["get"]),
        (("list",), None, ["list"]),
        (("export", "--format", "docker-config", "--all"), None, ["list", "get"]),
        (("configure",), None, ["list"]),
        (("erase",), b"r.example", ["erase", "list"]),
    ]
    outcomes = {}
    for args, stdin, requests in runs:
        result = run_helper(env, *args, stdin=stdin, timeout=30)
        outcomes[args[0] if args[0] != "get" else stdin] = (result.returncode, result.stdout)
        # One process per request, and none started from inside one (depth 0).
        assert calls(log) == [(verb, 0) for verb in requests], args
        assert b"CANARY" not in result.stderr
    assert outcomes[b"nowhere.example"] == (1, NOT_FOUND)
    assert outcomes["store"] == (0, b"")
    assert outcomes[b"r.example"][0] == 0
    assert json.loads(outcomes[b"r.example"][1])["Secret"] == "CANARY-loop"
    assert json.loads(outcomes["list"][1]) == {"r.example": "u"}
    assert b"CANARY" not in outcomes["list"][1]
    assert outcomes["export"][0] == 0
    assert list(json.loads(outcomes["export"][1])["auths"]) == ["r.example"]
    assert outcomes["erase"] == (0, b"")
    assert run_helper(env, "get", stdin=b"r.example").stdout == NOT_FOUND


def test_a_loop_through_a_link_to_the_helper_ends_at_once(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The report's own steps: `docker-credential-loop` a symlink to the helper. A `get` took
    10 s, and the chain of helpers it started went on forking; now it answers not found at
    once. Each run is in a session of its own, killed whole at the test's deadline, so a
    chain that forks without end cannot outlive the test."""
    bin_dir = tmp_path / "link-bin"
    bin_dir.mkdir()
    (bin_dir / "docker-credential-loop").symlink_to(HELPER)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    write_config(env, {"credsStore": "loop"})
    for args, stdin in (
        (("configure",), None),
        (("get",), b"nowhere.example"),
        (("list",), None),
    ):
        started = time.monotonic()
        result, left = run_in_session([str(HELPER), *args], env, stdin, timeout=8)
        assert time.monotonic() - started < 5, args
        assert left == [], args
        assert result.returncode == (1 if args == ("get",) else 0), (args, result)
    assert result.stdout == b"{}\n"
    got, left = run_in_session([str(HELPER), "get"], env, b"nowhere.example", timeout=8)
    assert (got.returncode, got.stdout, left) == (1, NOT_FOUND, [])


@pytest.fixture
def orphan_store(use_env: dict[str, str], tmp_path: Path) -> Path:
    """`docker-credential-orphan` on PATH: a store that starts a long-lived child holding its
    stdout, then never answers. Yields the file its child's pid is written to; any child
    still alive at the end is killed, so a failing test leaves nothing behind."""
    put_on_path(os.environ, tmp_path, "orphan")
    pids = tmp_path / "orphan.pids"
    os.environ.update(FAKE_STORE_MODE="orphan", FAKE_STORE_PIDS=str(pids))
    yield pids
    for pid in alive(pids):
        os.kill(pid, 9)


def alive(pids: Path) -> list[int]:
    """The orphan children named in `pids` that are still running (a zombie is not)."""
    found = []
    for pid in (int(line) for line in pids.read_text().split()) if pids.exists() else ():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if cmdline.split(b"\0")[-2:-1] == [ORPHAN.encode()] and state != b"Z":
            found.append(pid)
    return found


# The deadline a call is given here; the real-time proof of FALLBACK_TIMEOUT is in
# test_configure.py. How late past it the call may end, on a loaded machine.
#: The store is a Python program that must start its child before the cut, which can take
#: most of a second on a loaded machine (every Python of the test command at once).
BUDGET = 2.0
TOLERANCE = 1.0


@pytest.mark.parametrize(
    "call",
    [
        lambda store: store.get("r.example"),
        lambda store: store.add("r.example", "u", "CANARY-stored-secret"),
        lambda store: store.delete("r.example"),
        lambda store: store.entries(),
    ],
    ids=["get", "store", "erase", "list"],
)
def test_a_fallback_past_its_deadline_goes_with_every_process_it_started(
    orphan_store: Path, call: Callable[[FallbackStore], object]
) -> None:
    """At the deadline the store was killed alone: its child lived on. Now, whatever the
    verb, the call ends at the deadline with a line that names the program and no secret,
    its whole process group goes, and the logins the store held are as they were."""
    logins = Path(os.environ["FAKE_STORE_FILE"])
    logins.write_text(json.dumps({"r.example": {"Username": "u", "Secret": "CANARY-kept"}}))
    before = logins.read_bytes()
    started = time.monotonic()
    with pytest.raises(HelperError) as raised:
        call(FallbackStore("orphan", timeout=BUDGET))
    assert BUDGET <= time.monotonic() - started < BUDGET + TOLERANCE
    line = f"the fallback store docker-credential-orphan did not answer within {BUDGET:g} s"
    assert str(raised.value) == line
    assert orphan_store.exists(), "the store never started its child"
    [child] = [int(pid) for pid in orphan_store.read_text().split()]
    assert ended(child, within=TOLERANCE)
    assert alive(orphan_store) == []
    assert logins.read_bytes() == before


def test_no_session_of_a_run_outlives_it() -> None:
    """The runner the loop tests rely on: a command's leftover processes are found and killed."""
    code = "import subprocess as s; s.Popen(['sleep', '30'], stdout=s.DEVNULL, stderr=s.DEVNULL)"
    command = [sys.executable, "-c", code]
    result, left = run_in_session(command, dict(os.environ), None, timeout=10)
    assert result.returncode == 0 and len(left) == 1


# --- the store's names, under docker's keys ---------------------------------------------------

# What a fallback shared with podman holds: the Hub under podman's name, a host with the
# scheme a client sent, and one under docker's own key.
SPELT = {
    "docker.io": {"Username": "hubuser", "Secret": "CANARY-hub"},
    "https://registry.gitlab.com": {"Username": "gl", "Secret": "CANARY-gl"},
    "quay.io": {"Username": "q", "Secret": "CANARY-quay"},
}


@pytest.fixture
def spelt_store(env: dict[str, str], tmp_path: Path) -> Path:
    """`docker-credential-desktop`, the fake store, holding SPELT and made the fallback by
    configure; yields its log of calls (argv only, one JSON line each)."""
    data = put_on_path(env, tmp_path, "desktop")
    data.write_text(json.dumps(SPELT))
    log = Path(env["FAKE_STORE_LOG"])
    write_config(env, {"credsStore": "desktop"})
    configured = run_helper(env, "configure")
    assert configured.returncode == 0, configured.stderr
    log.unlink()
    return log


def store_calls(log: Path) -> list[list[str]]:
    """The fake store's calls since the last look, as argv lists."""
    calls = [json.loads(line)[1:] for line in log.read_text().splitlines()]
    log.unlink()
    return calls


def echoed(env: dict[str, str], server: str) -> tuple[str, str]:
    """The login `get` answers for `server`, which it echoes as received, whichever
    spelling answered."""
    got = get(env, server)
    assert got.returncode == 0, got.stdout + got.stderr
    found = json.loads(got.stdout)
    assert found["ServerURL"] == server
    return found["Username"], found["Secret"]


def test_a_fallback_login_answers_under_docker_key_whatever_its_spelling(
    env: dict[str, str], spelt_store: Path
) -> None:
    """podman keeps Docker Hub as `docker.io`, docker asks `https://index.docker.io/v1/`:
    docker never found podman's Hub login, `export --all` left out 2 of 3 logins and exited
    0, and `list` showed names that are no docker key."""
    for server in (HUB, "docker.io", "index.docker.io"):
        assert echoed(env, server) == ("hubuser", "CANARY-hub")
    assert echoed(env, "registry.gitlab.com") == ("gl", "CANARY-gl")
    listed = run_helper(env, "list", stdin=None)
    assert json.loads(listed.stdout) == {
        HUB: "hubuser",
        "registry.gitlab.com": "gl",
        "quay.io": "q",
    }
    store_calls(spelt_store)
    # The common case still costs one process: the name as given answers.
    assert echoed(env, "quay.io") == ("q", "CANARY-quay")
    assert store_calls(spelt_store) == [["get"]]
    # A miss asks the list once, and a name that only looks alike is never answered.
    missing = run_helper(env, "get", stdin=b"docker.io.evil.example")
    assert (missing.returncode, missing.stdout) == (1, NOT_FOUND)
    assert store_calls(spelt_store) == [["get"], ["list"]]
    oauth = run_helper(env, "get", stdin=b"https://index.docker.io/v1/access-token")
    assert oauth.stdout == NOT_FOUND
    exported = run_helper(env, "export", "--format", "docker-config", "--all")
    assert exported.returncode == 0, exported.stderr
    auths = json.loads(exported.stdout)["auths"]
    assert sorted(auths) == sorted([HUB, "registry.gitlab.com", "quay.io"])
    assert b"3 registries" in exported.stderr
    assert b"CANARY" not in listed.stdout + listed.stderr + exported.stderr
    assert "CANARY" not in spelt_store.read_text()  # secrets go over stdin, never argv


def test_erase_forgets_every_spelling_the_fallback_holds(
    env: dict[str, str], spelt_store: Path
) -> None:
    """`docker logout` erased docker's key alone: podman's `docker.io` login stayed, and
    answered the next pull."""
    data = Path(env["FAKE_STORE_FILE"])
    entries = json.loads(data.read_text())
    entries[HUB] = {"Username": "dockeruser", "Secret": "CANARY-docker"}
    data.write_text(json.dumps(entries))
    assert echoed(env, HUB) == ("dockeruser", "CANARY-docker")  # docker's own spelling first
    assert json.loads(run_helper(env, "list", stdin=None).stdout)[HUB] == "dockeruser"
    erased = run_helper(env, "erase", stdin=HUB.encode())
    assert (erased.returncode, erased.stdout, erased.stderr) == (0, b"", b"")
    assert sorted(json.loads(data.read_text())) == ["https://registry.gitlab.com", "quay.io"]
    assert run_helper(env, "get", stdin=b"docker.io").stdout == NOT_FOUND
    erased = run_helper(env, "erase", stdin=b"registry.gitlab.com")
    assert (erased.returncode, erased.stdout) == (0, b"")
    assert sorted(json.loads(data.read_text())) == ["quay.io"]
