"""The ecr package's own module and ecr/cache.py, in process: what AWS credential a triple holds, and the
cache file format, as tables."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from beds.values import ECR_HOST, KEY_ID, TEMP_KEY_ID
from docker_credential_codespaces import ecr
from docker_credential_codespaces.ecr import cache
from docker_credential_codespaces.ecr.token import Token

ECR = ecr.registry(ECR_HOST)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AKIAIOSFODNN7EXAMPLE", True),
        ("ASIAIOSFODNN7EXAMPLE", True),
        ("AKIAIOSFODNN7EXAMPLE\n", True),
        (" AKIAIOSFODNN7EXAMPLE\r\n", True),
        ("AKIAIOSFODNN7EXAMPL", False),  # 19
        ("AKIAIOSFODNN7EXAMPLEX", False),  # 21
        ("akiaiosfodnn7example", False),
        ("AKIAIOSFODNN7EXAMPlE", False),
        ("AIDAIOSFODNN7EXAMPLE", False),  # a user id, not a key id
        ("AKIA\u0130OSFODNN7EXAMPLE", False),
        ("AKIA-OSFODNN7EXAMPLE", False),
        ("", False),
    ],
)
def test_is_access_key_id(text: str, expected: bool) -> None:
    assert ecr.is_access_key_id(text) is expected


def companions(**values: str) -> Callable[[str], str]:
    """The companion look-up of a triple with these AWS_* companions set."""
    named = {f"_CONTAINER_REGISTRY_AWS_{name}": value for name, value in values.items()}
    return lambda suffix: named.get(suffix, "")


K, T = KEY_ID, TEMP_KEY_ID


@pytest.mark.parametrize(
    ("user", "password", "extra", "expected"),
    [
        (K, "s", {}, (ecr.ACCESS_KEY, K, "s", "", "", "", "", "")),
        (f" {K}\n", " s\r\n", {}, (ecr.ACCESS_KEY, K, "s", "", "", "", "", "")),
        # a ready token is no part of a cache key: it is never exchanged, so never cached
        ("AWS", "tok", {}, (ecr.TOKEN, "", "", "", "", "", "", "")),
        ("AWS\n", "tok\n", {"ROLE_ARN": "r"}, (ecr.TOKEN, "", "", "", "", "", "", "")),
        ("someone", "pw", {}, (ecr.ACCESS_KEY, "someone", "pw", "", "", "", "", "")),
        (T, "s", {"SESSION_TOKEN": " st\n"}, (ecr.TEMPORARY_KEY, T, "s", "st", "", "", "", "")),
        (T, "s", {}, (ecr.TEMPORARY_KEY, T, "s", "", "", "", "", "")),  # lacks its token
        (K, "s", {"SESSION_TOKEN": "st"}, (ecr.TEMPORARY_KEY, K, "s", "st", "", "", "", "")),
        (
            K,
            "s",
            {"ROLE_ARN": "arn:r ", "EXTERNAL_ID": "x"},
            (ecr.ROLE, K, "s", "", "arn:r", "x", "docker-credential-codespaces", ""),
        ),
        (
            T,
            "s",
            {"ROLE_ARN": "arn:r", "SESSION_TOKEN": "st", "ROLE_SESSION_NAME": "ci"},
            (ecr.ROLE, T, "s", "st", "arn:r", "", "ci", ""),
        ),
        ("", "", {"PROFILE": " dev\n"}, (ecr.PROFILE, "", "", "", "", "", "", "dev")),
    ],
)
def test_identity_of_an_ecr_triple(
    user: str, password: str, extra: dict[str, str], expected: tuple[str, ...]
) -> None:
    found = ecr.identity("ECR", user, password, ECR, companions(**extra))
    assert found is not None
    assert found.parts() == expected
    assert found.token == ("tok" if expected[0] == ecr.TOKEN else "")
    assert repr(found) == f"AwsIdentity(kind={expected[0]!r})"  # hides the values
    assert found.lacks_session_token() is (
        found.key_id.startswith("ASIA") and not found.session_token
    )


def test_no_identity_and_misplaced_keys_outside_ecr() -> None:
    assert ecr.identity("ECR", K, "s", None, companions(PROFILE="dev")) is None
    assert ecr.misplaced_key(K + "\n", None) is True
    assert ecr.misplaced_key(K, ECR) is False
    assert ecr.misplaced_key("user", None) is False


def test_cache_round_trip() -> None:
    token = Token("CANARY-pw", 1_800_003_600.0, 1_800_000_000.0)
    back = cache.decode(cache.encode(token))
    assert back is not None
    assert (back.password, back.expires_at, back.fetched_at) == (
        token.password,
        token.expires_at,
        token.fetched_at,
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"dcc-ecr-token-v1\n1.0\n2.0\npw\n",  # fetched after it expires
        b"dcc-ecr-token-v1\nnan\n2.0\npw\n",
        b"dcc-ecr-token-v1\ninf\n1800000000.0\npw\n",  # never expires: no token AWS gave
        b"dcc-ecr-token-v1\n1e300\n1800000000.0\npw\n",
        b"dcc-ecr-token-v1\n2115000000.0\n1800000000.0\npw\n",  # ten years of life
        b"dcc-ecr-token-v1\n1800003600.0\n-inf\npw\n",
        b"dcc-ecr-token-v1\ninf\ninf\npw\n",
        b"dcc-ecr-token-v1\n3.0\nnan\npw\n",
        b"dcc-ecr-token-v0\n3.0\n2.0\npw\n",
        b"dcc-ecr-token-v1\n3.0\n2.0\n\n",
        b"dcc-ecr-token-v1\n3.0\n2.0\npw\nmore\n",
        b"dcc-ecr-token-v1\n3.0\n2.0\npw",
        b"\xff\xfe",
    ],
)
def test_cache_file_that_is_not_ours_is_rebuilt(data: bytes) -> None:
    assert cache.decode(data) is None


def test_cache_key_follows_every_part_of_the_identity() -> None:
    assert ECR is not None
    base = ecr.AwsIdentity(ecr.ACCESS_KEY, "AKIAIOSFODNN7EXAMPLE", "s", prefix="ECR")
    rotated = ecr.AwsIdentity(ecr.ACCESS_KEY, "AKIAIOSFODNN7EXAMPLE", "t", prefix="ECR")
    other = ecr.registry("123456789012.dkr.ecr.eu-west-2.amazonaws.com")
    assert other is not None
    keys = {
        cache.cache_key(base, ECR),
        cache.cache_key(rotated, ECR),
        cache.cache_key(base, other),
    }
    assert len(keys) == 3
    assert all(len(key) == 40 and set(key) <= set("0123456789abcdef") for key in keys)


def test_the_prefix_names_the_variables_and_is_no_part_of_the_key() -> None:
    """Renaming a secret costs no token: the prefix only names variables in messages."""
    assert ECR is not None
    one = ecr.identity("ONE", K, "s", ECR, companions())
    two = ecr.identity("TWO", K, "s", ECR, companions())
    assert one is not None and two is not None
    assert one.variable("_CONTAINER_REGISTRY_USER") == "ONE_CONTAINER_REGISTRY_USER"
    assert one.parts() == two.parts()
    assert cache.cache_key(one, ECR) == cache.cache_key(two, ECR)


@pytest.mark.parametrize(
    ("user", "password", "extra", "kind"),
    [
        (K, "s", {}, ecr.ACCESS_KEY),
        (T, "s", {"SESSION_TOKEN": "st"}, ecr.TEMPORARY_KEY),
        (K, "s", {"ROLE_ARN": "arn:r"}, ecr.ROLE),
        ("", "", {"PROFILE": "dev"}, ecr.PROFILE),
        ("AWS", "tok", {}, ecr.TOKEN),
    ],
)
def test_every_kind_of_identity_names_its_triple_s_variables(
    user: str, password: str, extra: dict[str, str], kind: str
) -> None:
    found = ecr.identity("TWO", user, password, ECR, companions(**extra))
    assert found is not None and found.kind == kind
    assert found.variable("_CONTAINER_REGISTRY_SERVER") == "TWO_CONTAINER_REGISTRY_SERVER"


@pytest.mark.parametrize(
    ("user", "password", "expected"),
    [
        # Only a triple with neither USER nor PASSWORD is a profile's: one of the two alone,
        # empty once trimmed, leaves a key (or token) that AWS will refuse.
        (" \n", "s", (ecr.ACCESS_KEY, "", "s", "", "", "", "", "")),
        (K, "\r\n", (ecr.ACCESS_KEY, K, "", "", "", "", "", "")),
        ("AWS", " ", (ecr.TOKEN, "", "", "", "", "", "", "")),
    ],
)
def test_one_part_of_white_space_is_no_profile(
    user: str, password: str, expected: tuple[str, ...]
) -> None:
    found = ecr.identity("ECR", user, password, ECR, companions())
    assert found is not None and found.parts() == expected
