"""The one rule for whether an ECR token is still good, and when a fetched one is refreshed."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from beds.values import token_of as ready
from docker_credential_codespaces.constants import ECR_CLOCK_SKEW, ECR_MAX_LIFETIME
from docker_credential_codespaces.ecr.token import Token, ready_token

H = 3600.0
NOW = 1_800_000_000.0

# (fetched hours ago or None for a ready token, hours left, good, due)
FRESHNESS = [
    (1, 11, True, False),  # young
    (5.9, 6.1, True, False),
    (6.1, 5.9, True, True),  # past half its life: refreshed, still good
    (11.9, 0.1, True, True),  # six minutes left: above the five-minute margin, still good
    (11.95, 0.05, False, True),  # three minutes left: never handed out
    (12, 0, False, True),
    (13, -1, False, True),
    (0, 240 / H, False, True),  # AWS answered with four minutes of life
    (None, 2, True, False),  # a ready token nobody can replace is good to its end
    (None, 200 / H, True, False),
    (None, 1 / H, True, False),
    (None, 0, False, True),
    (None, -1, False, True),
]


@pytest.mark.parametrize(("fetched", "left", "good", "due"), FRESHNESS)
def test_freshness(fetched: float | None, left: float, good: bool, due: bool) -> None:
    token = Token("p", NOW + left * H, None if fetched is None else NOW - fetched * H)
    assert token.good(NOW) is good
    assert token.due(NOW) is due
    if not token.good(NOW):
        assert token.due(NOW)  # a token that may not be handed out is always refreshed


def test_a_short_lived_token_is_refreshed_before_the_margin() -> None:
    """Half of a 8-minute life is 4 minutes, later than 5 minutes before the end: the margin."""
    token = Token("p", NOW + 8 * 60, NOW)
    assert token.refresh_at() == NOW + 3 * 60


@pytest.mark.parametrize(
    ("password", "expires_at"),
    [
        (ready({"payload": "x", "expiration": 1_800_000_000}), 1_800_000_000.0),
        (ready({"payload": "x", "expiration": 1.8e9}), 1.8e9),
        (ready({"payload": "x"}), None),
        (ready({"expiration": True}), None),
        (ready({"expiration": "soon"}), None),
        (ready({"expiration": 0}), None),
        (ready({"expiration": 1e300}), None),
        (ready([1, 2]), None),
        ("not-base64-json!", None),
        ("\u00e9t\u00e9", None),
    ],
)
def test_ready_token_expiry(password: str, expires_at: float | None) -> None:
    token = ready_token(password)
    assert (token.expires_at if token is not None else None) == expires_at


SKEW, LIFE = ECR_CLOCK_SKEW, ECR_MAX_LIFETIME


@pytest.mark.parametrize(
    ("fetched_at", "good"),
    [
        (NOW, True),  # just fetched
        (NOW + SKEW, True),  # dated ahead of this clock, by no more than clocks differ
        (NOW + SKEW + 1, False),  # beyond that: the clock went back, or not this helper's file
        (NOW + 11 * H, False),
    ],
)
def test_a_token_fetched_in_the_future(fetched_at: float, good: bool) -> None:
    """However long it has left: twelve hours from now here."""
    assert Token("p", NOW + 12 * H, fetched_at).good(NOW) is good


# The first second after 9999-12-31, which no four-digit year shows.
LATEST = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()) + 1


@pytest.mark.parametrize(
    ("expires_at", "fetched_at", "plausible"),
    [
        (NOW + 12 * H, NOW, True),
        (NOW + 12 * H, None, True),  # a USER=AWS token's
        (NOW - H, NOW, True),  # expired before it was fetched: plausible, and not good
        (NOW + LIFE, NOW, True),
        (NOW + LIFE + 1, NOW, False),
        (1.0, 1.0, True),  # the first second of 1970, then each bound of a date
        (0.0, 1.0, False),
        (1.0, 0.0, False),
        (LATEST - 1, LATEST - 1, True),
        (LATEST, LATEST - 1, False),
        (LATEST - 1, LATEST, False),
        (LATEST, None, False),
        (-1.0, None, False),
    ],
)
def test_plausible_times(expires_at: float, fetched_at: float | None, plausible: bool) -> None:
    assert Token("p", expires_at, fetched_at).plausible() is plausible


@pytest.mark.parametrize(
    ("expiration", "expires_at"),
    [
        (1, 1.0),
        (LATEST - 1, LATEST - 1.0),
        (LATEST, None),
        (-1, None),
        (float("nan"), None),  # JSON as Python writes and reads it: NaN and Infinity
        (float("inf"), None),
        (10**400, None),  # an integer no float can hold is no date either, and no traceback
    ],
)
def test_the_bounds_of_a_ready_token_s_expiry(expiration: float, expires_at: float | None) -> None:
    """A USER=AWS token's expiry is read by the rule of every token (Token.plausible)."""
    password = ready({"payload": "x", "expiration": expiration})
    token = ready_token(password)
    if expires_at is None:
        assert token is None
    else:
        assert token is not None
        assert (token.password, token.expires_at, token.fetched_at) == (password, expires_at, None)
        assert type(token.expires_at) is float  # JSON's int kept as a time is
