"""End to end: podman and buildah, as root, pull, push, log in and out through the installed helper.

podman and buildah are containers/image clients: they ignore `credsStore` and ask a helper only
through `credHelpers` in `$DOCKER_CONFIG/config.json` or `credential-helpers` in registries.conf.
So these tests guard the `credHelpers` wiring that `configure` writes, and prove that without it
they never ask. beds/containers.py gives them private storage and configuration, and a private
mount namespace so that the machine's /var/lib/containers is never touched (the module checks
it before and after). The registries (`registries`, tests/conftest.py) are Debian's
distribution registry on 127.0.0.1 over plain HTTP: one with htpasswd for the secret, one for
logins, one open to all.

In each test's sandbox (beds/sandbox.py), a stand-in of the helper first on PATH
(beds.client.verb_recorder) records the verbs that each client command ran, never what was on
stdin. Client facts the assertions rely on (podman 4.3,
buildah 1.28, measured):
- `login -u U --password-stdin` runs `get`, `get`, then `store`; `login HOST` with a stored
  login runs `get` and says it is already logged in; `logout` runs `erase`.
- a pull or push with credentials runs `get` once; a not-found answer is asked twice (the
  client retries the lookup before going on anonymously).
- a rejected or missing password is `unauthorized: authentication required`; a helper that
  fails otherwise is `error getting credentials`.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from typing import Optional

import pytest

from beds import containers as ctr
from beds import registry as bed
from beds.client import PROGRAM
from beds.registry import Registries
from beds.sandbox import PUSHED_TAG, Sandbox
from beds.values import LOGIN_PASSWORD, NOT_FOUND, REGISTRY_PASSWORD
from docker_credential_codespaces.constants import HELPER_NAME

pytestmark = pytest.mark.e2e

AUTH_ERROR = "unauthorized: authentication required"
HELPER_ERROR = "error getting credentials"
DEBUG_ENV = "DOCKER_CREDENTIAL_CODESPACES_DEBUG"
# A canary random per run, so that a leak can never be a coincidence.
WRONG_CANARY = "CANARY-ctr-wrong-" + secrets.token_hex(8)
CANARIES = (REGISTRY_PASSWORD, LOGIN_PASSWORD, WRONG_CANARY)


@pytest.fixture(scope="module", autouse=True)
def machine_untouched() -> Iterator[None]:
    """podman and buildah can run here, and the machine's /var/lib/containers is as it was."""
    reason = ctr.cannot_run()
    if reason:
        pytest.skip(f"podman/buildah e2e {reason}")
    before = ctr.machine_state()
    yield
    assert ctr.machine_state() == before, f"the tests touched {ctr.MACHINE_STATE}"


@pytest.fixture(autouse=True)
def containers(sandbox: Sandbox) -> ctr.Containers:
    """Every sandbox here has its private podman/buildah state, and the helper's debug hints
    on: they go to the clients' stderr, which the canary checks read."""
    sandbox.env[DEBUG_ENV] = "1"
    return sandbox.use_containers()


def assert_refused_on_auth(done: subprocess.CompletedProcess[str]) -> None:
    """The registry said no, and the client blames the registry, not the helper."""
    assert done.returncode != 0
    assert AUTH_ERROR in done.stderr, done.stderr
    assert HELPER_ERROR not in done.stderr


def pushed(registry: bed.RunningRegistry, repo: str) -> Optional[str]:
    """The digest of what a client pushed to `repo`, or None if nothing is there."""
    try:
        return bed.manifest_digest(registry, f"{repo}:{PUSHED_TAG}")
    except bed.RegistryBedError:
        return None


# --------------------------------------------------------------------------------------------
# Pull and push through credHelpers, as configure writes them, and through registries.conf.


@pytest.mark.parametrize("tool", [ctr.PODMAN, ctr.BUILDAH])
def test_pull_and_push_through_the_cred_helpers_configure_writes(
    registries: Registries, sandbox: Sandbox, tool: str
) -> None:
    registry = registries.secret
    del sandbox.env[DEBUG_ENV]  # without debug, the helper says nothing on success
    sandbox.add_secret(registry)
    assert sandbox.configure()["credHelpers"] == {registry.host: HELPER_NAME}

    pulled = sandbox.pull(tool, registry.host, registries.ref)
    assert pulled.returncode == 0, pulled.stderr
    assert sandbox.verbs() == ["get"]
    assert sandbox.digest(registry.host, registries.ref) == bed.manifest_digest(
        registry, registries.ref
    )

    repo = f"bed/{tool}-pushed"
    done = sandbox.push(tool, registry.host, registries.ref, repo)
    assert done.returncode == 0, done.stderr
    assert sandbox.verbs() == ["get"]
    assert pushed(registry, repo) is not None

    for stderr in sandbox.stderrs:
        assert PROGRAM not in stderr
    assert sandbox.stored() == {}, "a secret covers the registry: nothing is stored"
    sandbox.assert_no_canary(*CANARIES)


