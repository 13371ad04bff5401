"""The sandbox of the clients' end-to-end tests: one test's environment, built from nothing, and
the commands the tests run in it (the helper, the docker CLI, skopeo, podman and buildah).

The environment is `beds.environment`'s, with the store, the cache and TMPDIR under the
sandbox's root and a stand-in of the helper first on PATH (`beds.client.verb_recorder`), so a
test learns which verbs a client ran; the helper run by the test itself (`helper`) is not
recorded. Every command is bounded (`timeout`), runs in the root, and is kept with both its
outputs (`runs`), so that a test can look for its canaries in all of them at the end.
podman and buildah run on a private state of their own (`use_containers`, beds/containers.py).
`tests/conftest.py` makes one per test (the `sandbox` fixture) and closes it.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from beds import containers as ctr
from beds.client import HELPER, RUN_TIMEOUT, recorded_verbs, run_text, verb_recorder
from beds.environment import add_secret, isolated_environ
from beds.registry import RunningRegistry
from docker_credential_codespaces.constants import HELPER_NAME

#: The prefix of the secret a sandbox holds for a registry (`add_secret`).
SECRET_PREFIX = "BED"
#: The tag `push` gives the image it pushes.
PUSHED_TAG = "v2"
STORE_DIR_ENV = "DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"


@dataclass
class Sandbox:
    """One test's environment built from nothing, the commands run in it and what they said."""

    root: Path
    env: dict[str, str]
    verb_log: Path
    timeout: float = RUN_TIMEOUT
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    containers: Optional[ctr.Containers] = None

    @classmethod
    def create(cls, root: Path) -> Sandbox:
        """A sandbox under `root`; `close` it."""
        env = isolated_environ(root)
        verb_log = root / "verbs.log"
        recorder = verb_recorder(root / "recorder", verb_log)
        env["PATH"] = f"{recorder.parent}{os.pathsep}{env['PATH']}"
        # containers/image reads $XDG_RUNTIME_DIR/containers/auth.json (else
        # /run/containers/<uid>/auth.json) and $XDG_CONFIG_HOME/containers/auth.json: both
        # are under the root, as isolated_environ makes them.
        env["TMPDIR"] = str(root)
        env[STORE_DIR_ENV] = str(root / "store")
        env["DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR"] = str(root / "cache")
        return cls(root, env, verb_log)

    def use_containers(self) -> ctr.Containers:
        """A private podman/buildah state for this sandbox, its environment wired to it."""
        if self.containers is None:
            self.containers = ctr.Containers.create()
            self.containers.environ(self.env)
        return self.containers

    def close(self) -> None:
        """Remove what the sandbox made outside its root (the podman/buildah state)."""
        if self.containers is not None:
            self.containers.remove()
            self.containers = None

    # -- running -----------------------------------------------------------------------------

    def run(
        self, argv: list[str], stdin: str = "", **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the sandbox (bounded, in its root, `extra` laid over its
        environment), as text; it is kept in `runs` with both outputs."""
        done = run_text(argv, {**self.env, **extra}, stdin, self.timeout, self.root)
        self.runs.append(done)
        return done

    @property
    def stderrs(self) -> list[str]:
        """What every command run so far said on stderr."""
        return [done.stderr for done in self.runs]

    def helper(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """The helper itself, as a client runs it, not through the verb recorder."""
        return self.run([str(HELPER), *args], stdin=stdin)

    def verbs(self) -> list[str]:
        """The verbs the clients ran since the last call, in order."""
        return recorded_verbs(self.verb_log)

    # -- the helper's secrets, store and wiring ----------------------------------------------

    def add_secret(self, registry: RunningRegistry, password: Optional[str] = None) -> None:
        """A Codespaces secret for `registry`: its user, and its password unless one is given."""
        secret = registry.password if password is None else password
        add_secret(self.env, SECRET_PREFIX, registry.host, registry.user, secret)

    @property
    def docker_config(self) -> Path:
        return Path(self.env["DOCKER_CONFIG"]) / "config.json"

    @property
    def store_file(self) -> Path:
        return Path(self.env[STORE_DIR_ENV]) / "credentials.json"

    def configure(self) -> dict[str, object]:
        """Run `configure` and return the config.json it wrote."""
        done = self.helper("configure")
        assert done.returncode == 0, done.stdout + done.stderr
        return self.config()

    def config(self) -> dict[str, object]:
        config: dict[str, object] = json.loads(self.docker_config.read_text())
        return config

    def write_config(self, config: dict[str, object]) -> None:
        self.docker_config.parent.mkdir(parents=True, exist_ok=True)
        self.docker_config.write_text(json.dumps(config, indent=2))

    def add_cred_helper(self, host: str) -> None:
        """Name the helper for `host` in credHelpers, as a user would for skopeo."""
        config = self.config() if self.docker_config.exists() else {}
        helpers = config.setdefault("credHelpers", {})
        assert isinstance(helpers, dict)
        helpers[host] = HELPER_NAME
        self.write_config(config)

    def stored(self) -> dict[str, dict[str, str]]:
        """The local store's entries ({} when there is no file yet)."""
        if not self.store_file.exists():
            return {}
        stored: dict[str, dict[str, str]] = json.loads(self.store_file.read_text())["credentials"]
        return stored

    def listed(self) -> dict[str, str]:
        """What `list` answers."""
        done = self.helper("list")
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.endswith("\n")
        listed: dict[str, str] = json.loads(done.stdout)
        return listed

    # -- the docker CLI and skopeo -----------------------------------------------------------

    def docker(self, *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
        return self.run(["docker", *args], stdin=stdin, **extra)

    def docker_login(self, host: str, user: str, password: str) -> subprocess.CompletedProcess[str]:
        return self.docker("login", host, "-u", user, "--password-stdin", stdin=password)

    def manifest_inspect(self, host: str, ref: str) -> subprocess.CompletedProcess[str]:
        return self.docker("manifest", "inspect", "--insecure", f"{host}/{ref}")

    def skopeo_inspect(self, host: str, ref: str) -> subprocess.CompletedProcess[str]:
        return self.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{host}/{ref}"])

    def skopeo_copy(self, host: str, ref: str, dest: str) -> subprocess.CompletedProcess[str]:
        return self.run(
            ["skopeo", "copy", "--src-tls-verify=false", f"docker://{host}/{ref}", dest]
        )

    # -- podman and buildah, on the sandbox's private state ----------------------------------

    def tool(self, tool: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """podman or buildah (`tool`) with `args`, on the state `use_containers` made."""
        return self.run(self.use_containers().command(tool, *args), stdin=stdin)

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

    # -- canaries -----------------------------------------------------------------------------

    def assert_no_canary(self, *canaries: str) -> None:
        """None of `canaries` in any stderr (the clients' and, passed through, the helper's),
        in the containers auth files, or in any file of the sandbox but the store."""
        for canary in canaries:
            for stderr in self.stderrs:
                assert canary not in stderr
            for path in ctr.auth_files(self.env):
                assert not path.exists() or canary not in path.read_text(), path
            for path in self.root.rglob("*"):
                if path.is_file() and path != self.store_file:
                    assert canary.encode() not in path.read_bytes(), f"canary in {path}"
