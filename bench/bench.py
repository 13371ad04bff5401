"""Start-up benchmark of docker-credential-codespaces against the interpreter's own floor.

Docker starts the helper anew for every registry it touches, so what matters is how close one
run gets to the cost of starting the interpreter at all. This command runs the installed
executable in every scenario below, interleaved with its baselines over many rounds in one
invocation, so that machine drift (CPU frequency, other load, caches) hits them all alike, and
prints one table of medians with each scenario's ratio to the `python -c pass` baseline (the
one the targets name), its ratio to `python -I -S -c pass` (the floor of the launcher's
wrapper, which skips `site` and exits without teardown), and a PASS/MISS verdict against the
project's targets.

Usage:

    .venv/bin/python bench/bench.py              # 30 rounds, the table
    .venv/bin/python bench/bench.py --rounds 60  # more rounds (30 at least)
    .venv/bin/python bench/bench.py --json       # machine-readable, raw samples included
    .venv/bin/python bench/bench.py --quick      # 5 rounds, a smoke test; numbers are noisy
    .venv/bin/python bench/bench.py --helper /usr/local/bin/docker-credential-codespaces

The helper measured is `--helper`, by default the one in the venv of the interpreter running
this file (tests/run.sh writes it as install.sh does). Its `#!` line names the interpreter, and
that interpreter, with its venv, runs the baselines. The header says whether the executable is
the launcher's wrapper (`python -I -S`, docker_credential_codespaces/launcher.py). Nothing
leaves the machine: the ECR exchange goes to FakeECR (tests/aws_bed.py), started in this
process on 127.0.0.1 and stopped at the end.

Scenarios, each with its own temporary HOME, XDG directories, empty AWS config and credentials
files, `AWS_EC2_METADATA_DISABLED=true`, a secrets file path that does not exist, and an
environment built from scratch (so no `*_CONTAINER_REGISTRY_*` or `AWS_*` variable of this
shell leaks in):

    baseline             `<venv python> -c pass`: the floor the targets are set against
    baseline -I -S       `<venv python> -I -S -c pass`: the floor of the launcher's wrapper,
                         which skips `site`; no target
    get plain secret     a registry covered by one plain secret triple
    get not found        a registry no secret and no stored login knows
    get ECR cached       an ECR registry whose token is in the helper's cache
    list 50 triples      `list` with 50 secret triples in the environment
    get N triples        `get` with 1, 100 and 1,000 triples: how the cost grows
    baseline 1,000       `<venv python> -I -S -c pass` with the 1,000 triples in its
                         environment: the interpreter's own share of that growth (the
                         dynamic loader and CPython both read every variable at start-up)
    baseline boto3       `<venv python> -c "import boto3"`: the floor of any boto3 exchange
    baseline botocore    `<venv python> -I -c "import botocore.session, os; os._exit(0)"`:
                         the cold path's floor started as the helper starts (no teardown);
                         no target, it shows how much of the cold gain is start and exit
    get ECR cold         cache file deleted before each run; one exchange with FakeECR
    peer ecr-login       Debian's `docker-credential-ecr-login get` (Go) with a pre-filled
                         cache for the same kind of registry, as the compiled peer. Measured
                         only when installed; this bench installs nothing. To add it:
                         `apt-get install --no-install-recommends amazon-ecr-credential-helper`

Targets: `get` plain secret, not found and ECR cached: median <= 1.15 x baseline; `list` with
50 triples <= 1.2 x; 1,000 triples <= 5 ms more than 1 triple; cold ECR <= 1.2 x the boto3
baseline plus one loopback round trip (one signed POST to FakeECR on a new connection, timed
here once per round); peak RSS of those hot paths (the three `get`s and `list`) within 2 MiB of
the baseline's.

How it measures, and why:

* Wall time is `time.perf_counter` from just before the fork to the reaped exit, with stdin
  given as bytes in a pipe and stdout and stderr read to the end: what docker waits for. The
  child's environment is put in place before the clock starts, as docker's Go runtime builds
  it before its fork; the kernel's copy of it into the new process is timed.
* Peak RSS is `ru_maxrss` from `os.wait4` of each child. Linux carries the *parent's* memory
  into a child's `ru_maxrss` (a forked child starts with the parent's pages, and after
  posix_spawn/vfork `exec` records the parent's own high-water mark), so children spawned by
  this process would all read about its own 20-odd MiB. Every child is therefore forked by a
  lean spawner: the few spawner functions of this file run as `python -I -S -c <their source>`,
  which imports only built-in modules. Its floor (a child running `true`) is printed in the
  header; readings above it are exact.
* Scenario order is shuffled every round (seeded, printed) so no scenario always follows the
  expensive ones; one untimed warm-up run of each checks its answer and warms the page cache
  and bytecode caches. Every timed run's answer is checked too; a wrong answer is an ERROR row.
"""

from __future__ import annotations

