"""A Debian base image built on this machine, offline from any image registry, and cached.

The Feature's end-to-end test needs an image with python3 and venv that no registry has to
serve: `debootstrap --variant=minbase` of bookworm from the Debian mirror that apt uses here
(read from apt's sources at run time), tarred and then `docker import`ed. Building it takes
minutes, so the tarball is kept between runs under `CACHE_DIR`, named by a digest of the
mirror, the suite and the package list: a second run imports it without debootstrap, and a
machine whose mirror changed builds its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

DEBOOTSTRAP_BINARY = "debootstrap"
SUITE = "bookworm"
VARIANT = "minbase"
INCLUDE = ("python3", "python3-venv", "ca-certificates")
CACHE_DIR = Path("/var/cache/docker-credential-codespaces-tests")
APT_SOURCES = Path("/etc/apt/sources.list")
APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")
DEBOOTSTRAP_TIMEOUT_S = 900.0
TAR_TIMEOUT_S = 300.0


class BaseImageError(RuntimeError):
    """The base image could not be built."""


def _one_line_entries(text: str) -> list[tuple[str, list[str]]]:
    """(URI, suites) of each `deb` line of a one-line-style sources file."""
    entries = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # options: [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            entries.append((words[0], [words[1]]))
    return entries


def _deb822_entries(text: str) -> list[tuple[str, list[str]]]:
    """(URI, suites) of each enabled `deb` stanza of a deb822 `.sources` file."""
    entries = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = fields.get("suites", "").split()
        entries += [(uri, suites) for uri in fields.get("uris", "").split()]
    return entries


def apt_entries() -> list[tuple[str, list[str]]]:
    """Every (URI, suites) apt reads here, in apt's order: sources.list, then the directory."""
    entries = []
    with contextlib.suppress(OSError):
        entries += _one_line_entries(APT_SOURCES.read_text())
    if APT_SOURCES_DIR.is_dir():
        for path in sorted(APT_SOURCES_DIR.iterdir()):
            with contextlib.suppress(OSError):
                if path.suffix == ".list":
                    entries += _one_line_entries(path.read_text())
                elif path.suffix == ".sources":
                    entries += _deb822_entries(path.read_text())
    return entries


def mirror(suite: str = SUITE) -> Optional[str]:
    """The mirror apt uses for `suite`: the first source naming it, else the first that is
    not a security or updates archive (a Debian mirror serves every suite)."""
    entries = [(uri, suites) for uri, suites in apt_entries() if uri.startswith("http")]
    for uri, suites in entries:
        if suite in suites:
            return uri
    for uri, suites in entries:
        if not any(name.endswith(("-security", "-updates")) for name in suites):
            return uri
    return None


def unavailable() -> Optional[str]:
    """Why the base image cannot be built here, or None."""
    if os.geteuid() != 0:
        return "debootstrap needs root"
    if shutil.which(DEBOOTSTRAP_BINARY) is None:
        return f"{DEBOOTSTRAP_BINARY} is not on PATH"
    if mirror() is None:
        return "apt's sources name no Debian mirror"
    return None


def cache_key(mirror_uri: str, suite: str = SUITE) -> str:
    """What the tarball depends on, as a short digest: the mirror, suite, variant, packages."""
    recipe = "\n".join([mirror_uri, suite, VARIANT, ",".join(INCLUDE)])
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def tarball(suite: str = SUITE) -> Path:
    """The root file system's tarball: from the cache, else built and put there atomically."""
    mirror_uri = mirror(suite)
    if mirror_uri is None:
        raise BaseImageError("apt's sources name no Debian mirror")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cached = CACHE_DIR / f"{suite}-{VARIANT}-{cache_key(mirror_uri, suite)}.tar"
    if cached.is_file():
        return cached
    with tempfile.TemporaryDirectory(prefix="build-", dir=CACHE_DIR) as tmp:
        rootfs = Path(tmp) / "rootfs"
        built = subprocess.run(
            [
                DEBOOTSTRAP_BINARY,
                f"--variant={VARIANT}",
                f"--include={','.join(INCLUDE)}",
                suite,
                str(rootfs),
                mirror_uri,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=DEBOOTSTRAP_TIMEOUT_S,
            check=False,
        )
        if built.returncode != 0:
            tail = (built.stdout + built.stderr).decode(errors="replace")[-2000:]
            raise BaseImageError(f"debootstrap failed:\n{tail}")
        partial = Path(tmp) / "rootfs.tar"
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."],
            capture_output=True,
            timeout=TAR_TIMEOUT_S,
            check=True,
        )
        partial.rename(cached)
    return cached
