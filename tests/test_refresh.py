"""Never cold, never stale: ECR tokens refreshed behind the pull, `warm`, and bounds under load.

The time-dependent tests run the helper on a fake clock it shares with the loopback AWS bed
(beds/clock.py: libfaketime preloaded into the helper's processes, the same offset read by
FakeECR), and move it only between helper calls, once every refresher has finished
(beds.client.wait_for_refreshers). Nothing inside the helper is faked. Whether a `get` waited
for an exchange is read from its debug line, said before it waits; whether a refresher ran
detached is read from the lock it holds and from the pipes docker reads, which are closed
while it still works.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from beds.aws import FakeECR, decode_token
from beds.client import ecr_password, get, run_helper, spawn, wait_for_refreshers
from beds.clock import FakeClock, library
from beds.environment import add_secret
from beds.values import ECR_HOST, KEY_ID, OTHER_ECR_HOST, SECRET_KEY
from docker_credential_codespaces.constants import ECR_MAX_ATTEMPTS

WAITED = b"the pull waits"
BEHIND = b"refreshing it behind"
HOUR = 3600

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(library() is None, reason="libfaketime missing (Debian's faketime)"),
]


@pytest.fixture
def clock(tmp_path: Path) -> FakeClock:
    return FakeClock(tmp_path)


@pytest.fixture
def refresh_env(
    ecr_env: dict[str, str], fake: FakeECR, clock: FakeClock
) -> Iterator[dict[str, str]]:
    """The ECR environment with the helper and FakeECR on one fake clock, and the debug lines
    that say whether a get waited; no refresher outlives its test."""
    fake.clock = clock.now
    ecr_env.update(clock.env())
    ecr_env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    yield ecr_env
    wait_for_refreshers(ecr_env)


def expiry_of(fake: FakeECR, served: str) -> float:
    """When the token the helper served expires, as the bed issued it."""
    for call in fake.calls:
        if call.token is not None and decode_token(call.token)[1] == served:
            assert call.expires_at is not None
            return call.expires_at
    raise AssertionError("the helper served a token the bed never issued")


def one_line(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 1
    assert result.stdout.count(b"\n") == 1 and b"Traceback" not in result.stderr
    assert b"CANARY" not in result.stdout + result.stderr
    return result.stdout.decode()


def lock_is_held(env: dict[str, str]) -> bool:
    directory = Path(env["XDG_CACHE_HOME"]) / "docker-credential-codespaces"
    for path in directory.glob("*.lock"):
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
    return False


# --- refresh behind the pull ------------------------------------------------------------------


def test_a_due_token_is_answered_at_once_and_refreshed_detached(
    refresh_env: dict[str, str], fake: FakeECR, clock: FakeClock
) -> None:
    old = ecr_password(get(refresh_env))
    clock.advance(7 * HOUR)  # past half its life: due, and good for five hours more
    fake.hang = True  # the refresher's call never ends until released
    # run_helper reads stdout and stderr to their end, as docker does: it returns only once
    # no process holds them, so the hanging refresher holds none of docker's pipes.
    first = get(refresh_env)
    assert ecr_password(first) == old and BEHIND in first.stderr and WAITED not in first.stderr
    assert fake.wait_for_calls(1)
    assert lock_is_held(refresh_env)  # the refresher holds the key's lock
    for _ in range(5):  # single flight: no second refresher while the first is at work
        again = get(refresh_env)
        assert ecr_password(again) == old and WAITED not in again.stderr
        assert lock_is_held(refresh_env)  # still the one refresher, at work
    # One refresher's requests: its first, and on a machine so loaded that these five gets
    # outlast ECR_READ_TIMEOUT, botocore's retries of it (a second refresher would have
    # needed the lock, held throughout).
    assert 1 <= fake.count() <= 1 + ECR_MAX_ATTEMPTS
    fake.hang = False
    fake.release_hung()
    wait_for_refreshers(refresh_env)
    new = ecr_password(get(refresh_env))
    assert new != old
    assert expiry_of(fake, new) - clock.now() > 11 * HOUR


def test_the_refresher_runs_in_a_session_of_its_own(
    refresh_env: dict[str, str], fake: FakeECR, clock: FakeClock
) -> None:
    ecr_password(get(refresh_env))
    clock.advance(7 * HOUR)
    fake.hang = True
    process = spawn(refresh_env, "get", ECR_HOST.encode())
    process.communicate(timeout=30)
    assert fake.wait_for_calls(1)
    lock = next(
        (Path(refresh_env["XDG_CACHE_HOME"]) / "docker-credential-codespaces").glob("*.lock")
    )
    holders = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _holds(entry, lock)
    ]
    assert len(holders) == 1
    refresher = holders[0]
    assert os.getsid(refresher) != os.getsid(os.getpid())  # not docker's session
    assert os.getpgid(refresher) != os.getpgid(os.getpid())
    stdio = {os.path.realpath(f"/proc/{refresher}/fd/{fd}") for fd in (0, 1, 2)}
    assert stdio == {os.devnull}
    fake.hang = False
    fake.release_hung()


def _holds(process: Path, path: Path) -> bool:
    try:
        return any(os.path.realpath(fd) == str(path) for fd in (process / "fd").iterdir())
    except OSError:
        return False


def test_a_failed_refresh_is_on_record_for_doctor_and_the_token_still_serves(
    refresh_env: dict[str, str], fake: FakeECR, clock: FakeClock
) -> None:
    old = ecr_password(get(refresh_env))
    clock.advance(7 * HOUR)
    fake.denied = True
    assert ecr_password(get(refresh_env)) == old
    wait_for_refreshers(refresh_env)
    doctor = run_helper(refresh_env, "doctor")
    assert b"the last token refresh, at " in doctor.stdout
    assert b"ECR_CONTAINER_REGISTRY_SERVER" in doctor.stdout
    assert b"CANARY" not in doctor.stdout + doctor.stderr
    assert ecr_password(get(refresh_env)) == old  # still good: served, however AWS answers
    fake.denied = False
    clock.advance(60)  # past the failure's memory
    assert ecr_password(get(refresh_env)) == old
    wait_for_refreshers(refresh_env)
    assert ecr_password(get(refresh_env)) != old
    assert b"the last token refresh" not in run_helper(refresh_env, "doctor").stdout


# --- bounded under load -----------------------------------------------------------------------


def run_all(env: dict[str, str], count: int) -> list[subprocess.CompletedProcess[bytes]]:
    """`count` gets at once, and each one's result."""
    processes = [spawn(env, "get", ECR_HOST.encode()) for _ in range(count)]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        results.append(
            subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        )
    return results