import argparse
import base64
import glob
import hashlib
import http.client
import inspect
import json
import marshal
import os
import random
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:  # the checkout joins sys.path only in main(); see there
    from beds.aws import FakeECR

# -- the spawner: forks every measured child from a small process ----------------------------

# No single run may take longer than this; a hang becomes a failed sample, not a stuck bench.
RUN_TIMEOUT = 60.0
# Stdin is written into the pipe before the fork, so it must fit the pipe's buffer.
STDIN_MAX = 16 * 1024
_LENGTH_BYTES = 8


def _write_frame(stream: BinaryIO, value: object) -> None:
    """One length-prefixed marshal frame: marshal is built in, so the spawner imports nothing."""
    data = marshal.dumps(value)
    stream.write(len(data).to_bytes(_LENGTH_BYTES, "little") + data)
    stream.flush()


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_frame(stream: BinaryIO) -> Any:
    """The next frame's value, or None at end of stream."""
    head = _read_exact(stream, _LENGTH_BYTES)
    if head is None:
        return None
    body = _read_exact(stream, int.from_bytes(head, "little"))
    if body is None:
        return None
    return marshal.loads(body)  # noqa: S302 - our own frames, on a private pipe


def _run_child(argv: list[str], env: dict[str, str], stdin: bytes, timeout: float) -> tuple:
    """Fork, exec and reap one child; (exit code or -signal, seconds, ru_maxrss KiB, out, err).

    fork, not posix_spawn: after vfork `exec` records the parent's whole high-water mark as
    the child's, while a forked child starts from the spawner's few anonymous pages only.
    The child inherits `env`, put in place before the clock starts: turning thousands of
    variables into C strings is the caller's work (docker's Go runtime does it before its
    fork too), while the kernel's copy of them into the new process stays timed.
    """
    if len(stdin) > STDIN_MAX:
        raise ValueError("stdin too large for a pre-filled pipe")
    if os.environ != env:
        os.environ.clear()
        os.environ.update(env)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    os.write(in_w, stdin)
    os.close(in_w)
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: only dup2 and exec, then it is the measured program
        try:
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.execv(argv[0], argv)  # noqa: S606 - no shell: argv runs as given
        finally:
            os._exit(127)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    deadline = started + timeout
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    open_fds = set(chunks)
    timed_out = False
    while open_fds:
        left = deadline - time.perf_counter()
        if left <= 0:
            timed_out = True
            os.kill(pid, 9)  # our own child, by its id
            break
        for fd, _event in poller.poll(left * 1000):
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                poller.unregister(fd)
                open_fds.discard(fd)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - started
    os.close(out_r)
    os.close(err_r)
    code = -9999 if timed_out else os.waitstatus_to_exitcode(status)
    return code, elapsed, usage.ru_maxrss, b"".join(chunks[out_r]), b"".join(chunks[err_r])


def spawner_main() -> int:
    """Serve run requests on stdin until it closes; answer each on stdout."""
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while True:
        request = _read_frame(requests)
        if request is None:
            return 0
        argv, env, stdin, timeout = request
        _write_frame(answers, _run_child(argv, env, stdin, timeout))


_SPAWNER_PARTS = (_write_frame, _read_exact, _read_frame, _run_child, spawner_main)


def spawner_source() -> str:
    """The spawner as `-c` code: only its own functions, so that it stays lean.

    Running this whole file would compile every function and keep their code objects: about
    3 MiB more anonymous memory, which every forked child would start with.
    """
    prelude = (
        "from __future__ import annotations\n"
        "import marshal, os, select, sys, time\n"
        f"STDIN_MAX = {STDIN_MAX}\n_LENGTH_BYTES = {_LENGTH_BYTES}\n"
    )
    functions = "\n".join(inspect.getsource(function) for function in _SPAWNER_PARTS)
    return prelude + functions + "\nsys.exit(spawner_main())\n"


# -- the bench -------------------------------------------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = "docker-credential-codespaces"
PEER = "docker-credential-ecr-login"
PEER_INSTALL = "apt-get install --no-install-recommends amazon-ecr-credential-helper"
NOT_FOUND = b"credentials not found in native keychain\n"
MIB = 1024.0  # ru_maxrss is in KiB on Linux

# FakeECR accepts these access keys; cold, cached and the round trip each use their own, so
# the server's per-key call counts prove what each scenario did.
KEY_COLD = ("AKIAIOSFODNN7BENCH01", "bench-secret-0001-wJalrXUtnFEMIK7MDENG")
KEY_CACHED = ("AKIAIOSFODNN7BENCH02", "bench-secret-0002-je7MtGbClwBF/2Zp9Utk")
KEY_RTT = ("AKIAIOSFODNN7BENCH03", "bench-secret-0003-bPxRfiCYEXAMPLEKEY00")
ECR_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
ECR_REGION = "eu-west-1"
PLAIN_HOST = "ghcr.io"
PLAIN_USER = "octocat"
PLAIN_PASSWORD = "ghp_" + "b" * 36  # the shape of a GitHub token

