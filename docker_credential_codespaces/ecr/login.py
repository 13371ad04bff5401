"""What an ECR secret answers: a ready token that is still good, or an access key's token.

An access key's token comes from the cache while it is good, and is refreshed behind the pull
once it is due; only a pull with no good token waits, while one process at a time fetches and
the others wait on the cache key's lock and then re-read, so thirty parallel pulls cost one
AWS call (ecr.refresh has those rules). `doctor` reads the same tokens through `status`, and
`warm` through `fresh_until`, with the same rule for whether they are still good (Token.good).
"""

from __future__ import annotations

import time

from ..constants import ECR_TOKEN_USERNAME
from ..wire import HelperError
from . import PROFILE, ROLE, TOKEN, messages
from .cache import cache_key, open_cache
from .token import ready_token

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from ..secrets import Secret
    from . import AwsIdentity, EcrRegistry

# doctor warns about a USER=AWS token this close to expiry: it stops working during the day.
EXPIRY_WARNING = 3600.0


def _parts(secret: Secret) -> tuple[EcrRegistry, AwsIdentity]:
    registry, identity = secret.registry, secret.aws
    if registry is None or identity is None:  # the secrets source asks only for ECR triples
        raise HelperError(f"{secret.key} is not an ECR registry")
    return registry, identity


def answer(secret: Secret) -> tuple[str, str]:
    """The username and password docker is given for an ECR secret, or HelperError."""
    registry, identity = _parts(secret)
    if identity.kind == TOKEN:
        token, now = ready_token(identity.secret), time.time()
        if token is not None and not token.good(now):
            raise HelperError(messages.expired_token(identity, token.expires_at))
        return ECR_TOKEN_USERNAME, identity.secret
    if identity.lacks_session_token():
        raise HelperError(messages.missing_session_token(identity))
    return ECR_TOKEN_USERNAME, _registry_password(registry, identity)


def _registry_password(registry: EcrRegistry, identity: AwsIdentity) -> str:
    """A registry password for an access key: the cached token while it is good (refreshed
    behind the pull once it is due), else one fetched now (ecr.refresh has the rules)."""
    cache = open_cache()
    key = cache_key(identity, registry)
    now = time.time()
    cached = cache.read(key)
    if cached is not None and cached.good(now):
        if cached.due(now):
            from .refresh import refresh_behind

            refresh_behind(cache, key, registry, identity)
        return cached.password
    from .refresh import wait_for_token

    return wait_for_token(cache, key, registry, identity).password


def fresh_until(secret: Secret) -> float | None:
    """For `warm`: make the secret's token young, fetching one unless the cached one is, and
    return its expiry (None for a USER=AWS token whose expiry cannot be read); HelperError
    with get's line when it cannot."""
    registry, identity = _parts(secret)
    if identity.kind == TOKEN:
        token = ready_token(identity.secret)
        if token is not None and not token.good(time.time()):
            raise HelperError(messages.expired_token(identity, token.expires_at))
        return token.expires_at if token is not None else None
    if identity.lacks_session_token():
        raise HelperError(messages.missing_session_token(identity))
    cache = open_cache()
    key = cache_key(identity, registry)
    now = time.time()
    cached = cache.read(key)
    if cached is not None and cached.good(now) and not cached.due(now):
        return cached.expires_at
    from .refresh import wait_for_token

    return wait_for_token(cache, key, registry, identity, young=True).expires_at


def forget(secret: Secret) -> None:
    """Drop the cached token of an access key's registry (`erase`); a ready token has none."""
    registry, identity = _parts(secret)
    if identity.kind != TOKEN:
        open_cache().forget(cache_key(identity, registry))


def describe(identity: AwsIdentity) -> str:
    """The identity's kind as doctor names it; a role and a profile by name (not secrets)."""
    if identity.kind == ROLE:
        return f"role {identity.role_arn}"
    if identity.kind == PROFILE:
        return f"profile {identity.profile}"
    return identity.kind


def status(secret: Secret, now: float) -> tuple[str, list[str]]:
    """doctor's state line for an ECR secret and its problems, without calling AWS."""
    registry, identity = _parts(secret)
    if identity.kind == TOKEN:
        token = ready_token(identity.secret)
        if token is None:
            return "a token whose expiry cannot be read", []
        if not token.good(now):
            problem = messages.expired_token(identity, token.expires_at)
            return f"token expired at {messages.when(token.expires_at)}", [problem]
        soon = token.expires_at - now < EXPIRY_WARNING
        warning = [messages.expiring_token(identity)] if soon else []
        return f"token expires at {messages.when(token.expires_at)}", warning
    kind = describe(identity)
    if identity.lacks_session_token():
        return f"{kind}; no session token", [messages.missing_session_token(identity)]
    problems: list[str] = []
    if identity.kind == PROFILE:
        kind, problems = _profile_state(identity, now)
    cache = open_cache()
    key = cache_key(identity, registry)
    outcome = cache.outcome(key)
    if outcome is not None and outcome.failure:
        problems.append(messages.refresh_failed(outcome.at, outcome.failure))
    cached = cache.read(key)
    if cached is None or not cached.good(now):
        return f"{kind}; no cached token (one is fetched at the next pull)", problems
    state = f"{kind}; cached token expires at {messages.when(cached.expires_at)}"
    if cached.due(now):
        state += ", refreshed behind the next pull"
    return state, problems


def _profile_state(identity: AwsIdentity, now: float) -> tuple[str, list[str]]:
    """What can be told of a profile without the network: that it exists, and until when the
    SSO session it uses is logged in (from the token `aws sso login` cached)."""
    from . import profiles

    kind = describe(identity)
    found = profiles.profile(identity.profile)
    if found is None:
        return kind, [messages.profile_missing(identity)]
    expires_at = profiles.sso_expiry(found)
    if expires_at is None:
        return kind, []
    if expires_at <= now:
        return kind, [messages.sso_expired(identity, expires_at)]
    return f"{kind} (SSO login until {messages.when(expires_at)})", []


def expiry(secret: Secret, password: str) -> float | None:
    """When the password `answer` gave for an ECR secret stops working, if that can be told.

    `export` says it, since what it writes out cannot be refreshed. A ready token carries its
    own expiry; an access key's token is the one `answer` just read from the cache or wrote to
    it. None when that cannot be told: the cache off, a token another process replaced in
    between, or a ready token with no expiry to read.
    """
    registry, identity = _parts(secret)
    if identity.kind == TOKEN:
        token = ready_token(password)
    else:
        token = open_cache().read(cache_key(identity, registry))
        if token is not None and token.password != password:
            token = None
    return token.expires_at if token is not None else None
