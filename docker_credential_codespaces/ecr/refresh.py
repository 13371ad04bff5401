"""Getting a new ECR token: in the background while the cached one is still good, and bounded
in time when a `get` has to wait for one.

A `get` whose token is past its refresh point answers at once with it and starts one
detached refresher, so docker waits on AWS only when no good token is left: the first pull,
or one after the token ran out. The refresher is a child in a session of its own, its
stdin, stdout and stderr on /dev/null, so no pipe of docker's stays open for it. It holds
the cache key's lock, taken before the fork: at most one is alive per key, a `get` that needs
a token meanwhile waits for it, and a test or `doctor` sees it at work by the lock alone.

Every exchange's failure is put on record, keyed like the token, and remembered for
ECR_FAILURE_MEMORY seconds: the gets that waited for it, and those that follow, fail at once
with the same line instead of calling AWS again (ten pulls against a throttling endpoint cost
one exchange, not ten). A good token is still served meanwhile. A `get`'s whole wait, the
lock included, ends within ECR_GET_DEADLINE seconds however many run at once.
"""

from __future__ import annotations

import os
import sys
import time

from ..constants import ECR_EXCHANGE_DEADLINE, ECR_GET_DEADLINE
from ..files import LockTimeout
from ..log import debug
from ..wire import HelperError
from . import messages
from .cache import Outcome

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from collections.abc import Callable

    from . import AwsIdentity, EcrRegistry
    from .cache import Cache
    from .token import Token

# A detached process's scheduling priority, lowered: importing botocore takes a quarter second
# of processor time, which must not slow the `get` that started it, nor docker's pull.
_NICENESS = 10
# The least time worth starting an exchange with: below it, the get says the registry is busy.
_LEAST_BUDGET = 1.0


def fetch(
    cache: Cache,
    key: str,
    registry: EcrRegistry,
    identity: AwsIdentity,
    budget: float = ECR_EXCHANGE_DEADLINE,
) -> Token:
    """Exchange the identity for a new token, cache it, and put the outcome on record.

    The caller holds the key's lock. A token AWS returns with less life left than a pull
    needs is never cached or served (Token.good decides, as for every token).
    """
    from .exchange import exchange

    try:
        token = exchange(registry, identity, budget)
        if not token.good(time.time()):
            raise HelperError(messages.short_lived(registry, identity, token.expires_at))
    except HelperError as error:
        cache.record(key, Outcome(time.time(), str(error)))
        raise
    cache.write(key, token)
    cache.record(key, Outcome(time.time(), ""))
    return token


def remembered_failure(cache: Cache, key: str) -> str | None:
    """The line of an exchange for this key that failed moments ago, or None."""
    outcome = cache.outcome(key)
    return outcome.remembered(time.time()) if outcome is not None else None


def wait_for_token(
    cache: Cache,
    key: str,
    registry: EcrRegistry,
    identity: AwsIdentity,
    young: bool = False,
) -> Token:
    """A good token for a `get` that has none: another process's, or one fetched now.

    With `young` (for `warm`), a good token past its refresh point does not count either.
    Bounded: the lock is waited for until ECR_GET_DEADLINE, less the least budget an exchange
    needs, and an exchange gets what is left of it (ECR_EXCHANGE_DEADLINE at most).
    """
    started = time.monotonic()
    failure = remembered_failure(cache, key)
    if failure is not None:
        raise HelperError(failure)
    debug(f"no good token for {registry.host} is cached: fetching one, the pull waits")
    try:
        with cache.lock(key, ECR_GET_DEADLINE - _LEAST_BUDGET):
            cached, now = cache.read(key), time.time()
            if cached is not None and cached.good(now) and not (young and cached.due(now)):
                return cached  # the process that held the lock fetched it
            failure = remembered_failure(cache, key)
            if failure is not None:
                raise HelperError(failure)  # the process that held the lock failed
            budget = min(ECR_EXCHANGE_DEADLINE, ECR_GET_DEADLINE - (time.monotonic() - started))
            if budget < _LEAST_BUDGET:
                raise HelperError(messages.busy(registry, identity))
            return fetch(cache, key, registry, identity, budget)
    except LockTimeout:
        raise HelperError(
            remembered_failure(cache, key) or messages.busy(registry, identity)
        ) from None
    # (a NoLock, where the cache directory cannot be used, never raises LockTimeout)


def refresh_behind(cache: Cache, key: str, registry: EcrRegistry, identity: AwsIdentity) -> None:
    """Start one detached refresher for a token past its refresh point, and return at once.

    Nothing is started while a failure is remembered (the cached token serves meanwhile),
    while another refresher holds the lock, where no lock can be had (no cache directory:
    there is nowhere to put the token), or in a process running threads (`doctor --check`
    asks from a thread pool, and a fork there may inherit a lock some thread holds).
    """
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return
    if remembered_failure(cache, key) is not None:
        return
    try:
        with cache.lock(key, 0) as lock:
            if not lock.held:
                return
            debug(f"the token for {registry.host} is past its refresh point: refreshing it behind")
            _detached(lambda: fetch(cache, key, registry, identity), lock.fd)
    except LockTimeout:
        debug(f"the token for {registry.host} is being refreshed already")


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