BASELINE = "baseline: python -c pass"
BASELINE_ISOLATED = "baseline: python -I -S -c pass"
BASELINE_1000 = "baseline: python -I -S -c pass, 1,000 triples"
BASELINE_BOTO3 = 'baseline: python -c "import boto3"'
BASELINE_BOTOCORE = "baseline: python -I, botocore.session, no teardown"
GET_PLAIN = "get: plain secret"
GET_NOT_FOUND = "get: not found"
GET_ECR_CACHED = "get: ECR, token cached"
LIST_50 = "list: 50 triples"
GET_TRIPLES = {1: "get: 1 triple", 100: "get: 100 triples", 1000: "get: 1,000 triples"}
GET_ECR_COLD = "get: ECR cold (FakeECR)"
PEER_CACHED = "peer: ecr-login get, cached"

HOT_FACTOR = 1.15
LIST_FACTOR = 1.2
TRIPLES_EXTRA_MS = 5.0
COLD_FACTOR = 1.2
RSS_SLACK_MIB = 2.0


class Scenario:
    """One command in one prepared environment, and the samples measured for it."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        stdin: bytes = b"",
        check: Callable[[int, bytes], str | None] | None = None,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.stdin = stdin
        self.check = check  # the answer's problem, or None when it is right
        self.prepare = prepare  # untimed, before every run (the cold cache deletes its file)
        self.unavailable = ""  # why it was not measured; shown in its row
        self.walls: list[float] = []  # seconds
        self.rss: list[int] = []  # KiB
        self.failures: list[str] = []


class Spawner:
    """The lean child process that forks every measured command (see the module docstring)."""

    def __init__(self, python: str) -> None:

        self._process = subprocess.Popen(
            [python, "-I", "-S", "-c", spawner_source()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def run(self, argv: list[str], env: dict[str, str], stdin: bytes) -> tuple:
        """(exit code, seconds, ru_maxrss KiB, stdout, stderr) of one run."""
        assert self._process.stdin is not None and self._process.stdout is not None
        _write_frame(self._process.stdin, (argv, env, stdin, RUN_TIMEOUT))
        answer = _read_frame(self._process.stdout)
        if answer is None:
            raise RuntimeError("the spawner died")
        return tuple(answer)

    def stop(self) -> None:
        """Close its requests so it exits; kill it (by its id) only if it will not."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()


# -- environments and scenarios --------------------------------------------------------------


def base_env(root: Path, name: str, venv_bin: str) -> dict[str, str]:
    """A private environment built from scratch, so nothing of this shell steers the run."""
    from beds.environment import isolated_environ

    directory = root / "".join(c if c.isalnum() else "-" for c in name)
    return isolated_environ(directory, Path(venv_bin) / PROGRAM)


def add_triple(env: dict[str, str], prefix: str, server: str, user: str, password: str) -> None:
    """One `<prefix>_CONTAINER_REGISTRY_SERVER/_USER/_PASSWORD` secret triple."""
    env[f"{prefix}_CONTAINER_REGISTRY_SERVER"] = server
    env[f"{prefix}_CONTAINER_REGISTRY_USER"] = user
    env[f"{prefix}_CONTAINER_REGISTRY_PASSWORD"] = password


def expect_credentials(
    username: str, secret: str | None = None
) -> Callable[[int, bytes], str | None]:
    """A check that the answer is a credentials object for `username` (and `secret`)."""

    def check(code: int, stdout: bytes) -> str | None:
        if code != 0:
            return f"exit {code}: {stdout[:200]!r}"
        try:
            answer = json.loads(stdout)
        except ValueError:
            return f"not JSON: {stdout[:200]!r}"
        if answer.get("Username") != username:
            return f"username {answer.get('Username')!r}, expected {username!r}"
        if secret is not None and answer.get("Secret") != secret:
            return "wrong secret"
        return None

    return check


def expect_not_found(code: int, stdout: bytes) -> str | None:
    """The check for a registry nobody knows: docker's exact not-found line, exit 1."""
    if code == 1 and stdout == NOT_FOUND:
        return None
    return f"exit {code}: {stdout[:200]!r}"


def expect_exit_zero(code: int, stdout: bytes) -> str | None:
    """The check for the baselines: they only have to run."""
    return None if code == 0 else f"exit {code}"


def expect_listing(count: int) -> Callable[[int, bytes], str | None]:
    """A check that `list` printed `count` registries."""

    def check(code: int, stdout: bytes) -> str | None:
        if code != 0:
            return f"exit {code}: {stdout[:200]!r}"
        try:
            found = len(json.loads(stdout))
        except (ValueError, TypeError):
            return f"not JSON: {stdout[:200]!r}"
        return None if found == count else f"{found} registries, expected {count}"

    return check


def triple_password(index: int) -> str:
    """A deterministic password of a realistic length for synthetic triple `index`."""
    return f"pw-{index:04d}-" + "x" * 32


