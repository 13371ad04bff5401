"""End to end through a real docker daemon: the pulls, logins, builds and pushes users make.

The docker CLI asks the helper and hands what it answers to dockerd, which talks to the
registry; so these tests run Debian's dockerd (beds/daemon.py), one for the module, and the
docker CLI 28 against it, with each test's own HOME and DOCKER_CONFIG (beds/environment.py).
The registries are Debian's distribution registry on 127.0.0.1 over plain HTTP: one with
htpasswd auth, one open (beds/registry.py). dockerd treats 127.0.0.0/8 as insecure, tries
HTTPS first and falls back to HTTP; over plain HTTP an auth failure is reported as such.

Which verbs the CLI ran comes from a recorder named like the helper, first on PATH
(beds/client.py), that writes down argv only.

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

import contextlib
import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from beds import daemon as dockerd
from beds import registry as bed
from beds.client import recorded_verbs, verb_recorder
from beds.environment import add_secret, isolated_environ
from docker_credential_codespaces.constants import ERR_NOT_FOUND, HELPER_NAME

pytestmark = pytest.mark.e2e

PROGRAM = "docker-credential-codespaces"
CMD_TIMEOUT_S = 120
SECRET_PREFIX = "DAEMON"
USER = "daemon-user"
# Canaries: random per run, so a leak can never be a coincidence.
PASSWORD = "CANARY-daemon-" + secrets.token_hex(10)
WRONG_PASSWORD = "CANARY-wrong-" + secrets.token_hex(10)
NO_AUTH = "no basic auth credentials"
REFUSED = "unauthorized: authentication required"


@dataclass
class Beds:
    """The module's daemon and registries: one with htpasswd auth, one open to anyone."""

    daemon: dockerd.RunningDaemon
    private: bed.RunningRegistry
    open: bed.RunningRegistry


@pytest.fixture(scope="module")
def beds() -> Iterator[Beds]:
    reason = dockerd.unavailable() or (
        f"missing tools: {', '.join(bed.tools_missing())}" if bed.tools_missing() else None
    )
    if reason is not None:
        pytest.skip(f"daemon e2e: {reason}")
    with contextlib.ExitStack() as stack:
        daemon = stack.enter_context(dockerd.start_daemon())
        private = stack.enter_context(bed.start_registry(user=USER, password=PASSWORD))
        open_registry = stack.enter_context(bed.start_registry(anonymous=True))
        yield Beds(daemon=daemon, private=private, open=open_registry)
        assert PASSWORD not in daemon.log() and WRONG_PASSWORD not in daemon.log()


