"""Every production deadline, proven in process with budgets of a fraction of a second.

The helper's bounds are the exchange's (ECR_EXCHANGE_DEADLINE), a `get`'s whole wait for an
ECR token (ECR_GET_DEADLINE), a fallback store's call (FALLBACK_TIMEOUT) and a lock's wait
(LOCK_TIMEOUT). Each is a parameter of the code that keeps it, defaulting to its constant:
`exchange.bounded`'s budget, `RegistryToken`'s `exchange_deadline` and `get_deadline`,
`FallbackStore`'s `timeout`, `LocalStore`'s `lock_timeout` and `FileLock`'s `timeout`. Here
each is given BUDGET (REACH where the request must reach its endpoint first), and the rows
prove that the wait is cut at it (within TOLERANCE), that every process started for it is gone, that the line names what was waited on (a secret's
variable, an endpoint, a program, a lock) and never a secret, and that what was stored is kept.

The one real-time proof of each constant runs the installed executable as docker does, marked
slow: ECR_EXCHANGE_DEADLINE and ECR_GET_DEADLINE in test_ecr.py, FALLBACK_TIMEOUT in
test_configure.py, LOCK_TIMEOUT in test_store.py.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from beds.aws import FakeECR, Role, endpoint_env
from beds.client import ended, group_members
from beds.tokens import NOW, REGISTRY, Exchange, identity
from beds.values import KEY_ID, SECRET_KEY
from docker_credential_codespaces import ecr
from docker_credential_codespaces.constants import (
    ECR_EXCHANGE_DEADLINE,
    ECR_GET_DEADLINE,
    FALLBACK_TIMEOUT,
    LOCK_TIMEOUT,
    SECRET_AWS_PROFILE,
    SECRET_AWS_ROLE_ARN,
)
from docker_credential_codespaces.ecr import exchange
from docker_credential_codespaces.ecr.answer import RegistryToken
from docker_credential_codespaces.ecr.cache import Outcome, TokenCache, cache_key
from docker_credential_codespaces.ecr.token import Token
from docker_credential_codespaces.fallback import FallbackStore
from docker_credential_codespaces.files import FileLock, LockTimeout, PrivateDir
from docker_credential_codespaces.store import LocalStore
from docker_credential_codespaces.wire import HelperError

#: The budget every bound is given here.
BUDGET = 0.5
#: How late past its budget a cut may come on a loaded machine (2 cores, shared).
TOLERANCE = 0.5
#: The least budget RegistryToken starts an exchange with (answer._LEAST_BUDGET): a get
#: waits for the key's lock until its deadline less this.
LEAST_BUDGET = 1.0
#: The budget of an exchange that must reach its endpoint before the cut: the forked child
#: makes botocore's client first, which can take most of a second on a loaded machine (every
#: Python of the test command at once), and the row must see the request arrive.
REACH = 2.0

ROLE_ARN = "arn:aws:iam::123456789012:role/ecr-pull"
WHO = "ECR 123456789012 in eu-west-1 (secret ECR_CONTAINER_REGISTRY_SERVER)"
REFUSED = f"{WHO}: AWS refused (test)"


KEY = identity()
ROLE = identity(**{SECRET_AWS_ROLE_ARN: ROLE_ARN})
PROFILE = identity(**{SECRET_AWS_PROFILE: "ci"})


def cut(started: float, budget: float = BUDGET) -> None:
    """What ended now, having started at `started`, was cut at `budget`: not before it, and
    not long after."""
    elapsed = time.monotonic() - started
    assert budget <= elapsed < budget + TOLERANCE, elapsed


def assert_gone(pid: int) -> None:
    """The process `pid` is reaped (os.kill finds nothing), and nothing of its group lives."""
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert group_members(pid) == []


def noting_its_pid(path: Path) -> Callable[..., Token]:
    """The real exchange's work, which first writes the pid of the child it runs in to `path`."""

    def work(
        registry: ecr.EcrRegistry, who: ecr.AwsIdentity, stage: Callable[[str], None]
    ) -> Token:
        path.write_text(str(os.getpid()))
        return exchange._exchange(registry, who, stage)

    return work