@pytest.mark.parametrize(("mode", "most"), [("throttle", 3), ("denied", 1), ("error500", 3)])
def test_concurrent_cold_gets_against_a_failing_endpoint_make_one_exchange(
    refresh_env: dict[str, str], fake: FakeECR, mode: str, most: int
) -> None:
    setattr(fake, mode, True)
    results = run_all(refresh_env, 10)
    lines = {one_line(result) for result in results}
    assert len(lines) == 1  # the same line for all
    assert fake.count() <= most
    follow = get(refresh_env)  # within the failure's memory: at once, the same line, no call
    assert one_line(follow) in lines
    assert fake.count() <= most


def test_a_remembered_failure_is_keyed_like_the_token(
    refresh_env: dict[str, str], fake: FakeECR
) -> None:
    fake.denied = True
    first = one_line(get(refresh_env))
    fake.denied = False
    assert one_line(get(refresh_env)) == first  # remembered
    add_secret(refresh_env, "ECR", ECR_HOST, KEY_ID, SECRET_KEY + "-rotated")  # another identity
    rotated = get(refresh_env)
    assert rotated.returncode == 1 and rotated.stdout != first.encode()  # it asked AWS itself
    assert fake.count() == 2


# --- warm -------------------------------------------------------------------------------------


def test_warm_fetches_every_ecr_registry_and_says_until_when(
    refresh_env: dict[str, str], fake: FakeECR, clock: FakeClock
) -> None:
    add_secret(refresh_env, "ECR2", OTHER_ECR_HOST, KEY_ID, SECRET_KEY)
    add_secret(refresh_env, "GH", "ghcr.io", "octo", "CANARY-ghp")
    warm = run_helper(refresh_env, "warm")
    assert warm.returncode == 0, warm.stdout + warm.stderr
    lines = warm.stdout.decode().splitlines()
    assert sorted(line.split(":")[0] for line in lines) == sorted([ECR_HOST, OTHER_ECR_HOST])
    assert all(": fresh until " in line for line in lines)
    assert fake.count() == 2
    assert (
        WAITED not in get(refresh_env).stderr
        and WAITED not in get(refresh_env, OTHER_ECR_HOST).stderr
    )
    assert run_helper(refresh_env, "warm").returncode == 0  # young tokens: nothing to fetch
    assert fake.count() == 2
    clock.advance(7 * HOUR)  # due: warm makes them young again, and waits for it
    assert run_helper(refresh_env, "warm").returncode == 0
    assert fake.count() == 4
    assert b"CANARY" not in warm.stdout + warm.stderr