def with_triples(env: dict[str, str], count: int) -> dict[str, str]:
    """`env` plus `count` plain triples R0000..; a few name ECR hosts, as real codespaces do."""
    result = dict(env)
    for i in range(count):
        if i % 10 == 9:
            server = f"{100000000000 + i}.dkr.ecr.us-east-1.amazonaws.com"
            add_triple(result, f"R{i:04d}", server, "AWS", triple_password(i))
        else:
            add_triple(
                result, f"R{i:04d}", f"registry-{i:04d}.example.com", f"user{i}", triple_password(i)
            )
    return result


def build_scenarios(root: Path, python: str, helper: str, fake: FakeECR) -> list[Scenario]:
    """Every scenario with its own prepared environment (the peer's is added separately)."""
    from beds.aws import endpoint_env

    venv_bin = os.path.dirname(helper)
    get = [helper, "get"]
    scenarios = []

    env = base_env(root, BASELINE, venv_bin)
    scenarios.append(Scenario(BASELINE, [python, "-c", "pass"], env, check=expect_exit_zero))

    # The floor of the launcher's wrapper, which starts Python this way; no target.
    env = base_env(root, BASELINE_ISOLATED, venv_bin)
    argv = [python, "-I", "-S", "-c", "pass"]
    scenarios.append(Scenario(BASELINE_ISOLATED, argv, env, check=expect_exit_zero))

    env = base_env(root, GET_PLAIN, venv_bin)
    add_triple(env, "GHCR", PLAIN_HOST, PLAIN_USER, PLAIN_PASSWORD)
    check = expect_credentials(PLAIN_USER, PLAIN_PASSWORD)
    scenarios.append(Scenario(GET_PLAIN, get, env, PLAIN_HOST.encode(), check))

    # The codespace has a secret, but docker asks about the Hub: the commonest miss.
    env = base_env(root, GET_NOT_FOUND, venv_bin)
    add_triple(env, "GHCR", PLAIN_HOST, PLAIN_USER, PLAIN_PASSWORD)
    stdin = b"https://index.docker.io/v1/"
    scenarios.append(Scenario(GET_NOT_FOUND, get, env, stdin, expect_not_found))

    # The cache key covers the endpoint, so the runs keep the FakeECR endpoint that filled it.
    env = base_env(root, GET_ECR_CACHED, venv_bin)
    env.update(endpoint_env(fake.endpoint_url))
    add_triple(env, "ECR", ECR_HOST, *KEY_CACHED)
    scenarios.append(
        Scenario(GET_ECR_CACHED, get, env, ECR_HOST.encode(), expect_credentials("AWS"))
    )

    env = with_triples(base_env(root, LIST_50, venv_bin), 50)
    scenarios.append(Scenario(LIST_50, [helper, "list"], env, b"", expect_listing(50)))

    for count, name in GET_TRIPLES.items():
        env = with_triples(base_env(root, name, venv_bin), count)
        last = count - 1  # the last by prefix; every triple is read either way
        host = f"registry-{last:04d}.example.com"
        if last % 10 == 9:
            last -= 1
            host = f"registry-{last:04d}.example.com"
        check = expect_credentials(f"user{last}", triple_password(last))
        scenarios.append(Scenario(name, get, env, host.encode(), check))

    # How much of the 1,000-triple cost is the interpreter's own (started as the launcher's
    # wrapper starts it), before the helper runs: set against BASELINE_ISOLATED.
    env = with_triples(base_env(root, BASELINE_1000, venv_bin), 1000)
    argv = [python, "-I", "-S", "-c", "pass"]
    scenarios.append(Scenario(BASELINE_1000, argv, env, check=expect_exit_zero))

    env = base_env(root, BASELINE_BOTO3, venv_bin)
    scenarios.append(
        Scenario(BASELINE_BOTO3, [python, "-c", "import boto3"], env, check=expect_exit_zero)
    )

    # The cold path's own floor, started as the helper starts: what it imports, no `site`
    # work beyond finding the venv, no teardown. No target; it shows where the gain is from.
    env = base_env(root, BASELINE_BOTOCORE, venv_bin)
    argv = [python, "-I", "-c", "import botocore.session, os; os._exit(0)"]
    scenarios.append(Scenario(BASELINE_BOTOCORE, argv, env, check=expect_exit_zero))

    env = base_env(root, GET_ECR_COLD, venv_bin)
    env.update(endpoint_env(fake.endpoint_url))
    add_triple(env, "ECR", ECR_HOST, *KEY_COLD)
    cache_glob = os.path.join(env["XDG_CACHE_HOME"], PROGRAM, "ecr-*.token")

    def empty_cache() -> None:
        """Delete the cached token (not the directory or lock): the state after expiry."""
        for path in glob.glob(cache_glob):
            os.unlink(path)

    scenarios.append(
        Scenario(GET_ECR_COLD, get, env, ECR_HOST.encode(), expect_credentials("AWS"), empty_cache)
    )
    return scenarios


