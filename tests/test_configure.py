"""configure: wires config.json for docker and containers/image, keeping every key and login."""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from beds.client import run_command, run_helper
from beds.environment import add_secret, config_file, write_config
from beds.fake_store import put_on_path
from beds.values import KEY_ID, basic_auth, store_body
from docker_credential_codespaces.constants import FALLBACK_TIMEOUT

# The credsStore VS Code Dev Containers injects: a helper that forwards to the host's store.
DEV_CONTAINERS = "dev-containers-3f9c1e2a-7b44-4d1e-9a55-0c6e2b8d1f00"


REAL_WORLD = {
    "auths": {
        "https://index.docker.io/v1/": {"auth": basic_auth("hubuser", "hubpw")},
        "old.example.com": {"auth": basic_auth("olduser", "oldpw")},
        "ghcr.io": {"auth": basic_auth("stale", "CANARY-stale-ghcr")},
        "tok.example.com": {"identitytoken": "idtok-1"},
        "empty.example.com": {},
    },
    "credHelpers": {"gcr.io": "gcloud", "myco.azurecr.io": "acr-env"},
    "proxies": {"default": {"httpProxy": "http://proxy.internal:3128"}},
    "psFormat": "table {{.ID}}",
    "currentContext": "default",
    "x-unknown-key": {"nested": [1, 2, 3]},
}


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
    for secret in ("hubpw", "oldpw", "CANARY", "idtok-1", basic_auth("olduser", "oldpw")):
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
    path = write_config(env, {"auths": {"old.example.com": {"auth": basic_auth("u", "p")}}})
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
    assert config["auths"] == {"old.example.com": {"auth": basic_auth("u", "p")}}


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
            "ghcr.io": {"auth": basic_auth("octo", "ghp_x")},
            "myco.azurecr.io": {"auth": basic_auth("robot", "acr")},
        }
    },
    "empty": {},
    "mixed": {
        "auths": {"localhost:5000": {"auth": basic_auth("dev", "dev")}},
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
    path = write_config(env, {"auths": {"old.example.com": {"auth": basic_auth("u", "p")}}})
    assert run_helper(env, "configure").returncode == 0
    body = store_body("new.example.com", "n", "np")
    assert run_helper(env, "store", stdin=body).returncode == 0
    assert run_helper(env, "unconfigure").returncode == 0
    assert json.loads(path.read_text()) == {
        "auths": {
            "old.example.com": {"auth": basic_auth("u", "p")},
            "new.example.com": {"auth": basic_auth("n", "np")},
        }
    }


@pytest.fixture
def fake_stores(env: dict[str, str], tmp_path: Path) -> Path:
    """docker-credential-desktop, -pass and -dev-containers-<id> stand-ins on PATH, sharing
    one file that holds one login."""
    data = put_on_path(env, tmp_path, "desktop", "pass", DEV_CONTAINERS)
    data.write_text(json.dumps({"registry.gitlab.com": {"Username": "gl", "Secret": "glpat"}}))
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
    body = store_body("quay.io", "q", "qs")
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


@pytest.mark.slow  # the real-time proof of FALLBACK_TIMEOUT
def test_hanging_fallback_is_cut_off(env: dict[str, str], fake_stores: Path) -> None:
    """A fallback store that never answers: the get fails at FALLBACK_TIMEOUT in one line
    naming it. Every verb, the store's whole process group gone, and its logins kept, with
    a fraction of a second: test_fallback.py."""
    write_config(env, ROUND_TRIP["pass"])
    assert run_helper(env, "configure").returncode == 0
    env["FAKE_STORE_MODE"] = "hang"
    started = time.monotonic()
    got = run_helper(env, "get", stdin=b"registry.gitlab.com", timeout=40)
    elapsed = time.monotonic() - started
    assert (got.returncode, got.stdout) == (
        1,
        b"the fallback store docker-credential-pass did not answer within 10 s\n",
    )
    assert FALLBACK_TIMEOUT <= elapsed < FALLBACK_TIMEOUT + 2, elapsed  # start-up and exit


def test_unconfigure_drops_the_fallback(env: dict[str, str], fake_stores: Path) -> None:
    path = write_config(env, ROUND_TRIP["desktop"])
    assert run_helper(env, "configure").returncode == 0
    assert run_helper(env, "unconfigure").returncode == 0
    assert json.loads(path.read_text()) == ROUND_TRIP["desktop"]
    body = store_body("quay.io", "q", "qs")
    assert run_helper(env, "store", stdin=body).returncode == 0
    assert "quay.io" not in json.loads(fake_stores.read_text())


def test_a_triple_that_get_passes_over_covers_nothing_for_configure(env: dict[str, str]) -> None:
    """configure and get agree: a triple with an AWS key for a host that is not ECR answers
    nothing, so the inline login for that host is carried into the store and answers."""
    write_config(env, {"auths": {"myhost.example": {"auth": basic_auth("me", "CANARY-inline")}}})
    add_secret(env, "MY", "myhost.example", KEY_ID + "\n", "CANARY-aws-secret")
    configured = run_helper(env, "configure")
    assert configured.returncode == 0, configured.stderr
    assert b"copied the login for myhost.example" in configured.stdout
    got = run_helper(env, "get", stdin=b"myhost.example")
    assert got.returncode == 0
    assert json.loads(got.stdout)["Secret"] == "CANARY-inline"
    assert b"MY_CONTAINER_REGISTRY_USER holds an AWS access key id" in got.stderr
    assert b"CANARY" not in got.stderr + configured.stdout + configured.stderr


def get_login(env: dict[str, str], server: str) -> tuple[str, str]:
    """What `get` answers for `server`, as (Username, Secret)."""
    got = run_helper(env, "get", stdin=server.encode())
    assert got.returncode == 0, got.stdout + got.stderr
    answer = json.loads(got.stdout)
    return answer["Username"], answer["Secret"]


def local_store(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "docker-credential-codespaces" / "credentials.json"


# Every spelling of an inline login that docker honours (Go matches field names in any case).
SPELLINGS = {
    "lower.example": ({"auth": basic_auth("u1", "CANARY-s1")}, ("u1", "CANARY-s1")),
    "title.example": ({"Auth": basic_auth("u2", "CANARY-s2")}, ("u2", "CANARY-s2")),
    "upper.example": ({"AUTH": basic_auth("u3", "CANARY-s3")}, ("u3", "CANARY-s3")),
    "fields.example": ({"username": "u4", "password": "CANARY-s4"}, ("u4", "CANARY-s4")),
    "fieldcase.example": ({"Username": "u5", "Password": "CANARY-s5"}, ("u5", "CANARY-s5")),
    "token.example": ({"IdentityToken": "CANARY-s6"}, ("<token>", "CANARY-s6")),
    "tokenup.example": ({"IDENTITYTOKEN": "CANARY-s7"}, ("<token>", "CANARY-s7")),
}


def test_configure_carries_every_spelling_docker_honours(env: dict[str, str]) -> None:
    path = write_config(env, {"auths": {key: entry for key, (entry, _) in SPELLINGS.items()}})
    configured = run_helper(env, "configure")
    assert configured.returncode == 0, configured.stderr
    for server, (_, login) in SPELLINGS.items():
        assert get_login(env, server) == login, server
        assert json.loads(path.read_text())["credHelpers"][server] == "codespaces"
    assert b"CANARY" not in configured.stdout + configured.stderr


def test_configure_carries_a_login_written_beside_our_creds_store(env: dict[str, str]) -> None:
    """Codespaces writes its registries into config.json after creation, next to a
    credsStore that names this helper already: configure carries them on every run."""
    path = write_config(env, {"psFormat": "x"})
    assert run_helper(env, "configure").returncode == 0
    config = json.loads(path.read_text())
    config["auths"] = {
        "late.example.com": {"auth": basic_auth("late", "CANARY-late")},
        "https://index.docker.io/v1/": {"Auth": basic_auth("hub", "CANARY-hub")},
    }
    path.write_text(json.dumps(config))
    assert run_helper(env, "get", stdin=b"late.example.com").returncode == 1  # docker's view
    rerun = run_helper(env, "configure")
    assert rerun.returncode == 0, rerun.stderr
    assert b"copied the login for late.example.com into the local store" in rerun.stdout
    assert get_login(env, "late.example.com") == ("late", "CANARY-late")
    assert get_login(env, "docker.io") == ("hub", "CANARY-hub")
    assert json.loads(path.read_text())["credHelpers"]["late.example.com"] == "codespaces"
    assert json.loads(path.read_text())["auths"] == config["auths"]  # the inline logins stay
    # Idempotent: a third run changes neither config.json nor the store.
    files = (path.read_bytes(), local_store(env).read_bytes())
    third = run_helper(env, "configure")
    assert third.returncode == 0 and third.stdout == f"{path}: nothing to change\n".encode()
    assert (path.read_bytes(), local_store(env).read_bytes()) == files


def test_configure_never_replaces_a_login_made_through_the_helper(env: dict[str, str]) -> None:
    """An inline login next to a stored one is the older: `docker login` through the helper
    blanks the inline entry, and other clients store through the helper alone."""
    path = write_config(env, {})
    assert run_helper(env, "configure").returncode == 0
    body = store_body("r.example", "new", "fresh")
    assert run_helper(env, "store", stdin=body).returncode == 0
    config = json.loads(path.read_text())
    config["auths"] = {"r.example": {"auth": basic_auth("old", "stale")}}
    path.write_text(json.dumps(config))
    assert run_helper(env, "configure").returncode == 0
    assert get_login(env, "r.example") == ("new", "fresh")


def test_a_carry_that_fails_leaves_config_json_as_it_was(env: dict[str, str]) -> None:
    """Setting credsStore makes docker ignore the inline login, so a login that cannot be
    copied stops the run before config.json changes."""
    original = {"auths": {"r.example": {"auth": basic_auth("u", "CANARY-keep")}}}
    path = write_config(env, original)
    shared = Path(env["HOME"]) / "shared-store"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # a store directory other users can write to is refused
    env["DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"] = str(shared)
    result = run_helper(env, "configure")
    assert result.returncode == 1
    assert result.stderr.count(b"\n") == 1
    assert result.stderr.startswith(b"docker-credential-codespaces: cannot copy the login for ")
    assert f"{path} is left as it is".encode() in result.stderr
    assert b"CANARY" not in result.stdout + result.stderr
    assert json.loads(path.read_text()) == original
    assert not Path(str(path) + ".bak").exists()


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (
            {"auth": base64.b64encode(b"u:CANARY-\xff\xfe").decode()},
            b"its `auth` is not UTF-8, which a credential helper's JSON cannot carry",
        ),
        (
            {"username": "u", "password": "CANARY-\ud800"},
            b"it holds an unpaired surrogate escape, which a credential helper's JSON cannot carry",
        ),
    ],
)
def test_a_login_no_helper_can_carry_stays_inline_and_the_run_fails(
    env: dict[str, str], entry: dict[str, str], why: bytes
) -> None:
    """docker keeps a password's bytes that are not UTF-8, which the protocol's JSON cannot
    carry. Such a login was dropped: exit 0, credsStore set, and docker stopped sending it
    (or, for half a surrogate pair, a traceback). As the README promises for a login that
    cannot be copied: exit 1 in one line, and config.json left as it was."""
    original = {"auths": {"odd.example": entry, "r.example": {"auth": basic_auth("u", "CANARY-r")}}}
    path = Path(env["DOCKER_CONFIG"]) / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(original))
    before = path.read_bytes()
    result = run_helper(env, "configure")
    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr == (
        b"docker-credential-codespaces: cannot copy the login for odd.example into the local "
        + b"store: "
        + why
        + f"; {path} is left as it is\n".encode()
    )
    assert path.read_bytes() == before
    assert not Path(str(path) + ".bak").exists() and not local_store(env).exists()
    dry = run_helper(env, "configure", "--dry-run")
    assert b"could not copy the login for odd.example into the local store: " + why in dry.stdout
    # Under a credsStore that docker already reads, the rest is done, and the line is said.
    write_config(env, {**original, "credsStore": "codespaces"})
    rerun = run_helper(env, "configure")
    assert rerun.returncode == 1 and rerun.stderr.count(b"\n") == 1
    assert b"cannot copy the login for odd.example" in rerun.stderr
    assert b"it stays inline in" in rerun.stderr
    assert b"copied the login for r.example into the local store" in rerun.stdout
    assert json.loads(path.read_text())["auths"]["odd.example"] == entry
    assert b"CANARY" not in result.stderr + dry.stdout + dry.stderr + rerun.stdout + rerun.stderr


