"""ghcr.io from the codespace's GITHUB_TOKEN: only in a codespace, never over a secret or login."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beds.client import answer, run_helper
from beds.environment import add_secret, write_secrets_file
from beds.values import store_body


@pytest.fixture
def codespace(env: dict[str, str]) -> dict[str, str]:
    env.update(CODESPACES="true", GITHUB_TOKEN="ghs_CANARYcodespacetoken", GITHUB_USER="octocat")
    return env


def test_codespace_token_answers_ghcr(codespace: dict[str, str]) -> None:
    assert answer(codespace, "ghcr.io") == ("octocat", "ghs_CANARYcodespacetoken")
    assert answer(codespace, "https://ghcr.io/octo/app") == ("octocat", "ghs_CANARYcodespacetoken")
    assert answer(codespace, "docker.pkg.github.com") is None
    listed = run_helper(codespace, "list", stdin=None)
    assert json.loads(listed.stdout) == {"ghcr.io": "octocat"}
    assert b"CANARY" not in listed.stdout


def test_fixed_user_name_without_github_user(codespace: dict[str, str]) -> None:
    del codespace["GITHUB_USER"]
    assert answer(codespace, "ghcr.io") == ("codespace", "ghs_CANARYcodespacetoken")


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
    assert answer(codespace, "ghcr.io") is None
    assert json.loads(run_helper(codespace, "list", stdin=None).stdout) == {}


def test_a_secret_for_ghcr_wins(codespace: dict[str, str]) -> None:
    add_secret(codespace, "GHCR", "ghcr.io", "me", "ghp_pat")
    assert answer(codespace, "ghcr.io") == ("me", "ghp_pat")
    assert json.loads(run_helper(codespace, "list", stdin=None).stdout) == {"ghcr.io": "me"}


def test_a_stored_login_for_pushing_wins(codespace: dict[str, str]) -> None:
    body = store_body("ghcr.io", "me", "ghp_push")
    assert run_helper(codespace, "store", stdin=body).returncode == 0
    assert answer(codespace, "ghcr.io") == ("me", "ghp_push")
    assert run_helper(codespace, "erase", stdin=b"ghcr.io").returncode == 0
    assert answer(codespace, "ghcr.io") == ("octocat", "ghs_CANARYcodespacetoken")


def test_configure_names_ghcr_for_skopeo(codespace: dict[str, str]) -> None:
    assert run_helper(codespace, "configure").returncode == 0
    config = json.loads((Path(codespace["DOCKER_CONFIG"]) / "config.json").read_text())
    assert config["credHelpers"] == {"ghcr.io": "codespaces"}


# --- the live token: Codespaces renews GITHUB_TOKEN in the secrets file ---------------------


@pytest.fixture
def secrets_file(codespace: dict[str, str], tmp_path: Path) -> Path:
    path = tmp_path / "env-secrets"
    codespace["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(path)
    return path


def test_the_secrets_files_token_wins_over_a_stale_copy_in_the_environment(
    codespace: dict[str, str], secrets_file: Path
) -> None:
    """A shell opened hours ago holds the token of then; the file holds today's."""
    write_secrets_file(secrets_file, {"GITHUB_TOKEN": "ghs_CANARYrenewed1"})
    assert answer(codespace, "ghcr.io") == ("octocat", "ghs_CANARYrenewed1")
    write_secrets_file(secrets_file, {"GITHUB_TOKEN": "ghs_CANARYrenewed2"})  # renewed again
    assert answer(codespace, "ghcr.io") == ("octocat", "ghs_CANARYrenewed2")


def test_the_files_token_answers_a_shell_without_one(
    codespace: dict[str, str], secrets_file: Path
) -> None:
    del codespace["GITHUB_TOKEN"]
    write_secrets_file(secrets_file, {"GITHUB_TOKEN": "ghs_CANARYfromfile"})
    assert answer(codespace, "ghcr.io") == ("octocat", "ghs_CANARYfromfile")
    listed = run_helper(codespace, "list", stdin=None)
    assert json.loads(listed.stdout) == {"ghcr.io": "octocat"}
    assert b"CANARY" not in listed.stdout + listed.stderr


@pytest.mark.parametrize("content", [b"", b"GITHUB_TOKEN=\n", b"GITHUB_TOKEN=not*base64\n"])
def test_the_environments_token_serves_when_the_file_has_none(
    codespace: dict[str, str], secrets_file: Path, content: bytes
) -> None:
    secrets_file.write_bytes(content)
    result = run_helper(codespace, "get", stdin=b"ghcr.io")
    assert json.loads(result.stdout)["Secret"] == "ghs_CANARYcodespacetoken"
    assert b"CANARY" not in result.stderr


def test_registry_triples_keep_the_environment_over_the_file(
    codespace: dict[str, str], secrets_file: Path
) -> None:
    """The opposite rule for triples: a user who sets one in a shell means it."""
    write_secrets_file(
        secrets_file,
        {
            "GITHUB_TOKEN": "ghs_CANARYrenewed",
            "GHCR_CONTAINER_REGISTRY_SERVER": "ghcr.io",
            "GHCR_CONTAINER_REGISTRY_USER": "from-file",
            "GHCR_CONTAINER_REGISTRY_PASSWORD": "ghp_CANARYfile",
        },
    )
    add_secret(codespace, "GHCR", "ghcr.io", "from-env", "ghp_CANARYenv")
    assert answer(codespace, "ghcr.io") == ("from-env", "ghp_CANARYenv")


def test_outside_a_codespace_the_files_token_is_never_used(
    codespace: dict[str, str], secrets_file: Path
) -> None:
    codespace["CODESPACES"] = "false"
    write_secrets_file(secrets_file, {"GITHUB_TOKEN": "ghs_CANARYfromfile"})
    assert answer(codespace, "ghcr.io") is None