def peer_scenario(root: Path, venv_bin: str) -> Scenario:
    """`docker-credential-ecr-login get` with its file cache pre-filled for ECR_HOST.

    It has no endpoint override (it predates AWS_ENDPOINT_URL_*), so it cannot be pointed at
    FakeECR; its cache is written by hand instead, in the format of amazon-ecr-credential-helper
    0.6's ecr-login/cache: `cache.json` in AWS_ECR_CACHE_DIR, `{"Registries": {key: AuthEntry},
    "Version": "1.0"}`, key = `<region>-<checksum(access key id)>-<registry id>` where checksum
    is base64 of the key id's bytes followed by MD5 of nothing (its `hasher.Sum([]byte(text))`).
    The warm-up run proves the cache was hit: the password can only have come from the file.
    """
    path = shutil.which(
        PEER, path=f"/usr/bin{os.pathsep}/bin{os.pathsep}{os.environ.get('PATH', '')}"
    )
    env = base_env(root, PEER_CACHED, venv_bin)
    password = "peer-cached-password-0001"
    scenario = Scenario(PEER_CACHED, [path or PEER, "get"], env, ECR_HOST.encode())
    scenario.check = expect_credentials("AWS", password)
    if path is None:
        scenario.unavailable = f"not installed; to compare: {PEER_INSTALL}"
        return scenario
    cache_dir = os.path.join(env["HOME"], ".ecr")
    key_id, secret_key = KEY_CACHED
    env.update(
        AWS_ECR_CACHE_DIR=cache_dir, AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret_key
    )
    checksum = base64.b64encode(
        key_id.encode() + hashlib.md5(b"", usedforsecurity=False).digest()
    ).decode()
    now = datetime.now(timezone.utc)
    stamp = "%Y-%m-%dT%H:%M:%S.%fZ"
    entry = {
        "AuthorizationToken": base64.b64encode(f"AWS:{password}".encode()).decode(),
        "RequestedAt": now.strftime(stamp),
        "ExpiresAt": (now + timedelta(hours=12)).strftime(stamp),
        "ProxyEndpoint": f"https://{ECR_HOST}",
        "Service": "ecr",
    }
    registry_id = ECR_HOST.split(".", 1)[0]
    document = {"Registries": {f"{ECR_REGION}-{checksum}-{registry_id}": entry}, "Version": "1.0"}
    os.makedirs(cache_dir, mode=0o700)
    with open(os.path.join(cache_dir, "cache.json"), "w") as stream:
        json.dump(document, stream)
    return scenario


# -- measuring -------------------------------------------------------------------------------


def measure(spawner: Spawner, scenario: Scenario) -> tuple[float, int, str | None]:
    """Run a scenario once: (seconds, ru_maxrss KiB, problem or None)."""
    if scenario.prepare is not None:
        scenario.prepare()
    code, seconds, maxrss, stdout, stderr = spawner.run(scenario.argv, scenario.env, scenario.stdin)
    problem = None
    if code == -9999:
        problem = f"timed out after {RUN_TIMEOUT:.0f} s"
    elif scenario.check is not None:
        problem = scenario.check(code, stdout)
    if problem is not None and stderr:
        problem += f" (stderr: {stderr[-300:].decode('utf-8', 'replace').strip()})"
    return seconds, maxrss, problem


def rss_floor(spawner: Spawner, runs: int = 5) -> int:
    """ru_maxrss of a child that does nothing: below it, RSS readings say nothing."""
    true = shutil.which("true") or "/bin/true"
    return min(spawner.run([true], {}, b"")[2] for _ in range(runs))


def round_trip(fake: FakeECR) -> float:
    """Seconds for one signed GetAuthorizationToken POST to FakeECR on a new connection.

    Signed (untimed) so that the server does all its work, as it does for the helper; the
    timing covers connect, request, the server's checks, the answer and the close.
    """
    from beds.aws import ECR_TARGET_PREFIX, JSON_CONTENT_TYPE, sigv4_signature

    port = int(fake.endpoint_url.rsplit(":", 1)[1])
    key_id, secret_key = KEY_RTT
    body = b"{}"
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "content-type": JSON_CONTENT_TYPE,
        "host": f"127.0.0.1:{port}",
        "x-amz-date": amz_date,
        "x-amz-target": f"{ECR_TARGET_PREFIX}.GetAuthorizationToken",
    }
    signed = sorted(headers)
    signature = sigv4_signature(
        secret_key,
        method="POST",
        path="/",
        query="",
        headers=headers,
        signed_headers=signed,
        body=body,
        amz_date=amz_date,
        region=ECR_REGION,
        service="ecr",
    )
    scope = f"{key_id}/{amz_date[:8]}/{ECR_REGION}/ecr/aws4_request"
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={';'.join(signed)}, "
        f"Signature={signature}"
    )
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=RUN_TIMEOUT)
    try:
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"FakeECR answered the round-trip probe with {response.status}")
    return elapsed


