"""End to end through a real docker daemon: the pulls, logins, builds and pushes users make.

The docker CLI asks the helper and hands what it answers to dockerd, which talks to the
registry; so these tests run Debian's dockerd (beds/daemon.py), one for the module, and the
docker CLI 28 against it, each test in its own sandbox (beds/sandbox.py: its own HOME and
DOCKER_CONFIG). The registries (`registries`, tests/conftest.py) are Debian's distribution
registry on 127.0.0.1 over plain HTTP: the secret's with htpasswd auth, and one open.
dockerd treats 127.0.0.0/8 as insecure, tries HTTPS first and falls back to HTTP; over plain
HTTP an auth failure is reported as such.

Which verbs the CLI ran comes from a recorder named like the helper, first on the sandbox's
PATH (beds/client.py), that writes down argv only.

Client facts the assertions rely on (docker CLI 28.2, dockerd 20.10):
- `docker login HOST`, with or without `-u`, runs `get` twice (the stored login, then the
  one to try), has the daemon check the login, then runs `store`.
- `docker logout HOST` runs `erase` for each of its variants of the name.
- The legacy builder (`DOCKER_BUILDKIT=0`) runs `list`, then `get` for every key listed
  (`GetAllCredentials`), before it sends the build to the daemon.
- A pull the registry refuses says `unauthorized: authentication required`; an anonymous one
  against an authenticating registry, `no basic auth credentials`.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from typing import Optional

import pytest

from beds import daemon as dockerd
from beds import registry as bed
from beds.client import PROGRAM
from beds.registry import Registries
from beds.sandbox import SECRET_PREFIX, Sandbox
from beds.values import REGISTRY_PASSWORD, REGISTRY_USER
from docker_credential_codespaces.constants import ERR_NOT_FOUND, HELPER_NAME

pytestmark = pytest.mark.e2e

# A canary random per run, so a leak can never be a coincidence.
WRONG_PASSWORD = "CANARY-wrong-" + secrets.token_hex(10)
NO_AUTH = "no basic auth credentials"
REFUSED = "unauthorized: authentication required"
#: The daemon builds and pushes: the sandbox waits longer for them.
CMD_TIMEOUT_S = 120


@pytest.fixture(autouse=True)
def on_the_daemon(daemon: dockerd.RunningDaemon, sandbox: Sandbox) -> Iterator[None]:
    """Every sandbox here reaches the module's daemon; no password in anything said in it."""
    sandbox.env["DOCKER_HOST"] = daemon.host
    sandbox.timeout = CMD_TIMEOUT_S
    yield
    for done in sandbox.runs:
        output = done.stdout + done.stderr
        assert REGISTRY_PASSWORD not in output and WRONG_PASSWORD not in output


def unique_image(registry: bed.RunningRegistry, name: str) -> str:
    """Push an image of its own for one test, so the daemon has never seen its layers."""
    return bed.push_tiny_image(registry, repo=f"e2e/{name}", content=name.encode())


def pulled_digest(sandbox: Sandbox, image: str) -> str:
    """The digest the daemon recorded for a pulled image."""
    done = sandbox.docker("image", "inspect", "--format", "{{json .RepoDigests}}", image)
    assert done.returncode == 0, done.stderr
    (repo_digest,) = json.loads(done.stdout)
    return str(repo_digest).rsplit("@", 1)[1]


def assert_pulled(sandbox: Sandbox, registry: bed.RunningRegistry, ref: str) -> None:
    image = f"{registry.host}/{ref}"
    done = sandbox.docker("pull", image)
    assert done.returncode == 0, done.stderr
    assert pulled_digest(sandbox, image) == bed.manifest_digest(registry, ref)
    assert PROGRAM not in done.stderr, "the helper must be silent on success"


# --------------------------------------------------------------------------------------------
# Pulls through a secret: credsStore (docker's own wiring) and credHelpers alone.


@pytest.mark.parametrize("wiring", ["credsStore", "credHelpers"])
def test_pull_through_the_secret(registries: Registries, sandbox: Sandbox, wiring: str) -> None:
    ref = unique_image(registries.secret, f"pull-{wiring.lower()}")
    sandbox.add_secret(registries.secret)
    if wiring == "credsStore":
        sandbox.write_config({"credsStore": HELPER_NAME})
    else:
        sandbox.write_config({"credHelpers": {registries.secret.host: HELPER_NAME}})
    assert_pulled(sandbox, registries.secret, ref)
    assert sandbox.verbs() == ["get"]


def test_pull_of_an_unwired_registry_is_anonymous(registries: Registries, sandbox: Sandbox) -> None:
    ref = unique_image(registries.secret, "unwired")
    sandbox.add_secret(registries.secret)
    sandbox.write_config({"credHelpers": {"other.example": HELPER_NAME}})
    done = sandbox.docker("pull", f"{registries.secret.host}/{ref}")
    assert done.returncode == 1 and NO_AUTH in done.stderr, done.stderr
    assert sandbox.verbs() == []


# --------------------------------------------------------------------------------------------
# docker login: without -u (the stored login tried first), with -u, and logout.


