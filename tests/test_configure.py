"""configure: wires config.json for docker and containers/image, keeping every key and login."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

from beds.client import run_helper
from beds.environment import add_secret

FAKE_STORE = Path(__file__).parent / "fake_credential_store.py"


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


def test_configure_dry_run_prints_a_masked_diff_and_changes_nothing(env: dict[str, str]) -> None:
    path = write_config(env, REAL_WORLD)
    before = path.read_bytes()
    add_secret(env, "GH", "ghcr.io", "octo", "pw")
    result = run_helper(env, "configure", "--dry-run")
    assert result.returncode == 0
    out = result.stdout.decode()
    assert out.startswith(f"--- {path}\n+++ {path} (new)\n")
    assert '+\t"credsStore": "codespaces",' in out or '+\t"credsStore": "codespaces"\n' in out
    assert '+\t\t"ghcr.io": "codespaces"' in out
    assert "would copy the login for old.example.com into the local store" in out
    for secret in ("hubpw", "oldpw", "CANARY", "idtok-1", auth("olduser", "oldpw")):
        assert secret not in out
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


def test_registries_only_writes_cred_helpers(env: dict[str, str]) -> None:
    path = write_config(env, {"auths": {"old.example.com": {"auth": auth("u", "p")}}})
    add_secret(env, "HUB", "https://index.docker.io/v1/", "u", "p")
    add_secret(env, "GH", "ghcr.io/octo", "u", "p")
    assert run_helper(env, "configure", "--registries").returncode == 0
    config = json.loads(path.read_text())
    assert "credsStore" not in config
    assert config["credHelpers"] == {
        "https://index.docker.io/v1/": "codespaces",
        "docker.io": "codespaces",
        "ghcr.io": "codespaces",
    }
    assert config["auths"] == {"old.example.com": {"auth": auth("u", "p")}}


# Real-world config.json files: Docker Desktop, pass on Linux, gcloud, a fresh Codespace,
# an empty file, one with plugins and proxies.
ROUND_TRIP = {
    "desktop": {
        "auths": {"https://index.docker.io/v1/": {}, "ghcr.io": {}},
        "credsStore": "desktop",
        "currentContext": "desktop-linux",
        "plugins": {"-x-cli-hints": {"enabled": "true"}},
    },
    "pass": {"credsStore": "pass", "auths": {"registry.gitlab.com": {}}},
    "gcloud": {
        "credHelpers": {
            "gcr.io": "gcloud",
            "us-docker.pkg.dev": "gcloud",
            "europe-west1-docker.pkg.dev": "gcloud",
        }
    },
    "codespace": {
        "auths": {
            "ghcr.io": {"auth": auth("octo", "ghp_x")},
            "myco.azurecr.io": {"auth": auth("robot", "acr")},
        }
    },
    "empty": {},
    "mixed": {
        "auths": {"localhost:5000": {"auth": auth("dev", "dev")}},
        "credHelpers": {"123456789012.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"},
        "proxies": {"default": {"httpsProxy": "http://proxy:3128", "noProxy": "localhost"}},
        "experimental": "enabled",
        "detachKeys": "ctrl-e,e",
    },
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_configure_then_unconfigure_restores_the_meaning(
    env: dict[str, str], name: str, fake_stores: Path
) -> None:
    original = ROUND_TRIP[name]
    path = write_config(env, original)
    add_secret(env, "ACR", "myco.azurecr.io", "robot", "acr")
    add_secret(env, "ECR", "123456789012.dkr.ecr.us-east-1.amazonaws.com", "AKIA", "CANARY")
    configured = run_helper(env, "configure")
    assert configured.returncode == 0, configured.stderr
    config = json.loads(path.read_text())
    assert config["credsStore"] == "codespaces"
    undone = run_helper(env, "unconfigure")
    assert undone.returncode == 0, undone.stderr
    assert json.loads(path.read_text()) == original
    again = run_helper(env, "unconfigure")
    assert again.returncode == 0 and json.loads(path.read_text()) == original


def test_unconfigure_keeps_logins_made_meanwhile(env: dict[str, str]) -> None:
    path = write_config(env, {"auths": {"old.example.com": {"auth": auth("u", "p")}}})
    assert run_helper(env, "configure").returncode == 0
    body = json.dumps({"ServerURL": "new.example.com", "Username": "n", "Secret": "np"}).encode()
    assert run_helper(env, "store", stdin=body).returncode == 0
    assert run_helper(env, "unconfigure").returncode == 0
    assert json.loads(path.read_text()) == {
        "auths": {
            "old.example.com": {"auth": auth("u", "p")},
            "new.example.com": {"auth": auth("n", "np")},
        }
    }


@pytest.fixture
def fake_stores(env: dict[str, str], tmp_path: Path) -> Path:
    """docker-credential-desktop and -pass stand-ins on PATH, with one login each."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    for name in ("desktop", "pass"):
        script = bin_dir / f"docker-credential-{name}"
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_STORE}" "$@"\n')
        script.chmod(0o755)
    data = tmp_path / "fake-store.json"
    data.write_text(json.dumps({"registry.gitlab.com": {"Username": "gl", "Secret": "glpat"}}))
    env["FAKE_STORE_FILE"] = str(data)
    env["FAKE_STORE_LOG"] = str(tmp_path / "fake-store.log")
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return data


