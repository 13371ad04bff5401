"""`warm`: a young token for every ECR registry the secrets name, before any pull asks.

Run at container start (the dev container Feature runs `warm --background` at postStart), it
makes the first pull of the day hot: the exchange a cold `get` would wait for happens while
nobody waits. The registries are fetched at once, WARM_CONCURRENCY at a time, each in a
forked child that says its one line through a pipe. Each child goes through the same cache,
lock, failure record and deadlines as `get` (RegistryToken.answer, asked for a young token),
so a warm racing a pull still costs one AWS call. A registry whose child cannot be started
(no process or pipe to be had) fails in its own line, as any other.

`warm` waits only for the children it started, each by its pid once its pipe is closed: an
entrypoint's `sh -c 'job & exec docker-credential-codespaces warm'` hands it a child it did
not start, which is none of its business.
"""

from __future__ import annotations

import os
import sys

from .commands import Parser
from .constants import WARM_CONCURRENCY
from .wire import HelperError

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from .ecr.answer import RegistryToken

# How a child tells its parent the outcome: this mark, then the line.
_FRESH = "+"


def _warm_one(key: str, token: RegistryToken) -> tuple[bool, str]:
    """The line `warm` prints for one registry, and whether its token is fresh."""
    from .ecr import messages

    try:
        expires_at = token.answer(young=True).expires_at
    except HelperError as error:
        return False, f"{key}: {error}"
    if expires_at is None:
        return True, f"{key}: a token whose expiry cannot be read, passed through as given"
    return True, f"{key}: fresh until {messages.when(expires_at)}"


def _start(job: tuple[str, RegistryToken]) -> tuple[int, int]:
    """Fork a child that warms one registry: its pid, and the read end of the pipe its line
    comes through. OSError when no pipe or process can be had, with nothing left open."""
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:  # the child: one registry, one line, and out without teardown
        code = 1
        try:
            os.close(read_end)
            fresh, line = _warm_one(*job)
            os.write(write_end, ((_FRESH if fresh else "-") + line).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _in_children(jobs: list[tuple[str, RegistryToken]]) -> list[tuple[bool, str]]:
    """Run `_warm_one` for each job in a forked child, at most WARM_CONCURRENCY at a time;
    the outcomes in the jobs' order. A child that dies without a word failed, and so did one
    that could not be started."""
    import select

    outcomes: list[tuple[bool, str]] = [(False, "")] * len(jobs)
    running: dict[int, tuple[int, int]] = {}  # read end of its pipe -> (job index, pid)
    poll = select.poll()
    started = 0
    while started < len(jobs) or running:
        while started < len(jobs) and len(running) < WARM_CONCURRENCY:
            try:
                pid, read_end = _start(jobs[started])
            except OSError as error:
                reason = error.strerror or error
                line = f"{jobs[started][0]}: cannot start a process to fetch its token ({reason})"
                outcomes[started] = (False, line)
            else:
                running[read_end] = (started, pid)
                poll.register(read_end, select.POLLIN)
            started += 1
        if not running:
            break  # the last jobs could not be started: nothing left to wait for
        read_end = poll.poll()[0][0]  # a child has said its line, or died
        poll.unregister(read_end)
        index, pid = running.pop(read_end)
        with open(read_end, "rb") as pipe:
            said = pipe.read().decode("utf-8", "replace")
        os.waitpid(pid, 0)
        key = jobs[index][0]
        outcomes[index] = (said[:1] == _FRESH, said[1:] or f"{key}: the fetch died unexpectedly")
    return outcomes


def _parser() -> Parser:
    parser = Parser(
        "warm",
        "Fetch a fresh token now for every ECR registry the secrets name, so "
        "that no pull waits for AWS; one line per registry.",
    )
    parser.add_argument(
        "--background",
        action="store_true",
        help="return at once and fetch in a detached process (for container start); "
        "`doctor` shows what failed",
    )
    return parser


def main(argv: list[str]) -> int:
    """`warm`: exit 0 when every ECR registry's token is fresh (or none is named)."""
    args = _parser().parse_args(argv)
    from .ecr.answer import detach
    from .secrets import registry_token, scan

    tokens = ((key, registry_token(triple)) for key, triple in scan().answers.items())
    jobs = [(key, token) for key, token in tokens if token is not None]
    if args.background:
        if not jobs or not detach():  # the outcomes are on record for doctor
            return 0
        _in_children(jobs)
        os._exit(0)
    if not jobs:
        sys.stdout.write("nothing to warm: no secret names an ECR registry\n")
        return 0
    outcomes = _in_children(jobs)
    sys.stdout.write("".join(line + "\n" for _, line in outcomes))
    return 0 if all(fresh for fresh, _ in outcomes) else 1
