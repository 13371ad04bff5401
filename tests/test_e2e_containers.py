"""End to end: podman and buildah, as root, pull, push, log in and out through the installed helper.

podman and buildah are containers/image clients: they ignore `credsStore` and ask a helper only
through `credHelpers` in `$DOCKER_CONFIG/config.json` or `credential-helpers` in registries.conf.
So these tests guard the `credHelpers` wiring that `configure` writes, and prove that without it
they never ask. beds/containers.py gives them private storage and configuration, and a private
mount namespace so that the machine's /var/lib/containers is never touched (the module checks
it before and after). The registries are Debian's distribution registry on 127.0.0.1 over plain
HTTP (beds/registry.py): one with htpasswd for the secret, one for logins, one open to all.

A stand-in of the helper first on PATH (beds.client.verb_recorder) records the verbs that each
client command ran, never what was on stdin. Client facts the assertions rely on (podman 4.3,
buildah 1.28, measured):
- `login -u U --password-stdin` runs `get`, `get`, then `store`; `login HOST` with a stored
  login runs `get` and says it is already logged in; `logout` runs `erase`.
- a pull or push with credentials runs `get` once; a not-found answer is asked twice (the
  client retries the lookup before going on anonymously).
- a rejected or missing password is `unauthorized: authentication required`; a helper that
  fails otherwise is `error getting credentials`.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from beds import containers as ctr
from beds import registry as bed
from beds.client import HELPER, PROGRAM, run_command, verb_recorder
from beds.environment import add_secret, isolated_environ

pytestmark = pytest.mark.e2e

HELPER_NAME = "codespaces"
NOT_FOUND = "credentials not found in native keychain"
AUTH_ERROR = "unauthorized: authentication required"
HELPER_ERROR = "error getting credentials"
CMD_TIMEOUT_S = 60
SECRET_PREFIX = "BED"
STORE_DIR_ENV = "DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"
DEBUG_ENV = "DOCKER_CREDENTIAL_CODESPACES_DEBUG"
# Canaries: random per run, so that a leak can never be a coincidence.
SECRET_CANARY = "CANARY-ctr-secret-" + secrets.token_hex(8)
LOGIN_CANARY = "CANARY-ctr-login-" + secrets.token_hex(8)
WRONG_CANARY = "CANARY-ctr-wrong-" + secrets.token_hex(8)
CANARIES = (SECRET_CANARY, LOGIN_CANARY, WRONG_CANARY)
PUSHED_TAG = "v2"


@dataclass
class Registries:
    """The module's registries: one a secret covers, one for logins, one open to anyone."""

    secret: bed.RunningRegistry
    login: bed.RunningRegistry
    open: bed.RunningRegistry
    ref: str


@pytest.fixture(scope="module")
def registries() -> Iterator[Registries]:
    reason = ctr.cannot_run() or (
        f"needs {', '.join(bed.tools_missing())} on PATH" if bed.tools_missing() else None
    )
    if reason:
        pytest.skip(f"podman/buildah e2e {reason}")
    before = ctr.machine_state()
    with contextlib.ExitStack() as stack:
        secret = stack.enter_context(bed.start_registry("secret-user", SECRET_CANARY))
        login = stack.enter_context(bed.start_registry("login-user", LOGIN_CANARY))
        anyone = stack.enter_context(bed.start_registry(anonymous=True))
        (ref,) = {bed.push_tiny_image(registry) for registry in (secret, login, anyone)}
        yield Registries(secret=secret, login=login, open=anyone, ref=ref)
    assert ctr.machine_state() == before, f"the tests touched {ctr.MACHINE_STATE}"