def test_a_carry_a_fallback_refuses_is_said_and_the_rest_is_wired(
    env: dict[str, str], fake_stores: Path
) -> None:
    """Under an earlier credsStore docker already ignored the inline login, so a forwarding
    store that refuses `store` costs nothing: one line, exit 1, everything else done."""
    path = write_config(
        env,
        {
            "credsStore": DEV_CONTAINERS,
            "auths": {"r.example": {"auth": basic_auth("u", "CANARY-f")}},
        },
    )
    add_secret(env, "GH", "ghcr.io", "octo", "CANARY-gh")
    env["FAKE_STORE_MODE"] = "readonly"
    result = run_helper(env, "configure")
    assert result.returncode == 1
    assert (
        result.stderr
        == (
            "docker-credential-codespaces: cannot copy the login for r.example into the fallback "
            f"store docker-credential-{DEV_CONTAINERS}: the fallback store "
            f"docker-credential-{DEV_CONTAINERS} failed to store: storing credentials is not "
            f"supported; it stays inline in {path}, which docker ignores\n"
        ).encode()
    )
    config = json.loads(path.read_text())
    assert config["credsStore"] == "codespaces"
    assert config["credHelpers"]["ghcr.io"] == "codespaces"
    assert config["auths"]["r.example"] == {"auth": basic_auth("u", "CANARY-f")}
    assert b"CANARY" not in result.stdout + result.stderr


