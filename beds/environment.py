"""The one environment builder: a private environment, built from scratch, for every run.

Tests and the bench run the helper (and the clients) with nothing of the machine's environment
but what is written here: their own HOME, DOCKER_CONFIG and XDG directories, a secrets file
path that does not exist, AWS config and credentials files that do not exist, no EC2 metadata
probe, loopback traffic kept off any proxy, and a PATH of two directories: the helper's own,
then one holding a link to every program of the machine's PATH but its credential helpers. So
no `*_CONTAINER_REGISTRY_*`, `AWS_*`, `DOCKER_*` or `GITHUB_*` variable of the machine, none
of its files and no `docker-credential-*` it has installed can answer in the helper's place.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

from beds.client import HELPER
from beds.daemon import DOCKER_CLIENT

#: The machine's PATH as this process found it, before any test replaced os.environ.
MACHINE_PATH = os.environ.get("PATH") or os.defpath
LOOPBACK = "127.0.0.1,localhost"


#: Programs of the machine that never join a run's PATH: docker asks them by name.
CREDENTIAL_HELPERS = "docker-credential-"
#: Programs linked by name before the PATH scan, whatever the machine's PATH order: the one
#: docker CLI every test drives (beds/daemon.py says why that one).
PINNED = {"docker": DOCKER_CLIENT}
_tools: list[Path] = []
_tools_lock = threading.Lock()


def tools_dir() -> Path:
    """This process's directory of the machine's programs, without any credential helper.

    One symlink per executable of the machine's PATH directories (the first of a name wins, as
    a lookup would), except `docker-credential-*`: Debian's golang-docker-credential-helpers,
    for one, puts docker-credential-pass and -secretservice in /usr/bin, and they must never
    answer for a fallback store that a test took away. The `PINNED` programs come first where
    the machine has them, so a PATH with /usr/bin before /usr/local/bin cannot swap Debian's
    docker CLI 20.10 in. Made once per process (readable by every user, as the tests' other
    users need it), removed when the process exits.
    """
    with _tools_lock:
        if _tools:
            return _tools[0]
        directory = Path(tempfile.mkdtemp(prefix="beds-tools-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        directory.chmod(0o755)
        for name, program in PINNED.items():
            if os.access(program, os.X_OK):
                (directory / name).symlink_to(program)
        for entry in MACHINE_PATH.split(os.pathsep):
            if not os.path.isabs(entry) or not os.path.isdir(entry):
                continue
            for name in sorted(os.listdir(entry)):
                source = os.path.join(entry, name)
                link = directory / name
                if name.startswith(CREDENTIAL_HELPERS) or os.path.lexists(link):
                    continue
                if os.path.isfile(source) and os.access(source, os.X_OK):
                    link.symlink_to(source)
        _tools.append(directory)
        return directory


def search_path(helper: Path = HELPER) -> str:
    """PATH for a run, from scratch: the helper's own directory, then the machine's programs
    without its credential helpers, so only the helper under test and a test's own fakes
    (which it puts in front) can answer for a `docker-credential-*` name."""
    return f"{helper.parent}{os.pathsep}{tools_dir()}"


def isolated_environ(root: Path, helper: Path = HELPER) -> dict[str, str]:
    """A private environment under `root`, built from scratch (see the module docstring).

    `helper` is the executable under test: its directory comes first on PATH, so that docker
    and the other clients find that one by its name.
    """
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    runtime = root / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {
        "PATH": search_path(helper),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "DOCKER_CONFIG": str(home / ".docker"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_RUNTIME_DIR": str(runtime),
        "DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE": str(root / "no-secrets-file"),
        # boto3 must ignore the machine's AWS setup: no profile, region or endpoint from
        # ~/.aws (the files do not exist), and no EC2 metadata probe, which would try a
        # link-local address and stall.
        "AWS_CONFIG_FILE": str(root / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(root / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": LOOPBACK,
        "no_proxy": LOOPBACK,
    }


def add_secret(env: dict[str, str], prefix: str, server: str, user: str, password: str) -> None:
    """Put one Codespaces secret triple (`<prefix>_CONTAINER_REGISTRY_*`) into `env`."""
    env[f"{prefix}_CONTAINER_REGISTRY_SERVER"] = server
    env[f"{prefix}_CONTAINER_REGISTRY_USER"] = user
    env[f"{prefix}_CONTAINER_REGISTRY_PASSWORD"] = password


def write_secrets_file(path: Path, values: dict[str, str], extra: bytes = b"") -> None:
    """Write a Codespaces secrets file: one `NAME=<base64 of value>` line each, then `extra`.

    Point the helper at it with DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE.
    """
    lines = [
        f"{name}={base64.b64encode(value.encode()).decode()}" for name, value in values.items()
    ]
    path.write_bytes("\n".join(lines).encode() + b"\n" + extra)


def config_file(env: dict[str, str]) -> Path:
    """docker's config.json for `env`: the one in its DOCKER_CONFIG."""
    return Path(env["DOCKER_CONFIG"]) / "config.json"


def write_config(env: dict[str, str], config: object) -> Path:
    """Write docker's config.json for `env` (its directory made if need be); its path."""
    path = config_file(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return path
