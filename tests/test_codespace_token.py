"""ghcr.io from the codespace's GITHUB_TOKEN: only in a codespace, never over a secret or login."""

from __future__ import annotations

import json

import pytest

from beds.client import run_helper
from beds.environment import add_secret

NOT_FOUND = b"credentials not found in native keychain\n"


@pytest.fixture
def codespace(env: dict[str, str]) -> dict[str, str]:
    env.update(CODESPACES="true", GITHUB_TOKEN="ghs_CANARYcodespacetoken", GITHUB_USER="octocat")
    return env


def answer(env: dict[str, str], server: str = "ghcr.io") -> tuple[str, str] | None:
    result = run_helper(env, "get", stdin=server.encode())
    if result.returncode:
        assert result.stdout == NOT_FOUND
        return None
    body = json.loads(result.stdout)
    return body["Username"], body["Secret"]


def test_codespace_token_answers_ghcr(codespace: dict[str, str]) -> None:
    assert answer(codespace) == ("octocat", "ghs_CANARYcodespacetoken")
    assert answer(codespace, "https://ghcr.io/octo/app") == ("octocat", "ghs_CANARYcodespacetoken")
    assert answer(codespace, "docker.pkg.github.com") is None
    listed = run_helper(codespace, "list", stdin=None)
    assert json.loads(listed.stdout) == {"ghcr.io": "octocat"}
    assert b"CANARY" not in listed.stdout


def test_fixed_user_name_without_github_user(codespace: dict[str, str]) -> None:
    del codespace["GITHUB_USER"]
    assert answer(codespace) == ("codespace", "ghs_CANARYcodespacetoken")


@pytest.mark.parametrize(
    "change",
    [
        {"CODESPACES": "false"},
        {"GITHUB_TOKEN": ""},
        {"DOCKER_CREDENTIAL_CODESPACES_NO_GITHUB_TOKEN": "1"},
    ],
)
def test_only_in_a_codespace_and_not_turned_off(
    codespace: dict[str, str], change: dict[str, str]
) -> None:
    codespace.update(change)
    assert answer(codespace) is None
    assert json.loads(run_helper(codespace, "list", stdin=None).stdout) == {}


def test_a_secret_for_ghcr_wins(codespace: dict[str, str]) -> None:
    add_secret(codespace, "GHCR", "ghcr.io", "me", "ghp_pat")
    assert answer(codespace) == ("me", "ghp_pat")
    assert json.loads(run_helper(codespace, "list", stdin=None).stdout) == {"ghcr.io": "me"}


def test_a_stored_login_for_pushing_wins(codespace: dict[str, str]) -> None:
    body = json.dumps({"ServerURL": "ghcr.io", "Username": "me", "Secret": "ghp_push"}).encode()
    assert run_helper(codespace, "store", stdin=body).returncode == 0
    assert answer(codespace) == ("me", "ghp_push")
    assert run_helper(codespace, "erase", stdin=b"ghcr.io").returncode == 0
    assert answer(codespace) == ("octocat", "ghs_CANARYcodespacetoken")


def test_configure_names_ghcr_for_skopeo(codespace: dict[str, str]) -> None:
    assert run_helper(codespace, "configure").returncode == 0
    from pathlib import Path

    config = json.loads((Path(codespace["DOCKER_CONFIG"]) / "config.json").read_text())
    assert config["credHelpers"] == {"ghcr.io": "codespaces"}