def test_vs_code_dev_containers_store_is_kept_as_the_fallback(
    env: dict[str, str], fake_stores: Path
) -> None:
    path = write_config(
        env,
        {
            "credsStore": DEV_CONTAINERS,
            "auths": {"r.example": {"auth": basic_auth("u", "CANARY-r")}},
        },
    )
    result = run_helper(env, "configure")
    assert result.returncode == 0, result.stderr
    assert f"docker-credential-{DEV_CONTAINERS} keeps its logins, as fallback".encode() in (
        result.stdout
    )
    assert b"copied the login for r.example into the fallback store" in result.stdout
    assert json.loads(path.read_text())["credsStore"] == "codespaces"
    assert get_login(env, "registry.gitlab.com") == ("gl", "glpat")  # the host's login
    assert get_login(env, "r.example") == ("u", "CANARY-r")  # carried into it
    assert not local_store(env).exists()
    assert run_helper(env, "unconfigure").returncode == 0
    assert json.loads(path.read_text())["credsStore"] == DEV_CONTAINERS


def test_a_fallback_answering_empty_counts_as_not_found(
    env: dict[str, str], fake_stores: Path
) -> None:
    """docker-credential-pass 0.6.4 answers every server it does not hold with exit 0 and an
    empty Username and Secret; the codespace token behind it must still answer ghcr.io."""
    write_config(env, ROUND_TRIP["pass"])
    assert run_helper(env, "configure").returncode == 0
    env.update(FAKE_STORE_MODE="empty", CODESPACES="true", GITHUB_TOKEN="CANARY-ghtoken")
    assert get_login(env, "ghcr.io") == ("codespace", "CANARY-ghtoken")
    assert get_login(env, "registry.gitlab.com") == ("gl", "glpat")
    nowhere = run_helper(env, "get", stdin=b"nowhere.example")
    assert (nowhere.returncode, nowhere.stdout) == (
        1,
        b"credentials not found in native keychain\n",
    )