def warm_up(spawner: Spawner, scenarios: list[Scenario]) -> None:
    """One untimed run of each: checks every answer and warms the caches before round 1.

    A helper scenario that answers wrongly stops the bench (the numbers would be of a broken
    command); the peer that cannot hit its cache is reported in its row instead.
    """
    for scenario in scenarios:
        if scenario.unavailable:
            continue
        _, _, problem = measure(spawner, scenario)
        if problem is None and scenario.name == GET_ECR_CACHED:
            _, _, problem = measure(spawner, scenario)  # the first run filled the cache
        if problem is None:
            continue
        if scenario.name == PEER_CACHED:
            scenario.unavailable = (
                "could not make it hit a pre-filled cache without network "
                f"({problem[:80]}); not measured"
            )
            continue
        raise SystemExit(f"bench: {scenario.name}: wrong answer in the warm-up: {problem}")


def run_rounds(
    spawner: Spawner, scenarios: list[Scenario], fake: FakeECR, rounds: int, seed: int
) -> list[float]:
    """Every scenario once per round, in a fresh shuffled order; returns round-trip samples."""
    rng = random.Random(seed)  # noqa: S311 - an order to replay, not a secret
    live = [s for s in scenarios if not s.unavailable]
    trips = []
    show = sys.stderr.isatty()
    for number in range(1, rounds + 1):
        if show:
            sys.stderr.write(f"\rround {number}/{rounds}")
            sys.stderr.flush()
        order = rng.sample(live, len(live))
        slot = rng.randrange(len(order) + 1)  # the round trip takes a random slot too
        for index, scenario in enumerate(order):
            if index == slot:
                trips.append(round_trip(fake))
            seconds, maxrss, problem = measure(spawner, scenario)
            if problem is None:
                scenario.walls.append(seconds)
                scenario.rss.append(maxrss)
            else:
                scenario.failures.append(problem)
        if slot == len(order):
            trips.append(round_trip(fake))
    if show:
        sys.stderr.write("\r" + " " * 30 + "\r")
    return trips


# -- reporting -------------------------------------------------------------------------------


def summarise(scenario: Scenario) -> dict[str, Any]:
    """Median, min and max wall ms, peak RSS MiB (median and max of the runs' peaks)."""
    if not scenario.walls:
        return {}
    ms = [s * 1000 for s in scenario.walls]
    return {
        "median_ms": statistics.median(ms),
        "min_ms": min(ms),
        "max_ms": max(ms),
        "rss_mib": statistics.median(scenario.rss) / MIB,
        "rss_max_mib": max(scenario.rss) / MIB,
    }


def verdicts(stats: dict[str, dict[str, Any]], rtt_ms: float) -> dict[str, tuple[str, str]]:
    """Scenario name -> (target text, PASS / MISS with what missed) for every targeted row."""
    base = stats.get(BASELINE)
    result: dict[str, tuple[str, str]] = {}
    if not base:
        return result

    def judge(name: str, target: str, limit_ms: float, rss: bool) -> None:
        row = stats.get(name)
        if not row:
            result[name] = (target, "ERROR")
            return
        missed = []
        if row["median_ms"] > limit_ms:
            missed.append(f"time +{row['median_ms'] - limit_ms:.1f} ms")
        if rss and row["rss_mib"] > base["rss_mib"] + RSS_SLACK_MIB:
            missed.append(f"RSS base+{row['rss_mib'] - base['rss_mib']:.1f} MiB")
        result[name] = (target, "MISS: " + ", ".join(missed) if missed else "PASS")

    rss_target = f" & RSS <= base+{RSS_SLACK_MIB:g}"
    for name in (GET_PLAIN, GET_NOT_FOUND, GET_ECR_CACHED):
        judge(name, f"<= {HOT_FACTOR}x{rss_target}", HOT_FACTOR * base["median_ms"], True)
    judge(LIST_50, f"<= {LIST_FACTOR}x{rss_target}", LIST_FACTOR * base["median_ms"], True)
    one = stats.get(GET_TRIPLES[1])
    if one:
        limit = one["median_ms"] + TRIPLES_EXTRA_MS
        judge(GET_TRIPLES[1000], f"<= 1 triple +{TRIPLES_EXTRA_MS:g} ms", limit, False)
    boto3 = stats.get(BASELINE_BOTO3)
    if boto3:
        limit = COLD_FACTOR * boto3["median_ms"] + rtt_ms
        judge(GET_ECR_COLD, f"<= {COLD_FACTOR}x boto3 + RTT", limit, False)
    return result


def triples_growth(stats: dict[str, dict[str, Any]]) -> tuple[float, float] | None:
    """(get with 1,000 triples minus get with 1, the interpreter's own share of it) in ms."""
    rows = [stats.get(n) for n in (GET_TRIPLES[1000], GET_TRIPLES[1], BASELINE_1000)]
    floor = stats.get(BASELINE_ISOLATED)
    if not all(rows) or not floor:
        return None
    many, one, interpreter = (row["median_ms"] for row in rows)  # type: ignore[index]
    return many - one, interpreter - floor["median_ms"]


