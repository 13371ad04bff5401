"""How the bench measures: the lean spawner that forks every child, and the interleaved rounds.

Wall time is taken from just before the fork to the reaped exit, and peak RSS is the child's
own `ru_maxrss`, which only a small parent can read truly (see the package docstring). Every
run's answer is checked; the rounds shuffle the scenarios' order and put the loopback round
trip to FakeECR in a random slot of each.
"""

from __future__ import annotations

import http.client
import inspect
import marshal
import os
import random
import select
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any, BinaryIO

from beds.aws import ECR_TARGET_PREFIX, JSON_CONTENT_TYPE, FakeECR, sigv4_signature
from bench.scenarios import ECR_REGION, KEY_RTT, Scenario
from bench.targets import GET_ECR_CACHED, PEER_CACHED

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

    Running the whole module would compile every function and keep their code objects: about
    3 MiB more anonymous memory, which every forked child would start with.
    """
    prelude = (
        "from __future__ import annotations\n"
        "import marshal, os, select, sys, time\n"
        f"STDIN_MAX = {STDIN_MAX}\n_LENGTH_BYTES = {_LENGTH_BYTES}\n"
    )
    functions = "\n".join(inspect.getsource(function) for function in _SPAWNER_PARTS)
    return prelude + functions + "\nsys.exit(spawner_main())\n"


# -- running the scenarios -------------------------------------------------------------------


class Spawner:
    """The lean child process that forks every measured command (see the package docstring)."""

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
