"""The one rule for whether an ECR token is still good, and when a fetched one is refreshed."""

from __future__ import annotations

import base64
import json

import pytest

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


def ready(payload: object) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


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