def test_pull_and_push_through_registries_conf_credential_helpers(
    registries: Registries, sandbox: Sandbox
) -> None:
    registry = registries.secret
    sandbox.add_secret(registry)
    sandbox.containers.environ(sandbox.env, credential_helpers=[HELPER_NAME])
    assert sandbox.config() == {}, "config.json names no helper: registries.conf does"

    for tool in (ctr.PODMAN, ctr.BUILDAH):
        pulled = sandbox.pull(tool, registry.host, registries.ref)
        assert pulled.returncode == 0, pulled.stderr
        assert sandbox.verbs() == ["get"]
        repo = f"bed/{tool}-via-registries-conf"
        done = sandbox.push(tool, registry.host, registries.ref, repo)
        assert done.returncode == 0, done.stderr
        assert sandbox.verbs() == ["get"]
        assert pushed(registry, repo) is not None
    assert sandbox.stored() == {}
    sandbox.assert_no_canary(*CANARIES)


def test_credsstore_is_ignored_until_configure_writes_cred_helpers(
    registries: Registries, sandbox: Sandbox
) -> None:
    registry = registries.secret
    sandbox.add_secret(registry)
    sandbox.write_config({"credsStore": HELPER_NAME})

    for tool in (ctr.PODMAN, ctr.BUILDAH):
        assert_refused_on_auth(sandbox.pull(tool, registry.host, registries.ref))
        assert sandbox.verbs() == [], f"{tool} asked the credsStore helper"

    config = sandbox.configure()
    assert config["credsStore"] == HELPER_NAME
    assert config["credHelpers"] == {registry.host: HELPER_NAME}
    for tool in (ctr.PODMAN, ctr.BUILDAH):
        pulled = sandbox.pull(tool, registry.host, registries.ref)
        assert pulled.returncode == 0, pulled.stderr
        assert sandbox.verbs() == ["get"]
    sandbox.assert_no_canary(*CANARIES)


# --------------------------------------------------------------------------------------------
# Login and logout: the helper stores the login, and erases it.


@pytest.mark.parametrize("tool", [ctr.PODMAN, ctr.BUILDAH])
def test_login_stores_through_the_helper_and_logout_erases(
    registries: Registries, sandbox: Sandbox, tool: str
) -> None:
    registry = registries.login
    # As configure writes it once the store holds a login; a user names the first by hand.
    sandbox.write_config({"credHelpers": {registry.host: HELPER_NAME}})

    login = sandbox.login(tool, registry.host, registry.user, registry.password)
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout
    assert sandbox.verbs() == ["get", "get", "store"]
    assert sandbox.stored() == {
        registry.host: {"Username": registry.user, "Secret": registry.password}
    }
    assert sandbox.config() == {"credHelpers": {registry.host: HELPER_NAME}}

    again = sandbox.tool(tool, "login", "--tls-verify=false", registry.host)
    assert again.returncode == 0, again.stderr
    assert "Already logged in" in again.stdout
    assert sandbox.verbs() == ["get"]

    pulled = sandbox.pull(tool, registry.host, registries.ref)
    assert pulled.returncode == 0, pulled.stderr
    assert sandbox.verbs() == ["get"]

    logout = sandbox.tool(tool, "logout", registry.host)
    assert logout.returncode == 0, logout.stderr
    assert sandbox.verbs() == ["erase"]
    assert sandbox.stored() == {}

    assert_refused_on_auth(sandbox.pull(tool, registry.host, registries.ref))
    sandbox.assert_no_canary(*CANARIES)
    assert LOGIN_PASSWORD not in sandbox.store_file.read_text(), "the erased login is gone"


# --------------------------------------------------------------------------------------------
# Not found and a wrong password.


def test_not_found_lets_an_anonymous_pull_from_an_open_registry_succeed(
    registries: Registries, sandbox: Sandbox
) -> None:
    registry = registries.open
    sandbox.write_config({"credHelpers": {registry.host: HELPER_NAME}})
    got = sandbox.helper("get", stdin=registry.host)
    assert (got.returncode, got.stdout) == (1, NOT_FOUND.decode())

    for tool in (ctr.PODMAN, ctr.BUILDAH):
        pulled = sandbox.pull(tool, registry.host, registries.ref)
        assert pulled.returncode == 0, pulled.stderr
        assert HELPER_ERROR not in pulled.stderr
        assert PROGRAM in pulled.stderr, "the helper's debug hints reach the client's stderr"
        assert sandbox.verbs() == ["get", "get"], "asked, found nothing, went on anonymously"
    assert sandbox.digest(registry.host, registries.ref) == bed.manifest_digest(
        registry, registries.ref
    )
    assert sandbox.stored() == {}
    sandbox.assert_no_canary(*CANARIES)


@pytest.mark.parametrize("tool", [ctr.PODMAN, ctr.BUILDAH])
def test_a_wrong_password_is_an_auth_error_not_a_helper_error(
    registries: Registries, sandbox: Sandbox, tool: str
) -> None:
    registry = registries.secret
    sandbox.add_secret(registry, WRONG_CANARY)
    sandbox.configure()

    assert_refused_on_auth(sandbox.pull(tool, registry.host, registries.ref))
    assert sandbox.verbs() == ["get"]

    login_registry = registries.login
    sandbox.write_config({"credHelpers": {login_registry.host: HELPER_NAME}})
    login = sandbox.login(tool, login_registry.host, login_registry.user, WRONG_CANARY)
    assert login.returncode != 0
    assert "invalid username/password" in login.stderr
    assert sandbox.verbs() == ["get", "get"], "a refused login stores nothing"
    assert sandbox.stored() == {}
    sandbox.assert_no_canary(*CANARIES)