def print_table(
    scenarios: list[Scenario],
    stats: dict[str, dict[str, Any]],
    judged: dict[str, tuple[str, str]],
    meta: dict[str, Any],
) -> None:
    """The header that says what the numbers mean, then one row per scenario."""
    base = stats.get(BASELINE, {}).get("median_ms")
    print(f"{PROGRAM} start-up bench: {meta['rounds']} rounds, interleaved in one run")
    print(
        "All figures are relative to the baseline `python -c pass`, measured interleaved\n"
        f"with every scenario in this same run (order shuffled each round, seed {meta['seed']});\n"
        "compare ratios, not milliseconds, across machines or runs."
    )
    print(f"helper: {meta['helper']}\n  wrapper: {meta['wrapper']}")
    print(f"interpreter: {meta['python']} ({meta['python_version']})")
    print(
        "wall: fork to reaped exit, stdout/stderr read; RSS: median of each run's ru_maxrss "
        f"(floor {meta['rss_floor_mib']:.1f} MiB)"
    )
    print(
        f"loopback round trip (RTT), one signed POST to FakeECR: median {meta['rtt_ms']:.2f} ms"
        f"; load average before: {meta['loadavg']}"
    )
    print()
    floor = stats.get(BASELINE_ISOLATED, {}).get("median_ms")
    header = (
        "scenario",
        "median ms",
        "min",
        "max",
        "RSS MiB",
        "x base",
        "x -I -S",
        "target",
        "PASS/MISS",
    )
    rows = []
    for scenario in scenarios:
        row = stats.get(scenario.name)
        target, verdict = judged.get(scenario.name, ("", "-"))
        if scenario.unavailable:
            rows.append((scenario.name, "-", "-", "-", "-", "-", "-", target, scenario.unavailable))
            continue
        if not row:
            rows.append((scenario.name, "-", "-", "-", "-", "-", "-", target, "ERROR: no good run"))
            continue
        if scenario.failures:
            verdict = f"ERROR: {len(scenario.failures)} wrong answers; {verdict}"
        ratio = f"{row['median_ms'] / base:.2f}" if base else "-"
        to_floor = f"{row['median_ms'] / floor:.2f}" if floor else "-"
        rows.append(
            (
                scenario.name,
                f"{row['median_ms']:.1f}",
                f"{row['min_ms']:.1f}",
                f"{row['max_ms']:.1f}",
                f"{row['rss_mib']:.1f}",
                ratio,
                to_floor,
                target,
                verdict,
            )
        )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3, 4, 5, 6}
    for line in [header, *rows]:
        cells = [
            str(cell).rjust(width) if i in right else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths))
        ]
        print("  ".join(cells).rstrip())
    near_floor = [
        name for name, row in stats.items() if row and row["rss_mib"] < meta["rss_floor_mib"] + 0.5
    ]
    if near_floor:
        print(
            f"\nRSS within 0.5 MiB of the floor, so possibly the floor's: {', '.join(near_floor)}"
        )
    growth = triples_growth(stats)
    if growth is not None:
        total, interpreter = growth
        # Signed: each part is a difference of medians, and the rest can fall below zero
        # when the helper's scan costs less than the noise between those medians.
        print(
            f"\n1,000 triples against 1: {total:+.1f} ms, of which the interpreter alone "
            f"(python -I -S -c pass with and without them) {interpreter:+.1f} ms, the rest "
            f"(the helper's own scan, and noise) {total - interpreter:+.1f} ms"
        )
    misses = [name for name, (_, verdict) in judged.items() if verdict != "PASS"]
    print()
    print(f"targets missed: {', '.join(misses)}" if misses else "every target met")
    for scenario in scenarios:
        for problem in scenario.failures[:3]:
            print(f"  {scenario.name}: {problem}")


