"""RegistryToken's state machine in process: a fake exchange, the real cache in tmp_path, a
table of clocks, and a spawn that runs the refresher inline or only notes that it was asked.

Nothing of boto3 or botocore is faked: the exchange is a plain callable in its place. The
real HTTP and SigV4 exchange is proven against the loopback AWS bed (test_ecr.py and the
others); these rows prove what the helper does around it, without a process or a server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from beds.client import ended
from beds.tokens import NOW, REGISTRY, Answer, Exchange, identity
from beds.values import SECRET_KEY, aws_token
from docker_credential_codespaces import ecr
from docker_credential_codespaces.constants import (
    ECR_EXCHANGE_DEADLINE,
    ECR_FAILURE_MEMORY,
    ECR_MIN_VALIDITY,
    SECRET_AWS_PROFILE,
)
from docker_credential_codespaces.ecr import messages
from docker_credential_codespaces.ecr.answer import RegistryToken, describe
from docker_credential_codespaces.ecr.cache import Cache, NullCache, TokenCache, cache_key
from docker_credential_codespaces.ecr.exchange import bounded
from docker_credential_codespaces.ecr.token import Token
from docker_credential_codespaces.wire import Credential, HelperError

HOUR = 3600.0
REFUSED = f"{REGISTRY.describe()} (secret ECR_CONTAINER_REGISTRY_SERVER): AWS refused (test)"


def user_token(password: str) -> ecr.AwsIdentity:
    """A USER=AWS triple: the password is a registry token fetched earlier."""
    found = ecr.identity("TOK", "AWS", password, REGISTRY, lambda suffix: "")
    assert found is not None and found.kind == ecr.TOKEN
    return found


def fetched(password: str, hours_ago: float, hours_left: float) -> Token:
    """A token the helper fetched `hours_ago`, with `hours_left` of life left at NOW."""
    return Token(password, NOW + hours_left * HOUR, NOW - hours_ago * HOUR)


def issued(password: str = "new") -> Token:  # noqa: S107 - a fake token
    """What AWS answers at NOW: a token with twelve hours of life."""
    return Token(password, NOW + 12 * HOUR, NOW)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Spawn:
    """The refresher's start: runs its work inline (as the child would, its failure left on
    record only), or only notes that it was asked."""

    def __init__(self, inline: bool) -> None:
        self.inline = inline
        self.asked = 0

    def __call__(self, work: Callable[[], object], keep_fd: int) -> None:
        assert keep_fd >= 0  # the refresher keeps the key's lock
        self.asked += 1
        if self.inline:
            try:
                work()
            except HelperError:
                pass


def make(
    cache: Cache,
    exchange: Exchange,
    clock: Clock | None = None,
    spawn: Spawn | None = None,
    who: ecr.AwsIdentity | None = None,
) -> RegistryToken:
    assert REGISTRY is not None
    return RegistryToken(
        REGISTRY,
        who or identity(),
        cache=cache,
        exchange=exchange,
        clock=clock or Clock(),
        spawn=spawn or Spawn(inline=False),
    )


def key(who: ecr.AwsIdentity | None = None) -> str:
    assert REGISTRY is not None
    return cache_key(who or identity(), REGISTRY)


# --- the table --------------------------------------------------------------------------------

SHORT = Token("short", NOW + 240, NOW)  # four minutes of life: under the margin

# (row, cached token, what the exchange answers, young, the answer or the line, exchanges,
# refreshers asked for, the password cached after)
ROWS = [
    ("fresh", fetched("old", 1, 11), [], False, "old", 0, 0, "old"),
    ("fresh, young", fetched("old", 1, 11), [], True, "old", 0, 0, "old"),
    ("due", fetched("old", 7, 5), [], False, "old", 0, 1, "old"),
    ("due, young", fetched("old", 7, 5), [issued()], True, "new", 1, 0, "new"),
    ("expired", fetched("old", 13, -1), [issued()], False, "new", 1, 0, "new"),
    ("under the margin", fetched("old", 11.95, 0.05), [issued()], False, "new", 1, 0, "new"),
    ("nothing cached", None, [issued()], False, "new", 1, 0, "new"),
    ("dated after now", fetched("old", -1, 13), [issued()], False, "new", 1, 0, "new"),
    (
        "refused",
        None,
        [HelperError(REFUSED)],
        False,
        HelperError(REFUSED),
        1,
        0,
        None,
    ),
    (
        "short-lived",
        None,
        [SHORT],
        False,
        HelperError(messages.short_lived(REGISTRY, identity(), SHORT.expires_at)),
        1,
        0,
        None,
    ),
]


@pytest.mark.parametrize(
    ("cached", "answers", "young", "expected", "exchanges", "asked", "after"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_an_access_key_token(
    cache: TokenCache,
    cached: Token | None,
    answers: list[Answer],
    young: bool,
    expected: str | HelperError,
    exchanges: int,
    asked: int,
    after: str | None,
) -> None:
    if cached is not None:
        cache.write(key(), cached)
    exchange, spawn = Exchange(*answers), Spawn(inline=False)
    token = make(cache, exchange, spawn=spawn)
    if isinstance(expected, HelperError):
        with pytest.raises(HelperError) as raised:
            token.answer(young)
        assert str(raised.value) == str(expected)
    else:
        source = cached if exchanges == 0 else answers[0]
        assert isinstance(source, Token)
        assert token.answer(young) == Credential("AWS", expected, source.expires_at)
    assert (len(exchange.calls), spawn.asked) == (exchanges, asked)
    assert all(budget <= ECR_EXCHANGE_DEADLINE for _, _, budget in exchange.calls)
    kept = cache.read(key())
    assert (kept.password if kept is not None else None) == after
    outcome = cache.outcome(key())
    if exchanges:  # every exchange's outcome is on record: its line, or "" for a new token
        assert outcome is not None and outcome.at == NOW
        assert outcome.failure == (str(expected) if isinstance(expected, HelperError) else "")
    else:
        assert outcome is None


@pytest.mark.parametrize(
    ("later", "served", "exchanges"),
    [(0, "first", 1), (1, "first", 1), (1.99, "first", 1), (2, "second", 2), (2.5, "second", 2)],
)
def test_a_token_issued_with_little_life_serves_until_its_margin(
    cache: TokenCache, later: float, served: str, exchanges: int
) -> None:
    """AWS answers a token that lives ECR_MIN_VALIDITY and 2 s more: it is served, with no
    refresher, for those 2 s (its refresh point is its margin, before half its life), and
    then a new one is fetched, the pull waiting for it. (Once proven by sleeping 2.5 s.)"""
    clock = Clock()
    first = Token("first", NOW + ECR_MIN_VALIDITY + 2, NOW)
    exchange, spawn = Exchange(first, issued("second")), Spawn(inline=False)
    assert make(cache, exchange, clock, spawn).answer().secret == "first"
    clock.now = NOW + later
    assert make(cache, exchange, clock, spawn).answer().secret == served
    assert (len(exchange.calls), spawn.asked) == (exchanges, 0)


# --- a due token's refresher ------------------------------------------------------------------


def test_a_due_token_is_served_and_the_refresher_caches_the_next(cache: TokenCache) -> None:
    cache.write(key(), fetched("old", 7, 5))
    exchange, spawn = Exchange(issued()), Spawn(inline=True)
    assert make(cache, exchange, spawn=spawn).answer().secret == "old"
    assert (len(exchange.calls), spawn.asked) == (1, 1)
    assert make(cache, Exchange(), spawn=spawn).answer().secret == "new"  # young: no refresher
    assert spawn.asked == 1


def test_a_failed_refresh_is_on_record_and_the_token_still_serves(cache: TokenCache) -> None:
    cache.write(key(), fetched("old", 7, 5))
    exchange, spawn = Exchange(HelperError(REFUSED)), Spawn(inline=True)
    clock = Clock()
    assert make(cache, exchange, clock, spawn).answer().secret == "old"
    _, problems = make(cache, Exchange(), clock).status(NOW)
    assert problems == [messages.refresh_failed(NOW, REFUSED)]
    clock.now += 10  # remembered: no second refresher, the token serves
    assert make(cache, exchange, clock, spawn).answer().secret == "old"
    assert (len(exchange.calls), spawn.asked) == (1, 1)


def test_no_refresher_while_another_holds_the_lock(cache: TokenCache) -> None:
    cache.write(key(), fetched("old", 7, 5))
    spawn = Spawn(inline=False)
    with cache.lock(key(), 0) as held:
        assert held.held
        assert make(cache, Exchange(), spawn=spawn).answer().secret == "old"
    assert spawn.asked == 0


# --- a remembered failure, on a table of clocks -----------------------------------------------


@pytest.mark.parametrize(
    ("later", "asks_again"),
    [
        (0, False),
        (1, False),
        (ECR_FAILURE_MEMORY - 1, False),
        (ECR_FAILURE_MEMORY, True),
        (ECR_FAILURE_MEMORY + 60, True),
        (-60, True),  # the clock went back: a failure "from the future" is not remembered
    ],
)
def test_a_failure_is_remembered_for_its_memory(
    cache: TokenCache, later: float, asks_again: bool
) -> None:
    clock = Clock()
    exchange = Exchange(HelperError(REFUSED), issued())
    with pytest.raises(HelperError, match="AWS refused"):
        make(cache, exchange, clock).answer()
    clock.now = NOW + later
    if asks_again:
        assert make(cache, exchange, clock).answer().secret == "new"
        assert len(exchange.calls) == 2
    else:
        with pytest.raises(HelperError) as raised:
            make(cache, exchange, clock).answer()
        assert str(raised.value) == REFUSED  # the same line, and no call
        assert len(exchange.calls) == 1


# --- another identity, another key ------------------------------------------------------------


def test_a_rotated_secret_never_gets_the_old_token(cache: TokenCache) -> None:
    assert make(cache, Exchange(issued("old"))).answer().secret == "old"
    rotated = identity(SECRET_KEY + "-rotated")
    assert key(rotated) != key()
    exchange = Exchange(HelperError(REFUSED))
    with pytest.raises(HelperError):
        make(cache, exchange, who=rotated).answer()
    assert len(exchange.calls) == 1  # it asked AWS itself, and never served "old"
    assert make(cache, Exchange(), who=rotated).status(NOW)[1] == [
        messages.refresh_failed(NOW, REFUSED)
    ]
    assert make(cache, Exchange()).status(NOW)[1] == []  # the old key's record is its own


def test_a_renamed_secret_keeps_its_token(cache: TokenCache) -> None:
    """The prefix only names variables: renaming the triple costs no token."""
    assert make(cache, Exchange(issued("old"))).answer().secret == "old"
    renamed = identity(prefix="RENAMED")
    assert key(renamed) == key()
    assert make(cache, Exchange(), who=renamed).answer().secret == "old"
    assert messages.missing_session_token(renamed).startswith("RENAMED_CONTAINER_REGISTRY_USER ")


# --- USER=AWS ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "expires_at", "line"),
    [
        (aws_token(NOW + 2 * HOUR), NOW + 2 * HOUR, None),
        (aws_token(NOW + 60), NOW + 60, None),  # good to its end: nobody can replace it
        (aws_token(NOW - 60), NOW - 60, "expired"),
        ("CANARY-opaque-token", None, None),  # no expiry to read: passed through
    ],
    ids=["good", "a minute left", "expired", "unreadable"],
)
def test_a_user_token(
    cache: TokenCache, tmp_path: Path, password: str, expires_at: float | None, line: str | None
) -> None:
    who = user_token(password)
    exchange, spawn = Exchange(), Spawn(inline=True)
    token = make(cache, exchange, spawn=spawn, who=who)
    for young in (False, True):
        if line is None:
            served = token.answer(young)
            assert served == Credential("AWS", password, expires_at, expires=True)
            assert served.expires and served.expires_at == expires_at
        else:
            assert expires_at is not None
            with pytest.raises(HelperError) as raised:
                token.answer(young)
            assert str(raised.value) == messages.expired_token(who, expires_at)
            assert "TOK_CONTAINER_REGISTRY_PASSWORD" in str(raised.value)
    token.forget()
    state, problems = token.status(NOW)
    if expires_at is None:
        assert (state, problems) == ("a token whose expiry cannot be read", [])
    elif line is not None:
        assert state.startswith("token expired at ")
        assert problems == [messages.expired_token(who, expires_at)]
    else:
        assert state.startswith("token expires at ")
        assert problems == ([messages.expiring_token(who)] if expires_at - NOW < HOUR else [])
    assert (len(exchange.calls), spawn.asked) == (0, 0)
    assert not (tmp_path / "cache").exists()  # a user's token is never cached


# --- the cache turned off ---------------------------------------------------------------------


def tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def test_with_the_cache_off_every_answer_is_an_exchange_and_nothing_is_written(
    use_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    before = tree(tmp_path)
    clock = Clock()
    exchange = Exchange(issued("one"), issued("two"), HelperError(REFUSED), issued("four"))
    spawn = Spawn(inline=True)
    token = make(NullCache(), exchange, clock, spawn)
    assert token.answer().secret == "one"
    assert token.answer(young=True).secret == "two"
    with pytest.raises(HelperError):
        token.answer()
    assert token.answer().secret == "four"  # nowhere to remember the failure
    assert (len(exchange.calls), spawn.asked) == (4, 0)
    token.forget()
    assert token.status(NOW) == (
        "access key; no cached token (one is fetched at the next pull)",
        [],
    )
    assert tree(tmp_path) == before


# --- erase and doctor -------------------------------------------------------------------------


def test_forget_drops_the_token_and_its_outcome(cache: TokenCache) -> None:
    make(cache, Exchange(issued())).answer()
    assert cache.read(key()) is not None and cache.outcome(key()) is not None
    make(cache, Exchange()).forget()
    assert cache.read(key()) is None and cache.outcome(key()) is None
    assert make(cache, Exchange(issued("again"))).answer().secret == "again"


@pytest.mark.parametrize(
    ("cached", "state"),
    [
        (None, "access key; no cached token (one is fetched at the next pull)"),
        (fetched("old", 1, 11), "access key; cached token expires at 2027-01-15 19:00 UTC"),
        (
            fetched("old", 7, 5),
            "access key; cached token expires at 2027-01-15 13:00 UTC, refreshed behind the "
            "next pull",
        ),
        (fetched("old", 13, -1), "access key; no cached token (one is fetched at the next pull)"),
    ],
    ids=["none", "young", "due", "expired"],
)
def test_doctor_reads_the_token_without_calling_aws(
    cache: TokenCache, cached: Token | None, state: str
) -> None:
    if cached is not None:
        cache.write(key(), cached)
    exchange, spawn = Exchange(), Spawn(inline=True)
    assert make(cache, exchange, spawn=spawn).status(NOW) == (state, [])
    assert (len(exchange.calls), spawn.asked) == (0, 0)


def test_a_temporary_key_without_its_session_token_never_asks() -> None:
    who = ecr.identity("TMP", "ASIAIOSFODNN7EXAMPLE", "s", REGISTRY, lambda suffix: "")
    assert who is not None and REGISTRY is not None
    exchange = Exchange()
    token = RegistryToken(REGISTRY, who, cache=NullCache(), exchange=exchange)
    with pytest.raises(HelperError, match="TMP_CONTAINER_REGISTRY_AWS_SESSION_TOKEN"):
        token.answer()
    assert token.status(NOW) == (
        "temporary key; no session token",
        [messages.missing_session_token(who)],
    )
    assert exchange.calls == []
    assert describe(who) == "temporary key"


# --- the exchange's bounds: a process group of its own, ended at the deadline ----------------
#
# bounded() runs the exchange in a forked child that leads a process group. Here the work in
# that child is a plain function in the exchange's place, given short budgets.


def in_child(work: Callable[..., Token], budget: float) -> Callable[..., Token]:
    """The exchange seam, filled with the real bound around `work` and a short budget."""
    return lambda registry, who, _: bounded(work, registry, who, budget)


PROFILE_IDENTITY = ecr.identity(
    "ECR", "", "", REGISTRY, lambda suffix: "ci" if suffix == SECRET_AWS_PROFILE else ""
)


def test_an_exchange_deaf_to_every_signal_is_stopped_at_its_deadline(
    cache: TokenCache, tmp_path: Path
) -> None:
    """As glibc's getaddrinfo with a name server that never answers: blocked, and no signal
    handler of the process's can run. The get fails at the deadline, naming what it waited
    on, the failure is on record, and the child is gone."""
    pid_file = tmp_path / "pid"

    def deaf(
        registry: ecr.EcrRegistry, who: ecr.AwsIdentity, stage: Callable[[str], None]
    ) -> Token:
        pid_file.write_text(str(os.getpid()))
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        stage("sts")
        time.sleep(60)
        raise AssertionError("never reached")

    token = RegistryToken(REGISTRY, identity(), cache=cache, exchange=in_child(deaf, 0.5))
    started = time.monotonic()
    with pytest.raises(HelperError) as raised:
        token.answer()
    assert time.monotonic() - started < 2.0
    assert str(raised.value) == messages.late(REGISTRY, identity(), "sts", 0.5)
    assert str(raised.value).endswith(
        "the exchange timed out (no answer within 0.5 s); check the network, name resolution "
        "and proxies (AWS STS in eu-west-1)"
    )
    outcome = cache.outcome(key())
    assert outcome is not None and outcome.failure == str(raised.value)
    assert ended(int(pid_file.read_text()))


def test_a_hung_credential_process_is_stopped_with_its_group_and_named(tmp_path: Path) -> None:
    """A profile's credential_process that never answers: killed with the exchange's group at
    the deadline (not left to init), and the line names it, not the network."""
    assert PROFILE_IDENTITY is not None and REGISTRY is not None
    pid_file = tmp_path / "pid"

    def hung(
        registry: ecr.EcrRegistry, who: ecr.AwsIdentity, stage: Callable[[str], None]
    ) -> Token:
        stage(messages.CREDENTIAL_PROCESS)
        process = subprocess.Popen(["sleep", "60"])
        pid_file.write_text(str(process.pid))
        process.wait()
        raise AssertionError("never reached")

    with pytest.raises(HelperError) as raised:
        bounded(hung, REGISTRY, PROFILE_IDENTITY, 0.5)
    assert str(raised.value) == (
        "the AWS profile 'ci' (ECR_CONTAINER_REGISTRY_AWS_PROFILE): its credential_process "
        "gave no answer within 0.5 s and was stopped; run it to see why"
    )
    assert ended(int(pid_file.read_text()))


def test_what_an_exchange_started_ends_with_it_even_after_an_answer(tmp_path: Path) -> None:
    """A process the exchange started and left behind (a credential_process that forked a
    helper of its own) is killed with the group once the answer is in."""
    assert REGISTRY is not None
    pid_file = tmp_path / "pid"

    def leaves_one(
        registry: ecr.EcrRegistry, who: ecr.AwsIdentity, stage: Callable[[str], None]
    ) -> Token:
        pid_file.write_text(str(subprocess.Popen(["sleep", "60"]).pid))
        return issued("from-the-child")

    token = bounded(leaves_one, REGISTRY, identity(), 5)
    assert (token.password, token.expires_at, token.fetched_at) == (
        "from-the-child",
        NOW + 12 * HOUR,
        NOW,
    )
    assert ended(int(pid_file.read_text()))


@pytest.mark.parametrize(
    ("ending", "line"),
    [
        ("refused", REFUSED),
        ("died", messages.lost(REGISTRY, identity())),
        ("multi-line", "first second"),
    ],
)
def test_an_exchange_s_line_comes_back_whole_and_one(ending: str, line: str) -> None:
    assert REGISTRY is not None

    def ends(
        registry: ecr.EcrRegistry, who: ecr.AwsIdentity, stage: Callable[[str], None]
    ) -> Token:
        stage("ecr")
        if ending == "died":
            os._exit(3)
        raise HelperError(REFUSED if ending == "refused" else "first\nsecond")

    with pytest.raises(HelperError) as raised:
        bounded(ends, REGISTRY, identity(), 5)
    assert str(raised.value) == line
