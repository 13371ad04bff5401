"""config.json's codec, in process: inline logins out of `auths` and back, masking, and the
credHelpers keys containers/image needs."""

from __future__ import annotations

import base64

import pytest

from docker_credential_codespaces import dockerconfig


def auth(pair: str) -> str:
    return base64.b64encode(pair.encode()).decode()


@pytest.mark.parametrize(
    ("entry", "login"),
    [
        ({"auth": auth("u:p")}, {"Username": "u", "Secret": "p"}),
        ({"auth": auth("u:p:with:colons")}, {"Username": "u", "Secret": "p:with:colons"}),
        ({"identitytoken": "tok"}, {"Username": "<token>", "Secret": "tok"}),
        ({"identitytoken": "tok", "auth": auth("u:p")}, {"Username": "<token>", "Secret": "tok"}),
        ({"auth": auth("no-colon")}, None),
        ({"auth": auth(":p")}, None),
        ({"auth": "not base64!"}, None),
        ({"auth": 7}, None),
        ({}, None),
    ],
)
def test_inline_logins(entry: dict[str, object], login: dict[str, str] | None) -> None:
    found = dockerconfig.inline_logins({"auths": {"https://r.example/v2/": entry}})
    assert found == ({"r.example": login} if login is not None else {})


@pytest.mark.parametrize(
    "login",
    [{"Username": "u", "Secret": "p:q"}, {"Username": "<token>", "Secret": "id-token"}],
)
def test_inline_entry_reads_back_as_the_same_login(login: dict[str, str]) -> None:
    config = {"auths": {"r.example": dockerconfig.inline_entry(login)}}
    assert dockerconfig.inline_logins(config) == {"r.example": login}


def test_masked_hides_every_secret_field_and_leaves_the_original() -> None:
    config = {"auths": {"r": {"auth": "CANARY", "identitytoken": "CANARY", "email": "e"}}}
    masked = dockerconfig.masked(config)
    assert "CANARY" not in repr(masked) and masked["auths"]["r"]["email"] == "e"
    assert config["auths"]["r"]["auth"] == "CANARY"


def test_helper_keys() -> None:
    keys = ["https://index.docker.io/v1/", "ghcr.io", "https://index.docker.io/v1/access-token"]
    assert dockerconfig.helper_keys([*keys, "ghcr.io"]) == [
        "https://index.docker.io/v1/",
        "docker.io",
        "ghcr.io",
    ]