@dataclass
class Sandbox:
    """A home built from nothing, a private podman/buildah state, and the commands run in it."""

    root: Path
    env: dict[str, str]
    containers: ctr.Containers
    verbs_log: Path
    stderrs: list[str] = field(default_factory=list)

    @property
    def docker_config(self) -> Path:
        return Path(self.env["DOCKER_CONFIG"]) / "config.json"

    @property
    def store_file(self) -> Path:
        return Path(self.env[STORE_DIR_ENV]) / "credentials.json"

    def run(self, argv: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Run a command in the sandbox (beds.client's bounded run), its stderr kept for the
        canary checks."""
        done = run_command(argv, self.env, stdin.encode(), CMD_TIMEOUT_S)
        text = subprocess.CompletedProcess(
            done.args,
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )
        self.stderrs.append(text.stderr)
        return text

    def tool(self, tool: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return self.run(self.containers.command(tool, *args), stdin=stdin)

    def pull(self, tool: str, host: str, ref: str) -> subprocess.CompletedProcess[str]:
        # buildah's default policy serves a local copy without asking the registry.
        policy = ["--policy", "always"] if tool == ctr.BUILDAH else []
        return self.tool(tool, "pull", *policy, "--tls-verify=false", f"{host}/{ref}")

    def push(self, tool: str, host: str, ref: str, repo: str) -> subprocess.CompletedProcess[str]:
        destination = f"docker://{host}/{repo}:{PUSHED_TAG}"
        return self.tool(tool, "push", "--tls-verify=false", f"{host}/{ref}", destination)

    def login(
        self, tool: str, host: str, user: str, password: str
    ) -> subprocess.CompletedProcess[str]:
        # buildah takes no option after the registry's name.
        args = ("login", "--tls-verify=false", "-u", user, "--password-stdin", host)
        return self.tool(tool, *args, stdin=password)

    def digest(self, host: str, ref: str) -> str:
        """The digest of a pulled image in the sandbox's storage (podman's and buildah's)."""
        done = self.tool(ctr.PODMAN, "image", "inspect", "--format", "{{.Digest}}", f"{host}/{ref}")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def verbs(self) -> list[str]:
        """The verbs the helper ran since the last call, in order."""
        if not self.verbs_log.exists():
            return []
        verbs = self.verbs_log.read_text().split()
        self.verbs_log.write_text("")
        return verbs

    def helper(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """The helper itself, as a client runs it (not through the recorder)."""
        return self.run([str(HELPER), *args], stdin=stdin)

    def configure(self) -> dict[str, object]:
        done = self.helper("configure")
        assert done.returncode == 0, done.stdout + done.stderr
        return self.config()

    def config(self) -> dict[str, object]:
        config: dict[str, object] = json.loads(self.docker_config.read_text())
        return config

    def write_config(self, config: dict[str, object]) -> None:
        self.docker_config.write_text(json.dumps(config, indent=2))

    def stored(self) -> dict[str, dict[str, str]]:
        """The local store's entries ({} when there is no file yet)."""
        if not self.store_file.exists():
            return {}
        stored: dict[str, dict[str, str]] = json.loads(self.store_file.read_text())["credentials"]
        return stored

    def assert_no_canary(self) -> None:
        """No canary in any stderr (the clients' and, passed through, the helper's), in the verbs
        recorded, in the containers auth files, or in any file of the sandbox but the store."""
        for canary in CANARIES:
            for stderr in self.stderrs:
                assert canary not in stderr
            for path in ctr.auth_files(self.env):
                assert not path.exists() or canary not in path.read_text(), path
            for path in self.root.rglob("*"):
                if path.is_file() and path != self.store_file:
                    assert canary.encode() not in path.read_bytes(), f"canary in {path}"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    env = isolated_environ(tmp_path)
    verbs_log = tmp_path / "verbs.log"
    recorder = verb_recorder(tmp_path / "recorder", verbs_log)
    env["PATH"] = f"{recorder.parent}:{env['PATH']}"
    env[STORE_DIR_ENV] = str(tmp_path / "store")
    env["DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR"] = str(tmp_path / "cache")
    # The helper's debug hints go to the clients' stderr: the canary checks read them too.
    env[DEBUG_ENV] = "1"
    containers = ctr.Containers.create()
    try:
        containers.environ(env)
        yield Sandbox(root=tmp_path, env=env, containers=containers, verbs_log=verbs_log)
    finally:
        containers.remove()


def add_registry_secret(sandbox: Sandbox, registry: bed.RunningRegistry, password: str) -> None:
    add_secret(sandbox.env, SECRET_PREFIX, registry.host, registry.user, password)


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
    add_registry_secret(sandbox, registry, registry.password)
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
    sandbox.assert_no_canary()


def test_pull_and_push_through_registries_conf_credential_helpers(
    registries: Registries, sandbox: Sandbox
) -> None:
    registry = registries.secret
    add_registry_secret(sandbox, registry, registry.password)
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
    sandbox.assert_no_canary()


def test_credsstore_is_ignored_until_configure_writes_cred_helpers(
    registries: Registries, sandbox: Sandbox
) -> None:
    registry = registries.secret
    add_registry_secret(sandbox, registry, registry.password)
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
    sandbox.assert_no_canary()


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
    sandbox.assert_no_canary()
    assert LOGIN_CANARY not in sandbox.store_file.read_text(), "the erased login is gone"


# --------------------------------------------------------------------------------------------
# Not found and a wrong password.


def test_not_found_lets_an_anonymous_pull_from_an_open_registry_succeed(
    registries: Registries, sandbox: Sandbox
) -> None:
    registry = registries.open
    sandbox.write_config({"credHelpers": {registry.host: HELPER_NAME}})
    got = sandbox.helper("get", stdin=registry.host)
    assert (got.returncode, got.stdout) == (1, NOT_FOUND + "\n")

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
    sandbox.assert_no_canary()


@pytest.mark.parametrize("tool", [ctr.PODMAN, ctr.BUILDAH])
def test_a_wrong_password_is_an_auth_error_not_a_helper_error(
    registries: Registries, sandbox: Sandbox, tool: str
) -> None:
    registry = registries.secret
    add_registry_secret(sandbox, registry, WRONG_CANARY)
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
    sandbox.assert_no_canary()
