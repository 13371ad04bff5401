"""The dev container Feature: a valid manifest, an installer that wires config.json, and a
lifecycle command that survives Codespaces rewriting config.json after onCreateCommand.

pip installs offline from the wheelhouse that tests/run.sh builds.
"""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
from pathlib import Path

import pytest

from beds.environment import isolated_environ

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
    for hook in ("postCreateCommand", "postStartCommand"):
        assert feature[hook] == "docker-credential-codespaces configure"
    assert (FEATURE / "install.sh").stat().st_mode & 0o111
    # The dev container CLI fetches every Feature named there, used or not: offline, the build
    # stops (tests/test_e2e_feature.py; docs/feature.md says why none is needed).
    assert "installsAfter" not in feature


@pytest.mark.e2e
def test_feature_installs_and_survives_the_codespaces_rewrite(tmp_path: Path) -> None:
    if not WHEELHOUSE.is_dir():
        pytest.skip(f"no wheelhouse at {WHEELHOUSE}; tests/run.sh builds it")
    wheels = sorted(WHEELHOUSE.glob("docker_credential_codespaces-*.whl"))
    assert wheels, "tests/run.sh puts the package's own wheel in the wheelhouse"
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    env = isolated_environ(tmp_path, helper=bin_dir / "docker-credential-codespaces")
    env.update(
        SOURCE=str(wheels[-1]),
        _REMOTE_USER="root",
        _REMOTE_USER_HOME=str(home),
        DCC_PREFIX=str(tmp_path / "opt"),
        DCC_BIN_DIR=str(bin_dir),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(WHEELHOUSE),
        DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE=str(tmp_path / "none"),
    )
    built = subprocess.run(
        ["sh", str(FEATURE / "install.sh")], env=env, capture_output=True, text=True, timeout=300
    )
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
        ran = subprocess.run(
            shlex.split(manifest()[hook]), env=env, capture_output=True, text=True, timeout=60
        )
        assert ran.returncode == 0, ran.stderr
    assert json.loads(config_file.read_text()) == {
        "auths": {"ghcr.io": {"auth": login}},
        "credsStore": "codespaces",
        "credHelpers": {"ghcr.io": "codespaces"},
    }
