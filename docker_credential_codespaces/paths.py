"""Where the helper keeps its files: platformdirs' user data and cache directories.

A directory named by a setting is the user's choice and is never repaired (see PrivateDir).
On Linux, where dev containers run, the XDG rules that platformdirs follows are applied here
directly: importing platformdirs costs more than the rest of a `get`, and docker
starts the helper anew for every registry it touches. Other platforms ask platformdirs itself.
A test holds the two to the same answers.
"""

from __future__ import annotations

import os
import sys

from .constants import ENV_CACHE_DIR, ENV_NO_CACHE, ENV_STORE_DIR, PROGRAM
from .errors import HelperError
from .files import PrivateDir
from .settings import flag


def _xdg_dir(variable: str, fallback: str) -> str | None:
    """`$variable/<program>`, or `~/<fallback>/<program>`; None when there is no home."""
    base = os.environ.get(variable, "").strip()
    if not base:
        home = os.path.expanduser("~")
        if home.startswith("~") or not os.path.isabs(home):
            return None
        base = os.path.join(home, fallback)
    return os.path.join(base, PROGRAM)


def user_data_dir() -> str | None:
    """platformdirs.user_data_dir for this program, without importing platformdirs on Linux."""
    if sys.platform.startswith("linux"):
        return _xdg_dir("XDG_DATA_HOME", ".local/share")
    import platformdirs

    return platformdirs.user_data_dir(PROGRAM, appauthor=False)


def user_cache_dir() -> str | None:
    """platformdirs.user_cache_dir for this program, without importing platformdirs on Linux."""
    if sys.platform.startswith("linux"):
        return _xdg_dir("XDG_CACHE_HOME", ".cache")
    import platformdirs

    return platformdirs.user_cache_dir(PROGRAM, appauthor=False)


def store_dir() -> PrivateDir:
    """The local store's directory; an error names the variable that fixes a missing home."""
    named = os.environ.get(ENV_STORE_DIR)
    if named:
        return PrivateDir(named, ENV_STORE_DIR)
    path = user_data_dir()
    if path is None:
        raise HelperError(f"no home directory for the local store; set {ENV_STORE_DIR}")
    return PrivateDir(path)


def cache_dir() -> PrivateDir | None:
    """The ECR token cache's directory, or None when caching is off or there is no home."""
    if flag(ENV_NO_CACHE):
        return None
    named = os.environ.get(ENV_CACHE_DIR)
    if named:
        return PrivateDir(named, ENV_CACHE_DIR)
    path = user_cache_dir()
    return PrivateDir(path) if path is not None else None