def test_previous_creds_store_becomes_the_fallback(env: dict[str, str], fake_stores: Path) -> None:
    path = write_config(env, ROUND_TRIP["pass"])
    add_secret(env, "GH", "ghcr.io", "octo", "from-secret")
    result = run_helper(env, "configure")
    assert result.returncode == 0
    assert b"docker-credential-pass keeps its logins, as fallback" in result.stdout
    config = json.loads(path.read_text())
    assert config["credsStore"] == "codespaces"
    assert config["credHelpers"]["registry.gitlab.com"] == "codespaces"
    # get: a secret first, then the fallback's logins
    gl = json.loads(run_helper(env, "get", stdin=b"registry.gitlab.com").stdout)
    assert (gl["Username"], gl["Secret"]) == ("gl", "glpat")
    gh = json.loads(run_helper(env, "get", stdin=b"ghcr.io").stdout)
    assert gh["Secret"] == "from-secret"
    assert run_helper(env, "get", stdin=b"nowhere.example").stdout == (
        b"credentials not found in native keychain\n"
    )
    # store, list and erase go to the fallback, not to the helper's own file
    body = json.dumps({"ServerURL": "quay.io", "Username": "q", "Secret": "qs"}).encode()
    assert run_helper(env, "store", stdin=body).returncode == 0
    assert json.loads(fake_stores.read_text())["quay.io"] == {"Username": "q", "Secret": "qs"}
    assert json.loads(run_helper(env, "list", stdin=None).stdout) == {
        "registry.gitlab.com": "gl",
        "quay.io": "q",
        "ghcr.io": "octo",
    }
    for _ in range(2):
        erased = run_helper(env, "erase", stdin=b"quay.io")
        assert (erased.returncode, erased.stdout) == (0, b"")
    assert "quay.io" not in json.loads(fake_stores.read_text())
    assert not (
        Path(env["XDG_DATA_HOME"]) / "docker-credential-codespaces" / "credentials.json"
    ).exists()
    log = Path(env["FAKE_STORE_LOG"]).read_text()
    assert "glpat" not in log and "qs" not in log  # secrets go over stdin, never argv


def test_failing_or_missing_fallback_is_one_clear_line(
    env: dict[str, str], fake_stores: Path
) -> None:
    write_config(env, ROUND_TRIP["pass"])
    assert run_helper(env, "configure").returncode == 0
    env["FAKE_STORE_MODE"] = "fail"
    got = run_helper(env, "get", stdin=b"registry.gitlab.com")
    assert (got.returncode, got.stdout) == (
        1,
        b"the fallback store docker-credential-pass failed to get: the keyring is locked\n",
    )
    listed = run_helper(env, "list", stdin=None)
    assert (listed.returncode, listed.stdout) == (0, b"{}\n")
    assert b"docker-credential-pass failed to list" in listed.stderr
    env["PATH"] = env["PATH"].split(":", 1)[1]
    got = run_helper(env, "get", stdin=b"registry.gitlab.com")
    assert got.returncode == 1
    assert got.stdout.startswith(b"the fallback store docker-credential-pass is not on PATH")


def test_hanging_fallback_is_cut_off(env: dict[str, str], fake_stores: Path) -> None:
    write_config(env, ROUND_TRIP["pass"])
    assert run_helper(env, "configure").returncode == 0
    env["FAKE_STORE_MODE"] = "hang"
    got = run_helper(env, "get", stdin=b"registry.gitlab.com", timeout=40)
    assert got.stdout == b"the fallback store docker-credential-pass did not answer within 10 s\n"


def test_unconfigure_drops_the_fallback(env: dict[str, str], fake_stores: Path) -> None:
    path = write_config(env, ROUND_TRIP["desktop"])
    assert run_helper(env, "configure").returncode == 0
    assert run_helper(env, "unconfigure").returncode == 0
    assert json.loads(path.read_text()) == ROUND_TRIP["desktop"]
    body = json.dumps({"ServerURL": "quay.io", "Username": "q", "Secret": "qs"}).encode()
    assert run_helper(env, "store", stdin=body).returncode == 0
    assert "quay.io" not in json.loads(fake_stores.read_text())


def test_a_triple_that_get_passes_over_covers_nothing_for_configure(env: dict[str, str]) -> None:
    """configure and get agree: a triple with an AWS key for a host that is not ECR answers
    nothing, so the inline login for that host is carried into the store and answers."""
    write_config(env, {"auths": {"myhost.example": {"auth": auth("me", "CANARY-inline")}}})
    add_secret(env, "MY", "myhost.example", "AKIAIOSFODNN7EXAMPLE\n", "CANARY-aws-secret")
    configured = run_helper(env, "configure")
    assert configured.returncode == 0, configured.stderr
    assert b"copied the login for myhost.example" in configured.stdout
    got = run_helper(env, "get", stdin=b"myhost.example")
    assert got.returncode == 0
    assert json.loads(got.stdout)["Secret"] == "CANARY-inline"
    assert b"MY_CONTAINER_REGISTRY_USER holds an AWS access key id" in got.stderr
    assert b"CANARY" not in got.stderr + configured.stdout + configured.stderr
