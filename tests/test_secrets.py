"""Secrets from the environment laid over the Codespaces secrets file, read at each request."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from beds.client import run_helper
from beds.environment import add_secret
from docker_credential_codespaces.servers import docker_key
from docker_credential_codespaces.sources.secrets import scan


def write_secrets_file(path: Path, values: dict[str, str], extra: bytes = b"") -> None:
    lines = [
        f"{name}={base64.b64encode(value.encode()).decode()}" for name, value in values.items()
    ]
    path.write_bytes("\n".join(lines).encode() + b"\n" + extra)


def get(env: dict[str, str], server: str) -> dict[str, str] | None:
    result = run_helper(env, "get", stdin=server.encode())
    return json.loads(result.stdout) if result.returncode == 0 else None


def test_secrets_file_serves_shells_without_the_variables(
    env: dict[str, str], tmp_path: Path
) -> None:
    secrets = tmp_path / "env-secrets"
    write_secrets_file(
        secrets,
        {
            "ACR_CONTAINER_REGISTRY_SERVER": "myco.azurecr.io",
            "ACR_CONTAINER_REGISTRY_USER": "robot",
            "ACR_CONTAINER_REGISTRY_PASSWORD": "pässwörd=with=equals\n",
            "OTHER_SECRET": "not a registry",
        },
        extra=b"garbage line without equals\nBAD_CONTAINER_REGISTRY_SERVER=!!notbase64!!\n\xff\xfe=x\n",
    )
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets)
    answer = get(env, "myco.azurecr.io")
    assert answer is not None
    assert (answer["Username"], answer["Secret"]) == ("robot", "pässwörd=with=equals\n")


def test_environment_overrides_the_file(env: dict[str, str], tmp_path: Path) -> None:
    secrets = tmp_path / "env-secrets"
    write_secrets_file(
        secrets,
        {
            "ACR_CONTAINER_REGISTRY_SERVER": "myco.azurecr.io",
            "ACR_CONTAINER_REGISTRY_USER": "old-user",
            "ACR_CONTAINER_REGISTRY_PASSWORD": "old",
        },
    )
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets)
    env["ACR_CONTAINER_REGISTRY_PASSWORD"] = "new"
    answer = get(env, "myco.azurecr.io")
    assert answer is not None and (answer["Username"], answer["Secret"]) == ("old-user", "new")


def test_rotated_file_applies_at_once(env: dict[str, str], tmp_path: Path) -> None:
    secrets = tmp_path / "env-secrets"
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets)
    triple = {
        "X_CONTAINER_REGISTRY_SERVER": "r.example",
        "X_CONTAINER_REGISTRY_USER": "u",
        "X_CONTAINER_REGISTRY_PASSWORD": "one",
    }
    write_secrets_file(secrets, triple)
    assert get(env, "r.example") == {"ServerURL": "r.example", "Username": "u", "Secret": "one"}
    write_secrets_file(secrets, {**triple, "X_CONTAINER_REGISTRY_PASSWORD": "two"})
    assert get(env, "r.example") == {"ServerURL": "r.example", "Username": "u", "Secret": "two"}


def test_unreadable_or_odd_secrets_file_is_not_fatal(env: dict[str, str], tmp_path: Path) -> None:
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(tmp_path)  # a directory
    add_secret(env, "GH", "ghcr.io", "u", "p")
    assert get(env, "ghcr.io") is not None


def test_incomplete_triple_is_ignored_and_named_under_debug(env: dict[str, str]) -> None:
    env["ACR_CONTAINER_REGISTRY_SERVER"] = "myco.azurecr.io"
    env["ACR_CONTAINER_REGISTRY_USER"] = "CANARY-user-value"
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    result = run_helper(env, "get", stdin=b"myco.azurecr.io")
    assert result.stdout == b"credentials not found in native keychain\n"
    assert b"ACR_CONTAINER_REGISTRY_PASSWORD is not set" in result.stderr
    assert b"CANARY" not in result.stderr


def test_two_triples_for_one_registry_first_prefix_wins(env: dict[str, str]) -> None:
    add_secret(env, "B", "https://ghcr.io", "b-user", "b")
    add_secret(env, "A", "ghcr.io/", "a-user", "a")
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    result = run_helper(env, "get", stdin=b"ghcr.io")
    assert json.loads(result.stdout)["Username"] == "a-user"
    assert b"A_CONTAINER_REGISTRY_SERVER and B_CONTAINER_REGISTRY_SERVER both name ghcr.io" in (
        result.stderr
    )


def test_unparseable_server_is_skipped(env: dict[str, str]) -> None:
    add_secret(env, "BAD", "user@evil.example", "u", "p")
    add_secret(env, "OK", "ghcr.io", "u", "p")
    assert run_helper(env, "list", stdin=None).stdout == b'{"ghcr.io":"u"}\n'


def test_docker_hub_secret_answers_every_alias(env: dict[str, str]) -> None:
    add_secret(env, "HUB", "docker.io", "hubuser", "hubpw")
    for alias in (
        "https://index.docker.io/v1/",
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "index.docker.io/library/alpine",
    ):
        answer = get(env, alias)
        assert answer is not None and answer["Username"] == "hubuser", alias
    for oauth in (
        "https://index.docker.io/v1/access-token",
        "https://index.docker.io/v1/refresh-token",
    ):
        assert get(env, oauth) is None


def test_environment_server_overrides_a_matching_file_server(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The file says ghcr.io, the environment moved the secret to quay.io: ghcr.io is unknown."""
    secrets = tmp_path / "env-secrets"
    write_secrets_file(
        secrets,
        {
            "X_CONTAINER_REGISTRY_SERVER": "ghcr.io",
            "X_CONTAINER_REGISTRY_USER": "u",
            "X_CONTAINER_REGISTRY_PASSWORD": "p",
        },
    )
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets)
    env["X_CONTAINER_REGISTRY_SERVER"] = "quay.io"
    assert get(env, "ghcr.io") is None
    assert get(env, "quay.io") == {"ServerURL": "quay.io", "Username": "u", "Secret": "p"}


