"""podman and buildah as root on private state, for the end-to-end tests: the wiring, in one place.

Both are containers/image clients: they ignore `credsStore` and ask a helper only through
`credHelpers` in `$DOCKER_CONFIG/config.json` (their auth file when DOCKER_CONFIG is set) or
through `credential-helpers` in registries.conf. What they read and write is all named here:

- storage: `--root`/`--runroot` under a short temporary directory (podman refuses a runroot
  much over 50 characters), `--storage-driver vfs` (works on every kernel), and for podman
  `--tmpdir`, `--cgroup-manager cgroupfs` and `--events-backend file`; a storage.conf and a
  containers.conf of the bed's own (CONTAINERS_STORAGE_CONF, CONTAINERS_CONF), so that the
  machine's files under /etc/containers and /usr/share/containers are never read;
- registries.conf and policy.json: the per-user files under `$HOME/.config/containers`,
  which containers/image reads instead of the machine's (no short-name search, every image
  accepted);
- the auth files: `$XDG_RUNTIME_DIR/containers/auth.json`, `$XDG_CONFIG_HOME/containers/
  auth.json` and `$DOCKER_CONFIG/config.json`, all inside the test's home (`auth_files`);
- the machine's own state: as root, containers/image 5.23 keeps its blob-info cache in
  /var/lib/containers/cache whatever `--root` says, and podman its locks in /dev/shm. So every
  command runs in a private mount namespace in which /var/lib is an overlay whose writes go to
  a tmpfs, and /dev/shm is a tmpfs of its own: the machine's /var/lib/containers is never
  created or touched.

Plain importable helpers; the tests wrap them in fixtures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

PODMAN = "podman"
BUILDAH = "buildah"
UNSHARE = "unshare"
MOUNT = "mount"
TOOLS = (PODMAN, BUILDAH, UNSHARE, MOUNT)
#: podman refuses a runroot longer than about this; the bed's paths stay well under it.
RUNROOT_LIMIT = 50
PROBE_TIMEOUT_S = 30
#: The machine's directories that a root podman or buildah writes despite `--root`.
MACHINE_STATE = Path("/var/lib/containers")
MACHINE_SHM = Path("/dev/shm")

#: Run in the private mount namespace before the tool: /var/lib seen as it is but written to a
#: tmpfs (an overlay's upper directory must not itself be on an overlay, which /tmp may be),
#: and a /dev/shm of its own. `$1` is the tmpfs's mount point; the tool and its argv follow.
NAMESPACE_SCRIPT = (
    "set -e; "
    'mount -t tmpfs -o mode=0700 bed-containers "$1"; '
    'mkdir "$1/upper" "$1/work"; '
    'mount -t overlay -o "lowerdir=/var/lib,upperdir=$1/upper,workdir=$1/work" '
    "bed-containers /var/lib; "
    "mount -t tmpfs -o mode=1777 bed-containers /dev/shm; "
    'shift; exec "$@"'
)

POLICY = {"default": [{"type": "insecureAcceptAnything"}]}


def tools_missing() -> list[str]:
    """Binaries this bed needs that are not on PATH, so tests can skip with a reason."""
    return [name for name in TOOLS if shutil.which(name) is None]


def cannot_run() -> Optional[str]:
    """Why podman and buildah cannot run here as this bed runs them, or None if they can."""
    missing = tools_missing()
    if missing:
        return f"needs {', '.join(missing)} on PATH; not found"
    if os.geteuid() != 0:
        return "needs root: podman and buildah run as root, in a private mount namespace"
    probe = Containers.create()
    try:
        done = subprocess.run(
            probe.namespaced(["true"]),
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    finally:
        probe.remove()
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip()
        return f"cannot make the private mount namespace (tmpfs, overlay on /var/lib): {said}"
    return None


@dataclass
class Containers:
    """One private podman/buildah state: its storage, its configuration, its namespace tmpfs."""

    root: Path

    @classmethod
    def create(cls) -> Containers:
        """A fresh state under a short path in /tmp (not pytest's long tmp_path); `remove` it."""
        root = Path(tempfile.mkdtemp(prefix="ctr-", dir="/tmp"))
        containers = cls(root)
        assert len(str(containers.runroot)) < RUNROOT_LIMIT, containers.runroot
        for directory in (containers.graphroot, containers.runroot, containers.tmpdir):
            directory.mkdir()
        containers.namespace_tmpfs.mkdir()
        containers.storage_conf.write_text(
            "[storage]\n"
            'driver = "vfs"\n'
            f"graphroot = {json.dumps(str(containers.graphroot))}\n"
            f"runroot = {json.dumps(str(containers.runroot))}\n"
        )
        containers.containers_conf.write_text(
            "# The bed's own, so that the machine's containers.conf never applies.\n[engine]\n"
        )
        return containers

    @property
    def graphroot(self) -> Path:
        return self.root / "root"

    @property
    def runroot(self) -> Path:
        return self.root / "run"

    @property
    def tmpdir(self) -> Path:
        return self.root / "tmp"

    @property
    def namespace_tmpfs(self) -> Path:
        return self.root / "ns"

    @property
    def storage_conf(self) -> Path:
        return self.root / "storage.conf"

    @property
    def containers_conf(self) -> Path:
        return self.root / "containers.conf"

    def environ(self, env: dict[str, str], credential_helpers: Optional[list[str]] = None) -> None:
        """Wire `env` (from beds.environment) for podman and buildah: the bed's configuration
        files, and the per-user registries.conf and policy.json in its HOME.

        `credential_helpers` goes into registries.conf as `credential-helpers` (helper names,
        such as `codespaces`); without it containers/image uses its auth files. An empty
        `$DOCKER_CONFIG/config.json` is written when there is none: with DOCKER_CONFIG set and
        no file, podman fails on `stat` before asking any helper.
        """
        env["CONTAINERS_CONF"] = str(self.containers_conf)
        env["CONTAINERS_STORAGE_CONF"] = str(self.storage_conf)
        env["TMPDIR"] = str(self.tmpdir)
        user_dir = Path(env["HOME"]) / ".config" / "containers"
        user_dir.mkdir(parents=True, exist_ok=True)
        registries = "unqualified-search-registries = []\n"
        if credential_helpers is not None:
            registries += f"credential-helpers = {json.dumps(credential_helpers)}\n"
        (user_dir / "registries.conf").write_text(registries)
        (user_dir / "policy.json").write_text(json.dumps(POLICY))
        config = Path(env["DOCKER_CONFIG"]) / "config.json"
        if not config.exists():
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text("{}\n")

    def command(self, tool: str, *args: str) -> list[str]:
        """The argv that runs `tool` (podman or buildah) on this state, in its own namespace."""
        flags = [
            "--root",
            str(self.graphroot),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
        ]
        if tool == PODMAN:
            flags += ["--tmpdir", str(self.tmpdir), "--events-backend", "file"]
        return self.namespaced([tool, *flags, *args])

    def namespaced(self, argv: list[str]) -> list[str]:
        """`argv` run in a private mount namespace (see NAMESPACE_SCRIPT)."""
        return [
            UNSHARE,
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            NAMESPACE_SCRIPT,
            "sh",
            str(self.namespace_tmpfs),
            *argv,
        ]

    def remove(self) -> None:
        """Delete the state. Nothing is mounted on it: the namespaces ended with their commands."""
        shutil.rmtree(self.root, ignore_errors=True)


def auth_files(env: dict[str, str]) -> list[Path]:
    """Every file containers/image reads or writes logins in, for `env`: a test checks that no
    secret lands in one of them when a helper is named for the registry."""
    return [
        Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json",
        Path(env["XDG_CONFIG_HOME"]) / "containers" / "auth.json",
        Path(env["DOCKER_CONFIG"]) / "config.json",
    ]


def machine_state() -> Optional[list[tuple[str, int]]]:
    """What the machine's /var/lib/containers holds (paths and mtimes), None when absent: taken
    before and after a module, it proves the tests never touched it."""
    if not MACHINE_STATE.exists():
        return None
    found = []
    for directory, names, files in os.walk(MACHINE_STATE):
        for name in sorted(names + files):
            path = os.path.join(directory, name)
            found.append((path, os.lstat(path).st_mtime_ns))
    return sorted(found)
