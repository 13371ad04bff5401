"""One registry's token, from the secret that names it to the password docker is given.

`RegistryToken` holds everything one token's life needs: the cache and its key, the lock,
the refresher started behind a pull, and the failure remembered after an exchange. The
exchange, the clock and the way a refresher is started are passed in, so that tests run the
whole state machine in process; each defaults to the real one.

- A USER=AWS token is the user's: passed through while it is good, never cached or fetched.
- An access key's (a role's, a profile's) token comes from the cache while it is good. Once
  it is due (past its refresh point) it is still served at once, and one detached refresher
  fetches the next behind the pull, so docker waits on AWS only when no good token is left:
  the first pull, or one after the token ran out. Then one process at a time fetches while
  the others wait on the cache key's lock and re-read, so thirty parallel pulls cost one AWS
  call.
- The refresher is a child in a session of its own, its stdin, stdout and stderr on
  /dev/null, so no pipe of docker's stays open for it. It holds the key's lock, taken before
  the fork: at most one is alive per key, a `get` that needs a token meanwhile waits for it,
  and a test or `doctor` sees it at work by the lock alone.
- Every exchange's outcome is put on record, keyed like the token, and a failure is
  remembered for ECR_FAILURE_MEMORY seconds: the gets that waited for it, and those that
  follow, fail at once with the same line instead of calling AWS again (ten pulls against a
  throttling endpoint cost one exchange, not ten). A good token is still served meanwhile.
- A `get`'s whole wait, the lock included, ends within ECR_GET_DEADLINE seconds however many
  run at once, and an exchange gets what is left of it (ECR_EXCHANGE_DEADLINE at most).

Whether a token is good, and whether it is due, is Token's one rule, for every command.
"""

from __future__ import annotations

import os
import sys
import time

from ..constants import ECR_EXCHANGE_DEADLINE, ECR_GET_DEADLINE, ECR_TOKEN_USERNAME
from ..files import LockTimeout
from ..log import debug
from ..wire import Credential, HelperError
from . import PROFILE, ROLE, TOKEN, messages
from .cache import NullCache, Outcome, cache_key, open_cache
from .token import ready_token

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeGuard

    from . import AwsIdentity, EcrRegistry
    from .cache import Cache
    from .token import Token

    Exchange = Callable[[EcrRegistry, AwsIdentity, float], Token]
    # Starts the work of a refresher so that it keeps holding the lock whose descriptor it
    # is given, and returns at once.
    Spawn = Callable[[Callable[[], object], int], None]

# doctor warns about a USER=AWS token this close to expiry: it stops working during the day.
EXPIRY_WARNING = 3600.0
# A detached process's scheduling priority, lowered: importing botocore costs more processor
# time than everything else the helper does, which must not slow the `get` that started it,
# nor docker's pull.
_NICENESS = 10
# The least time worth starting an exchange with (or its whole deadline, where that is
# shorter): below it, the get says the registry is busy.
_LEAST_BUDGET = 1.0