def hanging_script(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A program that writes its pid to a file and then never answers, and that file."""
    pid_file = tmp_path / f"{name}.pid"
    script = tmp_path / name
    script.write_text(
        f"#!/bin/sh\necho $$ > {pid_file}.new\nmv {pid_file}.new {pid_file}\nexec sleep 300\n"
    )
    script.chmod(0o755)
    return script, pid_file


def token(cache: TokenCache, exchange: Callable[..., Token], **deadlines: float) -> RegistryToken:
    """The key's token over `cache`, with `exchange` in the exchange's place, at NOW."""
    assert REGISTRY is not None
    return RegistryToken(
        REGISTRY, KEY, cache=cache, exchange=exchange, clock=lambda: NOW, **deadlines
    )


def test_each_bound_defaults_to_its_named_constant() -> None:
    """What docker runs gets the constants: each parameter defaults to one, named once."""
    defaults = {
        (RegistryToken, "exchange_deadline"): ECR_EXCHANGE_DEADLINE,
        (RegistryToken, "get_deadline"): ECR_GET_DEADLINE,
        (FallbackStore, "timeout"): FALLBACK_TIMEOUT,
        (LocalStore, "lock_timeout"): LOCK_TIMEOUT,
        (FileLock, "timeout"): LOCK_TIMEOUT,
        (PrivateDir.lock, "timeout"): LOCK_TIMEOUT,
    }
    for (function, name), constant in defaults.items():
        assert inspect.signature(function).parameters[name].default == constant, name


# --- the exchange: real botocore in the forked child, against FakeECR that never answers ------


@pytest.fixture
def hanging_aws(use_env: dict[str, str]) -> Iterator[FakeECR]:
    """FakeECR taking every request and answering none; botocore is imported here first, so
    that the exchange's child inherits it and its budget goes to the request."""
    import botocore.session  # noqa: F401

    with FakeECR({KEY_ID: SECRET_KEY}) as server:
        server.roles[ROLE_ARN] = Role(trusted={KEY_ID})  # so that AssumeRole reaches the hang
        server.hang = True
        yield server
        server.release_hung()
        assert server.errors == []


# (row, the identity, endpoints set: ECR's, STS's, the line, requests to FakeECR)
EXCHANGE_ROWS = [
    (
        "the endpoint never answers",
        KEY,
        (True, False),
        f"{WHO}: the exchange timed out (no answer within {REACH:g} s); check the network, "
        "name resolution and proxies ('{endpoint}')",
        True,
    ),
    (
        "AssumeRole never answers",
        ROLE,
        (False, True),
        f"{WHO}: the exchange timed out (no answer within {REACH:g} s); check the network, "
        "name resolution and proxies ('{endpoint}')",
        True,
    ),
    (
        "the credential_process never answers",
        PROFILE,
        (True, True),
        "the AWS profile 'ci' (ECR_CONTAINER_REGISTRY_AWS_PROFILE): its credential_process "
        "gave no answer within 0.5 s and was stopped; run it to see why",
        False,
    ),
]


@pytest.mark.parametrize(
    ("who", "endpoints", "line", "asked"),
    [row[1:] for row in EXCHANGE_ROWS],
    ids=[row[0] for row in EXCHANGE_ROWS],
)
def test_an_exchange_that_never_answers_is_cut_at_its_budget(
    cache: TokenCache,
    hanging_aws: FakeECR,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    who: ecr.AwsIdentity,
    endpoints: tuple[bool, bool],
    line: str,
    asked: bool,
) -> None:
    """A `warm` (a young token asked for) over a due one, whose exchange hangs where the row
    says: the line at the budget names the secret and where it waited (the endpoint STS's
    when AssumeRole hung, so the stage is told apart), the exchange's child and all it
    started are gone, the failure is on record and the cached token is kept."""
    assert REGISTRY is not None
    ecr_endpoint, sts_endpoint = endpoints
    if ecr_endpoint:
        for name, value in endpoint_env(hanging_aws.endpoint_url).items():
            monkeypatch.setenv(name, value)
    if sts_endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", hanging_aws.endpoint_url)
    script, process_pid = hanging_script(tmp_path, "credential-process")
    Path(os.environ["AWS_CONFIG_FILE"]).write_text(f"[profile ci]\ncredential_process = {script}\n")
    child_pid = tmp_path / "child.pid"
    work = noting_its_pid(child_pid)

    due = Token("kept", NOW + 5 * 3600, NOW - 7 * 3600)
    key = cache_key(who, REGISTRY)
    cache.write(key, due)
    answer = RegistryToken(
        REGISTRY,
        who,
        cache=cache,
        exchange=lambda registry, who, budget: exchange.bounded(work, registry, who, budget),
        clock=lambda: NOW,
        exchange_deadline=REACH if asked else BUDGET,
    )
    started = time.monotonic()
    with pytest.raises(HelperError) as raised:
        answer.answer(young=True)
    cut(started, REACH if asked else BUDGET)
    assert str(raised.value) == line.format(endpoint=hanging_aws.endpoint_url)
    assert "CANARY" not in str(raised.value)
    assert_gone(int(child_pid.read_text()))
    if who is PROFILE:
        assert ended(int(process_pid.read_text()), within=TOLERANCE)
    assert (hanging_aws.count() > 0) is asked
    assert hanging_aws.count("sts") == (hanging_aws.count() if who is ROLE else 0)
    kept = cache.read(key)
    assert kept is not None and (kept.password, kept.expires_at) == ("kept", due.expires_at)
    outcome = cache.outcome(key)
    assert outcome is not None and outcome.failure == str(raised.value)


def test_the_exchange_s_processes_end_when_the_helper_leaves_first(
    use_env: dict[str, str], tmp_path: Path
) -> None:
    """doctor --check leaves a check behind at its --timeout and exits without teardown: the
    exchange's child and the credential_process it started end with the helper, instead of
    running on under init. Here a forked process stands for doctor: it starts the exchange
    of a profile (with a budget far off) in a thread, and leaves once the process runs."""
    import botocore.session  # noqa: F401 - imported before the forks, as in hanging_aws

    assert REGISTRY is not None
    script, process_pid = hanging_script(tmp_path, "credential-process")
    Path(use_env["AWS_CONFIG_FILE"]).write_text(f"[profile ci]\ncredential_process = {script}\n")
    child_pid = tmp_path / "child.pid"
    work = noting_its_pid(child_pid)

    doctor = os.fork()
    if doctor == 0:
        try:
            threading.Thread(
                target=lambda: exchange.bounded(work, REGISTRY, PROFILE, 60), daemon=True
            ).start()
            deadline = time.monotonic() + 30
            while not process_pid.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            os._exit(0)
    os.waitpid(doctor, 0)
    assert process_pid.exists(), "the credential_process never started"
    assert ended(int(process_pid.read_text()), within=TOLERANCE)
    assert ended(int(child_pid.read_text()), within=TOLERANCE)
    assert group_members(int(child_pid.read_text())) == []


# --- a get's whole wait: the key's lock, then what is left for the exchange --------------------


#: How long the other process holds the key's lock in a row that lets it go.
HOLD = 0.2


def holding(cache: TokenCache, hold: float, then: Callable[[], object]) -> threading.Event:
    """Another process's hold on the key's lock, from a thread (a lock of its own open file,
    as another process's would be): taken before this returns, and given up after `hold`
    seconds and `then`, or as soon as the event returned is set."""
    taken, release = threading.Event(), threading.Event()

    def hold_it() -> None:
        with cache.lock(cache_key(KEY, REGISTRY), 0) as lock:
            assert lock.held
            taken.set()
            release.wait(hold)
            then()

    threading.Thread(target=hold_it, daemon=True).start()
    assert taken.wait(5)
    return release


def test_a_get_waits_for_the_lock_until_its_deadline_less_the_least_budget(
    cache: TokenCache,
) -> None:
    """Another process holds the key's lock past the get's deadline: the get says the
    registry is busy at ECR_GET_DEADLINE less the least budget, never calls AWS, and keeps
    the token that was cached."""
    assert REGISTRY is not None
    expired = Token("expired", NOW - 60, NOW - 12 * 3600)
    cache.write(cache_key(KEY, REGISTRY), expired)
    exchange = Exchange(Token("fetched", NOW + 12 * 3600, NOW))
    release = holding(cache, 60, lambda: None)
    started = time.monotonic()
    with pytest.raises(HelperError) as raised:
        token(cache, exchange, get_deadline=BUDGET + LEAST_BUDGET).answer()
    cut(started)
    assert str(raised.value) == (
        f"{WHO}: another docker-credential-codespaces process is still fetching its token; "
        "try again"
    )
    assert exchange.budgets == []
    kept = cache.read(cache_key(KEY, REGISTRY))
    assert kept is not None and kept.password == "expired"
    release.set()


def test_a_get_that_waited_for_the_lock_gives_the_exchange_what_is_left(
    cache: TokenCache,
) -> None:
    """The lock's holder went without a word (killed, say): the exchange is started with
    the get's deadline less the wait, not its own whole deadline."""
    exchange = Exchange(Token("fetched", NOW + 12 * 3600, NOW))
    holding(cache, HOLD, lambda: None)
    deadline = 0.5 + LEAST_BUDGET
    assert token(cache, exchange, get_deadline=deadline).answer().secret == "fetched"
    [budget] = exchange.budgets
    assert deadline - HOLD - TOLERANCE < budget <= deadline - HOLD / 2  # started after the hold


def test_a_free_lock_gives_the_exchange_its_whole_deadline(cache: TokenCache) -> None:
    exchange = Exchange(Token("fetched", NOW + 12 * 3600, NOW))
    assert token(cache, exchange, exchange_deadline=BUDGET).answer().secret == "fetched"
    assert exchange.budgets == [BUDGET]


@pytest.mark.parametrize(
    ("leaves", "expected"),
    [
        (lambda cache, key: cache.record(key, Outcome(NOW, REFUSED)), HelperError(REFUSED)),
        (lambda cache, key: cache.write(key, Token("theirs", NOW + 12 * 3600, NOW)), "theirs"),
    ],
    ids=["its failure", "its token"],
)
def test_a_get_that_waited_for_the_lock_takes_what_its_holder_left(
    cache: TokenCache,
    leaves: Callable[[TokenCache, str], object],
    expected: str | HelperError,
) -> None:
    """The holder's failure, as its line, or its token: as soon as it lets go, and no
    exchange of its own."""
    assert REGISTRY is not None
    key = cache_key(KEY, REGISTRY)
    exchange = Exchange(Token("fetched", NOW + 12 * 3600, NOW))
    holding(cache, HOLD, lambda: leaves(cache, key))
    started = time.monotonic()
    if isinstance(expected, HelperError):
        with pytest.raises(HelperError) as raised:
            token(cache, exchange).answer()
        assert str(raised.value) == str(expected)
    else:
        assert token(cache, exchange).answer().secret == expected
    assert HOLD / 2 <= time.monotonic() - started < HOLD + TOLERANCE  # started after the hold
    assert exchange.budgets == []


def test_parallel_gets_against_a_hanging_exchange_fail_together_with_one_exchange(
    cache: TokenCache, tmp_path: Path
) -> None:
    """Six gets at once, no token cached, and an exchange that never answers: one exchange
    is started, cut at its deadline; the five that waited on the lock take its line from
    the record. Each fails with that one line, all within the get's deadline, and the
    exchange's child is gone."""
    assert REGISTRY is not None
    children = tmp_path / "children"
    children.mkdir()

    def hang(
        registry: ecr.EcrRegistry, who: ecr.AwsIdentity, stage: Callable[[str], None]
    ) -> Token:
        (children / str(os.getpid())).touch()
        stage("ecr")
        time.sleep(60)
        raise AssertionError("never reached")

    started_exchanges: list[float] = []

    def bounded(registry: ecr.EcrRegistry, who: ecr.AwsIdentity, budget: float) -> Token:
        started_exchanges.append(budget)
        return exchange.bounded(hang, registry, who, budget)

    deadline = BUDGET + LEAST_BUDGET  # the lock is waited for longer than the exchange takes
    lines: list[str] = []
    seconds: list[float] = []

    def get() -> None:
        began = time.monotonic()
        try:
            token(cache, bounded, get_deadline=deadline, exchange_deadline=BUDGET).answer()
        except HelperError as error:
            lines.append(str(error))
        seconds.append(time.monotonic() - began)

    threads = [threading.Thread(target=get) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline + TOLERANCE)
    assert started_exchanges == [BUDGET]
    late = (
        f"{WHO}: the exchange timed out (no answer within 0.5 s); check the network, name "
        "resolution and proxies (AWS in eu-west-1)"
    )
    assert lines == [late] * 6
    assert max(seconds) < deadline, seconds
    [child] = [int(path.name) for path in children.iterdir()]
    assert_gone(child)


# --- the locks: the local store's, and any file's ------------------------------------------


@pytest.mark.parametrize("required", [True, False], ids=["required", "the cache's"])
@pytest.mark.parametrize("timeout", [0, BUDGET], ids=["tried once", "waited for"])
def test_a_lock_another_holds_is_waited_for_its_timeout(
    tmp_path: Path, timeout: float, required: bool
) -> None:
    """LockTimeout, naming the lock, once `timeout` has passed (at once for 0): never "go on
    unlocked", not even for the cache, whose lock may be missing."""
    path = str(tmp_path / "file")
    with FileLock(path, 0) as other:
        assert other.held
        started = time.monotonic()
        with pytest.raises(LockTimeout) as raised, FileLock(path, timeout, required):
            raise AssertionError("the block ran without the lock")
        elapsed = time.monotonic() - started
    assert timeout <= elapsed < timeout + TOLERANCE, elapsed
    assert str(raised.value) == f"timed out waiting for the lock {path}.lock"


@pytest.mark.parametrize(
    "change",
    [
        lambda store: store.add("new.example", "u", "CANARY-new-secret"),
        lambda store: store.delete("kept.example"),
    ],
    ids=["store", "erase"],
)
def test_a_store_whose_lock_another_holds_fails_at_its_timeout_and_keeps_every_login(
    use_env: dict[str, str], change: Callable[[LocalStore], object]
) -> None:
    """`docker login` or `logout` while another process holds the store's lock past its
    timeout: one line naming the lock, no secret in it, and the store as it was."""
    LocalStore().add("kept.example", "u", "CANARY-kept-secret")
    directory = Path(use_env["XDG_DATA_HOME"]) / "docker-credential-codespaces"
    path = str(directory / "credentials.json")
    before = Path(path).read_bytes()
    with FileLock(path, 0):
        started = time.monotonic()
        with pytest.raises(LockTimeout) as raised:
            change(LocalStore(lock_timeout=BUDGET))
        cut(started)
    assert str(raised.value) == f"timed out waiting for the lock {path}.lock"
    assert Path(path).read_bytes() == before
    assert LocalStore().get("kept.example") is not None