def test_warm_names_each_failure_in_one_line_and_exits_1(
    refresh_env: dict[str, str], fake: FakeECR
) -> None:
    add_secret(refresh_env, "ECR2", OTHER_ECR_HOST, "ASIAIOSFODNN7EXAMPLE", "CANARY-temporary")
    warm = run_helper(refresh_env, "warm")
    assert warm.returncode == 1
    lines = dict(line.split(": ", 1) for line in warm.stdout.decode().splitlines())
    assert lines[ECR_HOST].startswith("fresh until ")
    assert "ECR2_CONTAINER_REGISTRY_AWS_SESSION_TOKEN" in lines[OTHER_ECR_HOST]
    assert b"CANARY" not in warm.stdout + warm.stderr


def test_warm_with_nothing_to_warm(env: dict[str, str]) -> None:
    add_secret(env, "GH", "ghcr.io", "octo", "CANARY-ghp")
    warm = run_helper(env, "warm")
    assert (warm.returncode, warm.stderr) == (0, b"")
    assert b"nothing to warm" in warm.stdout


def test_warm_in_the_background_returns_at_once_and_leaves_a_young_token(
    refresh_env: dict[str, str], fake: FakeECR
) -> None:
    fake.delay = 1.0
    warm = run_helper(refresh_env, "warm", "--background")
    assert (warm.returncode, warm.stdout, warm.stderr) == (0, b"", b"")
    assert fake.wait_for_calls(1, timeout=30)
    wait_for_refreshers(refresh_env)
    first = get(refresh_env)
    assert WAITED not in first.stderr and BEHIND not in first.stderr
    assert fake.count() == 1


def test_warm_rejects_bad_arguments_in_one_line(env: dict[str, str]) -> None:
    result = run_helper(env, "warm", "--nope")
    assert result.returncode == 1
    assert result.stderr.count(b"\n") == 1 and b"--help" in result.stderr


# --- days of pulls on the fake clock ----------------------------------------------------------


def pull_every_ten_minutes(
    env: dict[str, str], fake: FakeECR, clock: FakeClock, hours: int, seed: int
) -> int:
    """A `get` every 10 minutes, each moved by up to 3 seeded minutes, for `hours`; returns
    how many waited for an exchange. Every one must succeed with a token that has more than
    5 minutes left."""
    rng = random.Random(seed)  # noqa: S311 - seeded jitter, not a secret
    end = clock.now() + hours * HOUR
    waited = 0
    while clock.now() < end:
        clock.advance(600 + rng.randint(-180, 180))
        result = get(env)
        served = ecr_password(result)
        assert expiry_of(fake, served) - clock.now() > 300
        waited += WAITED in result.stderr
        wait_for_refreshers(env)
    return waited


