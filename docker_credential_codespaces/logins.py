"""The logins: what `docker login` stored, in the local store or in the fallback store.

Both keep logins for registries no secret covers, and both are this one source to the chain:
the fallback store when `configure` recorded one (the credsStore the user had before), else
the helper's own file. Nothing here is imported on a `get` that a secret answers.
"""

from __future__ import annotations

from .log import debug, warn
from .resolve import Source
from .wire import HelperError


class Logins(Source):
    """A store of logins. `entries` may fail; `list`, which docker needs always, may not."""

    description = "logins"

    def entries(self) -> dict[str, str]:
        """Key to username for every login; raises HelperError when they cannot be read."""
        raise NotImplementedError

    def list(self) -> dict[str, str]:
        """The logins for `list`, which must always answer: a failure is warned about instead.

        The warning names the file or helper to fix, and docker goes on with what is left.
        """
        try:
            return self.entries()
        except HelperError as error:
            warn(str(error))
            return {}


def logins() -> Logins:
    """Where logins live: the fallback store `configure` recorded, or the helper's own file.

    The record is read here, so that the fallback module (and the subprocess module behind
    it) is loaded only where a fallback store is recorded.
    """
    from .constants import FALLBACK_FILE
    from .settings import store_dir

    try:
        name = (store_dir().read(FALLBACK_FILE, 256) or b"").decode("utf-8").strip()
    except (UnicodeDecodeError, HelperError) as error:
        debug(f"ignoring the fallback store's record, so the local store serves: {error}")
        name = ""
    if name:
        from .fallback import FallbackStore, valid_name

        if valid_name(name):
            return FallbackStore(name)
    from .store import LocalStore

    return LocalStore()
