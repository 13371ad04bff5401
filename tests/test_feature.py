"""The dev container Feature: a valid manifest, an installer that wires config.json, and a
lifecycle command that survives Codespaces rewriting config.json after onCreateCommand and
replacing ~/.docker with a link into the persisted share.

pip installs offline from the wheelhouse that tests/run.sh builds.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from beds.client import run_helper
from beds.environment import add_secret, isolated_environ
from docker_credential_codespaces import __version__

REPO = Path(__file__).resolve().parent.parent
FEATURE = REPO / ".devcontainer" / "features" / "docker-credential-codespaces"
WHEELHOUSE = REPO / ".venv" / "wheelhouse"


def manifest() -> dict:
    return json.loads((FEATURE / "devcontainer-feature.json").read_text())


def test_manifest_follows_the_feature_spec() -> None:
    feature = manifest()
    assert feature["id"] == FEATURE.name
    major, minor, patch = feature["version"].split(".")
    assert all(part.isdigit() for part in (major, minor, patch))
    assert feature["name"] and feature["description"]
    for name, option in feature["options"].items():
        assert name.isidentifier()
        assert option["type"] == "string" and isinstance(option["default"], str)
        assert option["description"]
    assert feature["postCreateCommand"] == "docker-credential-codespaces configure"
    # At every start: the wiring again, then tokens fetched behind, so the start never waits.
    assert feature["postStartCommand"] == (
        "docker-credential-codespaces configure && docker-credential-codespaces warm --background"
    )
    assert (FEATURE / "install.sh").stat().st_mode & 0o111
    # The dev container CLI fetches every Feature named there, used or not: offline, the build
    # stops (tests/test_e2e_feature.py; docs/feature.md says why none is needed).
    assert "installsAfter" not in feature


def test_a_feature_version_is_one_helper_version() -> None:
    """The Feature is released with the package: its version is the package's, and by default
    it installs exactly that package version, never whatever the index holds newest."""
    feature = manifest()
    assert feature["version"] == __version__
    assert feature["options"]["version"]["default"] == __version__


def feature_env(tmp_path: Path, **options: str) -> tuple[dict[str, str], Path, Path]:
    """The Feature's installer run as root runs it at build, into tmp_path, offline."""
    home = tmp_path / "home"
    home.mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    env = isolated_environ(tmp_path, helper=bin_dir / "docker-credential-codespaces")
    env.update(
        _REMOTE_USER="root",
        _REMOTE_USER_HOME=str(home),
        DCC_PREFIX=str(tmp_path / "opt"),
        DCC_BIN_DIR=str(bin_dir),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(WHEELHOUSE),
        DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE=str(tmp_path / "none"),
        **options,
    )
    return env, home, bin_dir


def install_feature(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(FEATURE / "install.sh")], env=env, capture_output=True, text=True, timeout=300
    )


def wheelhouse_or_skip() -> None:
    if not sorted(WHEELHOUSE.glob(f"docker_credential_codespaces-{__version__}-*.whl")):
        pytest.skip(f"no wheel of {__version__} in {WHEELHOUSE}; tests/run.sh builds it")


