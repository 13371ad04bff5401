"""`warm` in process, where a fork or a pipe can be made to fail: the registry whose child
cannot be started fails in one line of its own, and the others are warmed all the same. And
`warm` started as an entrypoint starts it, beside a child it did not start.

What `warm` fetches and says on success is proven end to end on the fake clock
(test_refresh.py); the tokens here are USER=AWS ones, which need no exchange, but for the
entrypoint's, which FakeECR makes slow.
"""

from __future__ import annotations

import errno
import os
import time

import pytest

from beds.aws import FakeECR, endpoint_env
from beds.client import HELPER, run_command
from beds.environment import add_secret
from beds.values import ECR_HOST, KEY_ID, OTHER_ECR_HOST, aws_token
from docker_credential_codespaces import warm

FIRST, SECOND = ECR_HOST, OTHER_ECR_HOST


@pytest.fixture
def two_registries(use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two ECR registries, each with a USER=AWS token good for an hour."""
    for prefix, host in (("A", FIRST), ("B", SECOND)):
        monkeypatch.setenv(f"{prefix}_CONTAINER_REGISTRY_SERVER", host)
        monkeypatch.setenv(f"{prefix}_CONTAINER_REGISTRY_USER", "AWS")
        monkeypatch.setenv(f"{prefix}_CONTAINER_REGISTRY_PASSWORD", aws_token(time.time() + 3600))


@pytest.mark.parametrize(
    ("call", "code"), [("fork", errno.EAGAIN), ("pipe", errno.EMFILE)], ids=["fork", "pipe"]
)
@pytest.mark.usefixtures("two_registries")
def test_a_child_that_cannot_be_started_is_one_line_for_its_registry(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    call: str,
    code: int,
) -> None:
    real = getattr(os, call)
    failures = [OSError(code, os.strerror(code))]

    def once(*args: object) -> object:
        """The first call fails, as under a process or descriptor limit; the rest are real."""
        if failures:
            raise failures.pop()
        return real(*args)

    monkeypatch.setattr(os, call, once)
    descriptors = len(os.listdir("/proc/self/fd"))
    assert warm.main([]) == 1
    out, err = capsys.readouterr()
    first, second = out.splitlines()
    assert first == f"{FIRST}: cannot start a process to fetch its token ({os.strerror(code)})"
    assert second.startswith(f"{SECOND}: fresh until ")
    assert err == ""
    assert len(os.listdir("/proc/self/fd")) == descriptors  # no pipe left open


@pytest.mark.usefixtures("two_registries")
def test_when_no_child_can_be_started_each_registry_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    def fork() -> int:
        raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))

    monkeypatch.setattr(os, "fork", fork)
    assert warm.main([]) == 1
    out, err = capsys.readouterr()
    reason = os.strerror(errno.EAGAIN)
    assert out.splitlines() == [
        f"{host}: cannot start a process to fetch its token ({reason})" for host in (FIRST, SECOND)
    ]
    assert err == ""


def test_a_child_it_did_not_start_is_left_alone(env: dict[str, str]) -> None:
    """An entrypoint's shape: `sh -c 'job & exec docker-credential-codespaces warm'` hands
    warm a child of the shell's, which ends while warm waits for its own (FakeECR takes a
    second to answer each). warm waits only for the children it started."""
    with FakeECR({KEY_ID: "CANARY-secret"}) as fake:
        fake.delay = 1.0
        env.update(endpoint_env(fake.endpoint_url))
        add_secret(env, "A", FIRST, KEY_ID, "CANARY-secret")
        add_secret(env, "B", SECOND, "AWS", aws_token(time.time() + 3600))
        result = run_command(
            ["sh", "-c", 'sleep 0.3 & exec "$0" warm', str(HELPER)], env, stdin=None
        )
    assert (result.returncode, result.stderr) == (0, b""), result.stderr
    first, second = result.stdout.decode().splitlines()
    assert first.startswith(f"{FIRST}: fresh until ")
    assert second.startswith(f"{SECOND}: fresh until ")
    assert fake.count() == 1