class RegistryToken:
    """The token of one ECR registry for one AWS identity: what `get` answers, what `erase`
    forgets, and what `doctor` says of it.

    `cache` defaults to the cache in force, `exchange` to GetAuthorizationToken through
    botocore, `clock` to the real one and `spawn` to a detached fork; `get_deadline` and
    `exchange_deadline` to ECR_GET_DEADLINE and ECR_EXCHANGE_DEADLINE (tests prove the
    bounds with a fraction of a second). A USER=AWS token is the user's, never cached: no
    cache is opened for it, and none is ever touched.
    """

    __slots__ = (
        "_cache",
        "_clock",
        "_exchange",
        "_exchange_deadline",
        "_get_deadline",
        "_key",
        "_spawn",
        "identity",
        "registry",
    )

    def __init__(
        self,
        registry: EcrRegistry,
        identity: AwsIdentity,
        *,
        cache: Cache | None = None,
        exchange: Exchange | None = None,
        clock: Callable[[], float] = time.time,
        spawn: Spawn | None = None,
        get_deadline: float = ECR_GET_DEADLINE,
        exchange_deadline: float = ECR_EXCHANGE_DEADLINE,
    ) -> None:
        self.registry = registry
        self.identity = identity
        self._exchange = exchange if exchange is not None else _botocore_exchange
        self._clock = clock
        self._spawn = spawn if spawn is not None else _detached
        self._get_deadline = get_deadline
        self._exchange_deadline = exchange_deadline
        if identity.kind == TOKEN:
            self._cache: Cache = NullCache()
            self._key = ""
        else:
            self._cache = cache if cache is not None else open_cache()
            self._key = cache_key(identity, registry)

    def answer(self, young: bool = False) -> Credential:
        """The login docker is given, with the token's expiry when it can be told; HelperError
        with one line when there is none.

        With `young` (for `warm` and `export`, whose token must last), a good token past its
        refresh point does not count: a new one is fetched, and waited for.
        """
        if self.identity.kind == TOKEN:
            credential, expired = self._user_token(self._clock())
            if expired:
                raise HelperError(expired)
            return credential
        if self.identity.lacks_session_token():
            raise HelperError(messages.missing_session_token(self.identity))
        now = self._clock()
        cached = self._cache.read(self._key)
        if _serves(cached, now, young):
            if cached.due(now):
                self._refresh_behind()
            token = cached
        else:
            token = self._wait(young)
        return Credential(ECR_TOKEN_USERNAME, token.password, token.expires_at)

    def forget(self) -> None:
        """Drop the cached token and its outcome (`erase`); a USER=AWS token has none."""
        self._cache.forget(self._key)

    def status(self, now: float) -> tuple[str, list[str]]:
        """doctor's state line for the token and its problems, without calling AWS."""
        if self.identity.kind == TOKEN:
            credential, expired = self._user_token(now)
            if credential.expires_at is None:
                return "a token whose expiry cannot be read", []
            if expired:
                return f"token expired at {messages.when(credential.expires_at)}", [expired]
            soon = credential.expires_at - now < EXPIRY_WARNING
            warning = [messages.expiring_token(self.identity)] if soon else []
            return f"token expires at {messages.when(credential.expires_at)}", warning
        kind = describe(self.identity)
        if self.identity.lacks_session_token():
            return f"{kind}; no session token", [messages.missing_session_token(self.identity)]
        problems: list[str] = []
        if self.identity.kind == PROFILE:
            kind, problems = self._profile_state(now)
        outcome = self._cache.outcome(self._key)
        if outcome is not None and outcome.failure:
            problems.append(messages.refresh_failed(outcome.at, outcome.failure))
        cached = self._cache.read(self._key)
        if cached is None or not cached.good(now):
            return f"{kind}; no cached token (one is fetched at the next pull)", problems
        state = f"{kind}; cached token expires at {messages.when(cached.expires_at)}"
        if cached.due(now):
            state += ", refreshed behind the next pull"
        return state, problems

    # -- a USER=AWS token -------------------------------------------------------------------

    def _user_token(self, now: float) -> tuple[Credential, str]:
        """The USER=AWS token as given, with the expiry written inside it if it can be read,
        and the line that refuses it once it has expired ("" while it is good).

        One whose expiry cannot be read is passed through unchecked: it expires all the
        same, at a time nobody can tell.
        """
        password = self.identity.token
        token = ready_token(password)
        if token is None:
            return Credential(ECR_TOKEN_USERNAME, password, expires=True), ""
        expired = "" if token.good(now) else messages.expired_token(self.identity, token.expires_at)
        return Credential(ECR_TOKEN_USERNAME, password, token.expires_at), expired

    # -- an access key's token --------------------------------------------------------------

    def _remembered(self) -> str | None:
        """The line of an exchange for this key that failed moments ago, or None."""
        outcome = self._cache.outcome(self._key)
        return outcome.remembered(self._clock()) if outcome is not None else None

    def _fetch(self, budget: float) -> Token:
        """Exchange the identity for a new token, cache it, and put the outcome on record.

        The caller holds the key's lock. A token AWS returns with less life left than a pull
        needs is never cached or served (Token.good decides, as for every token).
        """
        try:
            token = self._exchange(self.registry, self.identity, budget)
            if not token.good(self._clock()):
                line = messages.short_lived(self.registry, self.identity, token.expires_at)
                raise HelperError(line)
        except HelperError as error:
            self._cache.record(self._key, Outcome(self._clock(), str(error)))
            raise
        self._cache.write(self._key, token)
        self._cache.record(self._key, Outcome(self._clock(), ""))
        return token

    def _wait(self, young: bool) -> Token:
        """A good token for a `get` that has none: another process's, or one fetched now.

        With `young`, a good token past its refresh point does not count either. Bounded:
        the lock is waited for until the get's deadline, less the least budget an exchange
        needs, and an exchange gets what is left of it (the exchange's deadline at most).
        """
        started = time.monotonic()
        least = min(_LEAST_BUDGET, self._exchange_deadline)
        failure = self._remembered()
        if failure is not None:
            raise HelperError(failure)
        debug(f"no good token for {self.registry.host} is cached: fetching one, the pull waits")
        try:
            with self._cache.lock(self._key, self._get_deadline - least):
                cached, now = self._cache.read(self._key), self._clock()
                if _serves(cached, now, young):
                    return cached  # the process that held the lock fetched it
                failure = self._remembered()
                if failure is not None:
                    raise HelperError(failure)  # the process that held the lock failed
                waited = time.monotonic() - started
                budget = min(self._exchange_deadline, self._get_deadline - waited)
                if budget < least:
                    raise HelperError(messages.busy(self.registry, self.identity))
                return self._fetch(budget)
        except LockTimeout:
            busy = messages.busy(self.registry, self.identity)
            raise HelperError(self._remembered() or busy) from None
        # (a NoLock, where the cache directory cannot be used, never raises LockTimeout)

    def _refresh_behind(self) -> None:
        """Start one refresher for a token past its refresh point, and return at once.

        Nothing is started while a failure is remembered (the cached token serves meanwhile),
        while another refresher holds the lock, where no lock can be had (no cache directory:
        there is nowhere to put the token), or in a process running threads (`doctor --check`
        asks from a thread pool, and a fork there may inherit a lock some thread holds).
        """
        threading = sys.modules.get("threading")
        if threading is not None and threading.active_count() > 1:
            return
        if self._remembered() is not None:
            return
        host = self.registry.host
        try:
            with self._cache.lock(self._key, 0) as lock:
                if not lock.held:
                    return
                debug(f"the token for {host} is past its refresh point: refreshing it behind")
                self._spawn(lambda: self._fetch(self._exchange_deadline), lock.fd)
        except LockTimeout:
            debug(f"the token for {host} is being refreshed already")

    def _profile_state(self, now: float) -> tuple[str, list[str]]:
        """What can be told of a profile without the network: that it exists, and until when
        the SSO session it uses is logged in (from the token `aws sso login` cached)."""
        from . import profiles

        identity = self.identity
        kind = describe(identity)
        try:
            found = profiles.profile(identity.profile)
        except HelperError as error:  # a file in the way of the profile, named
            return kind, [messages.profile_unreadable(identity, str(error))]
        if found is None:
            return kind, [messages.profile_missing(identity)]
        expires_at = profiles.sso_expiry(found)
        if expires_at is None:
            return kind, []
        if expires_at <= now:
            return kind, [messages.sso_expired(identity, expires_at)]
        return f"{kind} (SSO login until {messages.when(expires_at)})", []


