"""doctor's registry-specific hints and the lifecycle cases it names, all without the network.

Each hint is one line naming the variable, never its value: every secret here is a canary.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from beds.client import configured, run_doctor, run_helper
from beds.environment import add_secret
from beds.values import CANARY
from docker_credential_codespaces.doctor import secret_hints
from docker_credential_codespaces.ecr import registry as ecr_registry
from docker_credential_codespaces.secrets import Triple
from docker_credential_codespaces.servers import docker_key

KEY = {
    "type": "service_account",
    "project_id": "p",
    "client_email": "ci@p.iam.gserviceaccount.com",
    "private_key": f"-----BEGIN PRIVATE KEY-----\n{CANARY}\n-----END PRIVATE KEY-----\n",
}
GAR = "europe-west1-docker.pkg.dev"


def quiet_doctor(env: dict[str, str]) -> tuple[int, dict]:
    """doctor's report, said with nothing on stderr; its text names no canary either."""
    result = run_doctor(env, "--json")
    assert result.stderr == b""
    text = run_helper(env, "doctor", stdin=None).stdout
    assert CANARY.encode() not in text
    return result.returncode, json.loads(result.stdout)


def row_of(report: dict, key: str) -> dict:
    return next(row for row in report["registries"] if row["registry"] == key)


def hints(prefix: str, server: str, user: str, password: str) -> tuple[list[str], list[str]]:
    """doctor's hints for one triple, in process: a pure function of it."""
    key = docker_key(server)
    assert key is not None
    triple = Triple(prefix, server, user, password, key, ecr_registry(key), lambda suffix: "")
    return secret_hints(triple)


@pytest.mark.parametrize(
    ("password", "hinted"),
    [
        (CANARY, True),
        (f"dckr_pat_{CANARY}", False),
        (f"dckr_oat_{CANARY}", False),
    ],
)
def test_docker_hub_password_that_is_not_an_access_token(password: str, hinted: bool) -> None:
    problems, notes = hints("HUB", "docker.io", "octo", password)
    hub = [n for n in notes if "2FA or SSO" in n]
    assert len(hub) == int(hinted)
    if hinted:
        assert hub[0].startswith("HUB_CONTAINER_REGISTRY_PASSWORD is not a Docker Hub")
    assert problems == []  # a password may still work: a note, not a problem


def test_doctor_shows_the_hints_in_the_registrys_row(env: dict[str, str]) -> None:
    """The hints are pure functions of a triple; doctor puts them where the user looks."""
    add_secret(env, "HUB", "docker.io", "octo", CANARY)
    add_secret(env, "GAR", GAR, "_json_key", CANARY)
    add_secret(env, "ROBOT", "harbor.example", "robot", CANARY)
    code, report = quiet_doctor(configured(env))
    assert code == 1  # the key that is no key is a problem; the rest are notes
    assert any("2FA or SSO" in n for n in row_of(report, "https://index.docker.io/v1/")["notes"])
    assert "it is not JSON" in row_of(report, GAR)["problems"][0]
    assert "as if cut at the '$'" in row_of(report, "harbor.example")["notes"][0]


@pytest.mark.parametrize(
    ("user", "password", "fault"),
    [
        ("_json_key", json.dumps(KEY), None),
        ("_json_key", json.dumps(KEY, indent=2), None),
        ("_json_key_base64", base64.b64encode(json.dumps(KEY).encode()).decode(), None),
        ("_json_key", CANARY, "it is not JSON"),
        ("_json_key", json.dumps([CANARY]), "it is not a JSON object"),
        ("_json_key", json.dumps({**KEY, "client_email": ""}), "it has no client_email"),
        (
            "_json_key",
            json.dumps({"private_key_id": CANARY}),
            "it has no type, client_email, private_key",
        ),
        ("_json_key_base64", json.dumps(KEY), "it is not base64 of UTF-8 text"),
        ("_json_key_base64", "\u00e9" + CANARY, "it is not base64 of UTF-8 text"),
    ],
)
def test_google_json_key_must_be_a_service_account_key(
    user: str, password: str, fault: str | None
) -> None:
    problems, _ = hints("GAR", GAR, user, password)
    if fault is None:
        assert problems == []
        return
    assert len(problems) == 1
    assert CANARY not in problems[0]
    assert problems[0].startswith(
        f"GAR_CONTAINER_REGISTRY_PASSWORD must be a Google service-account key for user {user}"
    )
    assert f"but {fault};" in problems[0]
    assert "a multi-line key works through the secrets file" in problems[0]