def test_login_without_user_tries_the_secret_then_stores(
    registries: Registries, sandbox: Sandbox
) -> None:
    sandbox.add_secret(registries.secret)
    sandbox.configure()
    done = sandbox.docker("login", registries.secret.host)
    assert done.returncode == 0, done.stderr
    assert "Login Succeeded" in done.stdout
    assert f"Authenticating with existing credentials... [Username: {REGISTRY_USER}]" in done.stderr
    verbs = sandbox.verbs()
    assert verbs[-1] == "store" and set(verbs[:-1]) == {"get"}, verbs
    # The secret stays the truth: the helper stored nothing, and said why on stderr.
    assert f"covered by the secret {SECRET_PREFIX}_CONTAINER_REGISTRY_SERVER" in done.stderr
    listed = sandbox.run([PROGRAM, "list"])
    assert json.loads(listed.stdout) == {registries.secret.host: REGISTRY_USER}


def test_login_pull_logout_then_pull_fails(registries: Registries, sandbox: Sandbox) -> None:
    ref = unique_image(registries.secret, "login")
    sandbox.configure()
    login = sandbox.docker(
        "login",
        "-u",
        REGISTRY_USER,
        "--password-stdin",
        registries.secret.host,
        stdin=REGISTRY_PASSWORD,
    )
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout
    assert sandbox.verbs()[-1] == "store"
    config = json.loads(sandbox.docker_config.read_text())
    assert config["auths"] == {registries.secret.host: {}}, (
        "with credsStore docker keeps nothing inline"
    )

    assert_pulled(sandbox, registries.secret, ref)
    assert sandbox.verbs() == ["get"]

    logout = sandbox.docker("logout", registries.secret.host)
    assert logout.returncode == 0, logout.stderr
    assert PROGRAM not in logout.stderr
    assert set(sandbox.verbs()) == {"erase"}

    sandbox.docker("rmi", f"{registries.secret.host}/{ref}")
    again = sandbox.docker("pull", f"{registries.secret.host}/{ref}")
    assert again.returncode == 1 and NO_AUTH in again.stderr, again.stderr


# --------------------------------------------------------------------------------------------
# Not found is anonymous; a wrong password is the registry's refusal, not the helper's error.


def test_anonymous_pull_from_an_open_registry(registries: Registries, sandbox: Sandbox) -> None:
    ref = unique_image(registries.open, "anonymous")
    sandbox.add_secret(registries.secret)
    sandbox.configure()
    got = sandbox.run([PROGRAM, "get"], stdin=registries.open.host)
    assert (got.returncode, got.stdout, got.stderr) == (1, ERR_NOT_FOUND + "\n", "")
    assert sandbox.verbs() == ["get"]
    assert_pulled(sandbox, registries.open, ref)
    assert sandbox.verbs() == ["get"], "docker asked, heard not found, and went on anonymously"


def test_wrong_password_is_an_auth_error(registries: Registries, sandbox: Sandbox) -> None:
    ref = unique_image(registries.secret, "wrong")
    sandbox.add_secret(registries.secret, password=WRONG_PASSWORD)
    sandbox.configure()
    done = sandbox.docker("pull", f"{registries.secret.host}/{ref}")
    assert done.returncode == 1
    assert REFUSED in done.stderr, done.stderr
    assert "error getting credentials" not in done.stderr
    assert "connection reset" not in done.stderr
    assert sandbox.verbs() == ["get"]


# --------------------------------------------------------------------------------------------
# The legacy builder from a private base image, and a push.


def test_build_from_a_private_base_and_push(registries: Registries, sandbox: Sandbox) -> None:
    base = unique_image(registries.secret, "base")
    sandbox.add_secret(registries.secret)
    sandbox.configure()
    context = sandbox.root / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {registries.secret.host}/{base}\nLABEL built=yes\n")
    built = f"{registries.secret.host}/e2e/built:v1"
    done = sandbox.docker("build", "-t", built, str(context), DOCKER_BUILDKIT="0")
    assert done.returncode == 0, done.stdout + done.stderr
    verbs = sandbox.verbs()
    assert verbs[0] == "list" and set(verbs[1:]) == {"get"}, verbs

    pushed = sandbox.docker("push", built)
    assert pushed.returncode == 0, pushed.stderr
    assert sandbox.verbs() == ["get"]
    digest: Optional[re.Match[str]] = re.search(r"digest: (sha256:[0-9a-f]{64})", pushed.stdout)
    assert digest is not None, pushed.stdout
    assert digest.group(1) == bed.manifest_digest(registries.secret, "e2e/built:v1")


def test_the_bed_stops_its_daemon_and_leaves_nothing_mounted(daemon: dockerd.RunningDaemon) -> None:
    with dockerd.start_daemon() as daemon:
        pid = int(daemon.pidfile.read_text())
        assert pid == daemon.process.pid
        assert dockerd.mounts_under(daemon.root), "dockerd mounts under its own directory"
    assert daemon.process.poll() is not None
    assert not daemon.root.exists()
    assert dockerd.mounts_under(daemon.root) == []
