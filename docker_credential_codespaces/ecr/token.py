"""An ECR registry token, and the one rule for whether it is still good.

Every command that looks at a token asks it: `get` before serving one from the cache or a
secret, and `doctor` before saying it is fresh.
"""

from __future__ import annotations

from ..constants import ECR_CLOCK_SKEW, ECR_MAX_LIFETIME, ECR_MIN_VALIDITY, ECR_REFRESH_AT

# An expiration past 9999-12-31 is no date at all (and time.gmtime cannot show it).
LATEST_EXPIRATION = 253402300800


class Token:
    """A registry password with its expiry and, if the helper fetched it, when it did."""

    __slots__ = ("expires_at", "fetched_at", "password")

    def __init__(self, password: str, expires_at: float, fetched_at: float | None = None) -> None:
        self.password = password
        self.expires_at = expires_at
        self.fetched_at = fetched_at  # None for a token the user fetched (USER=AWS)

    def __repr__(self) -> str:
        return f"Token(expires_at={self.expires_at}, fetched_at={self.fetched_at})"

    def margin(self) -> float:
        """How long before its expiry a token stops being handed out.

        One the helper fetched must outlive a pull that starts now, and a fresh one can be
        had. One the user fetched (USER=AWS) cannot be replaced: refusing it early would only
        turn a pull that may finish into one that surely fails, so it is good to the end.
        """
        return ECR_MIN_VALIDITY if self.fetched_at is not None else 0.0

    def plausible(self) -> bool:
        """Whether its times can be those of a token AWS issued: finite dates a clock can show,
        and a life no longer than ECR_MAX_LIFETIME. A cache file that fails this is corrupt,
        and so is an answer: `inf`, NaN or a date years away must never read as "good for
        years". (One that expired before it was fetched is plausible, and not good.) A USER=AWS
        token that fails it has no expiry anybody can read, and is passed through unchecked."""
        fetched_at = self.expires_at if self.fetched_at is None else self.fetched_at
        dates = 0 < self.expires_at < LATEST_EXPIRATION and 0 < fetched_at < LATEST_EXPIRATION
        return dates and self.expires_at - fetched_at <= ECR_MAX_LIFETIME

    def good(self, now: float) -> bool:
        """Whether the token may be handed out now.

        A fetched token dated after now (beyond clock skew) is not: the clock went back, or
        the file was not written by this helper, and only a new token is sure to be good.
        """
        if self.fetched_at is not None and self.fetched_at > now + ECR_CLOCK_SKEW:
            return False
        return self.expires_at - now > self.margin()

    def refresh_at(self) -> float:
        """When a fetched token is replaced: half its life, or before it stops being good."""
        latest = self.expires_at - self.margin()
        if self.fetched_at is None:
            return latest
        lifetime = self.expires_at - self.fetched_at
        return min(self.fetched_at + lifetime * ECR_REFRESH_AT, latest)

    def due(self, now: float) -> bool:
        """Whether it is time to fetch a new one (a token that is not good always is)."""
        return now >= self.refresh_at()


def ready_token(password: str) -> Token | None:
    """A USER=AWS token with the expiry written inside it; None if it has none to read.

    ECR passwords decode, best effort, to JSON with an `expiration`. One that does not, or
    whose expiration no clock can show, is passed through unchecked.
    """
    import json
    from binascii import Error, a2b_base64

    try:
        document = json.loads(a2b_base64(password + "=="))  # ValueError if not ASCII
        expiration = document["expiration"]
    except (Error, ValueError, TypeError, KeyError, RecursionError):
        return None
    if isinstance(expiration, bool) or not isinstance(expiration, (int, float)):
        return None
    try:
        token = Token(password, float(expiration))  # an int of JSON's, as a time is kept
    except OverflowError:  # an int no float can hold is no date either
        return None
    return token if token.plausible() else None  # nan, inf, or no date a clock can show