@pytest.mark.slow
def test_three_days_of_pulls_wait_once(
    refresh_env: dict[str, str], fake: FakeECR, clock: FakeClock
) -> None:
    fake.delay = 0.15  # AWS's latency, as measured from a codespace
    waited = pull_every_ten_minutes(refresh_env, fake, clock, hours=72, seed=13)
    assert waited == 1  # the first pull, with nothing cached
    assert fake.count() <= 14


@pytest.mark.slow
def test_three_days_of_pulls_after_warm_never_wait(
    refresh_env: dict[str, str], fake: FakeECR, clock: FakeClock
) -> None:
    fake.delay = 0.15
    assert run_helper(refresh_env, "warm").returncode == 0
    waited = pull_every_ten_minutes(refresh_env, fake, clock, hours=72, seed=31)
    assert waited == 0
    assert fake.count() <= 14


def test_after_a_weekend_one_call_and_never_the_expired_token(
    refresh_env: dict[str, str], fake: FakeECR, clock: FakeClock
) -> None:
    old = ecr_password(get(refresh_env))
    clock.advance(60 * HOUR)
    result = get(refresh_env)
    new = ecr_password(result)
    assert new != old and WAITED in result.stderr
    assert expiry_of(fake, new) - clock.now() > 11 * HOUR
    wait_for_refreshers(refresh_env)
    assert fake.count() == 2


@pytest.mark.slow
def test_a_six_hour_outage_from_token_age_seven_hours(
    refresh_env: dict[str, str], fake: FakeECR, clock: FakeClock
) -> None:
    old = ecr_password(get(refresh_env))
    fetched = clock.now()
    clock.advance(7 * HOUR)
    fake.error500 = True
    failed = 0
    while clock.now() < fetched + 13 * HOUR:
        started = time.monotonic()
        result = get(refresh_env)
        seconds = time.monotonic() - started
        if expiry_of(fake, old) - clock.now() > 300:  # still good: served without waiting
            assert ecr_password(result) == old
            assert WAITED not in result.stderr
        else:  # no good token left: one line, bounded
            assert "failed to answer" in one_line(result)
            assert seconds < 20
            failed += 1
        wait_for_refreshers(refresh_env)
        clock.advance(600)
    assert failed >= 6
    fake.error500 = False
    before = fake.count()
    recovered = ecr_password(get(refresh_env))
    assert recovered != old
    wait_for_refreshers(refresh_env)
    assert fake.count() == before + 1


def test_a_changed_password_or_user_never_gets_the_old_token(
    refresh_env: dict[str, str], fake: FakeECR, clock: FakeClock
) -> None:
    old = ecr_password(get(refresh_env))
    clock.advance(7 * HOUR)  # due: a refresher may start, but never for another identity
    add_secret(refresh_env, "ECR", ECR_HOST, KEY_ID, SECRET_KEY + "x")
    rotated = get(refresh_env)
    assert rotated.returncode == 1  # the bed knows no such secret: refused, not the old token
    assert old.encode() not in rotated.stdout


def test_export_writes_out_a_young_token_not_a_due_one(
    refresh_env: dict[str, str], fake: FakeECR, clock: FakeClock
) -> None:
    """A pull may take a due token, which is still good for hours; a document written out
    cannot be refreshed, so export makes the token young first."""
    old = ecr_password(get(refresh_env))
    clock.advance(7 * HOUR)
    done = run_helper(refresh_env, "export", "--registry", ECR_HOST)
    assert done.returncode == 0, done.stderr
    auth = json.loads(done.stdout)["auths"][ECR_HOST]["auth"]
    assert decode_token(auth)[1] != old
    assert expiry_of(fake, decode_token(auth)[1]) - clock.now() > 11 * HOUR
    wait_for_refreshers(refresh_env)
    assert fake.count() == 2