def write_secrets_file(env: dict[str, str], path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(path)


def line(name: str, value: str) -> bytes:
    return f"{name}=".encode() + base64.b64encode(value.encode())


def test_a_multi_line_key_works_through_the_secrets_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    """As Codespaces writes it: the whole key file, newlines and all, base64 on one line."""
    key = json.dumps(KEY, indent=2)
    write_secrets_file(
        env,
        tmp_path / ".env-secrets",
        [
            line("GAR_CONTAINER_REGISTRY_SERVER", GAR),
            line("GAR_CONTAINER_REGISTRY_USER", "_json_key"),
            line("GAR_CONTAINER_REGISTRY_PASSWORD", key),
        ],
    )
    answer = json.loads(run_helper(env, "get", stdin=GAR.encode()).stdout)
    assert (answer["Username"], answer["Secret"]) == ("_json_key", key)
    code, report = quiet_doctor(configured(env))
    assert (code, row_of(report, GAR)["problems"]) == (0, [])


@pytest.mark.parametrize(
    ("user", "words"),
    [
        ("robot", "is just 'robot', as if cut at the '$'"),
        ("robot$", "is just 'robot$', as if cut at the '$'"),
        ("myorg+", "ends in '+', as if cut after it"),
        ("robot\\$ci", "holds a backslash"),
        ("'robot$ci'", "holds quotes at its ends"),
        ('"myorg+ci"', "holds quotes at its ends"),
        ("myorg ci", "holds white space"),
        ("robot$ci ", "holds white space"),
        ("robot%24ci", "holds percent-encoding"),
        ("myorg%2Bci", "holds percent-encoding"),
        ("robot$ci", None),
        ("robot$project+ci", None),
        ("myorg+ci", None),
        ("octocat", None),
    ],
)
def test_robot_names_cut_or_mangled_by_a_shell(user: str, words: str | None) -> None:
    problems, notes = hints("ROBOT", "harbor.example", user, CANARY)
    assert problems == []
    notes = [n for n in notes if "robot" in n]
    if words is None:
        assert notes == []
        return
    assert len(notes) == 1 and notes[0].startswith(f"ROBOT_CONTAINER_REGISTRY_USER {words}")
    assert "single quotes" in notes[0]


def test_undecodable_secrets_file_lines_are_named_never_shown(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A line cut at its '=' padding, as `IFS== read` loaders write it back, is told apart;
    lines with one or two '=' of padding still decode, since the helper splits at the first."""
    cut = line("CUT_CONTAINER_REGISTRY_PASSWORD", CANARY).rstrip(b"=")
    assert len(cut.partition(b"=")[2]) % 4  # the value had padding to lose
    write_secrets_file(
        env,
        tmp_path / ".env-secrets",
        [
            line("CUT_CONTAINER_REGISTRY_SERVER", "cut.example"),
            line("CUT_CONTAINER_REGISTRY_USER", "u"),
            cut,
            b"BAD_CONTAINER_REGISTRY_PASSWORD=" + CANARY.encode(),
            line("PAD_CONTAINER_REGISTRY_SERVER", "pad.example"),
            line("PAD_CONTAINER_REGISTRY_USER", "ab"),  # YWI=
            line("PAD_CONTAINER_REGISTRY_PASSWORD", CANARY + "yy"),  # ...==
        ],
    )
    answer = json.loads(run_helper(env, "get", stdin=b"pad.example").stdout)
    assert (answer["Username"], answer["Secret"]) == ("ab", CANARY + "yy")
    code, report = quiet_doctor(configured(env))
    path = tmp_path / ".env-secrets"
    named = [p for p in report["problems"] if "in the secrets file" in p]
    assert named == [
        f"CUT_CONTAINER_REGISTRY_PASSWORD in the secrets file {path} is base64 with its "
        "trailing '=' padding cut off, so it is ignored (shell loaders that split lines on "
        "every '=' do this; split on the first only)",
        f"BAD_CONTAINER_REGISTRY_PASSWORD in the secrets file {path} is not base64 of UTF-8 "
        "text, so it is ignored",
    ]
    assert code == 1


def test_docker_config_without_config_json_is_named(env: dict[str, str]) -> None:
    """podman and buildah stat $DOCKER_CONFIG/config.json before they ask any helper."""
    add_secret(env, "GH", "ghcr.io", "u", CANARY)
    _, report = quiet_doctor(env)
    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    assert (
        f"DOCKER_CONFIG is set, but {config.parent} holds no config.json: podman and buildah "
        f"then fail (stat {config}: no such file or directory) before they ask any credential "
        "helper; run `docker-credential-codespaces configure`, which creates it"
    ) in report["problems"]
    code, report = quiet_doctor(configured(env))
    assert (code, report["problems"]) == (0, [])
    unset = {k: v for k, v in env.items() if k != "DOCKER_CONFIG"}
    (Path(env["HOME"]) / ".docker").mkdir(exist_ok=True)
    config.unlink()
    _, report = quiet_doctor(unset)  # ~/.docker without the file: podman goes on, nothing to say
    assert not any("holds no config.json" in p for p in report["problems"])


STORE_ID = "3f9a1c0d-27b4-4e60-9d8e-5a1b2c3d4e5f"


def test_vs_code_dev_containers_store_is_named_in_words(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Before configure: the wiring problem says what the credsStore is; after: the fallback."""
    add_secret(env, "GH", "ghcr.io", "u", CANARY)
    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"credsStore": f"dev-containers-{STORE_ID}"}))
    _, report = quiet_doctor(env)
    (problem,) = row_of(report, "ghcr.io")["problems"]
    assert f"(its credsStore dev-containers-{STORE_ID} is VS Code Dev Containers' forwarder" in (
        problem
    )
    assert "`configure` keeps it as the fallback store" in problem
    # After configure, with the forwarder on PATH (a script that knows no login).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    forwarder = bin_dir / f"docker-credential-dev-containers-{STORE_ID}"
    forwarder.write_text('#!/bin/sh\n[ "$1" = list ] && echo "{}" && exit 0\nexit 1\n')
    forwarder.chmod(0o755)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    code, report = quiet_doctor(configured(env))
    assert report["notes"] == [
        f"logins are kept by the fallback store docker-credential-dev-containers-{STORE_ID}: "
        "VS Code Dev Containers' forwarder to the credentials of the host VS Code runs on; it "
        "answers only while VS Code is attached to this container"
    ]
    assert code == 0
    assert "Notes:\n  - logins are kept by the fallback store" in (
        run_helper(env, "doctor", stdin=None).stdout.decode()
    )