@dataclass
class Sandbox:
    """One test's environment built from nothing, reaching the module's daemon."""

    root: Path
    env: dict[str, str]
    verb_log: Path
    outputs: list[str] = field(default_factory=list)

    @property
    def config_file(self) -> Path:
        return Path(self.env["DOCKER_CONFIG"]) / "config.json"

    def write_config(self, config: dict[str, object]) -> None:
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(config))

    def run(self, *argv: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
        """Run a command in the sandbox; both outputs are kept for the canary checks."""
        done = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            env={**self.env, **extra},
            cwd=self.root,
            timeout=CMD_TIMEOUT_S,
            check=False,
        )
        self.outputs += [done.stdout, done.stderr]
        return done

    def docker(self, *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("docker", *args, stdin=stdin, **extra)

    def verbs(self) -> list[str]:
        """The helper's verbs run since the last call, in order."""
        return recorded_verbs(self.verb_log)

    def secret(self, registry: bed.RunningRegistry, password: str = PASSWORD) -> None:
        add_secret(self.env, SECRET_PREFIX, registry.host, registry.user, password)

    def configure(self) -> None:
        """Run `configure`, then start the verb record afresh: it counts clients' verbs only."""
        done = self.run(PROGRAM, "configure")
        assert done.returncode == 0, done.stdout + done.stderr
        self.verbs()


@pytest.fixture
def sandbox(beds: Beds, tmp_path: Path) -> Iterator[Sandbox]:
    env = isolated_environ(tmp_path)
    verb_log = tmp_path / "verbs.log"
    recorder = verb_recorder(tmp_path / "recorder", verb_log)
    env["PATH"] = f"{recorder.parent}:{env['PATH']}"
    env["DOCKER_HOST"] = beds.daemon.host
    box = Sandbox(root=tmp_path, env=env, verb_log=verb_log)
    yield box
    for output in box.outputs:
        assert PASSWORD not in output and WRONG_PASSWORD not in output


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
def test_pull_through_the_secret(beds: Beds, sandbox: Sandbox, wiring: str) -> None:
    ref = unique_image(beds.private, f"pull-{wiring.lower()}")
    sandbox.secret(beds.private)
    if wiring == "credsStore":
        sandbox.write_config({"credsStore": HELPER_NAME})
    else:
        sandbox.write_config({"credHelpers": {beds.private.host: HELPER_NAME}})
    assert_pulled(sandbox, beds.private, ref)
    assert sandbox.verbs() == ["get"]


def test_pull_of_an_unwired_registry_is_anonymous(beds: Beds, sandbox: Sandbox) -> None:
    ref = unique_image(beds.private, "unwired")
    sandbox.secret(beds.private)
    sandbox.write_config({"credHelpers": {"other.example": HELPER_NAME}})
    done = sandbox.docker("pull", f"{beds.private.host}/{ref}")
    assert done.returncode == 1 and NO_AUTH in done.stderr, done.stderr
    assert sandbox.verbs() == []


# --------------------------------------------------------------------------------------------
# docker login: without -u (the stored login tried first), with -u, and logout.


def test_login_without_user_tries_the_secret_then_stores(beds: Beds, sandbox: Sandbox) -> None:
    sandbox.secret(beds.private)
    sandbox.configure()
    done = sandbox.docker("login", beds.private.host)
    assert done.returncode == 0, done.stderr
    assert "Login Succeeded" in done.stdout
    assert f"Authenticating with existing credentials... [Username: {USER}]" in done.stderr
    verbs = sandbox.verbs()
    assert verbs[-1] == "store" and set(verbs[:-1]) == {"get"}, verbs
    # The secret stays the truth: the helper stored nothing, and said why on stderr.
    assert f"covered by the secret {SECRET_PREFIX}_CONTAINER_REGISTRY_SERVER" in done.stderr
    listed = sandbox.run(PROGRAM, "list")
    assert json.loads(listed.stdout) == {beds.private.host: USER}


def test_login_pull_logout_then_pull_fails(beds: Beds, sandbox: Sandbox) -> None:
    ref = unique_image(beds.private, "login")
    sandbox.configure()
    login = sandbox.docker(
        "login", "-u", USER, "--password-stdin", beds.private.host, stdin=PASSWORD
    )
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout
    assert sandbox.verbs()[-1] == "store"
    config = json.loads(sandbox.config_file.read_text())
    assert config["auths"] == {beds.private.host: {}}, "with credsStore docker keeps nothing inline"

    assert_pulled(sandbox, beds.private, ref)
    assert sandbox.verbs() == ["get"]

    logout = sandbox.docker("logout", beds.private.host)
    assert logout.returncode == 0, logout.stderr
    assert PROGRAM not in logout.stderr
    assert set(sandbox.verbs()) == {"erase"}

    sandbox.docker("rmi", f"{beds.private.host}/{ref}")
    again = sandbox.docker("pull", f"{beds.private.host}/{ref}")
    assert again.returncode == 1 and NO_AUTH in again.stderr, again.stderr


# --------------------------------------------------------------------------------------------
# Not found is anonymous; a wrong password is the registry's refusal, not the helper's error.


def test_anonymous_pull_from_an_open_registry(beds: Beds, sandbox: Sandbox) -> None:
    ref = unique_image(beds.open, "anonymous")
    sandbox.secret(beds.private)
    sandbox.configure()
    got = sandbox.run(PROGRAM, "get", stdin=beds.open.host)
    assert (got.returncode, got.stdout, got.stderr) == (1, ERR_NOT_FOUND + "\n", "")
    assert sandbox.verbs() == ["get"]
    assert_pulled(sandbox, beds.open, ref)
    assert sandbox.verbs() == ["get"], "docker asked, heard not found, and went on anonymously"


def test_wrong_password_is_an_auth_error(beds: Beds, sandbox: Sandbox) -> None:
    ref = unique_image(beds.private, "wrong")
    sandbox.secret(beds.private, password=WRONG_PASSWORD)
    sandbox.configure()
    done = sandbox.docker("pull", f"{beds.private.host}/{ref}")
    assert done.returncode == 1
    assert REFUSED in done.stderr, done.stderr
    assert "error getting credentials" not in done.stderr
    assert "connection reset" not in done.stderr
    assert sandbox.verbs() == ["get"]


# --------------------------------------------------------------------------------------------
# The legacy builder from a private base image, and a push.


def test_build_from_a_private_base_and_push(beds: Beds, sandbox: Sandbox) -> None:
    base = unique_image(beds.private, "base")
    sandbox.secret(beds.private)
    sandbox.configure()
    context = sandbox.root / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {beds.private.host}/{base}\nLABEL built=yes\n")
    built = f"{beds.private.host}/e2e/built:v1"
    done = sandbox.docker("build", "-t", built, str(context), DOCKER_BUILDKIT="0")
    assert done.returncode == 0, done.stdout + done.stderr
    verbs = sandbox.verbs()
    assert verbs[0] == "list" and set(verbs[1:]) == {"get"}, verbs

    pushed = sandbox.docker("push", built)
    assert pushed.returncode == 0, pushed.stderr
    assert sandbox.verbs() == ["get"]
    digest: Optional[re.Match[str]] = re.search(r"digest: (sha256:[0-9a-f]{64})", pushed.stdout)
    assert digest is not None, pushed.stdout
    assert digest.group(1) == bed.manifest_digest(beds.private, "e2e/built:v1")


def test_the_bed_stops_its_daemon_and_leaves_nothing_mounted(beds: Beds) -> None:
    with dockerd.start_daemon() as daemon:
        pid = int(daemon.pidfile.read_text())
        assert pid == daemon.process.pid
        assert dockerd.mounts_under(daemon.root), "dockerd mounts under its own directory"
    assert daemon.process.poll() is not None
    assert not daemon.root.exists()
    assert dockerd.mounts_under(daemon.root) == []