# Each holds a secret that configure leaves alone, so it can only show as a context line of
# the diff: each sits right above the credsStore line that configure changes.
SECRETS_IN_CONTEXT = {
    "Auth": {"auths": {"a.example": {"Auth": basic_auth("u", "CANARY-a")}}},
    "IdentityToken": {"auths": {"b.example": {"IdentityToken": "CANARY-b"}}},
    "Password": {"auths": {"c.example": {"username": "u", "Password": "CANARY-c"}}},
    "HttpHeaders": {"HttpHeaders": {"Authorization": "Bearer CANARY-d"}},
    "proxy userinfo": {
        "proxies": {"default": {"httpsProxy": "http://p:CANARY-e@proxy.internal:3128"}}
    },
}


@pytest.mark.parametrize("name", sorted(SECRETS_IN_CONTEXT))
def test_dry_run_shows_no_secret_in_any_line(env: dict[str, str], name: str) -> None:
    path = write_config(env, {**SECRETS_IN_CONTEXT[name], "credsStore": "desktop"})
    result = run_helper(env, "configure", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out.startswith(f"--- {path}\n")
    assert "<hidden>" in out  # the line is there, as context, masked
    assert "CANARY" not in out + result.stderr.decode()
    unconfigure = run_helper(env, "unconfigure", "--dry-run")
    assert b"CANARY" not in unconfigure.stdout + unconfigure.stderr


def test_unconfigure_keeps_docker_hub_oauth_logins(env: dict[str, str]) -> None:
    """Docker CLI 27+ keeps its Hub OAuth tokens under .../access-token and .../refresh-token;
    with no credsStore before, they go back inline like any other login."""
    path = write_config(env, {})
    assert run_helper(env, "configure").returncode == 0
    oauth = {
        "https://index.docker.io/v1/access-token": ("hubuser", "CANARY-access"),
        "https://index.docker.io/v1/refresh-token": ("hubuser", "CANARY-refresh"),
    }
    for server, (user, secret) in oauth.items():
        body = store_body(server, user, secret)
        assert run_helper(env, "store", stdin=body).returncode == 0
    assert run_helper(env, "unconfigure").returncode == 0
    assert json.loads(path.read_text()) == {
        "auths": {server: {"auth": basic_auth(*login)} for server, login in oauth.items()}
    }
    # configure again carries them back, and unconfigure restores the same file
    restored = path.read_bytes()
    assert run_helper(env, "configure").returncode == 0
    assert run_helper(env, "unconfigure").returncode == 0
    assert json.loads(path.read_bytes()) == json.loads(restored)


def test_docker_config_without_config_json_gets_one(env: dict[str, str]) -> None:
    """podman and buildah fail on `stat $DOCKER_CONFIG/config.json` before asking any helper,
    so configure writes the file even when it has nothing else to put in it."""
    path = config_file(env)
    assert not path.parent.exists()
    dry = run_helper(env, "configure", "--registries", "--dry-run")
    assert (dry.returncode, dry.stdout) == (0, f"would create {path}\n".encode())
    assert not path.exists()
    result = run_helper(env, "configure", "--registries")
    assert result.returncode == 0, result.stderr
    assert json.loads(path.read_text()) == {}
    again = run_helper(env, "configure", "--registries")
    assert again.stdout == f"{path}: nothing to change\n".encode()


def test_configure_writes_through_a_symlinked_directory(
    env: dict[str, str], tmp_path: Path
) -> None:
    """In a codespace ~/.docker is a link into /workspaces/.codespaces/.persistedshare."""
    persisted = tmp_path / "persistedshare" / ".docker"
    persisted.mkdir(parents=True)
    (persisted / "config.json").write_text(json.dumps({"psFormat": "x"}))
    link = Path(env["DOCKER_CONFIG"])
    link.symlink_to(persisted)
    for _ in range(2):
        assert run_helper(env, "configure").returncode == 0
    assert link.is_symlink() and link.resolve() == persisted.resolve()
    assert json.loads((persisted / "config.json").read_text())["credsStore"] == "codespaces"
    assert sorted(p.name for p in persisted.iterdir()) == ["config.json", "config.json.bak"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_configure_keeps_the_owner_of_config_json(env: dict[str, str]) -> None:
    path = write_config(env, {"auths": {"r.example": {"auth": basic_auth("u", "p")}}})
    os.chown(path.parent, 4321, 4322)
    os.chown(path, 4321, 4322)
    assert run_helper(env, "configure").returncode == 0
    for written in (path, Path(str(path) + ".bak")):
        info = written.stat()
        assert (info.st_uid, info.st_gid) == (4321, 4322), written
    fresh = write_config(env, {})  # a new file takes its directory's owner
    fresh.unlink()
    assert run_helper(env, "configure").returncode == 0
    assert (fresh.stat().st_uid, fresh.stat().st_gid) == (4321, 4322)


# A signing and encryption key for `pass`, of default algorithms, that never expires.
GPG_KEY = ("--quick-gen-key", "dcc-test <dcc-test@example.invalid>", "default", "default")


@pytest.fixture
def real_pass(env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """Debian's docker-credential-pass 0.6.4 over `pass`, with a password store and a gpg key
    (no passphrase) of this test's own; its gpg-agent is stopped afterwards."""
    tools = [shutil.which(name) for name in ("docker-credential-pass", "pass", "gpg", "gpgconf")]
    if not all(tools):
        pytest.skip("docker-credential-pass, pass and gpg are needed; tests/run.sh installs them")
    bin_dir = tmp_path / "pass-bin"
    bin_dir.mkdir()
    (bin_dir / "docker-credential-pass").symlink_to(str(tools[0]))
    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    env.update(
        GNUPGHOME=str(gnupg),
        PASSWORD_STORE_DIR=str(tmp_path / "password-store"),
        PATH=f"{bin_dir}:{env['PATH']}",
    )
    try:
        for argv in (
            ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", *GPG_KEY],
            ["pass", "init", "dcc-test@example.invalid"],
        ):
            done = run_command(argv, env, stdin=None)
            assert done.returncode == 0, done.stdout + done.stderr
        yield env
    finally:
        run_command(["gpgconf", "--kill", "gpg-agent"], env, stdin=None)


@pytest.mark.e2e
def test_real_pass_fallback_answers_empty_and_the_token_still_answers(
    real_pass: dict[str, str],
) -> None:
    """docker-credential-pass 0.6.4 answers exit 0 with an empty login for every server it
    does not hold; the codespace token behind it answers ghcr.io, and configure's carried
    login goes into pass."""
    env = real_pass
    unknown = run_command(["docker-credential-pass", "get"], env, stdin=b"ghcr.io")
    assert (unknown.returncode, json.loads(unknown.stdout)) == (
        0,
        {"ServerURL": "ghcr.io", "Username": "", "Secret": ""},
    )
    write_config(
        env,
        {"credsStore": "pass", "auths": {"r.example": {"Auth": basic_auth("u", "CANARY-pass")}}},
    )
    configured = run_helper(env, "configure")
    assert configured.returncode == 0, configured.stdout + configured.stderr
    assert b"copied the login for r.example into the fallback store" in configured.stdout
    env.update(CODESPACES="true", GITHUB_TOKEN="CANARY-ghtoken")
    assert get_login(env, "ghcr.io") == ("codespace", "CANARY-ghtoken")
    assert get_login(env, "r.example") == ("u", "CANARY-pass")  # from pass itself
    nowhere = run_helper(env, "get", stdin=b"nowhere.example")
    assert (nowhere.returncode, nowhere.stdout) == (
        1,
        b"credentials not found in native keychain\n",
    )
    listed = run_helper(env, "list", stdin=None)
    assert json.loads(listed.stdout) == {"r.example": "u", "ghcr.io": "codespace"}
    assert b"CANARY" not in configured.stderr + listed.stdout + listed.stderr