def parse_args(argv: list[str]) -> Any:
    """--rounds (30 at least unless --quick), --json, --seed."""
    parser = argparse.ArgumentParser(
        description=f"Time {PROGRAM} against `python -c pass`, interleaved over many rounds.",
        epilog="Run it with the helper's venv interpreter: .venv/bin/python bench/bench.py",
    )
    parser.add_argument(
        "--rounds", type=int, help="rounds (default 30; at least 30 unless --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="allow few rounds (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON with every sample")
    parser.add_argument("--seed", type=int, help="seed of the per-round order (default: random)")
    parser.add_argument(
        "--helper",
        help="the executable to measure, e.g. the one install.sh put on PATH (default: the one "
        "in the venv of the interpreter running this file); its #! interpreter runs the baselines",
    )
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 5 if args.quick else 30
    if args.rounds < 1 or (args.rounds < 30 and not args.quick):
        parser.error("--rounds must be at least 30 (or use --quick for a smoke test)")
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "little")
    return args


def helper_interpreter(helper: str) -> tuple[str, str]:
    """The interpreter the helper's script starts, and which wrapper it is, for the header.

    The baselines must use the helper's own interpreter and venv, whatever runs this file.
    """
    from beds.client import interpreter_command

    interpreter, *flags = interpreter_command(Path(helper))
    if flags == ["-IS"]:
        return interpreter, "the launcher's (python -I -S), as install.sh writes it"
    return interpreter, (
        "NOT the launcher's; install.sh would write one with "
        "`python -I -m docker_credential_codespaces.launcher PATH`"
    )


def main(argv: list[str] | None = None) -> int:
    """Prepare every scenario, measure them interleaved, print the table or JSON."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    helper = args.helper or os.path.join(os.path.dirname(sys.executable), PROGRAM)
    if not os.access(helper, os.X_OK):
        raise SystemExit(
            f"bench: no {helper}; run this with the helper's venv (.venv/bin/python "
            "bench/bench.py) or name the installed executable with --helper"
        )
    helper = os.path.realpath(helper)
    sys.path.insert(0, REPO)
    python, wrapper = helper_interpreter(helper)
    venv_bin = os.path.dirname(python)
    # pip compiles an installed package's bytecode; an editable checkout under
    # PYTHONDONTWRITEBYTECODE would otherwise recompile every module on every run.
    import compileall

    compileall.compile_dir(os.path.join(REPO, "docker_credential_codespaces"), quiet=1)
    from beds.aws import FakeECR

    keys = dict([KEY_COLD, KEY_CACHED, KEY_RTT])
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="dcc-bench-") as temp, FakeECR(keys) as fake:
        root = Path(temp)
        spawner = Spawner(python)
        try:
            scenarios = build_scenarios(root, python, helper, fake)
            scenarios.append(peer_scenario(root, venv_bin))
            floor = rss_floor(spawner)
            warm_up(spawner, scenarios)
            round_trip(fake)  # warm the server's code paths too
            cached_calls = fake.count(key_id=KEY_CACHED[0])
            cold_calls = fake.count(key_id=KEY_COLD[0])
            trips = run_rounds(spawner, scenarios, fake, args.rounds, args.seed)
            floor_after = rss_floor(spawner)
            by_name = {s.name: s for s in scenarios}
            if fake.count(key_id=KEY_CACHED[0]) != cached_calls:
                extra = fake.count(key_id=KEY_CACHED[0]) - cached_calls
                by_name[GET_ECR_CACHED].failures.append(f"{extra} runs missed the cache")
            cold = by_name[GET_ECR_COLD]
            if fake.count(key_id=KEY_COLD[0]) - cold_calls != len(cold.walls) + len(cold.failures):
                cold.failures.append("FakeECR saw a different number of exchanges than runs")
            if fake.errors:
                raise SystemExit(f"bench: FakeECR failed: {fake.errors[0]!r}")
        finally:
            spawner.stop()

    stats = {s.name: summarise(s) for s in scenarios}
    rtt_ms = statistics.median(trips) * 1000
    judged = verdicts(stats, rtt_ms)
    meta = {
        "rounds": args.rounds,
        "seed": args.seed,
        "python": python,
        "python_version": subprocess.run(
            [
                python,
                "-I",
                "-S",
                "-c",
                "import sys; print(sys.implementation.name, sys.version.split()[0])",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=RUN_TIMEOUT,
        ).stdout.strip(),
        "helper": helper,
        "wrapper": wrapper,
        "cpus": os.cpu_count(),
        "loadavg": loadavg,
        "rtt_ms": rtt_ms,
        "rss_floor_mib": max(floor, floor_after) / MIB,
        "rss_floor_before_after_kib": [floor, floor_after],
    }
    if args.json:
        document = {
            "meta": meta,
            "note": "relative to the baseline measured interleaved in the same run",
            "triples_growth_ms": dict(
                zip(("total", "interpreter"), triples_growth(stats) or (None, None))
            ),
            "rtt_samples_ms": [t * 1000 for t in trips],
            "scenarios": [
                {
                    "name": s.name,
                    "argv": s.argv,
                    "stdin": s.stdin.decode("utf-8", "replace"),
                    "unavailable": s.unavailable or None,
                    **stats[s.name],
                    "ratio_to_baseline": (
                        stats[s.name]["median_ms"] / stats[BASELINE]["median_ms"]
                        if stats[s.name] and stats.get(BASELINE)
                        else None
                    ),
                    "ratio_to_isolated_baseline": (
                        stats[s.name]["median_ms"] / stats[BASELINE_ISOLATED]["median_ms"]
                        if stats[s.name] and stats.get(BASELINE_ISOLATED)
                        else None
                    ),
                    "target": judged.get(s.name, (None, None))[0],
                    "verdict": judged.get(s.name, (None, None))[1],
                    "failures": s.failures,
                    "wall_ms": [w * 1000 for w in s.walls],
                    "rss_kib": s.rss,
                }
                for s in scenarios
            ],
        }
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(scenarios, stats, judged, meta)
    failed = any(s.failures for s in scenarios)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
