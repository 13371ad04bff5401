"""configure: wires config.json for docker and containers/image, keeping every key and login."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from support import add_secret, run_helper


def auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


REAL_WORLD = {
    "auths": {
        "https://index.docker.io/v1/": {"auth": auth("hubuser", "hubpw")},
        "old.example.com": {"auth": auth("olduser", "oldpw")},
        "ghcr.io": {"auth": auth("stale", "CANARY-stale-ghcr")},
        "tok.example.com": {"identitytoken": "idtok-1"},
        "empty.example.com": {},
    },
    "credHelpers": {"gcr.io": "gcloud", "myco.azurecr.io": "acr-env"},
    "proxies": {"default": {"httpProxy": "http://proxy.internal:3128"}},
    "psFormat": "table {{.ID}}",
    "currentContext": "default",
    "x-unknown-key": {"nested": [1, 2, 3]},
}


def config_file(env: dict[str, str]) -> Path:
    return Path(env["DOCKER_CONFIG"]) / "config.json"


def write_config(env: dict[str, str], config: object) -> Path:
    path = config_file(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return path


def test_configure_keeps_every_key_and_moves_inline_logins(env: dict[str, str]) -> None:
    path = write_config(env, REAL_WORLD)
    add_secret(env, "GH", "ghcr.io", "octo", "secret-pw")
    add_secret(env, "ACR", "myco.azurecr.io", "robot", "acr-pw")
    result = run_helper(env, "configure")
    assert result.returncode == 0, result.stderr
    config = json.loads(path.read_text())
    for key in ("proxies", "psFormat", "currentContext", "x-unknown-key", "auths"):
        assert config[key] == REAL_WORLD[key]
    assert config["credsStore"] == "codespaces"
    assert config["credHelpers"] == {
        "gcr.io": "gcloud",
        "myco.azurecr.io": "acr-env",  # the user's choice stands
        "ghcr.io": "codespaces",
        # the moved logins, for skopeo and podman, which never read credsStore
        "https://index.docker.io/v1/": "codespaces",
        "docker.io": "codespaces",
        "old.example.com": "codespaces",
        "tok.example.com": "codespaces",
    }
    assert b"myco.azurecr.io to docker-credential-acr-env; left as it is" in result.stdout
    assert json.loads(Path(str(path) + ".bak").read_text()) == REAL_WORLD
    # Every login the user had still answers, now through the helper.
    for server, user, secret in (
        ("https://index.docker.io/v1/", "hubuser", "hubpw"),
        ("old.example.com", "olduser", "oldpw"),
        ("tok.example.com", "<token>", "idtok-1"),
        ("ghcr.io", "octo", "secret-pw"),  # the secret wins over the stale inline login
    ):
        answer = json.loads(run_helper(env, "get", stdin=server.encode()).stdout)
        assert (answer["Username"], answer["Secret"]) == (user, secret), server
    store = Path(env["XDG_DATA_HOME"]) / "docker-credential-codespaces" / "credentials.json"
    assert b"CANARY" not in store.read_bytes()


def test_configure_twice_changes_nothing(env: dict[str, str]) -> None:
    path = write_config(env, REAL_WORLD)
    add_secret(env, "GH", "ghcr.io", "octo", "pw")
    assert run_helper(env, "configure").returncode == 0
    first = path.read_bytes()
    backup = Path(str(path) + ".bak").read_bytes()
    second = run_helper(env, "configure")
    assert second.returncode == 0
    assert b"nothing to change" in second.stdout
    assert path.read_bytes() == first
    assert Path(str(path) + ".bak").read_bytes() == backup


def test_configure_creates_missing_config(env: dict[str, str]) -> None:
    add_secret(env, "HUB", "docker.io", "u", "p")
    assert run_helper(env, "configure").returncode == 0
    assert json.loads(config_file(env).read_text()) == {
        "credsStore": "codespaces",
        "credHelpers": {"https://index.docker.io/v1/": "codespaces", "docker.io": "codespaces"},
    }


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_configure_refuses_a_broken_config(env: dict[str, str], content: bytes) -> None:
    path = config_file(env)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    result = run_helper(env, "configure")
    assert result.returncode == 1
    assert result.stderr.count(b"\n") == 1 and str(path).encode() in result.stderr
    assert path.read_bytes() == content


def test_configure_dry_run_changes_nothing(env: dict[str, str]) -> None:
    path = write_config(env, REAL_WORLD)
    before = path.read_bytes()
    result = run_helper(env, "configure", "--dry-run")
    assert result.returncode == 0 and b"would set credsStore: codespaces" in result.stdout
    assert path.read_bytes() == before
    assert not Path(env["XDG_DATA_HOME"], "docker-credential-codespaces").exists()


def test_configure_follows_a_symlinked_config(env: dict[str, str], tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "config.json"
    real.parent.mkdir()
    real.write_text(json.dumps({"psFormat": "x"}))
    link = config_file(env)
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    assert run_helper(env, "configure").returncode == 0
    assert link.is_symlink()
    assert json.loads(real.read_text())["credsStore"] == "codespaces"