def test_many_triples_find_the_right_one(env: dict[str, str]) -> None:
    for index in range(300):
        add_secret(env, f"R{index:03d}", f"registry-{index}.example.com", f"u{index}", f"p{index}")
    answer = get(env, "registry-42.example.com")
    assert answer is not None and (answer["Username"], answer["Secret"]) == ("u42", "p42")
    assert get(env, "registry-4.example.com") == {
        "ServerURL": "registry-4.example.com",
        "Username": "u4",
        "Secret": "p4",
    }
    assert len(json.loads(run_helper(env, "list", stdin=None).stdout)) == 300


def test_the_bytes_scan_agrees_with_the_text_rules(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `get` scans the environment as bytes; what it finds must be what the text rules find.

    Upper case, non-ASCII letters whose lower case is ASCII (the Kelvin sign), other scripts
    and bytes that are not UTF-8 (surrogate-escaped by os.environ) all decide the same way.
    """
    servers = {
        "UPPER": "REGISTRY.EXAMPLE.COM",
        "KELVIN": "\u212a8s.example.com",
        "IDN": "b\u00fccher.example",
        "MIXED": "https://Registry.Example.com:5000/v2/",
        "BROKEN": "bad\udcffbyte.example",
    }
    for prefix, server in servers.items():
        add_secret(use_env, prefix, server, f"user-{prefix}", f"pw-{prefix}")
    for name, value in use_env.items():
        monkeypatch.setenv(name, value)
    everything = scan().answers
    assert {s.prefix for s in everything.values()} == {"UPPER", "MIXED"}  # hosts must be ASCII
    assert set(everything) == {
        k for k in (docker_key(s) for s in servers.values()) if k is not None
    }
    keys = set(everything) | {"registry.example.com", "k8s.example.com"}
    for key in keys:
        expected = [s.prefix for k, s in everything.items() if k == key]
        assert [s.prefix for s in scan(key).answers.values()] == expected, key


def test_a_file_value_that_does_not_decode_is_named_under_debug(
    env: dict[str, str], tmp_path: Path
) -> None:
    secrets = tmp_path / "env-secrets"
    write_secrets_file(secrets, {"GH_CONTAINER_REGISTRY_SERVER": "ghcr.io"})
    with secrets.open("ab") as stream:
        stream.write(b"GH_CONTAINER_REGISTRY_USER=%%%not-base64\n")
        stream.write(b"GH_CONTAINER_REGISTRY_PASSWORD=" + base64.b64encode(b"\xff\xfe") + b"\n")
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets)
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    result = run_helper(env, "get", stdin=b"ghcr.io")
    assert result.stdout == b"credentials not found in native keychain\n"
    for name in ("GH_CONTAINER_REGISTRY_USER", "GH_CONTAINER_REGISTRY_PASSWORD"):
        line = f"{name} in the secrets file is not base64 of UTF-8 text; ignoring it"
        assert line.encode() in result.stderr