def _serves(token: Token | None, now: float, young: bool) -> TypeGuard[Token]:
    """Whether a cached token may answer now: good (Token.good), and, where a young one is
    asked for (`warm`, `export`), not yet due for refresh."""
    return token is not None and token.good(now) and not (young and token.due(now))


def describe(identity: AwsIdentity) -> str:
    """The identity's kind as doctor names it; a role and a profile by name (not secrets)."""
    if identity.kind == ROLE:
        return f"role {identity.role_arn}"
    if identity.kind == PROFILE:
        return f"profile {identity.profile}"
    return identity.kind


def _botocore_exchange(registry: EcrRegistry, identity: AwsIdentity, budget: float) -> Token:
    """The real exchange, whose module is imported only when a token is fetched: a `get`
    that starts a refresher must not pay for it, and the refresher imports it after the fork."""
    from .exchange import exchange

    return exchange(registry, identity, budget)


def detach(keep_fd: int = -1) -> bool:
    """Fork a child in a session of its own: True in the child, False in the caller, at once
    (and when the fork fails: the work is then left to a later run).

    One fork, not the classic two: the child leads its new session, has no terminal and
    opens none, and the helper's process exits moments later, so init adopts and reaps it.
    The child runs niced, with /dev/null as its stdin, stdout and stderr and every other
    descriptor closed but `keep_fd` (a lock it must keep holding), so no pipe of docker's
    stays open for it. It must leave by os._exit: it shares its parent's buffers.
    """
    try:
        pid = os.fork()
    except OSError as error:
        debug(f"cannot start a detached process: {error.strerror}")
        return False
    if pid:
        return False
    try:
        os.setsid()
        os.nice(_NICENESS)  # the pull it works for comes first for the processor
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        top = os.sysconf("SC_OPEN_MAX")
        if keep_fd < 0:
            os.closerange(3, top)
        else:
            os.closerange(3, keep_fd)
            os.closerange(keep_fd + 1, top)
    except BaseException:
        os._exit(0)
    return True


def _detached(work: Callable[[], object], keep_fd: int) -> None:
    """Run `work` in a detached child that keeps the lock `keep_fd`, and return at once."""
    if not detach(keep_fd):
        return
    try:
        work()
    except BaseException:  # noqa: S110 - the outcome is on record; nobody is left to tell
        pass
    finally:
        os._exit(0)