@pytest.mark.e2e
def test_the_default_installs_the_package_version_of_the_feature(tmp_path: Path) -> None:
    """No option given, as a devcontainer.json that names the Feature with `{}`: the index
    (here the wheelhouse) is asked for the manifest's default version, and nothing else."""
    wheelhouse_or_skip()
    env, _, bin_dir = feature_env(tmp_path)
    built = install_feature(env)
    assert built.returncode == 0, built.stdout + built.stderr
    version = subprocess.run(
        [str(bin_dir / "docker-credential-codespaces"), "version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.stdout.split()[-1] == __version__ == manifest()["options"]["version"]["default"]

    # A version the index does not hold fails the build, rather than installing another.
    other_env, _, _ = feature_env(tmp_path / "other", VERSION="0.0.1")
    refused = install_feature(other_env)
    assert refused.returncode != 0
    assert "docker-credential-codespaces==0.0.1" in refused.stderr


@pytest.mark.e2e
def test_feature_installs_and_survives_the_codespaces_rewrite(tmp_path: Path) -> None:
    wheelhouse_or_skip()
    wheels = sorted(WHEELHOUSE.glob(f"docker_credential_codespaces-{__version__}-*.whl"))
    env, home, _ = feature_env(tmp_path, SOURCE=str(wheels[-1]))
    built = install_feature(env)
    assert built.returncode == 0, built.stdout + built.stderr
    config_file = home / ".docker" / "config.json"
    assert json.loads(config_file.read_text()) == {"credsStore": "codespaces"}

    # Codespaces writes its registries into config.json after onCreateCommand, dropping ours.
    login = base64.b64encode(b"octo:ghp_x").decode()
    config_file.write_text(json.dumps({"auths": {"ghcr.io": {"auth": login}}}))
    env.update(
        HOME=str(home),
        GH_CONTAINER_REGISTRY_SERVER="ghcr.io",
        GH_CONTAINER_REGISTRY_USER="octo",
        GH_CONTAINER_REGISTRY_PASSWORD="ghp_x",
    )
    for hook in ("postCreateCommand", "postStartCommand"):
        ran = subprocess.run(  # as the dev container CLI runs a string command: in a shell
            ["/bin/sh", "-c", manifest()[hook]], env=env, capture_output=True, text=True, timeout=60
        )
        assert ran.returncode == 0, ran.stderr
    assert json.loads(config_file.read_text()) == {
        "auths": {"ghcr.io": {"auth": login}},
        "credsStore": "codespaces",
        "credHelpers": {"ghcr.io": "codespaces"},
    }


def test_post_start_rewires_after_the_configuring_codespace_step(tmp_path: Path) -> None:
    """Codespaces' "Configuring codespace" step copies the host's ~/.docker into the persisted
    share, replaces the user's ~/.docker (and all the image build wrote there) with a link to
    it, and gives it to the user (devcontainers/features#549 shows its commands); then it
    writes the secrets' registries inline. The Feature's postStartCommand, run as it is
    declared, wires the copy through the link, carries the inline login into the store and
    leaves the link a link."""
    env = isolated_environ(tmp_path)
    del env["DOCKER_CONFIG"]  # as in a codespace: docker uses ~/.docker
    home = Path(env["HOME"])
    add_secret(env, "GH", "ghcr.io", "octo", "CANARY-ghcr")
    # as the dev container CLI runs a string command: in a shell
    post_start = ["/bin/sh", "-c", manifest()["postStartCommand"]]
    # The image build: the installer's configure writes the user's own ~/.docker.
    built = subprocess.run(post_start, env=env, capture_output=True, timeout=60, check=False)
    assert built.returncode == 0, built.stderr
    assert (home / ".docker" / "config.json").is_file()
    # The step: the host's .docker copied into the share, the user's replaced by a link.
    host_docker = tmp_path / "host-root" / ".docker"
    host_docker.mkdir(parents=True)
    (host_docker / "config.json").write_text(json.dumps({"psFormat": "host"}))
    share = tmp_path / "workspaces" / ".codespaces" / ".persistedshare"
    share.mkdir(parents=True)
    shutil.copytree(host_docker, share / ".docker")
    shutil.rmtree(home / ".docker")
    (home / ".docker").symlink_to(share / ".docker")
    owner = (4321, 4322) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    for path in (share / ".docker", share / ".docker" / "config.json"):
        os.chown(path, *owner)
    # Then Codespaces writes its registries, and a login the host had, inline.
    inline = {
        "ghcr.io": {"auth": base64.b64encode(b"octo:CANARY-ghcr").decode()},
        "registry.internal.example": {"Auth": base64.b64encode(b"dev:CANARY-inline").decode()},
    }
    copied = share / ".docker" / "config.json"
    copied.write_text(json.dumps({"psFormat": "host", "auths": inline}))

    for _ in range(2):  # every start; the second changes nothing
        started = subprocess.run(post_start, env=env, capture_output=True, timeout=60, check=False)
        assert started.returncode == 0, started.stderr
        assert b"CANARY" not in started.stdout + started.stderr
    assert started.stdout == f"{home / '.docker' / 'config.json'}: nothing to change\n".encode()
    assert (home / ".docker").is_symlink()
    assert (home / ".docker").resolve() == (share / ".docker").resolve()
    assert not copied.is_symlink() and (copied.stat().st_uid, copied.stat().st_gid) == owner
    assert json.loads(copied.read_text()) == {
        "psFormat": "host",
        "auths": inline,
        "credsStore": "codespaces",
        "credHelpers": {"ghcr.io": "codespaces", "registry.internal.example": "codespaces"},
    }
    store = home / ".local" / "share" / "docker-credential-codespaces" / "credentials.json"
    assert json.loads(store.read_text())["credentials"] == {
        "registry.internal.example": {"Username": "dev", "Secret": "CANARY-inline"}
    }
    for server, secret in (
        ("registry.internal.example", "CANARY-inline"),
        ("ghcr.io", "CANARY-ghcr"),
    ):
        got = run_helper(env, "get", stdin=server.encode())
        assert json.loads(got.stdout)["Secret"] == secret, got.stdout + got.stderr
    # A login written inline later, next to credsStore: codespaces, is carried at the next start.
    config = json.loads(copied.read_text())
    config["auths"]["late.example"] = {"auth": base64.b64encode(b"late:CANARY-late").decode()}
    copied.write_text(json.dumps(config))
    started = subprocess.run(post_start, env=env, capture_output=True, timeout=60, check=False)
    assert started.returncode == 0, started.stderr
    got = run_helper(env, "get", stdin=b"late.example")
    assert json.loads(got.stdout)["Secret"] == "CANARY-late", got.stdout + got.stderr
    assert (home / ".docker").is_symlink()
