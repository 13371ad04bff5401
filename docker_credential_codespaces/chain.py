"""The assembly: the chain of sources, the one place their order is written, and which store
keeps the logins.

The order: first the secrets; then the logins (the fallback store `configure` recorded, the
credsStore the user had, or else the local store); then, for ghcr.io in a codespace, the
codespace's GITHUB_TOKEN; then not found. Every command asks this chain: `get`, `list`,
`store` and `erase` through the wire, `doctor` for its rows, `configure` for its credHelpers
entries, `export` for its documents. None of them orders the sources again.

A chain builds each source only when it is first asked, so a `get` that the secrets answer
never loads the modules of the stores behind them.
"""

from __future__ import annotations

import _thread  # loaded by the interpreter itself: a lock costs no import
import os  # cli and secrets import it on every path: it costs nothing here

from .constants import ENV_FALLBACK_CALL
from .log import debug, warn
from .servers import docker_key, redacted
from .wire import Credential, Declined, Entry, HelperError, Source

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence


class Chain(Source):
    """Sources asked in order: the first that knows a registry answers, and wins in `list`.

    Safe to share between threads (doctor's checks do): a source is built under a lock, once.
    """

    description = "chain"

    def __init__(self, factories: Sequence[Callable[[], Source]]) -> None:
        self._factories = tuple(factories)
        self._built: list[Source] = []
        self._lock = _thread.allocate_lock()

    def sources(self) -> Iterator[Source]:
        """Each source in turn, built the first time the chain gets to it."""
        for index, factory in enumerate(self._factories):
            if index >= len(self._built):
                with self._lock:
                    if index >= len(self._built):  # another thread may have built it meanwhile
                        self._built.append(factory())
            yield self._built[index]

    def get(self, server_url: str) -> Credential | None:
        for source in self.sources():
            found = source.get(server_url)
            if found is not None:
                return found
        named = docker_key(server_url) or redacted(server_url)
        debug(f"no secret and no stored login for {named}")
        return None

    def add(self, server_url: str, username: str, secret: str) -> None:
        """The first source that takes the login keeps it; one that declines never stops it."""
        for source in self.sources():
            try:
                source.add(server_url, username, secret)
            except Declined:
                continue
            return
        raise Declined

    def delete(self, server_url: str) -> None:
        """Every source forgets what it holds of the registry: a secret that covers it drops
        its cached token, and the stored login under it goes too, so a login the user logged
        out of never comes back once the secret is removed. A failure is raised once every
        source has been asked."""
        failure: HelperError | None = None
        took = False
        for source in self.sources():
            try:
                source.delete(server_url)
            except Declined:
                continue
            except HelperError as error:
                failure = failure or error
                continue
            took = True
        if failure is not None:
            raise failure
        if not took:
            raise Declined

    def survey(self) -> tuple[list[Entry], list[HelperError]]:
        """Every registry the sources know, the earliest source's entry winning, and each
        source's failure to say what it holds (the rest are still read)."""
        entries: list[Entry] = []
        failures: list[HelperError] = []
        seen: set[str] = set()
        for source in self.sources():
            try:
                found = source.entries()
            except HelperError as error:
                failures.append(error)
                continue
            for entry in found:
                if entry.key not in seen:
                    seen.add(entry.key)
                    entries.append(entry)
        return entries, failures

    def entries(self) -> list[Entry]:
        entries, failures = self.survey()
        if failures:
            raise failures[0]
        return entries

    def list(self) -> dict[str, str]:
        entries, failures = self.survey()
        for failure in failures:  # it names the file or helper to fix; docker goes on
            warn(str(failure))
        return {entry.key: entry.username for entry in entries}


# The fallback store's record holds one credsStore name: a program's name is far shorter.
FALLBACK_RECORD_CAP = 256


def recorded_fallback(repair: bool = True) -> str:
    """The fallback store's name that `configure` recorded, or "" when it recorded none (or
    the record cannot be read: then the local store serves, and debug says why)."""
    from .constants import FALLBACK_FILE
    from .settings import store_dir

    try:
        record = store_dir(repair).read(FALLBACK_FILE, FALLBACK_RECORD_CAP)
        return (record or b"").decode("utf-8").strip()
    except (UnicodeDecodeError, HelperError) as error:
        debug(f"ignoring the fallback store's record, so the local store serves: {error}")
        return ""


def logins(creds_store: str | None = None, repair: bool = True) -> Source:
    """Where logins live: the fallback store `creds_store` names (by default the one
    `configure` recorded), else the helper's own file. `repair` False is for doctor, which
    reads without mending (files.PrivateDir).

    The record is read here, so that the fallback module (and the subprocess module behind
    it) is loaded only where a fallback store is named.

    A run that is itself a fallback call (another helper's fallback store, which set
    ENV_FALLBACK_CALL) keeps its logins in the local store, whatever is recorded: that
    helper may be this one, through a link or a wrapper, and running the fallback again
    would fork without end. The local store is this helper's own and starts no process, so
    such a loop ends at once, answering as if no fallback store were recorded.
    """
    if os.environ.get(ENV_FALLBACK_CALL):
        debug(f"a fallback store's call ({ENV_FALLBACK_CALL} set), so the local store serves")
    else:
        found = _fallback(creds_store or "") or _fallback(recorded_fallback(repair))
        if found is not None:
            return found
    from .store import LocalStore

    return LocalStore(repair)


def _fallback(name: str) -> Source | None:
    """The fallback store `name` makes, if it makes one (never this helper itself)."""
    if not name:
        return None
    from .fallback import FallbackStore, valid_name

    return FallbackStore(name) if valid_name(name) else None


def secrets(young: bool = False, repair: bool = True) -> Source:
    """The secrets source; `young` makes it answer ECR tokens that are not yet due for
    refresh (for documents that cannot refresh them)."""
    from .secrets import Secrets

    return Secrets(young, repair)


def codespace_token() -> Source:
    from .codespace_token import CodespaceToken

    return CodespaceToken()


def chain(young: bool = False, logins_store: Source | None = None, repair: bool = True) -> Chain:
    """The chain every command asks, in the one order. `logins_store` stands in for the
    logins a run will have (configure plans with the fallback store it is about to record);
    `young` is for `export`, and `repair` False for `doctor`."""
    store = logins_store
    return Chain(
        (
            lambda: secrets(young, repair),
            (lambda: store) if store is not None else (lambda: logins(repair=repair)),
            codespace_token,
        )
    )
