"""Where the helper's files live: the local store's directory and the ECR token cache's.

Files live in platformdirs' user data and cache directories, or in the ones a setting names;
a directory a setting names is the user's choice and is never repaired, and one that is not
an absolute path is refused, naming the setting (see PrivateDir). On Linux, where dev
containers run, the XDG rules that platformdirs follows are applied here directly: importing
platformdirs costs more than the rest of a `get`, and docker starts the helper anew for every
registry it touches. Other platforms ask platformdirs itself. A test holds the two to the same
answers.
"""

from __future__ import annotations

import os
import sys

from .constants import ENV_CACHE_DIR, ENV_NO_CACHE, ENV_STORE_DIR, PROGRAM
from .log import flag
from .wire import HelperError

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from .files import PrivateDir


def _xdg_dir(variable: str, fallback: str) -> str | None:
    """`$variable/<program>`, or `~/<fallback>/<program>`; None when there is no home.

    As the XDG specification says and platformdirs does, a value that is not an absolute
    path is ignored, as if unset: taken as it is, a relative one (`~/.local/share` from a
    devcontainer.json `remoteEnv`, which no shell expands) put the store and the token cache
    under docker's working directory, where `git add -A` finds them. A value is used as it
    is, never trimmed, so a padded one is relative too.
    """
    base = os.environ.get(variable, "")
    if not os.path.isabs(base):
        home = _home()
        if home is None:
            return None
        base = home + "/" + fallback
    return os.path.join(base, PROGRAM)


def _home() -> str | None:
    """The home directory, as platformdirs finds it: HOME when it is absolute (or the password
    database's entry when HOME is unset, as expanduser does); a relative or empty HOME is
    taken as unset. None when neither gives an absolute path."""
    home = os.environ.get("HOME")
    if home is None or os.path.isabs(home):
        home = os.path.expanduser("~")
    else:
        import pwd

        try:
            home = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:
            return None
    return home.rstrip("/") if os.path.isabs(home) else None


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


def store_dir(repair: bool = True) -> PrivateDir:
    """The local store's directory; an error names the variable that fixes a missing home.
    `repair` False reads without mending loose modes (see PrivateDir)."""
    from .files import PrivateDir

    named = os.environ.get(ENV_STORE_DIR)
    if named:
        return PrivateDir(named, ENV_STORE_DIR, repair)
    path = user_data_dir()
    if path is None:
        raise HelperError(f"no home directory for the local store; set {ENV_STORE_DIR}")
    return PrivateDir(path, repair=repair)


def cache_dir(repair: bool = True) -> PrivateDir | None:
    """The ECR token cache's directory, or None when caching is off or there is no home."""
    from .files import PrivateDir

    if flag(ENV_NO_CACHE):
        return None
    named = os.environ.get(ENV_CACHE_DIR)
    if named:
        return PrivateDir(named, ENV_CACHE_DIR, repair)
    path = user_cache_dir()
    return PrivateDir(path, repair=repair) if path is not None else None
