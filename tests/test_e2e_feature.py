"""End to end: the dev container CLI builds and starts a container with the Feature.

The tool that installs Features (`@devcontainers/cli`, installed by tests/run.sh into
.venv/node) runs `devcontainer up` against a real dockerd (beds/daemon.py), offline:

- The image is a Debian base built here with debootstrap and `docker import`ed
  (beds/baseimage.py, cached between runs).
- The configuration is the repository's own `.devcontainer/devcontainer.json`, which names the
  Feature by its local path with no option, as contributors run it: the image is swapped for
  that base, and the test's secrets, user and network are laid over it.
- A stand-in local Feature, installed first, puts the wheelhouse that tests/run.sh builds into
  the image with `PIP_NO_INDEX` and `PIP_FIND_LINKS`, and creates the remote user; so the
  Feature's default, the package version it was released with, comes from the wheelhouse as
  it would from the Python package index.
- The container runs with `--network=host`, so it reaches the loopback registry.

The module starts one container and runs its checks in it with `devcontainer exec`, as the
remote user: `version`, `doctor`, `doctor --check` against the registry; the wiring that
postCreate and postStart leave; secrets from `containerEnv` and `remoteEnv`; and the
Codespaces step that turns `~/.docker` into a link to a persisted share. The CLI is also a
client of the helper on the host: `devcontainer features publish` authenticates through it.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from beds import baseimage
from beds import daemon as dockerd
from beds import registry as bed
from beds.client import PROGRAM, run_text
from beds.environment import add_secret, isolated_environ
from beds.sandbox import Sandbox
from beds.values import (
    LOGIN_PASSWORD,
    LOGIN_USER,
    REGISTRY_PASSWORD,
    REGISTRY_USER,
    basic_auth,
)
from docker_credential_codespaces import __version__
from docker_credential_codespaces.constants import HELPER_NAME

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
FEATURE = REPO / ".devcontainer" / "features" / "docker-credential-codespaces"
#: The repository's own dev container, which names the Feature by its local path.
REPO_DEVCONTAINER = REPO / ".devcontainer" / "devcontainer.json"
WHEELHOUSE = REPO / ".venv" / "wheelhouse"
DEVCONTAINER = REPO / ".venv" / "node" / "node_modules" / ".bin" / "devcontainer"
BASE_IMAGE = "dcc-e2e-base:" + baseimage.SUITE
REMOTE_USER = "dev"
IMAGE_WHEELHOUSE = "/opt/dcc-e2e-wheelhouse"
#: Where Codespaces keeps the home's .docker; `~/.docker` becomes a link to it.
PERSISTED_DOCKER = "/workspaces/.codespaces/.persistedshare/.docker"
UP_TIMEOUT_S = 900
CMD_TIMEOUT_S = 120

INLINE_HOST = "inline.example"
# Canaries: random per run, so a leak can never be a coincidence; the registries' passwords
# (beds.values) are the others.
INLINE_PASSWORD = "CANARY-inline-" + secrets.token_hex(10)
CANARIES = (REGISTRY_PASSWORD, LOGIN_PASSWORD, INLINE_PASSWORD)

# The stand-in Feature: the wheelhouse, pip told to use only it, and the remote user.
OFFLINE_FEATURE = {
    "id": "offline-wheelhouse",
    "version": "1.0.0",
    "name": "offline wheelhouse (test stand-in)",
    "containerEnv": {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": IMAGE_WHEELHOUSE},
}
OFFLINE_INSTALL = f"""#!/bin/sh
set -eu
mkdir -p {IMAGE_WHEELHOUSE}
cp wheels/*.whl {IMAGE_WHEELHOUSE}/
useradd --create-home --shell /bin/sh {REMOTE_USER}
"""


def unavailable() -> str | None:
    """Why this machine cannot build the dev container (beyond a daemon and a registry, which
    their fixtures need), or None."""
    reason = baseimage.unavailable()
    if reason is None and not DEVCONTAINER.exists():
        reason = f"no dev container CLI at {DEVCONTAINER}; tests/run.sh installs it"
    if reason is None and not sorted(
        WHEELHOUSE.glob(f"docker_credential_codespaces-{__version__}-*.whl")
    ):
        reason = f"no wheel of {__version__} in {WHEELHOUSE}; tests/run.sh builds it"
    return reason


def write_workspace(
    workspace: Path, registry: bed.RunningRegistry, remote: bed.RunningRegistry
) -> None:
    """The project the CLI opens: the repository's devcontainer.json and its Feature, where
    they are in the repository, with the stand-in Feature and the test's settings laid over."""
    dot = workspace / ".devcontainer"
    offline = dot / "offline-wheelhouse"
    (offline / "wheels").mkdir(parents=True)
    for wheel in WHEELHOUSE.glob("*.whl"):
        shutil.copy2(wheel, offline / "wheels")
    (offline / "devcontainer-feature.json").write_text(json.dumps(OFFLINE_FEATURE))
    (offline / "install.sh").write_text(OFFLINE_INSTALL)
    (offline / "install.sh").chmod(0o755)
    shutil.copytree(FEATURE, dot / FEATURE.relative_to(REPO / ".devcontainer"))
    repository = json.loads(REPO_DEVCONTAINER.read_text())
    features = repository["features"]
    # The Feature from its local path, with its defaults, and nothing fetched from a registry.
    assert features == {f"./features/{FEATURE.name}": {}}
    config = {
        **repository,
        "image": BASE_IMAGE,
        "features": {"./offline-wheelhouse": {}, **features},
        "overrideFeatureInstallOrder": ["./offline-wheelhouse", *features],
        "runArgs": ["--network=host"],
        "remoteUser": REMOTE_USER,
        "updateRemoteUserUID": False,
        "containerEnv": {
            "FEAT_CONTAINER_REGISTRY_SERVER": registry.host,
            "FEAT_CONTAINER_REGISTRY_USER": registry.user,
            "FEAT_CONTAINER_REGISTRY_PASSWORD": registry.password,
        },
        "remoteEnv": {
            "REMOTE_CONTAINER_REGISTRY_SERVER": remote.host,
            "REMOTE_CONTAINER_REGISTRY_USER": remote.user,
            "REMOTE_CONTAINER_REGISTRY_PASSWORD": remote.password,
        },
    }
    (dot / "devcontainer.json").write_text(json.dumps(config, indent=2))
    return wheel.name


@dataclass
class DevContainer:
    """The module's running dev container, and a way to run commands in it."""

    workspace: Path
    env: dict[str, str]
    registry: bed.RunningRegistry
    remote: bed.RunningRegistry
    container_id: str
    outputs: list[str]

    def exec(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`devcontainer exec` as the remote user, with remoteEnv, as a terminal would."""
        done = run_text(
            [str(DEVCONTAINER), "exec", "--workspace-folder", str(self.workspace), *args],
            self.env,
            timeout=CMD_TIMEOUT_S,
        )
        self.outputs += [done.stdout, done.stderr]
        return done

    def sh(self, script: str) -> subprocess.CompletedProcess[str]:
        return self.exec("sh", "-c", script)

    def config(self) -> dict[str, object]:
        done = self.sh("cat ~/.docker/config.json")
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))


def cli_env(root: Path, daemon: dockerd.RunningDaemon) -> dict[str, str]:
    """The host side: an environment from scratch that reaches the module's daemon."""
    env = isolated_environ(root)
    env["DOCKER_HOST"] = daemon.host
    return env


@pytest.fixture(scope="module", autouse=True)
def buildable() -> None:
    """The module is skipped, saying why, where the dev container cannot be built."""
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"Feature e2e: {reason}")


@pytest.fixture(scope="module")
def container(
    daemon: dockerd.RunningDaemon,
    registries: bed.Registries,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DevContainer]:
    # The registry of the containerEnv secret, and that of the remoteEnv secret: a second
    # one, so that doctor --check reaches two.
    registry, remote = registries.secret, registries.login
    root = tmp_path_factory.mktemp("feature")
    env = cli_env(root, daemon)
    imported = run_text(
        ["docker", "import", str(baseimage.tarball()), BASE_IMAGE], env, timeout=UP_TIMEOUT_S
    )
    assert imported.returncode == 0, imported.stderr
    workspace = root / "workspace"
    write_workspace(workspace, registry, remote)
    up = run_text(
        [str(DEVCONTAINER), "up", "--workspace-folder", str(workspace), "--log-format", "json"],
        env,
        timeout=UP_TIMEOUT_S,
    )
    outcome = json.loads(up.stdout.strip().splitlines()[-1]) if up.stdout.strip() else {}
    assert outcome.get("outcome") == "success", (up.stdout[-4000:], up.stderr[-4000:])
    # The CLI's own log repeats devcontainer.json, containerEnv's values and all; only what
    # the helper and the container print is held to the canaries.
    box = DevContainer(workspace, env, registry, remote, str(outcome["containerId"]), [])
    try:
        yield box
    finally:
        run_text(["docker", "rm", "-f", box.container_id], env, timeout=CMD_TIMEOUT_S)
    for output in box.outputs:
        assert not any(canary in output for canary in CANARIES)


# --------------------------------------------------------------------------------------------
# In the container.


def test_version_and_doctor_in_the_container(container: DevContainer) -> None:
    version = container.exec(PROGRAM, "version")
    assert version.returncode == 0, version.stderr
    # The Feature's default: exactly the package version it was released with.
    assert version.stdout == f"{PROGRAM} (docker_credential_codespaces) {__version__}\n"

    doctor = container.exec(PROGRAM, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    rows = {tuple(line.split()[:3]) for line in doctor.stdout.splitlines()}
    assert (container.registry.host, "secret", "FEAT") in rows, doctor.stdout
    assert (container.remote.host, "secret", "REMOTE") in rows, doctor.stdout

    check = container.exec(PROGRAM, "doctor", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("check: OK") == 2, check.stdout
    for done in (doctor, check):
        assert LOGIN_PASSWORD not in done.stdout + done.stderr


def test_post_create_and_post_start_wire_the_remote_user(container: DevContainer) -> None:
    whoami = container.exec("id", "-un")
    assert whoami.stdout.strip() == REMOTE_USER
    config = container.config()
    assert config.get("credsStore") == HELPER_NAME
    helpers = config.get("credHelpers")
    assert isinstance(helpers, dict) and helpers.get(container.registry.host) == HELPER_NAME


@pytest.mark.parametrize(
    ("which", "user", "password"),
    [("registry", REGISTRY_USER, REGISTRY_PASSWORD), ("remote", LOGIN_USER, LOGIN_PASSWORD)],
    ids=["containerEnv", "remoteEnv"],
)
def test_a_secret_of_the_dev_container_answers_get(
    container: DevContainer, which: str, user: str, password: str
) -> None:
    host = getattr(container, which).host
    got = container.sh(f"printf %s {host} | {PROGRAM} get")
    assert got.returncode == 0, got.stdout + got.stderr
    assert json.loads(got.stdout) == {"ServerURL": host, "Username": user, "Secret": password}
    container.outputs.remove(got.stdout)  # the one output a secret belongs in


def test_the_codespaces_step_emulated(container: DevContainer) -> None:
    login = basic_auth("inline-user", INLINE_PASSWORD)
    # The share is Codespaces' own, made by root and given to the user.
    share = run_text(
        [
            "docker",
            "exec",
            "-u",
            "root",
            container.container_id,
            "sh",
            "-c",
            f"mkdir -p {PERSISTED_DOCKER} && chown {REMOTE_USER} {PERSISTED_DOCKER}",
        ],
        container.env,
        timeout=CMD_TIMEOUT_S,
    )
    assert share.returncode == 0, share.stderr
    step = container.sh(
        f"set -e; cp -a ~/.docker/. {PERSISTED_DOCKER}/;"
        f" rm -rf ~/.docker; ln -s {PERSISTED_DOCKER} ~/.docker;"
        f""" python3 -c 'import json, pathlib; p = pathlib.Path.home() / ".docker/config.json";"""
        f""" c = json.loads(p.read_text()); c.setdefault("auths", {{}})["{INLINE_HOST}"] ="""
        f""" {{"auth": "{login}"}}; p.write_text(json.dumps(c))'"""
    )
    assert step.returncode == 0, step.stderr
    hook = json.loads((FEATURE / "devcontainer-feature.json").read_text())["postStartCommand"]
    ran = container.sh(hook)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert container.sh("test -L ~/.docker").returncode == 0, "~/.docker is still a link"
    config = container.config()
    assert config.get("credsStore") == HELPER_NAME
    got = container.sh(f"printf %s {INLINE_HOST} | {PROGRAM} get")
    with contextlib.suppress(ValueError):
        container.outputs.remove(got.stdout)
    assert got.returncode == 0, got.stdout + got.stderr
    assert json.loads(got.stdout)["Secret"] == INLINE_PASSWORD


# --------------------------------------------------------------------------------------------
# On the host: the CLI itself asks the helper when it publishes the Feature.


def test_features_publish_authenticates_through_the_helper(
    daemon: dockerd.RunningDaemon, registry: bed.RunningRegistry, sandbox: Sandbox
) -> None:
    # The CLI talks plain HTTP only to a registry named localhost.
    host = f"localhost:{registry.port}"
    sandbox.env["DOCKER_HOST"] = daemon.host
    sandbox.timeout = CMD_TIMEOUT_S
    add_secret(sandbox.env, "PUB", host, registry.user, registry.password)
    sandbox.configure()
    features = sandbox.root / "features"
    shutil.copytree(FEATURE, features / FEATURE.name)
    published = sandbox.run(
        [
            str(DEVCONTAINER),
            "features",
            "publish",
            str(features),
            "--registry",
            host,
            "--namespace",
            "e2e/features",
            "--log-level",
            "debug",
        ]
    )
    output = published.stdout + published.stderr
    assert published.returncode == 0, output[-4000:]
    assert "get" in sandbox.verbs()
    assert REGISTRY_PASSWORD not in output
    version = json.loads((FEATURE / "devcontainer-feature.json").read_text())["version"]
    major = version.split(".")[0]
    for tag in (version, major, "latest"):
        bed.manifest_digest(registry, f"e2e/features/{FEATURE.name}:{tag}")
