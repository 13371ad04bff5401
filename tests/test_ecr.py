"""The ECR exchange and its cache, against a loopback GetAuthorizationToken server.

FakeECR checks every request's SigV4 signature against the expected secret key, so a test
passes only when the helper signed with exactly the key from the secret.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from beds import dns
from beds.aws import FakeECR, endpoint_env, moto_server
from beds.client import (
    HELPER,
    get,
    run_command,
    run_helper,
    run_in_session,
    spawn,
    wait_for_refreshers,
)
from beds.client import ecr_password as password
from beds.clock import moto_clock
from beds.dns import DeadNameServer
from beds.environment import add_secret
from beds.servers import free_port
from beds.values import ECR_HOST as HOST
from beds.values import (
    KEY_ID,
    KEY_ID_2,
    NOT_FOUND,
    SECRET_KEY,
    SECRET_KEY_2,
    assert_no_canary,
    aws_token,
)
from docker_credential_codespaces.constants import ECR_EXCHANGE_DEADLINE, ECR_GET_DEADLINE


def cache_files(env: dict[str, str]) -> list[Path]:
    directory = Path(env["XDG_CACHE_HOME"]) / "docker-credential-codespaces"
    return sorted(directory.glob("ecr-*.token")) if directory.exists() else []


@pytest.mark.parametrize(
    ("host", "region", "service"),
    [
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "eu-west-1", "ecr"),
        ("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", "us-east-1", "ecr"),
        ("123456789012.dkr-ecr.ap-south-1.on.aws", "ap-south-1", "ecr"),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1", "ecr"),
        ("123456789012.dkr.ecr.us-gov-west-1.amazonaws.com", "us-gov-west-1", "ecr"),
        ("123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu", "eusc-de-east-1", "ecr"),
        ("123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", "us-iso-east-1", "ecr"),
        ("123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", "us-isob-east-1", "ecr"),
        ("123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", "eu-isoe-west-1", "ecr"),
        ("123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov", "us-isof-south-1", "ecr"),
        ("public.ecr.aws", "us-east-1", "ecr-public"),
        ("ecr-public.aws.com", "us-east-1", "ecr-public"),
    ],
)
def test_exchange_for_every_kind_of_host(
    env: dict[str, str], fake: FakeECR, host: str, region: str, service: str
) -> None:
    env.update(endpoint_env(fake.endpoint_url))
    add_secret(env, "ECR", f"https://{host}/team/app", KEY_ID, SECRET_KEY)
    result = get(env, host)
    assert password(result).startswith(f"fake-{service}-")
    assert [(c.service, c.region, c.key_id) for c in fake.calls] == [(service, region, KEY_ID)]
    assert_no_canary(result.stdout, result.stderr)


def test_cached_token_costs_no_call_and_never_holds_the_secret_key(
    ecr_env: dict[str, str], fake: FakeECR
) -> None:
    first = password(get(ecr_env))
    assert password(get(ecr_env, f"https://{HOST}/team/app")) == first
    assert fake.count() == 1
    [cached] = cache_files(ecr_env)
    assert oct(cached.stat().st_mode & 0o777) == "0o600"
    assert oct(cached.parent.stat().st_mode & 0o777) == "0o700"
    assert SECRET_KEY.encode() not in cached.read_bytes()


def test_lookalike_host_gets_no_aws_token(ecr_env: dict[str, str], fake: FakeECR) -> None:
    result = get(ecr_env, HOST + ".evil.example")
    assert result.stdout == NOT_FOUND
    assert fake.count() == 0


def test_registry_without_secret_is_not_found(ecr_env: dict[str, str], fake: FakeECR) -> None:
    assert get(ecr_env, "999999999999.dkr.ecr.eu-west-1.amazonaws.com").stdout == NOT_FOUND
    assert fake.count() == 0


def test_list_shows_aws_without_calling(ecr_env: dict[str, str], fake: FakeECR) -> None:
    result = run_helper(ecr_env, "list", stdin=None)
    assert json.loads(result.stdout) == {HOST: "AWS"}
    assert fake.count() == 0


def spawn_gets(env: dict[str, str], hosts: list[str]) -> list[subprocess.Popen[bytes]]:
    return [spawn(env, "get", host.encode()) for host in hosts]


def collect(processes: list[subprocess.Popen[bytes]]) -> list[str]:
    secrets = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, out + err
        secrets.append(json.loads(out)["Secret"])
    return secrets


def test_fifty_concurrent_gets_cost_one_call(ecr_env: dict[str, str], fake: FakeECR) -> None:
    fake.delay = 1.0  # every process starts while the first one's call is in flight
    secrets = collect(spawn_gets(ecr_env, [HOST] * 50))
    assert len(set(secrets)) == 1
    assert fake.count() == 1


def test_five_registries_at_once_cost_five_calls(ecr_env: dict[str, str], fake: FakeECR) -> None:
    hosts = [f"12345678901{i}.dkr.ecr.eu-west-{i}.amazonaws.com" for i in range(1, 6)]
    for index, host in enumerate(hosts):
        add_secret(ecr_env, f"ECR{index}", host, KEY_ID, SECRET_KEY)
    fake.delay = 0.5
    secrets = collect(spawn_gets(ecr_env, hosts * 8))
    assert len(set(secrets)) == 5
    assert fake.count() == 5
    assert sorted(c.region for c in fake.calls) == [f"eu-west-{i}" for i in range(1, 6)]


def write_cached(env: dict[str, str], fetched_ago: float, expires_in: float, secret: str) -> Path:
    """Prime the cache as an earlier process would have, with chosen times."""
    code = (
        "import sys, time\n"
        "from docker_credential_codespaces.ecr import cache, token\n"
        "from docker_credential_codespaces.secrets import scan\n"
        "secret = scan(sys.argv[1]).answers[sys.argv[1]]\n"
        "tokens = cache.open_cache()\n"
        "key = cache.cache_key(secret.aws, secret.registry)\n"
        "now = time.time()\n"
        "tokens.lock(key, 15).__enter__()\n"
        "tokens.write(key, token.Token(sys.argv[4], now + float(sys.argv[3]),"
        " now - float(sys.argv[2])))\n"
        "print(tokens.directory.file(tokens.name(key)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, HOST, str(fetched_ago), str(expires_in), secret],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return Path(result.stdout.decode().strip())


def test_token_past_half_its_life_is_served_and_refreshed_behind(
    ecr_env: dict[str, str], fake: FakeECR
) -> None:
    write_cached(ecr_env, fetched_ago=7 * 3600, expires_in=5 * 3600, secret="old-token")
    ecr_env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    first = get(ecr_env)
    assert password(first) == "old-token"  # still good for hours: the pull does not wait
    assert b"refreshing it behind" in first.stderr
    wait_for_refreshers(ecr_env)
    assert fake.count() == 1
    assert password(get(ecr_env)) not in ("old-token", "")
    wait_for_refreshers(ecr_env)
    assert fake.count() == 1  # the new token is young: nothing more to refresh


def test_with_stderr_closed_concurrent_due_gets_make_one_exchange(
    ecr_env: dict[str, str], fake: FakeECR
) -> None:
    """Started with stderr closed (`2>&-`), a get's cache lock would land on descriptor 2,
    which the refresher's dup2 of /dev/null drops: single flight is lost. The one refresher
    must hold the lock all along, and the other gets start none. (On the real clock: the fake
    one's libfaketime takes descriptor 2 itself, hiding the fault.)"""
    write_cached(ecr_env, fetched_ago=7 * 3600, expires_in=5 * 3600, secret="old-token")
    fake.hang = True  # the refresher's call never ends until released
    processes = [
        subprocess.Popen(
            ["sh", "-c", 'exec "$0" get 2>&-', str(HELPER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=ecr_env,
        )
        for _ in range(6)
    ]
    for process in processes:
        stdout, _ = process.communicate(HOST.encode(), timeout=60)
        assert process.returncode == 0 and json.loads(stdout)["Secret"] == "old-token"
    assert fake.wait_for_calls(1)
    with pytest.raises(AssertionError, match="a refresher still holds"):
        wait_for_refreshers(ecr_env, timeout=1)  # the one refresher holds the key's lock
    assert fake.count() == 1
    fake.hang = False
    fake.release_hung()
    wait_for_refreshers(ecr_env)
    assert fake.count() == 1 and password(get(ecr_env)) != "old-token"


@pytest.mark.parametrize("expires", ["inf", "1e300", "nan", "2115000000.0"])
def test_a_cache_file_with_no_plausible_expiry_is_rebuilt(
    ecr_env: dict[str, str], fake: FakeECR, expires: str
) -> None:
    """Whatever the file claims, a token "good for years" is no token AWS gave."""
    path = write_cached(ecr_env, fetched_ago=60, expires_in=3600, secret="forged-token")
    now = time.time()
    path.write_bytes(f"dcc-ecr-token-v1\n{expires}\n{now!r}\nforged-token\n".encode())
    doctor = run_helper(ecr_env, "doctor")
    assert b"Traceback" not in doctor.stdout + doctor.stderr
    assert b"no cached token" in doctor.stdout
    assert password(get(ecr_env)) != "forged-token"
    assert fake.count() == 1
    assert b"forged-token" not in path.read_bytes()


def test_young_cached_token_is_served(ecr_env: dict[str, str], fake: FakeECR) -> None:
    write_cached(ecr_env, fetched_ago=3600, expires_in=11 * 3600, secret="young-token")
    assert password(get(ecr_env)) == "young-token"
    assert fake.count() == 0


def test_failed_refresh_serves_a_still_valid_token(ecr_env: dict[str, str], fake: FakeECR) -> None:
    write_cached(ecr_env, fetched_ago=7 * 3600, expires_in=5 * 3600, secret="still-good")
    fake.error500 = True
    ecr_env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    result = get(ecr_env)
    assert password(result) == "still-good"
    wait_for_refreshers(ecr_env)
    calls = fake.count()
    assert calls >= 1
    again = get(ecr_env)  # the failure is remembered: served, and no refresher started
    assert password(again) == "still-good"
    assert b"refreshing it behind" not in again.stderr
    wait_for_refreshers(ecr_env)
    assert fake.count() == calls
    assert_no_canary(result.stderr + again.stderr)


@pytest.mark.parametrize("expires_in", [-60, 120])
def test_expired_or_expiring_token_is_never_returned(
    ecr_env: dict[str, str], fake: FakeECR, expires_in: float
) -> None:
    write_cached(ecr_env, fetched_ago=12 * 3600, expires_in=expires_in, secret="dying-token")
    fake.error500 = True
    result = get(ecr_env)
    assert result.returncode == 1
    assert b"dying-token" not in result.stdout
    assert b"ECR_CONTAINER_REGISTRY_SERVER" in result.stdout
    calls = fake.count()
    fake.error500 = False
    remembered = get(ecr_env)  # within ECR_FAILURE_MEMORY: the same line, no call
    assert (remembered.returncode, remembered.stdout) == (1, result.stdout)
    assert fake.count() == calls
    assert run_helper(ecr_env, "erase", stdin=HOST.encode()).returncode == 0  # starts afresh
    assert password(get(ecr_env)) != "dying-token"


@pytest.mark.parametrize("lifetime", [240, 0, -1])
def test_a_token_aws_returns_about_to_expire_is_never_served(
    ecr_env: dict[str, str], fake: FakeECR, lifetime: float
) -> None:
    fake.lifetime = lifetime  # under the safety margin already: no pull could finish with it
    for _ in range(2):  # the second fails at once, from the remembered failure
        result = get(ecr_env)
        assert result.returncode == 1
        assert b"ECR_CONTAINER_REGISTRY_SERVER" in result.stdout
        assert b"AWS returned a token about to expire" in result.stdout
        assert result.stdout.count(b"\n") == 1
    assert fake.count() == 1
    assert cache_files(ecr_env) == []


def test_rotated_secret_fetches_a_new_token(ecr_env: dict[str, str], fake: FakeECR) -> None:
    first = password(get(ecr_env))
    add_secret(ecr_env, "ECR", HOST, KEY_ID_2, SECRET_KEY_2)
    second = password(get(ecr_env))
    assert first != second
    assert [c.key_id for c in fake.calls] == [KEY_ID, KEY_ID_2]


def test_other_endpoint_never_gets_an_old_token(ecr_env: dict[str, str], fake: FakeECR) -> None:
    password(get(ecr_env))
    with FakeECR({KEY_ID: SECRET_KEY}) as other:
        ecr_env.update(endpoint_env(other.endpoint_url))
        password(get(ecr_env))
        assert other.count() == 1


def test_erase_drops_the_cached_token(ecr_env: dict[str, str], fake: FakeECR) -> None:
    password(get(ecr_env))
    assert len(cache_files(ecr_env)) == 1
    erased = run_helper(ecr_env, "erase", stdin=HOST.encode())
    assert (erased.returncode, erased.stdout) == (0, b"")
    assert cache_files(ecr_env) == []
    password(get(ecr_env))
    assert fake.count() == 2


def test_cache_can_be_turned_off(ecr_env: dict[str, str], fake: FakeECR) -> None:
    ecr_env["DOCKER_CREDENTIAL_CODESPACES_NO_CACHE"] = "1"
    password(get(ecr_env))
    password(get(ecr_env))
    assert fake.count() == 2
    assert cache_files(ecr_env) == []


def test_cache_dir_override(ecr_env: dict[str, str], fake: FakeECR, tmp_path: Path) -> None:
    ecr_env["DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR"] = str(tmp_path / "c")
    password(get(ecr_env))
    assert len(list((tmp_path / "c").glob("ecr-*.token"))) == 1


@pytest.mark.parametrize(
    "damage", [b"", b"garbage", b"dcc-ecr-token-v1\nnan\n1\nx\n", b"\xff" * 100]
)
def test_corrupt_cache_file_is_rebuilt(
    ecr_env: dict[str, str], fake: FakeECR, damage: bytes
) -> None:
    password(get(ecr_env))
    [cached] = cache_files(ecr_env)
    cached.write_bytes(damage)
    password(get(ecr_env))
    assert fake.count() == 2
    password(get(ecr_env))
    assert fake.count() == 2


def test_unusable_cache_dir_still_serves(
    ecr_env: dict[str, str], fake: FakeECR, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    ecr_env["DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR"] = str(blocker / "cache")
    password(get(ecr_env))
    password(get(ecr_env))
    assert fake.count() == 2


def test_no_home_still_serves(ecr_env: dict[str, str], fake: FakeECR) -> None:
    """A home that cannot hold the cache (here: under /proc) serves tokens, uncached."""
    for name in ("XDG_CACHE_HOME", "XDG_DATA_HOME"):
        ecr_env.pop(name)
    ecr_env["HOME"] = "/proc/no-such-home"
    password(get(ecr_env))
    password(get(ecr_env))
    assert fake.count() == 2


def test_killed_while_writing_the_cache(ecr_env: dict[str, str], fake: FakeECR) -> None:
    paused = dict(ecr_env, DOCKER_CREDENTIAL_CODESPACES_CRASH_TEST_PAUSE_BEFORE_RENAME="30")
    [process] = spawn_gets(paused, [HOST])
    directory = Path(ecr_env["XDG_CACHE_HOME"]) / "docker-credential-codespaces"
    deadline = time.monotonic() + 30
    while not list(directory.glob(".ecr-*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(directory.glob(".ecr-*.tmp")), "the writer never reached its rename"
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert cache_files(ecr_env) == []
    password(get(ecr_env))
    assert len(cache_files(ecr_env)) == 1
    assert list(directory.glob(".ecr-*.tmp")) == []


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("denied", b"lacks ecr:GetAuthorizationToken; check its IAM policy"),
        ("throttle", b"AWS throttled the token request"),
        ("error500", b"AWS failed to answer (ServerException)"),
    ],
)
def test_aws_errors_are_one_clear_line(
    ecr_env: dict[str, str], fake: FakeECR, mode: str, expected: bytes
) -> None:
    setattr(fake, mode, True)
    result = get(ecr_env)
    assert result.returncode == 1
    assert result.stdout.count(b"\n") == 1
    assert expected in result.stdout
    assert b"ECR_CONTAINER_REGISTRY_SERVER" in result.stdout
    assert_no_canary(result.stdout, result.stderr)


def test_public_denied_names_both_permissions(env: dict[str, str], fake: FakeECR) -> None:
    env.update(endpoint_env(fake.endpoint_url))
    add_secret(env, "PUB", "public.ecr.aws", KEY_ID, SECRET_KEY)
    fake.denied = True
    result = get(env, "public.ecr.aws")
    assert b"ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken" in result.stdout


def test_wrong_secret_key(ecr_env: dict[str, str], fake: FakeECR) -> None:
    add_secret(ecr_env, "ECR", HOST, KEY_ID, "CANARY-wrong-secret-key")
    result = get(ecr_env)
    assert result.returncode == 1
    assert b"rejected the secret key in ECR_CONTAINER_REGISTRY_PASSWORD" in result.stdout
    assert_no_canary(result.stdout, result.stderr)


def test_unknown_access_key(ecr_env: dict[str, str], fake: FakeECR) -> None:
    add_secret(ecr_env, "ECR", HOST, "AKIAUNKNOWNUNKNOWN00", SECRET_KEY)
    result = get(ecr_env)
    assert b"AWS does not know the access key id in ECR_CONTAINER_REGISTRY_USER" in result.stdout


# How much longer than its deadline a run of the executable may take: its start-up and exit.
START_AND_EXIT = 2.0


@pytest.mark.slow  # the real-time proof of ECR_EXCHANGE_DEADLINE
def test_hanging_endpoint_is_cut_off(ecr_env: dict[str, str], fake: FakeECR) -> None:
    """botocore's own bounds (3 s to connect, 5 s to read, 3 tries) add up past the exchange's
    12 s: the exchange's deadline cuts them, and nothing started for it is left behind. In
    process, with a fraction of a second: test_deadlines.py."""
    fake.hang = True
    started = time.monotonic()
    result, left = run_in_session([str(HELPER), "get"], ecr_env, HOST.encode())
    elapsed = time.monotonic() - started
    assert (result.returncode, left) == (1, [])
    line = (
        "ECR 123456789012 in eu-west-1 (secret ECR_CONTAINER_REGISTRY_SERVER): the exchange "
        "timed out (no answer within 12 s); check the network, name resolution and proxies "
        f"('{fake.endpoint_url}')\n"
    )
    assert result.stdout == line.encode()
    assert ECR_EXCHANGE_DEADLINE <= elapsed < ECR_EXCHANGE_DEADLINE + START_AND_EXIT, elapsed
    assert fake.count() > 0
    assert_no_canary(result.stdout, result.stderr)
    fake.release_hung()


@pytest.mark.slow  # the real-time proof of ECR_GET_DEADLINE
def test_a_get_waits_for_another_s_exchange_until_its_deadline(
    ecr_env: dict[str, str], fake: FakeECR
) -> None:
    """Another process holds the cache key's lock and never lets go: a cold get waits for
    it until ECR_GET_DEADLINE less the least budget of an exchange, then says the registry
    is busy in one line, never calling AWS, and ends within ECR_GET_DEADLINE (the README's
    "within 20 seconds"). In process, with a fraction of a second: test_deadlines.py."""
    code = (
        "import sys, time\n"
        "from docker_credential_codespaces.ecr import cache\n"
        "from docker_credential_codespaces.secrets import scan\n"
        "secret = scan(sys.argv[1]).answers[sys.argv[1]]\n"
        "tokens = cache.open_cache()\n"
        "tokens.lock(cache.cache_key(secret.aws, secret.registry), 15).__enter__()\n"
        "print('held', flush=True)\n"
        "time.sleep(120)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, HOST], env=ecr_env, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        started = time.monotonic()
        result = get(ecr_env)
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.communicate(timeout=30)
    assert (result.returncode, result.stdout) == (
        1,
        b"ECR 123456789012 in eu-west-1 (secret ECR_CONTAINER_REGISTRY_SERVER): another "
        b"docker-credential-codespaces process is still fetching its token; try again\n",
    )
    # The lock is waited for until the get's deadline less an exchange's least budget, 1 s.
    assert ECR_GET_DEADLINE - 1 <= elapsed < ECR_GET_DEADLINE + START_AND_EXIT, elapsed
    assert fake.count() == 0


@pytest.fixture
def dead_name_server(tmp_path: Path) -> Iterator[DeadNameServer]:
    """A name server on loopback that never answers, and the namespace that uses it alone."""
    why = dns.cannot_run()
    if why is not None:
        pytest.skip(why)
    with DeadNameServer(tmp_path) as server:
        yield server


# The exchange in one process where every name lookup hangs: botocore is imported before the
# exchange forks, so that its budget goes to the lookup alone.
DEAD_LOOKUP = """
import json, sys, time
import botocore.session
from docker_credential_codespaces.ecr.exchange import exchange
from docker_credential_codespaces.secrets import scan
from docker_credential_codespaces.wire import HelperError
secret = scan(sys.argv[1]).answers[sys.argv[1]]
started = time.monotonic()
try:
    exchange(secret.registry, secret.aws, float(sys.argv[2]))
    line = ""
except HelperError as error:
    line = str(error)
print(json.dumps({"line": line, "seconds": time.monotonic() - started}))
"""


def test_a_name_server_that_never_answers_cannot_stretch_the_bounds(
    env: dict[str, str], fake: FakeECR, dead_name_server: DeadNameServer
) -> None:
    """Every name lookup hanging (glibc's, which retries through any signal, so no timer in
    the process can stop it): the exchange still ends at its budget (two seconds here),
    with the line that names the endpoint, its child and the lookup gone, and nothing
    reaches AWS's stand-in. (Before the exchange ran in a process group of its own, three
    gets at once each ended at 20.7 s.) That the gets which waited for it take its line,
    all within the get's deadline: test_deadlines.py."""
    port = fake.endpoint_url.rsplit(":", 1)[1]
    env.update(endpoint_env(f"http://ecr.dead-name-server.test:{port}"))
    add_secret(env, "ECR", HOST, KEY_ID, SECRET_KEY)
    # two seconds: the child makes botocore's client before its first lookup, which can take
    # most of a second on a loaded machine, and the row must see the lookup go out
    argv = dead_name_server.namespaced([sys.executable, "-c", DEAD_LOOKUP, HOST, "2"])
    result, left = run_in_session(argv, env, None)
    assert (result.returncode, left) == (0, []), result
    said = json.loads(result.stdout)
    assert said["line"] == (
        "ECR 123456789012 in eu-west-1 (secret ECR_CONTAINER_REGISTRY_SERVER): the exchange "
        "timed out (no answer within 2 s); check the network, name resolution and proxies "
        f"('http://ecr.dead-name-server.test:{port}')"
    )
    assert 2 <= said["seconds"] < 3, said
    assert dead_name_server.queries > 0  # the lookups went there, and nowhere else
    assert fake.count() == 0


@pytest.mark.parametrize("userinfo", ["", "user:CANARY-endpoint-pw@"])
def test_unreachable_endpoint(env: dict[str, str], userinfo: str) -> None:
    """Named in the line, but never with a password it holds."""
    port = free_port()
    env.update(endpoint_env(f"http://{userinfo}127.0.0.1:{port}"))
    add_secret(env, "ECR", HOST, KEY_ID, SECRET_KEY)
    started = time.monotonic()
    result = get(env)
    assert result.returncode == 1
    assert b"cannot connect" in result.stdout and f"127.0.0.1:{port}".encode() in result.stdout
    assert time.monotonic() - started < 20
    assert_no_canary(result.stdout, result.stderr)


@pytest.mark.parametrize(
    "variable", ["AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"]
)
def test_an_endpoint_s_userinfo_and_query_are_never_shown_or_stored(
    env: dict[str, str], variable: str
) -> None:
    """An endpoint can carry a password in its userinfo and an API key in its query: neither
    reaches get's line (stdout), its debug hints (stderr), the outcome on record, doctor's
    report or --check, nor any file; the host and port are still named."""
    port = free_port()
    env[variable] = (
        f"http://user:CANARY-endpoint-userinfo@127.0.0.1:{port}/path"
        "?X-Api-Key=CANARY-endpoint-query#CANARY-endpoint-fragment"
    )
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    add_secret(env, "ECR", HOST, KEY_ID, SECRET_KEY)
    if variable == "AWS_ENDPOINT_URL_STS":  # the endpoint a role is assumed through
        env["ECR_CONTAINER_REGISTRY_AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/pull"
    result = get(env)
    assert result.returncode == 1
    assert b"cannot connect" in result.stdout, result.stdout
    assert f"***@127.0.0.1:{port}/path?***".encode() in result.stdout
    outputs = [result.stdout, result.stderr]
    for args in (("doctor",), ("doctor", "--json"), ("doctor", "--check", "--timeout", "5")):
        shown = run_helper(env, *args, stdin=None)
        assert b"Traceback" not in shown.stderr
        outputs += [shown.stdout, shown.stderr]
    assert b"failed: ECR 123456789012" in outputs[2]  # the outcome on record, as doctor says it
    files = [path.read_bytes() for path in Path(env["HOME"]).rglob("*") if path.is_file()]
    assert files  # the outcome file at least
    assert_no_canary(*outputs, *files)


def test_user_aws_token_passes_through(env: dict[str, str]) -> None:
    token = aws_token(time.time() + 3600)
    add_secret(env, "ECR", HOST, "AWS", token)
    assert password(get(env)) == token


def test_user_aws_opaque_token_passes_through(env: dict[str, str]) -> None:
    add_secret(env, "ECR", HOST, "AWS", "not-base64-json!")
    assert password(get(env)) == "not-base64-json!"


def test_user_aws_expired_token_says_how_to_fix(env: dict[str, str]) -> None:
    add_secret(env, "ECR", HOST, "AWS", aws_token(time.time() - 60))
    result = get(env)
    assert result.returncode == 1
    assert result.stdout.startswith(
        b"ECR_CONTAINER_REGISTRY_PASSWORD holds an ECR token that expired"
    )
    assert b"access key id in ECR_CONTAINER_REGISTRY_USER" in result.stdout


@pytest.mark.parametrize("expiration", ["-1e30", "NaN", "Infinity", "1e30", "1e400", "0", "true"])
def test_user_aws_token_with_no_real_expiry_passes_through(
    env: dict[str, str], expiration: str
) -> None:
    """An `expiration` no clock can show is no expiry at all: passed through, and doctor copes."""
    document = '{"payload": "x", "expiration": ' + expiration + "}"
    token = base64.b64encode(document.encode()).decode()
    add_secret(env, "ECR", HOST, "AWS", token)
    assert password(get(env)) == token
    doctor = run_helper(env, "doctor", "--json", stdin=None)
    assert b"Traceback" not in doctor.stderr
    [row] = json.loads(doctor.stdout)["registries"]
    assert row["state"] == "a token whose expiry cannot be read"


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL"])
@pytest.mark.parametrize("url", ["not a url", "http://[::1]:99999", "http://host:port"])
def test_malformed_endpoint_is_one_line_naming_its_variable(
    env: dict[str, str], variable: str, url: str
) -> None:
    env[variable] = url
    add_secret(env, "ECR", HOST, KEY_ID, SECRET_KEY)
    result = get(env)
    assert result.returncode == 1
    assert (
        result.stdout
        == (
            f"ECR 123456789012 in eu-west-1 (secret ECR_CONTAINER_REGISTRY_SERVER): the endpoint "
            f"in {variable} is not a valid URL; fix it\n"
        ).encode()
    )
    assert_no_canary(result.stdout, result.stderr)


@pytest.mark.parametrize(
    "server",
    [
        HOST + ":443",  # docker keeps the port: not the host that ECR's tokens are for
        "123456789012.dkr.ecr.eu-west-1.amazonaws.co",  # a typo: someone else's domain
        "12345678901.dkr.ecr.eu-west-1.amazonaws.com",
        "myco.azurecr.io",
    ],
)
@pytest.mark.parametrize("user", [KEY_ID, KEY_ID + "\n", KEY_ID + "\r", KEY_ID + " "])
def test_access_key_for_a_host_that_is_not_ecr_is_never_sent(
    env: dict[str, str], fake: FakeECR, server: str, user: str
) -> None:
    """The secret key would go out as a plain password: not found, and a line saying why.

    A key id with a pasted newline, CR or space is still a key id (it once walked round this).
    """
    env.update(endpoint_env(fake.endpoint_url))
    add_secret(env, "TYPO", server, user, SECRET_KEY)
    result = get(env, server)
    assert result.stdout == NOT_FOUND
    assert result.stderr.count(b"\n") == 1
    assert result.stderr.startswith(
        b"docker-credential-codespaces: TYPO_CONTAINER_REGISTRY_USER holds an AWS access key id, "
        b"but TYPO_CONTAINER_REGISTRY_SERVER names "
    )
    listed = run_helper(env, "list", stdin=None)
    assert (listed.returncode, listed.stdout) == (0, b"{}\n")
    doctor = run_helper(env, "doctor", "--json", stdin=None)
    report = json.loads(doctor.stdout)
    assert report["registries"] == []  # as if unset: no registry is known through it
    assert any(
        p.startswith("TYPO_CONTAINER_REGISTRY_USER holds an AWS") for p in report["problems"]
    )
    assert_no_canary(result.stdout, result.stderr, listed.stdout, doctor.stdout, doctor.stderr)
    assert fake.count() == 0


def test_a_misplaced_access_key_is_passed_over_like_an_unset_one(env: dict[str, str]) -> None:
    """get, list, doctor and docker login all agree: the next triple, or a login, answers."""
    server = "myco.azurecr.io"
    add_secret(env, "A", server, KEY_ID, SECRET_KEY)
    add_secret(env, "B", server, "svc", "svc-password")
    answer = json.loads(get(env, server).stdout)
    assert (answer["Username"], answer["Secret"]) == ("svc", "svc-password")
    assert json.loads(run_helper(env, "list", stdin=None).stdout) == {server: "svc"}
    report = json.loads(run_helper(env, "doctor", "--json", stdin=None).stdout)
    [row] = report["registries"]
    assert (row["registry"], row["source"]) == (server, "secret B")
    assert not any("both name" in p for p in report["problems"])
    # With the misplaced triple alone, `docker login` stores a login and a get answers with it.
    for name in ("USER", "PASSWORD", "SERVER"):
        del env[f"B_CONTAINER_REGISTRY_{name}"]
    body = json.dumps({"ServerURL": server, "Username": "me", "Secret": "my-password"})
    stored = run_helper(env, "store", stdin=body.encode())
    assert (stored.returncode, stored.stdout) == (0, b"")
    assert b"nothing was stored" not in stored.stderr
    answer = json.loads(get(env, server).stdout)
    assert (answer["Username"], answer["Secret"]) == ("me", "my-password")


def test_an_answer_whose_expiry_is_no_date_is_one_line(
    ecr_env: dict[str, str], fake: FakeECR
) -> None:
    for expires_at in (1e20, -1e20, float("nan")):
        fake.expires_at = expires_at
        result = get(ecr_env)
        assert result.stdout == (
            b"ECR 123456789012 in eu-west-1 (secret ECR_CONTAINER_REGISTRY_SERVER): AWS answered "
            b"without a usable token\n"
        )
        assert result.stderr == b""


def test_a_pasted_key_with_white_space_is_exchanged_trimmed(
    ecr_env: dict[str, str], fake: FakeECR
) -> None:
    """AWS values never hold white space: the signature is made with the trimmed keys."""
    add_secret(ecr_env, "ECR", HOST, f" {KEY_ID}\n", f"{SECRET_KEY}\r\n")
    result = get(ecr_env)
    assert password(result).startswith("fake-ecr-"), result
    assert fake.count() == 1


def test_user_aws_token_about_to_expire_is_still_served(env: dict[str, str]) -> None:
    """Nobody can replace it, so it is good to its end; doctor warns of the coming hour."""
    token = aws_token(time.time() + 120)
    add_secret(env, "ECR", HOST, "AWS", token)
    assert password(get(env)) == token
    report = json.loads(run_helper(env, "doctor", "--json", stdin=None).stdout)
    [row] = report["registries"]
    assert row["state"].startswith("token expires at")
    assert any("expires within the hour" in p for p in row["problems"])


def test_a_plain_user_that_is_no_access_key_is_returned_as_given(env: dict[str, str]) -> None:
    for user in ("AKIAlowercase0000000", "AKIAIOSFODNN7EXAMPL", "AIDAIOSFODNN7EXAMPLE"):
        add_secret(env, "REG", "myco.azurecr.io", user, "pw")
        answer = json.loads(get(env, "myco.azurecr.io").stdout)
        assert (answer["Username"], answer["Secret"]) == (user, "pw")


def test_moto_end_to_end(env: dict[str, str], tmp_path: Path) -> None:
    """A plain exchange against moto's server, through the generic AWS_ENDPOINT_URL, on a
    clock before the expiry moto gives every token."""
    with moto_server() as url:
        env.update(moto_clock(tmp_path).env())
        env["AWS_ENDPOINT_URL"] = url
        add_secret(env, "ECR", HOST, KEY_ID, SECRET_KEY)
        assert password(get(env)) == "123456789012-auth-token"


def imported_modules(env: dict[str, str], *args: str, stdin: bytes | None = b"") -> str:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "docker_credential_codespaces", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert b"Traceback" not in result.stderr
    return result.stderr.decode()


def test_boto3_is_imported_only_to_fetch(ecr_env: dict[str, str], fake: FakeECR) -> None:
    """boto3's stack (botocore) loads for a fetch, and never for a cached token, list or a plain secret."""
    cold = imported_modules(ecr_env, "get", stdin=HOST.encode())
    assert " botocore" in cold
    for args, stdin in ((("get",), HOST.encode()), (("list",), None)):
        trace = imported_modules(ecr_env, *args, stdin=stdin)
        assert "boto" not in trace, args
    add_secret(ecr_env, "GH", "ghcr.io", "u", "p")
    assert "boto" not in imported_modules(ecr_env, "get", stdin=b"ghcr.io")
    assert fake.count() == 1


# The cold exchange in a process that records every directory listing, through the audit
# hooks the interpreter raises for os.listdir and os.scandir. The hook appends each to a file
# as it happens: the exchange's child process inherits it, and has no other way to tell.
LISTING_PROBE = """
import os, sys
record = sys.argv[1]
def hook(event, args):
    if event in ("os.listdir", "os.scandir"):
        with open(record, "a") as stream:
            stream.write(repr(os.fsdecode(args[0]) if args[0] is not None else ".") + "\\n")
sys.addaudithook(hook)
from docker_credential_codespaces.cli import main
code = main(["docker-credential-codespaces", "get"])
sys.stdout.flush()
sys.exit(code)
"""


def listed_during_get(
    env: dict[str, str], host: str, record: Path
) -> tuple[subprocess.CompletedProcess[bytes], list]:
    result = run_command([sys.executable, "-c", LISTING_PROBE, str(record)], env, host.encode())
    return result, [ast.literal_eval(line) for line in record.read_text().splitlines()]


@pytest.mark.parametrize(("host", "service"), [(HOST, "ecr"), ("public.ecr.aws", "ecr-public")])
def test_cold_exchange_lists_no_service_directories(
    ecr_env: dict[str, str], fake: FakeECR, host: str, service: str, tmp_path: Path
) -> None:
    """botocore would list its ~450 service directories twice to check that the service
    exists; the helper tells its loader instead. Only the model's own version directory is
    listed."""
    add_secret(ecr_env, "PUB", "public.ecr.aws", KEY_ID, SECRET_KEY)
    result, listed = listed_during_get(ecr_env, host, tmp_path / "listed")
    assert password(result)
    assert fake.count() == 1
    data = [path for path in listed if f"botocore{os.sep}data" in path]
    assert data, listed  # the probe sees listings at all
    assert all(Path(path).name == service for path in data), data


def test_aws_data_path_still_applies(
    ecr_env: dict[str, str], fake: FakeECR, tmp_path: Path
) -> None:
    """A model under AWS_DATA_PATH overrides botocore's own, as it does for boto3: here one
    whose JSON target prefix differs, which FakeECR then sees (and refuses)."""
    import botocore.loaders

    shipped = botocore.loaders.Loader().load_service_model("ecr", "service-2")
    version = shipped["metadata"]["apiVersion"]
    shipped["metadata"]["targetPrefix"] = "CustomModelPrefix"
    model = tmp_path / "models" / "ecr" / version / "service-2.json"
    model.parent.mkdir(parents=True)
    model.write_text(json.dumps(shipped))
    ecr_env["AWS_DATA_PATH"] = str(tmp_path / "models")
    result = get(ecr_env)
    assert result.returncode == 1
    assert [call.target for call in fake.calls] == ["CustomModelPrefix.GetAuthorizationToken"]
    assert result.stdout.count(b"\n") == 1 and b"Traceback" not in result.stderr
